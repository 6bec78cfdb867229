// Primary side of observability: sums worker counter slabs, gathers and merges worker
// histograms, routes access-log batches to their log targets (the ones the workers do not write
// themselves: see WorkerTelemetry), serves the stats listeners.
import type { Config, LogTarget } from '../config/model';
import * as C from '../shared/counters';
import { G_ACTIVE_CONN, G_STARTED, S_WEIGHT, ServerIndex, type SharedState } from '../shared/state';
import { LogSink } from '../log/sink';
import { applyAdmin, type AdminForm, type AdminResult } from './admin';
import { CliServer, type CliBackend } from './cli';
import { serversState } from './servers-state';
import type { ResolversService } from '../dns/resolver';
import { CounterStore, RateTracker } from './counters-store';
import { HistogramStore } from './histogram-store';
import { TAG, isTelemetry, type HistogramRequest, type TickRequest } from './messages';
import { HistorySampler } from './history-sampler';
import { renderHistoryJson } from './history-json';
import { exportLatency, type ExportResult, type LatencyQuery } from './latency-export';
import { StatsServer, type StatsBackend } from './server';
import { hasRoutedStats } from './routed';
import type { PageOptions } from './html';
import { RenderPool, type RenderPoolOptions } from './render-pool';
import type { RenderKind } from './render-task';
import { buildSnapshot, type CarriedTotals, type Snapshot } from './snapshot';
import type { CarrySource } from '../primary/carry-over';

/** How long a stats request waits for the workers' histograms before using what it has. */
export const HISTOGRAM_WAIT_MS = 250;
/** How long a history tick waits for the workers' latencies; later ones count in the next second. */
export const TICK_WAIT_MS = 300;

interface Pending {
  waiting: Set<number>;
  done: () => void;
}

function sameTargets(a: LogTarget[], b: LogTarget[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class PrimaryTelemetry implements StatsBackend, CliBackend {
  private readonly index: ServerIndex;
  private readonly counters: CounterStore;
  private readonly rates: RateTracker;
  private readonly hists: HistogramStore;
  private readonly senders = new Map<number, (msg: unknown) => void>();
  /** per frontend: the sink its access logs go to (its own targets, else the global sink) */
  private readonly sinks: (LogSink | null)[];
  private readonly ownSinks: LogSink[] = [];
  private readonly servers: StatsServer[] = [];
  /** runtime API sockets (`stats socket`) */
  private readonly cliServers: CliServer[] = [];
  private rateTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private inflight: Promise<void> | null = null;
  /** log warnings the workers reported (each said once) */
  private readonly warned = new Set<string>();
  /** stats rendering: inline for small snapshots, on a piscina thread for large ones */
  readonly renderer: RenderPool;
  /** DNS discovery of this generation (set by primary/run.ts), for `show resolvers` */
  dns: ResolversService | null = null;
  /** earlier generations' counters under this configuration's names (SIGHUP reload; set by primary/run.ts) */
  carry: CarriedTotals | null = null;
  /** the 1 s history (history.ts), filled while a stats listener runs */
  readonly history: HistorySampler;
  private tickTimer: NodeJS.Timeout | null = null;
  private historyOn = false;
  private tickId = 0;
  private tickWaiting = new Set<number>();
  private tickDone: (() => void) | null = null;
  /** primary thread time (ms) the last history tick took (for the figures in docs/observability.md) */
  lastTickMs = 0;

  constructor(
    private readonly config: Config,
    private readonly state: SharedState,
    private readonly logSink: LogSink,
    renderOptions: RenderPoolOptions = {},
  ) {
    this.renderer = new RenderPool(renderOptions);
    this.index = new ServerIndex(config);
    const rows = C.counterRows(config);
    this.counters = new CounterStore(rows);
    this.rates = new RateTracker(this.counters);
    this.hists = new HistogramStore({ frontends: rows.frontends, backends: rows.backends, servers: rows.servers });
    this.history = new HistorySampler(config, this.index, state, this.counters);
    this.sinks = config.frontends.map((f) => {
      if (f.logs.length === 0) return null;
      if (sameTargets(f.logs, config.global.logs)) return logSink;
      const own = new LogSink(f.logs);
      this.ownSinks.push(own);
      return own;
    });
  }

  addWorker(workerId: number, slab: Float64Array, send: (msg: unknown) => void): void {
    if (this.senders.has(workerId)) this.removeWorker(workerId);
    this.counters.add(workerId, slab);
    this.senders.set(workerId, send);
  }

  removeWorker(workerId: number): void {
    this.counters.remove(workerId);
    this.hists.retire(workerId);
    this.senders.delete(workerId);
    if (this.tickWaiting.delete(workerId) && this.tickWaiting.size === 0) this.tickDone?.();
    for (const p of this.pending.values()) {
      p.waiting.delete(workerId);
      if (p.waiting.size === 0) p.done();
    }
  }

  onWorkerMessage(workerId: number, msg: unknown): boolean {
    if (!isTelemetry(msg)) return false;
    if (msg.kind === 'log') {
      // The workers appended these lines to the file targets already.
      const sink = this.sinks[msg.frontend];
      if (sink) sink.writeLines(msg.text, msg.lines, true);
    } else if (msg.kind === 'logwarn') {
      // Said once, whichever worker (or the primary's own output for the same file) saw it first.
      const sink = this.sinks[msg.frontend] ?? this.logSink;
      if (!this.warned.has(msg.text) && !sink.warnings.has(msg.text)) sink.event('warning', msg.text);
      this.warned.add(msg.text);
    } else if (msg.kind === 'tick') {
      if (msg.data instanceof Uint32Array) this.history.addReply(msg.data);
      if (msg.id === this.tickId && this.tickWaiting.delete(workerId) && this.tickWaiting.size === 0) this.tickDone?.();
    } else if (msg.kind === 'hist') {
      this.hists.apply(workerId, msg);
      const p = this.pending.get(msg.id);
      if (p) {
        p.waiting.delete(workerId);
        if (p.waiting.size === 0) p.done();
      }
    }
    return true;
  }

  /** Ask every worker for its changed histograms; resolves when all answered or after a short wait. */
  collectHistograms(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (this.senders.size === 0) return Promise.resolve();
    const id = this.nextId++;
    const p = new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), HISTOGRAM_WAIT_MS);
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(id);
        this.inflight = null;
        resolve();
      };
      this.pending.set(id, { waiting: new Set(this.senders.keys()), done: finish });
    });
    this.inflight = p;
    const req: HistogramRequest = { gh: TAG, kind: 'hist?', id };
    for (const send of this.senders.values()) send(req);
    return p;
  }

  /** Start the 1 s history: ticks on whole seconds, so samples line up with wall-clock seconds. */
  startHistory(): void {
    if (this.historyOn) return;
    this.historyOn = true;
    const arm = () => {
      if (!this.historyOn) return;
      const run = () =>
        void this.tick()
          .catch((e: Error) => this.logSink.event('warning', `stats history: ${e.message}`))
          .then(arm);
      this.tickTimer = setTimeout(run, 1000 - (Date.now() % 1000) + 2);
      this.tickTimer.unref();
    };
    arm();
  }

  private stopHistory(): void {
    this.historyOn = false;
    if (this.tickTimer) clearTimeout(this.tickTimer);
    this.tickTimer = null;
    this.tickDone?.();
  }

  /** One history second: counters now, the workers' latencies since their last reply. */
  async tick(nowMs = Date.now()): Promise<void> {
    // begin() and finish() are synchronous on this thread: their wall time is the primary's CPU
    // for the tick (process.cpuUsage would add the workers').
    let t = performance.now();
    this.history.begin(nowMs);
    let busy = performance.now() - t;
    const id = ++this.tickId;
    this.tickWaiting = new Set(this.senders.keys());
    if (this.tickWaiting.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.tickDone?.(), TICK_WAIT_MS);
        this.tickDone = () => {
          clearTimeout(timer);
          this.tickDone = null;
          resolve();
        };
        const req: TickRequest = { gh: TAG, kind: 'tick?', id };
        for (const send of this.senders.values()) send(req);
      });
    }
    t = performance.now();
    this.history.finish();
    busy += performance.now() - t;
    this.lastTickMs = busy;
  }

  /**
   * A reload: this (new) generation starts with `prev`'s 1 s history for every frontend,
   * backend and server that keeps its name. To be called once, right after construction
   * (primary/run.ts, startGeneration, when there is a previous generation).
   */
  adoptHistory(prev: PrimaryTelemetry): void {
    this.history.adopt(prev.history);
  }

  /** `<uri>;history[;since=T]` */
  historyJson(since: number | null): string {
    return renderHistoryJson(this.history, since);
  }

  /** `<uri>;latency;...` */
  latencyExport(q: LatencyQuery): ExportResult {
    return exportLatency(this.history, q);
  }

  /** The current view of everything (used by every stats output). */
  async snapshot(): Promise<Snapshot> {
    await Promise.all([this.collectHistograms(), this.carry?.collect()]);
    return buildSnapshot({
      config: this.config,
      index: this.index,
      state: this.state,
      counters: this.counters,
      rates: this.rates,
      hists: this.hists.get(),
      carry: this.carry,
    });
  }

  /** What the next generation reads to carry these counters over (primary/carry-over.ts). */
  carrySource(): CarrySource {
    return {
      config: this.config,
      state: this.state,
      counters: this.counters,
      rates: this.rates,
      histograms: () => this.hists.get(),
      collectHistograms: () => this.collectHistograms(),
      carry: this.carry,
    };
  }

  render(kind: RenderKind, snap: Snapshot, hideVersion: boolean, page?: PageOptions): Promise<string> {
    return this.renderer.render(kind, snap, hideVersion, page);
  }

  admin(form: AdminForm, user: string): AdminResult {
    const { result, changed } = applyAdmin(this.config, this.index, this.state, form);
    if (changed.length)
      this.logSink.event('notice', `stats admin${user ? ` (${user})` : ''}: server ${form.backend}/${changed.join(',')} set to ${form.action === 'weight' ? `weight ${form.weight}` : form.action.toUpperCase()}`);
    return result;
  }

  count(frontend: number, status: number, bytesIn: number, bytesOut: number, newConnection: boolean): void {
    const slab = this.counters.local;
    const row = C.frontendRow(frontend);
    if (newConnection) {
      slab[row + C.C_CONN_TOT]++;
      return;
    }
    slab[row + C.C_STOT]++;
    slab[row + C.C_REQ_TOT]++;
    slab[row + C.C_INTERCEPTED]++;
    slab[row + C.C_BIN] += bytesIn;
    slab[row + C.C_BOUT] += bytesOut;
    slab[row + C.C_LAST_SESS] = Date.now();
    const cls = Math.floor(status / 100);
    slab[row + (cls >= 1 && cls <= 5 ? C.C_HRSP_1XX + cls - 1 : C.C_HRSP_OTHER)]++;
  }

  async startStatsServers(retryMs = 0): Promise<void> {
    if (this.rateTimer === null) {
      this.rates.sample();
      this.rateTimer = setInterval(() => this.rates.sample(), 1000);
      this.rateTimer.unref();
    }
    if (this.config.frontends.some((f) => f.stats?.enable) || hasRoutedStats(this.config)) this.startHistory();
    for (let i = 0; i < this.config.frontends.length; i++) {
      const f = this.config.frontends[i];
      // a proxying frontend's page is on an internal listener the workers reach (routed.ts)
      if (!f.stats?.enable || f.statsRouted) continue;
      const server = new StatsServer(f.stats, f.binds, i, this);
      this.servers.push(server);
      await server.listen(retryMs);
    }
    for (const spec of this.config.global.statsSockets) {
      const cli = new CliServer(spec, this, this.config.global.statsTimeout, (text) => this.logSink.event('warning', text));
      try {
        await cli.listen();
      } catch (e) {
        throw new Error(`cannot bind stats socket ${spec.path}: ${(e as Error).message}`);
      }
      this.cliServers.push(cli);
    }
  }

  /** Ports the stats listeners are bound to, in frontend/bind order. */
  get statsPorts(): number[] {
    return this.servers.flatMap((s) => s.ports);
  }

  /** Stop serving stats (first thing on shutdown, so a successor can bind the ports). */
  async closeStatsServers(): Promise<void> {
    await Promise.all([...this.servers.map((s) => s.close()), ...this.cliServers.map((s) => s.close())]);
    this.servers.length = 0;
    this.cliServers.length = 0;
  }

  hasBackend(name: string): boolean {
    return this.index.backendByName.has(name);
  }

  weightOf(backend: string, server: string): { current: number; initial: number } | null {
    const bi = this.index.backendByName.get(backend);
    if (bi === undefined) return null;
    const local = this.config.backends[bi].servers.findIndex((s) => s.name === server);
    if (local < 0) return null;
    return { current: this.state.get(this.index.server(bi, local), S_WEIGHT), initial: this.config.backends[bi].servers[local].weight };
  }

  serversState(backend?: string): string | null {
    // HAProxy numbers proxies in file order; a listen's two halves share one id
    const ids = new Map<string, number>();
    for (const p of [...this.config.frontends, ...this.config.backends]) if (!ids.has(p.name)) ids.set(p.name, ids.size + 1);
    return serversState(this.config, this.state, this.index, (n) => ids.get(n) ?? 0, backend);
  }

  showResolvers(section?: string): string | null {
    return this.dns === null ? (section === undefined ? '' : null) : this.dns.show(section);
  }

  info(): { maxconn: number; currConns: number; workers: number; startedSec: number } {
    const g = this.state.global;
    return { maxconn: this.config.global.maxconn, currConns: Atomics.load(g, G_ACTIVE_CONN), workers: this.config.global.workers, startedSec: g[G_STARTED] };
  }

  async stop(): Promise<void> {
    if (this.rateTimer) clearInterval(this.rateTimer);
    this.rateTimer = null;
    this.stopHistory();
    await this.closeStatsServers();
    await this.renderer.destroy();
    await Promise.all(this.ownSinks.map((s) => s.close()));
  }
}
