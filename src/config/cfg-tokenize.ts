// haproxy.cfg line tokenizer, following HAProxy 2.6's parse_line(): words split on unquoted
// blanks; "#" starts a comment outside quotes; single quotes take everything literally; double
// quotes keep blanks and "#" but still honour backslash escapes and expand $VAR / ${VAR} /
// ${VAR-default} / ${VAR[*]}. As in HAProxy, variables are NOT expanded outside double quotes
// (a bare "pa$$word" stays literal), and "\$" escapes a dollar inside double quotes.

export interface Word {
  text: string;
  /** 1-based column of the word's first character (its opening quote, if quoted) */
  col: number;
}

export interface TokenizeContext {
  env: Record<string, string | undefined>;
  file: string;
  line: number;
  section: string;
}

export interface TokenizeResult {
  words: Word[];
  /** a syntax problem (unmatched quote, bad escape, bad variable name); words are unusable then */
  error: { col: number; message: string } | null;
  /** variables referenced but not set: they expand to nothing (HAProxy does the same) */
  unset: { name: string; col: number }[];
}

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\v' || c === '\f';
}
function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
function isAlnum(c: string): boolean {
  return isAlpha(c) || (c >= '0' && c <= '9');
}
function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

export function tokenizeLine(line: string, ctx: TokenizeContext): TokenizeResult {
  const words: Word[] = [];
  const unset: { name: string; col: number }[] = [];
  let cur = '';
  let inWord = false;
  let curCol = 0;
  let squote = false;
  let dquote = false;
  let quoteCol = 0;
  const n = line.length;
  const fail = (col: number, message: string): TokenizeResult => ({ words, error: { col, message }, unset });
  const start = (i: number): void => {
    if (!inWord) {
      inWord = true;
      cur = '';
      curCol = i + 1;
    }
  };
  const push = (): void => {
    if (inWord) words.push({ text: cur, col: curCol });
    inWord = false;
  };

  let i = 0;
  while (i < n) {
    const c = line[i];
    if (c === '\r' || c === '\n') break;
    if (c === '#' && !squote && !dquote) break;
    if (c === '"' && !squote) {
      start(i);
      dquote = !dquote;
      quoteCol = i + 1;
      i++;
      continue;
    }
    if (c === "'" && !dquote) {
      start(i);
      squote = !squote;
      quoteCol = i + 1;
      i++;
      continue;
    }
    if (c === '\\' && !squote) {
      start(i);
      const next = line[i + 1];
      switch (next) {
        case ' ':
        case '\\':
        case '#':
        case "'":
        case '"':
          cur += next;
          i += 2;
          break;
        case 't':
          cur += '\t';
          i += 2;
          break;
        case 'n':
          cur += '\n';
          i += 2;
          break;
        case 'r':
          cur += '\r';
          i += 2;
          break;
        case '$':
          // Only meaningful inside double quotes; elsewhere the backslash stays.
          if (dquote) {
            cur += '$';
            i += 2;
          } else {
            cur += '\\';
            i += 1;
          }
          break;
        case 'x':
          if (!isHex(line[i + 2]) || !isHex(line[i + 3])) return fail(i + 1, 'invalid or incomplete hex escape (expected \\xHH)');
          cur += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
          break;
        default:
          // Not an escape sequence (e.g. "\1" in a regex): the backslash is kept.
          cur += '\\';
          i += 1;
      }
      continue;
    }
    if (isBlank(c) && !squote && !dquote) {
      push();
      while (i < n && isBlank(line[i])) i++;
      continue;
    }
    if (c === '$' && dquote) {
      const dollarCol = i + 1;
      i++;
      let brace = false;
      if (line[i] === '{') {
        brace = true;
        i++;
      }
      const first = line[i] ?? '';
      if (!isAlpha(first) && first !== '_' && first !== '.') {
        return fail(i + 1, 'invalid environment variable name after "$" (write "\\$" for a literal dollar)');
      }
      const nameStart = i;
      if (first === '.') i++;
      while (i < n && (isAlnum(line[i]) || line[i] === '_')) i++;
      const name = line.slice(nameStart, i);
      let value: string | undefined;
      if (name.startsWith('.')) {
        if (name === '.LINE') value = String(ctx.line);
        else if (name === '.FILE') value = ctx.file;
        else if (name === '.SECTION') value = ctx.section;
        else return fail(nameStart + 1, `unknown pseudo-variable "${name}" (known: .FILE, .LINE, .SECTION)`);
      } else {
        value = ctx.env[name];
      }
      let expandWords = false;
      if (brace) {
        if (line[i] === '[') {
          if (line.slice(i, i + 3) !== '[*]') return fail(i + 1, 'invalid word expansion (expected "[*]")');
          expandWords = true;
          i += 3;
        }
        if (line[i] === '-') {
          const close = line.indexOf('}', i);
          if (close < 0) return fail(dollarCol, 'unmatched "{" in variable reference');
          if (value === undefined) value = line.slice(i + 1, close);
          i = close;
        }
        if (line[i] !== '}') return fail(dollarCol, 'unmatched "{" in variable reference');
        i++;
      }
      if (value === undefined) {
        unset.push({ name, col: dollarCol });
        value = '';
      }
      if (expandWords) {
        // ${VAR[*]}: blanks in the value separate words, as if written unquoted.
        const parts = value.split(/[ \t]+/);
        parts.forEach((p, k) => {
          if (k > 0) {
            push();
            start(dollarCol - 1);
          }
          cur += p;
        });
      } else {
        cur += value;
      }
      continue;
    }
    start(i);
    cur += c;
    i++;
  }
  if (squote || dquote) return fail(quoteCol, `unmatched ${squote ? 'single' : 'double'} quote`);
  push();
  return { words, error: null, unset };
}
