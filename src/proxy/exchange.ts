// One client request and its trip to a server: the hot path, top to bottom.
//
// start() builds the request's plan (plan.ts: routing, validation, the upstream head) and its
// session (session.ts: counters, admission, the log record); dispatch() asks the server attempt
// (attempt.ts) for a server and takes a pooled keep-alive connection or opens one. From there
// this file only moves bytes: the request body up, the response (framed by llhttp in
// ResponseParser) down to the client, with backpressure both ways. A WebSocket upgrade is the
// same trip until the server answers 101; then the engine's Upgrader takes over the client and
// the connection (src/worker/websocket.ts). Exchange objects are recycled so their bound
// callbacks are made once, not per request.

import { C_BIN, C_CLI_ABRT, C_DRESP, C_ERESP, C_SRV_ABRT } from '../shared/counters';
import { CONN_BUSY, CONN_CLOSED, FAIL_CONNECT, FAIL_IO, FAIL_PARSE, type UpstreamConn } from '../upstream/connection';
import { FRAMING_CHUNKED, FRAMING_LENGTH, FRAMING_UPGRADE } from '../upstream/response-parser';
import { checkSwitchingProtocols } from '../upstream/ws-handshake';
import { ACT_FORWARD, evalResponse } from '../rules';
import type { CookieTxn } from '../persistence/cookie';
import type { FrontendRuntime, WorkerRuntime } from '../worker/runtime';
import { countConnectError, countResponseError, countStatus, observeStatus } from './accounting';
import { ASSIGN_FULL, ASSIGN_NOSRV, RETRY_NONE, RETRY_SAME } from './attempt';
import { RO_CONN_FAILURE, RO_EMPTY_RESPONSE, RO_JUNK_RESPONSE, RO_RESPONSE_TIMEOUT, retryOnStatus } from '../config/retry-on';
import type { ClientRequest, ClientResponse } from './client';
import { E408, E502, E503, E504, requestErrorPage, type ErrorPage } from './error-pages';
import { BODY_NONE, PLAN_FORWARD, PLAN_REJECT } from './plan';
import { RequestBody } from './request-body';
import { BODY_BLOCKED, BODY_DONE, ResponseBody } from './response-body';
import { bytesToText, textToBytes, writeResponseHeaders } from './response-head';
import { Session } from './session';
import { drainConnection } from '../upstream/drain';
import { performance } from 'node:perf_hooks';

/** The front engine's side of a protocol switch (uWS: WebSocket termination). */
export interface Upgrader {
  /**
   * The server accepted the upgrade with a valid 101 (`headers`): answer the client, then relay
   * between it and `conn` (now out of the pool) until both sides are done, and end the
   * exchange's record with ex.endTunnel(). `rest`: bytes the server sent after its 101.
   */
  switchProtocols(ex: Exchange, res: ClientResponse, conn: UpstreamConn, headers: string[], rest: Buffer): void;
}

export class Exchange extends Session {
  private readonly onClientDataB = this.onClientData.bind(this);
  private readonly onWritableB = this.onWritable.bind(this);
  private readonly feedCorkedB = this.feedCorked.bind(this);
  private readonly endCorkedB = this.endCorked.bind(this);

  private readonly body = new RequestBody();
  private readonly out = new ResponseBody();
  private clientPaused = false;

  // server side
  private conn: UpstreamConn | null = null;
  private requestSent = false;
  private upgrader: Upgrader | null = null;
  /** the server's 101 waits for the end of the parser's callbacks (see switchProtocols) */
  private upgradeHeaders: string[] | null = null;
  private upgradeRest: Buffer | null = null;
  /** the exchange became a tunnel: the upgrader owns the client and the connection */
  private tunneled = false;

  // response side
  private upstreamComplete = false;
  private upstreamPaused = false;
  private feedData: Buffer | null = null;
  private feedConn: UpstreamConn | null = null;
  private tConnStart = 0;
  private tSent = 0;
  /**
   * A chunked response's head (and the body after it) waits for the end of the read it came
   * in: a bad chunk in that same read is then a 502, not a cut (nothing left for the client).
   */
  private heldHeaders: string[] | null = null;
  private heldReason = '';
  private readonly heldBody: Buffer[] = [];
  private heldComplete = false;
  /** the server's answer is discarded for a retry (retry-on <status>) once the read is parsed */
  private retryAfterFeed = false;
  /** when the engine's own client timer was last re-armed (keepClientTimer) */
  private clientTimerAt = 0;

  constructor(private readonly recycle: (ex: Exchange) => void) {
    super();
  }

  /** `upgrader`: the engine routed a WebSocket upgrade here and handles the switch. */
  start(rt: WorkerRuntime, fe: FrontendRuntime, res: ClientResponse, req: ClientRequest, upgrader: Upgrader | null = null): void {
    this.beginSession(rt, fe, res);
    this.upgrader = upgrader;
    const plan = this.plan;
    const outcome = plan.build(rt, fe, req, res, upgrader !== null);
    this.setBackend(plan.be);
    this.method = plan.method;
    this.uri = plan.uri;
    this.clientIp = plan.clientIp;
    if (outcome !== PLAN_FORWARD) {
      // the body, if any, is never read
      this.body.done = true;
      if (outcome === PLAN_REJECT) this.reject(requestErrorPage(plan.bad));
      else this.answerDecision(plan.decision!);
      return;
    }
    this.body.begin(plan.bodyKind);
    res.onAborted(this.onAbortedB);
    if (!this.body.done) {
      res.onData(this.onClientDataB);
      this.clientDeadline = Date.now() + fe.cfg.timeouts.client;
    }
    const be = this.be;
    if (be === null) {
      this.answer(E503, 'SC');
      return;
    }
    this.attempt.begin(rt, be, plan.persistServer, this.acceptMs);
    if (this.admit()) this.dispatch(-1);
  }

  protected onAdmitted(): void {
    this.dispatch(-1);
  }

  /** Pick a server (avoiding `exclude`) and get a connection to it. */
  private dispatch(exclude: number): void {
    const r = this.attempt.assign(this.plan.key, exclude);
    if (r === ASSIGN_NOSRV) {
      this.answer(E503, 'SC');
      return;
    }
    if (r === ASSIGN_FULL) {
      // Every usable server is at its maxconn: wait for a slot, up to `timeout queue`.
      this.attempt.enqueue(this, exclude);
      this.deadline = Date.now() + this.be!.cfg.timeouts.queue;
      return;
    }
    const stick = this.be!.stick;
    if (stick !== null) stick.store(this.plan.view!, this.attempt.server - this.be!.firstServer);
    // An upgrade gets a connection of its own: after a 101 it never goes back to the pool.
    const conn = this.upgrader === null ? this.rt.servers[this.attempt.server].pool.takeIdle() : null;
    if (conn !== null) {
      this.conn = conn;
      conn.attach(this, this.plan.isHead, false);
      this.tc = 0;
      this.sendRequest();
    } else {
      this.connectFresh();
    }
  }

  /** Called by the worker when a slot may have freed: try again; false = still full. */
  retryFromQueue(): boolean {
    if (this.res === null || this.finished) {
      this.leaveQueues();
      return true;
    }
    if (this.attempt.stillFull()) return false;
    this.leaveQueues();
    this.deadline = 0;
    this.dispatch(this.attempt.exclude);
    return true;
  }

  private connectFresh(): void {
    this.requestSent = false;
    this.body.headHeld = false;
    this.tConnStart = performance.now();
    this.deadline = Date.now() + this.be!.cfg.timeouts.connect;
    this.conn = this.rt.servers[this.attempt.server].pool.connect(this);
  }

  onUpstreamConnect(conn: UpstreamConn): void {
    if (conn !== this.conn) return;
    conn.attach(this, this.plan.isHead, this.upgrader !== null);
    this.tc = performance.now() - this.tConnStart;
    this.sendRequest();
  }

  // ---- the request: head and body up to the server ----

  private sendRequest(): void {
    const conn = this.conn!;
    const plan = this.plan;
    this.requestSent = true;
    this.tSent = performance.now();
    this.deadline = Date.now() + this.be!.cfg.timeouts.server;
    if (plan.bodyKind === BODY_NONE) {
      conn.writeHead(plan.head);
      return;
    }
    if (this.body.holdHead()) {
      // ...but not longer than this turn of the event loop, for a client that waits all the same
      setImmediate(flushHeldHead, this);
      return;
    }
    if (!this.body.sendWithHead(conn.socket, plan.head)) this.pauseClient();
    else if (this.clientPaused && this.res !== null) {
      this.clientPaused = false;
      this.res.resume();
    }
  }

  /** The body did not come with the head: send the head alone (see RequestBody.holdHead). */
  flushHeldHead(): void {
    const conn = this.conn;
    if (!this.body.headHeld || conn === null || conn.owner !== this || conn.state !== CONN_BUSY) return;
    this.body.headHeld = false;
    conn.socket.write(this.plan.head);
  }

  private onClientData(ab: ArrayBuffer | Uint8Array, isLast: boolean): void {
    const n = ab.byteLength;
    this.bytesIn += n;
    this.rt.slab[this.fe.row + C_BIN] += n;
    if (isLast) {
      this.body.done = true;
      const trailers = this.res?.trailers?.();
      if (trailers !== undefined && trailers !== null && trailers.length > 0) this.body.setTrailers(trailers);
    }
    this.clientDeadline = isLast ? (this.upstreamPaused ? this.clientDeadline : 0) : Date.now() + this.fe.cfg.timeouts.client;
    // The answer is already complete (the server replied before reading the whole body):
    // the rest of the upload has nowhere to go.
    if (this.responded || this.finished) {
      if (isLast && this.finished) this.recycle(this);
      return;
    }
    // The engine reuses the memory behind `ab` after this call returns: copy it.
    const chunk = n > 0 ? Buffer.from(ab instanceof ArrayBuffer ? new Uint8Array(ab) : ab) : null;
    const conn = this.conn;
    if (conn !== null && this.requestSent && conn.state === CONN_BUSY && conn.owner === this) {
      // sending to the server is server-side activity (HAProxy's timeout server is inactivity)
      if (!this.headSent) this.deadline = Date.now() + this.be!.cfg.timeouts.server;
      if (!this.body.forward(conn.socket, this.plan.head, chunk, isLast)) this.pauseClient();
      return;
    }
    if (chunk !== null && this.body.hold(chunk)) this.pauseClient();
  }

  private pauseClient(): void {
    if (this.clientPaused || this.res === null || this.body.done) return;
    this.clientPaused = true;
    this.res.pause();
  }

  onUpstreamDrain(): void {
    if (this.clientPaused && this.res !== null) {
      this.clientPaused = false;
      this.res.resume();
    }
  }

  // ---- the response: down to the client ----

  onUpstreamData(conn: UpstreamConn, data: Buffer): void {
    if (conn !== this.conn) return;
    if (this.res === null) {
      conn.destroy();
      return;
    }
    this.deadline = Date.now() + this.be!.cfg.timeouts.server;
    this.feedConn = conn;
    this.feedData = data;
    this.res.cork(this.feedCorkedB);
    this.feedData = null;
    this.feedConn = null;
    if (this.upgradeHeaders !== null) this.switchProtocols();
    else if (this.retryAfterFeed) this.retryOnAnswer(conn);
    else if (this.upstreamComplete && this.conn === conn) this.releaseConn();
  }

  private feedCorked(): void {
    this.feedConn!.parse(this.feedData!);
    // the read parsed cleanly (a parse error cleared the held head and answered 502)
    if (this.heldHeaders !== null && this.res !== null) this.commitHead(this.heldHeaders, this.heldReason);
  }

  onResponseHead(status: number, reason: string, headers: string[], framing: number, length: number, keepAlive: boolean): void {
    const res = this.res;
    if (res === null) return;
    if (framing === FRAMING_UPGRADE) {
      // Acted on once the parser returns (switchProtocols): uWS's upgrade replaces the client
      // socket, which must not happen inside the cork this runs in.
      this.upgradeHeaders = headers;
      return;
    }
    this.conn!.keepAlive = keepAlive;
    this.status = status;
    this.out.begin(framing, length);
    this.tr = performance.now() - this.tSent;
    const be = this.be!;
    const server = this.attempt.server;
    observeStatus(this.rt, server, status);
    if (retryOnStatus(be.cfg.retryOn, status) && this.body.done && this.body.replayable && this.attempt.canRetry) {
      // retry-on <status>: this answer is dropped and the request goes again once the parser
      // returns (retryOnAnswer)
      this.retryAfterFeed = true;
      return;
    }
    this.headSent = true;
    if (this.plan.responseRules) {
      const rv = this.rt.responseView;
      rv.reset();
      rv.status = status;
      // rules mix the server's bytes with text (formats, config strings, request samples)
      for (let i = 0; i < headers.length; i += 2) rv.addHeader(headers[i], bytesToText(headers[i + 1]));
      const d = this.rt.responseDecision;
      evalResponse(this.rt.routing, this.fe.index, be.index, this.plan.view!, rv, d);
      if (d.action !== ACT_FORWARD) {
        // The server's answer is discarded (its body is read and dropped; the connection
        // stays reusable once it completes).
        this.writeDecision(d);
        this.rt.slab[be.row + C_DRESP]++;
        this.rt.slab[this.fe.row + C_DRESP]++;
        this.termination = 'PH';
        return;
      }
      if (d.headersChanged) {
        // back to bytes: a value the rules left alone as the server sent it (exact even when it
        // is not UTF-8), a new one as its UTF-8 bytes
        const n = headers.length;
        const out = rv.headers.slice(0, rv.headersLen);
        for (let i = 1; i < out.length; i += 2) {
          const v = out[i];
          out[i] = i < n && v === bytesToText(headers[i]) ? headers[i] : textToBytes(v);
        }
        headers = out;
      }
    }
    if (framing === FRAMING_CHUNKED && this.feedConn !== null) {
      this.headSent = false;
      this.heldHeaders = headers;
      this.heldReason = reason;
      return;
    }
    this.commitHead(headers, reason);
  }

  /** The status line and headers go to the client (inside the feed's cork). */
  private commitHead(headers: string[], reason: string): void {
    const res = this.res!;
    const be = this.be!;
    const status = this.status;
    this.heldHeaders = null;
    this.headSent = true;
    res.writeStatus(status + ' ' + reason);
    writeResponseHeaders(res, headers, status, be, this, this.plan.clientClose, false);
    countStatus(this.rt.slab, status, this.fe.row, be.row, this.rt.servers[this.attempt.server].row);
    const held = this.heldBody;
    if (held.length > 0) {
      for (let i = 0; i < held.length; i++) this.onResponseBody(held[i]);
      held.length = 0;
    }
    if (this.heldComplete) {
      this.heldComplete = false;
      this.endBody();
    }
  }

  /** retry-on <status>: drop the server's answer (and its connection), send the request again. */
  private retryOnAnswer(conn: UpstreamConn): void {
    this.retryAfterFeed = false;
    if (this.conn === conn) {
      this.conn = null;
      conn.destroy();
    }
    this.upstreamComplete = false;
    // counted as a retry (attempt.retry), not as a response error: the answer was valid
    this.retryOrFail('SH', E502);
  }

  /** PersistenceTrip (response-head.ts): the request's cookie state. */
  get cookieTxn(): CookieTxn {
    return this.plan.cookieTxn;
  }
  get direct(): boolean {
    return this.attempt.direct;
  }

  onResponseUpgrade(rest: Buffer): void {
    // a view of the connection's read buffer: keep a copy for the tunnel
    this.upgradeRest = rest.length > 0 ? Buffer.from(rest) : null;
  }

  /** The server answered the upgrade with 101: check it, then hand everything to the upgrader. */
  private switchProtocols(): void {
    const conn = this.conn!;
    const res = this.res;
    const headers = this.upgradeHeaders!;
    const rest = this.upgradeRest ?? EMPTY;
    this.upgradeHeaders = null;
    this.upgradeRest = null;
    const plan = this.plan;
    if (res === null) {
      this.dropConn();
      this.attempt.release();
      this.finish();
      return;
    }
    if (checkSwitchingProtocols({ minor: conn.parser.versionMinor, headers }, plan.wsKey, plan.wsOffered) !== null) {
      this.conn = null;
      conn.destroy();
      countResponseError(this.rt, this.be!, this.attempt.server);
      this.attempt.release();
      this.answer(E502, 'PH');
      return;
    }
    this.status = 101;
    this.tr = performance.now() - this.tSent;
    this.headSent = true;
    this.deadline = 0;
    const server = this.attempt.server;
    observeStatus(this.rt, server, 101);
    countStatus(this.rt.slab, 101, this.fe.row, this.be!.row, this.rt.servers[server].row);
    // the tunnel's own ticker watches it from now on
    this.rt.active.delete(this);
    this.tunneled = true;
    this.conn = null;
    this.res = null;
    this.upgrader!.switchProtocols(this, res, conn, headers, rest);
  }

  /** From the tunnel: bytes it relayed, already counted in the stats as they passed. */
  countTunnel(bytesIn: number, bytesOut: number): void {
    this.bytesIn += bytesIn;
    this.liveIn += bytesIn;
    this.bytesOut += bytesOut;
    this.liveOut += bytesOut;
  }

  /** From the tunnel: both sides are done (the tunnel set `termination` if not clean). */
  endTunnel(): void {
    this.responded = true;
    this.attempt.release();
    this.finish();
  }

  onResponseBody(chunk: Buffer): void {
    const res = this.res;
    if (res === null || this.responded || this.retryAfterFeed) return;
    if (this.heldHeaders !== null) {
      // llhttp's chunked body slices are Buffers of their own: kept as they are
      this.heldBody.push(chunk);
      return;
    }
    this.bytesOut += chunk.length;
    // Free the server's slot before the last byte reaches the client, so the client's next
    // request (possibly on another worker) never sees this one as still active.
    if (this.out.framing === FRAMING_LENGTH && this.bytesOut >= this.out.total) this.attempt.release();
    const r = this.out.push(res, chunk);
    if (r === BODY_DONE) {
      this.responded = true;
    } else if (r === BODY_BLOCKED) {
      this.pauseUpstream();
      res.onWritable(this.onWritableB);
    }
  }

  onResponseComplete(): void {
    if (this.retryAfterFeed) return;
    this.upstreamComplete = true;
    this.attempt.release();
    const res = this.res;
    // outside a read: the server's close ended a close-delimited body
    const closed = this.feedConn === null;
    if (res !== null && !this.responded) {
      if (this.heldHeaders !== null) {
        this.heldComplete = true;
        return;
      }
      // the close comes outside any read's cork
      if (closed) res.cork(this.endCorkedB);
      else this.endBody();
    }
    // ...and the connection is gone: the exchange is over now, not at `timeout server`
    const conn = this.conn;
    if (closed && conn !== null && conn.state === CONN_CLOSED) {
      this.conn = null;
      this.maybeFinish();
    }
  }

  private endCorked(): void {
    if (this.res !== null && !this.responded) this.endBody();
  }

  private endBody(): void {
    if (this.out.end(this.res!, this.plan.isHead, this.status)) this.responded = true;
  }

  /** The client reads slower than the server sends: hold the server, watch the client instead. */
  private pauseUpstream(): void {
    if (this.upstreamPaused || this.conn === null) return;
    this.upstreamPaused = true;
    this.conn.socket.pause();
    this.deadline = 0;
    this.clientDeadline = Date.now() + this.fe.cfg.timeouts.client;
  }

  private resumeUpstream(): void {
    if (!this.upstreamPaused) return;
    this.upstreamPaused = false;
    if (this.body.done) this.clientDeadline = 0;
    if (this.conn !== null && this.conn.owner === this) {
      this.deadline = Date.now() + this.be!.cfg.timeouts.server;
      this.conn.socket.resume();
    }
  }

  private onWritable(offset: number): boolean {
    const res = this.res;
    if (res === null) return true;
    this.clientDeadline = Date.now() + this.fe.cfg.timeouts.client;
    const r = this.out.drain(res, offset);
    if (r === BODY_DONE) {
      this.responded = true;
      this.maybeFinish();
      return true;
    }
    if (r === BODY_BLOCKED) return false;
    this.resumeUpstream();
    return true;
  }

  private releaseConn(): void {
    const conn = this.conn;
    if (conn === null) return;
    this.conn = null;
    this.upstreamPaused = false;
    // Reusable only when the whole request went out and the response was cleanly framed.
    if (!this.body.done) conn.keepAlive = false;
    conn.done();
    this.attempt.release();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.responded && this.conn === null) this.finish();
  }

  // ---- failures ----

  onUpstreamFail(conn: UpstreamConn, phase: number): void {
    if (conn !== this.conn || this.finished) return;
    this.conn = null;
    const rt = this.rt;
    const server = this.attempt.server;
    // a held head (and body) never left: the answer below replaces it
    this.heldHeaders = null;
    this.heldBody.length = 0;
    this.heldComplete = false;
    this.retryAfterFeed = false;
    if (this.res === null) {
      this.attempt.release();
      this.finish();
      return;
    }
    const retryOn = this.be!.cfg.retryOn;
    if (phase === FAIL_CONNECT) {
      countConnectError(rt, this.be!, server);
      this.retryOrFail('SC', E503, (retryOn & RO_CONN_FAILURE) !== 0);
      return;
    }
    if (!this.headSent) {
      if (phase === FAIL_IO && conn.received === 0 && this.body.replayable) {
        // A reused connection the server closed while idle: re-send once on a fresh one (not a
        // retry, in HAProxy either).
        if (conn.served > 0) {
          this.connectFresh();
          return;
        }
        // A fresh connection closed with no answer: the request never left when its head was
        // still held back (a connection failure); otherwise it may be what killed the server,
        // and goes again only with `retry-on empty-response` (HAProxy's default: not).
        countResponseError(rt, this.be!, server);
        const mask = this.body.headHeld ? RO_CONN_FAILURE : RO_EMPTY_RESPONSE;
        this.retryOrFail('SH', E502, (retryOn & mask) !== 0);
        return;
      }
      countResponseError(rt, this.be!, server);
      // something that is not a complete response head: retry-on junk-response
      this.retryOrFail(phase === FAIL_PARSE ? 'PH' : 'SH', E502, (retryOn & RO_JUNK_RESPONSE) !== 0);
      return;
    }
    // The response was already streaming: all we can do is cut the client connection.
    rt.slab[rt.servers[server].row + C_SRV_ABRT]++;
    this.attempt.release();
    this.termination = 'SD';
    this.cutClient();
  }

  /**
   * Retry on another connection while retries last, when `allowed` (the backend's retry-on);
   * then answer `page` (503 by default).
   */
  private retryOrFail(termination: string, page: ErrorPage = E503, allowed = true): void {
    if (allowed && this.body.replayable && this.res !== null) {
      const next = this.attempt.retry();
      if (next === RETRY_SAME) {
        this.connectFresh();
        return;
      }
      if (next !== RETRY_NONE) {
        this.dispatch(this.attempt.exclude);
        return;
      }
    }
    this.attempt.release();
    this.answer(page, termination);
  }

  /** Called by the worker's ticker when `deadline` passed. */
  onTimeout(): void {
    if (this.finished) return;
    if (this.inQueue) {
      this.leaveQueues();
      this.answer(E503, 'sQ');
      return;
    }
    const conn = this.conn;
    if (conn !== null && !this.requestSent) {
      // connect timeout
      this.conn = null;
      conn.destroy();
      countConnectError(this.rt, this.be!, this.attempt.server);
      this.retryOrFail('sC', E503, (this.be!.cfg.retryOn & RO_CONN_FAILURE) !== 0);
      return;
    }
    if (conn !== null) {
      this.conn = null;
      conn.destroy();
    }
    if (!this.headSent) {
      this.rt.slab[this.be!.row + C_ERESP]++;
      // retry-on response-timeout (retryOrFail gives the slot back either way)
      this.retryOrFail('sH', E504, this.requestSent && this.body.done && (this.be!.cfg.retryOn & RO_RESPONSE_TIMEOUT) !== 0);
    } else {
      this.attempt.release();
      this.termination = 'sD';
      this.cutClient();
    }
  }

  /**
   * Called by the worker's ticker while `clientDeadline` watches the client (an upload, or a
   * download the client is not reading). uWS 20.30 cuts such a client after its own fixed
   * ~10 s (its timer runs during uploads whatever arrives, and from every write the client does
   * not take), so `timeout client` could never be longer. pause()+resume() re-arms that timer
   * for another 10 s: back to back, uWS restores the socket's poll events as they were, so a
   * pending onWritable is not lost (AsyncSocket::throttle_helper). Not while the client is
   * paused for backpressure: pause() already stopped the timer then.
   */
  keepClientTimer(now: number): void {
    if (now - this.clientTimerAt < CLIENT_TIMER_REARM_MS) return;
    this.clientTimerAt = now;
    const res = this.res;
    if (res === null || this.clientPaused || this.responded) return;
    res.pause();
    res.resume();
  }

  /** Called by the worker's ticker when the client stalled longer than `timeout client`. */
  onClientTimeout(): void {
    this.clientDeadline = 0;
    if (this.finished) return;
    this.rt.slab[this.fe.row + C_CLI_ABRT]++;
    this.dropConn();
    this.attempt.release();
    if (!this.headSent) {
      this.answer(E408, 'cD');
    } else {
      this.termination = 'cD';
      this.cutClient();
    }
  }

  protected onAborted(): void {
    this.res = null;
    // a deferred reject finishes the exchange itself; a tunnel's client is the upgrader's
    if (this.rejecting || this.tunneled || this.finished) return;
    this.leaveQueues();
    if (!this.responded) {
      this.termination = this.headSent ? 'CD' : 'CH';
      this.rt.slab[this.fe.row + C_CLI_ABRT]++;
      const server = this.attempt.server;
      if (server >= 0) this.rt.slab[this.rt.servers[server].row + C_CLI_ABRT]++;
    }
    this.responded = true;
    this.dropConn();
    this.attempt.release();
    this.finish();
  }

  /**
   * Let go of the server connection (the client is gone): back to the pool if its response
   * completed; when the whole request went out, left to finish its response (drain.ts);
   * otherwise closed.
   */
  private dropConn(): void {
    const conn = this.conn;
    if (conn === null) return;
    this.conn = null;
    if (this.upstreamComplete) conn.done();
    else if (!this.requestSent || !this.body.done || this.upgrader !== null || !drainConnection(conn, this.headSent ? this.out.framing : -1, this.be!.cfg.timeouts.server)) conn.destroy();
  }

  protected onFinished(): void {
    // The engine keeps delivering an unfinished upload to this object's onData: it may only
    // serve another request once the body is complete (onClientData recycles it then).
    if (this.body.done || this.res === null) this.recycle(this);
  }

  /** Clear per-request state so the object can serve another request. */
  reset(): void {
    this.resetSession();
    this.body.reset();
    this.out.reset();
    this.clientPaused = false;
    this.conn = null;
    this.requestSent = false;
    this.upgrader = null;
    this.upgradeHeaders = null;
    this.upgradeRest = null;
    this.tunneled = false;
    this.upstreamComplete = false;
    this.upstreamPaused = false;
    this.heldHeaders = null;
    this.heldBody.length = 0;
    this.heldComplete = false;
    this.retryAfterFeed = false;
    this.clientTimerAt = 0;
  }
}

/** How often keepClientTimer re-arms uWS's 10 s timer (its granularity is 4 s). */
const CLIENT_TIMER_REARM_MS = 2000;

const EMPTY = Buffer.alloc(0);

// setImmediate target: module-level, so holding a head allocates no closure
function flushHeldHead(ex: Exchange): void {
  ex.flushHeldHead();
}
