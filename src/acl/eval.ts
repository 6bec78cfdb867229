// Evaluation of compiled conditions and formats against a request (and response). Loops over
// the flat structures of compile.ts; no closures. Per request: each named ACL is evaluated at
// most once (memo by RequestView.gen), a sample compared case-insensitively is lower-cased once
// (lowerAscii: a small cache keyed by the string) and then compared with native
// ===/startsWith/endsWith/includes/Set.has/RegExp, the query is split once, and the client
// address is read (binary) and parsed only when a `src` test runs. Routing by host, path,
// method and src allocates nothing when the samples are lower-case already (a test counts GCs).
// Matching lives in case-fold.ts, match-string.ts and match-headers.ts.
import {
  CAcl, CCond, CFormat, CTest, F_DST_PORT, F_FALSE, F_METHOD, F_PATH, F_QUERY, F_REQ_FHDR, F_REQ_FHDR_CNT,
  F_REQ_HDR, F_REQ_HDR_CNT, F_REQ_HDR_VAL, F_RES_FHDR, F_RES_FHDR_CNT, F_RES_HDR, F_RES_HDR_CNT,
  F_RES_HDR_VAL, F_SRC, F_SSL_FC, F_STATUS, F_TRUE, F_URL, F_URL_PARAM, F_VER, F_STICK, F_VAR, F_BASE,
  F_PATHQ, F_SSL, M_BOOL, M_FOUND, M_INT,
} from './compile';
import { applyChain, type VarReader } from './convert';
import type { RequestView, ResponseView } from './view';
import { lowerAscii } from './case-fold';
import { matchStr, matchInt, matchBool, matchSrc } from './match-string';
import {
  matchHeaders, matchReqHeaders, matchHeaderInts, matchReqHeaderInts, countHeader, countReqHeader,
  headerValue, lastHeader, matchUrlParams, firstUrlParam,
} from './match-headers';
export { lowerAscii } from './case-fold';
export { matchStr, matchInt } from './match-string';
export { countHeader } from './match-headers';

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
    case F_SSL:
      return sslMatches(t, req);
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


/** A TLS fact of the connection; no sample (plain or uWS connection, no SNI ...) matches nothing. */
function sslMatches(t: CTest, req: RequestView): boolean {
  const v = sslText(t.arg, req);
  if (v === null) return false;
  if (t.match === M_FOUND) return true;
  if (t.match === M_BOOL) return matchBool(t, v !== '0' && v !== '');
  if (t.match === M_INT) return matchInt(t, Number(v));
  return matchStr(t, t.fold ? lowerAscii(v) : v);
}

/** ssl_* fetch text; ssl_c_used and ssl_c_verify have a sample on every connection. */
function sslText(fetch: string, req: RequestView): string | null {
  if (req.ssl !== null) return req.ssl.text(fetch);
  return fetch === 'ssl_c_used' ? '0' : fetch === 'ssl_c_verify' ? '0' : null;
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
    case F_SSL:
      return sslText(arg, req);
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
    case F_SSL:
      return sslText(arg, req) ?? '';
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
