// ACL criteria, conditions and log-format strings: words -> the plain model (src/config/model.ts).
// Everything a request could trip over later (bad regex, bad address, unknown fetch, matcher not
// applicable to the sample type) is rejected here, at load time, with HAProxy's vocabulary.
import * as fs from 'node:fs';
import type { AclCondition, AclMatch, AclTerm, AclTest, FormatPart, IntOperator } from '../config/model';
import { didYouMean } from '../config/suggest';
import { ACL_KEYWORDS, FETCHES, KNOWN_UNSUPPORTED, matchAllowed, resolveCriterion, resolveFetch, type FetchInfo } from './fetches';
import { parseIpv4Pattern, parseIpv6Pattern } from './ip';
import { RuleSyntaxError } from './words';
import { stickFetchName } from '../stick/fetch';
import { dottedVersion } from '../tcp/client-hello';
import { parseConverter, VAR_NAME_RE } from './convert';
import type { SampleConv } from '../config/model';

export type RuleSide = 'req' | 'res';
/** 'any': a named `acl` line, whose direction comes from the rules that use it */
export type ParseSide = RuleSide | 'any';

const MATCHES: AclMatch[] = ['found', 'bool', 'int', 'ip', 'len', 'str', 'sub', 'reg', 'beg', 'end', 'dir', 'dom'];
const OPERATORS: IntOperator[] = ['eq', 'ge', 'gt', 'le', 'lt'];
const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function fail(message: string): never {
  throw new RuleSyntaxError(message);
}

/** `name(arg1,arg2)` -> name and args ([] without parentheses). */
function splitCall(expr: string): { name: string; args: string[] } {
  const open = expr.indexOf('(');
  if (open < 0) return { name: expr, args: [] };
  if (!expr.endsWith(')')) fail(`missing ")" in "${expr}"`);
  const inner = expr.slice(open + 1, -1);
  return { name: expr.slice(0, open), args: inner === '' ? [] : inner.split(',').map((a) => a.trim()) };
}

/** The fetch argument as the model stores it, checked against what the fetch takes. */
function fetchArg(info: FetchInfo, kw: string, args: string[]): string {
  if (info.arg === 'none') {
    if (args.length) fail(`fetch '${kw}' takes no argument`);
    return '';
  }
  if (info.arg === 'stick') return stickFetchArg(kw, args);
  if (args.length > 1) {
    fail(info.arg === 'header'
      ? `'${kw}(${args.join(',')})': the occurrence argument is not supported by gatehouse yet (every occurrence is checked in ACLs)`
      : `'${kw}(${args.join(',')})': the delimiter argument is not supported by gatehouse yet`);
  }
  const a = args[0] ?? '';
  if (info.arg === 'var') {
    if (!VAR_NAME_RE.test(a)) fail(`'${kw}(${a})': a variable name is scope.name, the scope one of proc, sess, txn, req, res`);
    return a;
  }
  if (info.arg === 'header') {
    if (a !== '' && !HEADER_NAME_RE.test(a)) fail(`'${a}' is not a header name`);
    return a.toLowerCase();
  }
  return a;
}

/**
 * sc_X(<ctr>[,<table>]), scN_X([<table>]), src_X([<table>]) -> the model's argument: "N" or
 * "N,table" for sc fetches, the table (or '' = the proxy's own, resolved by the validator) for src.
 */
function stickFetchArg(kw: string, args: string[]): string {
  const n = stickFetchName(kw)!;
  const table = (t: string | undefined): string => {
    if (t === undefined) return '';
    if (!/^[A-Za-z0-9_.:/-]+$/.test(t)) fail(`'${t}' is not a table name (in '${kw}')`);
    return t;
  };
  if (n.slotArg) {
    if (args.length < 1 || args.length > 2 || !/^[0-2]$/.test(args[0])) fail(`'${kw}' expects a sticky counter number 0, 1 or 2 and an optional table: ${kw}(0) or ${kw}(0,table)`);
    return args.length === 2 ? `${args[0]},${table(args[1])}` : args[0];
  }
  if (args.length > 1) fail(`'${kw}' takes at most one argument (a table name)`);
  if (n.slot >= 0) return args.length === 1 ? `${n.slot},${table(args[0])}` : String(n.slot);
  return table(args[0]);
}

function unknownFetch(kw: string, candidates: readonly string[]): never {
  if (KNOWN_UNSUPPORTED.includes(kw) || /^(sc\d?_|src_|be_|fe_|ssl_|req\.ssl|res\.|capture\.)/.test(kw)) {
    fail(`fetch '${kw}' is not supported by gatehouse yet`);
  }
  fail(`unknown fetch method '${kw}'${didYouMean(kw, candidates)}`);
}

function checkSide(info: FetchInfo, kw: string, side: ParseSide): void {
  if (side !== 'any' && info.side !== 'any' && info.side !== side) {
    fail(side === 'req'
      ? `'${kw}' reads the response and is not available in request rules`
      : `'${kw}' reads request headers, which http-response rules do not see (use hdr()/res.hdr() for response headers)`);
  }
}

export interface AclParseOptions {
  side: ParseSide;
  /** reads an -f pattern file (tests pass a fake) */
  readFile?: (path: string) => string;
}

/**
 * `<criterion> [flags] [operator] <value> ...` -> tests (one, or two when `-i` comes after a
 * `-f` file: HAProxy's -i applies only to the patterns after it).
 */
export function parseAclTests(words: readonly string[], opts: AclParseOptions): AclTest[] {
  if (words.length === 0) fail('an ACL needs a criterion (a fetch such as path_beg, hdr(host) or src)');
  const items = splitTop(words[0]);
  const { name: kw, args } = splitCall(items[0].trim());
  const conv: SampleConv[] | undefined = items.length > 1 ? items.slice(1).map((c) => converter(c)) : undefined;
  // with converters the criterion is a plain fetch, matched as a string unless -m says otherwise
  const crit = conv ? plainCriterion(kw, opts.side) : resolveCriterion(kw, opts.side);
  if (!crit) unknownFetch(kw, ACL_KEYWORDS);
  checkSide(crit.info, kw, opts.side);
  const arg = fetchArg(crit.info, kw, args);

  let match = crit.match;
  let icase = crit.icase;
  const groups: { icase: boolean; values: string[] }[] = [];
  let i = 1;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w === '--') {
      i++;
      break;
    }
    if (!w.startsWith('-') || w.length < 2 || /^-\d/.test(w)) break;
    switch (w) {
      case '-i':
        icase = true;
        break;
      case '-n':
        break; // no DNS resolution: gatehouse never resolves names in patterns anyway
      case '-m': {
        const m = words[++i];
        if (m === undefined) fail("'-m' expects a matching method");
        if (!MATCHES.includes(m as AclMatch)) fail(m === 'bin' ? "'-m bin' is not supported by gatehouse yet" : `unknown matching method '${m}'${didYouMean(m, MATCHES)}`);
        match = m as AclMatch;
        break;
      }
      case '-f': {
        const file = words[++i];
        if (file === undefined) fail("'-f' expects a file name");
        groups.push({ icase, values: readPatternFile(file, opts.readFile) });
        break;
      }
      case '-u':
        if (words[++i] === undefined) fail("'-u' expects an id");
        break;
      case '-M':
        fail("'-M' (map files) is not supported by gatehouse yet");
        break;
      default:
        fail(`unknown ACL flag '${w}' (flags: -i, -m, -f, -n, -u, --)`);
    }
  }
  if (!conv && !matchAllowed(crit.info.type, match)) fail(`'-m ${match}' cannot be applied to '${kw}' (a ${crit.info.type} sample)`);
  const intLike = match === 'int' || match === 'len';
  let op: IntOperator = 'eq';
  if (intLike && i < words.length && OPERATORS.includes(words[i] as IntOperator)) op = words[i++] as IntOperator;
  const inline = words.slice(i);
  const last = groups[groups.length - 1];
  if (last && last.icase === icase) last.values.push(...inline);
  else groups.push({ icase, values: [...inline] });

  const total = groups.reduce((n, g) => n + g.values.length, 0);
  const noPattern = match === 'found' || match === 'bool' || crit.info.fetch === 'always_true' || crit.info.fetch === 'always_false';
  if (noPattern) {
    if (total > 0) fail(`'${kw}${match === 'found' || match === 'bool' ? ` -m ${match}` : ''}' takes no value (found '${groups.flatMap((g) => g.values)[0]}')`);
  } else if (total === 0) {
    fail(`ACL criterion '${words[0]}' needs at least one value to match`);
  }
  const out: AclTest[] = [];
  for (const g of groups) {
    if (g.values.length === 0 && out.length + 1 < groups.length) continue;
    // req.ssl_ver patterns are dotted versions (3.1 = TLS 1.0), kept as integers
    if (crit.info.fetch === 'req.ssl_ver' && intLike) g.values = g.values.map((v) => dottedRange(v, kw));
    for (const v of g.values) checkPattern(match, v, kw);
    out.push({ fetch: crit.info.fetch, arg, match, icase: g.icase, op, values: g.values, ...(conv ? { conv } : {}) });
  }
  return out;
}

/** `3.1`, `3:3.3` -> the same with major * 65536 + minor integers (HAProxy's dotted version patterns). */
function dottedRange(v: string, kw: string): string {
  const one = (x: string): string => {
    if (x === '') return '';
    const n = dottedVersion(x);
    if (n === null) fail(`'${v}' is not a version like 3.1 or a range like 3.1:3.3 (for '${kw}')`);
    return String(n);
  };
  const colon = v.indexOf(':');
  return colon < 0 ? one(v) : `${one(v.slice(0, colon))}:${one(v.slice(colon + 1))}`;
}

/** A criterion followed by converters: a plain fetch (no path_beg-style derivative), matched as a string. */
function plainCriterion(kw: string, side: ParseSide): { info: FetchInfo; match: AclMatch; icase: boolean } | null {
  const info = resolveFetch(kw, side);
  return info ? { info, match: 'str', icase: false } : null;
}

/** Splits `fetch(a,b),conv1(x,y),conv2` on the commas outside parentheses. */
function splitTop(expr: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      items.push(expr.slice(start, i));
      start = i + 1;
    }
  }
  items.push(expr.slice(start));
  return items;
}

function converter(text: string): SampleConv {
  const t = text.trim();
  const open = t.indexOf('(');
  if (open < 0) return parseConverter(t, []);
  if (!t.endsWith(')')) fail(`missing ")" in "${t}"`);
  // converter arguments keep their commas only inside a regex's escapes; split like HAProxy
  return parseConverter(t.slice(0, open), splitArgs(t.slice(open + 1, -1)));
}

/** HAProxy's argument list: commas separate, a backslash escapes the next character. */
function splitArgs(inner: string): string[] {
  if (inner === '') return [];
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '\\' && i + 1 < inner.length && (inner[i + 1] === ',' || inner[i + 1] === ')')) {
      cur += inner[++i];
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

function readPatternFile(file: string, read?: (path: string) => string): string[] {
  let text: string;
  try {
    text = read ? read(file) : fs.readFileSync(file, 'utf8');
  } catch (e) {
    fail(`cannot read the ACL pattern file '${file}': ${(e as Error).message}`);
  }
  // HAProxy: leading blanks stripped, empty lines and lines starting with '#' ignored.
  return text.split(/\r?\n/).map((l) => l.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '')).filter((l) => l !== '' && !l.startsWith('#'));
}

/** Patterns that cannot work are load-time errors, never per-request surprises. */
function checkPattern(match: AclMatch, v: string, kw: string): void {
  switch (match) {
    case 'int':
    case 'len':
      if (!/^(\d+|\d+:\d*|:\d+)$/.test(v)) fail(`'${v}' is not an integer or a range like 1024:65535 (for '${kw}')`);
      return;
    case 'ip':
      if (!parseIpv4Pattern(v) && !parseIpv6Pattern(v)) {
        fail(/^[A-Za-z]/.test(v) && !v.includes(':')
          ? `'${v}': host names in address patterns are not supported by gatehouse (write the address)`
          : `'${v}' is not an IPv4 or IPv6 address or network`);
      }
      return;
    case 'reg':
      try {
        new RegExp(v);
      } catch (e) {
        fail(`invalid regular expression '${v}': ${(e as Error).message}`);
      }
      return;
    default:
  }
}

/** Where ACL names come from when a condition is checked: the section's own, then predefined. */
export interface ConditionContext {
  side: RuleSide;
  readFile?: (path: string) => string;
}

/**
 * `if|unless <terms>` (the leading keyword included). Terms: `[!]name`, `[!]{ criterion ... }`,
 * separated by blanks (AND) and `||`/`or` (OR).
 */
export function parseCondition(words: readonly string[], opts: ConditionContext): AclCondition {
  const kw = words[0];
  if (kw !== 'if' && kw !== 'unless') fail(`expected 'if' or 'unless', found '${kw}'`);
  if (words.length < 2) fail(`'${kw}' expects a condition`);
  const or: AclTerm[][] = [[]];
  let negate = false;
  for (let i = 1; i < words.length; i++) {
    let w = words[i];
    if (w === '||' || w === 'or' || w === 'OR') {
      if (negate) fail(`'!' before '${w}'`);
      if (or[or.length - 1].length === 0) fail(`'${w}' without a condition before it`);
      or.push([]);
      continue;
    }
    while (w.startsWith('!')) {
      negate = !negate;
      w = w.slice(1);
    }
    if (w === '') continue; // a lone '!' negates the next term, as in HAProxy
    if (w === '{') {
      const close = words.indexOf('}', i + 1);
      if (close < 0) fail("missing '}' closing an anonymous ACL (braces must be separate words: '{ path_beg /api }')");
      const tests = parseAclTests(words.slice(i + 1, close), opts);
      or[or.length - 1].push({ negate, name: null, tests });
      i = close;
    } else if (w === '}') {
      fail("'}' without a matching '{'");
    } else if (w.startsWith('{') || w.endsWith('}')) {
      fail(`'${w}': braces of anonymous ACLs must be separate words ('{ path_beg /api }')`);
    } else {
      if (!/^[A-Za-z0-9_.:-]+$/.test(w)) fail(`'${w}' is not an ACL name (letters, digits, '-', '_', '.', ':')`);
      or[or.length - 1].push({ negate, name: w, tests: null });
    }
    negate = false;
  }
  if (negate) fail("'!' at the end of the condition");
  if (or[or.length - 1].length === 0) fail('the condition ends with an operator');
  return { unless: kw === 'unless', or };
}

/** Index of the `if`/`unless` that starts a rule's condition, or -1. */
export function conditionStart(words: readonly string[], from: number): number {
  for (let i = from; i < words.length; i++) if (words[i] === 'if' || words[i] === 'unless') return i;
  return -1;
}

// ---- log-format strings ----


/**
 * A log-format string: literal text, `%%`, and `%[fetch(arg)[,lower|,upper]...]` for the fetches
 * gatehouse evaluates. Other `%` variables are rejected (see docs/configuration.md).
 */
export function parseFormat(text: string, side: RuleSide): FormatPart[] {
  const parts: FormatPart[] = [];
  let lit = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '%') {
      lit += c;
      continue;
    }
    const next = text[i + 1];
    if (next === '%') {
      lit += '%';
      i++;
      continue;
    }
    // %{+Q}[fetch]: accepted; HAProxy 2.6 writes the sample unquoted all the same in header and
    // reply values (compared: test/tls-node.test.ts), so it is %[fetch]
    const quoted = text.startsWith('%{+Q}[', i);
    if (next !== '[' && !quoted) {
      const m = /^%(\{[^}]*\})?([A-Za-z_]*)/.exec(text.slice(i));
      fail(`log-format variable '${m ? m[0] : '%'}' is not supported by gatehouse yet: only %[fetch], %{+Q}[fetch] and %% (write %% for a literal percent)`);
    }
    const open = quoted ? i + 6 : i + 2;
    const close = closingBracket(text, open);
    if (close < 0) fail(`missing ']' in '${text.slice(i)}'`);
    const expr = text.slice(open, close);
    if (lit) parts.push({ kind: 'lit', text: lit });
    lit = '';
    parts.push(parseSampleExpr(expr, side));
    i = close;
  }
  if (lit || parts.length === 0) parts.push({ kind: 'lit', text: lit });
  return parts;
}

/** The `]` closing a `%[` whose expression starts at `from` (brackets inside, as in a regsub regex, nest). */
function closingBracket(text: string, from: number): number {
  let depth = 0;
  let paren = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '(') paren++;
    else if (c === ')') paren--;
    else if (c === '[') depth++;
    else if (c === ']') {
      if (depth === 0 && paren <= 0) return i;
      if (depth > 0) depth--;
    }
  }
  return -1;
}

/** `fetch(args)[,converter(args)...]`: the expression of `%[...]`, set-var and use_backend. */
export function parseSampleExpr(expr: string, side: RuleSide): FormatPart {
  const items = splitTop(expr);
  const { name, args } = splitCall(items[0].trim());
  const info = resolveFetch(name, side);
  if (!info) unknownFetch(name, Object.keys(FETCHES));
  checkSide(info, name, side);
  const conv = items.slice(1).map((c) => converter(c));
  return { kind: 'fetch', fetch: info.fetch, arg: fetchArg(info, name, args), conv };
}

/** Whether a format is one literal (no per-request work). */
export function formatLiteral(parts: readonly FormatPart[]): string | null {
  return parts.length === 1 && parts[0].kind === 'lit' ? parts[0].text : null;
}
