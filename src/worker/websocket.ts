// WebSocket proxying (see docs/websocket.md).
//
// uWS cannot hand over the raw bytes of a connection after a 101, so the proxy terminates the
// WebSocket framing on each side: uWS speaks it to the client (`app.ws('/*', behavior)`), and a
// Tunnel speaks it to the server over a new `net` socket (never a pooled keep-alive one), with
// the masked client framing of src/upstream/ws-frame.ts. Messages are relayed whole, text as
// text and binary as binary; pings from the server are passed on, the client's pongs go back.
//
// The upgrade request is balanced like any request: frontend rules (deny, redirect, use_backend,
// header edits), the backend's balancer and its hash key, cookie persistence, retries and
// redispatch on connect failure. The server's answer decides: a valid 101 upgrades the client
// (the server's extra 101 headers are passed on), anything else is forwarded as a normal answer.
//
// Backpressure: server to client, reading the server stops while uWS holds more than HIGH_WATER
// bytes for the client and resumes from `drain`. Client to server, uWS 20.30 has no way to stop
// reading a WebSocket, so bytes the server does not take are buffered up to UPSTREAM_LIMIT; past
// that the tunnel is closed (1008). `timeout tunnel` (the backend's) is an inactivity timeout in
// both directions, checked by the worker's ticker (no timer per tunnel or per message).

import * as net from 'node:net';
import type { HttpRequest, HttpResponse, WebSocket, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js';
import uWS from 'uWebSockets.js';
import {
  C_BIN,
  C_BOUT,
  C_CLI_ABRT,
  C_DREQ,
  C_EREQ,
  C_ERESP,
  C_INTERCEPTED,
  C_SRV_ABRT,
} from '../shared/counters';
import type { RequestRecord } from '../log/format';
import { CookieTxn } from '../persistence/cookie';
import { ACT_DENY, ACT_FORWARD, ACT_REDIRECT, RequestView, evalRequest, fillRequestView, type Decision } from '../rules';
import { ResponseParseError, ResponseParser, type ResponseSink } from '../upstream/response-parser';
import {
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_NO_STATUS,
  CLOSE_POLICY,
  OP_BINARY,
  OP_PONG,
  OP_TEXT,
  WsDecoder,
  WsFrameError,
  encodeClose,
  encodeFrame,
  isValidCloseCode,
  type WsFrameSink,
} from '../upstream/ws-frame';
import { HeadParseError, checkSwitchingProtocols, headerValue, parseResponseHead, type ResponseHead } from '../upstream/ws-handshake';
import {
  countConnectError,
  countRequestEnd,
  countRequestStart,
  countResponseError,
  countRetry,
  countStatus,
  observeStatus,
  releaseServerSlot,
  takeServerSlot,
} from './accounting';
import { E502, E503, E504, requestErrorPage, writeErrorPage, type ErrorPage } from './error-pages';
import { finishResponseCookies, requestCookieLine, responseSetCookie, type PersistentExchange } from './persistence';
import { collectRequestHead, rebuildHeaders, scratch } from './request-head';
import { validateRequest } from './request-validate';
import { KEY_HDR, balanceKey, forwardedForLine, needsClientAddress, type BackendRuntime, type FrontendRuntime, type WorkerRuntime } from './runtime';
import { addressText } from '../shared/client-address';

/** Largest message relayed either way (uWS maxPayloadLength; the decoder's limit for the server). */
export const WS_MAX_MESSAGE = 16 * 1024 * 1024;
/** Client-bound bytes uWS may hold before the server is no longer read. */
const HIGH_WATER = 1024 * 1024;
/** ...and the level under which reading the server resumes. */
const LOW_WATER = 256 * 1024;
/** Server-bound bytes buffered (the client cannot be paused) before the tunnel is closed. */
const UPSTREAM_LIMIT = 2 * WS_MAX_MESSAGE;
/** Largest response head from the server, and largest body of a refused upgrade. */
const MAX_RESPONSE_HEAD = 64 * 1024;
const MAX_REFUSAL_BODY = 1024 * 1024;
/** How long a closing side may take to finish its close handshake before it is cut. */
const CLOSE_WAIT_MS = 5000;

const PH_NEW = 0;
const PH_CONNECT = 1; // connecting to the server
const PH_HANDSHAKE = 2; // upgrade request sent, waiting for the response head
const PH_REFUSED = 3; // the server answered something else than 101: reading that answer
const PH_OPEN = 4; // relaying messages
const PH_CLOSING = 5; // a close is under way; waiting for the sides to go
const PH_DONE = 6;

/** What uWS keeps for a client WebSocket (uWS copies this object's properties). */
export interface WsUserData {
  t: Tunnel;
}

const CRLF = '\r\n';

/** The worker's WebSocket side: the uWS behavior per frontend, and every tunnel of this worker. */
export class WebSocketProxy {
  readonly tunnels = new Set<Tunnel>();
  /** coarse clock (ms) for activity stamps, set by the worker's ticker */
  now = Date.now();
  /** called when the last tunnel ended (graceful stop waits for tunnels) */
  onEmpty: () => void = () => {};

  constructor(readonly rt: WorkerRuntime) {}

  get count(): number {
    return this.tunnels.size;
  }

  behavior(fe: FrontendRuntime): WebSocketBehavior<WsUserData> {
    return {
      compression: uWS.DISABLED,
      maxPayloadLength: WS_MAX_MESSAGE,
      // timeout tunnel is enforced by tick(): uWS's idleTimeout counts only what the client sends
      // and is limited to 960 s in steps of 4.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      maxLifetime: 0,
      // 0 = no limit: uWS never drops a send; the tunnel pauses the server instead (HIGH_WATER)
      maxBackpressure: 0,
      upgrade: (res, req, context) => this.upgrade(fe, res, req, context),
      open: (ws) => ws.getUserData().t.onOpen(ws),
      message: (ws, message, isBinary) => ws.getUserData().t.onClientMessage(message, isBinary),
      drain: (ws) => ws.getUserData().t.onClientDrain(),
      close: (ws, code, message) => ws.getUserData().t.onClientClose(code, message),
      ping: (ws) => ws.getUserData().t.onClientPing(),
      pong: (ws, message) => ws.getUserData().t.onClientPong(message),
    };
  }

  private upgrade(fe: FrontendRuntime, res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    // uWS routes any request with a 24-character Sec-WebSocket-Key here; without
    // `Upgrade: websocket` it is an ordinary request for the HTTP handler.
    if (!hasToken(req.getHeader('upgrade'), 'websocket')) {
      req.setYield(true);
      return;
    }
    new Tunnel(this, fe).start(res, req, context);
  }

  /** From the worker's ticker: timeouts (connect, server, tunnel, close handshakes). */
  tick(now: number): void {
    this.now = now;
    for (const t of this.tunnels) t.check(now);
  }

  /** The worker is going away: close every tunnel with 1001 (Going Away). */
  closeAll(): void {
    for (const t of Array.from(this.tunnels)) t.shutdown();
  }

  /** @internal */
  done(t: Tunnel): void {
    this.tunnels.delete(t);
    if (this.tunnels.size === 0) this.onEmpty();
  }
}

/** One proxied WebSocket: the upgrade request, then the tunnel. Also its own log record. */
export class Tunnel implements RequestRecord, PersistentExchange, ResponseSink, WsFrameSink {
  private readonly rt: WorkerRuntime;
  be: BackendRuntime | null = null;
  private res: HttpResponse | null = null;
  private context: us_socket_context_t | null = null;
  private ws: WebSocket<WsUserData> | null = null;
  private phase = PH_NEW;

  // request
  private key = '';
  private offered = '';
  private head = '';
  private hashHeader: string | null = null;
  private retriesLeft = 0;
  /** holds a frontend/global maxconn slot (WorkerRuntime.admit) */
  private admitted = false;
  private rejectPage: ErrorPage | null = null;
  readonly cookieTxn = new CookieTxn();
  persistServer = -1;
  direct = false;

  // server side
  server = -1;
  private holdsSlot = false;
  private sock: net.Socket | null = null;
  private headBuf: Buffer | null = null;
  private refusal: ResponseParser | null = null;
  private refusalStatus = 0;
  private refusalReason = '';
  private refusalHeaders: string[] = [];
  private refusalBody: Buffer[] = [];
  private refusalBytes = 0;
  private dec: WsDecoder | null = null;

  // tunnel state
  private upPaused = false;
  /** the server's socket closed while messages were still being relayed */
  private upstreamGone = false;
  /** a close frame went to the server */
  private closeSentUp = false;
  /** a close frame came from the server (code, reason), not yet acted on */
  private serverClose = -1;
  private serverCloseReason: Buffer | null = null;
  /** gatehouse is closing the client itself (uWS calls the close handler synchronously) */
  private endingClient = false;
  /** the client side is over: WebSocket closed, answer sent, or connection aborted */
  private clientDone = false;
  /** cut the client (no close frame, as the server did) once uWS has sent what it holds */
  private abortClientWhenDrained = false;
  /** a decoded event that must wait until the cork is over */
  private frameError: WsFrameError | null = null;
  private readonly pumpCorkedB = this.pumpCorked.bind(this);
  deadline = 0;
  lastActive = 0;
  private tunnelMs = 0;

  // RequestRecord (access log, histograms)
  clientIp = '';
  clientPort = 0;
  acceptMs = 0;
  frontend: number;
  backend = -1;
  tq = 0;
  tw = 0;
  tc = -1;
  tr = -1;
  ta = -1;
  status = 0;
  bytesOut = 0;
  bytesIn = 0;
  retries = 0;
  termination = '--';
  method = 'GET';
  uri = '';
  httpVersion = 'HTTP/1.1';
  private t0 = 0;
  private tConnStart = 0;
  private tSent = 0;

  constructor(
    private readonly proxy: WebSocketProxy,
    private readonly fe: FrontendRuntime,
  ) {
    this.rt = proxy.rt;
    this.frontend = fe.index;
  }

  /** The uWS upgrade handler: everything is read from `req` before returning. */
  start(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    const rt = this.rt;
    const fe = this.fe;
    this.res = res;
    this.context = context;
    res.onAborted(() => this.onAborted());
    this.acceptMs = Date.now();
    this.t0 = performance.now();
    countRequestStart(rt.slab, fe.row, this.acceptMs);
    this.proxy.tunnels.add(this);

    // Content routing, as for any request (src/worker/exchange.ts).
    let be = fe.backend;
    const routing = rt.routing;
    let decision: Decision | null = null;
    let view: RequestView | null = null;
    if (routing.requestRules[fe.index]) {
      view = new RequestView();
      fillRequestView(view, req, res, fe.port, fe.tls, routing.requestHeaders[fe.index]);
      decision = rt.decision;
      evalRequest(routing, fe.index, view, decision);
      this.clientIp = view.srcIp; // '' unless a rule needed the text: filled below when used
      if (decision.action === ACT_FORWARD) be = decision.backend >= 0 ? rt.backends[decision.backend] : null;
    }
    this.be = be;
    this.backend = be === null ? -1 : be.index;
    this.method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const q = req.getQuery();
    this.uri = q ? url + '?' + q : url;
    if (this.clientIp === '' && needsClientAddress(fe, be)) {
      this.clientIp = addressText(res);
    }
    this.key = req.getHeader('sec-websocket-key');
    collectRequestHead(req, be !== null && be.keyKind === KEY_HDR ? be.cfg.balanceHeader : null, fe.tls);
    this.hashHeader = scratch.hashHeader;
    let bad = validateRequest(this.method, url, q, scratch, rt.limits);
    // an upgrade request has no body
    if (bad === 0 && (scratch.contentLength > 0 || scratch.chunked)) bad = 400;
    if (bad !== 0) {
      this.reject(requestErrorPage(bad));
      return;
    }
    if (decision !== null) {
      if (decision.action !== ACT_FORWARD) {
        this.answerDecision(res, decision);
        return;
      }
      if (decision.pathChanged) this.uri = view!.url();
      if (decision.headersChanged) {
        rebuildHeaders(view!.headers, view!.headersLen);
        this.hashHeader = scratch.hashHeader;
      }
    }

    let head = 'GET ' + this.uri + ' HTTP/1.1\r\n' + this.upgradeHeaders(scratch.headers);
    if (be !== null && be.cookies !== null) head += requestCookieLine(this, be.cookies, be.firstServer, scratch.cookie);
    else if (scratch.cookie !== null) head += 'cookie: ' + scratch.cookie + CRLF;
    head += forwardedForLine(fe, be, this.clientIp, scratch.headers);
    if (fe.tls) head += 'x-forwarded-proto: https\r\n';
    this.head = head + 'connection: upgrade\r\nupgrade: websocket\r\n\r\n';

    if (be === null) {
      this.answer(E503, 'SC');
      return;
    }
    // A tunnel holds a frontend/global maxconn slot for its whole life. No waiting for one:
    // an upgrade beyond maxconn is answered 503 at once.
    if (!rt.admit(fe)) {
      this.answer(E503, 'PC');
      return;
    }
    this.admitted = true;
    this.retriesLeft = be.cfg.retries;
    this.tunnelMs = be.cfg.timeouts.tunnel;
    this.dispatch(-1);
  }

  /**
   * The forwarded header block without Sec-WebSocket-Extensions (uWS re-frames every message, so
   * no extension such as permessage-deflate can be end to end); notes the offered subprotocols.
   */
  private upgradeHeaders(block: string): string {
    let out = '';
    let at = 0;
    while (at < block.length) {
      const end = block.indexOf(CRLF, at) + 2;
      const line = block.slice(at, end);
      at = end;
      if (line.startsWith('sec-websocket-extensions:')) continue;
      if (line.startsWith('sec-websocket-protocol:')) {
        const v = line.slice(23, -2).trim();
        this.offered = this.offered === '' ? v : this.offered + ', ' + v;
      }
      out += line;
    }
    return out;
  }

  // ---- server choice and connection ----

  private dispatch(exclude: number): void {
    const be = this.be!;
    let server = this.persistServer;
    this.direct = server >= 0 && server !== exclude;
    if (!this.direct) server = be.balancer.pick(balanceKey(be, this.clientIp, this.uri, this.hashHeader), exclude);
    // No queue for upgrades: every usable server full (maxconn) or none up is a 503.
    if (server < 0) {
      this.answer(E503, 'SC');
      return;
    }
    if (!this.useServer(server)) {
      this.answer(E503, 'SC');
      return;
    }
    this.connect();
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

  private connect(): void {
    const srv = this.rt.servers[this.server];
    this.phase = PH_CONNECT;
    this.tConnStart = performance.now();
    this.deadline = Date.now() + this.be!.cfg.timeouts.connect;
    this.headBuf = null;
    const sock = net.connect({ host: srv.pool.host, port: srv.pool.port, noDelay: true });
    this.sock = sock;
    sock.on('connect', () => this.onConnect(sock));
    sock.on('data', (d: Buffer) => this.onData(sock, d));
    sock.on('error', noop);
    sock.on('close', () => this.onSockClose(sock));
  }

  /** Forget the server socket and close it (its close event is then ignored). */
  private dropSock(): void {
    const s = this.sock;
    if (s === null) return;
    this.sock = null;
    s.destroy();
  }

  private onConnect(sock: net.Socket): void {
    if (sock !== this.sock || this.phase !== PH_CONNECT) return;
    this.tc = performance.now() - this.tConnStart;
    this.phase = PH_HANDSHAKE;
    this.tSent = performance.now();
    this.deadline = Date.now() + this.be!.cfg.timeouts.server;
    sock.write(this.head);
  }

  private onData(sock: net.Socket, data: Buffer): void {
    if (sock !== this.sock) return;
    switch (this.phase) {
      case PH_HANDSHAKE:
        this.headBuf = this.headBuf === null ? data : Buffer.concat([this.headBuf, data]);
        this.deadline = Date.now() + this.be!.cfg.timeouts.server;
        this.readHead();
        return;
      case PH_REFUSED:
        this.deadline = Date.now() + this.be!.cfg.timeouts.server;
        this.feedRefusal(data);
        return;
      case PH_OPEN:
        this.lastActive = this.proxy.now;
        this.dec!.push(data);
        this.pump();
        return;
      case PH_CLOSING:
        // After a close frame went to the server, only its close reply matters; the client is
        // gone or leaving. Read (and drop) until the server closes.
        return;
    }
  }

  private readHead(): void {
    for (;;) {
      const buf = this.headBuf!;
      let head: ResponseHead | null;
      try {
        head = parseResponseHead(buf, MAX_RESPONSE_HEAD);
      } catch (e) {
        if (!(e instanceof HeadParseError)) throw e;
        this.badResponse('PH');
        return;
      }
      if (head === null) return;
      if (head.status === 101) {
        if (checkSwitchingProtocols(head, this.key, this.offered) !== null) {
          this.badResponse('PH');
          return;
        }
        this.headBuf = null;
        this.upgradeClient(head, buf.subarray(head.length));
        return;
      }
      if (head.status >= 100 && head.status < 200) {
        // interim response (100, 103): skip it, the final one follows
        const rest = buf.subarray(head.length);
        this.headBuf = rest.length > 0 ? rest : null;
        if (this.headBuf === null) return;
        continue;
      }
      this.headBuf = null;
      this.phase = PH_REFUSED;
      const p = (this.refusal = new ResponseParser());
      p.begin(this, false);
      this.feedRefusal(buf);
      return;
    }
  }

  /** The server's answer is not a usable 101: 502 to the client. */
  private badResponse(termination: string): void {
    countResponseError(this.rt, this.be!, this.server);
    this.dropSock();
    this.releaseServer();
    this.answer(E502, termination);
  }

  /** The server answered `status`: its status counters and `observe` (frontend, backend, server). */
  private serverAnswered(status: number): void {
    const rt = this.rt;
    observeStatus(rt, this.server, status);
    countStatus(rt.slab, status, this.fe.row, this.be!.row, rt.servers[this.server].row);
  }

  /** Gatehouse answered `status` itself (no server's answer): frontend and backend counters. */
  private countOwnStatus(status: number): void {
    countStatus(this.rt.slab, status, this.fe.row, this.be === null ? -1 : this.be.row, -1);
  }

  // ---- a refused upgrade: the server's answer goes to the client as it is ----

  private feedRefusal(data: Buffer): void {
    try {
      this.refusal!.execute(data);
    } catch (e) {
      if (!(e instanceof ResponseParseError)) throw e;
      if (this.phase === PH_REFUSED) this.badResponse('PH');
    }
  }

  onResponseHead(status: number, reason: string, headers: string[]): void {
    this.refusalStatus = status;
    this.refusalReason = reason;
    this.refusalHeaders = headers;
  }

  onResponseBody(chunk: Buffer): void {
    if (this.phase !== PH_REFUSED) return;
    this.refusalBytes += chunk.length;
    if (this.refusalBytes > MAX_REFUSAL_BODY) {
      this.badResponse('PD');
      return;
    }
    // chunk is a view of a 'data' buffer, which net never reuses
    this.refusalBody.push(chunk);
  }

  onResponseComplete(): void {
    if (this.phase !== PH_REFUSED) return;
    const res = this.res;
    const status = this.refusalStatus;
    this.status = status;
    this.tr = performance.now() - this.tSent;
    this.serverAnswered(status);
    this.dropSock();
    this.releaseServer();
    if (res !== null) {
      const body = this.refusalBody.length === 1 ? this.refusalBody[0] : Buffer.concat(this.refusalBody);
      this.bytesOut += body.length;
      const be = this.be!;
      const headers = this.refusalHeaders;
      res.cork(() => {
        res.writeStatus(status + ' ' + this.refusalReason);
        for (let i = 0; i < headers.length; i += 2) {
          const name = headers[i];
          if (isDroppedResponseHeader(name)) continue;
          if (be.cookies !== null && name.toLowerCase() === 'set-cookie') {
            const v = responseSetCookie(this, be.cookies, be.firstServer, headers[i + 1]);
            if (v !== null) res.writeHeader(name, v);
            continue;
          }
          res.writeHeader(name, headers[i + 1]);
        }
        if (be.cookies !== null) finishResponseCookies(this, be.cookies, be.firstServer, res, status, headers);
        res.writeHeader('connection', 'close');
        res.end(body, true);
      });
    }
    this.res = null;
    this.clientDone = true;
    this.finish();
  }

  // ---- the upgrade ----

  private upgradeClient(head: ResponseHead, rest: Buffer): void {
    const res = this.res;
    if (res === null) return; // onAborted already ended the tunnel
    this.status = 101;
    this.tr = performance.now() - this.tSent;
    this.serverAnswered(101);
    const protocol = headerValue(head.headers, 'sec-websocket-protocol') ?? '';
    const dec = (this.dec = new WsDecoder(WS_MAX_MESSAGE));
    if (rest.length > 0) dec.push(rest);
    this.phase = PH_OPEN;
    this.deadline = 0;
    this.lastActive = this.proxy.now;
    const be = this.be!;
    const headers = head.headers;
    const userData: WsUserData = { t: this };
    res.cork(() => {
      res.writeStatus('101 Switching Protocols');
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i];
        if (isDroppedResponseHeader(name) || name.toLowerCase().startsWith('sec-websocket-')) continue;
        if (be.cookies !== null && name.toLowerCase() === 'set-cookie') {
          const v = responseSetCookie(this, be.cookies, be.firstServer, headers[i + 1]);
          if (v !== null) res.writeHeader(name, v);
          continue;
        }
        res.writeHeader(name, headers[i + 1]);
      }
      if (be.cookies !== null) finishResponseCookies(this, be.cookies, be.firstServer, res, 101, headers);
      // uWS writes Upgrade, Connection, Sec-WebSocket-Accept (and the protocol), then calls
      // open() before returning.
      res.upgrade(userData, this.key, protocol, '', this.context!);
    });
    this.res = null;
    this.context = null;
    if (this.ws === null) {
      // open() did not run: the client is gone
      this.clientDone = true;
      this.termination = 'CD';
      this.closeUpstream(CLOSE_GOING_AWAY, '');
      this.maybeFinish();
      return;
    }
    if (dec.buffered > 0) this.pump();
  }

  onOpen(ws: WebSocket<WsUserData>): void {
    this.ws = ws;
  }

  // ---- server to client ----

  /** Relay decoded server frames until the decoder needs bytes or the client is backlogged. */
  private pump(): void {
    const ws = this.ws;
    if (ws !== null && !this.upPaused) ws.cork(this.pumpCorkedB);
    // closing the client inside its cork is avoided: act on what the frames said here
    if (this.frameError !== null) {
      const e = this.frameError;
      this.frameError = null;
      this.termination = 'PD';
      this.rt.slab[this.rt.servers[this.server].row + C_SRV_ABRT]++;
      this.closeBoth(e.closeCode, '');
      return;
    }
    if (this.serverClose >= 0) {
      this.onServerClose();
      return;
    }
    if (this.upstreamGone && this.ws !== null && !this.upPaused) this.abortClient();
  }

  private pumpCorked(): void {
    const dec = this.dec!;
    try {
      while (!this.upPaused && this.serverClose < 0 && dec.next(this)) {
        /* each call relayed one frame */
      }
    } catch (e) {
      if (!(e instanceof WsFrameError)) throw e;
      this.frameError = e;
    }
  }

  onWsMessage(payload: Buffer, isBinary: boolean): void {
    const ws = this.ws!;
    const n = payload.length;
    this.countOut(n);
    ws.send(payload, isBinary, false);
    if (ws.getBufferedAmount() > HIGH_WATER) this.pauseUpstream();
  }

  onWsPing(payload: Buffer): void {
    // The client's pong comes back through onClientPong.
    this.ws!.ping(payload);
    if (this.ws!.getBufferedAmount() > HIGH_WATER) this.pauseUpstream();
  }

  onWsPong(): void {
    // uWS has no way to send an unsolicited pong, and the client's pings are answered by uWS.
  }

  onWsClose(code: number, reason: Buffer): void {
    this.serverClose = code;
    this.serverCloseReason = Buffer.from(reason);
  }

  private countOut(n: number): void {
    this.bytesOut += n;
    const slab = this.rt.slab;
    slab[this.fe.row + C_BOUT] += n;
    slab[this.be!.row + C_BOUT] += n;
    slab[this.rt.servers[this.server].row + C_BOUT] += n;
  }

  private pauseUpstream(): void {
    if (this.upPaused) return;
    this.upPaused = true;
    if (this.sock !== null) this.sock.pause();
  }

  onClientDrain(): void {
    const ws = this.ws;
    if (ws === null) return;
    this.lastActive = this.proxy.now;
    if (this.abortClientWhenDrained) {
      if (ws.getBufferedAmount() === 0) this.closeClient(-1, '');
      return;
    }
    if (!this.upPaused || ws.getBufferedAmount() > LOW_WATER) return;
    this.upPaused = false;
    this.pump();
    if (!this.upPaused && this.sock !== null && this.phase === PH_OPEN) this.sock.resume();
  }

  /** The server sent a close frame. */
  private onServerClose(): void {
    const code = this.serverClose;
    const reason = this.serverCloseReason!;
    this.serverClose = -1;
    this.phase = PH_CLOSING;
    this.deadline = Date.now() + CLOSE_WAIT_MS;
    const sock = this.sock;
    if (sock !== null) {
      // Answer it (RFC 6455 5.5.1 echoes the code), unless it answers ours; the server closes TCP next.
      if (!this.closeSentUp) {
        this.closeSentUp = true;
        sock.write(encodeClose(code));
      }
      if (sock.isPaused()) sock.resume();
      sock.end();
    }
    this.closeClient(code === CLOSE_NO_STATUS ? 0 : code, reason);
    this.maybeFinish();
  }

  // ---- client to server ----

  onClientMessage(message: ArrayBuffer, isBinary: boolean): void {
    const sock = this.sock;
    if (this.phase !== PH_OPEN || sock === null) return;
    const n = message.byteLength;
    this.bytesIn += n;
    const slab = this.rt.slab;
    slab[this.fe.row + C_BIN] += n;
    slab[this.be!.row + C_BIN] += n;
    slab[this.rt.servers[this.server].row + C_BIN] += n;
    this.lastActive = this.proxy.now;
    // encodeFrame copies (and masks) the payload: uWS reuses `message` after this call
    sock.write(encodeFrame(isBinary ? OP_BINARY : OP_TEXT, new Uint8Array(message)));
    if (sock.writableLength > UPSTREAM_LIMIT) {
      // The client sends faster than the server reads, and uWS cannot stop reading it.
      this.termination = 'PD';
      this.closeBoth(CLOSE_POLICY, 'backpressure limit');
    }
  }

  onClientPing(): void {
    this.lastActive = this.proxy.now;
  }

  onClientPong(message: ArrayBuffer): void {
    this.lastActive = this.proxy.now;
    if (this.phase === PH_OPEN && this.sock !== null) this.sock.write(encodeFrame(OP_PONG, new Uint8Array(message)));
  }

  onClientClose(code: number, message: ArrayBuffer): void {
    this.ws = null;
    this.clientDone = true;
    if (!this.endingClient && this.phase === PH_OPEN) {
      // The client closed first: tell the server the same way (a close frame, or just FIN).
      if (code === CLOSE_ABNORMAL) {
        this.termination = 'CD';
        this.rt.slab[this.fe.row + C_CLI_ABRT]++;
        this.rt.slab[this.rt.servers[this.server].row + C_CLI_ABRT]++;
        this.closeUpstream(-1, '');
      } else {
        this.closeUpstream(isValidCloseCode(code) ? code : 0, Buffer.from(message));
      }
    }
    this.maybeFinish();
  }

  // ---- closing ----

  /**
   * Send a close frame to the server (code 0: one without a code; -1: none, only FIN), then
   * half-close. The server answers and closes; CLOSE_WAIT_MS later it is cut anyway.
   */
  private closeUpstream(code: number, reason: Uint8Array | string): void {
    if (this.phase === PH_OPEN || this.phase === PH_CLOSING) {
      this.phase = PH_CLOSING;
      this.deadline = Date.now() + CLOSE_WAIT_MS;
    }
    const sock = this.sock;
    if (sock === null) return;
    if (code >= 0 && !this.closeSentUp) {
      this.closeSentUp = true;
      sock.write(encodeClose(code, reason));
    }
    if (sock.isPaused()) sock.resume();
    sock.end();
  }

  /** Close the client with `code` (0: a close frame without code; -1: cut, no close frame). */
  private closeClient(code: number, reason: Uint8Array | string): void {
    const ws = this.ws;
    if (ws === null) return;
    this.endingClient = true;
    try {
      if (code < 0) ws.close();
      else if (code === 0) ws.end();
      else ws.end(code, reason);
    } catch {
      // already closed under us
    }
    this.ws = null;
    this.clientDone = true;
  }

  /** Gatehouse ends the tunnel (timeout, bad frames, limits, shutdown): both sides hear `code`. */
  private closeBoth(code: number, reason: string): void {
    this.closeUpstream(code, reason);
    this.closeClient(code, reason);
    this.maybeFinish();
  }

  /** The server went away without a close frame: cut the client the same way, after its backlog. */
  private abortClient(): void {
    const ws = this.ws;
    if (ws === null) return;
    if (ws.getBufferedAmount() === 0) {
      this.closeClient(-1, '');
      this.maybeFinish();
      return;
    }
    this.abortClientWhenDrained = true;
    this.phase = PH_CLOSING;
    this.deadline = Date.now() + CLOSE_WAIT_MS;
  }

  private onSockClose(sock: net.Socket): void {
    if (sock !== this.sock) return;
    this.sock = null;
    const rt = this.rt;
    switch (this.phase) {
      case PH_CONNECT:
        countConnectError(rt, this.be!, this.server);
        this.retryOrFail('SC');
        return;
      case PH_HANDSHAKE:
        this.sock = sock; // badResponse() drops it
        this.badResponse('SH');
        return;
      case PH_REFUSED: {
        // a close-delimited body ends here
        try {
          this.refusal!.finish();
        } catch {
          /* incomplete: 502 below */
        }
        if (this.phase === PH_REFUSED) {
          this.sock = sock;
          this.badResponse('SH');
        }
        return;
      }
      case PH_OPEN:
        // no close frame: the server vanished (its last messages may still be queued)
        this.termination = 'SD';
        rt.slab[rt.servers[this.server].row + C_SRV_ABRT]++;
        this.upstreamGone = true;
        this.releaseServer();
        this.pump();
        this.maybeFinish();
        return;
      default:
        this.releaseServer();
        this.maybeFinish();
    }
  }

  private retryOrFail(termination: string): void {
    const rt = this.rt;
    const be = this.be!;
    const failed = this.server;
    this.releaseServer();
    if (this.retriesLeft > 0 && this.res !== null) {
      this.retriesLeft--;
      this.retries++;
      // HAProxy's default `option redispatch`: the last retry goes to another server.
      const redispatch = this.retriesLeft === 0 && be.cfg.redispatch;
      countRetry(rt, be, failed, redispatch);
      if (redispatch) {
        this.persistServer = -1;
        this.dispatch(failed);
        return;
      }
      if (this.useServer(failed)) this.connect();
      else this.answer(E503, termination);
      return;
    }
    this.answer(E503, termination);
  }

  /** From the ticker. */
  check(now: number): void {
    switch (this.phase) {
      case PH_OPEN:
        if (this.tunnelMs > 0 && now - this.lastActive > this.tunnelMs) {
          this.termination = 'cD';
          this.closeBoth(CLOSE_GOING_AWAY, 'tunnel timeout');
        }
        return;
      case PH_CONNECT:
        if (this.deadline !== 0 && this.deadline < now) {
          this.dropSock();
          countConnectError(this.rt, this.be!, this.server);
          this.retryOrFail('sC');
        }
        return;
      case PH_HANDSHAKE:
      case PH_REFUSED:
        if (this.deadline !== 0 && this.deadline < now) {
          this.dropSock();
          this.releaseServer();
          this.rt.slab[this.be!.row + C_ERESP]++;
          this.answer(E504, 'sH');
        }
        return;
      case PH_CLOSING:
        if (this.deadline !== 0 && this.deadline < now) {
          this.deadline = 0;
          this.dropSock();
          this.releaseServer();
          this.closeClient(-1, '');
          this.maybeFinish();
        }
        return;
    }
  }

  /** The worker stops: 1001 to both sides of an open tunnel; an upgrade in progress gets 503. */
  shutdown(): void {
    if (this.phase === PH_DONE) return;
    if (this.phase === PH_OPEN) {
      this.termination = 'KD';
      this.closeBoth(CLOSE_GOING_AWAY, 'going away');
    }
    if (this.phase < PH_OPEN) {
      this.dropSock();
      this.releaseServer();
      this.answer(E503, 'KC');
      return;
    }
    this.dropSock();
    this.releaseServer();
    this.closeClient(-1, '');
    this.maybeFinish();
  }

  // ---- answers before the upgrade ----

  /** Refuse a malformed request one event-loop turn later, as Exchange.reject does. */
  private reject(page: ErrorPage): void {
    this.rejectPage = page;
    this.be = null;
    this.backend = -1;
    this.rt.slab[this.fe.row + C_EREQ]++;
    setImmediate(() => {
      const res = this.res;
      this.rejectPage = null;
      if (res === null) {
        this.termination = 'CR';
        this.finish();
        return;
      }
      this.answer(page, 'PR');
    });
  }

  private answerDecision(res: HttpResponse, d: Decision): void {
    this.be = null;
    this.backend = -1;
    if (d.action === ACT_DENY) this.rt.slab[this.fe.row + C_DREQ]++;
    else this.rt.slab[this.fe.row + C_INTERCEPTED]++;
    this.termination = d.action === ACT_DENY ? 'PR' : d.action === ACT_REDIRECT ? 'LR' : '--';
    this.status = d.status;
    this.countOwnStatus(d.status);
    this.bytesOut += d.body.length;
    res.cork(() => {
      res.writeStatus(d.status + ' ' + d.reason);
      for (let i = 0; i < d.headersLen; i += 2) res.writeHeader(d.headers[i], d.headers[i + 1]);
      res.writeHeader('connection', 'close');
      res.end(d.body, true);
    });
    this.res = null;
    this.clientDone = true;
    this.finish();
  }

  /** One of HAProxy's error pages; the client connection is closed after it. */
  private answer(page: ErrorPage, termination: string): void {
    this.termination = termination;
    const res = this.res;
    this.res = null;
    this.clientDone = true;
    if (res !== null) {
      this.status = Number(page.status.slice(0, 3));
      this.countOwnStatus(this.status);
      this.bytesOut += page.body.length;
      res.cork(() => writeErrorPage(res, page, true));
    }
    this.dropSock();
    this.releaseServer();
    this.finish();
  }

  private onAborted(): void {
    this.res = null;
    // a deferred reject, an upgrade done, or an answer sent: handled elsewhere
    if (this.rejectPage !== null || this.phase >= PH_OPEN || this.clientDone) return;
    this.clientDone = true;
    this.termination = 'CH';
    this.rt.slab[this.fe.row + C_CLI_ABRT]++;
    if (this.server >= 0) this.rt.slab[this.rt.servers[this.server].row + C_CLI_ABRT]++;
    this.dropSock();
    this.releaseServer();
    this.finish();
  }

  private maybeFinish(): void {
    if (this.clientDone && this.ws === null && this.sock === null) {
      this.releaseServer();
      this.finish();
    }
  }

  private finish(): void {
    if (this.phase === PH_DONE) return;
    this.phase = PH_DONE;
    this.deadline = 0;
    const rt = this.rt;
    this.ta = performance.now() - this.t0;
    if (this.admitted) {
      this.admitted = false;
      rt.releaseAdmission(this.fe);
    }
    const beRow = this.be === null ? -1 : this.be.row;
    const srvRow = this.server >= 0 ? rt.servers[this.server].row : -1;
    // bytes were counted as messages passed (countOut, onClientMessage)
    countRequestEnd(rt.slab, this.fe.row, beRow, srvRow, 0, 0, this.ta, this.tr, this.tc);
    const parser = this.refusal;
    if (parser !== null) {
      // finish() may run inside the parser's own callback: free it once that has returned
      this.refusal = null;
      setImmediate(() => parser.close());
    }
    this.dec = null;
    if (rt.telemetry !== null) rt.telemetry.onRequestDone(this);
    this.proxy.done(this);
  }
}

/** Response headers never passed on: this hop's framing, and what uWS writes itself. */
function isDroppedResponseHeader(name: string): boolean {
  switch (name.toLowerCase()) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'content-length':
    case 'trailer':
    case 'upgrade':
    case 'date':
      return true;
    default:
      return false;
  }
}

function hasToken(value: string, token: string): boolean {
  if (value.length === token.length) return value.toLowerCase() === token;
  for (const raw of value.split(',')) if (raw.trim().toLowerCase() === token) return true;
  return false;
}

function noop(): void {}
