// Common body of the hash algorithms (source, uri, hdr): a consistent ring over the usable
// tier, and HAProxy's fallback to roundrobin when the request has no key (header absent).

import { B_RR_CURSOR, BACKEND_STRIDE } from '../shared/state';
import type { Balancer, UsableSet } from './balancer';
import { HashRing } from './chash';
import { SmoothSequence } from './smooth-wrr';

export abstract class HashBalancer implements Balancer {
  private readonly ring: HashRing;
  /** roundrobin fallback, built on first use after each tier change */
  private readonly fallback: SmoothSequence;
  private fallbackStale = true;
  private readonly cursorCell: number;

  constructor(
    protected readonly set: UsableSet,
    names: readonly string[],
  ) {
    this.ring = new HashRing(names);
    this.fallback = new SmoothSequence(set.count);
    this.cursorCell = set.backend * BACKEND_STRIDE + B_RR_CURSOR;
    this.ring.build(set);
  }

  /** Ring position of a non-empty key. */
  protected abstract hash(key: string): number;

  pick(key: string | null, exclude: number): number {
    const set = this.set;
    if (set.refresh()) {
      this.ring.build(set);
      this.fallbackStale = true;
    }
    if (set.length === 0) return -1;
    if (key === null || key.length === 0) {
      if (this.fallbackStale) {
        this.fallback.build(set, set.weights);
        this.fallbackStale = false;
      }
      const cursor = Atomics.add(set.state.backends, this.cursorCell, 1);
      return this.fallback.pick(set, cursor, exclude);
    }
    return this.ring.lookup(set, this.hash(key), exclude);
  }
}
