// Where everything lives in a stick table's SharedArrayBuffer (see table.ts for the layout and
// the locking): the fixed header cells, the entry head cells, and Layout, computed from the
// table's definition alone so every thread derives the same offsets.
import { DATA_TYPES, DT_COUNT, STD_FRQP, type StickTableConfig } from './types';

// header cells (Int32 index)
export const G_ALLOC_LOCK = 0;
export const G_COUNT = 1;
export const G_BUMP = 2;
export const G_FREE_TOP = 3;
export const G_HAND = 4;
/** contended lock acquisitions (a CAS that failed at least once) */
export const G_CONTENDED = 5;
/** new entries refused: table full with nopurge */
export const G_FULL = 6;
/** entries evicted to make room */
export const G_EVICTED = 7;
/** the update ring's write cursor (peers) */
export const G_RING_W = 8;
/** keys refused for their type (wrong type, too long), counted by the callers */
export const G_BAD_KEY = 9;
/** entries learned from peers */
export const G_LEARNED = 10;
export const HEADER_BYTES = 128;
export const EPOCH_F64 = 12; // Float64 index 12 = byte 96

// entry head cells (Int32 offset from the entry's first cell)
export const E_USED = 0;
export const E_HASH = 1;
export const E_NEXT = 2;
export const E_EXP = 3;
export const E_KLEN = 4;
export const E_GEN = 5;
export const E_DIRTY = 6;
export const E_TOUCH = 7;
export const HEAD_BYTES = 32;

export const EVICT_WINDOW = 16;
export const RING_MIN = 1024;

export function pow2AtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

/** Where each part lives, from the definition alone (the same in every thread). */
export class Layout {
  readonly nb: number;
  readonly ringSize: number;
  readonly keyBytes: number;
  readonly entryBytes: number;
  /** per data type id: Float64 offset inside the entry, -1 = not stored */
  readonly dataOff: Int32Array = new Int32Array(DT_COUNT).fill(-1);
  readonly period: Int32Array = new Int32Array(DT_COUNT);
  readonly bucketsAt: number;
  readonly locksAt: number;
  readonly freeAt: number;
  readonly ringAt: number;
  readonly entriesAt: number;
  readonly total: number;

  constructor(cfg: StickTableConfig) {
    this.nb = pow2AtLeast(cfg.size);
    this.ringSize = pow2AtLeast(Math.max(RING_MIN, Math.min(cfg.size, 65536)));
    this.keyBytes = Math.ceil(Math.max(cfg.keyLen, 1) / 8) * 8;
    let slots = 0;
    for (const s of cfg.store) {
      this.dataOff[s.id] = slots;
      this.period[s.id] = s.period;
      slots += DATA_TYPES[s.id].std === STD_FRQP ? 3 : 1;
    }
    this.entryBytes = HEAD_BYTES + this.keyBytes + slots * 8;
    this.bucketsAt = HEADER_BYTES;
    this.locksAt = this.bucketsAt + this.nb * 4;
    this.freeAt = this.locksAt + this.nb * 4;
    this.ringAt = this.freeAt + cfg.size * 4;
    let end = this.ringAt + this.ringSize * 4;
    end = Math.ceil(end / 8) * 8;
    this.entriesAt = end;
    this.total = end + cfg.size * this.entryBytes;
  }
}
