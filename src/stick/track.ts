// Per-request stick counters (HAProxy's sc0..sc2): which table entry each tracking slot of the
// request follows, and what tracking counts. http-request track-scN counts at once what HAProxy
// counts at that point (conn_cur, conn_cnt, conn_rate, http_req_cnt, http_req_rate); what needs
// the end of the exchange (conn_cur back down, http_err_*, bytes_*) is counted by trackEnd(),
// which the request path calls once the response is done.
import type { StickTable } from './table';
import {
  DT_BYTES_IN_CNT, DT_BYTES_IN_RATE, DT_BYTES_OUT_CNT, DT_BYTES_OUT_RATE, DT_CONN_CNT, DT_CONN_CUR, DT_CONN_RATE,
  DT_HTTP_ERR_CNT, DT_HTTP_ERR_RATE, DT_HTTP_REQ_CNT, DT_HTTP_REQ_RATE, DT_SESS_CNT, DT_SESS_RATE,
} from './types';

export const MAX_TRACKERS = 3;

export class Trackers {
  readonly tables: (StickTable | null)[] = [null, null, null];
  readonly idx = new Int32Array(MAX_TRACKERS);
  readonly gen = new Int32Array(MAX_TRACKERS);
  /** slots tracking something and not yet ended */
  active = 0;
  /** a mode tcp session: tracking counts no HTTP request (HAProxy's stream_start_counters alone) */
  tcp = false;

  /** A new request: slots still open (trackEnd never came) are ended without a status. */
  reset(): void {
    if (this.active !== 0) trackEnd(this, 0, 0, 0);
    for (let i = 0; i < MAX_TRACKERS; i++) this.tables[i] = null;
  }
}

const START_OPS = [DT_CONN_CUR, 1, DT_CONN_CNT, 1, DT_CONN_RATE, 1, DT_HTTP_REQ_CNT, 1, DT_HTTP_REQ_RATE, 1];
const TCP_START_OPS = START_OPS.slice(0, 6);
const SESSION_OPS = [DT_SESS_CNT, 1, DT_SESS_RATE, 1];

/** track-scN: slot `slot` follows entry idx of table t (created by the caller); counts the request. */
export function trackStart(tr: Trackers, slot: number, t: StickTable, idx: number): void {
  const gen = t.generation(idx);
  tr.tables[slot] = t;
  tr.idx[slot] = idx;
  tr.gen[slot] = gen;
  tr.active |= 1 << slot;
  const ops = tr.tcp ? TCP_START_OPS : START_OPS;
  t.add(idx, gen, ops, ops.length);
}

/**
 * A TCP connection accepted past its `tcp-request connection` rules is a session: every slot
 * tracked so far counts it in sess_cnt/sess_rate (HAProxy's session_count_new). Slots tracked
 * later, by content rules, do not.
 */
export function trackSession(tr: Trackers | null): void {
  if (tr === null || tr.active === 0) return;
  for (let s = 0; s < MAX_TRACKERS; s++) {
    const t = tr.tables[s];
    if (t === null || (tr.active & (1 << s)) === 0) continue;
    t.add(tr.idx[s], tr.gen[s], SESSION_OPS, SESSION_OPS.length);
  }
}

const endOps = new Float64Array(14);

/**
 * The end of a tracked exchange: conn_cur goes back down; a 4xx counts in http_err_cnt/rate;
 * bytes received from the client (bytesIn) and sent to it (bytesOut) count in bytes_in/out.
 * `status` 0 = unknown (no answer). Safe to call twice: the second call does nothing.
 * Where: once per exchange, when the response is complete or the exchange is abandoned, with
 * the exchange's RequestView.trackers (null when no rule tracked: nothing to do).
 */
export function trackEnd(tr: Trackers | null, status: number, bytesIn: number, bytesOut: number): void {
  if (tr === null || tr.active === 0) return;
  let n = 0;
  endOps[n++] = DT_CONN_CUR;
  endOps[n++] = -1;
  if (status >= 400 && status < 500) {
    endOps[n++] = DT_HTTP_ERR_CNT;
    endOps[n++] = 1;
    endOps[n++] = DT_HTTP_ERR_RATE;
    endOps[n++] = 1;
  }
  if (bytesIn > 0) {
    endOps[n++] = DT_BYTES_IN_CNT;
    endOps[n++] = bytesIn;
    endOps[n++] = DT_BYTES_IN_RATE;
    endOps[n++] = bytesIn;
  }
  if (bytesOut > 0) {
    endOps[n++] = DT_BYTES_OUT_CNT;
    endOps[n++] = bytesOut;
    endOps[n++] = DT_BYTES_OUT_RATE;
    endOps[n++] = bytesOut;
  }
  for (let s = 0; s < MAX_TRACKERS; s++) {
    const t = tr.tables[s];
    if (t === null || (tr.active & (1 << s)) === 0) continue;
    t.add(tr.idx[s], tr.gen[s], endOps, n);
  }
  tr.active = 0;
}
