// One consistent view of everything the stats outputs show (CSV, JSON, HTML, Prometheus),
// built in the primary from the shared state, the summed counter slabs and merged histograms.
import { tableNamed } from '../stick/registry';
import type { StickTable } from '../stick/table';
import type { Histogram } from 'hdr-histogram-js';
import type { BackendConfig, Config, ServerConfig } from '../config/model';
import * as C from '../shared/counters';
import {
  ADMIN_DRAIN,
  ADMIN_MAINT,
  BACKEND_STRIDE,
  B_ACTIVE,
  B_LAST_CHANGE,
  B_QMAX,
  B_QUEUE,
  B_SMAX,
  FRONTEND_STRIDE,
  F_SMAX,
  CHECK_STATUS_NAMES,
  G_STARTED,
  S_ACTIVE,
  S_ADMIN,
  S_RMAINT,
  dynamicAddress,
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
  S_QUEUE,
  S_SMAX,
  S_WEIGHT,
  ServerIndex,
  type SharedState,
} from '../shared/state';
import { CHECK_DESC, TYPE_BACKEND, TYPE_FRONTEND, TYPE_SERVER, type StatsRow } from './columns';
import type { CounterStore, RateTracker } from './counters-store';
import { newHistogram, summarize, type LatencySummary } from './histograms';
import { isInternalBackend } from './routed-names';

export type ServerStatusClass = 'up' | 'down' | 'maint' | 'drain' | 'nocheck' | 'going-down' | 'going-up';

export interface ServerView {
  name: string;
  index: number;
  local: number;
  backup: boolean;
  status: string;
  statusClass: ServerStatusClass;
  /** usable for new traffic (what selection sees) */
  usable: boolean;
  row: StatsRow;
  latency: LatencySummary | null;
  hist: Histogram | null;
}

export interface BackendView {
  name: string;
  index: number;
  status: string;
  row: StatsRow;
  servers: ServerView[];
  latency: LatencySummary | null;
  hist: Histogram | null;
}

export interface FrontendView {
  name: string;
  index: number;
  row: StatsRow;
  latency: LatencySummary | null;
  hist: Histogram | null;
}

/** A proxy as HAProxy lists it: a listen section has both halves under one name. */
export interface ProxyView {
  name: string;
  iid: number;
  frontend: FrontendView | null;
  backend: BackendView | null;
}

export interface Snapshot {
  nowMs: number;
  startedSec: number;
  uptimeSec: number;
  pid: number;
  workers: number;
  proxies: ProxyView[];
  frontends: FrontendView[];
  backends: BackendView[];
  /** stick tables (src/stick): size, entries and counters about the table itself */
  tables?: StickTableView[];
}

export interface StickTableView {
  name: string;
  type: string;
  size: number;
  used: number;
  /** new entries refused (table full with nopurge) */
  refused: number;
  evicted: number;
  /** keys that could not be one of the table's type */
  badKeys: number;
  /** lock acquisitions that had to wait */
  contended: number;
  learned: number;
}

/** Merged latency histograms per row, indexed like the counter rows of each kind. */
export interface HistogramSet {
  frontends: readonly (Histogram | null)[];
  backends: readonly (Histogram | null)[];
  servers: readonly (Histogram | null)[];
}

/** Summed counter cells, as `CounterStore` gives them (row = frontendRow/backendRow/serverRow). */
export interface CounterReader {
  readonly rows: C.CounterRows;
  readonly workers: number;
  get(row: number, cell: number): number;
}

export interface RateReader {
  /** k: index into RATE_CELLS */
  get(row: number, k: number): { rate: number; max: number };
}

/**
 * What earlier generations counted (SIGHUP reload), already mapped onto this configuration's
 * rows by name; objects that are new read 0. Built in `primary/carry-over.ts`. Only cumulative
 * values come through: gauges (scur, queues, current rates) are this generation's alone.
 */
export interface CarriedTotals {
  /** a counter cell: C_SMAX and C_LAST_SESS as maxima, the rest as sums; gauges (C_SCUR, C_ADMITTED) are 0 */
  counter(row: number, cell: number): number;
  /** highest per-second rate seen (k: index into RATE_CELLS) */
  rateMax(row: number, k: number): number;
  /** a server's S_SMAX or S_QMAX */
  serverMax(server: number, cell: number): number;
  backendSmax(backend: number): number;
  /** `own` (this generation's merged histograms) with the carried ones added */
  histograms(own: HistogramSet): HistogramSet;
  /** ask still-draining generations for their latest histograms */
  collect(): Promise<void>;
}

export interface SnapshotSources {
  config: Config;
  index: ServerIndex;
  state: SharedState;
  counters: CounterStore;
  rates: RateTracker;
  hists: HistogramSet;
  /** earlier generations' totals (after a reload), null or absent when there are none */
  carry?: CarriedTotals | null;
}

/** Counter cells that describe live state (not carried over a reload). */
export function isGaugeCell(cell: number): boolean {
  return cell === C.C_SCUR || cell === C.C_ADMITTED;
}

/** How an own cell and a carried cell combine: maxima stay maxima, gauges are not carried. */
export function combineCell(cell: number, own: number, carried: number): number {
  if (isGaugeCell(cell)) return own;
  if (cell === C.C_SMAX || cell === C.C_LAST_SESS) return Math.max(own, carried);
  return own + carried;
}

/** This generation's counters plus what earlier generations counted under the same names. */
export function withCarriedCounters(own: CounterReader, carry: CarriedTotals | null | undefined): CounterReader {
  if (!carry) return own;
  return {
    rows: own.rows,
    get workers() {
      return own.workers;
    },
    get: (row, cell) => (isGaugeCell(cell) ? own.get(row, cell) : combineCell(cell, own.get(row, cell), carry.counter(row, cell))),
  };
}

/**
 * A backend's own stats page is answered through a hidden backend (routed.ts); HAProxy counts
 * those requests on the backend itself, so its row's counter cells include the hidden one's
 * (maxima as maxima). Rates, latency and the live gauges in the shared state are its own.
 */
export function withStatsFolded(own: CounterReader, config: Config): CounterReader {
  const fold = new Map<number, number>();
  const byName = new Map(config.backends.map((b, i) => [b.name, i]));
  config.backends.forEach((b, bi) => {
    const hidden = b.statsTarget === undefined ? undefined : byName.get(b.statsTarget);
    if (hidden !== undefined) fold.set(C.backendRow(own.rows, bi), C.backendRow(own.rows, hidden));
  });
  if (fold.size === 0) return own;
  return {
    rows: own.rows,
    get workers() {
      return own.workers;
    },
    get: (row, cell) => {
      const other = fold.get(row);
      if (other === undefined) return own.get(row, cell);
      const a = own.get(row, cell);
      const b = own.get(other, cell);
      return cell === C.C_SMAX || cell === C.C_LAST_SESS ? Math.max(a, b) : a + b;
    },
  };
}

/** Current rates are this generation's; their maxima include earlier generations'. */
export function withCarriedRates(own: RateReader, carry: CarriedTotals | null | undefined): RateReader {
  if (!carry) return own;
  return {
    get: (row, k) => {
      const r = own.get(row, k);
      return { rate: r.rate, max: Math.max(r.max, carry.rateMax(row, k)) };
    },
  };
}

/** Sum two histogram sets row by row (`a` and `b` indexed alike); rows present in one only are shared, not copied. */
export function addHistogramSets(a: HistogramSet, b: HistogramSet): HistogramSet {
  const add = (x: readonly (Histogram | null)[], y: readonly (Histogram | null)[]) =>
    x.map((h, i) => {
      const g = y[i] ?? null;
      if (!g || g.totalCount === 0) return h;
      if (!h || h.totalCount === 0) return g;
      const m = newHistogram();
      m.add(h);
      m.add(g);
      return m;
    });
  return { frontends: add(a.frontends, b.frontends), backends: add(a.backends, b.backends), servers: add(a.servers, b.servers) };
}

function avg(counters: CounterReader, row: number, sum: number, cnt: number): number {
  const n = counters.get(row, cnt);
  return n > 0 ? Math.round(counters.get(row, sum) / n) : 0;
}

function lastSess(counters: CounterReader, row: number, nowMs: number): number {
  const t = counters.get(row, C.C_LAST_SESS);
  return t > 0 ? Math.max(0, Math.floor((nowMs - t) / 1000)) : -1;
}

/** Counters common to every row type; a tcp proxy's rows leave the HTTP ones empty, as HAProxy's. */
function trafficCells(counters: CounterReader, row: number, mode: 'http' | 'tcp'): StatsRow {
  if (mode === 'tcp') {
    return {
      stot: counters.get(row, C.C_STOT),
      bin: counters.get(row, C.C_BIN),
      bout: counters.get(row, C.C_BOUT),
      dresp: counters.get(row, C.C_DRESP),
      hrsp_1xx: '',
      hrsp_2xx: '',
      hrsp_3xx: '',
      hrsp_4xx: '',
      hrsp_5xx: '',
      hrsp_other: '',
      pid: 1,
      mode: 'tcp',
      wrew: 0,
      eint: 0,
    };
  }
  return {
    stot: counters.get(row, C.C_STOT),
    bin: counters.get(row, C.C_BIN),
    bout: counters.get(row, C.C_BOUT),
    dresp: counters.get(row, C.C_DRESP),
    hrsp_1xx: counters.get(row, C.C_HRSP_1XX),
    hrsp_2xx: counters.get(row, C.C_HRSP_2XX),
    hrsp_3xx: counters.get(row, C.C_HRSP_3XX),
    hrsp_4xx: counters.get(row, C.C_HRSP_4XX),
    hrsp_5xx: counters.get(row, C.C_HRSP_5XX),
    hrsp_other: counters.get(row, C.C_HRSP_OTHER),
    pid: 1,
    mode: 'http',
    wrew: 0,
    eint: 0,
  };
}

function upstreamCells(counters: CounterReader, row: number, nowMs: number): StatsRow {
  return {
    econ: counters.get(row, C.C_ECON),
    eresp: counters.get(row, C.C_ERESP),
    wretr: counters.get(row, C.C_WRETR),
    wredis: counters.get(row, C.C_WREDIS),
    lbtot: counters.get(row, C.C_LBTOT),
    cli_abrt: counters.get(row, C.C_CLI_ABRT),
    srv_abrt: counters.get(row, C.C_SRV_ABRT),
    lastsess: lastSess(counters, row, nowMs),
    qtime: avg(counters, row, C.C_QTIME_SUM, C.C_QTIME_CNT),
    ctime: avg(counters, row, C.C_CTIME_SUM, C.C_CTIME_CNT),
    rtime: avg(counters, row, C.C_RTIME_SUM, C.C_RTIME_CNT),
    ttime: avg(counters, row, C.C_TTIME_SUM, C.C_TTIME_CNT),
  };
}

/** The stats `addr` column: the configured address, or the one DNS gave ('' for none, as HAProxy). */
export function serverAddr(st: SharedState, gi: number, s: ServerConfig): string {
  let host = s.host;
  let port = s.port;
  if (dynamicAddress(s)) {
    const a = st.readAddress(gi).addr;
    if (a === null) return '';
    ({ ip: host, port } = a);
  }
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A server's status text and class as the stats page shows it. */
export function serverStatus(
  st: SharedState,
  i: number,
  s: ServerConfig,
  b: BackendConfig,
): { status: string; cls: ServerStatusClass } {
  const admin = st.get(i, S_ADMIN);
  if (admin === ADMIN_MAINT) return { status: 'MAINT', cls: 'maint' };
  // no address from DNS (src/dns/): HAProxy's RMAINT
  if (st.get(i, S_RMAINT) === 1) return { status: 'MAINT (resolution)', cls: 'maint' };
  const up = st.get(i, S_HEALTH) === 1;
  if (admin === ADMIN_DRAIN) return up || !s.check ? { status: 'DRAIN', cls: 'drain' } : { status: 'DOWN', cls: 'down' };
  if (!s.check) return { status: 'no check', cls: 'nocheck' };
  const rise = s.rise ?? b.healthCheck.rise;
  const fall = s.fall ?? b.healthCheck.fall;
  const health = st.get(i, S_CHECK_HEALTH);
  // HAProxy's health counter runs 0..rise+fall-1; UP from `rise` on. In between, it shows the
  // direction a server is heading, e.g. "UP 1/3" (one failed check of three before DOWN).
  if (up) {
    if (health >= rise && health < rise + fall - 1) return { status: `UP ${health - rise + 1}/${fall}`, cls: 'going-down' };
    return { status: 'UP', cls: 'up' };
  }
  if (health > 0 && health < rise) return { status: `DOWN ${health}/${rise}`, cls: 'going-up' };
  return { status: 'DOWN', cls: 'down' };
}

/** HTTP-only columns HAProxy 2.6 leaves empty (or at 0) on a tcp proxy's rows (stats.c, PR_MODE_HTTP). */
const TCP_FRONTEND_BLANKS: StatsRow = { req_rate: 0, req_rate_max: 0, req_tot: 0, intercepted: '', cache_lookups: '', cache_hits: '' };
const TCP_BACKEND_BLANKS: StatsRow = { req_tot: '', intercepted: '', cache_lookups: '', cache_hits: '' };

export function buildSnapshot(src: SnapshotSources, nowMs = Date.now()): Snapshot {
  const { config, index, state: st } = src;
  const carry = src.carry ?? null;
  const counters = withStatsFolded(withCarriedCounters(src.counters, carry), config);
  const rates = withCarriedRates(src.rates, carry);
  const hists = carry ? carry.histograms(src.hists) : src.hists;
  const rows = counters.rows;
  const nowSec = Math.floor(nowMs / 1000);
  const startedSec = st.global[G_STARTED] || nowSec;

  // iid: HAProxy numbers proxies; a listen's two halves share one id.
  const iidOf = new Map<string, number>();
  let nextIid = 1;
  const iid = (name: string) => {
    let v = iidOf.get(name);
    if (v === undefined) iidOf.set(name, (v = nextIid++));
    return v;
  };

  const frontends: FrontendView[] = config.frontends.map((f, fi) => {
    const row = C.frontendRow(fi);
    const rate = rates.get(row, 0);
    const req = rates.get(row, 1);
    const conn = rates.get(row, 2);
    const listenBackend = f.fromListen ? config.backends.find((b) => b.fromListen && b.name === f.name) : undefined;
    const cells: StatsRow = {
      pxname: f.name,
      svname: 'FRONTEND',
      ...trafficCells(counters, row, f.mode),
      scur: counters.get(row, C.C_SCUR),
      // F_SMAX: the most requests in progress at once, all workers (what maxconn limits)
      smax: Math.max(counters.get(row, C.C_SMAX), counters.get(row, C.C_SCUR), st.frontends[fi * FRONTEND_STRIDE + F_SMAX] ?? 0),
      slim: f.maxconn || config.global.maxconn,
      dreq: counters.get(row, C.C_DREQ),
      ereq: counters.get(row, C.C_EREQ),
      status: 'OPEN',
      iid: iid(listenBackend ? f.name : 'fe:' + f.name),
      type: TYPE_FRONTEND,
      rate: rate.rate,
      rate_lim: 0,
      rate_max: rate.max,
      req_rate: req.rate,
      req_rate_max: req.max,
      req_tot: counters.get(row, C.C_REQ_TOT),
      comp_in: 0,
      comp_out: 0,
      comp_byp: 0,
      comp_rsp: 0,
      conn_rate: conn.rate,
      conn_rate_max: conn.max,
      conn_tot: counters.get(row, C.C_CONN_TOT),
      intercepted: counters.get(row, C.C_INTERCEPTED),
      dcon: counters.get(row, C.C_DCON),
      dses: counters.get(row, C.C_DSES),
      cache_lookups: 0,
      cache_hits: 0,
    };
    if (f.mode === 'tcp') Object.assign(cells, TCP_FRONTEND_BLANKS);
    const hist = hists.frontends[fi] ?? null;
    return { name: f.name, index: fi, row: cells, latency: summarize(hist), hist };
  });

  // hidden stats backends (routed.ts) are the last ones: leaving them out keeps every index
  const backends: BackendView[] = config.backends.filter((b) => !isInternalBackend(b)).map((b, bi) => {
    const row = C.backendRow(rows, bi);
    const bo = bi * BACKEND_STRIDE;
    const pxIid = iid(b.fromListen ? b.name : 'be:' + b.name);
    const servers: ServerView[] = b.servers.map((s, si) => {
      const gi = index.server(bi, si);
      const srow = C.serverRow(rows, gi);
      const { status, cls } = serverStatus(st, gi, s, b);
      const rate = rates.get(srow, 0);
      const health = st.get(gi, S_HEALTH) === 1;
      const lastChange = st.get(gi, S_LAST_CHANGE);
      const checkName = CHECK_STATUS_NAMES[st.get(gi, S_CHECK_STATUS)] ?? '';
      const code = st.get(gi, S_CHECK_CODE);
      const dur = st.get(gi, S_CHECK_DURATION);
      const hist = hists.servers[gi] ?? null;
      const weight = st.get(gi, S_WEIGHT);
      const cells: StatsRow = {
        pxname: b.name,
        svname: s.name,
        ...trafficCells(counters, srow, b.mode),
        ...upstreamCells(counters, srow, nowMs),
        qcur: st.get(gi, S_QUEUE),
        qmax: Math.max(st.get(gi, S_QMAX), carry ? carry.serverMax(gi, S_QMAX) : 0),
        scur: st.get(gi, S_ACTIVE),
        smax: Math.max(st.get(gi, S_SMAX), st.get(gi, S_ACTIVE), carry ? carry.serverMax(gi, S_SMAX) : 0),
        slim: s.maxconn > 0 ? s.maxconn : '',
        status,
        weight,
        act: s.backup ? 0 : 1,
        bck: s.backup ? 1 : 0,
        chkfail: s.check ? st.get(gi, S_CHKFAIL) : '',
        chkdown: st.get(gi, S_CHKDOWN),
        lastchg: Math.max(0, nowSec - lastChange),
        downtime: st.get(gi, S_DOWNTIME) + (s.check && !health ? Math.max(0, nowSec - lastChange) : 0),
        iid: pxIid,
        sid: si + 1,
        type: TYPE_SERVER,
        rate: rate.rate,
        rate_max: rate.max,
        check_status: s.check ? checkName : '',
        check_code: s.check && code > 0 ? code : '',
        check_duration: s.check && dur >= 0 ? dur : '',
        hanafail: 0,
        last_chk: s.check ? CHECK_DESC[checkName] ?? '' : '',
        check_desc: s.check ? CHECK_DESC[checkName] ?? '' : '',
        check_rise: s.check ? s.rise ?? b.healthCheck.rise : '',
        check_fall: s.check ? s.fall ?? b.healthCheck.fall : '',
        check_health: s.check ? st.get(gi, S_CHECK_HEALTH) : '',
        addr: serverAddr(st, gi, s),
        cookie: s.cookie ?? '',
        ttime_max: hist && hist.totalCount > 0 ? Math.round(hist.maxValue / 1000) : 0,
        uweight: weight,
      };
      if (b.mode === 'tcp') cells.hanafail = '';
      return {
        name: s.name,
        index: gi,
        local: si,
        backup: s.backup,
        status,
        statusClass: cls,
        usable: st.usable(gi),
        row: cells,
        latency: summarize(hist),
        hist,
      };
    });
    const rate = rates.get(row, 0);
    const usableActive = servers.filter((s) => s.usable && !s.backup);
    const usableBackup = servers.filter((s) => s.usable && s.backup);
    const up = usableActive.length + usableBackup.length > 0;
    const hist = hists.backends[bi] ?? null;
    const cells: StatsRow = {
      pxname: b.name,
      svname: 'BACKEND',
      ...trafficCells(counters, row, b.mode),
      ...upstreamCells(counters, row, nowMs),
      qcur: st.backends[bo + B_QUEUE],
      qmax: servers.reduce((m, s) => Math.max(m, Number(s.row.qmax) || 0), st.backends[bo + B_QMAX]),
      scur: st.backends[bo + B_ACTIVE],
      smax: Math.max(st.backends[bo + B_SMAX], st.backends[bo + B_ACTIVE], carry ? carry.backendSmax(bi) : 0),
      dreq: counters.get(row, C.C_DREQ),
      // HAProxy shows a proxy without servers (e.g. a stats listen) as UP
      status: up || servers.length === 0 ? 'UP' : 'DOWN',
      weight: (usableActive.length ? usableActive : usableBackup).reduce((t, s) => t + Number(s.row.weight), 0),
      act: usableActive.length,
      bck: usableBackup.length,
      chkdown: 0,
      lastchg: Math.max(0, nowSec - st.backends[bo + B_LAST_CHANGE]),
      downtime: 0,
      iid: pxIid,
      sid: 0,
      type: TYPE_BACKEND,
      rate: rate.rate,
      rate_max: rate.max,
      req_tot: counters.get(row, C.C_REQ_TOT),
      comp_in: 0,
      comp_out: 0,
      comp_byp: 0,
      comp_rsp: 0,
      cookie: b.cookie?.name ?? '',
      algo: b.balance === 'hdr' && b.balanceHeader ? `hdr(${b.balanceHeader})` : b.balance,
      intercepted: counters.get(row, C.C_INTERCEPTED),
      cache_lookups: 0,
      cache_hits: 0,
      ttime_max: hist && hist.totalCount > 0 ? Math.round(hist.maxValue / 1000) : 0,
      uweight: servers.filter((s) => !s.backup).reduce((t, s) => t + Number(s.row.uweight), 0),
    };
    if (b.mode === 'tcp') Object.assign(cells, TCP_BACKEND_BLANKS);
    return { name: b.name, index: bi, status: String(cells.status), row: cells, servers, latency: summarize(hist), hist };
  });

  // Listing order: each frontend (with its listen backend right after it), then plain backends.
  const proxies: ProxyView[] = [];
  const placed = new Set<number>();
  for (const f of frontends) {
    const cfg = config.frontends[f.index];
    const bi = cfg.fromListen ? config.backends.findIndex((b) => b.fromListen && b.name === cfg.name) : -1;
    const be = bi >= 0 ? backends[bi] : null;
    if (bi >= 0) placed.add(bi);
    proxies.push({ name: f.name, iid: Number(f.row.iid), frontend: f, backend: be });
  }
  for (const b of backends) if (!placed.has(b.index)) proxies.push({ name: b.name, iid: Number(b.row.iid), frontend: null, backend: b });

  return {
    nowMs,
    startedSec,
    uptimeSec: Math.max(0, nowSec - startedSec),
    pid: process.pid,
    workers: counters.workers,
    proxies,
    frontends,
    backends,
    tables: (config.stick?.tables ?? []).map((c) => tableNamed(c.name)).filter((t): t is StickTable => t !== undefined).map((t) => ({
      name: t.name, type: t.cfg.type, size: t.size, used: t.count, refused: t.refusedFull, evicted: t.evicted,
      badKeys: t.badKeys, contended: t.contended, learned: t.learned,
    })),
  };
}

/** Rows in HAProxy's order: per proxy FRONTEND, its servers, BACKEND. */
export function snapshotRows(s: Snapshot): StatsRow[] {
  const out: StatsRow[] = [];
  for (const p of s.proxies) {
    if (p.frontend) out.push(p.frontend.row);
    if (p.backend) {
      for (const sv of p.backend.servers) out.push(sv.row);
      out.push(p.backend.row);
    }
  }
  return out;
}
