// How one answer of a node-engine connection is framed on the wire: the head text (written with
// the first body bytes, so head and body leave in one corked write), then the body as
// content-length, chunked, or close-delimited, as the answer's head and the request allow.
// The connection (connection.ts) decides when an answer may start and what follows it.

import type { ClientIo } from './client-io';

/**
 * Body bytes (with the held head and chunk framing) that fit one of these go out as one
 * buffer written straight to the TCP handle: for small answers the Writable's cork, writev
 * and callbacks cost more than the copy (native-bench/ab-cpu.mjs), and for large ones a fresh
 * copy per chunk cost more in allocation and GC than the write (c64k profile: 30%). The
 * buffers are reused: back in OUT_POOL as soon as libuv is done with them (writeLent).
 */
const OUT_BUF_SIZE = 96 * 1024;
/** buffers kept for reuse per worker (more exist only while writes are pending) */
const OUT_POOL_MAX = 8;
const OUT_POOL: Buffer[] = [];

function takeOut(): Buffer {
  return OUT_POOL.pop() ?? Buffer.allocUnsafeSlow(OUT_BUF_SIZE);
}

function giveOutBack(b: Buffer): void {
  if (OUT_POOL.length < OUT_POOL_MAX) OUT_POOL.push(b);
}

const CR = 13;
const LF = 10;

export const MODE_NONE = 0; // no body (HEAD, 204, 304, 1xx)
export const MODE_LENGTH = 1;
export const MODE_CHUNKED = 2;
export const MODE_CLOSE = 3; // close-delimited (HTTP/1.0 client, unknown length)

/** One per connection, reset for each answer (nothing allocated per request but the head text). */
export class AnswerFramer {
  mode = MODE_NONE;
  private bodyLength = -1;
  private sent = 0;
  private headText: string | null = null;

  constructor(private readonly io: ClientIo) {}

  reset(): void {
    this.mode = MODE_NONE;
    this.bodyLength = -1;
    this.sent = 0;
    this.headText = null;
  }

  /**
   * Frames the head (held until the first body bytes or the end). `close`: the connection
   * closes after this answer for a reason of the connection's; returns whether it closes.
   */
  head(status: number, reason: string, headers: string[], bodyLength: number, close: boolean, v10: boolean, headMethod: boolean): boolean {
    let s = statusLine(status, reason) + headerLines(headers);
    if (headMethod || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.mode = MODE_NONE;
      if (bodyLength >= 0 && headMethod && !hasField(headers, 'content-length')) s += 'content-length: ' + bodyLength + '\r\n';
    } else if (bodyLength >= 0) {
      this.mode = MODE_LENGTH;
      this.bodyLength = bodyLength;
      if (!hasField(headers, 'content-length')) s += 'content-length: ' + bodyLength + '\r\n';
    } else if (!v10) {
      this.mode = MODE_CHUNKED;
      s += 'transfer-encoding: chunked\r\n';
    } else {
      this.mode = MODE_CLOSE;
      close = true;
    }
    if (status === 101) close = false;
    if (close) s += 'connection: close\r\n';
    else if (v10) s += 'connection: keep-alive\r\n';
    this.headText = s + '\r\n';
    return close;
  }

  /**
   * Writes body bytes (with the held head); false when nothing of the body was due (head only).
   * `chunk` may be a view of a buffer its owner reuses: what the socket keeps is a copy.
   */
  write(chunk: Buffer): boolean {
    if (this.mode === MODE_NONE || chunk.length === 0) {
      this.flushHead();
      return false;
    }
    if (this.mode === MODE_LENGTH) {
      const room = this.bodyLength - this.sent;
      if (room <= 0) {
        this.flushHead();
        return false;
      }
      if (chunk.length > room) chunk = chunk.subarray(0, room);
    }
    this.sent += chunk.length;
    const io = this.io;
    const head = this.headText;
    const chunked = this.mode === MODE_CHUNKED;
    const sizeLine = chunked ? chunk.length.toString(16) + '\r\n' : '';
    // the head text is latin1 (one char per byte), so its length is its byte length
    if ((head === null ? 0 : head.length) + sizeLine.length + chunk.length + 2 <= OUT_BUF_SIZE && io.canWriteDirect()) {
      const out = takeOut();
      let o = 0;
      if (head !== null) {
        this.headText = null;
        o = out.write(head, 0, 'latin1');
      }
      if (chunked) o += out.write(sizeLine, o, 'latin1');
      o += chunk.copy(out, o);
      if (chunked) {
        out[o++] = CR;
        out[o++] = LF;
      }
      io.writeLent(out.subarray(0, o), out, giveOutBack);
      return true;
    }
    // what cannot be sent at once is kept: a copy of the caller's view
    chunk = Buffer.from(chunk);
    io.cork();
    if (this.headText !== null) {
      io.write(this.headText);
      this.headText = null;
    }
    if (chunked) {
      io.write(sizeLine);
      io.write(chunk);
      io.write('\r\n');
    } else {
      io.write(chunk);
    }
    io.uncork();
    return true;
  }

  flushHead(): void {
    if (this.headText !== null) {
      this.io.write(this.headText);
      this.headText = null;
    }
  }

  /** The held head, the last chunk and trailers; false when a content-length answer came up short. */
  finish(trailers: string[] | undefined): boolean {
    let tail = this.headText ?? '';
    this.headText = null;
    if (this.mode === MODE_CHUNKED) tail += '0\r\n' + (trailers !== undefined ? headerLines(trailers) : '') + '\r\n';
    if (tail.length > 0) this.io.write(tail);
    return this.mode !== MODE_LENGTH || this.sent >= this.bodyLength;
  }
}

/** An interim (1xx) answer's text. */
export function interimText(status: number, reason: string, headers: string[]): string {
  return statusLine(status, reason) + headerLines(headers) + '\r\n';
}

function statusLine(status: number, reason: string): string {
  return 'HTTP/1.1 ' + status + ' ' + reason + '\r\n';
}

function headerLines(h: string[]): string {
  let s = '';
  for (let i = 0; i + 1 < h.length; i += 2) s += h[i] + ': ' + h[i + 1] + '\r\n';
  return s;
}

function hasField(h: string[], lower: string): boolean {
  const n = lower.length;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i];
    if (name.length !== n) continue;
    let k = 0;
    for (; k < n; k++) {
      let c = name.charCodeAt(k);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== lower.charCodeAt(k)) break;
    }
    if (k === n) return true;
  }
  return false;
}
