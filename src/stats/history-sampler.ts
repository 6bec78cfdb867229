// Fills the HistoryStore once a second: counters and gauges are read when the tick starts
// (begin), the workers' latencies of the same second arrive as TickReply records (addReply) and
// are merged per row into one sparse frame (finish), from which p50/p99 of that second come.
// Per interval, not cumulative: each worker sends only what it recorded since its last reply.
import type { Config } from '../config/model';
import * as C from '../shared/counters';
import { BACKEND_STRIDE, B_ACTIVE, B_QUEUE, S_ACTIVE, S_QUEUE, type ServerIndex, type SharedState } from '../shared/state';
import { sparsePercentile } from './histograms';
import { F_ERR5, F_P50, F_P99, F_QCUR, F_REQ, F_SCUR, F_STATUS, HistoryStore, NFIELDS, STATUS_CODES } from './history';
import { serverStatus, type CounterReader, type ServerStatusClass } from './snapshot';

export interface HistoryRow {
  type: 'frontend' | 'backend' | 'server';
  /** proxy name (pxname) */
  proxy: string;
  /** FRONTEND, BACKEND or the server's name (svname) */
  name: string;
}

const STATUS_OF_CLASS: Record<ServerStatusClass, number> = {
  up: STATUS_CODES.UP,
  down: STATUS_CODES.DOWN,
  maint: STATUS_CODES.MAINT,
  drain: STATUS_CODES.DRAIN,
  nocheck: STATUS_CODES.NOCHECK,
  'going-down': STATUS_CODES.GOING_DOWN,
  'going-up': STATUS_CODES.GOING_UP,
};

/** slot * 2^32 + count: sorts by slot as a Float64Array, exactly (slot < 2^15, count < 2^32) */
const PACK = 4294967296;

export class HistorySampler {
  readonly rows: HistoryRow[];
  readonly store: HistoryStore;
  private readonly nf: number;
  private readonly nb: number;
  private readonly prevReq: Float64Array;
  private readonly prev5xx: Float64Array;
  private readonly sample: Float32Array;
  private primed = false;
  private startedMs = 0;
  private prevMs = 0;
  private replies: Uint32Array[] = [];
  /** per row: reply records (reply index, record offset) of the current tick */
  private readonly refs: number[][];
  private packed = new Float64Array(1024);
  /** per global server index: its backend and its place in it */
  private readonly serverBackend: number[] = [];
  private readonly serverLocal: number[] = [];
  private span = 1;

  constructor(
    private readonly config: Config,
    private readonly index: ServerIndex,
    private readonly state: SharedState,
    private readonly counters: CounterReader,
    capacity?: number,
    budgetBytes?: number,
  ) {
    this.rows = [];
    for (const f of config.frontends) this.rows.push({ type: 'frontend', proxy: f.name, name: 'FRONTEND' });
    for (const b of config.backends) this.rows.push({ type: 'backend', proxy: b.name, name: 'BACKEND' });
    for (const b of config.backends) for (const s of b.servers) this.rows.push({ type: 'server', proxy: b.name, name: s.name });
    this.nf = config.frontends.length;
    this.nb = config.backends.length;
    const n = this.rows.length;
    this.store = new HistoryStore(n, capacity, budgetBytes);
    this.prevReq = new Float64Array(n);
    this.prev5xx = new Float64Array(n);
    this.sample = new Float32Array(n * NFIELDS);
    this.refs = Array.from({ length: n }, () => []);
    config.backends.forEach((b, bi) =>
      b.servers.forEach((_, si) => {
        this.serverBackend[index.server(bi, si)] = bi;
        this.serverLocal[index.server(bi, si)] = si;
      }),
    );
  }

  /** A reload: start with `prev`'s history for every object that keeps its type and names. */
  adopt(prev: HistorySampler): void {
    const old = new Map<string, number>();
    prev.rows.forEach((r, i) => old.set(`${r.type}\0${r.proxy}\0${r.name}`, i));
    const map = Int32Array.from(this.rows, (r) => old.get(`${r.type}\0${r.proxy}\0${r.name}`) ?? -1);
    this.store.adopt(prev.store, map);
  }

  /** Row number of a proxy's FRONTEND/BACKEND or server (HAProxy's pxname/svname), or -1. */
  rowOf(proxy: string, name: string): number {
    return this.rows.findIndex((r) => r.proxy === proxy && r.name === name);
  }

  /** Start of a tick: counters, gauges and states as they are now. */
  begin(nowMs: number): void {
    const { counters, state: st, config } = this;
    const s = this.sample;
    const dt = this.primed ? Math.max(0.001, (nowMs - this.prevMs) / 1000) : 1;
    for (let r = 0; r < this.rows.length; r++) {
      const row = r * C.COUNTER_STRIDE;
      const req = counters.get(row, C.C_STOT);
      const e5 = counters.get(row, C.C_HRSP_5XX);
      const o = r * NFIELDS;
      // counts in the interval: ticks fall on whole seconds, so these are per second, and they add
      // up exactly to the counters' totals (which start at 0 with the generation: the first
      // second holds what came before it)
      s[o + F_REQ] = Math.max(0, req - this.prevReq[r]);
      s[o + F_ERR5] = Math.max(0, e5 - this.prev5xx[r]);
      this.prevReq[r] = req;
      this.prev5xx[r] = e5;
      s[o + F_P50] = NaN;
      s[o + F_P99] = NaN;
      if (r < this.nf) {
        s[o + F_SCUR] = counters.get(row, C.C_SCUR);
        s[o + F_QCUR] = 0;
        s[o + F_STATUS] = STATUS_CODES.UP;
      } else if (r < this.nf + this.nb) {
        const bi = r - this.nf;
        const bo = bi * BACKEND_STRIDE;
        s[o + F_SCUR] = st.backends[bo + B_ACTIVE];
        s[o + F_QCUR] = st.backends[bo + B_QUEUE];
        const b = config.backends[bi];
        let up = b.servers.length === 0;
        for (let si = 0; si < b.servers.length && !up; si++) up = st.usable(this.index.server(bi, si));
        s[o + F_STATUS] = up ? STATUS_CODES.UP : STATUS_CODES.DOWN;
      } else {
        const gi = r - this.nf - this.nb;
        s[o + F_SCUR] = st.get(gi, S_ACTIVE);
        s[o + F_QCUR] = st.get(gi, S_QUEUE);
        const b = config.backends[this.serverBackend[gi]];
        s[o + F_STATUS] = STATUS_OF_CLASS[serverStatus(st, gi, b.servers[this.serverLocal[gi]], b).cls];
      }
    }
    this.span = dt;
    this.startedMs = nowMs;
    this.prevMs = nowMs;
    this.primed = true;
  }

  /** A worker's TickReply data (any tick: a late reply counts in the second it arrives in). */
  addReply(data: Uint32Array): void {
    if (data.length > 0) this.replies.push(data);
  }

  /** End of a tick: merge the latencies, compute p50/p99 and store the second. */
  finish(): void {
    const replies = this.replies;
    this.replies = [];
    const n = this.rows.length;
    const touched: number[] = [];
    for (let ri = 0; ri < replies.length; ri++) {
      const d = replies[ri];
      let p = 0;
      while (p + 1 < d.length) {
        const row = d[p];
        const k = d[p + 1];
        if (p + 2 + 2 * k > d.length) break; // malformed: ignore the rest
        if (row < n && k > 0) {
          if (this.refs[row].length === 0) touched.push(row);
          this.refs[row].push(ri, p);
        }
        p += 2 + 2 * k;
      }
    }
    touched.sort((a, b) => a - b);
    const out: number[] = [];
    const s = this.sample;
    for (const row of touched) {
      const refs = this.refs[row];
      let total = 0;
      for (let j = 0; j < refs.length; j += 2) total += replies[refs[j]][refs[j + 1] + 1];
      if (this.packed.length < total) this.packed = new Float64Array(Math.max(total, this.packed.length * 2));
      let m = 0;
      for (let j = 0; j < refs.length; j += 2) {
        const d = replies[refs[j]];
        const at = refs[j + 1];
        const k = d[at + 1];
        for (let i = 0; i < k; i++) this.packed[m++] = d[at + 2 + 2 * i] * PACK + d[at + 3 + 2 * i];
      }
      refs.length = 0;
      const sorted = this.packed.subarray(0, m).sort();
      // merge equal slots (several workers), write `row, n, slots, counts`
      const head = out.length;
      out.push(row, 0);
      const slots: number[] = [];
      const counts: number[] = [];
      let count = 0;
      for (let i = 0; i < m; i++) {
        const slot = Math.floor(sorted[i] / PACK);
        const c = sorted[i] - slot * PACK;
        if (slots.length > 0 && slots[slots.length - 1] === slot) counts[counts.length - 1] += c;
        else {
          slots.push(slot);
          counts.push(c);
        }
        count += c;
      }
      out[head + 1] = slots.length;
      const slotsAt = out.length;
      for (const x of slots) out.push(x);
      const countsAt = out.length;
      for (const x of counts) out.push(x);
      if (count > 0) {
        s[row * NFIELDS + F_P50] = sparsePercentile(out, slotsAt, countsAt, slots.length, count, 50);
        s[row * NFIELDS + F_P99] = sparsePercentile(out, slotsAt, countsAt, slots.length, count, 99);
      }
    }
    const frame = out.length > 0 ? Uint32Array.from(out) : null;
    // a tick that came late still stands for its own second; one that finds its second taken
    // (a timer a moment early, or the second an adopted history ends with) takes the next one
    // rather than losing its counts
    const t = Math.max(Math.floor(this.startedMs / 1000), this.store.count > 0 ? this.store.last + 1 : 0);
    this.store.push(t, this.span, s, frame);
  }
}
