// Worker thread entry: the front engines (uws-engine.ts: one uWS App per frontend, every bind
// shared by all workers through SO_REUSEPORT), a recycled pool of Exchange objects, and one
// ticker for timeouts and idle upstream connections; stop, pause, resume and crash handling.

import { parentPort, workerData } from 'node:worker_threads';
import { primaryServesBinds, type Config } from '../config/model';
import { SharedState } from '../shared/state';
import { WorkerTelemetry } from '../stats/telemetry-worker';
import { WorkerRuntime } from './runtime';
import { Exchange } from '../proxy/exchange';
import type { FrontEngine } from './engine';
import { UwsEngine } from './uws-engine';
import { NodeEngine, type NodeFrontend } from './node-engine';
import { TcpEngine } from './tcp-engine';
import { bindEngine, bindKey } from './engine';
import { loadUws } from './uws-load';
import type { BindAddress } from '../config/model';
import type { FrontendRuntime } from './runtime';
import { WebSocketProxy } from './websocket';
import { monoNow } from '../shared/clock';
import type { PrimaryToWorker, WorkerToPrimary } from './messages';

export interface WorkerInit {
  config: Config;
  stateBuffer: SharedArrayBuffer;
  slab: Float64Array;
  workerId: number;
  /** listening descriptors of node-engine binds, by bind key (engine.ts) */
  fds: Record<string, number>;
  /** started during a pause (SIGTTOU): listen only on resume, with the descriptors it brings */
  paused?: boolean;
  /** the process's TLS session ticket keys (48 bytes), shared by every worker's node:tls servers */
  ticketKeys?: Uint8Array;
}

const TICK_MS = 100;
const DRAIN_LINGER_MS = 1000;
const POOL_IDLE_MS = 15000;

class Worker {
  readonly rt: WorkerRuntime;
  /** WebSocket tunnels (src/worker/websocket.ts) */
  readonly ws: WebSocketProxy;
  /** the front engines serving this worker's frontends */
  private readonly engines: FrontEngine[] = [];
  private nodeEngine: NodeEngine | null = null;
  private tcpEngine: TcpEngine | null = null;
  private fds: Record<string, number>;
  /** the node and tcp engines' frontends with the bind keys of their descriptors (see resume) */
  private readonly shared: { entry: NodeFrontend; keys: string[]; binds: BindAddress[] }[] = [];
  /** the process's TLS session ticket keys (WorkerInit.ticketKeys) */
  private readonly ticketKeys: Buffer | null;
  /** listeners closed by pause() */
  private paused: boolean;
  private readonly free: Exchange[] = [];
  private readonly recycleB = this.recycle.bind(this);
  private readonly takeExchangeB = this.takeExchange.bind(this);
  private readonly ticker: NodeJS.Timeout;
  private stopping = false;
  private lingerUntil = 0;
  private lastReap = 0;

  constructor(init: WorkerInit, private readonly post: (m: WorkerToPrimary) => void) {
    const state = SharedState.attach(init.stateBuffer, init.config);
    const telemetry = new WorkerTelemetry(init.config, init.workerId, post as (m: unknown) => void, state);
    this.rt = new WorkerRuntime(init.config, state, init.slab, init.workerId, telemetry);
    this.fds = init.fds;
    this.ticketKeys = init.ticketKeys !== undefined ? Buffer.from(init.ticketKeys) : null;
    this.paused = init.paused === true;
    this.ws = new WebSocketProxy(this.rt, this.takeExchangeB);
    // not from inside the uWS close handler that ended the last tunnel
    this.ws.onEmpty = () => setImmediate(() => this.exitIfIdle());
    // The checks run after the loop turn's I/O (setImmediate): when the process comes back from
    // a stall (a long GC, a descheduled VM), bytes already waiting in the sockets are taken
    // before their absence is judged a timeout.
    this.ticker = setInterval(() => setImmediate(this.tickB), TICK_MS);
  }

  async listen(): Promise<void> {
    // Stats-only frontends are served by the primary thread.
    const frontends = this.rt.frontends.filter((fe) => !primaryServesBinds(fe.cfg));
    const g = this.rt.config.global;
    const uwsOk = loadUws() !== null;
    const uws: { fe: FrontendRuntime; binds: BindAddress[] }[] = [];
    const node: NodeFrontend[] = [];
    const tcp: NodeFrontend[] = [];
    for (const fe of frontends) {
      if (fe.cfg.mode === 'tcp') {
        tcp.push(this.sharedEntry(fe, fe.cfg.binds));
        continue;
      }
      const u = fe.cfg.binds.filter((b) => bindEngine(b, g, uwsOk) === 'uws');
      const n = fe.cfg.binds.filter((b) => bindEngine(b, g, uwsOk) === 'node');
      if (u.length > 0) uws.push({ fe, binds: u });
      // `proto h2` binds get listeners of their own that hand each connection to node:http2
      const h1 = n.filter((b) => b.proto !== 'h2');
      const h2 = n.filter((b) => b.proto === 'h2');
      if (h1.length > 0) node.push(this.sharedEntry(fe, h1));
      for (const proxied of [false, true]) {
        const list = h2.filter((b) => b.acceptProxy === proxied);
        if (list.length === 0) continue;
        const e = this.sharedEntry(fe, list);
        e.h2 = true;
        e.acceptProxy = proxied;
        node.push(e);
      }
    }
    if (uws.length > 0) this.engines.push(new UwsEngine(this.rt, uws, this.ws, this.takeExchangeB));
    if (node.length > 0) {
      this.nodeEngine = new NodeEngine(this.rt, node, this.takeExchangeB, () => setImmediate(() => this.exitIfIdle()), this.ticketKeys);
      this.engines.push(this.nodeEngine);
    }
    if (tcp.length > 0) {
      this.tcpEngine = new TcpEngine(this.rt, tcp, () => setImmediate(() => this.exitIfIdle()), this.ticketKeys);
      this.engines.push(this.tcpEngine);
    }
    // started during a pause: the shared sockets are closed; resume() brings new ones
    if (!this.paused) await this.bindAll();
  }

  private sharedEntry(fe: FrontendRuntime, binds: BindAddress[]): NodeFrontend {
    const keys = binds.map(bindKey);
    const entry: NodeFrontend = { fe, fds: keys.map((k) => this.fds[k]), binds };
    this.shared.push({ entry, keys, binds });
    return entry;
  }

  /** Listen on every bind of every engine (start, and resume after a pause). */
  private async bindAll(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.listen()));
  }

  private closeListeners(): void {
    for (const e of this.engines) e.closeListeners();
  }

  /**
   * SIGTTOU (HAProxy): stop accepting new connections, keep serving the open ones, until
   * resume(). The ports stay bound by nothing of this worker meanwhile.
   */
  pause(): void {
    if (this.stopping || this.paused) return;
    this.paused = true;
    this.closeListeners();
  }

  /** SIGTTIN: listen again. A bind that fails now is reported; the worker keeps its connections. */
  resume(fds?: Record<string, number>): void {
    if (this.stopping || !this.paused) return;
    this.paused = false;
    if (fds !== undefined) {
      // the primary closed the shared sockets for the pause and bound them anew
      this.fds = fds;
      // a port the primary could not bind again is left out (it reported that)
      for (const s of this.shared) {
        s.entry.fds = s.keys.map((k) => fds[k]).filter((fd) => fd !== undefined);
        s.entry.binds = s.binds.filter((_, i) => fds[s.keys[i]] !== undefined);
      }
    }
    this.bindAll().then(
      () => this.post({ type: 'resumed' }),
      (e: Error) => {
        // a partial rebind serves what it got; the primary logs what it could not get
        this.post({ type: 'resumed', error: e.message });
      },
    );
  }

  /** WebSocket tunnels and TCP sessions open on any engine (a graceful stop waits for them) */
  private tunnels(): number {
    return this.ws.count + (this.nodeEngine === null ? 0 : this.nodeEngine.tunnelCount) + (this.tcpEngine === null ? 0 : this.tcpEngine.count);
  }

  private takeExchange(): Exchange {
    return this.free.pop() ?? new Exchange(this.recycleB);
  }

  private recycle(ex: Exchange): void {
    ex.reset();
    if (this.free.length < 4096) this.free.push(ex);
    this.exitIfIdle();
  }

  /** Stopping, nothing in flight (requests or WebSocket tunnels) and the linger is over: exit. */
  private exitIfIdle(): void {
    if (this.stopping && this.rt.active.size === 0 && this.tunnels() === 0 && monoNow() >= this.lingerUntil) this.exit();
  }

  private readonly tickB = (): void => {
    if (!this.exited) this.tick();
  };

  private tick(): void {
    const now = monoNow();
    // Slots freed by other workers wake nobody here: queued requests look again every tick.
    this.rt.drainQueues();
    for (const ex of this.rt.active) {
      if (ex.deadline !== 0 && ex.deadline < now) ex.onTimeout();
      else if (ex.clientDeadline !== 0) {
        if (ex.clientDeadline < now) ex.onClientTimeout();
        else ex.keepClientTimer(now);
      }
    }
    if (this.ws.count > 0) this.ws.tick(now);
    else this.ws.now = now;
    if (now - this.lastReap > 1000) {
      this.lastReap = now;
      const cutoff = now - POOL_IDLE_MS;
      for (const s of this.rt.servers) s.pool.reap(cutoff);
    }
  }

  /**
   * Graceful stop: no new connections; in-flight requests get `graceMs` to finish. Meanwhile
   * every answer says `Connection: close` (HAProxy's soft-stop), and the worker lingers up to
   * DRAIN_LINGER_MS so keep-alive clients learn to reconnect (to the other workers, or to the
   * next generation) instead of having a connection closed under a request in flight.
   */
  stop(graceMs: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.rt.draining = true;
    // After this loop turn: connections the kernel has already reported on the listening
    // sockets are accepted first, not reset by the close (a reload's new workers are listening
    // beside them; see primary/migrate-req.ts for the ones that come after).
    setImmediate(() => {
      if (!this.exited) this.closeListeners(); // exit() closed them with the engines
    });
    const linger = Math.min(DRAIN_LINGER_MS, graceMs);
    this.lingerUntil = monoNow() + linger;
    setTimeout(() => {
      if (this.rt.active.size === 0 && this.tunnels() === 0) this.exit();
    }, linger).unref();
    setTimeout(() => this.exit(), Math.max(graceMs, linger)).unref();
  }

  /**
   * A bug reached the top of the stack. A worker thread that ends with open uWS sockets aborts
   * the whole process, so close every socket first; the primary then starts a replacement.
   */
  crash(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.post({ type: 'crashed', message: err.stack ?? err.message });
    if (this.exited) return;
    this.exited = true;
    clearInterval(this.ticker);
    try {
      this.closeListeners();
      for (const s of this.rt.servers) s.pool.closeAll();
      for (const e of this.engines) e.close();
    } finally {
      setImmediate(() => process.exit(1));
    }
  }

  private exited = false;
  private exit(): void {
    if (this.exited) return;
    this.exited = true;
    clearInterval(this.ticker);
    // open WebSocket tunnels hear 1001 (Going Away) on both sides, and are logged
    this.ws.closeAll();
    this.rt.telemetry?.flush();
    for (const s of this.rt.servers) s.pool.closeAll();
    for (const e of this.engines) e.close();
    this.post({ type: 'stopped' });
    setImmediate(() => process.exit(0));
  }

  onMessage(msg: PrimaryToWorker): void {
    if (msg.type === 'stop') this.stop(Number(msg.graceMs));
    else if (msg.type === 'pause') this.pause();
    else if (msg.type === 'resume') this.resume(msg.fds as Record<string, number> | undefined);
    else this.rt.telemetry?.onMessage(msg);
  }
}

if (parentPort !== null) {
  const port = parentPort;
  const post = (m: WorkerToPrimary) => port.postMessage(m);
  const w = new Worker(workerData as WorkerInit, post);
  process.on('uncaughtException', (e) => w.crash(e));
  process.on('unhandledRejection', (e) => w.crash(e));
  port.on('message', (m: PrimaryToWorker) => w.onMessage(m));
  w.listen().then(
    () => post({ type: 'ready' }),
    (e: Error) => {
      post({ type: 'fatal', message: e.message });
      w.stop(0);
    },
  );
}
