// roundrobin: smooth weighted round-robin over the usable servers with their effective
// (dynamic) weights. One cursor for the backend lives in shared memory and every worker
// advances it with Atomics.add, so consecutive picks follow one sequence whichever worker
// makes them: two equal servers alternate exactly across threads.

import { B_RR_CURSOR, BACKEND_STRIDE } from '../shared/state';
import type { Balancer, UsableSet } from './balancer';
import { SmoothSequence } from './smooth-wrr';

export class RoundRobinBalancer implements Balancer {
  protected readonly seq: SmoothSequence;
  private readonly cursorCell: number;

  constructor(protected readonly set: UsableSet) {
    this.seq = new SmoothSequence(set.count);
    this.cursorCell = set.backend * BACKEND_STRIDE + B_RR_CURSOR;
    this.rebuild();
  }

  /** Weights the sequence is built from; static-rr overrides with the configured ones. */
  protected weights(): Int32Array {
    return this.set.weights;
  }

  private rebuild(): void {
    this.seq.build(this.set, this.weights());
  }

  pick(_key: string | null, exclude: number): number {
    if (this.set.refresh()) this.rebuild();
    if (this.set.length === 0) return -1;
    const cursor = Atomics.add(this.set.state.backends, this.cursorCell, 1);
    return this.seq.pick(this.set, cursor, exclude);
  }
}
