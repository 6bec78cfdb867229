// RFC 6455 framing for the server side of a proxied WebSocket: gatehouse is the server's client,
// so the frames it sends are masked (encodeFrame, encodeClose) and the frames it receives must not
// be (WsDecoder). The decoder is strict and incremental: it takes socket reads as they come,
// reassembles fragmented messages up to a size limit, and reports anything RFC 6455 forbids as a
// WsFrameError carrying the close code to answer with. No extension is ever negotiated (the proxy
// drops Sec-WebSocket-Extensions), so every RSV bit must be 0.

import { randomFillSync } from 'node:crypto';
import { isUtf8 } from 'node:buffer';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes (RFC 6455 7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL = 1011;

/** A frame the decoder refuses; `closeCode` is what to tell both peers. */
export class WsFrameError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A code that may appear in a close frame on the wire (1005, 1006, 1015 and unassigned ones may not). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

// ---- encoding (client to server: masked) ----

/** Random masking keys, drawn from the CSPRNG in batches of 256 (RFC 6455 10.3: unpredictable). */
const maskPool = Buffer.allocUnsafe(1024);
let maskAt = maskPool.length;

function nextMask(out: Buffer, at: number): void {
  if (maskAt === maskPool.length) {
    randomFillSync(maskPool);
    maskAt = 0;
  }
  out[at] = maskPool[maskAt];
  out[at + 1] = maskPool[maskAt + 1];
  out[at + 2] = maskPool[maskAt + 2];
  out[at + 3] = maskPool[maskAt + 3];
  maskAt += 4;
}

/**
 * One masked frame: FIN set, `opcode`, `payload` copied in masked. The buffer is laid out so the
 * payload starts on a 4-byte boundary of its own ArrayBuffer, so masking runs 4 bytes at a time.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const n = payload.length;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const headLen = 2 + lenBytes + 4;
  const pad = (4 - (headLen & 3)) & 3;
  const whole = Buffer.allocUnsafeSlow(pad + headLen + n);
  const out = whole.subarray(pad);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (lenBytes === 0) {
    out[1] = 0x80 | n;
  } else if (lenBytes === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  nextMask(out, headLen - 4);
  const words = n >>> 2;
  let i = 0;
  if (words > 0 && (payload.byteOffset & 3) === 0) {
    // whole.byteOffset is 0 (allocUnsafeSlow), so pad + headLen is 4-aligned in the ArrayBuffer
    const mask32 = new Uint32Array(whole.buffer, pad + headLen - 4, 1)[0];
    const dst = new Uint32Array(whole.buffer, pad + headLen, words);
    const src = new Uint32Array(payload.buffer, payload.byteOffset, words);
    for (let w = 0; w < words; w++) dst[w] = src[w] ^ mask32;
    i = words << 2;
  }
  const m = headLen - 4;
  for (; i < n; i++) out[headLen + i] = payload[i] ^ out[m + (i & 3)];
  return out;
}

const EMPTY = new Uint8Array(0);

/** A masked close frame; `code` 0 (or 1005) sends none. The reason is cut to fit 125 bytes. */
export function encodeClose(code: number, reason: Uint8Array | string = EMPTY): Buffer {
  if (code === 0 || code === CLOSE_NO_STATUS || !isValidCloseCode(code)) return encodeFrame(OP_CLOSE, EMPTY);
  let r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  if (r.length > 123) r = truncateUtf8(r, 123);
  const p = Buffer.allocUnsafe(2 + r.length);
  p.writeUInt16BE(code, 0);
  p.set(r, 2);
  return encodeFrame(OP_CLOSE, p);
}

/** The longest prefix of at most `max` bytes that does not split a UTF-8 sequence. */
function truncateUtf8(b: Uint8Array, max: number): Uint8Array {
  let end = max;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

// ---- decoding (server to client: unmasked) ----

/** What a decoded frame means to the tunnel. Payload buffers are only valid during the call. */
export interface WsFrameSink {
  /** a complete message (fragments reassembled) */
  onWsMessage(payload: Buffer, isBinary: boolean): void;
  onWsPing(payload: Buffer): void;
  onWsPong(payload: Buffer): void;
  /** `code` is 1005 when the frame carried none; no frame is decoded after this */
  onWsClose(code: number, reason: Buffer): void;
}

const EMPTY_BUF = Buffer.alloc(0);

/**
 * Incremental decoder of server frames. push() bytes, then call next() until it returns false
 * (needs more bytes); each true delivered one event to the sink. The caller may stop calling
 * next() (backpressure): undecoded bytes stay queued. Throws WsFrameError on a protocol error.
 */
export class WsDecoder {
  private readonly chunks: Buffer[] = [];
  private head = 0; // read offset in chunks[0]
  private avail = 0;
  private readonly hdr = Buffer.allocUnsafe(10);
  /** fragments of the message in progress */
  private frags: Buffer[] = [];
  private fragBytes = 0;
  private fragOpcode = -1;
  /** a close frame was decoded: nothing after it is looked at */
  closed = false;

  constructor(readonly maxMessage: number) {}

  /** Queue bytes; the buffer is kept (not copied) until decoded, so it must not be reused. */
  push(data: Buffer): void {
    if (this.closed || data.length === 0) return;
    this.chunks.push(data);
    this.avail += data.length;
  }

  /** bytes received and not decoded yet */
  get buffered(): number {
    return this.avail;
  }

  /** Decode one frame if it is complete; false when more bytes are needed. */
  next(sink: WsFrameSink): boolean {
    if (this.closed || this.avail < 2) return false;
    const h = this.peek(Math.min(this.avail, 10));
    const b0 = h[0];
    const b1 = h[1];
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'reserved bits set without a negotiated extension');
    if ((b1 & 0x80) !== 0) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'masked frame from the server');
    const control = opcode >= 0x8;
    if (control) {
      if (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
      if (!fin) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'fragmented control frame');
    } else if (opcode === OP_CONT) {
      if (this.fragOpcode < 0) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'continuation frame without a message');
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.fragOpcode >= 0) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'new message inside a fragmented one');
    } else {
      throw new WsFrameError(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    }
    let len = b1 & 0x7f;
    let headLen = 2;
    if (len === 126) {
      if (this.avail < 4) return false;
      len = h.readUInt16BE(2);
      headLen = 4;
      if (len < 126) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'length not minimally encoded');
    } else if (len === 127) {
      if (this.avail < 10) return false;
      const hi = h.readUInt32BE(2);
      if (hi & 0x80000000) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, '64-bit length with the top bit set');
      // beyond 2^53 the limit below refuses it anyway
      len = hi * 0x100000000 + h.readUInt32BE(6);
      headLen = 10;
      if (len < 65536) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'length not minimally encoded');
    }
    if (control && len > 125) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'control frame longer than 125 bytes');
    if (!control && this.fragBytes + len > this.maxMessage) {
      throw new WsFrameError(CLOSE_TOO_BIG, `message longer than ${this.maxMessage} bytes`);
    }
    if (this.avail < headLen + len) return false;
    this.skip(headLen);
    const payload = this.take(len);
    if (control) {
      if (opcode === OP_PING) sink.onWsPing(payload);
      else if (opcode === OP_PONG) sink.onWsPong(payload);
      else this.onClose(payload, sink);
      return true;
    }
    if (fin && this.fragOpcode < 0) {
      // the common case: a whole message in one frame, no copy when it sits in one read
      if (opcode === OP_TEXT && !isUtf8(payload)) throw new WsFrameError(CLOSE_INVALID_DATA, 'text message is not valid UTF-8');
      sink.onWsMessage(payload, opcode === OP_BINARY);
      return true;
    }
    if (this.fragOpcode < 0) this.fragOpcode = opcode;
    // payload may be a view of a queued read; keep a copy past this call
    this.frags.push(payload.length === 0 ? EMPTY_BUF : Buffer.from(payload));
    this.fragBytes += len;
    if (!fin) return true;
    const whole = this.frags.length === 1 ? this.frags[0] : Buffer.concat(this.frags, this.fragBytes);
    const binary = this.fragOpcode === OP_BINARY;
    this.frags = [];
    this.fragBytes = 0;
    this.fragOpcode = -1;
    if (!binary && !isUtf8(whole)) throw new WsFrameError(CLOSE_INVALID_DATA, 'text message is not valid UTF-8');
    sink.onWsMessage(whole, binary);
    return true;
  }

  private onClose(payload: Buffer, sink: WsFrameSink): void {
    this.closed = true;
    this.chunks.length = 0;
    this.avail = 0;
    this.head = 0;
    if (payload.length === 0) {
      sink.onWsClose(CLOSE_NO_STATUS, EMPTY_BUF);
      return;
    }
    if (payload.length === 1) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, 'close frame with a 1-byte payload');
    const code = payload.readUInt16BE(0);
    if (!isValidCloseCode(code)) throw new WsFrameError(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) throw new WsFrameError(CLOSE_INVALID_DATA, 'close reason is not valid UTF-8');
    sink.onWsClose(code, reason);
  }

  /** The next `n` (<= 10) bytes without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    let got = 0;
    let off = this.head;
    for (let c = 0; got < n; c++) {
      const ch = this.chunks[c];
      const k = Math.min(n - got, ch.length - off);
      ch.copy(this.hdr, got, off, off + k);
      got += k;
      off = 0;
    }
    return this.hdr;
  }

  private skip(n: number): void {
    this.avail -= n;
    while (n > 0) {
      const first = this.chunks[0];
      const left = first.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Consume `n` bytes: a view when they sit in one chunk, else a copy. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY_BUF;
    const first = this.chunks[0];
    if (first.length - this.head >= n) {
      const v = first.subarray(this.head, this.head + n);
      this.skip(n);
      return v;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const ch = this.chunks[0];
      const k = Math.min(n - got, ch.length - this.head);
      ch.copy(out, got, this.head, this.head + k);
      got += k;
      this.skip(k);
    }
    return out;
  }
}
