// nginx's smooth weighted round-robin, unrolled into a fixed sequence of tier slots so that
// every worker maps the one shared cursor to the same server: position p of the sequence is the
// p-th pick of the smooth algorithm. Weights 1:1 give [a, b]; 3:1 give [a, a, b, a].

import { cursorSlot, type UsableSet } from './balancer';

/** Cap on (sequence length x tier size) so a rebuild stays in the low milliseconds. */
const BUILD_BUDGET = 1 << 22;

export class SmoothSequence {
  /** tier slots, valid up to `length` */
  private seq: Int32Array = new Int32Array(16);
  private length = 0;
  private readonly reduced: Int32Array;
  private readonly current: Float64Array;

  constructor(capacity: number) {
    this.reduced = new Int32Array(capacity);
    this.current = new Float64Array(capacity);
  }

  /** Rebuild for the tier `set` with per-slot `weights` (effective or configured). */
  build(set: UsableSet, weights: Int32Array): void {
    const n = set.length;
    this.length = 0;
    if (n === 0) return;
    let g = 0;
    for (let i = 0; i < n; i++) g = gcd(g, Math.max(weights[i], 1));
    let total = 0;
    for (let i = 0; i < n; i++) {
      this.reduced[i] = Math.max(weights[i], 1) / g;
      total += this.reduced[i];
    }
    // Huge farms with mixed weights: shrink the weights (keeping at least 1) rather than
    // build a sequence of millions of entries; ratios stay approximately right.
    if (total * n > BUILD_BUDGET) {
      const scale = BUILD_BUDGET / n / total;
      total = 0;
      for (let i = 0; i < n; i++) {
        this.reduced[i] = Math.max(1, Math.floor(this.reduced[i] * scale));
        total += this.reduced[i];
      }
    }
    if (this.seq.length < total) this.seq = new Int32Array(total);
    const cur = this.current;
    cur.fill(0, 0, n);
    for (let p = 0; p < total; p++) {
      let best = 0;
      for (let i = 0; i < n; i++) {
        cur[i] += this.reduced[i];
        if (cur[i] > cur[best]) best = i;
      }
      cur[best] -= total;
      this.seq[p] = best;
    }
    this.length = total;
  }

  /**
   * The server at sequence position `cursor`; if it is unavailable (excluded, full, or turned
   * unusable since the rebuild), the next available tier member. -1 when none.
   */
  pick(set: UsableSet, cursor: number, exclude: number): number {
    if (this.length === 0) return -1;
    const slot = this.seq[cursorSlot(cursor, this.length)];
    const server = set.servers[slot];
    if (set.available(server, exclude)) return server;
    const next = slot + 1;
    return set.scanFrom(next === set.length ? 0 : next, exclude);
  }
}

function gcd(a: number, b: number): number {
  // Euclid; weights are small positive integers, so this ends in a few steps.
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}
