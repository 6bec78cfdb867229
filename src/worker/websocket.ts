// WebSocket proxying (see docs/websocket.md), the uWebSockets.js engine's side of it.
//
// An upgrade request is an ordinary exchange (src/proxy/exchange.ts) until the server answers:
// rules, balancing, persistence, maxconn queues, retries and redispatch, a refused upgrade
// streamed back like any answer. When the server switches protocols with a valid 101, the
// exchange hands the client and its pooled-type connection to this file (UwsUpgrade).
//
// uWS cannot hand over the raw bytes of a connection after a 101, so the proxy terminates the
// WebSocket framing on each side: uWS speaks it to the client (`app.ws('/*', behavior)`), and a
// Tunnel speaks it to the server with the masked client framing of src/upstream/ws-frame.ts.
// Messages are relayed whole, text as text and binary as binary; pings from the server are
// passed on, the client's pongs go back.
//
// Backpressure: server to client, reading the server stops while uWS holds more than HIGH_WATER
// bytes for the client and resumes from `drain`. Client to server, uWS 20.30 has no way to stop
// reading a WebSocket, so bytes the server does not take are buffered up to UPSTREAM_LIMIT; past
// that the tunnel is closed (1008). `timeout tunnel` (the backend's) is an inactivity timeout in
// both directions, checked by the worker's ticker (no timer per tunnel or per message).

import type * as net from 'node:net';
import type { HttpRequest, HttpResponse, WebSocket, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js';
import { C_BIN, C_BOUT, C_CLI_ABRT, C_SRV_ABRT } from '../shared/counters';
import type { ClientResponse } from '../proxy/client';
import type { Exchange, Upgrader } from '../proxy/exchange';
import { writeResponseHeaders } from '../proxy/response-head';
import type { ConnOwner, UpstreamConn } from '../upstream/connection';
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
import { hasToken, headerValue } from '../upstream/ws-handshake';
import type { FrontendRuntime, WorkerRuntime } from './runtime';
import { requireUws } from './uws-load';
import { monoNow } from '../shared/clock';

/** Largest message relayed either way (uWS maxPayloadLength; the decoder's limit for the server). */
export const WS_MAX_MESSAGE = 16 * 1024 * 1024;
/** Client-bound bytes uWS may hold before the server is no longer read. */
const HIGH_WATER = 1024 * 1024;
/** ...and the level under which reading the server resumes. */
const LOW_WATER = 256 * 1024;
/** Server-bound bytes buffered (the client cannot be paused) before the tunnel is closed. */
const UPSTREAM_LIMIT = 2 * WS_MAX_MESSAGE;
/** How long a closing side may take to finish its close handshake before it is cut. */
const CLOSE_WAIT_MS = 5000;

const PH_OPEN = 0; // relaying messages
const PH_CLOSING = 1; // a close is under way; waiting for the sides to go
const PH_DONE = 2;

/** What uWS keeps for a client WebSocket (uWS copies this object's properties). */
export interface WsUserData {
  t: Tunnel;
}

/** The worker's WebSocket side: the uWS behavior per frontend, and every tunnel of this worker. */
export class WebSocketProxy {
  readonly tunnels = new Set<Tunnel>();
  /** coarse clock (ms) for activity stamps, set by the worker's ticker */
  now = monoNow();
  /** called when the last tunnel ended (graceful stop waits for tunnels) */
  onEmpty: () => void = () => {};

  constructor(
    readonly rt: WorkerRuntime,
    /** an exchange object for a new request (the worker's recycled ones) */
    private readonly exchange: () => Exchange,
  ) {}

  get count(): number {
    return this.tunnels.size;
  }

  behavior(fe: FrontendRuntime): WebSocketBehavior<WsUserData> {
    return {
      compression: requireUws().DISABLED,
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
    this.exchange().start(this.rt, fe, res, req, new UwsUpgrade(this, context));
  }

  /** From the worker's ticker: tunnel timeouts and close handshakes. */
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

/** One upgrade request's way into a tunnel, should its server accept. */
class UwsUpgrade implements Upgrader {
  constructor(
    private readonly proxy: WebSocketProxy,
    private readonly context: us_socket_context_t,
  ) {}

  switchProtocols(ex: Exchange, res: ClientResponse, conn: UpstreamConn, headers: string[], rest: Buffer): void {
    new Tunnel(this.proxy, ex, conn).open(res as HttpResponse, this.context, headers, rest);
  }
}

/** One proxied WebSocket after its 101: relays messages both ways until both sides are closed. */
export class Tunnel implements ConnOwner, WsFrameSink {
  private ws: WebSocket<WsUserData> | null = null;
  private sock: net.Socket | null;
  private phase = PH_OPEN;
  private readonly dec = new WsDecoder(WS_MAX_MESSAGE);
  private readonly tunnelMs: number;

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
  /** the client side is over: WebSocket closed or connection aborted */
  private clientDone = false;
  /** cut the client (no close frame, as the server did) once uWS has sent what it holds */
  private abortClientWhenDrained = false;
  /** a decoded event that must wait until the cork is over */
  private frameError: WsFrameError | null = null;
  private readonly pumpCorkedB = this.pumpCorked.bind(this);
  deadline = 0;
  lastActive = 0;

  constructor(
    private readonly proxy: WebSocketProxy,
    /** the upgrade's exchange: its record (counters, log line) is this tunnel's */
    private readonly ex: Exchange,
    private readonly conn: UpstreamConn,
  ) {
    this.sock = conn.socket;
    this.tunnelMs = ex.be!.cfg.timeouts.tunnel;
  }

  /** Answer the client's upgrade with the server's 101 and start relaying. */
  open(res: HttpResponse, context: us_socket_context_t, headers: string[], rest: Buffer): void {
    const ex = this.ex;
    this.conn.becomeTunnel(this);
    this.proxy.tunnels.add(this);
    if (rest.length > 0) this.dec.push(rest);
    this.lastActive = this.proxy.now;
    const protocol = headerValue(headers, 'sec-websocket-protocol') ?? '';
    const userData: WsUserData = { t: this };
    res.cork(() => {
      res.writeStatus('101 Switching Protocols');
      writeResponseHeaders(res, headers, 101, ex.be!, ex, false, true);
      // uWS writes Upgrade, Connection, Sec-WebSocket-Accept (and the protocol), then calls
      // open() before returning.
      res.upgrade(userData, ex.plan.wsKey, protocol, '', context);
    });
    if (this.ws === null) {
      // open() did not run: the client is gone
      this.clientDone = true;
      this.ex.termination = 'CD';
      this.closeUpstream(CLOSE_GOING_AWAY, '');
      this.maybeFinish();
      return;
    }
    if (this.dec.buffered > 0) this.pump();
  }

  onOpen(ws: WebSocket<WsUserData>): void {
    this.ws = ws;
  }

  /** Add `n` to counter `c` of the tunnel's frontend, backend and server. */
  private count(c: number, n: number): void {
    const ex = this.ex;
    const slab = ex.rt.slab;
    slab[ex.fe.row + c] += n;
    slab[ex.be!.row + c] += n;
    slab[ex.rt.servers[ex.server].row + c] += n;
  }

  /** Add one to counter `c` of the tunnel's server. */
  private countServer(c: number): void {
    const ex = this.ex;
    ex.rt.slab[ex.rt.servers[ex.server].row + c]++;
  }

  // ---- the server connection (ConnOwner) ----

  onUpstreamConnect(): void {}

  onUpstreamDrain(): void {}

  onUpstreamData(_conn: UpstreamConn, data: Buffer): void {
    if (this.phase !== PH_OPEN) {
      // After a close frame went to the server, only its close reply matters; the client is
      // gone or leaving. Read (and drop) until the server closes.
      return;
    }
    this.lastActive = this.proxy.now;
    // a view of the connection's read buffer, reused after this call: the decoder keeps a copy
    this.dec.push(Buffer.from(data));
    this.pump();
  }

  /** The server's socket closed (the connection tells no other failure once tunneled). */
  onUpstreamFail(): void {
    this.sock = null;
    if (this.phase === PH_OPEN) {
      // no close frame: the server vanished (its last messages may still be queued)
      this.ex.termination = 'SD';
      this.countServer(C_SRV_ABRT);
      this.upstreamGone = true;
      this.ex.attempt.release();
      this.pump();
    } else {
      this.ex.attempt.release();
    }
    this.maybeFinish();
  }

  /** Forget the server socket and close it (its close is then not reported). */
  private dropSock(): void {
    if (this.sock === null) return;
    this.sock = null;
    this.conn.destroy();
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
      this.ex.termination = 'PD';
      this.countServer(C_SRV_ABRT);
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
    this.ex.countTunnel(0, n);
    this.count(C_BOUT, n);
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
    this.deadline = monoNow() + CLOSE_WAIT_MS;
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
    this.ex.countTunnel(n, 0);
    this.count(C_BIN, n);
    this.lastActive = this.proxy.now;
    // encodeFrame copies (and masks) the payload: uWS reuses `message` after this call
    sock.write(encodeFrame(isBinary ? OP_BINARY : OP_TEXT, new Uint8Array(message)));
    if (sock.writableLength > UPSTREAM_LIMIT) {
      // The client sends faster than the server reads, and uWS cannot stop reading it.
      this.ex.termination = 'PD';
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
        this.ex.termination = 'CD';
        this.count(C_CLI_ABRT, 1);
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
      this.deadline = monoNow() + CLOSE_WAIT_MS;
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
    this.deadline = monoNow() + CLOSE_WAIT_MS;
  }

  /** From the ticker. */
  check(now: number): void {
    if (this.phase === PH_OPEN) {
      if (this.tunnelMs > 0 && now - this.lastActive > this.tunnelMs) {
        this.ex.termination = 'cD';
        this.closeBoth(CLOSE_GOING_AWAY, 'tunnel timeout');
      }
      return;
    }
    if (this.phase === PH_CLOSING && this.deadline !== 0 && this.deadline < now) {
      this.deadline = 0;
      this.dropSock();
      this.ex.attempt.release();
      this.closeClient(-1, '');
      this.maybeFinish();
    }
  }

  /** The worker stops: 1001 to both sides of an open tunnel. */
  shutdown(): void {
    if (this.phase === PH_DONE) return;
    if (this.phase === PH_OPEN) {
      this.ex.termination = 'KD';
      this.closeBoth(CLOSE_GOING_AWAY, 'going away');
    }
    this.dropSock();
    this.ex.attempt.release();
    this.closeClient(-1, '');
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.clientDone && this.ws === null && this.sock === null) this.finish();
  }

  private finish(): void {
    if (this.phase === PH_DONE) return;
    this.phase = PH_DONE;
    this.deadline = 0;
    this.proxy.done(this);
    this.ex.endTunnel();
  }
}
