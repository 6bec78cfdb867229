// Evaluation of compiled conditions and formats against a request (and response). Loops over
// the flat structures of compile.ts; no closures, and no allocation for path/url/method/host
// matching with str/beg/end/sub/dir/dom, -i included (case is folded while comparing).
import {
  CCond, CFormat, CTest,
  F_DST_PORT, F_FALSE, F_METHOD, F_PATH, F_QUERY, F_REQ_FHDR, F_REQ_FHDR_CNT, F_REQ_HDR, F_REQ_HDR_CNT, F_REQ_HDR_VAL,
  F_RES_FHDR, F_RES_FHDR_CNT, F_RES_HDR, F_RES_HDR_CNT, F_RES_HDR_VAL, F_SRC, F_SSL_FC, F_STATUS, F_TRUE, F_URL,
  F_URL_PARAM, F_VER,
  M_BEG, M_BOOL, M_DIR, M_DOM, M_END, M_FOUND, M_INT, M_IP, M_LEN, M_REG, M_STR, M_SUB,
} from './compile';
import { ipInNet } from './ip';
import type { RequestView, ResponseView } from './view';

export function evalCondition(c: CCond, req: RequestView, res: ResponseView | null): boolean {
  const terms = c.terms;
  const ends = c.ends;
  let start = 0;
  let matched = false;
  for (let g = 0; g < ends.length && !matched; g++) {
    const end = ends[g];
    let all = true;
    for (let i = start; i < end; i++) {
      const t = terms[i];
      if (anyTest(t.tests, req, res) === t.negate) {
        all = false;
        break;
      }
    }
    matched = all;
    start = end;
  }
  return matched !== c.unless;
}

function anyTest(tests: CTest[], req: RequestView, res: ResponseView | null): boolean {
  for (let i = 0; i < tests.length; i++) if (testMatches(tests[i], req, res)) return true;
  return false;
}

export function testMatches(t: CTest, req: RequestView, res: ResponseView | null): boolean {
  switch (t.fetch) {
    case F_PATH:
      return matchStr(t, req.path);
    case F_URL:
      return matchStr(t, req.url());
    case F_QUERY:
      return req.query !== null && matchStr(t, req.query);
    case F_METHOD:
      return matchStr(t, req.method);
    case F_VER:
      return matchStr(t, req.version);
    case F_URL_PARAM:
      return matchUrlParams(t, req.query);
    case F_SRC:
      return matchIp(t, req.srcIp);
    case F_DST_PORT:
      return matchInt(t, req.dstPort);
    case F_SSL_FC:
      return matchBool(t, req.tls);
    case F_TRUE:
      return true;
    case F_FALSE:
      return false;
    case F_REQ_HDR:
      return matchHeaders(t, req.headers, req.headersLen, true);
    case F_REQ_FHDR:
      return matchHeaders(t, req.headers, req.headersLen, false);
    case F_REQ_HDR_CNT:
      return matchInt(t, countHeader(req.headers, req.headersLen, t.arg, true));
    case F_REQ_FHDR_CNT:
      return matchInt(t, countHeader(req.headers, req.headersLen, t.arg, false));
    case F_REQ_HDR_VAL:
      return matchHeaderInts(t, req.headers, req.headersLen);
    case F_STATUS:
      return res !== null && matchInt(t, res.status);
  }
  if (res === null) return false; // response fetches in a request rule (the validator prevents it)
  switch (t.fetch) {
    case F_RES_HDR:
      return matchHeaders(t, res.headers, res.headersLen, true);
    case F_RES_FHDR:
      return matchHeaders(t, res.headers, res.headersLen, false);
    case F_RES_HDR_CNT:
      return matchInt(t, countHeader(res.headers, res.headersLen, t.arg, true));
    case F_RES_FHDR_CNT:
      return matchInt(t, countHeader(res.headers, res.headersLen, t.arg, false));
    case F_RES_HDR_VAL:
      return matchHeaderInts(t, res.headers, res.headersLen);
  }
  return false;
}

// ---- string matching ----

/** ASCII lower-case of a char code. */
function lc(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** s[at, at+p.length) equals p, folding s's case (p is already lower-case). */
function foldAt(s: string, at: number, p: string): boolean {
  const n = p.length;
  if (at < 0 || at + n > s.length) return false;
  for (let i = 0; i < n; i++) if (lc(s.charCodeAt(at + i)) !== p.charCodeAt(i)) return false;
  return true;
}

function at(s: string, i: number, p: string, icase: boolean): boolean {
  return icase ? foldAt(s, i, p) : s.startsWith(p, i);
}

function isDomDelim(c: number): boolean {
  return c === 46 || c === 58 || c === 47 || c === 63; // . : / ?
}

/** HAProxy dir/dom match: p occurs in s bounded by delimiters or the ends of s. */
function wordMatch(s: string, p: string, icase: boolean, dom: boolean): boolean {
  const n = p.length;
  if (n === 0) return false;
  for (let i = 0; i + n <= s.length; i++) {
    if (i > 0) {
      const b = s.charCodeAt(i - 1);
      if (dom ? !isDomDelim(b) : b !== 47) continue;
    }
    if (i + n < s.length) {
      const a = s.charCodeAt(i + n);
      if (dom ? !isDomDelim(a) : a !== 47) continue;
    }
    if (at(s, i, p, icase)) return true;
  }
  return false;
}

function inRanges(t: CTest, v: number): boolean {
  const lo = t.lo;
  const hi = t.hi;
  for (let i = 0; i < lo.length; i++) if (v >= lo[i] && v <= hi[i]) return true;
  return false;
}

/** Leading integer of a string (HAProxy's string-to-int cast), NaN when none. */
function leadingInt(s: string): number {
  let i = 0;
  let neg = false;
  if (s.charCodeAt(0) === 45) {
    neg = true;
    i = 1;
  }
  let v = 0;
  const start = i;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  if (i === start) return NaN;
  return neg ? -v : v;
}

export function matchStr(t: CTest, s: string): boolean {
  const strs = t.strs;
  const icase = t.icase;
  switch (t.match) {
    case M_FOUND:
      return true;
    case M_STR: {
      if (t.set !== null) return t.set.has(icase ? s.toLowerCase() : s);
      for (let i = 0; i < strs.length; i++) {
        const p = strs[i];
        if (p.length === s.length && (icase ? foldAt(s, 0, p) : s === p)) return true;
      }
      return false;
    }
    case M_BEG:
      for (let i = 0; i < strs.length; i++) if (at(s, 0, strs[i], icase)) return true;
      return false;
    case M_END:
      for (let i = 0; i < strs.length; i++) {
        const p = strs[i];
        if (p.length <= s.length && at(s, s.length - p.length, p, icase)) return true;
      }
      return false;
    case M_SUB:
      for (let i = 0; i < strs.length; i++) {
        const p = strs[i];
        if (!icase) {
          if (s.includes(p)) return true;
          continue;
        }
        for (let k = 0; k + p.length <= s.length; k++) if (foldAt(s, k, p)) return true;
      }
      return false;
    case M_REG:
      for (let i = 0; i < t.res.length; i++) if (t.res[i].test(s)) return true;
      return false;
    case M_DIR:
    case M_DOM:
      for (let i = 0; i < strs.length; i++) if (wordMatch(s, strs[i], icase, t.match === M_DOM)) return true;
      return false;
    case M_LEN:
      return inRanges(t, s.length);
    case M_INT: {
      const v = leadingInt(s);
      return v === v && inRanges(t, v);
    }
    case M_IP:
      for (let i = 0; i < t.nets.length; i++) if (ipInNet(s, t.nets[i])) return true;
      return false;
    case M_BOOL:
      return s !== '' && leadingInt(s) !== 0;
  }
  return false;
}

function matchInt(t: CTest, v: number): boolean {
  switch (t.match) {
    case M_INT:
      return inRanges(t, v);
    case M_FOUND:
      return true;
    case M_BOOL:
      return v !== 0;
  }
  return matchStr(t, String(v)); // -m str/beg/len... on an integer: HAProxy casts it to a string
}

function matchBool(t: CTest, v: boolean): boolean {
  switch (t.match) {
    case M_BOOL:
      return v;
    case M_FOUND:
      return true;
    case M_INT:
      return inRanges(t, v ? 1 : 0);
  }
  return matchStr(t, v ? '1' : '0');
}

function matchIp(t: CTest, ip: string): boolean {
  if (ip === '') return false;
  return matchStr(t, ip); // M_IP walks the networks; other matchers see the address text
}

// ---- headers ----

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

/** Every occurrence (hdr: every comma-separated value; fhdr: every line) until one matches. */
function matchHeaders(t: CTest, h: string[], len: number, split: boolean): boolean {
  const name = t.arg;
  for (let i = 0; i < len; i += 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    const v = h[i + 1];
    if (!split || v.indexOf(',') < 0) {
      if (matchStr(t, trimOws(v))) return true;
      continue;
    }
    let from = 0;
    for (;;) {
      const c = v.indexOf(',', from);
      const end = c < 0 ? v.length : c;
      if (matchStr(t, v.slice(from, end).trim())) return true;
      if (c < 0) break;
      from = c + 1;
    }
  }
  return false;
}

function matchHeaderInts(t: CTest, h: string[], len: number): boolean {
  const name = t.arg;
  for (let i = 0; i < len; i += 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    const v = leadingInt(trimOws(h[i + 1]));
    if (v === v && matchInt(t, v)) return true;
  }
  return false;
}

export function countHeader(h: string[], len: number, name: string, split: boolean): number {
  let count = 0;
  for (let i = 0; i < len; i += 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    count++;
    if (split) {
      const v = h[i + 1];
      for (let k = v.indexOf(','); k >= 0; k = v.indexOf(',', k + 1)) count++;
    }
  }
  return count;
}

/** Value of the last occurrence (hdr: the last comma-separated value), or null. */
/** hdr_val: the leading integer of the last value of `name`, '' when there is none. */
function headerValue(h: string[], len: number, name: string): string {
  const v = leadingInt(lastHeader(h, len, name, true) ?? '');
  return v === v ? String(v) : '';
}

function lastHeader(h: string[], len: number, name: string, split: boolean): string | null {
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

/** Parameters start at the query's beginning or after '&' and end before '&' or ';' (HAProxy). */
function matchUrlParams(t: CTest, q: string | null): boolean {
  if (q === null) return false;
  const name = t.arg;
  let from = 0;
  while (from <= q.length) {
    let amp = q.indexOf('&', from);
    if (amp < 0) amp = q.length;
    const eq = q.indexOf('=', from);
    if (eq >= 0 && eq < amp && (name === '' || (eq - from === name.length && q.startsWith(name, from)))) {
      const semi = q.indexOf(';', eq + 1);
      const end = semi >= 0 && semi < amp ? semi : amp;
      if (matchStr(t, q.slice(eq + 1, end))) return true;
    }
    from = amp + 1;
  }
  return false;
}

function firstUrlParam(q: string | null, name: string): string | null {
  if (q === null) return null;
  let from = 0;
  while (from <= q.length) {
    let amp = q.indexOf('&', from);
    if (amp < 0) amp = q.length;
    const eq = q.indexOf('=', from);
    if (eq >= 0 && eq < amp && (name === '' || (eq - from === name.length && q.startsWith(name, from)))) {
      const semi = q.indexOf(';', eq + 1);
      return q.slice(eq + 1, semi >= 0 && semi < amp ? semi : amp);
    }
    from = amp + 1;
  }
  return null;
}

// ---- formats ----

/** A fetch as a string for log-format (`%[...]`); '' when the sample is missing. */
export function sampleText(fetch: number, arg: string, req: RequestView, res: ResponseView | null): string {
  switch (fetch) {
    case F_PATH:
      return req.path;
    case F_URL:
      return req.url();
    case F_QUERY:
      return req.query ?? '';
    case F_METHOD:
      return req.method;
    case F_VER:
      return req.version;
    case F_URL_PARAM:
      return firstUrlParam(req.query, arg) ?? '';
    case F_SRC:
      return req.srcIp;
    case F_DST_PORT:
      return String(req.dstPort);
    case F_SSL_FC:
      return req.tls ? '1' : '0';
    case F_TRUE:
      return '1';
    case F_FALSE:
      return '0';
    case F_REQ_HDR:
      return lastHeader(req.headers, req.headersLen, arg, true) ?? '';
    case F_REQ_FHDR:
      return lastHeader(req.headers, req.headersLen, arg, false) ?? '';
    case F_REQ_HDR_CNT:
      return String(countHeader(req.headers, req.headersLen, arg, true));
    case F_REQ_FHDR_CNT:
      return String(countHeader(req.headers, req.headersLen, arg, false));
    case F_REQ_HDR_VAL:
      return headerValue(req.headers, req.headersLen, arg);
  }
  if (res === null) return '';
  switch (fetch) {
    case F_STATUS:
      return String(res.status);
    case F_RES_HDR:
      return lastHeader(res.headers, res.headersLen, arg, true) ?? '';
    case F_RES_FHDR:
      return lastHeader(res.headers, res.headersLen, arg, false) ?? '';
    case F_RES_HDR_CNT:
      return String(countHeader(res.headers, res.headersLen, arg, true));
    case F_RES_FHDR_CNT:
      return String(countHeader(res.headers, res.headersLen, arg, false));
    case F_RES_HDR_VAL:
      return headerValue(res.headers, res.headersLen, arg);
  }
  return '';
}

export function evalFormat(f: CFormat, req: RequestView, res: ResponseView | null): string {
  if (f.literal !== null) return f.literal;
  let out = '';
  const fetches = f.fetches;
  for (let i = 0; i < fetches.length; i++) {
    const code = fetches[i];
    if (code < 0) {
      out += f.lits[i];
      continue;
    }
    const v = sampleText(code, f.args[i], req, res);
    const conv = f.convs[i];
    out += conv === 1 ? v.toLowerCase() : conv === 2 ? v.toUpperCase() : v;
  }
  return out;
}
