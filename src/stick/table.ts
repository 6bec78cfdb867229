// A stick table in one SharedArrayBuffer, shared by every thread of the process (workers update
// it per request, the primary reads it for the runtime API and the peers protocol).
//
// Layout (all offsets fixed when the table is created, memory bounded by `size`):
//   header   | Int32 cells: allocator lock, counts, eviction hand, contention counters, the
//            | peers update ring's write cursor; the epoch (Float64) ticks are counted from
//   buckets  | Int32 per bucket: first entry index of the hash chain, -1 = empty
//   locks    | Int32 per bucket: the spinlock guarding that chain and its entries' data
//   free     | Int32 stack of freed entry indices (guarded by the allocator lock)
//   ring     | Int32 ring of entry indices (+1) updated locally, read by the peers sender
//   entries  | `size` fixed-size entries: a 32-byte head, the key, then Float64 data slots
//
// Concurrency: one tiny spinlock per bucket (Atomics.compareExchange), held for a lookup or a
// counter update (a few hundred ns). Counting a new entry in and out takes the allocator lock.
// When the table is full the entry touched least recently among a window of 16 (a clock hand
// over the entries) is evicted, so eviction never takes more than one other bucket's lock and
// only with a try-lock (no lock order, no deadlock). HAProxy evicts by exact expiry order; with
// one `expire` for every entry that is the same as least recently touched, which the window
// approximates. Expired entries are reset when looked up and removed by purge().
//
// Storage (layout, locks, allocation, eviction) is the base class in table-store.ts.
import { freqRead, freqUpdate } from './freq';
import {
  G_COUNT, G_BUMP, G_RING_W, G_LEARNED, E_USED, E_HASH, E_NEXT, E_EXP, E_KLEN, E_GEN, E_DIRTY, E_TOUCH,
} from './table-layout';
import { DATA_TYPES, STD_FRQP } from './types';
import { StickTableStore } from './table-store';

export interface EntryView {
  key: Uint8Array;
  /** ms until expiry (0 = no expire on this table) */
  expireIn: number;
  /** data by type id (rates read as events over their period) */
  data: Map<number, number>;
}

export class StickTable extends StickTableStore {
  /**
   * The entry of `key` (its first `len` bytes), created when missing and `create`; -1 when
   * absent (or the table is full with nopurge). A lookup that creates or finds counts as an
   * update (expiry pushed back), as HAProxy's stktable_get_entry + touch.
   */
  get(key: Uint8Array, len: number, create: boolean): number {
    const hash = StickTable.hash(key, len);
    const bucket = hash & this.mask;
    const now = this.now();
    this.lock(bucket);
    let idx = this.find(bucket, hash, key, len);
    if (idx >= 0) {
      const b = this.base(idx);
      if (this.expired(b, now)) {
        if (!create) {
          this.unlock(bucket);
          return -1;
        }
        this.resetData(idx);
      }
      if (create) this.touchLocked(idx, now, true);
      this.unlock(bucket);
      return idx;
    }
    this.unlock(bucket);
    if (!create) return -1;
    const slot = this.allocate(now);
    if (slot < 0) return -1;
    // fill it before it becomes visible in the chain
    const b = this.base(slot);
    const at = b * 4 + this.keyAt;
    this.u8.fill(0, at, at + this.layout.keyBytes);
    this.u8.set(len === key.length ? key : key.subarray(0, len), at);
    this.i32[b + E_KLEN] = len;
    this.i32[b + E_HASH] = hash;
    this.i32[b + E_DIRTY] = 0;
    this.resetData(slot);
    this.lock(bucket);
    idx = this.find(bucket, hash, key, len);
    if (idx >= 0) {
      // another thread inserted it meanwhile
      this.touchLocked(idx, now, true);
      this.unlock(bucket);
      this.release(slot);
      return idx;
    }
    this.i32[b + E_NEXT] = this.i32[this.bucketsAt + bucket];
    this.i32[this.bucketsAt + bucket] = slot;
    Atomics.store(this.i32, b + E_USED, 1);
    Atomics.add(this.i32, G_COUNT, 1);
    this.touchLocked(slot, now, true);
    this.unlock(bucket);
    return slot;
  }

  /** The generation of entry idx: a tracker holding (idx, gen) sees whether it is still its entry. */
  generation(idx: number): number {
    return Atomics.load(this.i32, this.base(idx) + E_GEN);
  }

  private lockEntry(idx: number, gen: number): number {
    const b = this.base(idx);
    const bucket = Atomics.load(this.i32, b + E_HASH) & this.mask;
    this.lock(bucket);
    if (this.i32[b + E_USED] === 0 || this.i32[b + E_GEN] !== gen || (this.i32[b + E_HASH] & this.mask) !== bucket) {
      this.unlock(bucket);
      return -1;
    }
    return bucket;
  }

  private addLocked(d: number, id: number, inc: number, now: number): void {
    const off = this.dataOff[id];
    if (off < 0) return;
    if (DATA_TYPES[id].std === STD_FRQP) {
      freqUpdate(this.f64, d + off, this.period[id], now, inc);
    } else {
      const v = this.f64[d + off] + inc;
      this.f64[d + off] = v < 0 ? 0 : v; // conn_cur never goes below 0
    }
  }

  /**
   * Adds to counters of entry (idx, gen): pairs of (data type id, increment) in `ops`, first
   * `n` values. Rates are updated as events. Returns false when the entry is gone.
   */
  add(idx: number, gen: number, ops: ArrayLike<number>, n: number): boolean {
    const bucket = this.lockEntry(idx, gen);
    if (bucket < 0) return false;
    const now = this.now();
    const d = this.dataBase(idx);
    for (let i = 0; i < n; i += 2) this.addLocked(d, ops[i], ops[i + 1], now);
    this.touchLocked(idx, now, true);
    this.unlock(bucket);
    return true;
  }

  /** Adds one to a counter (and its rate, when `rateId` >= 0): sc-inc-gpc0 and friends. */
  inc(idx: number, gen: number, id: number, rateId: number): boolean {
    const bucket = this.lockEntry(idx, gen);
    if (bucket < 0) return false;
    const now = this.now();
    const d = this.dataBase(idx);
    this.addLocked(d, id, 1, now);
    if (rateId >= 0) this.addLocked(d, rateId, 1, now);
    this.touchLocked(idx, now, true);
    this.unlock(bucket);
    return true;
  }

  /** Decrements conn_cur down to 0 (end of a tracked request). */
  decrementFloor(idx: number, gen: number, id: number): void {
    const bucket = this.lockEntry(idx, gen);
    if (bucket < 0) return;
    const off = this.dataOff[id];
    const d = this.dataBase(idx);
    if (off >= 0 && this.f64[d + off] > 0) this.f64[d + off] -= 1;
    this.touchLocked(idx, this.now(), true);
    this.unlock(bucket);
  }

  /** Sets a value (a counter; a rate's current period count). `local`: false for peers' updates. */
  set(idx: number, gen: number, id: number, value: number, local = true): boolean {
    const bucket = this.lockEntry(idx, gen);
    if (bucket < 0) return false;
    this.setLocked(idx, id, value, this.now());
    this.touchLocked(idx, this.now(), local);
    this.unlock(bucket);
    return true;
  }

  private setLocked(idx: number, id: number, value: number, now: number): void {
    const off = this.dataOff[id];
    if (off < 0) return;
    const d = this.dataBase(idx) + off;
    if (DATA_TYPES[id].std === STD_FRQP) {
      this.f64[d] = now;
      this.f64[d + 1] = value;
      this.f64[d + 2] = 0;
    } else {
      this.f64[d] = value;
    }
  }

  /** A stored value: counters as they are, rates as events over their period; NaN when not stored or gone. */
  read(idx: number, gen: number, id: number): number {
    const off = this.dataOff[id];
    if (off < 0) return NaN;
    const bucket = this.lockEntry(idx, gen);
    if (bucket < 0) return NaN;
    const d = this.dataBase(idx) + off;
    const v = DATA_TYPES[id].std === STD_FRQP ? freqRead(this.f64, d, this.period[id], this.now()) : this.f64[d];
    this.unlock(bucket);
    return v;
  }

  /** Reads a value of `key` without creating it (src_* fetches); NaN when absent or not stored. */
  readKey(key: Uint8Array, len: number, id: number): number {
    const idx = this.get(key, len, false);
    if (idx < 0) return NaN;
    return this.read(idx, this.generation(idx), id);
  }

  /** Removes the entry of `key`; true when there was one. */
  remove(key: Uint8Array, len: number): boolean {
    const hash = StickTable.hash(key, len);
    const bucket = hash & this.mask;
    this.lock(bucket);
    const idx = this.find(bucket, hash, key, len);
    this.unlock(bucket);
    if (idx < 0) return false;
    if (!this.unlinkIfUsed(idx, true)) return false;
    this.release(idx);
    return true;
  }

  /** Removes every entry (clear table); entries in use by a request are removed too, as HAProxy's unreferenced ones. */
  clear(): number {
    let n = 0;
    const bump = Atomics.load(this.i32, G_BUMP);
    for (let idx = 0; idx < bump; idx++) {
      if (Atomics.load(this.i32, this.base(idx) + E_USED) === 0) continue;
      if (this.unlinkIfUsed(idx, true)) {
        this.release(idx);
        n++;
      }
    }
    return n;
  }

  /** Removes expired entries among the next `budget` slots (run periodically by the primary). */
  private purgeHand = 0;
  purge(budget: number): number {
    if (this.expire <= 0) return 0;
    const bump = Atomics.load(this.i32, G_BUMP);
    if (bump === 0) return 0;
    const now = this.now();
    let n = 0;
    for (let k = 0; k < Math.min(budget, bump); k++) {
      const idx = this.purgeHand;
      this.purgeHand = (this.purgeHand + 1) % bump;
      const b = this.base(idx);
      if (Atomics.load(this.i32, b + E_USED) === 0 || !this.expired(b, now)) continue;
      const bucket = this.i32[b + E_HASH] & this.mask;
      this.lock(bucket);
      const still = this.i32[b + E_USED] === 1 && this.expired(b, now);
      this.unlock(bucket);
      if (still && this.unlinkIfUsed(idx, true)) {
        this.release(idx);
        n++;
      }
    }
    return n;
  }

  /** A consistent copy of entry idx (under its lock), or null when free or expired. */
  snapshot(idx: number): EntryView | null {
    const b = this.base(idx);
    if (Atomics.load(this.i32, b + E_USED) === 0) return null;
    const bucket = this.i32[b + E_HASH] & this.mask;
    this.lock(bucket);
    try {
      if (this.i32[b + E_USED] === 0) return null;
      const now = this.now();
      if (this.expired(b, now)) return null;
      const at = b * 4 + this.keyAt;
      const key = this.u8.slice(at, at + this.i32[b + E_KLEN]);
      const data = new Map<number, number>();
      const d = this.dataBase(idx);
      for (const s of this.cfg.store) {
        const off = this.dataOff[s.id];
        data.set(s.id, DATA_TYPES[s.id].std === STD_FRQP ? freqRead(this.f64, d + off, s.period, now) : this.f64[d + off]);
      }
      return { key, expireIn: this.expire > 0 ? Math.max(0, (this.i32[b + E_EXP] - now) | 0) : 0, data };
    } finally {
      this.unlock(bucket);
    }
  }

  /** Indices of the slots that ever held an entry (iterate and snapshot()). */
  get highWater(): number {
    return Atomics.load(this.i32, G_BUMP);
  }

  /** Index of the entry holding `key`, or -1 (no creation, no touch). */
  indexOf(key: Uint8Array, len: number): number {
    return this.get(key, len, false);
  }

  /**
   * Stores an update learned from a peer: creates the entry when missing, sets every value
   * given (rates: the current period's count), sets its expiry, and does not queue it for the
   * peers again. Returns false when the table is full (nopurge).
   */
  learn(key: Uint8Array, len: number, values: Map<number, number | [number, number, number]>, expireIn: number): boolean {
    const idx = this.get(key, len, true);
    if (idx < 0) return false;
    const gen = this.generation(idx);
    const bucket = this.lockEntry(idx, gen);
    if (bucket < 0) return false;
    const now = this.now();
    const d = this.dataBase(idx);
    for (const [id, v] of values) {
      if (this.dataOff[id] < 0) continue;
      if (typeof v === 'number') {
        this.setLocked(idx, id, v, now);
      } else {
        const o = d + this.dataOff[id];
        this.f64[o] = (now - v[0]) | 0; // the period's start, as the peer's age of it
        this.f64[o + 1] = v[1];
        this.f64[o + 2] = v[2];
      }
    }
    const b = this.base(idx);
    this.i32[b + E_TOUCH] = now;
    if (this.expire > 0) this.i32[b + E_EXP] = (now + (expireIn > 0 ? Math.min(expireIn, this.expire) : this.expire)) | 0;
    this.i32[b + E_DIRTY] = 0;
    this.unlock(bucket);
    Atomics.add(this.i32, G_LEARNED, 1);
    return true;
  }

  /**
   * Entry idx as the peers protocol sends it (under its lock): key, ms to expiry, and per stored
   * type (id order) its value, rates as [ms since the period started, current, previous].
   */
  exportEntry(idx: number): { key: Uint8Array; expireIn: number; values: (number | [number, number, number])[] } | null {
    const b = this.base(idx);
    const bucket = this.i32[b + E_HASH] & this.mask;
    this.lock(bucket);
    try {
      if (this.i32[b + E_USED] === 0) return null;
      const now = this.now();
      const at = b * 4 + this.keyAt;
      const d = this.dataBase(idx);
      const values: (number | [number, number, number])[] = [];
      for (const s of this.cfg.store) {
        const o = d + this.dataOff[s.id];
        values.push(DATA_TYPES[s.id].std === STD_FRQP ? [(now - this.f64[o]) >>> 0, this.f64[o + 1], this.f64[o + 2]] : this.f64[o]);
      }
      return { key: this.u8.slice(at, at + this.i32[b + E_KLEN]), expireIn: this.expire > 0 ? Math.max(0, (this.i32[b + E_EXP] - now) | 0) : 0, values };
    } finally {
      this.unlock(bucket);
    }
  }

  /** Every used entry index (a full resync for a peer). */
  usedEntries(): number[] {
    const out: number[] = [];
    const high = this.highWater;
    for (let idx = 0; idx < high; idx++) if (Atomics.load(this.i32, this.base(idx) + E_USED) === 1) out.push(idx);
    return out;
  }

  // ---- the peers sender's update ring ----

  private ringR = 0;
  /**
   * Entries updated locally since the last call (each once), oldest first. When more updates
   * came than the ring holds, every dirty entry is found by a scan instead.
   */
  takeUpdates(max: number): number[] {
    const w = Atomics.load(this.i32, G_RING_W);
    const out: number[] = [];
    const size = this.ringMask + 1;
    if (((w - this.ringR) | 0) > size) {
      this.ringR = w;
      const bump = this.highWater;
      for (let idx = 0; idx < bump && out.length < max; idx++) {
        const b = this.base(idx);
        if (Atomics.load(this.i32, b + E_USED) === 1 && Atomics.compareExchange(this.i32, b + E_DIRTY, 1, 0) === 1) out.push(idx);
      }
      return out;
    }
    while (this.ringR !== w && out.length < max) {
      const cell = this.ringAt + (this.ringR & this.ringMask);
      const v = Atomics.exchange(this.i32, cell, 0);
      if (v === 0) break; // the writer has not stored it yet: next time
      this.ringR = (this.ringR + 1) | 0;
      const idx = v - 1;
      const b = this.base(idx);
      // clear before reading the data: an update after this queues the entry again
      if (Atomics.compareExchange(this.i32, b + E_DIRTY, 1, 0) === 1 && Atomics.load(this.i32, b + E_USED) === 1) out.push(idx);
    }
    return out;
  }
}
