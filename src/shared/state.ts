// Balancing state shared by every thread through one SharedArrayBuffer (Int32 cells).
// Decisions (selection, health, admin) read and write it with Atomics; no locks.
//
// Indexing: servers are numbered globally in config order (backend by backend), see
// `ServerIndex`. Writers that change anything selection depends on (health, admin state,
// weight) must bump the owning backend's LB_GEN so workers rebuild their cached tables.

import { isIP } from 'node:net';
import type { Config } from '../config/model';

// Per-server cells.
export const S_HEALTH = 0; // 1 = passes checks (or no check), 0 = down
export const S_ADMIN = 1; // ADMIN_READY | ADMIN_DRAIN | ADMIN_MAINT
export const S_WEIGHT = 2; // effective weight (admin may change it)
export const S_ACTIVE = 3; // requests in flight to this server, all workers
export const S_QUEUE = 4; // requests waiting for a slot (maxconn)
export const S_CHECK_STATUS = 5; // index into CHECK_STATUS_NAMES
export const S_CHECK_CODE = 6; // last HTTP status of the probe, 0 if none
export const S_CHECK_DURATION = 7; // ms of the last probe, -1 if none
export const S_LAST_CHANGE = 8; // unix seconds of last health/admin change
export const S_DOWNTIME = 9; // seconds spent down before the current period
export const S_CHKFAIL = 10; // failed checks total
export const S_CHKDOWN = 11; // UP->DOWN transitions
export const S_OBSERVE_ERRORS = 12; // consecutive live-traffic errors (observe)
export const S_SMAX = 13; // max S_ACTIVE seen (best effort)
export const S_QMAX = 14; // max S_QUEUE seen (best effort)
export const S_CHECK_HEALTH = 15; // rise/fall counter as HAProxy shows it
// DNS discovery (src/dns/): written by the primary's resolver only, read by workers and health.
export const S_RMAINT = 16; // 1 = no address from resolution (HAProxy's RMAINT): not usable
export const S_ADDR_SEQ = 17; // seqlock: odd while the address cells below are written
export const S_ADDR_FAMILY = 18; // 0 = no address, 4 = IPv4 in S_ADDR_0, 6 = IPv6 in S_ADDR_0..3
export const S_ADDR_PORT = 19;
export const S_ADDR_0 = 20; // four cells: the address bytes, big-endian words
export const SERVER_STRIDE = 24;

// Per-backend cells.
export const B_RR_CURSOR = 0; // round-robin position, Atomics.add by every worker
export const B_LB_GEN = 1; // bumped on any change of a server's health/admin/weight
export const B_ACTIVE = 2;
export const B_QUEUE = 3;
export const B_SMAX = 4;
export const B_LAST_CHANGE = 5;
export const B_QMAX = 6; // max B_QUEUE seen (best effort)
export const BACKEND_STRIDE = 8;

// Per-frontend cells.
export const F_ACTIVE = 0; // requests holding a frontend maxconn slot, all workers
export const F_SMAX = 1; // max F_ACTIVE seen (best effort)
export const FRONTEND_STRIDE = 2;

// Global cells.
export const G_ACTIVE_CONN = 0; // requests holding a global maxconn slot, all workers
export const G_STARTED = 1; // unix seconds the process started
export const GLOBAL_CELLS = 4;

export const ADMIN_READY = 0;
export const ADMIN_DRAIN = 1;
export const ADMIN_MAINT = 2;

// HAProxy's check status names (stats CSV check_status column).
export const CHECK_STATUS_NAMES = [
  '', // never checked
  'UNK',
  'INI',
  'SOCKERR',
  'L4OK',
  'L4TOUT',
  'L4CON',
  'L6OK',
  'L6TOUT',
  'L6RSP',
  'L7OK',
  'L7OKC',
  'L7TOUT',
  'L7RSP',
  'L7STS',
  'HANA', // passive "Health analyze" verdict (observe + on_error), written by the health thread
] as const;
export type CheckStatusName = (typeof CHECK_STATUS_NAMES)[number];
export function checkStatusIndex(name: CheckStatusName): number {
  return CHECK_STATUS_NAMES.indexOf(name);
}

export interface ServerRef {
  /** global server index */
  index: number;
  backend: number;
  /** index inside its backend's `servers` */
  local: number;
}

/** Maps names to global indices; built identically in every thread from the same Config. */
export class ServerIndex {
  readonly serverCount: number;
  readonly backendCount: number;
  /** first global server index of each backend */
  readonly backendFirstServer: number[];
  readonly backendByName = new Map<string, number>();
  readonly frontendByName = new Map<string, number>();

  constructor(config: Config) {
    let n = 0;
    this.backendFirstServer = config.backends.map((b, i) => {
      this.backendByName.set(b.name, i);
      const first = n;
      n += b.servers.length;
      return first;
    });
    config.frontends.forEach((f, i) => this.frontendByName.set(f.name, i));
    this.serverCount = n;
    this.backendCount = config.backends.length;
  }

  server(backend: number, local: number): number {
    return this.backendFirstServer[backend] + local;
  }

  /** the backend of global server index `server` */
  backendOf(server: number): number {
    let b = 0;
    while (b + 1 < this.backendCount && this.backendFirstServer[b + 1] <= server) b++;
    return b;
  }
}

export class SharedState {
  readonly servers: Int32Array;
  readonly backends: Int32Array;
  readonly global: Int32Array;
  readonly frontends: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer, serverCount: number, backendCount: number, frontendCount: number) {
    const sBytes = serverCount * SERVER_STRIDE * 4;
    const bBytes = backendCount * BACKEND_STRIDE * 4;
    const gBytes = GLOBAL_CELLS * 4;
    this.servers = new Int32Array(buffer, 0, serverCount * SERVER_STRIDE);
    this.backends = new Int32Array(buffer, sBytes, backendCount * BACKEND_STRIDE);
    this.global = new Int32Array(buffer, sBytes + bBytes, GLOBAL_CELLS);
    this.frontends = new Int32Array(buffer, sBytes + bBytes + gBytes, frontendCount * FRONTEND_STRIDE);
  }

  static byteLength(serverCount: number, backendCount: number, frontendCount: number): number {
    return (serverCount * SERVER_STRIDE + backendCount * BACKEND_STRIDE + GLOBAL_CELLS + frontendCount * FRONTEND_STRIDE) * 4;
  }

  /** Primary only: allocate and fill initial values from the config. */
  static create(config: Config): SharedState {
    const idx = new ServerIndex(config);
    const fronts = config.frontends.length;
    const buf = new SharedArrayBuffer(SharedState.byteLength(idx.serverCount, idx.backendCount, fronts));
    const st = new SharedState(buf, idx.serverCount, idx.backendCount, fronts);
    const now = Math.floor(Date.now() / 1000);
    config.backends.forEach((b, bi) => {
      b.servers.forEach((s, si) => {
        const o = idx.server(bi, si) * SERVER_STRIDE;
        // A checked server starts UP like HAProxy's default (it goes down after `fall` failures).
        st.servers[o + S_HEALTH] = 1;
        st.servers[o + S_ADMIN] = s.disabled ? ADMIN_MAINT : ADMIN_READY;
        st.servers[o + S_WEIGHT] = s.weight;
        st.servers[o + S_CHECK_DURATION] = -1;
        st.servers[o + S_LAST_CHANGE] = now;
        st.servers[o + S_CHECK_STATUS] = 0;
        // a name under a resolvers section has no address until the resolver gives one (src/dns/)
        if (dynamicAddress(s)) st.servers[o + S_RMAINT] = 1;
      });
      st.backends[bi * BACKEND_STRIDE + B_LAST_CHANGE] = now;
    });
    st.global[G_STARTED] = now;
    return st;
  }

  static attach(buffer: SharedArrayBuffer, config: Config): SharedState {
    const idx = new ServerIndex(config);
    return new SharedState(buffer, idx.serverCount, idx.backendCount, config.frontends.length);
  }

  get(server: number, cell: number): number {
    return Atomics.load(this.servers, server * SERVER_STRIDE + cell);
  }

  set(server: number, cell: number, value: number): void {
    Atomics.store(this.servers, server * SERVER_STRIDE + cell, value);
  }

  /** Change something selection depends on and tell the workers. */
  setAndBump(server: number, backend: number, cell: number, value: number): void {
    Atomics.store(this.servers, server * SERVER_STRIDE + cell, value);
    Atomics.store(this.servers, server * SERVER_STRIDE + S_LAST_CHANGE, Math.floor(Date.now() / 1000));
    Atomics.add(this.backends, backend * BACKEND_STRIDE + B_LB_GEN, 1);
  }

  backendGen(backend: number): number {
    return Atomics.load(this.backends, backend * BACKEND_STRIDE + B_LB_GEN);
  }

  /** Usable = passes checks, not in maintenance (admin or resolution), not draining, weight > 0. */
  usable(server: number): boolean {
    const o = server * SERVER_STRIDE;
    return (
      Atomics.load(this.servers, o + S_HEALTH) === 1 &&
      Atomics.load(this.servers, o + S_ADMIN) === ADMIN_READY &&
      Atomics.load(this.servers, o + S_RMAINT) === 0 &&
      Atomics.load(this.servers, o + S_WEIGHT) > 0
    );
  }

  /**
   * Resolver only (single writer): publish a server's address, or none (family 0, the server
   * goes to RMAINT). Seqlock: readers retry while the sequence is odd or changed under them.
   */
  writeAddress(server: number, backend: number, addr: ServerAddress | null): void {
    const c = this.servers;
    const o = server * SERVER_STRIDE;
    Atomics.add(c, o + S_ADDR_SEQ, 1);
    if (addr === null) {
      Atomics.store(c, o + S_ADDR_FAMILY, 0);
    } else {
      const words = addressWords(addr.ip);
      Atomics.store(c, o + S_ADDR_FAMILY, words.length === 1 ? 4 : 6);
      Atomics.store(c, o + S_ADDR_PORT, addr.port);
      for (let i = 0; i < words.length; i++) Atomics.store(c, o + S_ADDR_0 + i, words[i]);
    }
    Atomics.add(c, o + S_ADDR_SEQ, 1);
    const rmaint = addr === null ? 1 : 0;
    if (Atomics.load(c, o + S_RMAINT) !== rmaint) this.setAndBump(server, backend, S_RMAINT, rmaint);
  }

  /** The sequence number of a server's address cells (even: stable). */
  addressSeq(server: number): number {
    return Atomics.load(this.servers, server * SERVER_STRIDE + S_ADDR_SEQ);
  }

  /** A consistent read of a server's address (null: none published), with its sequence number. */
  readAddress(server: number): { addr: ServerAddress | null; seq: number } {
    const c = this.servers;
    const o = server * SERVER_STRIDE;
    for (;;) {
      const seq = Atomics.load(c, o + S_ADDR_SEQ);
      if ((seq & 1) === 1) continue; // the writer is in the middle (a few stores): spin
      const fam = Atomics.load(c, o + S_ADDR_FAMILY);
      let addr: ServerAddress | null = null;
      if (fam !== 0) {
        const words: number[] = [];
        for (let i = 0; i < (fam === 4 ? 1 : 4); i++) words.push(Atomics.load(c, o + S_ADDR_0 + i));
        addr = { ip: wordsAddress(words), port: Atomics.load(c, o + S_ADDR_PORT) };
      }
      if (Atomics.load(c, o + S_ADDR_SEQ) === seq) return { addr, seq };
    }
  }
}

/** A server whose address the resolver (src/dns/) publishes: under `resolvers`, named by a host name. */
export function dynamicAddress(s: { resolvers?: string; host: string }): boolean {
  return s.resolvers !== undefined && isIP(s.host) === 0;
}

export interface ServerAddress {
  /** an IPv4 or IPv6 address in text form */
  ip: string;
  port: number;
}

/** IPv4 text -> one word; IPv6 text -> four words (big-endian). */
export function addressWords(ip: string): number[] {
  if (!ip.includes(':')) {
    const b = ip.split('.').map(Number);
    return [((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) | 0];
  }
  const [head, tail] = ip.split('::');
  const part = (t: string | undefined) => (t ? t.split(':').map((h) => parseInt(h, 16)) : []);
  const hi = part(head);
  const lo = tail === undefined ? [] : part(tail);
  const groups = [...hi, ...new Array<number>(8 - hi.length - lo.length).fill(0), ...lo];
  const out: number[] = [];
  for (let i = 0; i < 8; i += 2) out.push(((groups[i] << 16) | groups[i + 1]) | 0);
  return out;
}

/** The inverse of addressWords (IPv6 in full hex groups, zeros compressed by net.connect anyway). */
export function wordsAddress(words: number[]): string {
  if (words.length === 1) {
    const w = words[0];
    return `${(w >>> 24) & 255}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const g: string[] = [];
  for (const w of words) g.push(((w >>> 16) & 0xffff).toString(16), (w & 0xffff).toString(16));
  return g.join(':');
}

/**
 * Record a new high-water mark (stats smax/qmax). Two workers may race and the lower value win
 * for a moment; the next peak corrects it, which is good enough for a statistic.
 */
export function raiseMax(cells: Int32Array, cell: number, value: number): void {
  if (value > Atomics.load(cells, cell)) Atomics.store(cells, cell, value);
}
