// The primary's short history: one sample a second per frontend, backend and server (requests
// and 5xx answers in that second, sessions, queue, p50/p99 of that second, status), kept for HISTORY_SECONDS in fixed
// rings, plus the merged latency histogram of every row for every second (sparse frames), kept
// under a byte budget for the latency export. Memory is bounded by construction:
//   series: rows x FIELDS x HISTORY_SECONDS Float32 (7 x 4 x 900 = 25,200 bytes per row)
//   frames: at most LATENCY_BUDGET_BYTES; the oldest seconds go first when it is exceeded.
import type { Histogram } from 'hdr-histogram-js';
import { newHistogram, slotLowest } from './histograms';

export const HISTORY_SECONDS = 900;
/** What the latency frames may hold at most (the series rings come on top, see above). */
export const LATENCY_BUDGET_BYTES = 32 * 1024 * 1024;

export const FIELDS = ['req', 'err5', 'scur', 'qcur', 'p50', 'p99', 'status'] as const;
export type Field = (typeof FIELDS)[number];
export const F_REQ = 0;
export const F_ERR5 = 1;
export const F_SCUR = 2;
export const F_QCUR = 3;
/** latency fields are microseconds; NaN: no request finished in that second */
export const F_P50 = 4;
export const F_P99 = 5;
export const F_STATUS = 6;
export const NFIELDS = FIELDS.length;

/** Status codes of the `status` series (servers; backends use UP/DOWN, frontends UP). */
export const STATUS_CODES = { DOWN: 0, UP: 1, MAINT: 2, DRAIN: 3, NOCHECK: 4, GOING_DOWN: 5, GOING_UP: 6 } as const;

/** Bytes one row's series take (the figure docs/observability.md gives). */
export const SERIES_BYTES_PER_ROW = NFIELDS * HISTORY_SECONDS * Float32Array.BYTES_PER_ELEMENT;

/**
 * One second of merged latencies: records `row, n, slot x n, count x n`, slots ascending, rows
 * ascending. Built by history-sampler.ts.
 */
export type LatencyFrame = Uint32Array;

export class HistoryStore {
  /** unix second of each slot */
  private readonly times: Float64Array;
  /** interval length (s) of each slot (ticks are 1 s apart, give or take the timer) */
  private readonly spans: Float32Array;
  private readonly values: Float32Array;
  private readonly frames: (LatencyFrame | null)[];
  private frameBytes = 0;
  /** next slot to write */
  private head = 0;
  /** samples held (<= capacity) */
  count = 0;

  constructor(readonly rows: number, readonly capacity = HISTORY_SECONDS, readonly budgetBytes = LATENCY_BUDGET_BYTES) {
    this.times = new Float64Array(capacity);
    this.spans = new Float32Array(capacity);
    this.values = new Float32Array(rows * NFIELDS * capacity);
    this.frames = new Array<LatencyFrame | null>(capacity).fill(null);
  }

  /** Bytes held: series rings plus the latency frames. */
  get bytes(): number {
    return this.values.byteLength + this.times.byteLength + this.spans.byteLength + this.frameBytes;
  }

  /** `sample`: rows x NFIELDS values of second `t` (unix s) spanning `span` seconds. */
  push(t: number, span: number, sample: Float32Array, frame: LatencyFrame | null): void {
    const slot = this.head;
    const cap = this.capacity;
    this.times[slot] = t;
    this.spans[slot] = span;
    const v = this.values;
    for (let r = 0; r < this.rows; r++) {
      const base = r * NFIELDS * cap + slot;
      const from = r * NFIELDS;
      for (let f = 0; f < NFIELDS; f++) v[base + f * cap] = sample[from + f];
    }
    const old = this.frames[slot];
    if (old) this.frameBytes -= old.byteLength;
    this.frames[slot] = frame;
    if (frame) this.frameBytes += frame.byteLength;
    this.head = (slot + 1) % cap;
    if (this.count < cap) this.count++;
    // over budget: drop the oldest frames (the series stay)
    for (let k = 0; this.frameBytes > this.budgetBytes && k < this.count - 1; k++) {
      const s = this.slotAt(k);
      const f = this.frames[s];
      if (f) {
        this.frameBytes -= f.byteLength;
        this.frames[s] = null;
      }
    }
  }

  /**
   * Take over `prev`'s seconds (a reload: the new generation starts with the old one's
   * history). `rowMap[newRow]` is the same object's row in `prev`, or -1 for an object that is
   * new (its past reads NaN: null in the JSON). Only on an empty store.
   */
  adopt(prev: HistoryStore, rowMap: Int32Array): void {
    if (this.count !== 0) throw new Error('adopt: the store has samples already');
    const n = Math.min(prev.count, this.capacity);
    const first = prev.count - n;
    const oldToNew = new Int32Array(prev.rows).fill(-1);
    rowMap.forEach((o, r) => {
      if (o >= 0 && o < prev.rows) oldToNew[o] = r;
    });
    const cap = this.capacity;
    for (let k = 0; k < n; k++) {
      const kk = first + k;
      this.times[k] = prev.time(kk);
      this.spans[k] = prev.span(kk);
      for (let r = 0; r < this.rows; r++) {
        const o = rowMap[r];
        for (let f = 0; f < NFIELDS; f++) this.values[(r * NFIELDS + f) * cap + k] = o >= 0 ? prev.value(o, f, kk) : NaN;
      }
      const frame = prev.frames[prev.slotAt(kk)];
      const moved = frame ? remapFrame(frame, oldToNew) : null;
      this.frames[k] = moved;
      if (moved) this.frameBytes += moved.byteLength;
    }
    this.count = n;
    this.head = n % cap;
  }

  /** Slot of the k-th oldest sample. */
  private slotAt(k: number): number {
    return (this.head - this.count + k + this.capacity) % this.capacity;
  }

  /** Index (oldest = 0) of the first sample later than `since` (unix s). */
  firstAfter(since: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[this.slotAt(mid)] > since) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  time(k: number): number {
    return this.times[this.slotAt(k)];
  }

  span(k: number): number {
    return this.spans[this.slotAt(k)];
  }

  value(row: number, field: number, k: number): number {
    return this.values[(row * NFIELDS + field) * this.capacity + this.slotAt(k)];
  }

  /** Latest time (unix s), or 0 when empty. */
  get last(): number {
    return this.count === 0 ? 0 : this.time(this.count - 1);
  }

  /** Oldest second whose latency frame is still held (0: none). */
  get latencyFrom(): number {
    for (let k = 0; k < this.count; k++) if (this.frames[this.slotAt(k)]) return this.time(k);
    return 0;
  }

  /**
   * Add row `row`'s latencies of sample k to `h`; false when that second has no frame (dropped
   * or never recorded) or the row had no request in it.
   */
  addLatency(row: number, k: number, h: Histogram): boolean {
    const f = this.frames[this.slotAt(k)];
    if (!f) return false;
    let p = 0;
    while (p < f.length) {
      const r = f[p];
      const n = f[p + 1];
      if (r === row) {
        const slots = p + 2;
        const counts = slots + n;
        for (let i = 0; i < n; i++) h.recordValueWithCount(slotLowest(f[slots + i]), f[counts + i]);
        return n > 0;
      }
      if (r > row) return false;
      p += 2 + 2 * n;
    }
    return false;
  }

  /** Row `row`'s merged latency histogram over samples [from, to) (indexes, oldest = 0). */
  mergedLatency(row: number, from: number, to: number): Histogram {
    const h = newHistogram();
    for (let k = Math.max(0, from); k < Math.min(to, this.count); k++) this.addLatency(row, k, h);
    return h;
  }
}

/** A frame with its rows renumbered (`oldToNew[row]`, -1: dropped), records kept in row order. */
function remapFrame(f: LatencyFrame, oldToNew: Int32Array): LatencyFrame | null {
  const recs: [number, number, number][] = [];
  let size = 0;
  for (let p = 0; p + 1 < f.length; ) {
    const n = f[p + 1];
    const to = f[p] < oldToNew.length ? oldToNew[f[p]] : -1;
    if (to >= 0) {
      recs.push([to, p, n]);
      size += 2 + 2 * n;
    }
    p += 2 + 2 * n;
  }
  if (recs.length === 0) return null;
  recs.sort((a, b) => a[0] - b[0]);
  const out = new Uint32Array(size);
  let q = 0;
  for (const [to, p, n] of recs) {
    out[q] = to;
    out.set(f.subarray(p + 1, p + 2 + 2 * n), q + 1);
    q += 2 + 2 * n;
  }
  return out;
}
