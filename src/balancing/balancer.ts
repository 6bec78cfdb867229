// The selection interface every algorithm implements, and the usable-set cache they share.
//
// Layout follows HAProxy's lb_*.c: one module per algorithm, each keeping its own lookup table
// (smooth-WRR sequence, hash ring, cumulative weights) rebuilt only when the backend's LB_GEN
// cell moves. The steady-state pick() allocates nothing: tables are typed arrays reused across
// rebuilds, and the only shared-memory traffic is one Atomics.load of LB_GEN plus the loads that
// vet the candidate (the cache may be one change behind).

import type { BackendConfig } from '../config/model';
import { ADMIN_READY, S_ACTIVE, S_ADMIN, S_HEALTH, S_LAST_CHANGE, S_RMAINT, S_WEIGHT, SERVER_STRIDE, type ServerIndex, type SharedState } from '../shared/state';

/** HAProxy's BE_WEIGHT_SCALE: weights of a backend with slowstart are kept x16 so they can ramp */
const WEIGHT_SCALE = 16;
/** how often a ramping weight is recomputed (S_LAST_CHANGE has whole seconds) */
const RAMP_STEP_MS = 250;

export interface Balancer {
  /**
   * Global server index, or -1 when no server is usable.
   * `key`: hash input for source (client IP), uri (path; anything from '?' on is ignored),
   * hdr (header value); null (or empty) makes hash algorithms fall back to roundrobin like
   * HAProxy. `exclude`: a global server index to avoid (redispatch), -1 for none; when it is
   * the only usable server the answer is -1.
   */
  pick(key: string | null, exclude: number): number;
}

/**
 * The set of servers an algorithm may choose from right now: the usable active servers, or,
 * when none is, the first usable backup (all usable backups with `allbackups`), as HAProxy does.
 * Rebuilt from shared state when LB_GEN changes; `refresh()` says whether it did.
 */
export class UsableSet {
  /** global indices of the current tier, config order; valid up to `length` */
  readonly servers: Int32Array;
  length = 0;
  /** true when the tier is made of backup servers */
  backupTier = false;
  /** per tier slot: effective weight (S_WEIGHT) read at rebuild time */
  readonly weights: Int32Array;
  /** per tier slot: configured weight (static algorithms use it) */
  readonly configWeights: Int32Array;

  readonly backend: number;
  readonly first: number;
  readonly count: number;
  /** per local server: maxconn (0 = unlimited), backup flag, configured weight */
  private readonly maxconn: Int32Array;
  private readonly backup: Uint8Array;
  private readonly cfgWeight: Int32Array;
  private readonly allbackups: boolean;
  private gen: number;
  /**
   * slowstart (ms) per local server, or null when the backend has none or its algorithm is not
   * dynamic (HAProxy ramps roundrobin, leastconn and random only). With it, weights are kept
   * x16 (HAProxy's BE_WEIGHT_SCALE) so a weight-1 server can ramp too.
   */
  private readonly slowstart: Int32Array | null;
  /** unix seconds when this set was made: a server up since before then does not ramp */
  private readonly startSec: number;
  /** while a server ramps: when to rebuild next (ms), else 0 */
  private rampNext = 0;

  constructor(
    readonly state: SharedState,
    index: ServerIndex,
    backend: number,
    cfg: BackendConfig,
  ) {
    this.backend = backend;
    this.first = index.backendFirstServer[backend];
    this.count = cfg.servers.length;
    this.allbackups = cfg.allbackups;
    this.maxconn = Int32Array.from(cfg.servers, (s) => s.maxconn);
    this.backup = Uint8Array.from(cfg.servers, (s) => (s.backup ? 1 : 0));
    this.cfgWeight = Int32Array.from(cfg.servers, (s) => s.weight);
    this.servers = new Int32Array(this.count);
    this.weights = new Int32Array(this.count);
    this.configWeights = new Int32Array(this.count);
    this.gen = state.backendGen(backend);
    const dynamic = cfg.balance === 'roundrobin' || cfg.balance === 'leastconn' || cfg.balance === 'random';
    this.slowstart = dynamic && cfg.servers.some((s) => (s.slowstart ?? 0) > 0) ? Int32Array.from(cfg.servers, (s) => s.slowstart ?? 0) : null;
    this.startSec = Math.floor(Date.now() / 1000);
    this.rebuild();
  }

  /** One Atomics.load; rebuilds the tier and returns true when the backend changed. */
  refresh(): boolean {
    const gen = this.state.backendGen(this.backend);
    if (gen === this.gen) {
      // a server ramping up (slowstart) gets its next weight step
      if (this.rampNext === 0 || Date.now() < this.rampNext) return false;
      this.rebuild();
      return true;
    }
    // Record the generation before reading states: a change racing this rebuild bumps LB_GEN
    // again and the next pick rebuilds once more.
    this.gen = gen;
    this.rebuild();
    return true;
  }

  private rebuild(): void {
    const st = this.state;
    this.rampNext = 0;
    let n = 0;
    for (let l = 0; l < this.count; l++) {
      if (this.backup[l] === 0 && st.usable(this.first + l)) n = this.push(n, l);
    }
    this.backupTier = n === 0;
    if (n === 0) {
      for (let l = 0; l < this.count; l++) {
        if (this.backup[l] === 1 && st.usable(this.first + l)) {
          n = this.push(n, l);
          if (!this.allbackups) break;
        }
      }
    }
    this.length = n;
  }

  private push(n: number, local: number): number {
    const g = this.first + local;
    this.servers[n] = g;
    let w = this.state.get(g, S_WEIGHT);
    if (this.slowstart !== null) {
      w *= WEIGHT_SCALE;
      const ss = this.slowstart[local];
      const since = this.state.get(g, S_LAST_CHANGE);
      if (ss > 0 && since > this.startSec) {
        // HAProxy: the weight grows linearly from 1/16 to full over slowstart after a server comes back
        const elapsed = Date.now() - since * 1000;
        if (elapsed < ss) {
          w = Math.max(1, Math.ceil((w * (elapsed + ss / WEIGHT_SCALE)) / ss));
          const next = Date.now() + RAMP_STEP_MS;
          if (this.rampNext === 0 || next < this.rampNext) this.rampNext = next;
        }
      }
    }
    this.weights[n] = w;
    this.configWeights[n] = this.cfgWeight[local];
    return n + 1;
  }

  /**
   * May `server` (a member of this backend) take a request now? Usable (the cache may lag one
   * change), not the excluded one, and below its maxconn.
   *
   * Plain reads, not Atomics.load: V8 does not inline Atomics.load (about 20 ns a call here,
   * against 2 ns), and this vet runs for every candidate. It is safe for a check: aligned Int32
   * reads are not torn, every pick is a fresh call (nothing is hoisted across picks), and the
   * ordered view that rebuilds need comes from the Atomics.load of LB_GEN in refresh().
   */
  available(server: number, exclude: number): boolean {
    if (server === exclude) return false;
    const cells = this.state.servers;
    const o = server * SERVER_STRIDE;
    if (cells[o + S_HEALTH] !== 1 || cells[o + S_ADMIN] !== ADMIN_READY || cells[o + S_RMAINT] !== 0 || cells[o + S_WEIGHT] <= 0) return false;
    const max = this.maxconn[server - this.first];
    return max <= 0 || cells[o + S_ACTIVE] < max;
  }

  /** usable() with plain reads (see available()). */
  usableNow(server: number): boolean {
    const cells = this.state.servers;
    const o = server * SERVER_STRIDE;
    return cells[o + S_HEALTH] === 1 && cells[o + S_ADMIN] === ADMIN_READY && cells[o + S_RMAINT] === 0 && cells[o + S_WEIGHT] > 0;
  }

  /** Below its maxconn, given its in-flight count (already read by the caller). */
  hasSlot(server: number, active: number): boolean {
    const max = this.maxconn[server - this.first];
    return max <= 0 || active < max;
  }

  /** Requests in flight to `server`, all workers (plain read, see available()). */
  active(server: number): number {
    return this.state.servers[server * SERVER_STRIDE + S_ACTIVE];
  }

  /**
   * First available tier member scanning from slot `start` (wrapping), or -1. The fallback
   * when an algorithm's own candidate is unavailable; bounded by the tier size.
   */
  scanFrom(start: number, exclude: number): number {
    const n = this.length;
    for (let k = 0; k < n; k++) {
      let slot = start + k;
      if (slot >= n) slot -= n;
      const s = this.servers[slot];
      if (this.available(s, exclude)) return s;
    }
    return -1;
  }
}

/** Non-negative remainder of a (possibly wrapped, negative) Int32 cursor value. */
export function cursorSlot(cursor: number, length: number): number {
  return (cursor >>> 0) % length;
}
