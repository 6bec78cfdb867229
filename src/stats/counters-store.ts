// Primary side: sums the per-worker counter slabs, keeps a dead worker's totals, and adds the
// primary's own slab (stats requests it answers itself).
import {
  COUNTER_STRIDE,
  C_ADMITTED,
  C_CONN_TOT,
  C_LAST_SESS,
  C_REQ_TOT,
  C_SCUR,
  C_SMAX,
  C_STOT,
  createSlab,
  slabLength,
  type CounterRows,
} from '../shared/counters';

export class CounterStore {
  private readonly live = new Map<number, Float64Array>();
  /** totals of workers that are gone (gauges excluded, max-type cells kept as max) */
  private readonly retired: Float64Array;
  /** the primary thread's own counters (requests to the stats listener) */
  readonly local: Float64Array;
  readonly length: number;

  constructor(readonly rows: CounterRows) {
    this.length = slabLength(rows);
    this.retired = new Float64Array(this.length);
    this.local = createSlab(rows);
  }

  add(workerId: number, slab: Float64Array): void {
    // A respawned worker under the same id: its predecessor's totals must not vanish.
    if (this.live.has(workerId)) this.remove(workerId);
    this.live.set(workerId, slab);
  }

  remove(workerId: number): void {
    const slab = this.live.get(workerId);
    if (!slab) return;
    this.live.delete(workerId);
    const r = this.retired;
    for (let row = 0; row < this.length; row += COUNTER_STRIDE) {
      for (let c = 0; c < COUNTER_STRIDE; c++) {
        const v = slab[row + c];
        if (c === C_SCUR || c === C_ADMITTED) continue; // its sessions died with it
        if (c === C_SMAX || c === C_LAST_SESS) r[row + c] = Math.max(r[row + c], v);
        else r[row + c] += v;
      }
    }
  }

  get workers(): number {
    return this.live.size;
  }

  /** Value of a cell of a row (row = offset from frontendRow/backendRow/serverRow). */
  get(row: number, cell: number): number {
    const i = row + cell;
    if (cell === C_LAST_SESS) {
      let m = Math.max(this.retired[i], this.local[i]);
      for (const s of this.live.values()) m = Math.max(m, s[i]);
      return m;
    }
    let t = this.local[i];
    for (const s of this.live.values()) t += s[i];
    if (cell === C_SCUR) return t;
    if (cell === C_SMAX) return Math.max(t, this.retired[i]);
    return t + this.retired[i];
  }
}

/** Cells whose per-second rate HAProxy shows (rate, req_rate, conn_rate). */
export const RATE_CELLS = [C_STOT, C_REQ_TOT, C_CONN_TOT] as const;

/** Per-second rates sampled once a second, with their maxima (HAProxy's rate / rate_max). */
export class RateTracker {
  private readonly prev: Float64Array;
  readonly rate: Float64Array;
  readonly max: Float64Array;
  private primed = false;

  constructor(private readonly store: CounterStore) {
    const n = (store.length / COUNTER_STRIDE) * RATE_CELLS.length;
    this.prev = new Float64Array(n);
    this.rate = new Float64Array(n);
    this.max = new Float64Array(n);
  }

  private static slot(row: number, k: number): number {
    return (row / COUNTER_STRIDE) * RATE_CELLS.length + k;
  }

  sample(): void {
    for (let row = 0; row < this.store.length; row += COUNTER_STRIDE) {
      for (let k = 0; k < RATE_CELLS.length; k++) {
        const i = RateTracker.slot(row, k);
        const v = this.store.get(row, RATE_CELLS[k]);
        if (this.primed) {
          const r = Math.max(0, v - this.prev[i]);
          this.rate[i] = r;
          if (r > this.max[i]) this.max[i] = r;
        }
        this.prev[i] = v;
      }
    }
    this.primed = true;
  }

  /** k: index into RATE_CELLS */
  get(row: number, k: number): { rate: number; max: number } {
    const i = RateTracker.slot(row, k);
    return { rate: this.rate[i], max: this.max[i] };
  }
}
