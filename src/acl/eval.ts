// Evaluation of compiled conditions and formats against a request (and response). Loops over
// the flat structures of compile.ts; no closures. Per request: each named ACL is evaluated at
// most once (memo by RequestView.gen), a sample compared case-insensitively is lower-cased once
// (lowerAscii: a small cache keyed by the string) and then compared with native
// ===/startsWith/endsWith/includes/Set.has/RegExp, the query is split once, and the client
// address is read (binary) and parsed only when a `src` test runs. Routing by host, path,
// method and src allocates nothing when the samples are lower-case already (a test counts GCs).
import {
  CAcl, CCond, CFormat, CTest,
  F_DST_PORT, F_FALSE, F_METHOD, F_PATH, F_QUERY, F_REQ_FHDR, F_REQ_FHDR_CNT, F_REQ_HDR, F_REQ_HDR_CNT, F_REQ_HDR_VAL,
  F_RES_FHDR, F_RES_FHDR_CNT, F_RES_HDR, F_RES_HDR_CNT, F_RES_HDR_VAL, F_SRC, F_SSL_FC, F_STATUS, F_TRUE, F_URL,
  F_URL_PARAM, F_VER, F_STICK, F_VAR, F_BASE, F_PATHQ,
  M_BEG, M_BOOL, M_DIR, M_DOM, M_END, M_FOUND, M_INT, M_IP, M_LEN, M_REG, M_STR, M_SUB,
} from './compile';
import { ipInNet, sampleInNet } from './ip';
import { applyChain, type VarReader } from './convert';
import type { RequestView, ResponseView } from './view';

export function evalCondition(c: CCond, req: RequestView, res: ResponseView | null): boolean {
  const one = c.single;
  if (one !== null) return (aclMatches(one, req, res) !== c.negate) !== c.unless;
  const terms = c.terms;
  const ends = c.ends;
  let start = 0;
  for (let g = 0; g < ends.length; g++) {
    const end = ends[g];
    let i = start;
    for (; i < end; i++) {
      const t = terms[i];
      if (aclMatches(t.acl, req, res) === t.negate) break;
    }
    if (i === end) return !c.unless; // every term of this OR-group holds
    start = end;
  }
  return c.unless;
}

/** An ACL's tests ORed, memoised for the view's generation (one evaluation per request). */
function aclMatches(a: CAcl, req: RequestView, res: ResponseView | null): boolean {
  const gen = req.gen;
  if (a.gen === gen) return a.value;
  let v = false;
  const one = a.test;
  if (one !== null) {
    v = testMatches(one, req, res);
  } else {
    const tests = a.tests;
    for (let i = 0; i < tests.length; i++) {
      if (testMatches(tests[i], req, res)) {
        v = true;
        break;
      }
    }
  }
  a.gen = gen;
  a.value = v;
  return v;
}

export function testMatches(t: CTest, req: RequestView, res: ResponseView | null): boolean {
  if (t.chain !== null) return exprMatches(t, req, res);
  switch (t.fetch) {
    case F_PATH:
      return matchStr(t, t.fold ? lowerAscii(req.path) : req.path);
    case F_URL: {
      const u = req.url();
      return matchStr(t, t.fold ? lowerAscii(u) : u);
    }
    case F_QUERY: {
      const q = req.query;
      return q !== null && matchStr(t, t.fold ? lowerAscii(q) : q);
    }
    case F_METHOD:
      return matchStr(t, t.fold ? lowerAscii(req.method) : req.method);
    case F_VER:
      return matchStr(t, t.fold ? lowerAscii(req.version) : req.version);
    case F_URL_PARAM:
      return matchUrlParams(t, req);
    case F_SRC:
      return matchSrc(t, req);
    case F_DST_PORT:
      return matchInt(t, req.dstPort);
    case F_SSL_FC:
      return matchBool(t, req.tls);
    case F_TRUE:
      return true;
    case F_FALSE:
      return false;
    case F_REQ_HDR:
      return matchReqHeaders(t, req, true);
    case F_REQ_FHDR:
      return matchReqHeaders(t, req, false);
    case F_REQ_HDR_CNT:
      return matchInt(t, countReqHeader(t, req, true));
    case F_REQ_FHDR_CNT:
      return matchInt(t, countReqHeader(t, req, false));
    case F_REQ_HDR_VAL:
      return matchReqHeaderInts(t, req);
    case F_STATUS:
      return res !== null && matchInt(t, res.status);
    case F_STICK: {
      const v = t.stick!.eval(req);
      return v === v && matchInt(t, v); // NaN: no sample (not tracked, not stored)
    }
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

// ---- case folding ----

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

const NON_ASCII = /[^\x00-\x7f]/;

/** ASCII-only lower-casing of a string holding other characters too (HAProxy folds bytes A-Z only). */
function lowerAsciiSlow(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

// The last few samples lower-cased, keyed by the string (usually the very same string object:
// a request's Host tested by four ACLs is lowered once; equal strings of the next request on a
// keep-alive connection hit too). toLowerCase() returns its argument when nothing changes.
const LC_SIZE = 8; // a power of two
const lcIn: string[] = new Array<string>(LC_SIZE).fill('\u0000');
const lcOut: string[] = new Array<string>(LC_SIZE).fill('\u0000');
let lcNext = 0;
let lcLastIn = '\u0000';
let lcLastOut = '\u0000';

/** `s` with A-Z lowered (and nothing else: the same length, the same offsets), memoised. */
export function lowerAscii(s: string): string {
  if (s === lcLastIn) return lcLastOut;
  for (let i = 0; i < LC_SIZE; i++) {
    if (lcIn[i] === s) {
      lcLastIn = s;
      lcLastOut = lcOut[i];
      return lcLastOut;
    }
  }
  const l = NON_ASCII.test(s) ? lowerAsciiSlow(s) : s.toLowerCase();
  lcIn[lcNext] = s;
  lcOut[lcNext] = l;
  lcNext = (lcNext + 1) & (LC_SIZE - 1);
  lcLastIn = s;
  lcLastOut = l;
  return l;
}

// ---- string matching ----

function isDomDelim(c: number): boolean {
  return c === 46 || c === 58 || c === 47 || c === 63; // . : / ?
}

/** HAProxy dir/dom match: p occurs in s bounded by delimiters or the ends of s. */
function wordMatch(s: string, p: string, dom: boolean): boolean {
  const n = p.length;
  if (n === 0) return false;
  for (let i = s.indexOf(p); i >= 0; i = s.indexOf(p, i + 1)) {
    if (i > 0) {
      const b = s.charCodeAt(i - 1);
      if (dom ? !isDomDelim(b) : b !== 47) continue;
    }
    if (i + n < s.length) {
      const a = s.charCodeAt(i + n);
      if (dom ? !isDomDelim(a) : a !== 47) continue;
    }
    return true;
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

/** `s` as a test compares it: lower-cased (ASCII) when the test folds case. */
function prep(t: CTest, s: string): string {
  return t.fold ? lowerAscii(s) : s;
}

/** Matches a sample against a test's patterns. `s` must already be lower-cased when t.fold (see prep). */
export function matchStr(t: CTest, s: string): boolean {
  const strs = t.strs;
  switch (t.match) {
    case M_FOUND:
      return true;
    case M_STR: {
      if (t.set !== null) return t.set.has(s);
      for (let i = 0; i < strs.length; i++) if (strs[i] === s) return true;
      return false;
    }
    case M_BEG:
      for (let i = 0; i < strs.length; i++) if (s.startsWith(strs[i])) return true;
      return false;
    case M_END: {
      const tab = t.endTab;
      if (tab !== null) {
        const c = s.charCodeAt(s.length - 1); // NaN for '': no pattern is empty here
        if (!(c < 128) || tab[c] === 0) return false;
      }
      for (let i = 0; i < strs.length; i++) if (s.endsWith(strs[i])) return true;
      return false;
    }
    case M_SUB:
      if (t.subRe !== null) return t.subRe.test(s);
      for (let i = 0; i < strs.length; i++) if (s.includes(strs[i])) return true;
      return false;
    case M_REG:
      for (let i = 0; i < t.res.length; i++) if (t.res[i].test(s)) return true;
      return false;
    case M_DIR:
    case M_DOM:
      for (let i = 0; i < strs.length; i++) if (wordMatch(s, strs[i], t.match === M_DOM)) return true;
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

export function matchInt(t: CTest, v: number): boolean {
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

/** src: networks compare the parsed address (read lazily, once); other matchers see its text. */
function matchSrc(t: CTest, req: RequestView): boolean {
  if (t.match === M_IP) {
    const ip = req.srcAddress();
    if (ip === null) return false;
    const nets = t.nets;
    for (let i = 0; i < nets.length; i++) if (sampleInNet(ip, nets[i])) return true;
    return false;
  }
  const text = req.srcText();
  if (text === '') return false;
  return matchStr(t, prep(t, text));
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
function matchHeaders(t: CTest, h: string[], len: number, split: boolean): boolean {
  const name = t.arg;
  for (let i = 0; i < len; i += 2) {
    const n = h[i];
    if (n === '' || (name !== '' && !nameIs(n, name))) continue;
    if (matchHeaderValue(t, h[i + 1], split)) return true;
  }
  return false;
}

function matchReqHeaders(t: CTest, req: RequestView, split: boolean): boolean {
  if (t.single >= 0) {
    const v = req.singleHeader(t.single);
    if (v !== null) return matchHeaderValue(t, v, split);
  }
  req.loadHeaders();
  return matchHeaders(t, req.headers, req.headersLen, split);
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

function matchReqHeaderInts(t: CTest, req: RequestView): boolean {
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

function countReqHeader(t: CTest, req: RequestView, split: boolean): number {
  if (t.single >= 0) {
    const v = req.singleHeader(t.single);
    if (v !== null) return split ? 1 + commas(v) : 1;
  }
  req.loadHeaders();
  return countHeader(req.headers, req.headersLen, t.arg, split);
}

/** hdr_val: the leading integer of the last value of `name`, '' when there is none. */
function headerValue(h: string[], len: number, name: string): string {
  const v = leadingInt(lastHeader(h, len, name, true) ?? '');
  return v === v ? String(v) : '';
}

/** Value of the last occurrence (hdr: the last comma-separated value), or null. */
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

/** Every parameter named t.arg (any name when '') until one matches; the query is split once (RequestView.params). */
function matchUrlParams(t: CTest, req: RequestView): boolean {
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

function firstUrlParam(req: RequestView, name: string): string | null {
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

// ---- sample expressions (converters, variables) ----

/** the request whose variables concat() reads (set before each applyChain: no closure per call) */
let varReq: RequestView | null = null;
const readVar: VarReader = (name) => varReq!.getVar(name);

/** A criterion with converters (or var/base/pathq): matched on the text; no sample, no match. */
function exprMatches(t: CTest, req: RequestView, res: ResponseView | null): boolean {
  let v = sampleValue(t.fetch, t.arg, req, res);
  if (t.chain!.length !== 0) {
    varReq = req;
    v = applyChain(t.chain!, v, readVar);
  }
  if (v === null) return false;
  if (t.match === M_FOUND) return true;
  return matchStr(t, t.fold ? lowerAscii(v) : v);
}

/** A fetch's text, null when the sample is missing (no such header, variable, parameter). */
export function sampleValue(fetch: number, arg: string, req: RequestView, res: ResponseView | null): string | null {
  switch (fetch) {
    case F_VAR:
      return req.getVar(arg);
    case F_QUERY:
      return req.query;
    case F_URL_PARAM:
      return firstUrlParam(req, arg);
    case F_BASE: {
      req.loadHeaders();
      const host = lastHeader(req.headers, req.headersLen, 'host', false);
      return host === null ? req.path : host + req.path;
    }
    case F_PATHQ:
      return req.query === null ? req.path : req.path + '?' + req.query;
    case F_REQ_HDR:
    case F_REQ_FHDR:
      req.loadHeaders();
      return lastHeader(req.headers, req.headersLen, arg, fetch === F_REQ_HDR);
    case F_RES_HDR:
    case F_RES_FHDR:
      return res === null ? null : lastHeader(res.headers, res.headersLen, arg, fetch === F_RES_HDR);
  }
  return sampleText(fetch, arg, req, res);
}

/** A one-expression format (set-var): its value, or null when the sample is missing. */
export function evalSample(f: CFormat, req: RequestView, res: ResponseView | null): string | null {
  const v = sampleValue(f.fetches[0], f.args[0], req, res);
  const chain = f.chains[0];
  if (chain === null) return v;
  varReq = req;
  return applyChain(chain, v, readVar);
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
      return firstUrlParam(req, arg) ?? '';
    case F_SRC:
      return req.srcText();
    case F_DST_PORT:
      return String(req.dstPort);
    case F_SSL_FC:
      return req.tls ? '1' : '0';
    case F_TRUE:
      return '1';
    case F_FALSE:
      return '0';
    case F_VAR:
    case F_BASE:
    case F_PATHQ:
      return sampleValue(fetch, arg, req, res) ?? '';
  }
  if (fetch === F_REQ_HDR || fetch === F_REQ_FHDR || fetch === F_REQ_HDR_CNT || fetch === F_REQ_FHDR_CNT || fetch === F_REQ_HDR_VAL) req.loadHeaders();
  switch (fetch) {
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
    const chain = f.chains[i];
    if (code === F_STICK) {
      const n = f.stick[i]!.eval(req);
      const v = n === n ? String(n) : '';
      if (chain === null) out += v;
      else {
        varReq = req;
        out += applyChain(chain, v, readVar) ?? '';
      }
      continue;
    }
    if (chain === null) {
      out += sampleText(code, f.args[i], req, res);
      continue;
    }
    varReq = req;
    out += applyChain(chain, sampleValue(code, f.args[i], req, res), readVar) ?? '';
  }
  return out;
}
