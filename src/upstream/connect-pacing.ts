// How many new upstream connections a worker starts in one turn of its event loop. A burst of
// requests on a cold pool (thousands of clients arriving at once) would otherwise open one
// connection per request before any answer comes back to free one: the burst's requests then
// all wait behind all the connects, and the servers see a connection storm. Past the turn's
// budget a request waits for the next turn (after the loop's I/O): an idle connection freed
// meanwhile serves it, else a connect from the next turn's budget. In the spirit of HAProxy's
// tune.maxpollevents / tune.runqueue-depth (a bounded batch per loop turn); the budget is per
// worker, the waiting line per server pool, first come first served.

import type { ServerPool } from './pool';
import type { UpstreamConn } from './connection';

/** New connections started per worker per event-loop turn. */
export const CONNECTS_PER_TURN = 64;

/** A request waiting in a pool's line for a connection. */
export interface ConnWaiter {
  /** still waiting in `pool`'s line (not answered, aborted, timed out or recycled since) */
  waitsIn(pool: ServerPool): boolean;
  /** an idle connection of the pool is its */
  useConn(conn: UpstreamConn): void;
  /** its turn to open a new connection */
  connectNow(): void;
}

export class ConnectPacer {
  private left = CONNECTS_PER_TURN;
  private scheduled = false;
  private readonly pools: ServerPool[] = [];
  private readonly turnB = (): void => this.turn();

  /** A new connection to `pool` for `w`: true = start it now; false = `w` waits in line. */
  admit(pool: ServerPool, w: ConnWaiter): boolean {
    if (pool.waiters.length === 0 && this.left > 0) {
      this.left--;
      this.schedule();
      return true;
    }
    this.wait(pool, w);
    return false;
  }

  /** `w` joins `pool`'s line (also used while the line is not empty: nobody jumps it). */
  wait(pool: ServerPool, w: ConnWaiter): void {
    if (pool.waiters.length === 0) this.pools.push(pool);
    pool.waiters.push(w);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.turnB);
  }

  /** After the turn's I/O: a fresh budget; the lines get idle connections first, then connects. */
  private turn(): void {
    this.scheduled = false;
    this.left = CONNECTS_PER_TURN;
    const pools = this.pools;
    let kept = 0;
    for (let i = 0; i < pools.length; i++) {
      const pool = pools[i];
      const line = pool.waiters;
      let n = 0;
      while (n < line.length) {
        const w = line[n];
        if (!w.waitsIn(pool)) {
          n++;
          continue;
        }
        const idle = pool.takeIdle(null);
        if (idle !== null) {
          n++;
          w.useConn(idle);
        } else if (this.left > 0) {
          this.left--;
          n++;
          w.connectNow();
        } else break;
      }
      if (n > 0) line.splice(0, n);
      if (line.length > 0) pools[kept++] = pool;
    }
    pools.length = kept;
    if (kept > 0) this.schedule();
  }
}
