// `hash-type map-based|consistent <function> [avalanche]`: HAProxy 2.6's own hash balancing, so
// that the same key picks the same server as HAProxy with the same configuration (checked side
// by side in test/cfg-hash.test.ts).
//
// - The key: source hashes the client address itself (IPv4: the address as a 32-bit number;
//   IPv6: the XOR of its four 32-bit words), uri the path up to '?', hdr the header value, the
//   last two with the hash function (sdbm by default). avalanche applies full_hash() after.
//   With one usable server the key is not hashed (HAProxy's shortcut; the server is the same).
// - map-based (lb_map.c): a table of sum(weights) slots filled by HAProxy's weighted spreading,
//   weights divided by their greatest common divisor; the server is table[hash % size].
// - consistent (lb_chash.c): each server owns weight x 16 points on a 32-bit ring, at
//   full_hash(id * 4096 + n) with id its position in the backend (1, 2, ...); a key goes to the
//   nearest point, the one before it on a tie.
// A request without a key (no header) goes round robin over the map table, as HAProxy's map does.
// Tables are typed arrays rebuilt only when the usable set changes; a pick allocates nothing.

import { B_RR_CURSOR, BACKEND_STRIDE } from '../shared/state';
import type { Balancer, UsableSet } from './balancer';
import { fullHash, genHash, type HashFunction } from './hash-fns';

export type HashKind = 'source' | 'uri' | 'hdr';

export interface HashType {
  method: 'map-based' | 'consistent';
  fn: HashFunction;
  avalanche: boolean;
}

/** HAProxy's BE_WEIGHT_SCALE and SRV_EWGHT_RANGE (256 user weights x 16). */
const WEIGHT_SCALE = 16;
const EWGHT_RANGE = 256 * WEIGHT_SCALE;
/** ring points are packed as key * 2^20 + tier slot for one native Float64Array sort (exact below 2^53) */
const SLOT_SPAN = 1 << 20;

export class HaproxyHashBalancer implements Balancer {
  /** map-based: server per slot (global index); also the round-robin fallback of both methods */
  private table = new Int32Array(0);
  private tableLen = 0;
  /** consistent: point keys (sorted) and their owners */
  private ringKeys = new Uint32Array(0);
  private ringOwners = new Int32Array(0);
  private ringLen = 0;
  /** divisor of the configured weights (map-based) */
  private readonly gcd: number;
  private readonly cursorCell: number;

  constructor(
    private readonly set: UsableSet,
    private readonly kind: HashKind,
    private readonly type: HashType,
    configWeights: readonly number[],
  ) {
    let g = 0;
    for (const w of configWeights) if (w > 0) g = g === 0 ? w : gcdOf(g, w);
    this.gcd = g || 1;
    this.cursorCell = set.backend * BACKEND_STRIDE + B_RR_CURSOR;
    this.rebuild();
  }

  private rebuild(): void {
    const set = this.set;
    const n = set.length;
    // effective weights as HAProxy derives them (eweight)
    const ew = new Int32Array(n);
    let tot = 0;
    for (let i = 0; i < n; i++) {
      const w = set.weights[i];
      ew[i] = this.type.method === 'consistent' ? w * WEIGHT_SCALE : Math.ceil(w / this.gcd);
      tot += ew[i];
    }
    // map table (lb_map.c recalc_server_map): each slot to the server whose running score,
    // increased by its weight at every slot, is the highest (first declared wins ties)
    if (this.table.length < tot) this.table = new Int32Array(tot);
    const score = new Int32Array(n);
    for (let o = 0; o < tot; o++) {
      let best = -1;
      let max = 0;
      for (let i = 0; i < n; i++) {
        if (ew[i] <= 0) continue;
        if (tot === 1) {
          best = i;
          break;
        }
        score[i] += ew[i];
        const v = Math.trunc((score[i] + tot) / tot);
        if (best < 0 || v > max) {
          max = v;
          best = i;
        }
      }
      this.table[o] = best < 0 ? -1 : set.servers[best];
      if (best >= 0) score[best] -= tot;
    }
    this.tableLen = tot;
    if (this.type.method !== 'consistent') return;
    // ring points: full_hash(puid * 4096 + node) for node < eweight
    const keys = new Float64Array(tot);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const puid = set.servers[i] - set.first + 1;
      for (let node = 0; node < ew[i]; node++) keys[k++] = fullHash((puid * EWGHT_RANGE + node) >>> 0) * SLOT_SPAN + i;
    }
    keys.sort();
    if (this.ringKeys.length < tot) {
      this.ringKeys = new Uint32Array(tot);
      this.ringOwners = new Int32Array(tot);
    }
    for (let j = 0; j < tot; j++) {
      const packed = keys[j];
      const slot = packed % SLOT_SPAN;
      this.ringKeys[j] = (packed - slot) / SLOT_SPAN;
      this.ringOwners[j] = set.servers[slot];
    }
    this.ringLen = tot;
  }

  pick(key: string | null, exclude: number): number {
    const set = this.set;
    if (set.refresh()) this.rebuild();
    if (set.length === 0 || this.tableLen === 0) return -1;
    if (set.length === 1) return this.onlyOne(exclude);
    const h = this.keyHash(key);
    if (h < 0) return this.roundRobin(exclude);
    if (this.type.method === 'map-based') {
      const s = this.table[h % this.tableLen];
      return s === exclude ? this.roundRobin(exclude) : s;
    }
    return this.ringLookup(h, exclude);
  }

  private onlyOne(exclude: number): number {
    const s = this.set.servers[0];
    return s === exclude ? -1 : s;
  }

  /** The key's hash, or -1 when the request has no key (HAProxy then balances round robin). */
  private keyHash(key: string | null): number {
    if (key === null || key.length === 0) return -1;
    let h: number;
    if (this.kind === 'source') {
      h = addressHash(key);
      if (h < 0) return -1;
    } else if (this.kind === 'uri') {
      const q = key.indexOf('?');
      h = genHash(this.type.fn, key, q < 0 ? key.length : q);
    } else {
      h = genHash(this.type.fn, key);
    }
    return this.type.avalanche ? fullHash(h) : h;
  }

  private ringLookup(h: number, exclude: number): number {
    const keys = this.ringKeys;
    const len = this.ringLen;
    // first point >= h (binary search), wrapping to the first
    let lo = 0;
    let hi = len;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    let next = lo === len ? 0 : lo;
    const prev = next === 0 ? len - 1 : next - 1;
    const dp = (h - keys[prev]) >>> 0;
    const dn = (keys[next] - h) >>> 0;
    if (dp <= dn) next = prev;
    // the server to avoid (redispatch): walk on along the ring
    for (let step = 0; step < len; step++) {
      const s = this.ringOwners[(next + step) % len];
      if (s !== exclude) return s;
    }
    return -1;
  }

  private roundRobin(exclude: number): number {
    const len = this.tableLen;
    const cursor = Atomics.add(this.set.state.backends, this.cursorCell, 1);
    for (let step = 0; step < len; step++) {
      const s = this.table[(cursor + step) % len];
      if (s >= 0 && s !== exclude) return s;
    }
    return -1;
  }
}

function gcdOf(a: number, b: number): number {
  while (b) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** HAProxy's source key: IPv4 as a number, IPv6 as the XOR of its 32-bit words; -1 if not an address. */
export function addressHash(ip: string): number {
  if (ip.indexOf(':') < 0) {
    let v = 0;
    let part = 0;
    let dots = 0;
    let digits = 0;
    for (let i = 0; i < ip.length; i++) {
      const c = ip.charCodeAt(i);
      if (c === 46) {
        if (digits === 0) return -1;
        v = v * 256 + part;
        part = 0;
        digits = 0;
        dots++;
      } else if (c >= 48 && c <= 57) {
        part = part * 10 + (c - 48);
        digits++;
        if (part > 255) return -1;
      } else return -1;
    }
    if (dots !== 3 || digits === 0) return -1;
    return (v * 256 + part) >>> 0;
  }
  const w = ipv6Words(ip);
  return w === null ? -1 : (w[0] ^ w[1] ^ w[2] ^ w[3]) >>> 0;
}

const words6 = new Uint32Array(4);
const groups = new Uint16Array(8);

/** The four 32-bit words of an IPv6 address text (RFC 4291 forms, "::" and a dotted tail). */
function ipv6Words(ip: string): Uint32Array | null {
  const dbl = ip.indexOf('::');
  const head = dbl < 0 ? ip : ip.slice(0, dbl);
  const tail = dbl < 0 ? '' : ip.slice(dbl + 2);
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const v4 = addressHash(g);
        if (v4 < 0) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const a = parse(head);
  const b = parse(tail);
  if (a === null || b === null) return null;
  if (dbl < 0 ? a.length !== 8 : a.length + b.length > 7) return null;
  groups.fill(0);
  a.forEach((g, i) => (groups[i] = g));
  b.forEach((g, i) => (groups[8 - b.length + i] = g));
  for (let i = 0; i < 4; i++) words6[i] = ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0;
  return words6;
}
