// On reload, what the running process learned carries over to objects that keep their names:
// frontends and backends by name, servers by backend name + server name.
//
// - Server state (`carryOverServerState`): health, administrative state and the last check are
//   copied into the new shared state. Weights come from the new configuration unless an
//   administrator had changed them at run time.
// - Traffic counters and latency histograms (`CounterCarry`): the new generation's stats show
//   its own counts plus the previous generation's totals, mapped by name. The data path is not
//   involved: workers keep writing their own slabs, and the mapping is applied by the primary
//   when a stats snapshot is built (stats/snapshot.ts). While the old generation drains, its
//   slabs are read live (what its workers still count shows at once); once it has stopped,
//   `freeze()` keeps its final totals as a fixed base and lets it go. Objects that disappear
//   are dropped, new ones start at 0, gauges (scur, queues, current rates) are never carried,
//   maxima (smax, qmax, rate_max) carry as max(old, new).

import type { Config } from '../config/model';
import { COUNTER_STRIDE, counterRows, type CounterRows } from '../shared/counters';
import {
  BACKEND_STRIDE,
  B_SMAX,
  S_ADMIN,
  S_CHECK_CODE,
  S_CHECK_DURATION,
  S_CHECK_HEALTH,
  S_CHECK_STATUS,
  S_CHKDOWN,
  S_CHKFAIL,
  S_DOWNTIME,
  S_HEALTH,
  S_LAST_CHANGE,
  S_QMAX,
  S_SMAX,
  S_WEIGHT,
  dynamicAddress,
  ServerIndex,
  type SharedState,
} from '../shared/state';
import { RATE_CELLS } from '../stats/counters-store';
import {
  addHistogramSets,
  isGaugeCell,
  withCarriedCounters,
  withCarriedRates,
  type CarriedTotals,
  type CounterReader,
  type HistogramSet,
  type RateReader,
} from '../stats/snapshot';

/** For each object of the new configuration, its index in the old one (-1: new object). */
export interface NameMaps {
  frontends: Int32Array;
  backends: Int32Array;
  /** global server indexes (ServerIndex) */
  servers: Int32Array;
}

export function nameMaps(oldConfig: Config, newConfig: Config): NameMaps {
  const oldFe = new Map(oldConfig.frontends.map((f, i) => [f.name, i]));
  const oldBe = new Map(oldConfig.backends.map((b, i) => [b.name, i]));
  const oldIndex = new ServerIndex(oldConfig);
  const newIndex = new ServerIndex(newConfig);
  const oldSrv = new Map<string, number>();
  oldConfig.backends.forEach((b, bi) => b.servers.forEach((s, si) => oldSrv.set(`${b.name}\0${s.name}`, oldIndex.server(bi, si))));
  const servers = new Int32Array(newIndex.serverCount).fill(-1);
  newConfig.backends.forEach((b, bi) =>
    b.servers.forEach((s, si) => (servers[newIndex.server(bi, si)] = oldSrv.get(`${b.name}\0${s.name}`) ?? -1)),
  );
  return {
    frontends: Int32Array.from(newConfig.frontends, (f) => oldFe.get(f.name) ?? -1),
    backends: Int32Array.from(newConfig.backends, (b) => oldBe.get(b.name) ?? -1),
    servers,
  };
}

const CARRIED = [S_HEALTH, S_ADMIN, S_CHECK_STATUS, S_CHECK_CODE, S_CHECK_DURATION, S_CHECK_HEALTH, S_CHKFAIL, S_CHKDOWN, S_DOWNTIME, S_LAST_CHANGE];

/** Copy per-server state from the old generation into the new one; returns how many servers matched. */
export function carryOverServerState(oldConfig: Config, oldState: SharedState, newConfig: Config, newState: SharedState): number {
  const map = nameMaps(oldConfig, newConfig).servers;
  const oldIndex = new ServerIndex(oldConfig);
  const newIndex = new ServerIndex(newConfig);
  const oldWeight = new Int32Array(oldIndex.serverCount);
  oldConfig.backends.forEach((b, bi) => b.servers.forEach((s, si) => (oldWeight[oldIndex.server(bi, si)] = s.weight)));
  const newServers = newConfig.backends.flatMap((b) => b.servers);
  const oldServers = oldConfig.backends.flatMap((b) => b.servers);
  let matched = 0;
  map.forEach((old, g) => {
    if (old < 0) return;
    // an address found by DNS stays while the new resolver asks again (same name, same port)
    const ns = newServers[g];
    const os = oldServers[old];
    if (dynamicAddress(ns) && dynamicAddress(os) && ns.host === os.host && ns.port === os.port && ns.resolvers === os.resolvers) {
      newState.writeAddress(g, newIndex.backendOf(g), oldState.readAddress(old).addr);
    }
    for (const cell of CARRIED) newState.set(g, cell, oldState.get(old, cell));
    // a weight set by an administrator at run time survives; a configured one follows the file
    const runtimeWeight = oldState.get(old, S_WEIGHT);
    if (runtimeWeight !== oldWeight[old]) newState.set(g, S_WEIGHT, runtimeWeight);
    matched++;
  });
  return matched;
}

/** What a generation offers its successor (PrimaryTelemetry.carrySource()). */
export interface CarrySource {
  readonly config: Config;
  readonly state: SharedState;
  /** its own counters: live worker slabs, retired workers, the primary's own slab */
  readonly counters: CounterReader;
  readonly rates: RateReader;
  /** its own merged histograms (the same object while nothing changed) */
  histograms(): HistogramSet;
  collectHistograms(): Promise<void>;
  /** what it carried from its own predecessor */
  readonly carry: CarriedTotals | null;
}

interface Live {
  src: CarrySource;
  /** the previous generation's totals: its own counts plus what it carried */
  counters: CounterReader;
  rates: RateReader;
}

/** Final values of a stopped previous generation, mapped onto the new rows. */
interface Frozen {
  counters: Float64Array;
  rateMax: Float64Array;
  /** per server: S_SMAX, S_QMAX */
  serverMax: Float64Array;
  backendSmax: Float64Array;
  hists: HistogramSet;
}

const RATES = RATE_CELLS.length;

/** The previous generation's totals under the new configuration's row numbers. */
export class CounterCarry implements CarriedTotals {
  private live: Live | null;
  private frozen: Frozen | null = null;
  private readonly maps: NameMaps;
  private readonly rows: CounterRows;
  /** new counter row number -> old row number, -1 for new objects */
  private readonly rowMap: Int32Array;
  private mapped: { from: HistogramSet; to: HistogramSet } | null = null;
  private merged: { own: HistogramSet; carried: HistogramSet; sum: HistogramSet } | null = null;
  /** how many objects kept their names: frontends, backends, servers */
  readonly matched: { frontends: number; backends: number; servers: number };

  constructor(prev: CarrySource, config: Config) {
    this.maps = nameMaps(prev.config, config);
    this.rows = counterRows(config);
    const oldRows = counterRows(prev.config);
    const m = this.maps;
    this.rowMap = new Int32Array(this.rows.frontends + this.rows.backends + this.rows.servers);
    m.frontends.forEach((o, i) => (this.rowMap[i] = o));
    m.backends.forEach((o, i) => (this.rowMap[this.rows.frontends + i] = o < 0 ? -1 : oldRows.frontends + o));
    m.servers.forEach(
      (o, i) => (this.rowMap[this.rows.frontends + this.rows.backends + i] = o < 0 ? -1 : oldRows.frontends + oldRows.backends + o),
    );
    const kept = (a: Int32Array) => a.reduce((n, o) => n + (o >= 0 ? 1 : 0), 0);
    this.matched = { frontends: kept(m.frontends), backends: kept(m.backends), servers: kept(m.servers) };
    this.live = {
      src: prev,
      counters: withCarriedCounters(prev.counters, prev.carry),
      rates: withCarriedRates(prev.rates, prev.carry),
    };
  }

  /** True once the previous generation has stopped and its totals are a fixed base. */
  get isFrozen(): boolean {
    return this.frozen !== null;
  }

  counter(row: number, cell: number): number {
    if (isGaugeCell(cell)) return 0;
    if (this.frozen) return this.frozen.counters[row + cell];
    const o = this.rowMap[row / COUNTER_STRIDE];
    return o < 0 ? 0 : this.live!.counters.get(o * COUNTER_STRIDE, cell);
  }

  rateMax(row: number, k: number): number {
    const r = row / COUNTER_STRIDE;
    if (this.frozen) return this.frozen.rateMax[r * RATES + k];
    const o = this.rowMap[r];
    return o < 0 ? 0 : this.live!.rates.get(o * COUNTER_STRIDE, k).max;
  }

  serverMax(server: number, cell: number): number {
    if (cell !== S_SMAX && cell !== S_QMAX) return 0;
    if (this.frozen) return this.frozen.serverMax[server * 2 + (cell === S_SMAX ? 0 : 1)];
    const o = this.maps.servers[server];
    if (o < 0) return 0;
    const src = this.live!.src;
    return Math.max(src.state.get(o, cell), src.carry ? src.carry.serverMax(o, cell) : 0);
  }

  backendSmax(backend: number): number {
    if (this.frozen) return this.frozen.backendSmax[backend];
    const o = this.maps.backends[backend];
    if (o < 0) return 0;
    const src = this.live!.src;
    return Math.max(src.state.backends[o * BACKEND_STRIDE + B_SMAX], src.carry ? src.carry.backendSmax(o) : 0);
  }

  histograms(own: HistogramSet): HistogramSet {
    const carried = this.carriedHistograms();
    const m = this.merged;
    if (m !== null && m.own === own && m.carried === carried) return m.sum;
    const sum = addHistogramSets(own, carried);
    this.merged = { own, carried, sum };
    return sum;
  }

  /** The previous generation's histograms (its own plus its carried ones) on the new rows. */
  private carriedHistograms(): HistogramSet {
    if (this.frozen) return this.frozen.hists;
    const src = this.live!.src;
    const total = src.carry ? src.carry.histograms(src.histograms()) : src.histograms();
    if (this.mapped !== null && this.mapped.from === total) return this.mapped.to;
    const pick = (map: Int32Array, from: HistogramSet[keyof HistogramSet]) => Array.from(map, (o) => (o < 0 ? null : from[o] ?? null));
    const to: HistogramSet = {
      frontends: pick(this.maps.frontends, total.frontends),
      backends: pick(this.maps.backends, total.backends),
      servers: pick(this.maps.servers, total.servers),
    };
    this.mapped = { from: total, to };
    return to;
  }

  async collect(): Promise<void> {
    const live = this.live;
    if (live === null) return;
    await Promise.all([live.src.collectHistograms(), live.src.carry?.collect()]);
  }

  /**
   * The previous generation has stopped (every worker exited, so its slabs are final and its
   * last histograms arrived): keep its totals as a fixed base and let it go.
   */
  freeze(): void {
    if (this.live === null) return;
    const n = this.rowMap.length;
    const counters = new Float64Array(n * COUNTER_STRIDE);
    const rateMax = new Float64Array(n * RATES);
    for (let r = 0; r < n; r++) {
      if (this.rowMap[r] < 0) continue;
      const row = r * COUNTER_STRIDE;
      for (let c = 0; c < COUNTER_STRIDE; c++) counters[row + c] = this.counter(row, c);
      for (let k = 0; k < RATES; k++) rateMax[r * RATES + k] = this.rateMax(row, k);
    }
    const serverMax = new Float64Array(this.maps.servers.length * 2);
    for (let s = 0; s < this.maps.servers.length; s++) {
      serverMax[s * 2] = this.serverMax(s, S_SMAX);
      serverMax[s * 2 + 1] = this.serverMax(s, S_QMAX);
    }
    const backendSmax = Float64Array.from(this.maps.backends, (_o, b) => this.backendSmax(b));
    const hists = this.carriedHistograms();
    this.frozen = { counters, rateMax, serverMax, backendSmax, hists };
    this.live = null;
    this.mapped = null;
  }
}
