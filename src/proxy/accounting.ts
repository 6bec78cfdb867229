// What a request counts, in the worker's counters slab and the shared server/backend cells: one
// place for HTTP exchanges (exchange.ts) and WebSocket tunnels (../worker/websocket.ts), so both show up in
// stats and balancing alike. These run per request: plain arguments, no allocation, small enough
// for V8 to inline. A row of -1 means "no such row" (counter rows start at 0).

import {
  C_BIN,
  C_BOUT,
  C_CTIME_CNT,
  C_CTIME_SUM,
  C_ECON,
  C_ERESP,
  C_HRSP_1XX,
  C_HRSP_OTHER,
  C_LAST_SESS,
  C_LBTOT,
  C_REQ_TOT,
  C_RTIME_CNT,
  C_RTIME_SUM,
  C_SCUR,
  C_STOT,
  C_TTIME_CNT,
  C_TTIME_SUM,
  C_WREDIS,
  C_WRETR,
} from '../shared/counters';
import { BACKEND_STRIDE, B_ACTIVE, B_SMAX, SERVER_STRIDE, S_ACTIVE, S_OBSERVE_ERRORS, S_SMAX } from '../shared/state';
import type { BackendRuntime, WorkerRuntime } from '../worker/runtime';
import { raiseMax } from '../shared/state';


/** A request arrived on the frontend whose counters start at `feRow`. */
export function countRequestStart(slab: Float64Array, feRow: number, acceptMs: number): void {
  slab[feRow + C_STOT]++;
  slab[feRow + C_REQ_TOT]++;
  slab[feRow + C_SCUR]++;
  slab[feRow + C_LAST_SESS] = acceptMs;
}

/**
 * Take a slot on `server` (false: it is at its maxconn): the requests in flight to it and to `be` (shared by all workers: what
 * maxconn, leastconn and the stats read), and its session counters in this worker's slab;
 * `lb`: the balancer chose it (lbtot).
 */
export function takeServerSlot(rt: WorkerRuntime, be: BackendRuntime, server: number, acceptMs: number, lb: boolean): boolean {
  const servers = rt.state.servers;
  const backends = rt.state.backends;
  const so = server * SERVER_STRIDE;
  const bo = be.index * BACKEND_STRIDE;
  const active = Atomics.add(servers, so + S_ACTIVE, 1) + 1;
  // The balancer saw a free slot, but another worker may have taken it since: the add is the
  // decision, so a server never holds more than its maxconn.
  const max = rt.servers[server].maxconn;
  if (max > 0 && active > max) {
    Atomics.sub(servers, so + S_ACTIVE, 1);
    return false;
  }
  raiseMax(servers, so + S_SMAX, active);
  raiseMax(backends, bo + B_SMAX, Atomics.add(backends, bo + B_ACTIVE, 1) + 1);
  const slab = rt.slab;
  const srow = rt.servers[server].row;
  slab[srow + C_STOT]++;
  if (lb) {
    slab[srow + C_LBTOT]++;
    slab[be.row + C_LBTOT]++;
  }
  slab[srow + C_SCUR]++;
  slab[srow + C_LAST_SESS] = acceptMs;
  return true;
}

/** Give back what takeServerSlot() took; requests queued for a slot on `be` get their turn. */
export function releaseServerSlot(rt: WorkerRuntime, be: BackendRuntime, server: number): void {
  Atomics.sub(rt.state.servers, server * SERVER_STRIDE + S_ACTIVE, 1);
  Atomics.sub(rt.state.backends, be.index * BACKEND_STRIDE + B_ACTIVE, 1);
  rt.slab[rt.servers[server].row + C_SCUR]--;
  if (be.queue.length > 0) rt.scheduleDrain();
}

/** The status class counters (hrsp_1xx..5xx, or other) of every row that answered `status`. */
export function countStatus(slab: Float64Array, status: number, feRow: number, beRow: number, srvRow: number): void {
  const cls = status >= 100 && status < 600 ? C_HRSP_1XX + ((status / 100) | 0) - 1 : C_HRSP_OTHER;
  slab[feRow + cls]++;
  if (beRow >= 0) slab[beRow + cls]++;
  if (srvRow >= 0) slab[srvRow + cls]++;
}

/** `observe`: a server's answer feeds its health; under layer7 a 5xx is an error, else the run ends. */
export function observeStatus(rt: WorkerRuntime, server: number, status: number): void {
  const srv = rt.servers[server];
  if (!srv.observe) return;
  const cells = rt.state.servers;
  const cell = server * SERVER_STRIDE + S_OBSERVE_ERRORS;
  if (srv.observeL7 && status >= 500) Atomics.add(cells, cell, 1);
  else if (Atomics.load(cells, cell) !== 0) Atomics.store(cells, cell, 0);
}

/**
 * Connecting to `server` failed or timed out (econ); `observe` counts it against the server.
 * `econ` false: only `observe` counts it (mode tcp counts econ once, when the retries are over, as HAProxy).
 */
export function countConnectError(rt: WorkerRuntime, be: BackendRuntime, server: number, econ = true): void {
  const srv = rt.servers[server];
  if (econ) {
    rt.slab[srv.row + C_ECON]++;
    rt.slab[be.row + C_ECON]++;
  }
  if (srv.observe) Atomics.add(rt.state.servers, server * SERVER_STRIDE + S_OBSERVE_ERRORS, 1);
}

/** The server's answer was unusable or cut before its head (eresp); an error for `observe layer7`. */
export function countResponseError(rt: WorkerRuntime, be: BackendRuntime, server: number): void {
  const srv = rt.servers[server];
  rt.slab[srv.row + C_ERESP]++;
  rt.slab[be.row + C_ERESP]++;
  if (srv.observe && srv.observeL7) Atomics.add(rt.state.servers, server * SERVER_STRIDE + S_OBSERVE_ERRORS, 1);
}

/** A failed attempt on `server` is tried again (wretr); `redispatch`: on another server (wredis). */
export function countRetry(rt: WorkerRuntime, be: BackendRuntime, server: number, redispatch: boolean): void {
  const slab = rt.slab;
  const srow = rt.servers[server].row;
  slab[srow + C_WRETR]++;
  slab[be.row + C_WRETR]++;
  if (redispatch) {
    slab[srow + C_WREDIS]++;
    slab[be.row + C_WREDIS]++;
  }
}

/**
 * The request is over: session gauge, totals and times (ms; tr and tc -1 when not reached) on the
 * rows it went through. Bytes counted here are the ones not already counted as they passed.
 */
export function countRequestEnd(
  slab: Float64Array,
  feRow: number,
  beRow: number,
  srvRow: number,
  bytesIn: number,
  bytesOut: number,
  ta: number,
  tr: number,
  tc: number,
): void {
  slab[feRow + C_SCUR]--;
  slab[feRow + C_BOUT] += bytesOut;
  slab[feRow + C_TTIME_SUM] += ta;
  slab[feRow + C_TTIME_CNT]++;
  if (beRow >= 0) {
    slab[beRow + C_STOT]++;
    countUpstreamEnd(slab, beRow, bytesIn, bytesOut, ta, tr);
  }
  if (srvRow >= 0) {
    countUpstreamEnd(slab, srvRow, bytesIn, bytesOut, ta, tr);
    if (tc > 0) {
      slab[srvRow + C_CTIME_SUM] += tc;
      slab[srvRow + C_CTIME_CNT]++;
    }
  }
}

/** What a backend row and a server row both count at the end of a request. */
function countUpstreamEnd(slab: Float64Array, row: number, bytesIn: number, bytesOut: number, ta: number, tr: number): void {
  slab[row + C_BIN] += bytesIn;
  slab[row + C_BOUT] += bytesOut;
  slab[row + C_TTIME_SUM] += ta;
  slab[row + C_TTIME_CNT]++;
  if (tr >= 0) {
    slab[row + C_RTIME_SUM] += tr;
    slab[row + C_RTIME_CNT]++;
  }
}
