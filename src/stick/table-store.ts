// Stick table storage: the SharedArrayBuffer layout views, bucket and allocator locks, entry
// allocation, eviction and release. StickTable (table.ts) adds lookups, counters and the
// runtime-API/peers reads on top.
import {
  G_ALLOC_LOCK, G_COUNT, G_BUMP, G_FREE_TOP, G_HAND, G_CONTENDED, G_FULL, G_EVICTED, G_RING_W, G_BAD_KEY,
  G_LEARNED, EPOCH_F64, E_USED, E_HASH, E_NEXT, E_EXP, E_KLEN, E_GEN, E_DIRTY, E_TOUCH, HEAD_BYTES,
  EVICT_WINDOW, Layout,
} from './table-layout';
import { type StickTableConfig } from './types';

export class StickTableStore {
  readonly name: string;
  readonly size: number;
  readonly expire: number;
  readonly nopurge: boolean;
  readonly layout: Layout;
  /** data type id -> Float64 offset in an entry (-1 = not stored) */
  readonly dataOff: Int32Array;
  readonly period: Int32Array;
  /** whether updates are queued for the peers sender */
  readonly shared: boolean;
  protected readonly i32: Int32Array;
  protected readonly f64: Float64Array;
  protected readonly u8: Uint8Array;
  protected readonly mask: number;
  protected readonly bucketsAt: number;
  protected readonly locksAt: number;
  protected readonly freeAt: number;
  protected readonly ringAt: number;
  protected readonly ringMask: number;
  /** Int32 index of entry 0 / Int32 cells per entry */
  protected readonly e0: number;
  protected readonly eStride: number;
  protected readonly keyAt: number;
  protected readonly dataAt: number;
  protected readonly epoch: number;

  constructor(
    readonly cfg: StickTableConfig,
    buffer: SharedArrayBuffer,
  ) {
    const l = new Layout(cfg);
    if (buffer.byteLength < l.total) throw new Error(`stick table ${cfg.name}: buffer of ${buffer.byteLength} bytes, ${l.total} needed`);
    this.layout = l;
    this.name = cfg.name;
    this.size = cfg.size;
    this.expire = cfg.expire;
    this.nopurge = cfg.nopurge;
    this.shared = cfg.peers !== null;
    this.dataOff = l.dataOff;
    this.period = l.period;
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.mask = l.nb - 1;
    this.bucketsAt = l.bucketsAt >> 2;
    this.locksAt = l.locksAt >> 2;
    this.freeAt = l.freeAt >> 2;
    this.ringAt = l.ringAt >> 2;
    this.ringMask = l.ringSize - 1;
    this.e0 = l.entriesAt >> 2;
    this.eStride = l.entryBytes >> 2;
    this.keyAt = HEAD_BYTES;
    this.dataAt = HEAD_BYTES + l.keyBytes;
    this.epoch = this.f64[EPOCH_F64];
  }

  /** Bytes a table of this definition needs. */
  static byteLength(cfg: StickTableConfig): number {
    return new Layout(cfg).total;
  }

  /** A new, empty table's memory. */
  static allocate(cfg: StickTableConfig): SharedArrayBuffer {
    const l = new Layout(cfg);
    const buf = new SharedArrayBuffer(l.total);
    new Int32Array(buf, l.bucketsAt, l.nb).fill(-1);
    new Float64Array(buf)[EPOCH_F64] = Date.now();
    return buf;
  }

  /** Whether `buffer` was laid out for a definition equal to `cfg` in everything but its name. */
  static compatible(a: StickTableConfig, b: StickTableConfig): boolean {
    return a.type === b.type && a.keyLen === b.keyLen && a.size === b.size && JSON.stringify(a.store) === JSON.stringify(b.store);
  }

  /** Milliseconds since the table was created, as a wrapping 32-bit tick (HAProxy's now_ms). */
  now(): number {
    return (Date.now() - this.epoch) | 0;
  }

  // ---- counters about the table itself ----

  get count(): number {
    return Atomics.load(this.i32, G_COUNT);
  }
  get contended(): number {
    return Atomics.load(this.i32, G_CONTENDED);
  }
  get refusedFull(): number {
    return Atomics.load(this.i32, G_FULL);
  }
  get evicted(): number {
    return Atomics.load(this.i32, G_EVICTED);
  }
  get badKeys(): number {
    return Atomics.load(this.i32, G_BAD_KEY);
  }
  get learned(): number {
    return Atomics.load(this.i32, G_LEARNED);
  }
  countBadKey(): void {
    Atomics.add(this.i32, G_BAD_KEY, 1);
  }

  // ---- locks ----

  protected lock(b: number): void {
    const i = this.locksAt + b;
    if (Atomics.compareExchange(this.i32, i, 0, 1) === 0) return;
    Atomics.add(this.i32, G_CONTENDED, 1);
    for (;;) {
      while (Atomics.load(this.i32, i) !== 0);
      if (Atomics.compareExchange(this.i32, i, 0, 1) === 0) return;
    }
  }
  protected tryLock(b: number): boolean {
    return Atomics.compareExchange(this.i32, this.locksAt + b, 0, 1) === 0;
  }
  protected unlock(b: number): void {
    Atomics.store(this.i32, this.locksAt + b, 0);
  }
  protected allocLock(): void {
    if (Atomics.compareExchange(this.i32, G_ALLOC_LOCK, 0, 1) === 0) return;
    Atomics.add(this.i32, G_CONTENDED, 1);
    for (;;) {
      while (Atomics.load(this.i32, G_ALLOC_LOCK) !== 0);
      if (Atomics.compareExchange(this.i32, G_ALLOC_LOCK, 0, 1) === 0) return;
    }
  }
  protected allocUnlock(): void {
    Atomics.store(this.i32, G_ALLOC_LOCK, 0);
  }

  // ---- entries ----

  protected base(idx: number): number {
    return this.e0 + idx * this.eStride;
  }
  /** Float64 index of entry idx's data slot 0 */
  protected dataBase(idx: number): number {
    return ((this.e0 + idx * this.eStride) * 4 + this.dataAt) / 8;
  }

  static hash(key: Uint8Array, len: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ key[i], 0x01000193);
    return h | 0;
  }

  protected keyEquals(idx: number, key: Uint8Array, len: number): boolean {
    const b = this.base(idx);
    if (this.i32[b + E_KLEN] !== len) return false;
    const at = b * 4 + this.keyAt;
    const u8 = this.u8;
    for (let i = 0; i < len; i++) if (u8[at + i] !== key[i]) return false;
    return true;
  }

  /** Entry holding `key` in chain b (lock held), or -1. */
  protected find(bucket: number, hash: number, key: Uint8Array, len: number): number {
    const i32 = this.i32;
    for (let idx = i32[this.bucketsAt + bucket]; idx >= 0; idx = i32[this.base(idx) + E_NEXT]) {
      if (i32[this.base(idx) + E_HASH] === hash && this.keyEquals(idx, key, len)) return idx;
    }
    return -1;
  }

  protected expired(b: number, now: number): boolean {
    return this.expire > 0 && ((now - this.i32[b + E_EXP]) | 0) >= 0;
  }

  /** Zero an entry's data and give it a new generation (a different entry for trackers). */
  protected resetData(idx: number): void {
    const b = this.base(idx);
    this.i32[b + E_GEN] = (this.i32[b + E_GEN] + 1) | 0;
    const d = this.dataBase(idx);
    const n = (this.layout.entryBytes - this.dataAt) >> 3;
    this.f64.fill(0, d, d + n);
  }

  /** Marks an entry updated (expiry, recency, and the peers ring); lock held. */
  protected touchLocked(idx: number, now: number, local: boolean): void {
    const b = this.base(idx);
    this.i32[b + E_TOUCH] = now;
    if (this.expire > 0) this.i32[b + E_EXP] = (now + this.expire) | 0;
    if (local && this.shared && this.i32[b + E_DIRTY] === 0) {
      this.i32[b + E_DIRTY] = 1;
      const w = Atomics.add(this.i32, G_RING_W, 1);
      Atomics.store(this.i32, this.ringAt + (w & this.ringMask), idx + 1);
    }
  }

  /** A free entry: from the free stack, never-used space, or by evicting; -1 when full (nopurge). */
  protected allocate(now: number): number {
    this.allocLock();
    let idx = -1;
    const top = this.i32[G_FREE_TOP];
    if (top > 0) {
      idx = this.i32[this.freeAt + top - 1];
      this.i32[G_FREE_TOP] = top - 1;
    } else if (this.i32[G_BUMP] < this.size) {
      idx = this.i32[G_BUMP]++;
    }
    this.allocUnlock();
    if (idx >= 0) return idx;
    if (this.nopurge) {
      Atomics.add(this.i32, G_FULL, 1);
      return -1;
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const v = this.evictOne(now);
      if (v >= 0) return v;
    }
    Atomics.add(this.i32, G_FULL, 1);
    return -1;
  }

  /** Evicts the least recently touched (or an expired) entry of the next window; its index, or -1. */
  protected evictOne(now: number): number {
    const start = (Atomics.add(this.i32, G_HAND, EVICT_WINDOW) >>> 0) % this.size;
    let best = -1;
    let bestAge = -1;
    for (let k = 0; k < EVICT_WINDOW; k++) {
      const idx = (start + k) % this.size;
      const b = this.base(idx);
      if (Atomics.load(this.i32, b + E_USED) === 0) continue;
      const age = this.expired(b, now) ? 0x7fffffff : (now - this.i32[b + E_TOUCH]) | 0;
      if (age > bestAge) {
        best = idx;
        bestAge = age;
      }
    }
    if (best < 0) return -1;
    return this.unlinkIfUsed(best, false) ? best : -1;
  }

  /** Removes entry idx from its chain (try-lock when `wait` is false); true when this call removed it. */
  protected unlinkIfUsed(idx: number, wait: boolean): boolean {
    const b = this.base(idx);
    const bucket = this.i32[b + E_HASH] & this.mask;
    if (wait) this.lock(bucket);
    else if (!this.tryLock(bucket)) return false;
    try {
      if (this.i32[b + E_USED] === 0 || (this.i32[b + E_HASH] & this.mask) !== bucket) return false;
      const head = this.bucketsAt + bucket;
      let prev = -1;
      for (let cur = this.i32[head]; cur >= 0; prev = cur, cur = this.i32[this.base(cur) + E_NEXT]) {
        if (cur !== idx) continue;
        const next = this.i32[b + E_NEXT];
        if (prev < 0) this.i32[head] = next;
        else this.i32[this.base(prev) + E_NEXT] = next;
        Atomics.store(this.i32, b + E_USED, 0);
        this.i32[b + E_GEN] = (this.i32[b + E_GEN] + 1) | 0;
        this.i32[b + E_DIRTY] = 0;
        Atomics.sub(this.i32, G_COUNT, 1);
        if (!wait) Atomics.add(this.i32, G_EVICTED, 1);
        return true;
      }
      return false;
    } finally {
      this.unlock(bucket);
    }
  }

  protected release(idx: number): void {
    this.allocLock();
    const top = this.i32[G_FREE_TOP];
    this.i32[this.freeAt + top] = idx;
    this.i32[G_FREE_TOP] = top + 1;
    this.allocUnlock();
  }
}
