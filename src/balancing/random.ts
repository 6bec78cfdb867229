// random: HAProxy's `random(2)`, the power of two choices. Two servers are drawn at random in
// proportion to their effective weights and the less loaded one (in-flight / weight) wins; on a
// tie the later draw wins, as in HAProxy, so idle servers are chosen in weight proportion.
// The draws need no shared state; only S_ACTIVE is read.

import type { Balancer, UsableSet } from './balancer';

const DRAWS = 2;

export class RandomBalancer implements Balancer {
  /** cumulative effective weights per tier slot */
  private readonly cumulative: Int32Array;
  private total = 0;

  constructor(private readonly set: UsableSet) {
    this.cumulative = new Int32Array(set.count);
    this.rebuild();
  }

  private rebuild(): void {
    let t = 0;
    for (let i = 0; i < this.set.length; i++) {
      t += this.set.weights[i];
      this.cumulative[i] = t;
    }
    this.total = t;
  }

  pick(_key: string | null, exclude: number): number {
    const set = this.set;
    if (set.refresh()) this.rebuild();
    if (set.length === 0 || this.total <= 0) return -1;
    let best = -1;
    let bestLoad = 0;
    let bestWeight = 1;
    let firstSlot = 0;
    for (let d = 0; d < DRAWS; d++) {
      const slot = this.draw();
      if (d === 0) firstSlot = slot;
      const s = set.servers[slot];
      if (!set.available(s, exclude)) continue;
      const load = set.active(s);
      const w = set.weights[slot];
      if (best < 0 || load * bestWeight <= bestLoad * w) {
        best = s;
        bestLoad = load;
        bestWeight = w;
      }
    }
    // Both draws unavailable (excluded, full, just went down): take the next available member.
    return best >= 0 ? best : set.scanFrom(firstSlot, exclude);
  }

  /** Tier slot chosen with probability weight / total (binary search of the cumulative sums). */
  private draw(): number {
    const r = Math.floor(Math.random() * this.total);
    let lo = 0;
    let hi = this.set.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid] > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
