// One client request and its trip to a server, the way there and back: the hot path, top to
// bottom. What happens when the trip fails, and the hand-off of a 101 to a tunnel, are the
// Exchange's own (exchange.ts).
//
// start() builds the request's plan (plan.ts: routing, validation, the upstream head) and its
// session (session.ts: counters, admission, the log record); dispatch() asks the server attempt
// (attempt.ts) for a server and takes a pooled keep-alive connection or opens one. From there
// this file only moves bytes: the request body up, the response (framed by llhttp in
// ResponseParser) down to the client, with backpressure both ways. A WebSocket upgrade is the
// same trip until the server answers 101; then the engine's Upgrader takes over the client and
// the connection (src/worker/websocket.ts). Exchange objects are recycled so their bound
// callbacks are made once, not per request.

import { C_BIN, C_DRESP, C_INTERCEPTED } from '../shared/counters';
import { CONN_BUSY, CONN_CLOSED, type UpstreamConn } from '../upstream/connection';
import { queueHead } from '../upstream/head-batch';
import { FRAMING_CHUNKED, FRAMING_LENGTH, FRAMING_UPGRADE } from '../upstream/response-parser';
import { ACT_FORWARD, STATS_FRONTEND, evalResponse } from '../rules';
import type { CookieTxn } from '../persistence/cookie';
import type { FrontendRuntime, WorkerRuntime } from '../worker/runtime';
import { countStatus, observeStatus } from './accounting';
import { ASSIGN_FULL, ASSIGN_NOSRV } from './attempt';
import { retryOnStatus } from '../config/retry-on';
import type { ClientRequest, ClientResponse } from './client';
import { E503, requestErrorPage } from './error-pages';
import { BODY_NONE, PLAN_FORWARD, PLAN_REJECT } from './plan';
import { RequestBody } from './request-body';
import { BODY_BLOCKED, BODY_DONE, ResponseBody } from './response-body';
import { bytesToText, textToBytes, writeResponseHeaders } from './response-head';
import { Session } from './session';
import { monoNow } from '../shared/clock';
import { performance } from 'node:perf_hooks';

import type { HttpConnOwner } from '../upstream/connection';
import type { ServerPool } from '../upstream/pool';
import type { ConnWaiter } from '../upstream/connect-pacing';
import type { ConnParams } from '../upstream/conn-params';
import { clientAddresses } from './client-addresses';
import type { Upgrader } from './exchange';

export abstract class ExchangeFlow extends Session implements HttpConnOwner, ConnWaiter {
  private readonly onClientDataB = this.onClientData.bind(this);
  private readonly onWritableB = this.onWritable.bind(this);
  private readonly feedCorkedB = this.feedCorked.bind(this);
  private readonly endCorkedB = this.endCorked.bind(this);

  protected readonly body = new RequestBody();
  protected readonly out = new ResponseBody();
  protected clientPaused = false;

  // server side
  protected conn: UpstreamConn | null = null;
  /** the pool whose line this request waits in for a connection (connect-pacing.ts), or null */
  protected connLine: ServerPool | null = null;
  protected requestSent = false;
  protected upgrader: Upgrader | null = null;
  /** the server's 101 waits for the end of the parser's callbacks (see switchProtocols) */
  protected upgradeHeaders: string[] | null = null;
  protected upgradeRest: Buffer | null = null;
  /** the exchange became a tunnel: the upgrader owns the client and the connection */
  protected tunneled = false;

  // response side
  protected upstreamComplete = false;
  protected upstreamPaused = false;
  private feedData: Buffer | null = null;
  private feedConn: UpstreamConn | null = null;
  private tConnStart = 0;
  protected tSent = 0;
  /**
   * A chunked response's head (and the body after it) waits for the end of the read it came
   * in: a bad chunk in that same read is then a 502, not a cut (nothing left for the client).
   */
  protected heldHeaders: string[] | null = null;
  private heldReason = '';
  protected readonly heldBody: Buffer[] = [];
  protected heldComplete = false;
  /** the server's answer is discarded for a retry (retry-on <status>) once the read is parsed */
  protected retryAfterFeed = false;
  /** when the engine's own client timer was last re-armed (keepClientTimer) */
  protected clientTimerAt = 0;

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
    // the frontend's stats uri took it: HAProxy counts it as intercepted by the frontend
    if (plan.decision !== null && plan.decision.stats === STATS_FRONTEND) rt.slab[fe.row + C_INTERCEPTED]++;
    this.body.begin(plan.bodyKind);
    res.onAborted(this.onAbortedB);
    if (!this.body.done) {
      res.onData(this.onClientDataB);
      this.clientDeadline = monoNow() + fe.cfg.timeouts.client;
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
  protected dispatch(exclude: number): void {
    const r = this.attempt.assign(this.plan.key, exclude);
    if (r === ASSIGN_NOSRV) {
      this.answer(E503, 'SC');
      return;
    }
    if (r === ASSIGN_FULL) {
      // Every usable server is at its maxconn: wait for a slot, up to `timeout queue`.
      this.attempt.enqueue(this, exclude);
      this.deadline = monoNow() + this.be!.cfg.timeouts.queue;
      return;
    }
    const stick = this.be!.stick;
    if (stick !== null) stick.store(this.plan.view!, this.attempt.server - this.be!.firstServer);
    // An upgrade gets a connection of its own: after a 101 it never goes back to the pool.
    const pool = this.rt.servers[this.attempt.server].pool;
    // Connections made for one client (PROXY header, SNI from a header) and upgrades are not
    // paced: an idle one of the line would not fit them.
    const paced = this.upgrader === null && !pool.perClient;
    if (paced && pool.waiters.length > 0) {
      this.waitForConn(pool, false); // behind the requests already in line
      return;
    }
    const conn = this.upgrader === null ? pool.takeIdle(pool.perClient ? this.connParams(pool) : null) : null;
    if (conn !== null) this.useConn(conn);
    else if (!paced) this.connectFresh();
    else this.waitForConn(pool, true);
  }

  // ---- the line for a new connection (upstream/connect-pacing.ts) ----

  /** Connect now if the turn's budget allows, else wait in `pool`'s line. */
  private waitForConn(pool: ServerPool, mayConnect: boolean): void {
    const pacer = this.rt.pacer;
    if (mayConnect ? pacer.admit(pool, this) : (pacer.wait(pool, this), false)) {
      this.connectFresh();
      return;
    }
    this.connLine = pool;
    // the wait counts as connecting (timeout connect, then 503 sC like a connect that hangs)
    this.deadline = monoNow() + this.be!.cfg.timeouts.connect;
  }

  waitsIn(pool: ServerPool): boolean {
    return this.connLine === pool && !this.finished && this.res !== null;
  }

  useConn(conn: UpstreamConn): void {
    this.connLine = null;
    this.conn = conn;
    conn.attach(this, this.plan.isHead, false);
    this.tc = 0;
    this.sendRequest();
  }

  connectNow(): void {
    this.connLine = null;
    this.connectFresh();
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

  protected connectFresh(): void {
    this.requestSent = false;
    this.body.headHeld = false;
    this.tConnStart = performance.now();
    this.deadline = monoNow() + this.be!.cfg.timeouts.connect;
    const pool = this.rt.servers[this.attempt.server].pool;
    this.conn = pool.connect(this, pool.perClient ? this.connParams(pool) : null);
  }

  /** send-proxy / sni req.hdr(): what this client's connections to the server carry. */
  private connParams(pool: ServerPool): ConnParams {
    return pool.params(this.plan.sniValue, this.res === null ? null : clientAddresses(this.res, this.clientIp, this.clientPort, this.fe));
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
    this.deadline = monoNow() + this.be!.cfg.timeouts.server;
    if (plan.bodyKind === BODY_NONE) {
      // written with the other heads of this loop turn (head-batch.ts)
      queueHead(conn, plan.rawHead ?? plan.head);
      return;
    }
    if (this.body.holdHead()) {
      // ...but not longer than this turn of the event loop, for a client that waits all the same
      setImmediate(flushHeldHead, this);
      return;
    }
    if (!this.body.sendWithHead(conn.socket, plan.rawHead ?? plan.head)) this.pauseClient();
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
    conn.socket.write(this.plan.rawHead ?? this.plan.head);
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
    this.clientDeadline = isLast ? (this.upstreamPaused ? this.clientDeadline : 0) : monoNow() + this.fe.cfg.timeouts.client;
    // The answer is already complete (the server replied before reading the whole body):
    // the rest of the upload has nowhere to go.
    if (this.responded || this.finished) {
      if (isLast && this.finished) this.recycleSelf();
      return;
    }
    // The engine reuses the memory behind `ab` after this call returns: copy it.
    const chunk = n > 0 ? this.body.copy(ab instanceof ArrayBuffer ? new Uint8Array(ab) : ab) : null;
    const conn = this.conn;
    if (conn !== null && this.requestSent && conn.state === CONN_BUSY && conn.owner === this) {
      // sending to the server is server-side activity (HAProxy's timeout server is inactivity)
      if (!this.headSent) this.deadline = monoNow() + this.be!.cfg.timeouts.server;
      if (!this.body.forward(conn.socket, this.plan.rawHead ?? this.plan.head, chunk, isLast)) this.pauseClient();
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
    this.deadline = monoNow() + this.be!.cfg.timeouts.server;
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

  /** PersistenceTrip (response-head.ts): the request's cookie state. */
  get cookieTxn(): CookieTxn {
    return this.plan.cookieTxn;
  }
  get direct(): boolean {
    return this.attempt.direct;
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
    this.clientDeadline = monoNow() + this.fe.cfg.timeouts.client;
  }

  private resumeUpstream(): void {
    if (!this.upstreamPaused) return;
    this.upstreamPaused = false;
    if (this.body.done) this.clientDeadline = 0;
    if (this.conn !== null && this.conn.owner === this) {
      this.deadline = monoNow() + this.be!.cfg.timeouts.server;
      this.conn.socket.resume();
    }
  }

  private onWritable(offset: number): boolean {
    const res = this.res;
    if (res === null) return true;
    this.clientDeadline = monoNow() + this.fe.cfg.timeouts.client;
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

  // ---- implemented by Exchange (exchange.ts) ----

  abstract onUpstreamFail(conn: UpstreamConn, phase: number): void;
  abstract onResponseUpgrade(rest: Buffer): void;
  /** retry-on <status>: the answer just parsed is dropped and the request sent again */
  protected abstract retryOnAnswer(conn: UpstreamConn): void;
  /** the server's 101 was parsed: check it and hand over to the upgrader */
  protected abstract switchProtocols(): void;
  /** the object may serve another request */
  protected abstract recycleSelf(): void;
}

// setImmediate target: module-level, so holding a head allocates no closure
function flushHeldHead(ex: ExchangeFlow): void {
  ex.flushHeldHead();
}
