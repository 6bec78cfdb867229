// One `mode tcp` session: a client socket, the bytes it sent before a server was chosen
// (inspection, queue, connect), then a server socket, relayed both ways with backpressure and
// half-close, under HAProxy's timeouts, ending once with HAProxy's tcplog termination state.
//
// What the session does not do: pick a server, take a maxconn slot, retry or redispatch. The
// caller (the proxy core) does those and tells the session what phase it is in:
//   new TcpSession(client, timeouts, onEnd)  phase R (waiting for the request / inspecting)
//   s.queued()                               phase Q (waiting for a server slot)
//   s.connect({ host, port }, timeoutMs)     phase C; resolves ok/timeout/error, never ends the session
//   s.attach(serverSocket)                   phase D: the relay runs until both sides are closed
//   s.fail('s', 'Q') / s.connectFailed(..)   ends it with that state (queue timeout, no server...)
//
// Timeouts, as HAProxy 2.6 applies them to a TCP stream (process_stream and the stream
// interfaces' half-closed timeouts):
// - each side has one inactivity timer that runs while that side is expected to do something:
//   send (its read direction is open and not paused by backpressure) or take our bytes (a write
//   to it is waiting for drain). Reads from a side and drains to it are its activity;
// - client side: `timeout client`; server side: `timeout server`; once relaying, `timeout
//   tunnel` replaces both when set;
// - once a side is half-closed (it sent its FIN, or we forwarded a FIN to it), `timeout
//   client-fin` / `server-fin` replace that side's timeout when set (they override tunnel too).
// An expired client timer ends the session with 'c', a server one with 's'.
//
// Allocation: chunks are Node's own 'data' buffers, written as they come; nothing is copied or
// allocated per chunk here. Only the prelude (bytes before a server exists, at most
// `maxPrelude`, HAProxy's buffer size) is kept as a list of those buffers.
import type { ConnParams } from '../upstream/conn-params';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

/** Milliseconds; 0 = not set. */
export interface TcpTimeouts {
  client: number;
  server: number;
  tunnel: number;
  clientFin: number;
  serverFin: number;
}

/** HAProxy's first termination character (who or what ended the session). */
export type TerminationCause = '-' | 'C' | 'S' | 'c' | 's' | 'P' | 'R' | 'I' | 'D' | 'K';
/** HAProxy's second character: R request/inspection, Q queue, C connect, D data, L last data. */
export type SessionPhase = 'R' | 'Q' | 'C' | 'D' | 'L' | '-';

export interface TcpSessionEnd {
  /** bytes received from the client (HAProxy %U) */
  bytesIn: number;
  /** bytes received from the server and sent on to the client (HAProxy %B) */
  bytesOut: number;
  /** ms spent queued (%Tw); -1 when the session never got past the queue */
  tw: number;
  /** ms to establish the server connection, all attempts (%Tc); -1 when never connected */
  tc: number;
  /** ms from accept to the end (%Tt) */
  tt: number;
  /** two characters, tcplog's %ts: "--", "CD", "SD", "cD", "sD", "SC", "sC", "sQ", "PR", "CL"... */
  termination: string;
  /** Date.now() at accept, for the log line's date */
  acceptedAt: number;
}

export type ConnectOutcome =
  | { ok: true; socket: net.Socket }
  | { ok: false; reason: 'timeout' | 'error' | 'aborted'; error: string };

export interface TcpSessionOptions {
  /** bytes kept before a server is attached; the client is paused beyond (HAProxy tune.bufsize) */
  maxPrelude?: number;
  /** called whenever prelude bytes arrive or the client half-closes before attach (inspection) */
  onPrelude?: (s: TcpSession) => void;
  /** performance.now() of the accept, when it was earlier than the constructor */
  acceptedAt?: number;
  /** client bytes already read from the socket (after a PROXY header): the start of the prelude */
  received?: Buffer;
}

export const DEFAULT_MAX_PRELUDE = 16384;

const EMPTY = Buffer.alloc(0);

export class TcpSession {
  bytesIn = 0;
  bytesOut = 0;
  phase: SessionPhase = 'R';
  readonly client: net.Socket;
  server: net.Socket | null = null;

  private timeouts: TcpTimeouts;
  private readonly onEnd: (end: TcpSessionEnd, s: TcpSession) => void;
  /** called when prelude bytes arrive or the client half-closes before attach (inspection) */
  onPrelude: ((s: TcpSession) => void) | null;
  private readonly maxPrelude: number;
  private readonly t0: number;
  private readonly wall0: number;

  private prelude: Buffer[] = [];
  private preludeLen = 0;
  private preludeJoined: Buffer | null = null;

  private queuedAt = -1;
  private connectAt = -1;
  private tw = -1;
  private tc = -1;
  private pending: net.Socket | null = null;
  private pendingDone: ((o: ConnectOutcome) => void) | null = null;

  // per-direction state: c* = client side, s* = server side
  private cLast: number;
  private sLast = 0;
  /** the side sent its FIN (its read direction is over) */
  private cEof = false;
  private sEof = false;
  /** we wrote (or queued) a FIN to the side */
  private cShut = false;
  private sShut = false;
  /** reading the side is paused because the other side cannot take more */
  private cPaused = false;
  private sPaused = false;
  /** a write to the side is waiting for 'drain' */
  private cBlocked = false;
  private sBlocked = false;
  private cClosed = false;
  private sClosed = false;

  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private ended = false;

  constructor(client: net.Socket, timeouts: TcpTimeouts, onEnd: (end: TcpSessionEnd, s: TcpSession) => void, opts: TcpSessionOptions = {}) {
    this.client = client;
    this.timeouts = timeouts;
    this.onEnd = onEnd;
    this.onPrelude = opts.onPrelude ?? null;
    this.maxPrelude = opts.maxPrelude ?? DEFAULT_MAX_PRELUDE;
    const now = performance.now();
    this.t0 = opts.acceptedAt ?? now;
    this.wall0 = Date.now() - (now - this.t0);
    this.cLast = now;
    // Without it Node ends our write side as soon as the client's FIN arrives, and whatever the
    // server still sends would be lost. A listener should create its sockets this way already.
    client.allowHalfOpen = true;
    client.on('data', (b: Buffer) => this.fromClient(b));
    client.on('end', () => this.clientEof());
    client.on('drain', () => this.clientDrained());
    client.on('error', () => this.fail('C'));
    client.on('close', () => this.clientClosed());
    if (opts.received !== undefined && opts.received.length > 0) this.fromClient(opts.received);
    this.schedule();
  }

  // ---- what the proxy core calls ----

  /** The bytes received so far before attach (for tcp-request content inspection). */
  preludeBytes(): Buffer {
    if (this.preludeJoined === null) {
      this.preludeJoined = this.prelude.length === 0 ? EMPTY : this.prelude.length === 1 ? this.prelude[0] : Buffer.concat(this.prelude, this.preludeLen);
      if (this.prelude.length > 1) this.prelude = [this.preludeJoined];
    }
    return this.preludeJoined;
  }

  /** The client sent its FIN (inspection treats what it has as final). */
  get clientEnded(): boolean {
    return this.cEof;
  }

  /** The prelude buffer is full: inspection will get no more bytes (HAProxy: buffer full = final). */
  get preludeFull(): boolean {
    return this.preludeLen >= this.maxPrelude;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * The backend's timeouts once it is chosen (server, tunnel, server-fin come from it; until
   * then the frontend's client timeout is the one that counts).
   */
  setTimeouts(t: TcpTimeouts): void {
    this.timeouts = t;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.schedule();
  }

  /** Waiting for a server slot (maxconn queue). */
  queued(): void {
    if (this.ended) return;
    if (this.queuedAt < 0) this.queuedAt = performance.now();
    this.phase = 'Q';
  }

  /**
   * One connection attempt (phase C). Resolves with the connected socket, or why not; it never
   * ends the session, so the caller can retry or redispatch, then attach() or connectFailed().
   * A client that aborts meanwhile ends the session ("CC") and the attempt resolves 'aborted'.
   */
  connect(opts: net.TcpNetConnectOpts, timeoutMs: number, params: ConnParams | null = null): Promise<ConnectOutcome> {
    if (this.ended) return Promise.resolve({ ok: false, reason: 'aborted', error: 'session ended' });
    this.enterConnect();
    return new Promise<ConnectOutcome>((resolve) => {
      let sock: net.Socket;
      let timer: NodeJS.Timeout | null = null;
      const done = (o: ConnectOutcome) => {
        if (this.pendingDone !== done) return;
        this.pendingDone = null;
        this.pending = null;
        if (timer) clearTimeout(timer);
        sock.removeListener(ready, onConnect);
        sock.removeListener('error', onError);
        if (!o.ok) sock.destroy();
        resolve(o);
      };
      const onConnect = () => done({ ok: true, socket: sock });
      const onError = (e: Error) => done({ ok: false, reason: 'error', error: (e as NodeJS.ErrnoException).code ?? e.message });
      // send-proxy / ssl on the server (src/upstream/conn-params.ts): the PROXY header first,
      // then TLS; the session's bytes start once the handshake is done
      const ready = params !== null && params.tls !== null ? 'secureConnect' : 'connect';
      try {
        let raw: net.Socket | null = null;
        if (params === null || params.tls === null || params.proxy !== null) {
          raw = net.connect({ ...opts, allowHalfOpen: true });
          if (params !== null && params.proxy !== null) raw.write(params.proxy);
        }
        sock = params !== null && params.tls !== null ? params.tls.connect(opts.host ?? '', opts.port, params.sni, raw) : raw!;
      } catch (e) {
        resolve({ ok: false, reason: 'error', error: e instanceof Error ? e.message : String(e) });
        return;
      }
      this.pending = sock;
      this.pendingDone = done;
      sock.once(ready, onConnect);
      sock.once('error', onError);
      if (timeoutMs > 0) {
        timer = setTimeout(() => done({ ok: false, reason: 'timeout', error: 'connect timeout' }), timeoutMs);
      }
    });
  }

  /** Every attempt failed: "sC" after a connect timeout, "SC" after a refusal or error. */
  connectFailed(last: 'timeout' | 'error'): void {
    this.fail(last === 'timeout' ? 's' : 'S', 'C');
  }

  /**
   * Start relaying with a connected server socket (made by connect() or by the caller, which
   * must create it with allowHalfOpen: true). The prelude goes first, then everything else.
   */
  attach(server: net.Socket): void {
    if (this.ended) {
      server.destroy();
      return;
    }
    const now = performance.now();
    this.enterConnect();
    this.tc = Math.round(now - this.connectAt);
    this.server = server;
    server.allowHalfOpen = true;
    server.setNoDelay(true);
    this.phase = 'D';
    this.sLast = now;
    this.cLast = now;
    server.on('data', (b: Buffer) => this.fromServer(b));
    server.on('end', () => this.serverEof());
    server.on('drain', () => this.serverDrained());
    server.on('error', () => this.fail('S'));
    server.on('close', () => this.serverClosed());
    for (const b of this.prelude) this.toServer(b);
    this.prelude = [];
    this.preludeJoined = null;
    this.preludeLen = 0;
    if (this.cEof) this.shutServer();
    else if (this.cPaused && !this.sBlocked) {
      this.cPaused = false;
      this.client.resume();
    }
    this.schedule();
  }

  /** Ends the session with this state (e.g. fail('P','R') for a tcp-request reject, fail('s','Q')). */
  fail(cause: TerminationCause, phase?: SessionPhase): void {
    if (this.ended) return;
    this.finish(cause, phase ?? this.currentPhase());
  }

  // ---- relaying ----

  private fromClient(b: Buffer): void {
    this.bytesIn += b.length;
    this.cLast = performance.now();
    const server = this.server;
    if (server === null) {
      this.prelude.push(b);
      this.preludeLen += b.length;
      this.preludeJoined = null;
      if (this.preludeLen >= this.maxPrelude && !this.cPaused) {
        this.cPaused = true;
        this.client.pause();
        this.schedule();
      }
      if (this.onPrelude !== null) this.onPrelude(this);
      return;
    }
    this.toServer(b);
  }

  private toServer(b: Buffer): void {
    if (this.server!.write(b)) return;
    if (!this.sBlocked) {
      this.sBlocked = true;
      if (!this.cPaused) {
        this.cPaused = true;
        this.client.pause();
      }
      this.schedule();
    }
  }

  private fromServer(b: Buffer): void {
    this.bytesOut += b.length;
    this.sLast = performance.now();
    if (this.client.write(b)) return;
    if (!this.cBlocked) {
      this.cBlocked = true;
      if (!this.sPaused) {
        this.sPaused = true;
        this.server!.pause();
      }
      this.schedule();
    }
  }

  // Resuming a side restarts its timer: it was not expected to send while paused.
  private serverDrained(): void {
    const now = performance.now();
    this.sLast = now;
    this.sBlocked = false;
    if (this.cPaused && !this.cEof) {
      this.cPaused = false;
      this.cLast = now;
      this.client.resume();
    }
  }

  private clientDrained(): void {
    const now = performance.now();
    this.cLast = now;
    this.cBlocked = false;
    if (this.sPaused && this.server !== null && !this.sEof) {
      this.sPaused = false;
      this.sLast = now;
      this.server.resume();
    }
  }

  private clientEof(): void {
    this.cEof = true;
    this.cLast = performance.now();
    if (this.server !== null) this.shutServer();
    else if (this.onPrelude !== null) this.onPrelude(this);
    this.schedule();
  }

  private serverEof(): void {
    this.sEof = true;
    this.sLast = performance.now();
    // Node writes the FIN after the bytes still queued: nothing the server sent is lost.
    if (!this.cShut) {
      this.cShut = true;
      this.client.end();
    }
    this.schedule();
  }

  private shutServer(): void {
    if (this.sShut) return;
    this.sShut = true;
    this.server!.end();
  }

  private clientClosed(): void {
    this.cClosed = true;
    if (this.ended) return;
    // A close without an error before both directions finished: the peer went away.
    if (!(this.cEof && this.cShut)) return this.fail('C');
    this.maybeDone();
  }

  private serverClosed(): void {
    this.sClosed = true;
    if (this.ended) return;
    if (!(this.sEof && this.sShut)) return this.fail('S');
    this.maybeDone();
  }

  private maybeDone(): void {
    if (this.cClosed && this.sClosed) this.finish('-', '-');
  }

  // ---- timeouts ----

  private enterConnect(): void {
    const now = performance.now();
    if (this.connectAt < 0) {
      this.connectAt = now;
      this.tw = this.queuedAt < 0 ? 0 : Math.round(now - this.queuedAt);
    }
    if (this.phase !== 'D') this.phase = 'C';
  }

  private currentPhase(): SessionPhase {
    if (this.phase === 'D' && this.sEof && this.sShut && this.sClosed) return 'L';
    return this.phase;
  }

  /** The client side's inactivity limit now, 0 = none. */
  private clientLimit(): number {
    const t = this.timeouts;
    if ((this.cEof || this.cShut) && t.clientFin > 0) return t.clientFin;
    if (this.phase === 'D' && t.tunnel > 0) return t.tunnel;
    return t.client;
  }

  private serverLimit(): number {
    const t = this.timeouts;
    if ((this.sEof || this.sShut) && t.serverFin > 0) return t.serverFin;
    if (t.tunnel > 0) return t.tunnel;
    return t.server;
  }

  /** ms at which the client side expires; Infinity when it is not expected to do anything. */
  private clientDeadline(): number {
    const expected = (!this.cEof && !this.cPaused) || this.cBlocked;
    if (!expected || this.cClosed) return Infinity;
    const limit = this.clientLimit();
    return limit > 0 ? this.cLast + limit : Infinity;
  }

  private serverDeadline(): number {
    if (this.server === null || this.sClosed) return Infinity;
    const expected = (!this.sEof && !this.sPaused) || this.sBlocked;
    if (!expected) return Infinity;
    const limit = this.serverLimit();
    return limit > 0 ? this.sLast + limit : Infinity;
  }

  /**
   * (Re)arms the one timer when the earliest deadline moved earlier. Activity only moves
   * deadlines later, so chunks never touch the timer: it fires, finds the deadline moved, and
   * re-arms (at most once per timeout period of activity).
   */
  private schedule(): void {
    if (this.ended) return;
    const at = Math.min(this.clientDeadline(), this.serverDeadline());
    if (at === Infinity || at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, Math.ceil(at - performance.now())));
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.ended) return;
    const now = performance.now();
    const c = this.clientDeadline();
    const s = this.serverDeadline();
    // HAProxy looks at the request channel (client side) first when both expired.
    if (c <= now) return this.fail('c');
    if (s <= now) return this.fail('s');
    this.schedule();
  }

  private finish(cause: TerminationCause, phase: SessionPhase): void {
    this.ended = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.pendingDone !== null) this.pendingDone({ ok: false, reason: 'aborted', error: 'session ended' });
    // An abort on one side is passed on as an abort (HAProxy sets NOLINGER): the other peer must
    // not mistake it for a clean end of stream.
    if (cause === 'S') this.client.resetAndDestroy();
    else this.client.destroy();
    if (cause === 'C' && this.server !== null) this.server.resetAndDestroy();
    else this.server?.destroy();
    this.prelude = [];
    this.preludeJoined = null;
    const now = performance.now();
    // a queue timeout still says how long it queued (HAProxy sets t_queue then); an abort does not
    if (this.tw < 0 && cause === 's' && phase === 'Q' && this.queuedAt >= 0) this.tw = Math.round(now - this.queuedAt);
    const end: TcpSessionEnd = {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      tw: this.tw,
      tc: this.tc,
      tt: Math.round(now - this.t0),
      termination: cause + phase,
      acceptedAt: this.wall0,
    };
    this.onEnd(end, this);
  }
}

/**
 * The relay's timeouts for a frontend/backend pair, as HAProxy takes them: client and
 * client-fin from the frontend; server, server-fin and tunnel from the backend (a tcp backend's
 * tunnel is 0 unless `timeout tunnel` was written: src/config/validate.ts).
 */
export function relayTimeouts(
  fe: { timeouts: { client: number; clientFin?: number } },
  be: { timeouts: { server: number; tunnel: number; serverFin?: number } },
): TcpTimeouts {
  return {
    client: fe.timeouts.client,
    clientFin: fe.timeouts.clientFin ?? 0,
    server: be.timeouts.server,
    serverFin: be.timeouts.serverFin ?? 0,
    tunnel: be.timeouts.tunnel,
  };
}
