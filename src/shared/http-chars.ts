// HTTP/1.x parsing limits and byte classes (token, field value, request target, hex digits,
// control bytes), shared by the node engine's request-head parser and chunked decoder and by
// the upstream response parser.

export interface ParserLimits {
  /** request line + header lines + the empty line, bytes (HAProxy: tune.bufsize - tune.maxrewrite) */
  maxHeadSize: number;
  /** a head with this many header fields or more is refused (HAProxy's tune.http.maxhdr, 101) */
  maxHeaders: number;
}

export const DEFAULT_LIMITS: ParserLimits = { maxHeadSize: 16384 - 1024, maxHeaders: 101 };

// Character classes, one table lookup per byte.
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;
/** field-value bytes: HTAB, SP, VCHAR, obs-text */
export const VCHAR = new Uint8Array(256);
VCHAR[9] = 1;
for (let c = 32; c < 256; c++) VCHAR[c] = c === 127 ? 0 : 1;
/** request-target bytes HAProxy 2.6 forwards: visible ASCII but '#' */
export const URICHAR = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) URICHAR[c] = c === 35 ? 0 : 1;
export const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

export const SP = 32;
export const HT = 9;
export const CR = 13;
export const LF = 10;
