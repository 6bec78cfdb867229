// Cookie persistence (HAProxy's `cookie NAME insert|rewrite|prefix ...` + server `cookie VALUE`).
// Pure functions over strings, for the hot path: no closures per request, one caller-owned
// scratch object (CookieTxn) per in-flight request or reused per worker, and unchanged headers
// are returned as the very same string so the common case allocates nothing.
// Semantics follow HAProxy 2.6's http_ana.c (request and response cookie management); see
// docs/haproxy-cfg.md#cookie-persistence.
import type { CookieConfig } from '../config/model';

// Cookie status of a request, HAProxy's TX_CK_* (and the letter its logs print).
export const CK_NONE = 0; // no persistence cookie
export const CK_INVALID = 1; // names no server (forged, stale, empty)
export const CK_DOWN = 2; // names a server that is down
export const CK_VALID = 3; // names a usable server
export const CK_EXPIRED = 4; // last-seen date older than maxidle
export const CK_OLD = 5; // first-seen date older than maxlife
/** Log letter per status, indexed by CK_*: HAProxy's N I D V E O. */
export const COOKIE_STATUS_LETTERS = 'NIDVEO';

/** Separator of the server value and the dates (maxidle/maxlife), HAProxy's COOKIE_DELIM_DATE. */
const DATE_DELIM = '|';
/** Separator of the server value and the application's value in prefix mode. */
const PREFIX_DELIM = '~';
/** Dates more than this far in the future are distrusted (HAProxy: one day). */
const FUTURE_SLACK_S = 86400;

/** The backend's servers as the cookie matcher sees them; build once per backend, not per request. */
export interface CookieMatcher {
  /** server cookie value by local server index; null when the server has no `cookie` */
  readonly values: readonly (string | null)[];
  /** may server `i` take this request (UP or DRAIN, not DOWN/MAINT)? Called only on a value match. */
  usable(i: number): boolean;
  /** `option persist`: send to the named server even when it is down */
  readonly persist: boolean;
}

/** Per-request cookie state (HAProxy's txn cookie fields). Reuse: call reset() before each request. */
export class CookieTxn {
  /** local index of the server the cookie selects, or -1 (balance normally) */
  server = -1;
  /** CK_* */
  status = CK_NONE;
  /** unix seconds decoded from the cookie, 0 when absent */
  lastSeen = 0;
  firstSeen = 0;
  /** Cookie header to forward upstream: the input string itself when unchanged, '' = drop the header */
  forward = '';
  /** the server's response carried a Set-Cookie with the persistence cookie's name */
  serverSetCookie = false;

  reset(): void {
    this.server = -1;
    this.status = CK_NONE;
    this.lastSeen = 0;
    this.firstSeen = 0;
    this.forward = '';
    this.serverSetCookie = false;
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_REV = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_REV[B64.charCodeAt(i)] = i;

/** HAProxy's s30tob64: the low 30 bits of `n` as 5 base64 characters, most significant first. */
export function s30tob64(n: number): string {
  let out = '';
  for (let shift = 24; shift >= 0; shift -= 6) out += B64[(n >>> shift) & 0x3f];
  return out;
}

/** HAProxy's b64tos30: 5 characters of `s` from `at` back to a 30-bit number; -1 if malformed. */
export function b64tos30(s: string, at: number): number {
  if (at + 5 > s.length) return -1;
  let n = 0;
  for (let i = at; i < at + 5; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64_REV[c] : -1;
    if (v < 0) return -1;
    n = (n << 6) | v;
  }
  return n;
}

/** Dates are stored in 4-second units, rounded up, as HAProxy does ((now+3)>>2). */
function encodeDate(unixSec: number): string {
  return s30tob64((unixSec + 3) >>> 2);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Reads the persistence cookie from a request's Cookie header (several Cookie headers: join them
 * with "; " first) and picks the server it names. Fills `txn` (call `txn.reset()` first):
 * server/status, the decoded dates, and `forward`, the Cookie header to send upstream, rewritten
 * as HAProxy 2.6 rewrites it (http_manage_client_side_cookies), so a server sees the same bytes
 * behind either proxy:
 * - cookies end at ';' or ',' outside double quotes; spaces around '=' are removed from every
 *   NAME=VALUE cookie (not from `$attributes` or cookies without '=');
 * - insert + indirect: every NAME=... occurrence is removed with the delimiter before it (the
 *   first one with the delimiter after it), '' when nothing is left;
 * - prefix: NAME=SRV~APP becomes NAME=APP;
 * - otherwise, and whenever nothing changed, the input string itself.
 * The first occurrence naming a usable server wins (HAProxy tries each occurrence in turn); a
 * forged, empty or expired value just leaves server = -1: the request is balanced normally.
 */
export function readRequestCookie(
  header: string | undefined,
  cfg: CookieConfig,
  match: CookieMatcher,
  nowSec: number,
  txn: CookieTxn,
): void {
  if (header === undefined || header.length === 0) {
    txn.forward = header ?? '';
    return;
  }
  const name = cfg.name;
  // Cheap reject: most requests of a site without the cookie never reach the parser below.
  if (header.indexOf(name) < 0 && !hasSpaceAroundEquals(header)) {
    txn.forward = header;
    return;
  }
  const prefixMode = cfg.mode === 'prefix';
  const strip = cfg.mode === 'insert' && cfg.indirect;
  // `h` is replaced (never mutated) when a cookie is rewritten; untouched, it stays `header`.
  let h = header;
  let end = h.length;
  /** start of the run of our cookies to remove (the delimiter before it), -1: none pending */
  let delFrom = -1;
  /** some cookie stays: the header is not dropped even if the last ones are removed */
  let preserve = false;
  let first = true;
  for (let prev = 0, next = 0; prev < end; prev = next) {
    // prev: the delimiter before this cookie (0 for the first); ab..ae: its name; eq: its '='
    // (or the delimiter); vb..ve: its value without surrounding spaces; next: the delimiter after.
    // Not `prev === 0`: a removal at the start can bring a later cookie's delimiter to 0.
    let ab = first ? 0 : prev + 1;
    first = false;
    while (ab < end && isSpace(h.charCodeAt(ab))) ab++;
    let eq = ab;
    let ae = ab;
    while (eq < end) {
      const c = h.charCodeAt(eq);
      if (c === 61 /* = */ || c === 44 /* , */ || c === 59 /* ; */) break;
      eq++;
      if (!isSpace(c)) ae = eq;
    }
    let vb = eq;
    let ve = eq;
    next = eq;
    if (eq < end && h.charCodeAt(eq) === 61) {
      vb = eq + 1;
      while (vb < end && isSpace(h.charCodeAt(vb))) vb++;
      next = cookieValueEnd(h, vb, end);
      ve = next;
      while (ve > vb && isSpace(h.charCodeAt(ve - 1))) ve--;
    }
    if (ab < end && h.charCodeAt(ab) === 36 /* $ */) continue; // RFC 2109 attribute: goes with its cookie
    const hasValue = eq !== next;
    if (hasValue && (ae !== eq || vb > eq + 1)) {
      // "NAME = VALUE" -> "NAME=VALUE"
      h = h.slice(0, ae) + '=' + h.slice(vb);
      const delta = ae + 1 - vb;
      eq = ae;
      vb = ae + 1;
      ve += delta;
      next += delta;
      end += delta;
    }
    if (!hasValue || ae - ab !== name.length || !h.startsWith(name, ab)) {
      // not ours: the header stays, and a pending removal of ours before this cookie is done now
      preserve = true;
      if (delFrom >= 0) {
        const delta = removeRange(h, end, delFrom, prev);
        h = removed;
        next += delta;
        end += delta;
        delFrom = -1;
      }
      continue;
    }
    const delim = readServerValue(h, vb, ve, cfg, match, nowSec, txn);
    if (prefixMode && delim < ve) {
      // NAME=SRV~APP -> NAME=APP: the application sees its own cookie only.
      h = h.slice(0, vb) + h.slice(delim + 1);
      const delta = vb - (delim + 1);
      next += delta;
      end += delta;
      delFrom = -1;
      preserve = true;
    } else if (strip && delFrom < 0) {
      delFrom = prev;
    }
  }
  if (delFrom >= 0) end = preserve ? delFrom : 0;
  txn.forward = end === h.length ? h : h.slice(0, end);
}

/**
 * One occurrence of the persistence cookie, value h[vb..ve): decodes its dates, checks
 * maxidle/maxlife and picks the server it names into `txn`. Returns where the server's part of
 * the value ends (the '~' in prefix mode, the '|' before the dates, or ve).
 */
function readServerValue(h: string, vb: number, ve: number, cfg: CookieConfig, match: CookieMatcher, nowSec: number, txn: CookieTxn): number {
  let delim = ve;
  let last = 0;
  let first = 0;
  if (cfg.mode === 'prefix') {
    const t = h.indexOf(PREFIX_DELIM, vb);
    delim = t >= 0 && t < ve ? t : ve;
  } else {
    const bar = h.indexOf(DATE_DELIM, vb);
    if (bar >= 0 && bar < ve) {
      delim = bar;
      if (ve - (bar + 1) >= 5) {
        const d = b64tos30(h, bar + 1);
        if (d > 0) last = d << 2;
      }
      const bar2 = h.indexOf(DATE_DELIM, bar + 1);
      if (bar2 >= 0 && bar2 < ve && ve - bar2 > 5) {
        const d = b64tos30(h, bar2 + 1);
        if (d > 0) first = d << 2;
      }
    }
  }
  const maxidle = Math.floor(cfg.maxidle / 1000);
  const maxlife = Math.floor(cfg.maxlife / 1000);
  let usable = txn.server < 0; // once a server is assigned, later occurrences are ignored
  if (usable) {
    if (first && maxlife && (nowSec - first > maxlife || first - nowSec > FUTURE_SLACK_S)) {
      txn.status = CK_OLD;
      usable = false;
    } else if (last && maxidle && (nowSec - last > maxidle || last - nowSec > FUTURE_SLACK_S)) {
      txn.status = CK_EXPIRED;
      usable = false;
    } else {
      txn.lastSeen = last;
      txn.firstSeen = first;
    }
  }
  if (usable && delim > vb) {
    const values = match.values;
    const vlen = delim - vb;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v.length !== vlen || !h.startsWith(v, vb)) continue;
      if (match.usable(i)) {
        txn.server = i;
        txn.status = CK_VALID;
        break;
      }
      if (match.persist) {
        txn.server = i;
        txn.status = CK_DOWN;
        break;
      }
      txn.status = CK_DOWN; // keep looking: another server may share the value
    }
  }
  if (usable && txn.server < 0 && txn.status === CK_NONE) txn.status = CK_INVALID;
  if (txn.server < 0 && !usable && txn.status === CK_NONE) txn.status = CK_INVALID;
  return delim;
}

/** Any space or tab next to an '=' (HAProxy removes them from NAME = VALUE cookies). */
const SPACE_AROUND_EQUALS = /[ \t]=|=[ \t]/;
function hasSpaceAroundEquals(s: string): boolean {
  return SPACE_AROUND_EQUALS.test(s);
}

/** End of a cookie value from `at`: the first ';' or ',' outside a quoted string (with \ escapes). */
function cookieValueEnd(s: string, at: number, end: number): number {
  let quoted = false;
  for (let i = at; i < end; i++) {
    const c = s.charCodeAt(i);
    if (quoted) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 59 || c === 44) return i;
  }
  return end;
}

/** removeRange's new header (module scratch: the function returns the length change). */
let removed = '';

/**
 * Removes our cookies from `from` (the delimiter before them, or 0) up to `to` (the delimiter
 * before the cookie that stays), as HAProxy's http_del_hdr_value does: at the start, with the
 * delimiter after them and the spaces that follow; elsewhere, with the spaces before `from`,
 * keeping the delimiter at `to` and one space. Sets `removed`; returns how far positions after
 * `to` move.
 */
function removeRange(s: string, end: number, from: number, to: number): number {
  let keep = '';
  let p = from;
  let n = to;
  if (p === 0) {
    if (n < end) n++;
    while (n < end && isSpace(s.charCodeAt(n))) n++;
  } else {
    while (p > 0 && isSpace(s.charCodeAt(p - 1))) p--;
    if (n < end) {
      keep = n - p > 1 ? s[n] + ' ' : s[n];
      n++;
      while (n < end && isSpace(s.charCodeAt(n))) n++;
    }
  }
  removed = s.slice(0, p) + keep + s.slice(n);
  return p + keep.length - n;
}

/**
 * Whether to add the persistence Set-Cookie to this response (insert mode), HAProxy's rule:
 * not when the server set the cookie itself and `preserve` is on; otherwise when the request
 * was not sent by its cookie to this very server (`direct` false: no/invalid/expired cookie,
 * down server, or redispatched), or the cookie's dates need refreshing or adding/removing;
 * and with `postonly`, only on POST. `direct`: the server was chosen because of the cookie.
 */
export function shouldInsertCookie(cfg: CookieConfig, txn: CookieTxn, direct: boolean, isPost: boolean, nowSec: number): boolean {
  if (cfg.mode !== 'insert') return false;
  if (txn.serverSetCookie && cfg.preserve) return false;
  if (cfg.postonly && !isPost) return false;
  if (!direct) return true;
  const last = txn.lastSeen;
  if ((cfg.maxidle > 0 || last !== 0) && (last === 0 || last - nowSec < 0)) return true; // refresh last-seen
  if (cfg.maxlife > 0 && txn.firstSeen === 0) return true; // stamp first-seen
  if (cfg.maxlife === 0 && txn.firstSeen !== 0) return true; // drop a first-seen no longer wanted
  return false;
}

/**
 * The Set-Cookie value inserted for the chosen server: `NAME=VALUE; path=/` (plus `|last|first`
 * dates after VALUE with maxidle/maxlife, `; domain=D`, `; HttpOnly`, `; Secure`). A server without
 * a cookie value gets a removal (expired, empty) so the client stops sticking to it.
 * `firstSeen`: the request's first-seen date (txn.firstSeen), 0 for a new one.
 */
export function insertCookieHeader(cfg: CookieConfig, serverCookie: string | null, nowSec: number, firstSeen: number): string {
  let s: string;
  if (serverCookie === null) {
    s = `${cfg.name}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/`;
  } else {
    s = cfg.name + '=' + serverCookie;
    if (cfg.maxidle > 0 || cfg.maxlife > 0) {
      s += DATE_DELIM + encodeDate(nowSec);
      if (cfg.maxlife > 0) s += DATE_DELIM + (firstSeen ? s30tob64(firstSeen >>> 2) : encodeDate(nowSec));
    }
    s += '; path=/';
  }
  if (cfg.domain !== null) s += '; domain=' + cfg.domain;
  if (cfg.httponly) s += '; HttpOnly';
  if (cfg.secure) s += '; Secure';
  return s;
}

/**
 * Set-Cookie values per server, precomputed once per backend when they do not depend on the time
 * (no maxidle/maxlife); null when they must be built per response with insertCookieHeader.
 */
export function staticInsertCookies(cfg: CookieConfig, serverCookies: readonly (string | null)[]): string[] | null {
  if (cfg.mode !== 'insert' || cfg.maxidle > 0 || cfg.maxlife > 0) return null;
  return serverCookies.map((v) => insertCookieHeader(cfg, v, 0, 0));
}

/**
 * Processes one Set-Cookie header of the server's response. Returns it unchanged (the same
 * string) when it is not the persistence cookie, null to drop it, or the rewritten header:
 * - `preserve`: never touched (and remembered in txn.serverSetCookie, so no insertion follows);
 * - insert mode, or `indirect` on a request sent by its cookie: dropped (gatehouse inserts its own);
 * - rewrite: the value replaced by the server's cookie value;
 * - prefix: the value prefixed with `SERVERVALUE~`.
 * `serverCookie` is the chosen server's value (null if it has none); `direct` as for shouldInsertCookie.
 */
export function rewriteSetCookie(
  setCookie: string,
  cfg: CookieConfig,
  serverCookie: string | null,
  direct: boolean,
  txn: CookieTxn,
): string | null {
  const name = cfg.name;
  let a = 0;
  const len = setCookie.length;
  while (a < len && isSpace(setCookie.charCodeAt(a))) a++;
  if (!setCookie.startsWith(name, a)) return setCookie;
  let e = a + name.length;
  while (e < len && isSpace(setCookie.charCodeAt(e))) e++;
  if (e >= len || setCookie.charCodeAt(e) !== 61 /* = */) return setCookie;
  txn.serverSetCookie = true;
  if (cfg.preserve) return setCookie;
  if (cfg.mode === 'insert' || (direct && cfg.indirect)) return null;
  if (serverCookie === null) return setCookie;
  let vb = e + 1;
  while (vb < len && isSpace(setCookie.charCodeAt(vb))) vb++;
  let ve = setCookie.indexOf(';', vb);
  if (ve < 0) ve = len;
  while (ve > vb && isSpace(setCookie.charCodeAt(ve - 1))) ve--;
  if (cfg.mode === 'rewrite') return name + '=' + serverCookie + setCookie.slice(ve);
  return name + '=' + serverCookie + PREFIX_DELIM + setCookie.slice(vb); // prefix
}

/** Methods whose responses a shared cache may store (HAProxy: GET, HEAD, OPTIONS, TRACE). */
function cacheableMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE';
}

/** Statuses cacheable by default (RFC 7231 6.1), as HAProxy lists them. */
function cacheableStatus(status: number): boolean {
  switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301:
    case 404: case 405: case 410: case 414: case 501:
      return true;
    default:
      return false;
  }
}

/**
 * HAProxy's cacheability verdict for a response, which `nocache` consults: cacheable when the
 * method and status allow it, unless Cache-Control says private/no-cache/no-store/max-age=0/
 * s-maxage=0 or Pragma says no-cache; `public` makes it cacheable again. As HAProxy 2.6 does
 * (checked against it in test/differential.test.ts), a response with neither explicit freshness
 * (Expires, max-age, s-maxage) nor a validator (ETag, Last-Modified) is not cacheable.
 * `cacheControl`: all Cache-Control values joined by ", " (undefined when absent);
 * `expiresOrValidator`: the response has an Expires, ETag or Last-Modified header.
 */
export function isResponseCacheable(
  method: string,
  status: number,
  cacheControl: string | undefined,
  pragma: string | undefined,
  expiresOrValidator: boolean,
): boolean {
  if (status < 200) return false;
  let cacheable = cacheableMethod(method) && cacheableStatus(status);
  if (pragma !== undefined && /^\s*no-cache/i.test(pragma)) return false;
  if (cacheControl === undefined || cacheControl.length === 0) return cacheable && expiresOrValidator;
  let fresh = expiresOrValidator;
  const len = cacheControl.length;
  let start = 0;
  for (let i = 0; i <= len; i++) {
    if (i < len && cacheControl.charCodeAt(i) !== 44 /* , */) continue;
    const d = cacheControl.slice(start, i).trim().toLowerCase();
    start = i + 1;
    if (d === 'private' || d === 'no-cache' || d === 'no-store') return false;
    if (d === 'max-age=0' || d === 's-maxage=0') cacheable = false;
    else if (d === 'public') cacheable = true;
    if (d.startsWith('max-age=') || d.startsWith('s-maxage=')) fresh = true;
  }
  return cacheable && fresh;
}

/**
 * `nocache`: when a cookie was inserted into a response a shared cache could store, HAProxy adds
 * `Cache-control: private` so no cache hands one client's cookie to everyone. Returns the header
 * value to add, or null.
 */
export function nocacheHeader(cfg: CookieConfig, inserted: boolean, cacheable: boolean): string | null {
  return cfg.nocache && inserted && cacheable ? 'private' : null;
}
