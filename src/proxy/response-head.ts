// The server's response headers as they reach the client, for every answer a server gives
// (an HTTP response, a refused upgrade, a WebSocket 101): this hop's headers dropped (RFC 9110
// 7.6.1: Connection and the names it lists, Keep-Alive, Proxy-Connection, framing the engine
// writes itself), persistence cookies rewritten or inserted, and Connection: close announced
// when the client connection ends after this answer.

import { sameLower } from '../shared/ascii';
import type { BackendRuntime } from '../worker/runtime';
import type { HeaderWriter } from './client';
import { finishResponseCookies, responseSetCookie, type PersistenceTrip } from './persistence';

/**
 * Write `headers` (flat [name, value, ...]; a '' name is a header a rule deleted) to `out`.
 * Values are byte strings (one char per byte, as llhttp hands them over): see headerBytes().
 * `upgrade`: a 101 for a WebSocket, whose Sec-WebSocket-* handshake headers the engine writes.
 */
export function writeResponseHeaders(
  out: HeaderWriter,
  headers: string[],
  status: number,
  be: BackendRuntime,
  trip: PersistenceTrip,
  close: boolean,
  upgrade: boolean,
): void {
  const listed = connectionListed(headers);
  const cookies = be.cookies;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i];
    if (name.length === 0 || isHopByHopResponseHeader(name)) continue;
    if (listed !== null && listed.includes(name.toLowerCase())) continue;
    if (upgrade && name.length > 14 && sameLower(name.slice(0, 14), 'sec-websocket-')) continue;
    if (cookies !== null && sameLower(name, 'set-cookie')) {
      const v = responseSetCookie(trip, cookies, be.firstServer, headers[i + 1]);
      if (v !== null) out.writeHeader(name, headerBytes(v));
      continue;
    }
    out.writeHeader(name, headerBytes(headers[i + 1]));
  }
  if (cookies !== null) finishResponseCookies(trip, cookies, be.firstServer, out, status, headers);
  if (close) out.writeHeader('connection', 'close');
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A header value from llhttp as the engine must write it. Node's binding hands values over as
 * latin1 strings (one char per byte), while uWS writes a JS string as UTF-8: a byte >= 0x80
 * would go out as two. Such a value goes out as its bytes; an ASCII one (nearly all) as it is.
 */
export function headerBytes(v: string): string | Uint8Array {
  return NON_ASCII.test(v) ? Buffer.from(v, 'latin1') : v;
}

/**
 * The other way: a latin1 byte string as text (UTF-8 decoded), for code that mixes it with
 * text (response rules: formats, config strings, request samples). ASCII is returned as it is.
 */
export function bytesToText(v: string): string {
  return NON_ASCII.test(v) ? Buffer.from(v, 'latin1').toString('utf8') : v;
}

/** Text back to a byte string (its UTF-8 bytes, one char each), for writeResponseHeaders. */
export function textToBytes(v: string): string {
  return NON_ASCII.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
}

/** Response headers that describe this hop only; the engine writes its own framing and Date. */
export function isHopByHopResponseHeader(name: string): boolean {
  switch (name.length) {
    case 4:
      return sameLower(name, 'date');
    case 7:
      return sameLower(name, 'trailer') || sameLower(name, 'upgrade');
    case 10:
      return sameLower(name, 'connection') || sameLower(name, 'keep-alive');
    case 14:
      return sameLower(name, 'content-length');
    case 16:
      return sameLower(name, 'proxy-connection');
    case 17:
      return sameLower(name, 'transfer-encoding');
    default:
      return false;
  }
}

/** Names a response's Connection header lists as hop-by-hop (besides close and keep-alive). */
export function connectionListed(headers: string[]): string[] | null {
  let out: string[] | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    if (!sameLower(headers[i], 'connection')) continue;
    const v = headers[i + 1];
    // the common values list nothing else
    if (v.length <= 10 && (v === 'keep-alive' || v === 'close' || v === 'Keep-Alive' || v === 'Close')) continue;
    for (const raw of v.split(',')) {
      const t = raw.trim().toLowerCase();
      if (t !== '' && t !== 'close' && t !== 'keep-alive') (out ??= []).push(t);
    }
  }
  return out;
}
