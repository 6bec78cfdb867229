// The server's answer to a proxied WebSocket upgrade: the RFC 6455 4.1 checks of a 101 (the
// head itself is parsed by the shared ResponseParser in upgrade mode).

import { createHash } from 'node:crypto';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
}

/** What the 101 checks read of the server's answer (parsed by ResponseParser in upgrade mode). */
export interface SwitchingHead {
  /** HTTP minor version (0 or 1) */
  minor: number;
  /** flat [name, value, ...], names as the server sent them */
  headers: string[];
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
export function checkSwitchingProtocols(head: SwitchingHead, key: string, offered: string): string | null {
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
