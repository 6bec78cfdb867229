// Consistent hash ring (HAProxy's lb_chash, `hash-type consistent`). Each usable server owns
// weight x VNODES_PER_WEIGHT points on a 32-bit ring, placed by hashing its *name* and the point
// number, so a server's points do not depend on which other servers are present: when a server
// leaves, only keys that mapped to its points move; everyone else's keys stay put. A key goes to
// the owner of the first point at or after its hash (wrapping).

import type { UsableSet } from './balancer';
import { hashString, mix32 } from './hash';

/** Points per unit of weight: enough that a weight-1 server's share is within a few percent. */
export const VNODES_PER_WEIGHT = 40;
/** Weights above HAProxy's maximum add no points (keeps a rebuild bounded). */
const MAX_WEIGHT = 256;
/** Points are packed as hash * 2^20 + slot for a native Float64Array sort (exact below 2^53). */
const SLOT_SPAN = 1 << 20;

export class HashRing {
  private hashes = new Uint32Array(0);
  private owners = new Int32Array(0);
  private packed = new Float64Array(0);
  private length = 0;
  /** per local server: hash of its name, the seed of its points */
  private readonly seeds: Uint32Array;
  /** per local server: lookup stamp, to count distinct servers tried without allocating */
  private readonly seen: Uint32Array;
  private stamp = 0;

  constructor(names: readonly string[]) {
    if (names.length >= SLOT_SPAN) throw new RangeError(`too many servers in one backend: ${names.length}`);
    this.seeds = Uint32Array.from(names, (n) => hashString(n));
    this.seen = new Uint32Array(names.length);
  }

  build(set: UsableSet): void {
    let total = 0;
    for (let i = 0; i < set.length; i++) total += points(set.weights[i]);
    if (this.packed.length < total) {
      this.packed = new Float64Array(total);
      this.hashes = new Uint32Array(total);
      this.owners = new Int32Array(total);
    }
    let p = 0;
    for (let i = 0; i < set.length; i++) {
      const seed = this.seeds[set.servers[i] - set.first];
      const k = points(set.weights[i]);
      for (let v = 0; v < k; v++) {
        const h = mix32((seed + Math.imul(v + 1, 0x9e3779b1)) | 0);
        this.packed[p++] = h * SLOT_SPAN + i;
      }
    }
    const sorted = this.packed.subarray(0, total).sort();
    for (let j = 0; j < total; j++) {
      const v = sorted[j];
      const h = Math.floor(v / SLOT_SPAN);
      this.hashes[j] = h;
      this.owners[j] = set.servers[v - h * SLOT_SPAN];
    }
    this.length = total;
  }

  /**
   * Owner of the first point at or after `hash` that is available; walking on past points of
   * unavailable servers (like HAProxy's chash walk). -1 when every tier member was tried.
   */
  lookup(set: UsableSet, hash: number, exclude: number): number {
    const len = this.length;
    if (len === 0) return -1;
    // first index with hashes[i] >= hash
    let lo = 0;
    let hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.hashes[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    let i = lo === len ? 0 : lo;
    const s0 = this.owners[i];
    if (set.available(s0, exclude)) return s0;
    // Slow path: count distinct servers tried so the walk stops once all were refused.
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.seen.fill(0);
      this.stamp = 1;
    }
    this.seen[s0 - set.first] = this.stamp;
    let tried = 1;
    for (let step = 1; step < len && tried < set.length; step++) {
      i = i + 1 === len ? 0 : i + 1;
      const s = this.owners[i];
      const local = s - set.first;
      if (this.seen[local] === this.stamp) continue;
      this.seen[local] = this.stamp;
      tried++;
      if (set.available(s, exclude)) return s;
    }
    return -1;
  }
}

function points(weight: number): number {
  return Math.min(Math.max(weight, 0), MAX_WEIGHT) * VNODES_PER_WEIGHT;
}
