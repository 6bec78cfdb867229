// static-rr: round-robin with the configured weights. As in HAProxy, changing a server's weight
// at run time has no effect beyond 0 (the server leaves) or back to non-zero (it returns).

import type { UsableSet } from './balancer';
import { RoundRobinBalancer } from './roundrobin';

export class StaticRoundRobinBalancer extends RoundRobinBalancer {
  constructor(set: UsableSet) {
    super(set);
  }

  protected override weights(): Int32Array {
    return this.set.configWeights;
  }
}
