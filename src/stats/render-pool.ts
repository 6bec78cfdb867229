// Stats rendering off the primary's event loop: a piscina pool of one thread that renders a
// Snapshot into HTML/CSV/JSON/Prometheus text (task: render-task.ts). Small snapshots are
// rendered inline, where the hop to the thread would cost more than the render (see
// docs/observability.md for the measurements behind the threshold). The thread is started on
// the first large render and ends after `idleTimeout` without work; `destroy()` on shutdown.
import * as path from 'node:path';
import Piscina from 'piscina';
import { histogramSlots, packHistograms, render, type RenderKind, type RenderRequest } from './render-task';
import type { PageOptions } from './html';
import type { Snapshot } from './snapshot';

/** Rows (frontends + backends + servers) from which rendering goes to the pool. */
export const POOL_MIN_ROWS = 200;
/** How long the render thread stays up without work. */
export const POOL_IDLE_MS = 30_000;

export interface RenderPoolOptions {
  /** rows from which rendering goes to the pool; 0 = always, Infinity = never */
  minRows?: number;
  idleTimeoutMs?: number;
}

export function snapshotRowCount(s: Snapshot): number {
  let n = s.frontends.length + s.backends.length;
  for (const b of s.backends) n += b.servers.length;
  return n;
}

/** A copy of the snapshot without the histogram objects (class instances do not clone). */
function plain(s: Snapshot): Snapshot {
  const frontends = s.frontends.map((f) => ({ ...f, hist: null }));
  const backends = s.backends.map((b) => ({ ...b, hist: null, servers: b.servers.map((sv) => ({ ...sv, hist: null })) }));
  const proxies = s.proxies.map((p) => ({
    ...p,
    frontend: p.frontend ? frontends[p.frontend.index] : null,
    backend: p.backend ? backends[p.backend.index] : null,
  }));
  return { ...s, frontends, backends, proxies };
}

export class RenderPool {
  private pool: Piscina<RenderRequest, string> | null = null;
  private readonly minRows: number;
  private readonly idleTimeoutMs: number;
  private destroyed = false;
  /** renders done in the pool / inline (for tests and the measurements) */
  pooled = 0;
  inline = 0;

  constructor(o: RenderPoolOptions = {}) {
    this.minRows = o.minRows ?? POOL_MIN_ROWS;
    this.idleTimeoutMs = o.idleTimeoutMs ?? POOL_IDLE_MS;
  }

  /** Threads the pool currently runs (0 before the first pooled render and after the idle timeout). */
  get threads(): number {
    return this.pool ? this.pool.threads.length : 0;
  }

  private getPool(): Piscina<RenderRequest, string> {
    if (!this.pool) {
      this.pool = new Piscina<RenderRequest, string>({
        filename: path.join(__dirname, 'render-task.js'),
        minThreads: 0,
        maxThreads: 1,
        idleTimeout: this.idleTimeoutMs,
      });
    }
    return this.pool;
  }

  async render(kind: RenderKind, snap: Snapshot, hideVersion: boolean, page?: PageOptions): Promise<string> {
    if (this.destroyed || snapshotRowCount(snap) < this.minRows) {
      this.inline++;
      return render({ kind, snap, hideVersion, page });
    }
    const req: RenderRequest = { kind, snap: plain(snap), hideVersion, page };
    let transferList: ArrayBuffer[] | undefined;
    if (kind === 'prometheus') {
      req.hists = packHistograms(histogramSlots(snap).map((s) => s.get()));
      transferList = [req.hists.buffer as ArrayBuffer];
    }
    this.pooled++;
    return this.getPool().run(req, { transferList });
  }

  /** Stops the thread (a render in flight is rejected); later renders run inline. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    const p = this.pool;
    this.pool = null;
    if (p) await p.destroy();
  }
}
