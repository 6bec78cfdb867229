// One client connection of the node:net front engine: PROXY header (accept-proxy), request
// heads, bodies, answers in order, keep-alive, timeouts. The contract is in api.ts.
//
// States: PROXY (waiting for the PROXY header) -> HEAD (idle or a partial head) -> BODY (request
// dispatched, body arriving) -> WAIT (request complete, answer not finished; pipelined bytes are
// held, and reading stops once they exceed a head's size) -> HEAD again, or CLOSING (an answer
// with Connection: close went out: the rest is read and dropped for lingerMs, then closed; a
// client that asked for the close is closed once the answer is out, see end()).
// Bytes that could not be used yet wait in `pending` (a view of the read; a copy when the read's
// buffer is reused, as on raw handles; or a concatenation when a head spans reads). Timers: one
// per connection for http-request / http-keep-alive / linger; io.setTimeout for `timeout client`
// (refreshed on every read and write). The client side is a ClientIo (client-io.ts): a
// net.Socket / TLSSocket, or a plain bind's raw handle.

import type { Socket } from 'node:net';
import { monoNow } from '../shared/clock';
import { TlsFacts } from './tls-facts';
import type { ClientIo, ClientIoSink } from './client-io';
import type { FrontOptions, H1Handler } from './api';
import { AnswerFramer, interimText } from './answer-framer';
import { errorAnswer } from './error-answers';
import { type BodyCallback, NodeRequest, NodeResponse } from './exchange-handles';
import {
  CHUNKS_DONE,
  CHUNKS_ERROR,
  ChunkedDecoder,
  type ChunkSink,
  HEAD_DONE,
  HEAD_ERROR,
  HEAD_INCOMPLETE,
  RequestHeadParser,
} from './request-parser';
import { decodeProxyHeader, PP_DONE, PP_ERROR } from '../net/proxy-protocol';

const ST_PROXY = 0;
const ST_HEAD = 1;
const ST_BODY = 2;
const ST_WAIT = 3;
const ST_CLOSING = 4;
const ST_DETACHED = 5;
const ST_CLOSED = 6;

const EMPTY = Buffer.alloc(0);
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/** "::ffff:a.b.c.d" (dual-stack bind) as a.b.c.d, as HAProxy logs it */
function plainAddress(a: string | undefined): string {
  if (a === undefined) return '';
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a;
}

export class H1Connection implements ChunkSink, ClientIoSink {
  private state: number;
  private pending: Buffer | null = null;
  private readonly parser: RequestHeadParser;
  private decoder: ChunkedDecoder | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** when `timer` fires (monoNow ms), and when the armed timeout ends (0: none; see arm()) */
  private timerAt = 0;
  private deadline = 0;
  /** the head timer counts keep-alive idleness (expiry closes silently) rather than http-request */
  private idle = false;
  private inProcess = false;
  private readPaused = false;
  private clientEnded = false;
  /** drain(): answer the current request with Connection: close, take no other */
  private draining = false;
  remoteAddress: string;
  remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** requests dispatched on this connection */
  requests = 0;
  /** a node:tls connection's facts for the ssl_* fetches (null: plain TCP) */
  readonly tlsFacts: TlsFacts | null;

  // ---- the current exchange ----
  private req: NodeRequest | null = null;
  private res: NodeResponse | null = null;
  private bodyRemaining = 0;
  private reqComplete = false;
  private bodyCb: BodyCallback | null = null;
  private bodyPaused = false;
  private continueSent = false;
  private keepAlive = true;
  private headMethod = false;
  // answer
  private resStarted = false;
  private resDone = false;
  private readonly framer: AnswerFramer;
  private closeAfter = false;
  private writableCb: (() => void) | null = null;

  /** Called once the connection is over (closed, or handed over by detach()). */
  onDone: ((c: H1Connection) => void) | null = null;

  private readonly onTimerBound = (): void => this.onTimer();
  private readonly resumeBound = (): void => this.resumeProcessing();

  constructor(
    private readonly io: ClientIo,
    private readonly handler: H1Handler,
    private readonly opts: FrontOptions,
    /** the client from a PROXY header read before TLS (accept-proxy on an ssl bind) */
    client: { address: string; port: number } | null = null,
  ) {
    this.parser = new RequestHeadParser(opts);
    this.framer = new AnswerFramer(io);
    this.remoteAddress = client !== null ? client.address : plainAddress(io.remoteAddress);
    this.remotePort = client !== null ? client.port : io.remotePort ?? 0;
    this.localAddress = plainAddress(io.localAddress);
    this.localPort = io.localPort ?? 0;
    this.tlsFacts = io.tlsSocket !== null ? new TlsFacts(io.tlsSocket) : null;
    this.state = opts.acceptProxy ? ST_PROXY : ST_HEAD;
    io.start(this);
    // HAProxy counts http-request from the accept: an empty connection gets 408 too
    this.arm(opts.timeoutHttpRequest, false);
  }

  // ------------------------------------------------------------------ reading

  /** @internal ClientIoSink */ ioData(d: Buffer): void {
    if (this.state >= ST_CLOSING) return; // lingering: dropped
    if (this.pending !== null) {
      d = Buffer.concat([this.pending, d]);
      this.pending = null;
    }
    this.process(d, 0);
  }

  private process(buf: Buffer, pos: number): void {
    this.inProcess = true;
    try {
      this.loop(buf, pos);
    } finally {
      this.inProcess = false;
    }
  }

  private loop(buf: Buffer, pos: number): void {
    let end = buf.length;
    for (;;) {
      switch (this.state) {
        case ST_PROXY: {
          const r = decodeProxyHeader(pos === 0 ? buf : buf.subarray(pos));
          if (r.status === PP_ERROR) {
            this.io.destroy(); // HAProxy closes on a bad PROXY header
            return;
          }
          if (r.status !== PP_DONE) return this.keep(buf, pos);
          const h = r.header;
          if (h !== null && !h.local && h.srcAddress !== '') {
            this.remoteAddress = h.srcAddress;
            this.remotePort = h.srcPort;
          }
          pos += r.length;
          this.state = ST_HEAD;
          continue;
        }
        case ST_HEAD: {
          if (pos >= end) return;
          const p = this.parser;
          const wasStarted = p.started;
          const next = p.execute(buf, pos);
          if (!wasStarted && this.idle && (p.started || next < end)) {
            // the next request's first bytes: http-request runs from here
            this.arm(this.opts.timeoutHttpRequest, false);
          }
          if (p.status === HEAD_INCOMPLETE) return this.keep(buf, next);
          if (p.status === HEAD_ERROR) return this.refuse(p.errorStatus);
          // what follows the head is held while the handler runs (it may detach() at once): a
          // view of the read's buffer is enough for that, used or copied before this read
          // returns (the first body bytes of an upload were copied twice otherwise)
          if (this.pending === null && next < end) this.pending = buf.subarray(next, end);
          else this.keep(buf, next);
          this.dispatch();
          const rest = this.pending;
          if (rest === null) return;
          if (this.state >= ST_CLOSING) {
            this.pending = this.owned(rest);
            return;
          }
          this.pending = null;
          buf = rest;
          pos = 0;
          end = buf.length;
          continue;
        }
        case ST_BODY: {
          if (this.bodyCb === null || this.bodyPaused) {
            this.keep(buf, pos);
            this.pauseReading();
            return;
          }
          if (pos >= end) return;
          if (this.decoder !== null) {
            const dec = this.decoder;
            pos = dec.execute(buf, pos, end, this);
            if (dec.status === CHUNKS_ERROR) return this.bodyFailed(400);
            if (dec.status === CHUNKS_DONE) {
              if (this.req !== null) this.req.trailers = dec.trailers;
              this.bodyDone();
            }
            continue;
          }
          const n = Math.min(this.bodyRemaining, end - pos);
          this.bodyRemaining -= n;
          const last = this.bodyRemaining === 0;
          const chunk = pos === 0 && n === end ? buf : buf.subarray(pos, pos + n);
          pos += n;
          if (last) this.reqComplete = true;
          this.deliver(chunk, last);
          if (last) this.bodyDone();
          continue;
        }
        case ST_WAIT:
          // pipelined bytes wait for the answer; past a head's worth, stop reading
          this.keep(buf, pos);
          if (this.pending !== null && this.pending.length > this.opts.maxHeadSize) this.pauseReading();
          return;
        default:
          return;
      }
    }
  }

  /** Holds buf[pos..] for later: a copy when the read's buffer is lent (or joins what is held). */
  private keep(buf: Buffer, pos: number): void {
    if (pos >= buf.length) return;
    const rest = pos === 0 ? buf : buf.subarray(pos);
    if (this.pending !== null) this.pending = Buffer.concat([this.pending, rest]);
    else this.pending = this.owned(rest);
  }

  /** `b`, or a copy of it when it is a view of the read buffer the client I/O lends (reused by the next read). */
  private owned(b: Buffer): Buffer {
    return b.buffer === this.io.readBuffer ? Buffer.from(b) : b;
  }

  private pauseReading(): void {
    if (!this.readPaused) {
      this.readPaused = true;
      this.io.pause();
      // the client is not the one waiting: no `timeout client` while we do not read
      if (this.state === ST_BODY && !this.io.needDrain) this.io.setTimeout(0);
    }
  }

  /** Runs held bytes (next tick when called from inside the loop) and reads again. */
  private resumeProcessing(): void {
    if (this.state >= ST_CLOSING) return;
    if (this.inProcess) {
      process.nextTick(this.resumeBound);
      return;
    }
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      this.process(p, 0);
    }
    if (this.state >= ST_CLOSING) return;
    if (this.clientEnded && (this.state === ST_HEAD || (this.state === ST_BODY && this.pending === null))) {
      // what the client sent before its FIN has been used: what is left is truncated
      this.ioEnd();
      return;
    }
    const blocked = this.state === ST_BODY && (this.bodyCb === null || this.bodyPaused);
    const full = this.state === ST_WAIT && this.pending !== null && this.pending.length > this.opts.maxHeadSize;
    if (this.readPaused && !blocked && !full) {
      this.readPaused = false;
      this.io.resume();
      if (this.state === ST_BODY) this.io.setTimeout(this.opts.timeoutClient);
    }
  }

  chunkData(buf: Buffer, start: number, end: number): void {
    if (end > start) this.deliver(buf.subarray(start, end), false);
  }

  private deliver(chunk: Buffer, last: boolean): void {
    const cb = this.bodyCb;
    if (cb !== null) cb(chunk, last);
  }

  private bodyDone(): void {
    this.reqComplete = true;
    if (this.decoder !== null) {
      this.deliver(EMPTY, true);
      this.decoder = null;
    }
    if (this.resDone) {
      this.next();
      return;
    }
    this.state = ST_WAIT;
    // waiting for the server: the client is not expected to do anything
    if (!this.io.needDrain) this.io.setTimeout(0);
  }

  // ------------------------------------------------------------------ dispatch

  private dispatch(): void {
    const p = this.parser;
    this.disarm();
    this.requests++;
    const req = new NodeRequest(this, p, this.remoteAddress, this.remotePort, this.localAddress, this.localPort);
    const res = new NodeResponse(this);
    this.req = req;
    this.res = res;
    this.keepAlive = p.keepAlive;
    this.headMethod = p.method === 'HEAD';
    this.bodyCb = null;
    this.bodyPaused = false;
    this.continueSent = false;
    this.resStarted = false;
    this.resDone = false;
    this.framer.reset();
    this.closeAfter = false;
    this.writableCb = null;
    if (p.chunked) {
      this.decoder = new ChunkedDecoder(this.opts);
      this.reqComplete = false;
      this.bodyRemaining = 0;
    } else {
      this.decoder = null;
      this.bodyRemaining = p.contentLength > 0 ? p.contentLength : 0;
      this.reqComplete = this.bodyRemaining === 0;
    }
    this.state = this.reqComplete ? ST_WAIT : ST_BODY;
    // `timeout client` for the body starts when the handler reads it (it may wait in a queue first)
    this.io.setTimeout(0);
    p.reset();
    try {
      this.handler.onRequest(req, res);
    } catch {
      // a handler bug must not leave the client waiting
      if (this.req === req && !this.resDone) {
        if (!this.resStarted) this.sendAndClose(errorAnswer(500));
        else this.io.destroy();
      }
    }
  }

  // ------------------------------------------------------------------ request body API

  /** @internal */ registerBody(req: NodeRequest, cb: BodyCallback): void {
    if (req !== this.req || this.bodyCb !== null) return;
    this.bodyCb = cb;
    if (this.reqComplete && this.decoder === null && this.bodyRemaining === 0 && this.state !== ST_BODY) {
      cb(EMPTY, true);
      return;
    }
    if (!this.bodyPaused) this.startBody();
  }

  /** @internal */ pauseBody(req: NodeRequest): void {
    if (req === this.req) this.bodyPaused = true;
  }

  /** @internal */ resumeBody(req: NodeRequest): void {
    if (req !== this.req || !this.bodyPaused) return;
    this.bodyPaused = false;
    if (this.bodyCb !== null) this.startBody();
  }

  private startBody(): void {
    if (this.state !== ST_BODY) return;
    this.io.setTimeout(this.opts.timeoutClient);
    if (this.req !== null && this.req.expectContinue && !this.continueSent && !this.resStarted) {
      this.continueSent = true;
      this.io.write(CONTINUE);
    }
    this.resumeProcessing();
  }

  // ------------------------------------------------------------------ answer API

  /** @internal */ isCurrent(res: NodeResponse): boolean {
    return res === this.res && !this.resDone && this.state < ST_CLOSING;
  }

  /** @internal */ writeInterim(res: NodeResponse, status: number, reason: string, headers: string[]): void {
    if (!this.isCurrent(res) || this.resStarted || this.req === null || this.req.versionMinor === 0) return;
    if (status === 100) {
      if (this.continueSent) return;
      this.continueSent = true;
    }
    this.io.write(interimText(status, reason, headers));
  }

  /** @internal */ writeHead(res: NodeResponse, status: number, reason: string, headers: string[], bodyLength: number, close: boolean): void {
    if (!this.isCurrent(res) || this.resStarted || this.req === null) return;
    this.resStarted = true;
    const v10 = this.req.versionMinor === 0;
    close = close || !this.keepAlive || this.draining || (this.clientEnded && this.pending === null);
    this.closeAfter = this.framer.head(status, reason, headers, bodyLength, close, v10, this.headMethod);
  }

  /** @internal */ write(res: NodeResponse, chunk: Buffer): boolean {
    if (!this.isCurrent(res) || !this.resStarted) return false;
    if (!this.framer.write(chunk)) return !this.io.needDrain;
    if (!this.io.needDrain) return true;
    // the client is not taking the answer: `timeout client` runs until it drains
    this.io.setTimeout(this.opts.timeoutClient);
    return false;
  }

  /** @internal */ onWritable(res: NodeResponse, cb: () => void): void {
    if (res === this.res) this.writableCb = cb;
  }

  /** @internal ClientIoSink */ ioDrain(): void {
    if (this.state !== ST_BODY) this.io.setTimeout(0);
    const cb = this.writableCb;
    if (cb !== null && this.res !== null && !this.resDone) cb();
  }

  /** @internal */ end(res: NodeResponse, trailers: string[] | undefined): void {
    if (!this.isCurrent(res)) return;
    if (!this.resStarted) this.writeHead(res, 200, 'OK', [], 0, false);
    if (!this.framer.finish(trailers)) {
      // a short answer cannot be framed: the client must see the cut
      this.abort(res);
      return;
    }
    this.resDone = true;
    this.writableCb = null;
    if (!this.keepAlive && this.reqComplete && this.pending === null && !this.clientEnded) {
      // the client asked for the close and sent nothing after its request: no lingering read
      // for its FIN (HAProxy shuts down and closes at once)
      this.state = ST_CLOSED;
      this.clearTimer();
      this.io.finish(this.opts.timeoutClient);
      return;
    }
    if (this.closeAfter || !this.reqComplete || this.draining || (this.clientEnded && this.pending === null)) {
      this.closeGracefully();
      return;
    }
    if (this.state === ST_WAIT) this.next();
  }

  /** @internal */ abort(res: NodeResponse): void {
    if (res !== this.res || this.state >= ST_CLOSING) return;
    res.markAborted(false);
    this.resDone = true;
    this.state = ST_CLOSED;
    this.clearTimer();
    this.io.reset();
  }

  /** @internal */ detach(res: NodeResponse): { socket: Socket; head: Buffer } {
    this.framer.flushHead();
    const head = this.pending === null ? EMPTY : this.owned(this.pending);
    this.pending = null;
    this.state = ST_DETACHED;
    this.resDone = true;
    this.clearTimer();
    this.readPaused = false;
    const sock = this.io.detach();
    void res;
    if (this.onDone !== null) this.onDone(this);
    return { socket: sock, head };
  }

  /**
   * Graceful stop or reload: an idle connection closes now (no byte of a next request yet);
   * one in an exchange finishes it with `connection: close` (if its answer has not started),
   * then closes. A partial head already received is still read and answered.
   */
  drain(): void {
    if (this.draining || this.state >= ST_CLOSING) return;
    this.draining = true;
    if (this.state === ST_HEAD && !this.parser.started && this.pending === null) {
      this.state = ST_CLOSED;
      this.clearTimer();
      this.io.end();
    }
  }

  // ------------------------------------------------------------------ transitions

  /** The exchange is over on a kept-alive connection: the next request may come. */
  private next(): void {
    this.req = null;
    this.res = null;
    this.bodyCb = null;
    this.state = ST_HEAD;
    this.io.setTimeout(0);
    this.arm(this.opts.timeoutHttpKeepAlive, true);
    this.resumeProcessing();
  }

  /** A bad head: HAProxy's answer, then close. */
  private refuse(status: number, reason = this.parser.errorReason || 'truncated request'): void {
    this.report(status, reason, false);
    this.sendAndClose(errorAnswer(status));
  }

  /** Tells the handler (logs, counters) about an answer the engine gave itself. */
  private report(status: number, reason: string, dispatched: boolean): void {
    const h = this.handler;
    if (h.onRefused === undefined) return;
    try {
      h.onRefused({ status, reason, dispatched, remoteAddress: this.remoteAddress, remotePort: this.remotePort, localAddress: this.localAddress, localPort: this.localPort });
    } catch {
      // a logging hook must not break the answer
    }
  }

  /** The body cannot complete after dispatch (bad chunk, stall, FIN): answer or cut. */
  private bodyFailed(status: number): void {
    const res = this.res;
    if (res !== null) res.markAborted(true);
    if (!this.resStarted) {
      const reason = status === 408 ? 'client timeout during the body' : this.decoder !== null && this.decoder.errorReason !== '' ? this.decoder.errorReason : 'body cut short';
      this.report(status, reason, true);
      this.sendAndClose(errorAnswer(status));
    }
    else {
      this.state = ST_CLOSED;
      this.io.destroy();
    }
  }

  private sendAndClose(answer: Buffer): void {
    this.io.write(answer);
    this.closeGracefully();
  }

  /** FIN after the answer; what the client still sends is read and dropped for a while. */
  private closeGracefully(): void {
    if (this.state >= ST_CLOSING) return;
    this.state = ST_CLOSING;
    this.pending = null;
    this.io.setTimeout(0);
    this.io.end();
    if (this.readPaused) {
      this.readPaused = false;
      this.io.resume();
    }
    this.arm(this.opts.lingerMs, false);
  }

  /**
   * Arms the http-request / keep-alive / linger timeout. A keep-alive connection re-arms it after
   * every answer and disarms it at every request: instead of a setTimeout and a clearTimeout
   * each time (Node's timer list insert and unenroll, ~4% of a node-engine worker in
   * native-bench (a)), a running timer that fires no later than the new deadline is kept, and
   * re-armed for what is left when it fires.
   */
  private arm(ms: number, idle: boolean): void {
    this.idle = idle;
    this.deadline = monoNow() + ms;
    if (this.timer !== null) {
      if (this.timerAt <= this.deadline) return;
      clearTimeout(this.timer);
    }
    this.timerAt = this.deadline;
    this.timer = setTimeout(this.onTimerBound, ms);
  }

  /** No timeout while a request is served; a running timer finds no deadline and stops. */
  private disarm(): void {
    this.deadline = 0;
  }

  /** The connection is ending: its timer goes too. */
  private clearTimer(): void {
    this.deadline = 0;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private onTimer(): void {
    this.timer = null;
    if (this.deadline === 0) return;
    const left = this.deadline - monoNow();
    if (left >= 1) {
      this.timerAt = this.deadline;
      // whole milliseconds: Node keeps one timer list per distinct duration
      this.timer = setTimeout(this.onTimerBound, Math.ceil(left));
      return;
    }
    this.deadline = 0;
    switch (this.state) {
      case ST_PROXY:
        this.io.destroy();
        return;
      case ST_HEAD:
        // idle keep-alive: silent close (HAProxy); a head (or nothing at all) after accept: 408
        if (this.idle && !this.parser.started && this.pending === null) {
          this.state = ST_CLOSED;
          this.io.destroy();
        } else {
          this.refuse(408, 'timeout http-request');
        }
        return;
      case ST_CLOSING:
        if (this.io.writesQueued) {
          // the answer is still going out: the client's pace decides (timeout client), not the linger
          this.io.setTimeout(this.opts.timeoutClient);
          return;
        }
        this.state = ST_CLOSED;
        this.io.destroy();
        return;
      default:
        return;
    }
  }

  /** `timeout client`: no progress while the client sends a body or while it does not take the answer. */
  /** @internal ClientIoSink */ ioTimeout(): void {
    if (this.state === ST_CLOSING || this.state === ST_CLOSED) {
      // the last answer stopped going out (after finish(), or past the linger)
      this.state = ST_CLOSED;
      this.clearTimer();
      this.io.destroy();
      return;
    }
    if (this.state === ST_BODY && !this.resStarted) {
      this.bodyFailed(408);
      return;
    }
    if (this.state === ST_BODY || (this.resStarted && !this.resDone) || this.io.needDrain) {
      const res = this.res;
      if (res !== null) res.markAborted(true);
      this.state = ST_CLOSED;
      this.io.destroy();
    }
  }

  /** @internal ClientIoSink */ ioEnd(): void {
    this.clientEnded = true;
    switch (this.state) {
      case ST_PROXY:
        this.io.destroy();
        return;
      case ST_HEAD:
        if (this.parser.started || this.pending !== null) this.refuse(400); // truncated head
        else {
          this.state = ST_CLOSED;
          this.clearTimer();
          this.io.end();
        }
        return;
      case ST_BODY:
        // body bytes still held (the handler has not read them yet) may complete it
        if (this.pending === null) this.bodyFailed(400);
        return;
      case ST_CLOSING:
        this.state = ST_CLOSED;
        this.clearTimer();
        this.io.destroy();
        return;
      default:
        // ST_WAIT: answered, then closed (no abortonclose, as HAProxy's default)
        return;
    }
  }

  /** @internal ClientIoSink */ ioClose(): void {
    const wasOpen = this.state < ST_CLOSED;
    this.state = ST_CLOSED;
    this.clearTimer();
    this.pending = null;
    const res = this.res;
    if (res !== null && !this.resDone) res.markAborted(wasOpen);
    if (this.onDone !== null) this.onDone(this);
  }
}

