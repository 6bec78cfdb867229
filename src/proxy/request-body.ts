// A request body on its way to the server: written as it arrives (re-chunked when the client
// sent it chunked), buffered while the connection is being made, and kept (the first
// REPLAY_LIMIT bytes) so the request can be sent again after a failed or stale connection.

import type * as net from 'node:net';
import { writesPending } from '../shared/node-internals';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE } from './plan';

/** Request body bytes kept so a request can be re-sent after a failed or stale connection. */
const REPLAY_LIMIT = 64 * 1024;
/** Request body bytes buffered while connecting before the client is paused. */
const PENDING_LIMIT = 256 * 1024;

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

// The engines lend each body chunk only for the call (uWS's ArrayBuffer, the node engine's read),
// so it is copied. A Buffer per chunk of 4 KB or more is an ArrayBuffer of its own: with 16 KB
// POSTs (native-bench d) V8's major GC took ~20% of the worker's samples. Such chunks of the
// first REPLAY_LIMIT bytes go into 16 KB blocks (HAProxy's bufsize) reused from request to
// request instead; smaller ones use Node's shared slab, larger ones and the rest a copy each.
const BLOCK_SIZE = 16 * 1024;
const SMALL_CHUNK = 4 * 1024;
const BLOCKS: Buffer[] = [];
/** blocks kept for reuse per worker (4 MB); more exist only while that many requests are in flight */
const BLOCKS_MAX = 256;

export class RequestBody {
  kind = BODY_NONE;
  /** the client sent all of it */
  done = true;
  /** the request head waits for the first body bytes, to go out in the same write */
  headHeld = false;
  /** chunks that came before the connection was ready */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** chunks written so far, while they fit REPLAY_LIMIT */
  private readonly replay: Buffer[] = [];
  /** body bytes written so far */
  private sent = 0;
  /** the chunked body's end: the last chunk and the client's trailer fields, if any */
  private lastChunk = LAST_CHUNK;
  /** this request's blocks (the last one is being filled), the bytes used in it, bytes copied */
  private readonly blocks: Buffer[] = [];
  private blockUsed = 0;
  private blockBytes = 0;
  /** a write that may still read a block was left queued: the blocks must not be reused */
  private blocksLent = false;

  /** A copy of `src` (lent by the engine for this call only): in a block when it fits one. */
  copy(src: Uint8Array): Buffer {
    const n = src.byteLength;
    if (n < SMALL_CHUNK || n > BLOCK_SIZE || this.blockBytes + n > REPLAY_LIMIT) return Buffer.from(src);
    const bs = this.blocks;
    let b = bs.length > 0 ? bs[bs.length - 1] : null;
    if (b === null || this.blockUsed + n > BLOCK_SIZE) {
      b = BLOCKS.pop() ?? Buffer.allocUnsafeSlow(BLOCK_SIZE);
      bs.push(b);
      this.blockUsed = 0;
    }
    const at = this.blockUsed;
    b.set(src, at);
    this.blockUsed = at + n;
    this.blockBytes += n;
    return b.subarray(at, at + n);
  }

  /** After writes to `sock`: one still queued may read a block later. */
  private check(sock: net.Socket): void {
    if (this.blocks.length > 0 && !this.blocksLent && writesPending(sock)) this.blocksLent = true;
  }

  begin(kind: number): void {
    this.kind = kind;
    this.done = kind === BODY_NONE;
  }

  /** Everything written so far is kept: the request can be sent again. */
  get replayable(): boolean {
    return this.sent <= REPLAY_LIMIT;
  }

  /**
   * The connection is ready and no body byte came yet: the head should wait for the first one,
   * which the engine hands over right after the request handler when it came in the same read
   * (a small POST): one write, one segment, one wake-up of the server instead of two. Not for
   * chunked uploads: a streaming client may wait for the server's first bytes before sending.
   */
  holdHead(): boolean {
    if (this.kind !== BODY_LENGTH || this.sent > 0 || this.pending.length > 0 || this.done) return false;
    this.headHeld = true;
    return true;
  }

  /** Write `head` and all the body known so far (a retry re-sends the kept chunks first). */
  sendWithHead(sock: net.Socket, head: string | Buffer): boolean {
    this.headHeld = false;
    sock.cork();
    sock.write(head);
    let ok = true;
    if (this.sent > 0) {
      for (let i = 0; i < this.replay.length; i++) ok = this.writeBody(sock, this.replay[i]);
    }
    const pend = this.pending;
    for (let i = 0; i < pend.length; i++) ok = this.writeChunk(sock, pend[i]);
    pend.length = 0;
    this.pendingBytes = 0;
    if (this.done && this.kind === BODY_CHUNKED) ok = sock.write(this.lastChunk);
    sock.uncork();
    this.check(sock);
    return ok;
  }

  /** A chunk from the client (null: none, only `isLast`) while the request is on the wire. */
  forward(sock: net.Socket, head: string | Buffer, chunk: Buffer | null, isLast: boolean): boolean {
    const held = this.headHeld;
    if (held) {
      this.headHeld = false;
      sock.cork();
      sock.write(head);
    }
    let ok = true;
    if (chunk !== null) ok = this.writeChunk(sock, chunk);
    if (isLast && this.kind === BODY_CHUNKED) ok = sock.write(this.lastChunk);
    if (held) sock.uncork();
    this.check(sock);
    return ok;
  }

  /** Trailer fields the client sent after its last chunk ([name, value, ...]): passed on. */
  setTrailers(fields: string[]): void {
    let t = '0\r\n';
    for (let i = 0; i + 1 < fields.length; i += 2) t += fields[i] + ': ' + fields[i + 1] + CRLF;
    this.lastChunk = t + CRLF;
  }

  /** A chunk from the client before the connection is ready; true: enough is waiting, pause it. */
  hold(chunk: Buffer): boolean {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    return this.pendingBytes > PENDING_LIMIT;
  }

  /** Write a body chunk to the server and remember it for replay while small enough. */
  private writeChunk(sock: net.Socket, chunk: Buffer): boolean {
    this.sent += chunk.length;
    if (this.sent <= REPLAY_LIMIT) this.replay.push(chunk);
    else if (this.replay.length > 0) this.replay.length = 0;
    return this.writeBody(sock, chunk);
  }

  private writeBody(sock: net.Socket, chunk: Buffer): boolean {
    if (this.kind === BODY_CHUNKED) {
      if (chunk.length === 0) return true;
      sock.write(chunk.length.toString(16) + CRLF);
      sock.write(chunk);
      return sock.write(CRLF);
    }
    return sock.write(chunk);
  }

  reset(): void {
    const bs = this.blocks;
    if (bs.length > 0) {
      // a write libuv still holds would send another request's bytes: such blocks are dropped
      if (!this.blocksLent) for (let i = 0; i < bs.length && BLOCKS.length < BLOCKS_MAX; i++) BLOCKS.push(bs[i]);
      bs.length = 0;
    }
    this.blockUsed = 0;
    this.blockBytes = 0;
    this.blocksLent = false;
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.replay.length = 0;
    this.sent = 0;
    this.headHeld = false;
    this.lastChunk = LAST_CHUNK;
  }
}
