// Access-log lines written straight into a byte buffer (the worker's file batches). The output
// is byte for byte what format.ts builds as strings and a stream would UTF-8 encode: the string
// functions stay the reference (and serve the targets the primary writes); a test compares the
// two on random records. Nothing here allocates per line: no strings are concatenated, numbers
// are written digit by digit, escaping and UTF-8 encoding happen while copying.
import { logDate, type LogGauges, type RequestRecord } from './format';

/**
 * Bytes a line may need beyond its names (they are pre-encoded by the caller): numbers, the date,
 * separators, and the request's strings at the worst case of 3 bytes per UTF-16 unit ('#XX' or a
 * 3-byte UTF-8 sequence; a surrogate pair is 2 units for 4 bytes).
 */
export function maxLineBytes(r: RequestRecord): number {
  return 512 + 3 * (r.clientIp.length + r.method.length + r.uri.length + r.httpVersion.length + r.termination.length);
}

/** Copy a string as UTF-8, unescaped (names, addresses). Returns the new position. */
export function writeUtf8(b: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      b[p++] = c;
      continue;
    }
    p = utf8Char(b, p, s, i, c);
    if (c >= 0xd800 && c <= 0xdbff && isLow(s, i + 1)) i++;
  }
  return p;
}

function isLow(s: string, i: number): boolean {
  if (i >= s.length) return false;
  const d = s.charCodeAt(i);
  return d >= 0xdc00 && d <= 0xdfff;
}

/** One non-ASCII UTF-16 unit at s[i] (with its low surrogate when it is a pair), as Buffer does it. */
function utf8Char(b: Uint8Array, p: number, s: string, i: number, c: number): number {
  if (c < 0x800) {
    b[p++] = 0xc0 | (c >> 6);
    b[p++] = 0x80 | (c & 0x3f);
    return p;
  }
  if (c >= 0xd800 && c <= 0xdfff) {
    if (c <= 0xdbff && isLow(s, i + 1)) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00);
      b[p++] = 0xf0 | (cp >> 18);
      b[p++] = 0x80 | ((cp >> 12) & 0x3f);
      b[p++] = 0x80 | ((cp >> 6) & 0x3f);
      b[p++] = 0x80 | (cp & 0x3f);
      return p;
    }
    // A lone surrogate: U+FFFD, as Buffer.from(string) encodes it.
    b[p++] = 0xef;
    b[p++] = 0xbf;
    b[p++] = 0xbd;
    return p;
  }
  b[p++] = 0xe0 | (c >> 12);
  b[p++] = 0x80 | ((c >> 6) & 0x3f);
  b[p++] = 0x80 | (c & 0x3f);
  return p;
}

function hex(n: number): number {
  return n < 10 ? 48 + n : 55 + n;
}

/** format.ts escapeField, then UTF-8: controls, DEL and '"' become #XX. */
function writeEscaped(b: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      if (c !== 0x22) {
        b[p++] = c;
        continue;
      }
    } else if (c >= 0x80) {
      p = utf8Char(b, p, s, i, c);
      if (c >= 0xd800 && c <= 0xdbff && isLow(s, i + 1)) i++;
      continue;
    }
    b[p++] = 35; // '#'
    b[p++] = hex(c >> 4);
    b[p++] = hex(c & 15);
  }
  return p;
}

/** A number as JavaScript prints it ('' + n): integers digit by digit, anything else via String. */
export function writeNumber(b: Uint8Array, p: number, n: number): number {
  // int32 only (so the divisions below stay integer ones); -2^31 has no int32 opposite.
  if ((n | 0) !== n || n === -2147483648) return writeUtf8(b, p, '' + n);
  if (n < 0) {
    b[p++] = 45; // '-'
    n = -n;
  }
  if (n < 10) {
    b[p++] = 48 + n;
    return p;
  }
  let digits = 2;
  for (let t = 100; t <= n && digits < 10; t *= 10) digits++;
  let e = p + digits;
  const end = e;
  while (n >= 10) {
    const q = (n / 10) | 0;
    b[--e] = 48 + (n - q * 10);
    n = q;
  }
  b[--e] = 48 + n;
  return end;
}

/** Timers: whole ms, -1 for a step never reached (format.ts ms()). */
function writeMs(b: Uint8Array, p: number, t: number): number {
  return writeNumber(b, p, t < 0 ? -1 : Math.round(t));
}

let dateMs = -1;
let dateBytes = new Uint8Array(0);

/** %tr, encoded once per millisecond */
function writeDate(b: Uint8Array, p: number, ms: number): number {
  if (ms !== dateMs) {
    const text = logDate(ms);
    if (text.length !== dateBytes.length) dateBytes = new Uint8Array(text.length); // ASCII
    for (let i = 0; i < text.length; i++) dateBytes[i] = text.charCodeAt(i);
    dateMs = ms;
  }
  b.set(dateBytes, p);
  return p + dateBytes.length;
}

/** Pre-encoded names of one line: the caller keeps them per frontend/backend/server. */
export interface NameBytes {
  frontend: Uint8Array;
  backend: Uint8Array;
  server: Uint8Array;
}

function copy(b: Uint8Array, p: number, src: Uint8Array): number {
  for (let i = 0; i < src.length; i++) b[p++] = src[i];
  return p;
}

/** "%ci:%cp [%tr] %ft %b/%s " (common head of both formats) */
function writeHead(b: Uint8Array, p: number, r: RequestRecord, n: NameBytes): number {
  p = writeUtf8(b, p, r.clientIp);
  b[p++] = 58; // ':'
  p = writeNumber(b, p, r.clientPort);
  b[p++] = 32;
  b[p++] = 91; // '['
  p = writeDate(b, p, r.acceptMs);
  b[p++] = 93; // ']'
  b[p++] = 32;
  p = copy(b, p, n.frontend);
  b[p++] = 32;
  p = copy(b, p, n.backend);
  b[p++] = 47; // '/'
  p = copy(b, p, n.server);
  b[p++] = 32;
  return p;
}

/** " %ac/%fc/%bc/%sc/%rc %sq/%bq" */
function writeGauges(b: Uint8Array, p: number, r: RequestRecord, g: LogGauges): number {
  b[p++] = 32;
  p = writeNumber(b, p, g.actconn);
  b[p++] = 47;
  p = writeNumber(b, p, g.feconn);
  b[p++] = 47;
  p = writeNumber(b, p, g.beconn);
  b[p++] = 47;
  p = writeNumber(b, p, g.srvConn);
  b[p++] = 47;
  p = writeNumber(b, p, r.retries);
  b[p++] = 32;
  p = writeNumber(b, p, g.srvQueue);
  b[p++] = 47;
  return writeNumber(b, p, g.backendQueue);
}

/** formatHttplog as bytes (no trailing newline). `b` must have maxLineBytes(r) + names free. */
export function writeHttplog(b: Uint8Array, p: number, r: RequestRecord, n: NameBytes, g: LogGauges): number {
  p = writeHead(b, p, r, n);
  p = writeMs(b, p, r.tq);
  b[p++] = 47;
  p = writeMs(b, p, r.tw);
  b[p++] = 47;
  p = writeMs(b, p, r.tc);
  b[p++] = 47;
  p = writeMs(b, p, r.tr);
  b[p++] = 47;
  p = writeMs(b, p, r.ta);
  b[p++] = 32;
  p = writeNumber(b, p, r.status);
  b[p++] = 32;
  p = writeNumber(b, p, r.bytesOut);
  // ' - - ' then %tsc: the termination state padded with '-' to 4 characters
  b[p++] = 32;
  b[p++] = 45;
  b[p++] = 32;
  b[p++] = 45;
  b[p++] = 32;
  const t = r.termination;
  p = writeUtf8(b, p, t);
  for (let i = t.length; i < 4; i++) b[p++] = 45;
  p = writeGauges(b, p, r, g);
  b[p++] = 32;
  b[p++] = 34; // '"'
  if (r.method === '') {
    // <BADREQ>
    b[p++] = 60; b[p++] = 66; b[p++] = 65; b[p++] = 68; b[p++] = 82; b[p++] = 69; b[p++] = 81; b[p++] = 62;
  } else {
    p = writeEscaped(b, p, r.method);
    b[p++] = 32;
    p = writeEscaped(b, p, r.uri);
    b[p++] = 32;
    const v = r.httpVersion;
    if (!v.startsWith('HTTP/')) {
      b[p++] = 72; b[p++] = 84; b[p++] = 84; b[p++] = 80; b[p++] = 47; // 'HTTP/'
    }
    p = writeEscaped(b, p, v);
  }
  b[p++] = 34;
  return p;
}

/** formatDefault as bytes (no trailing newline). */
export function writeDefault(b: Uint8Array, p: number, r: RequestRecord, n: NameBytes, g: LogGauges): number {
  p = writeHead(b, p, r, n);
  p = writeMs(b, p, r.tw);
  b[p++] = 47;
  p = writeMs(b, p, r.tc);
  b[p++] = 47;
  p = writeMs(b, p, r.ta);
  b[p++] = 32;
  p = writeNumber(b, p, r.bytesOut);
  b[p++] = 32;
  const t = r.termination;
  if (t.length >= 2) {
    // t.slice(0, 2): two UTF-16 units (a pair split in the middle encodes as a lone surrogate)
    p = writeUtf8(b, p, t.length === 2 ? t : t.slice(0, 2));
  } else {
    b[p++] = 45;
    b[p++] = 45;
  }
  return writeGauges(b, p, r, g);
}

/** Names as the line shows them, pre-encoded. */
export function nameBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}
