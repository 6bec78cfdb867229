// Rule and ACL text <-> words. YAML holds `acls`, `http_request`, ... as strings in haproxy.cfg
// syntax; they are split with the cfg tokenizer (HAProxy's quoting rules), and the cfg reader
// joins its already-split words back with quoteWord so the round trip gives the same words.
import { tokenizeLine } from '../config/cfg-tokenize';

/** A problem in an ACL, condition, rule or format string; the validator reports it at its key path. */
export class RuleSyntaxError extends Error {}

/** HAProxy words of `text`. Variables are not expanded (YAML has none): `$` must be escaped in double quotes. */
export function splitWords(text: string): string[] {
  const t = tokenizeLine(text, { env: {}, file: '', line: 0, section: '' });
  if (t.error) throw new RuleSyntaxError(`${t.error.message} (at column ${t.error.col})`);
  if (t.unset.length) throw new RuleSyntaxError(`"$${t.unset[0].name}" is not expanded here; write \\$ for a literal dollar, or use single quotes`);
  return t.words.map((w) => w.text);
}

/** The word as cfg syntax that splitWords reads back unchanged. */
export function quoteWord(w: string): string {
  if (w !== '' && !/[\s'"#\\$]/.test(w)) return w;
  if (!w.includes("'") && !/[\r\n]/.test(w)) return `'${w}'`;
  const esc: Record<string, string> = { '\\': '\\\\', '"': '\\"', $: '\\$', '\n': '\\n', '\r': '\\r' };
  return `"${w.replace(/[\\"$\n\r]/g, (c) => esc[c])}"`;
}

export function joinWords(words: readonly string[]): string {
  return words.map(quoteWord).join(' ');
}
