// Request checks uWS does not make before it hands a request to JS (see docs/hardening.md for
// the corpus that found each gap). Pure: reads nothing but its arguments, allocates nothing for
// a valid request. The caller answers the returned status and closes the client connection.
import { sameIgnoreCase } from '../shared/ascii';

/** What collectRequestHead() records while it walks the headers (scratch satisfies this). */
export interface RequestFacts {
  /** header fields uWS reported (all of them, hop-by-hop included) */
  headerCount: number;
  /** sum over fields of name.length + value.length + 4 (": " and CRLF) */
  headBytes: number;
  /** number of Content-Length fields */
  clCount: number;
  /** value of the first Content-Length field ('' when none) */
  clValue: string;
  /** Transfer-Encoding values joined with ',' in arrival order, or null when absent */
  te: string | null;
  /** number of Host fields */
  hostCount: number;
  /** some field failed isValidField() */
  badField: boolean;
}

export interface RequestLimits {
  /** request line + header fields, bytes (global.max_header_size, HAProxy's tune.bufsize) */
  maxHeaderSize: number;
  /** header fields (global.max_headers, HAProxy's tune.http.maxhdr) */
  maxHeaders: number;
  /** path + '?' + query, bytes (global.max_uri) */
  maxUri: number;
}

// field-name = token (RFC 9110 5.1); uWS lower-cases names, upper case is allowed anyway.
const NAME_OK = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// field-value: no CTL but HTAB (RFC 9110 5.5). uWS already stops a value at CR; NUL, bare LF,
// other controls and DEL would reach the server, where a strict parser rejects the request
// (the client then sees a 502 after a pointless retry) and a lenient one may split it.
// U+FFFD: uWS.js hands values over UTF-8 decoded, so bytes that are not UTF-8 (latin1 text)
// arrive replaced and their originals are lost; forwarding EF BF BD in their place would
// silently corrupt the value (valid UTF-8 passes byte for byte).
const VALUE_BAD = /[\x00-\x08\x0a-\x1f\x7f\ufffd]/;
// origin-form target: visible ASCII only, no fragment (HAProxy rejects '#' since CVE-2023-45539).
// uWS hands the path over UTF-8 decoded, so raw bytes >= 0x80 show up here as non-ASCII.
const TARGET_BAD = /[^\x21-\x7e]|#/;
// absolute-form (RFC 9112 3.2.2), forwarded as received
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]+/i;

/** Per header, from collectRequestHead(): false when the field must not be forwarded. */
export function isValidField(name: string, value: string): boolean {
  return NAME_OK.test(name) && !VALUE_BAD.test(value);
}

/**
 * Returns 0 when the request may be forwarded, else the status to answer with: 400 (malformed
 * or ambiguous framing), 413 (Content-Length beyond 2^53-1), 414 (URI longer than maxUri),
 * 431 (head larger than maxHeaderSize or more than maxHeaders fields), 501 (a transfer coding
 * other than chunked, or CONNECT). `url`/`query` are uWS's getUrl()/getQuery().
 */
export function validateRequest(
  method: string,
  url: string,
  query: string | undefined,
  facts: RequestFacts,
  limits: RequestLimits,
): number {
  const uriLen = query === undefined ? url.length : url.length + 1 + query.length;
  if (uriLen > limits.maxUri) return 414;
  // request line: METHOD SP target SP HTTP/1.1 CRLF, then the fields and the final CRLF
  if (method.length + uriLen + 12 + facts.headBytes + 2 > limits.maxHeaderSize) return 431;
  if (facts.headerCount > limits.maxHeaders) return 431;
  // origin-form; absolute-form and asterisk-form reach here from the node engine only (uWS
  // closes them). `*` is forwarded with any method, as HAProxy 2.6 does (OPTIONS *, and SSDP's
  // M-SEARCH * that llhttp's request vectors hold).
  if ((url.charCodeAt(0) !== 47 /* '/' */ && url !== '*' && !ABSOLUTE_FORM.test(url)) || TARGET_BAD.test(url)) return 400;
  if (query !== undefined && TARGET_BAD.test(query)) return 400;
  if (facts.badField) return 400;
  // RFC 9112 3.2: more than one Host is a 400
  if (facts.hostCount > 1) return 400;
  // no tunnels through a load balancer; uWS does not deliver CONNECT today anyway
  if (method === 'CONNECT') return 501;
  if (facts.te !== null) {
    // RFC 9112 6.1: CL with TE "ought to be handled as an error"; rejecting is the safe reading
    if (facts.clCount > 0) return 400;
    return checkTransferEncoding(facts.te);
  }
  if (facts.clCount > 0) {
    // Repeated lengths are rejected even when equal: the head is forwarded as received, and
    // strict servers (llhttp) refuse two Content-Length fields.
    if (facts.clCount > 1) return 400;
    return checkContentLength(facts.clValue);
  }
  return 0;
}

/** 1*DIGIT with no sign, space or list (RFC 9110 8.6); 413 beyond what a double holds exactly. */
export function checkContentLength(v: string): number {
  const n = v.length;
  if (n === 0) return 400;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return 400;
  }
  // leading zeros do not change the value
  let i = 0;
  while (i < n - 1 && v.charCodeAt(i) === 48) i++;
  if (n - i > 16 || (n - i === 16 && Number(v) > Number.MAX_SAFE_INTEGER)) return 413;
  return 0;
}

/**
 * Transfer-Encoding must end in chunked, applied once (RFC 9112 6.1, 6.3: else 400). Other
 * codings before it are "not understood" (501): uWS de-chunks the body and gatehouse re-chunks
 * it, so a gzip coding would be dropped on the way.
 */
export function checkTransferEncoding(te: string): number {
  if (te === 'chunked') return 0;
  let chunkedAt = -1;
  let codings = 0;
  let other = false;
  let lastWasChunked = false;
  const n = te.length;
  let i = 0;
  while (i <= n) {
    // one list element: [OWS] token [OWS]; empty elements are allowed by the list rule
    let s = i;
    let e = te.indexOf(',', i);
    if (e < 0) e = n;
    i = e + 1;
    while (s < e && isOws(te.charCodeAt(s))) s++;
    while (e > s && isOws(te.charCodeAt(e - 1))) e--;
    if (s === e) continue;
    codings++;
    if (e - s === 7 && sameIgnoreCase(te.slice(s, e), 'chunked')) {
      if (chunkedAt >= 0) return 400; // chunked twice
      chunkedAt = codings;
      lastWasChunked = true;
    } else {
      lastWasChunked = false;
      for (let k = s; k < e; k++) if (!isTchar(te.charCodeAt(k))) return 400; // parameters, junk
      other = true;
    }
  }
  if (codings === 0 || !lastWasChunked) return 400;
  return other ? 501 : 0;
}

function isOws(c: number): boolean {
  return c === 32 || c === 9;
}

function isTchar(c: number): boolean {
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return true;
  switch (c) {
    case 33: case 35: case 36: case 37: case 38: case 39: case 42: case 43:
    case 45: case 46: case 94: case 95: case 96: case 124: case 126:
      return true;
    default:
      return false;
  }
}
