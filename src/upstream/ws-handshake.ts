// The server's answer to a proxied WebSocket upgrade: a small strict parser for the response
// head (llhttp's parser is not used here because a 101 ends HTTP on the connection and the
// shared ResponseParser treats every 1xx as interim), and the RFC 6455 4.1 checks of a 101.

import { createHash } from 'node:crypto';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

export class HeadParseError extends Error {}

export interface ResponseHead {
  /** HTTP minor version (0 or 1) */
  minor: number;
  status: number;
  reason: string;
  /** flat [name, value, ...], names as the server sent them */
  headers: string[];
  /** bytes of the head, blank line included */
  length: number;
}

// the reason phrase may be empty, and some servers leave out the space before it (llhttp accepts that)
const STATUS_LINE = /^HTTP\/1\.([01]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?$/;
const NAME_OK = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE_BAD = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * Parse one response head at the start of `buf`. Returns null when the blank line has not
 * arrived yet; throws HeadParseError on anything malformed, including a head over `maxHead` bytes,
 * obsolete line folding and bare CR or LF.
 */
export function parseResponseHead(buf: Buffer, maxHead: number): ResponseHead | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > maxHead) throw new HeadParseError('response head too large');
    return null;
  }
  if (end + 4 > maxHead) throw new HeadParseError('response head too large');
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const m = STATUS_LINE.exec(lines[0]);
  if (m === null) throw new HeadParseError('invalid status line');
  const headers: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HeadParseError('invalid header line');
    const name = line.slice(0, colon);
    if (!NAME_OK.test(name)) throw new HeadParseError('invalid header name');
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (VALUE_BAD.test(value)) throw new HeadParseError('invalid header value');
    headers.push(name, value);
  }
  return { minor: Number(m[1]), status: Number(m[2]), reason: m[3] ?? '', headers, length: end + 4 };
}

/** All values of a header (case-insensitive name), joined with ', '; null when absent. */
export function headerValue(headers: string[], lowerName: string): string | null {
  let out: string | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i].length === lowerName.length && headers[i].toLowerCase() === lowerName) {
      out = out === null ? headers[i + 1] : out + ', ' + headers[i + 1];
    }
  }
  return out;
}

/** True when the comma-separated list `value` has `token` (case-insensitive). */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const raw of value.split(',')) if (raw.trim().toLowerCase() === token) return true;
  return false;
}

/**
 * Why a 101 may not be accepted (RFC 6455 4.1, client side), or null when it is valid: the
 * Upgrade/Connection tokens, Sec-WebSocket-Accept for `key`, a subprotocol among those offered,
 * and no extension (none is offered).
 */
export function checkSwitchingProtocols(head: ResponseHead, key: string, offered: string): string | null {
  if (head.minor !== 1) return '101 on HTTP/1.0';
  const h = head.headers;
  if (!hasToken(headerValue(h, 'upgrade'), 'websocket')) return 'no Upgrade: websocket';
  if (!hasToken(headerValue(h, 'connection'), 'upgrade')) return 'no Connection: upgrade';
  if (headerValue(h, 'sec-websocket-accept') !== acceptFor(key)) return 'wrong Sec-WebSocket-Accept';
  if (headerValue(h, 'sec-websocket-extensions') !== null) return 'an extension nobody offered';
  const proto = headerValue(h, 'sec-websocket-protocol');
  if (proto !== null) {
    let ok = false;
    for (const p of offered.split(',')) if (p.trim() === proto) ok = true;
    if (!ok) return 'a subprotocol nobody offered';
  }
  return null;
}
