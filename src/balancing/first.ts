// first: the first usable server in config order that has a free slot (maxconn); weights are
// ignored, as in HAProxy. Meant for packing traffic onto few servers with maxconn set.

import type { Balancer, UsableSet } from './balancer';

export class FirstBalancer implements Balancer {
  constructor(private readonly set: UsableSet) {}

  pick(_key: string | null, exclude: number): number {
    this.set.refresh();
    return this.set.scanFrom(0, exclude);
  }
}
