// leastconn: the server with the lowest load, in-flight requests counted across all workers
// (S_ACTIVE, which the worker adds to and subtracts from around each request). The load is
// HAProxy's fwlc key: 0 for an idle server, else (in-flight + 1) / weight. Ties are broken
// round-robin: the scan starts at the shared cursor, so idle or equal servers alternate.

import { B_RR_CURSOR, BACKEND_STRIDE } from '../shared/state';
import { cursorSlot, type Balancer, type UsableSet } from './balancer';

export class LeastConnBalancer implements Balancer {
  private readonly cursorCell: number;

  constructor(private readonly set: UsableSet) {
    this.cursorCell = set.backend * BACKEND_STRIDE + B_RR_CURSOR;
  }

  pick(_key: string | null, exclude: number): number {
    const set = this.set;
    set.refresh();
    const n = set.length;
    if (n === 0) return -1;
    const start = cursorSlot(Atomics.add(set.state.backends, this.cursorCell, 1), n);
    // Fast pass reads only S_ACTIVE (the tier is fresh unless a change raced this pick);
    // the winner alone is vetted with usableNow(), and a rare refusal takes the careful pass.
    const best = this.least(start, exclude, false);
    if (best < 0 || set.usableNow(best)) return best;
    return this.least(start, exclude, true);
  }

  private least(start: number, exclude: number, vet: boolean): number {
    const set = this.set;
    const n = set.length;
    let best = -1;
    let bestLoad = 0;
    let bestWeight = 1;
    for (let k = 0; k < n; k++) {
      let slot = start + k;
      if (slot >= n) slot -= n;
      const s = set.servers[slot];
      if (s === exclude || (vet && !set.usableNow(s))) continue;
      const active = set.active(s);
      if (!set.hasSlot(s, active)) continue;
      const load = active === 0 ? 0 : active + 1;
      const w = set.weights[slot];
      // load/w < bestLoad/bestWeight without division; strict so the first in scan order
      // (the cursor's rotation) wins ties.
      if (best < 0 || load * bestWeight < bestLoad * w) {
        best = s;
        bestLoad = load;
        bestWeight = w;
      }
    }
    return best;
  }
}
