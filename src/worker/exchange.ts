// One client request and its trip to a server: the hot path, top to bottom.
//
// start() reads the request from uWS and builds the upstream head once; dispatch() picks a
// server and takes a pooled keep-alive connection (or opens one); the response is framed by
// llhttp (ResponseParser) and streamed back through uWS with backpressure both ways.
// Exchange objects are recycled so their bound callbacks are made once, not per request.

import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import {
  C_BIN,
  C_CLI_ABRT,
  C_DREQ,
  C_DRESP,
  C_INTERCEPTED,
  C_EREQ,
  C_ERESP,
  C_SRV_ABRT,
} from '../shared/counters';
import { BACKEND_STRIDE, B_QMAX, B_QUEUE } from '../shared/state';
import {
  CONN_BUSY,
  FAIL_CONNECT,
  FAIL_IO,
  FAIL_PARSE,
  type ConnOwner,
  type UpstreamConn,
} from '../upstream/connection';
import { FRAMING_CHUNKED, FRAMING_LENGTH, FRAMING_NONE } from '../upstream/response-parser';
import { E408, E502, E503, E504, requestErrorPage, writeErrorPage, type ErrorPage } from './error-pages';
import { collectRequestHead, rebuildHeaders, scratch } from './request-head';
import { ACT_DENY, ACT_FORWARD, ACT_REDIRECT, RequestView, evalRequest, evalResponse, fillRequestView, type Decision } from '../rules';
import { validateRequest } from './request-validate';
import { KEY_HDR, balanceKey, forwardedForLine, needsClientAddress, type BackendRuntime, type FrontendRuntime, type WorkerRuntime } from './runtime';
import {
  countConnectError,
  countRequestEnd,
  countRequestStart,
  countResponseError,
  countRetry,
  countStatus,
  observeStatus,
  raiseMax,
  releaseServerSlot,
  takeServerSlot,
} from './accounting';
import { finishResponseCookies, requestCookieLine, responseSetCookie } from './persistence';
import { CookieTxn } from '../persistence/cookie';
import { sameLower } from '../shared/ascii';
import { addressText } from '../shared/client-address';
import { drainConnection } from '../upstream/drain';
import { performance } from 'node:perf_hooks';

/** Request body bytes kept so a request can be re-sent after a failed or stale connection. */
const REPLAY_LIMIT = 64 * 1024;
/** Request body bytes buffered while connecting before the client is paused. */
const PENDING_LIMIT = 256 * 1024;

const BODY_NONE = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;

const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

export class Exchange implements ConnOwner {
  private readonly onAbortedB = this.onAborted.bind(this);
  private readonly onClientDataB = this.onClientData.bind(this);
  private readonly onWritableB = this.onWritable.bind(this);
  private readonly feedCorkedB = this.feedCorked.bind(this);
  private readonly sendRejectB = this.sendReject.bind(this);
  private rejectPage: ErrorPage | null = null;

  rt!: WorkerRuntime;
  fe!: FrontendRuntime;
  be: BackendRuntime | null = null;
  res: HttpResponse | null = null;

  // request
  method = '';
  uri = '';
  httpVersion = 'HTTP/1.1';
  clientIp = '';
  clientPort = 0;
  private head = '';
  private isHead = false;
  private bodyKind = BODY_NONE;
  private bodyDone = true;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private replay: Buffer[] = [];
  private bodySent = 0;
  private clientPaused = false;
  /** the client asked to close: uWS will, and the answer must say so (HAProxy does) */
  private clientClose = false;
  persistServer = -1;
  direct = false;
  /** waiting in the backend's queue for a server slot (maxconn) */
  private queued = false;
  /** waiting in the frontend's queue for a frontend/global maxconn slot */
  private feQueued = false;
  /** holds a frontend/global maxconn slot (WorkerRuntime.admit) */
  private admitted = false;
  private queueExclude = -1;
  private tQueued = 0;
  /** the balance hdr(NAME) value: kept because retries pick again after scratch is reused */
  private hashHeader: string | null = null;
  /** this exchange's request as rules see it (kept: response rules may read it) */
  private view: RequestView | null = null;
  /** the chosen backend has response rules to run */
  private responseRules = false;
  readonly cookieTxn = new CookieTxn();

  // server side
  server = -1;
  private conn: UpstreamConn | null = null;
  private requestSent = false;
  /** the request head waits for the first body bytes, to go out in the same write */
  private headHeld = false;
  private retriesLeft = 0;
  retries = 0;
  private holdsSlot = false;

  // response side
  private headSent = false;
  private responded = false;
  private upstreamComplete = false;
  private framing = FRAMING_NONE;
  private total = 0;
  /**
   * Response bytes the client could not take yet (Content-Length responses): body offsets
   * [outOffset, outOffset + stageLen). One buffer per exchange object, reused by every request
   * it serves, so a long download under backpressure allocates nothing per read.
   */
  private stage: Buffer | null = null;
  private stageLen = 0;
  private outOffset = 0;
  private upstreamPaused = false;
  private feedData: Buffer | null = null;
  private feedConn: UpstreamConn | null = null;
  status = 0;
  bytesOut = 0;
  bytesIn = 0;
  termination = '--';

  // timing (ms; performance.now() based, converted on record)
  acceptMs = 0;
  private t0 = 0;
  private tConnStart = 0;
  private tSent = 0;
  tq = 0;
  tw = 0;
  tc = -1;
  tr = -1;
  ta = -1;
  deadline = 0;
  /** client inactivity deadline (timeout client) while an upload or a slow download is in flight */
  clientDeadline = 0;
  frontend = 0;
  backend = -1;
  private finished = true;

  start(rt: WorkerRuntime, fe: FrontendRuntime, res: HttpResponse, req: HttpRequest): void {
    this.rt = rt;
    this.fe = fe;
    this.res = res;
    this.finished = false;
    this.acceptMs = Date.now();
    this.t0 = performance.now();
    this.frontend = fe.index;
    countRequestStart(rt.slab, fe.row, this.acceptMs);

    // Content routing first: it picks the backend, whose settings shape everything below.
    let be = fe.backend;
    const routing = rt.routing;
    let decision: Decision | null = null;
    if (routing.requestRules[fe.index]) {
      const view = (this.view ??= new RequestView());
      fillRequestView(view, req, res, fe.port, fe.tls, routing.requestHeaders[fe.index]);
      decision = rt.decision;
      evalRequest(routing, fe.index, view, decision);
      this.clientIp = view.srcIp; // '' unless a rule needed the text: filled below when used
      if (decision.action === ACT_FORWARD) be = decision.backend >= 0 ? rt.backends[decision.backend] : null;
    }
    this.responseRules = be !== null && routing.responseRules(fe.index, be.index);
    if (this.responseRules && decision === null) {
      fillRequestView((this.view ??= new RequestView()), req, res, fe.port, fe.tls, true);
    }
    this.be = be;
    this.backend = be === null ? -1 : be.index;

    this.method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const q = req.getQuery();
    this.uri = q ? url + '?' + q : url;
    this.isHead = this.method === 'HEAD';
    if (this.clientIp === '' && needsClientAddress(fe, be)) {
      this.clientIp = addressText(res);
    }

    collectRequestHead(req, be !== null && be.keyKind === KEY_HDR ? be.cfg.balanceHeader : null, fe.tls);
    this.clientClose = scratch.close || rt.draining;
    this.hashHeader = scratch.hashHeader;
    const bad = validateRequest(this.method, url, q, scratch, rt.limits);
    if (bad !== 0) {
      this.reject(requestErrorPage(bad));
      return;
    }
    if (decision !== null) {
      if (decision.action !== ACT_FORWARD) {
        this.answerDecision(res, decision);
        return;
      }
      if (decision.pathChanged) this.uri = this.view!.url();
      if (decision.headersChanged) {
        rebuildHeaders(this.view!.headers, this.view!.headersLen);
        this.hashHeader = scratch.hashHeader;
      }
    }
    let head = this.method + ' ' + this.uri + ' HTTP/1.1\r\n' + scratch.headers;
    if (be !== null && be.cookies !== null) head += requestCookieLine(this, be.cookies, be.firstServer, scratch.cookie);
    else if (scratch.cookie !== null) head += 'cookie: ' + scratch.cookie + CRLF;
    head += forwardedForLine(fe, be, this.clientIp, scratch.headers);
    if (fe.tls) head += 'x-forwarded-proto: https\r\n';
    if (scratch.chunked) {
      this.bodyKind = BODY_CHUNKED;
      head += 'transfer-encoding: chunked\r\n';
    } else if (scratch.contentLength > 0) {
      this.bodyKind = BODY_LENGTH;
    } else {
      this.bodyKind = BODY_NONE;
    }
    this.head = head + CRLF;
    this.bodyDone = this.bodyKind === BODY_NONE;

    res.onAborted(this.onAbortedB);
    if (this.bodyKind !== BODY_NONE) {
      res.onData(this.onClientDataB);
      this.clientDeadline = Date.now() + fe.cfg.timeouts.client;
    }

    if (be === null) {
      this.answer(E503, 'SC');
      return;
    }
    this.retriesLeft = be.cfg.retries;
    rt.active.add(this);
    if (!rt.admit(fe)) {
      this.waitAdmission();
      return;
    }
    this.admitted = true;
    this.dispatch(-1);
  }

  /** Frontend or global maxconn reached: wait for a slot, up to the backend's `timeout queue`. */
  private waitAdmission(): void {
    this.feQueued = true;
    this.tQueued = performance.now();
    this.deadline = Date.now() + this.be!.cfg.timeouts.queue;
    this.fe.queue.push(this);
    this.rt.admissionWaiting++;
  }

  /** Called by the worker when a maxconn slot may have freed; false = still full. */
  retryAdmission(): boolean {
    if (this.res === null || this.finished) {
      this.dequeue();
      return true;
    }
    if (!this.rt.admit(this.fe)) return false;
    this.admitted = true;
    this.dequeue();
    this.deadline = 0;
    this.dispatch(-1);
    return true;
  }

  /** Pick a server (avoiding `exclude`) and get a connection to it. */
  private dispatch(exclude: number): void {
    const be = this.be!;
    // A valid persistence cookie was already checked against the server's state.
    let server = this.persistServer;
    this.direct = server >= 0 && server !== exclude;
    if (!this.direct) server = be.balancer.pick(balanceKey(be, this.clientIp, this.uri, this.hashHeader), exclude);
    if (server < 0) {
      // Every usable server is at its maxconn: wait for a slot, up to `timeout queue`.
      if (be.hasMaxconn && this.rt.backendFull(be)) {
        this.enqueue(exclude);
        return;
      }
      this.answer(E503, 'SC');
      return;
    }
    if (!this.useServer(server)) {
      this.enqueue(exclude);
      return;
    }
    const pool = this.rt.servers[server].pool;
    const conn = pool.takeIdle();
    if (conn !== null) {
      this.conn = conn;
      conn.attach(this, this.isHead);
      this.tc = 0;
      this.sendRequest();
    } else {
      this.connectFresh();
    }
  }

  /** Wait in this worker's queue for the backend; see WorkerRuntime.drainQueue. */
  private enqueue(exclude: number): void {
    const rt = this.rt;
    const be = this.be!;
    this.queued = true;
    this.queueExclude = exclude;
    this.tQueued = performance.now();
    this.deadline = Date.now() + be.cfg.timeouts.queue;
    be.queue.push(this);
    const q = Atomics.add(rt.state.backends, be.index * BACKEND_STRIDE + B_QUEUE, 1) + 1;
    raiseMax(rt.state.backends, be.index * BACKEND_STRIDE + B_QMAX, q);
  }

  /** Leave the queue (dispatched, timed out or aborted). */
  private dequeue(): void {
    if (this.feQueued) {
      this.feQueued = false;
      const q = this.fe.queue;
      const i = q.indexOf(this);
      if (i >= 0) q.splice(i, 1);
      this.rt.admissionWaiting--;
      this.tw = performance.now() - this.tQueued;
      return;
    }
    if (!this.queued) return;
    this.queued = false;
    const be = this.be!;
    const i = be.queue.indexOf(this);
    if (i >= 0) be.queue.splice(i, 1);
    Atomics.sub(this.rt.state.backends, be.index * BACKEND_STRIDE + B_QUEUE, 1);
    this.tw = performance.now() - this.tQueued;
  }

  /** Called by the worker when a slot may have freed: try again; false = still full. */
  retryFromQueue(): boolean {
    if (this.res === null || this.finished) {
      this.dequeue();
      return true;
    }
    const be = this.be!;
    if (be.balancer.pick(null, this.queueExclude) < 0 && this.rt.backendFull(be)) return false;
    this.dequeue();
    this.deadline = 0;
    this.dispatch(this.queueExclude);
    return true;
  }

  /** false: the server reached its maxconn since the balancer chose it */
  private useServer(server: number): boolean {
    if (!takeServerSlot(this.rt, this.be!, server, this.acceptMs)) return false;
    this.server = server;
    this.holdsSlot = true;
    return true;
  }

  private releaseServer(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    releaseServerSlot(this.rt, this.be!, this.server);
  }

  private connectFresh(): void {
    this.requestSent = false;
    this.headHeld = false;
    this.tConnStart = performance.now();
    this.deadline = Date.now() + this.be!.cfg.timeouts.connect;
    this.conn = this.rt.servers[this.server].pool.connect(this);
  }

  onUpstreamConnect(conn: UpstreamConn): void {
    if (conn !== this.conn) return;
    conn.attach(this, this.isHead);
    this.tc = performance.now() - this.tConnStart;
    this.sendRequest();
  }

  private sendRequest(): void {
    const conn = this.conn!;
    const sock = conn.socket;
    this.requestSent = true;
    this.tSent = performance.now();
    this.deadline = Date.now() + this.be!.cfg.timeouts.server;
    if (this.bodyKind === BODY_NONE) {
      conn.writeHead(this.head);
      return;
    }
    if (this.bodyKind === BODY_LENGTH && this.bodySent === 0 && this.pending.length === 0 && !this.bodyDone) {
      // No body byte yet: uWS hands over the body right after this handler when it came in the
      // same read (a small POST): the head waits for it so both go in one write (one syscall,
      // one segment, one wake-up of the server instead of two). Not for chunked uploads: a
      // streaming client may wait for the server's first bytes before it sends any. Nor
      // longer than this turn of the event loop, for a client that waits all the same.
      this.headHeld = true;
      setImmediate(flushHeldHead, this);
      return;
    }
    sock.cork();
    sock.write(this.head);
    // Chunks kept for replay were already counted; re-send them first on a retry.
    let ok = true;
    if (this.bodySent > 0) {
      for (let i = 0; i < this.replay.length; i++) ok = this.writeBody(this.replay[i]);
    }
    const pend = this.pending;
    for (let i = 0; i < pend.length; i++) ok = this.writeChunk(pend[i]);
    pend.length = 0;
    this.pendingBytes = 0;
    if (this.bodyDone && this.bodyKind === BODY_CHUNKED) ok = sock.write(LAST_CHUNK);
    sock.uncork();
    if (!ok) this.pauseClient();
    else if (this.clientPaused && this.res !== null) {
      this.clientPaused = false;
      this.res.resume();
    }
  }

  /** The body did not come with the head: send the head alone (see sendRequest). */
  flushHeldHead(): void {
    const conn = this.conn;
    if (!this.headHeld || conn === null || conn.owner !== this || conn.state !== CONN_BUSY) return;
    this.headHeld = false;
    conn.socket.write(this.head);
  }

  /** Write a body chunk to the server and remember it for replay while small enough. */
  private writeChunk(chunk: Buffer): boolean {
    this.bodySent += chunk.length;
    if (this.bodySent <= REPLAY_LIMIT) this.replay.push(chunk);
    else if (this.replay.length > 0) this.replay.length = 0;
    return this.writeBody(chunk);
  }

  private writeBody(chunk: Buffer): boolean {
    const sock = this.conn!.socket;
    if (this.bodyKind === BODY_CHUNKED) {
      if (chunk.length === 0) return true;
      sock.write(chunk.length.toString(16) + CRLF);
      sock.write(chunk);
      return sock.write(CRLF);
    }
    return sock.write(chunk);
  }

  private onClientData(ab: ArrayBuffer, isLast: boolean): void {
    const n = ab.byteLength;
    this.bytesIn += n;
    this.rt.slab[this.fe.row + C_BIN] += n;
    // uWS reuses the memory behind `ab` after this call returns: copy it.
    if (isLast) this.bodyDone = true;
    this.clientDeadline = isLast ? (this.upstreamPaused ? this.clientDeadline : 0) : Date.now() + this.fe.cfg.timeouts.client;
    // The answer is already complete (the server replied before reading the whole body):
    // the rest of the upload has nowhere to go.
    if (this.responded || this.finished) {
      if (isLast && this.finished) this.rt.onExchangeDone(this);
      return;
    }
    const chunk = n > 0 ? Buffer.from(new Uint8Array(ab)) : null;
    // uWS 20.30 keeps its fixed ~10 s timer running during an upload (incoming body bytes do
    // not reset it), so any upload longer than that was cut. pause()+resume() re-arms it;
    // gatehouse's own `timeout client` still catches a client that stops sending.
    if (!isLast && !this.clientPaused && this.res !== null) {
      this.res.pause();
      this.res.resume();
    }
    const conn = this.conn;
    if (conn !== null && this.requestSent && conn.state === CONN_BUSY && conn.owner === this) {
      // sending to the server is server-side activity (HAProxy's timeout server is inactivity)
      if (!this.headSent) this.deadline = Date.now() + this.be!.cfg.timeouts.server;
      const held = this.headHeld;
      if (held) {
        this.headHeld = false;
        conn.socket.cork();
        conn.socket.write(this.head);
      }
      let ok = true;
      if (chunk !== null) ok = this.writeChunk(chunk);
      if (isLast && this.bodyKind === BODY_CHUNKED) ok = conn.socket.write(LAST_CHUNK);
      if (held) conn.socket.uncork();
      if (!ok) this.pauseClient();
      return;
    }
    if (chunk !== null) {
      this.pending.push(chunk);
      this.pendingBytes += n;
      if (this.pendingBytes > PENDING_LIMIT) this.pauseClient();
    }
  }

  private pauseClient(): void {
    if (this.clientPaused || this.res === null || this.bodyDone) return;
    this.clientPaused = true;
    this.res.pause();
  }

  onUpstreamDrain(): void {
    if (this.clientPaused && this.res !== null) {
      this.clientPaused = false;
      this.res.resume();
    }
  }

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
    if (this.upstreamComplete && this.conn === conn) this.releaseConn();
  }

  private feedCorked(): void {
    this.feedConn!.parse(this.feedData!);
  }

  onResponseHead(status: number, reason: string, headers: string[], framing: number, length: number, keepAlive: boolean): void {
    const res = this.res;
    if (res === null) return;
    this.conn!.keepAlive = keepAlive;
    this.status = status;
    this.framing = framing;
    this.total = length;
    this.tr = performance.now() - this.tSent;
    this.headSent = true;
    observeStatus(this.rt, this.server, status);
    if (this.responseRules) {
      const rv = this.rt.responseView;
      rv.reset();
      rv.status = status;
      for (let i = 0; i < headers.length; i += 2) rv.addHeader(headers[i], headers[i + 1]);
      const d = this.rt.responseDecision;
      evalResponse(this.rt.routing, this.fe.index, this.be!.index, this.view!, rv, d);
      if (d.action !== ACT_FORWARD) {
        // The server's answer is discarded (its body is read and dropped; the connection
        // stays reusable once it completes).
        this.writeDecision(res, d);
        this.rt.slab[this.be!.row + C_DRESP]++;
        this.rt.slab[this.fe.row + C_DRESP]++;
        this.termination = 'PH';
        return;
      }
      if (d.headersChanged) headers = rv.headers.slice(0, rv.headersLen);
    }
    res.writeStatus(status + ' ' + reason);
    const listed = connectionListed(headers);
    const be = this.be!;
    const cookies = be.cookies;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name.length === 0 || isHopByHopResponseHeader(name)) continue;
      if (listed !== null && listed.includes(name.toLowerCase())) continue;
      if (cookies !== null && sameLower(name, 'set-cookie')) {
        const v = responseSetCookie(this, cookies, be.firstServer, headers[i + 1]);
        if (v !== null) res.writeHeader(name, v);
        continue;
      }
      res.writeHeader(name, headers[i + 1]);
    }
    if (cookies !== null) finishResponseCookies(this, cookies, be.firstServer, res, status, headers);
    if (this.clientClose) res.writeHeader('connection', 'close');
    countStatus(this.rt.slab, status, this.fe.row, this.be!.row, this.rt.servers[this.server].row);
  }

  onResponseBody(chunk: Buffer): void {
    const res = this.res;
    if (res === null || this.responded) return;
    this.bytesOut += chunk.length;
    if (this.framing === FRAMING_LENGTH) {
      // Free the server's slot before the last byte reaches the client, so the client's next
      // request (possibly on another worker) never sees this one as still active.
      if (this.bytesOut >= this.total) this.releaseServer();
      if (this.stageLen > 0) {
        this.stageChunk(chunk);
        return;
      }
      const off = res.getWriteOffset();
      const r = res.tryEnd(chunk, this.total);
      if (r[1]) {
        this.responded = true;
      } else if (!r[0]) {
        // uWS took part of it (up to its write offset); keep the whole chunk and resend the rest
        this.outOffset = off;
        this.stageChunk(chunk);
        this.pauseUpstream();
        res.onWritable(this.onWritableB);
      }
      return;
    }
    if (!res.write(chunk)) {
      this.pauseUpstream();
      res.onWritable(this.onWritableB);
    }
  }

  /** Keep a copy of `chunk` (a view of the shared read buffer) until the client can take it. */
  private stageChunk(chunk: Buffer): void {
    const need = this.stageLen + chunk.length;
    let stage = this.stage;
    if (stage === null || stage.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 64 * 1024));
      if (stage !== null && this.stageLen > 0) stage.copy(grown, 0, 0, this.stageLen);
      this.stage = stage = grown;
    }
    chunk.copy(stage, this.stageLen);
    this.stageLen = need;
  }

  onResponseComplete(): void {
    this.upstreamComplete = true;
    this.releaseServer();
    const res = this.res;
    if (res === null || this.responded) return;
    if (this.framing === FRAMING_NONE) {
      this.responded = true;
      if (this.isHead || this.status === 204 || this.status === 304) {
        if (this.isHead && this.total >= 0) res.endWithoutBody(this.total);
        else res.endWithoutBody();
      } else {
        res.end();
      }
    } else if (this.framing !== FRAMING_LENGTH) {
      this.responded = true;
      res.end();
    }
    // FRAMING_LENGTH ends inside tryEnd, possibly later from onWritable.
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
    if (this.bodyDone) this.clientDeadline = 0;
    if (this.conn !== null && this.conn.owner === this) {
      this.deadline = Date.now() + this.be!.cfg.timeouts.server;
      this.conn.socket.resume();
    }
  }

  private onWritable(offset: number): boolean {
    const res = this.res;
    if (res === null) return true;
    this.clientDeadline = Date.now() + this.fe.cfg.timeouts.client;
    if (this.framing === FRAMING_LENGTH && this.stageLen > 0) {
      const from = offset > this.outOffset ? offset - this.outOffset : 0;
      const r = res.tryEnd(this.stage!.subarray(from, this.stageLen), this.total);
      if (r[1]) {
        this.stageLen = 0;
        this.responded = true;
        this.maybeFinish();
        return true;
      }
      if (!r[0]) return false;
      this.stageLen = 0;
      this.outOffset = res.getWriteOffset();
    }
    this.resumeUpstream();
    return true;
  }

  private releaseConn(): void {
    const conn = this.conn;
    if (conn === null) return;
    this.conn = null;
    this.upstreamPaused = false;
    // Reusable only when the whole request went out and the response was cleanly framed.
    if (!this.bodyDone) conn.keepAlive = false;
    conn.done();
    this.releaseServer();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.responded && this.conn === null) this.finish();
  }

  onUpstreamFail(conn: UpstreamConn, phase: number): void {
    if (conn !== this.conn || this.finished) return;
    this.conn = null;
    const rt = this.rt;
    const srv = rt.servers[this.server];
    if (this.res === null) {
      this.releaseServer();
      this.finish();
      return;
    }
    if (phase === FAIL_CONNECT) {
      countConnectError(rt, this.be!, this.server);
      this.retryOrFail('SC');
      return;
    }
    if (!this.headSent) {
      if (phase === FAIL_IO && conn.received === 0 && this.canReplay()) {
        // A reused connection the server closed while idle: re-send once on a fresh one.
        if (conn.served > 0) {
          this.connectFresh();
          return;
        }
        // A fresh connection closed with no answer (a server dying still completes handshakes
        // from its backlog): an idempotent request can safely go again, as nginx's default
        // proxy_next_upstream and HAProxy's `retry-on empty-response` do; so can any request
        // whose head was still held back (nothing was written).
        if (isIdempotent(this.method) || this.headHeld) {
          countResponseError(rt, this.be!, this.server);
          this.retryOrFail('SH', E502);
          return;
        }
      }
      countResponseError(rt, this.be!, this.server);
      this.releaseServer();
      this.answer(E502, phase === FAIL_PARSE ? 'PH' : 'SH');
      return;
    }
    // The response was already streaming: all we can do is cut the client connection.
    rt.slab[srv.row + C_SRV_ABRT]++;
    this.releaseServer();
    this.termination = 'SD';
    this.cutClient();
  }

  private canReplay(): boolean {
    return this.bodySent <= REPLAY_LIMIT;
  }

  /** Retry on another connection while retries last; then answer `page` (503 by default). */
  private retryOrFail(termination: string, page: ErrorPage = E503): void {
    const rt = this.rt;
    const failed = this.server;
    this.releaseServer();
    if (this.retriesLeft > 0 && this.canReplay() && this.res !== null) {
      this.retriesLeft--;
      this.retries++;
      // HAProxy's default `option redispatch`: the last retry goes to another server.
      const redispatch = this.retriesLeft === 0 && this.be!.cfg.redispatch;
      countRetry(rt, this.be!, failed, redispatch);
      if (redispatch) {
        this.persistServer = -1;
        this.dispatch(failed);
        return;
      }
      if (this.useServer(failed)) this.connectFresh();
      else this.dispatch(-1);
      return;
    }
    this.answer(page, termination);
  }

  /** Called by the worker's ticker when `deadline` passed. */
  onTimeout(): void {
    if (this.finished) return;
    if (this.queued || this.feQueued) {
      this.dequeue();
      this.answer(E503, 'sQ');
      return;
    }
    const conn = this.conn;
    if (conn !== null && !this.requestSent) {
      // connect timeout
      this.conn = null;
      conn.destroy();
      countConnectError(this.rt, this.be!, this.server);
      this.retryOrFail('sC');
      return;
    }
    if (conn !== null) {
      this.conn = null;
      conn.destroy();
    }
    this.releaseServer();
    if (!this.headSent) {
      this.rt.slab[this.be!.row + C_ERESP]++;
      this.answer(E504, 'sH');
    } else {
      this.termination = 'sD';
      this.cutClient();
    }
  }

  /** Called by the worker's ticker when the client stalled longer than `timeout client`. */
  onClientTimeout(): void {
    this.clientDeadline = 0;
    if (this.finished) return;
    this.rt.slab[this.fe.row + C_CLI_ABRT]++;
    this.dropConn();
    this.releaseServer();
    if (!this.headSent) {
      this.answer(E408, 'cD');
    } else {
      this.termination = 'cD';
      this.cutClient();
    }
  }

  private cutClient(): void {
    const res = this.res;
    if (res !== null && !this.responded) {
      this.responded = true;
      this.res = null;
      res.close();
    }
    this.finish();
  }

  /**
   * Refuse a request before anything went upstream, then close the client connection. The
   * answer waits for the next turn of the event loop: uWS parses every request in a read before
   * returning, so bytes after a rejected head (a smuggled or pipelined request) would reach
   * start() first. Deferred, uWS sees them arrive while a response is pending and closes the
   * connection instead (nothing forwarded, no answer), while a lone bad request gets its 4xx.
   */
  private reject(page: ErrorPage): void {
    this.rejectPage = page;
    // the request never reaches a backend: count it as the frontend's request error only
    this.be = null;
    this.backend = -1;
    this.rt.slab[this.fe.row + C_EREQ]++;
    this.res!.onAborted(this.onAbortedB);
    setImmediate(this.sendRejectB);
  }

  private sendReject(): void {
    const page = this.rejectPage!;
    this.rejectPage = null;
    const res = this.res;
    this.termination = res === null ? 'CR' : 'PR';
    this.status = (page.status.charCodeAt(0) - 48) * 100 + (page.status.charCodeAt(1) - 48) * 10 + (page.status.charCodeAt(2) - 48);
    if (res !== null) {
      this.responded = true;
      this.headSent = true;
      this.bytesOut += page.body.length;
      countStatus(this.rt.slab, this.status, this.fe.row, -1, -1);
      res.cork(() => writeErrorPage(res, page, true));
    }
    this.finish();
  }

  /** Request rules answered (deny, return, redirect): the request goes to no server. */
  private answerDecision(res: HttpResponse, d: Decision): void {
    this.be = null;
    this.backend = -1;
    this.bodyDone = true;
    if (d.action === ACT_DENY) this.rt.slab[this.fe.row + C_DREQ]++;
    else this.rt.slab[this.fe.row + C_INTERCEPTED]++;
    this.termination = d.action === ACT_DENY ? 'PR' : d.action === ACT_REDIRECT ? 'LR' : '--';
    this.writeDecision(res, d);
    this.finish();
  }

  /** Write a rule's answer (status, headers, body) to the client. */
  private writeDecision(res: HttpResponse, d: Decision): void {
    this.responded = true;
    this.headSent = true;
    this.status = d.status;
    countStatus(this.rt.slab, d.status, this.fe.row, -1, -1);
    this.bytesOut += d.body.length;
    const close = this.clientClose;
    res.cork(() => {
      res.writeStatus(d.status + ' ' + d.reason);
      for (let i = 0; i < d.headersLen; i += 2) res.writeHeader(d.headers[i], d.headers[i + 1]);
      if (close) res.writeHeader('connection', 'close');
      res.end(d.body);
    });
  }

  /** Answer with one of HAProxy's error pages, or cut the client if a response already began. */
  answer(page: ErrorPage, termination: string): void {
    this.termination = termination;
    const res = this.res;
    if (res === null || this.responded) {
      this.finish();
      return;
    }
    if (this.headSent) {
      this.cutClient();
      return;
    }
    this.responded = true;
    this.headSent = true;
    this.status = (page.status.charCodeAt(0) - 48) * 100 + (page.status.charCodeAt(1) - 48) * 10 + (page.status.charCodeAt(2) - 48);
    countStatus(this.rt.slab, this.status, this.fe.row, this.be === null ? -1 : this.be.row, -1);
    this.bytesOut += page.body.length;
    // After a 408 the client is not sending what it announced: close, as HAProxy does.
    const close = this.clientClose || page === E408;
    res.cork(() => writeErrorPage(res, page, close));
    this.finish();
  }

  private onAborted(): void {
    this.res = null;
    // a deferred reject finishes the exchange itself
    if (this.rejectPage !== null) return;
    if (this.finished) return;
    this.dequeue();
    if (!this.responded) {
      this.termination = this.headSent ? 'CD' : 'CH';
      this.rt.slab[this.fe.row + C_CLI_ABRT]++;
      if (this.server >= 0) this.rt.slab[this.rt.servers[this.server].row + C_CLI_ABRT]++;
    }
    this.responded = true;
    this.dropConn();
    this.releaseServer();
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
    else if (!this.requestSent || !this.bodyDone || !drainConnection(conn, this.headSent ? this.framing : -1, this.be!.cfg.timeouts.server)) conn.destroy();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const rt = this.rt;
    this.ta = performance.now() - this.t0;
    const beRow = this.be === null ? -1 : this.be.row;
    const srvRow = this.server >= 0 ? rt.servers[this.server].row : -1;
    countRequestEnd(rt.slab, this.fe.row, beRow, srvRow, this.bytesIn, this.bytesOut, this.ta, this.tr, this.tc);
    rt.active.delete(this);
    if (this.admitted) {
      this.admitted = false;
      rt.releaseAdmission(this.fe);
    }
    if (rt.telemetry !== null) rt.telemetry.onRequestDone(this);
    // uWS keeps delivering an unfinished upload to this object's onData: it may only serve
    // another request once the body is complete (onClientData recycles it then).
    if (this.bodyDone || this.res === null) rt.onExchangeDone(this);
  }

  /** Clear per-request state so the object can serve another request. */
  reset(): void {
    this.res = null;
    this.be = null;
    this.head = '';
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.replay.length = 0;
    this.bodySent = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.clientPaused = false;
    this.persistServer = -1;
    this.direct = false;
    this.server = -1;
    this.conn = null;
    this.requestSent = false;
    this.headHeld = false;
    this.retries = 0;
    this.holdsSlot = false;
    this.headSent = false;
    this.responded = false;
    this.upstreamComplete = false;
    this.stageLen = 0;
    // a buffer grown for an unusual burst is not kept for every later request
    if (this.stage !== null && this.stage.length > 256 * 1024) this.stage = null;
    this.outOffset = 0;
    this.upstreamPaused = false;
    this.status = 0;
    this.termination = '--';
    this.tc = -1;
    this.tr = -1;
    this.ta = -1;
    this.clientIp = '';
    this.clientClose = false;
    this.responseRules = false;
    this.hashHeader = null;
    this.queued = false;
    this.feQueued = false;
    this.admitted = false;
    this.queueExclude = -1;
    this.tw = 0;
    this.deadline = 0;
    this.clientDeadline = 0;
  }
}

/** Response headers that describe this hop only; uWS writes its own framing and Date. */
function isHopByHopResponseHeader(name: string): boolean {
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

/** Names a response's Connection header lists as hop-by-hop (besides close/keep-alive). */
function connectionListed(headers: string[]): string[] | null {
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

// setImmediate target: module-level, so holding a head allocates no closure
function flushHeldHead(ex: Exchange): void {
  ex.flushHeldHead();
}

/** RFC 9110 9.2.2: a request that may be sent twice with the effect of once. */
function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}
