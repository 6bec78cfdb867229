// ACL evaluation: header tests (values, comma-split values, counts) and URL parameters.
import { CTest, M_FOUND } from './compile';
import type { RequestView } from './view';
import { foldAt } from './case-fold';
import { leadingInt, prep, matchStr, matchInt } from './match-string';


/** Header name equality: `n` as stored (any case), `name` lower-case. */
function nameIs(n: string, name: string): boolean {
  return n === name || (n.length === name.length && foldAt(n, 0, name));
}

function trimOws(v: string): string {
  const n = v.length;
  if (n === 0) return v;
  const a = v.charCodeAt(0);
  const b = v.charCodeAt(n - 1);
  return a === 32 || a === 9 || b === 32 || b === 9 ? v.trim() : v;
}

/** One header line: hdr checks every comma-separated value, fhdr the whole line. */
function matchHeaderValue(t: CTest, v: string, split: boolean): boolean {
  if (!split || v.indexOf(',') < 0) return matchStr(t, prep(t, trimOws(v)));
  const lv = prep(t, v); // folding keeps offsets: split the folded line
  let from = 0;
  for (;;) {
    const c = lv.indexOf(',', from);
    const end = c < 0 ? lv.length : c;
    if (matchStr(t, lv.slice(from, end).trim())) return true;
    if (c < 0) return false;
    from = c + 1;
  }
}

/** Every occurrence (hdr: every comma-separated value; fhdr: every line) until one matches. */
export function matchHeaders(t: CTest, h: string[], len: number, split: boolean): boolean {
  const name = t.arg;
  for (let i = 0; i < len; i += 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    if (matchHeaderValue(t, h[i + 1], split)) return true;
  }
  return false;
}

export function matchReqHeaders(t: CTest, req: RequestView, split: boolean): boolean {
  if (t.single >= 0) {
    const v = req.singleHeader(t.single);
    if (v !== null) return matchHeaderValue(t, v, split);
  }
  req.loadHeaders();
  return matchHeaders(t, req.headers, req.headersLen, split);
}

export function matchHeaderInts(t: CTest, h: string[], len: number): boolean {
  const name = t.arg;
  for (let i = 0; i < len; i += 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    const v = leadingInt(trimOws(h[i + 1]));
    if (v === v && matchInt(t, v)) return true;
  }
  return false;
}

export function matchReqHeaderInts(t: CTest, req: RequestView): boolean {
  if (t.single >= 0) {
    const s = req.singleHeader(t.single);
    if (s !== null) {
      const v = leadingInt(trimOws(s));
      return v === v && matchInt(t, v);
    }
  }
  req.loadHeaders();
  return matchHeaderInts(t, req.headers, req.headersLen);
}

function commas(v: string): number {
  let count = 0;
  for (let k = v.indexOf(','); k >= 0; k = v.indexOf(',', k + 1)) count++;
  return count;
}

export function countHeader(h: string[], len: number, name: string, split: boolean): number {
  let count = 0;
  for (let i = 0; i < len; i += 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    count++;
    if (split) count += commas(h[i + 1]);
  }
  return count;
}

export function countReqHeader(t: CTest, req: RequestView, split: boolean): number {
  if (t.single >= 0) {
    const v = req.singleHeader(t.single);
    if (v !== null) return split ? 1 + commas(v) : 1;
  }
  req.loadHeaders();
  return countHeader(req.headers, req.headersLen, t.arg, split);
}

/** hdr_val: the leading integer of the last value of `name`, '' when there is none. */
export function headerValue(h: string[], len: number, name: string): string {
  const v = leadingInt(lastHeader(h, len, name, true) ?? '');
  return v === v ? String(v) : '';
}

/** Value of the last occurrence (hdr: the last comma-separated value), or null. */
export function lastHeader(h: string[], len: number, name: string, split: boolean): string | null {
  for (let i = len - 2; i >= 0; i -= 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    const v = h[i + 1];
    if (!split) return trimOws(v);
    const c = v.lastIndexOf(',');
    return c < 0 ? trimOws(v) : v.slice(c + 1).trim();
  }
  return null;
}

// ---- URL parameters ----

/** Every parameter named t.arg (any name when '') until one matches; the query is split once (RequestView.params). */
export function matchUrlParams(t: CTest, req: RequestView): boolean {
  const q = req.query;
  if (q === null) return false;
  const n = req.params();
  const name = t.arg;
  const starts = req.paramStart;
  const eqs = req.paramEq;
  for (let k = 0; k < n; k++) {
    const from = starts[k];
    const eq = eqs[k];
    if (name !== '' && (eq - from !== name.length || !q.startsWith(name, from))) continue;
    if (t.match === M_FOUND) return true;
    if (matchStr(t, prep(t, q.slice(eq + 1, req.paramEnd[k])))) return true;
  }
  return false;
}

export function firstUrlParam(req: RequestView, name: string): string | null {
  const q = req.query;
  if (q === null) return null;
  const n = req.params();
  for (let k = 0; k < n; k++) {
    const from = req.paramStart[k];
    const eq = req.paramEq[k];
    if (name === '' || (eq - from === name.length && q.startsWith(name, from))) return q.slice(eq + 1, req.paramEnd[k]);
  }
  return null;
}
