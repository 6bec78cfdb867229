// Per-worker counter slabs. Each worker owns one Float64Array in its own SharedArrayBuffer and
// is its only writer, so the hot path does plain `slab[i] += n` with no atomic read-modify-write.
// The primary reads every slab and sums them when stats are asked for (a read may be a moment
// stale; that is fine for counters no decision depends on).
//
// Rows: frontends [0, F), backends [F, F+B), servers [F+B, F+B+S) in config order
// (servers numbered as in ServerIndex).

import type { Config } from '../config/model';

export const C_STOT = 0; // sessions/requests total (HAProxy stot)
export const C_SCUR = 1; // current sessions (this worker's share)
export const C_BIN = 2; // bytes from clients
export const C_BOUT = 3; // bytes to clients
export const C_HRSP_1XX = 4;
export const C_HRSP_2XX = 5;
export const C_HRSP_3XX = 6;
export const C_HRSP_4XX = 7;
export const C_HRSP_5XX = 8;
export const C_HRSP_OTHER = 9;
export const C_EREQ = 10; // request errors
export const C_ECON = 11; // connection errors to servers
export const C_ERESP = 12; // response errors
export const C_WRETR = 13; // retries
export const C_WREDIS = 14; // redispatches
export const C_DREQ = 15; // denied requests
export const C_DRESP = 16; // denied responses
export const C_REQ_TOT = 17; // HTTP requests total
export const C_CONN_TOT = 18; // client connections accepted (frontends)
export const C_CLI_ABRT = 19; // aborted by client
export const C_SRV_ABRT = 20; // aborted by server
export const C_LAST_SESS = 21; // ms timestamp of last request
export const C_SMAX = 22; // max current sessions this worker saw
export const C_LBTOT = 23; // times the server was selected
export const C_TTIME_SUM = 24; // total time sum ms (avg = sum / count)
export const C_TTIME_CNT = 25;
export const C_RTIME_SUM = 26; // response time (Tr) sum ms
export const C_RTIME_CNT = 27;
export const C_CTIME_SUM = 28; // connect time sum ms
export const C_CTIME_CNT = 29;
export const C_QTIME_SUM = 30; // queue time sum ms
export const C_QTIME_CNT = 31;
export const C_INTERCEPTED = 32; // requests answered by the proxy itself (stats, redirects)
export const C_COMP = 33; // reserved
export const C_ADMITTED = 34; // frontend rows: this worker's requests holding a maxconn slot (gauge)
export const C_DCON = 35; // frontend rows: connections refused by a tcp-request connection rule
export const C_DSES = 36; // frontend rows: sessions refused by a tcp-request session rule
export const COUNTER_STRIDE = 40;

export interface CounterRows {
  frontends: number;
  backends: number;
  servers: number;
}

export function counterRows(config: Config): CounterRows {
  let servers = 0;
  for (const b of config.backends) servers += b.servers.length;
  return { frontends: config.frontends.length, backends: config.backends.length, servers };
}

export function slabLength(rows: CounterRows): number {
  return (rows.frontends + rows.backends + rows.servers) * COUNTER_STRIDE;
}

export function createSlab(rows: CounterRows): Float64Array {
  return new Float64Array(new SharedArrayBuffer(slabLength(rows) * 8));
}

/** Offsets of a row's first cell: add a C_* constant to it. */
export function frontendRow(frontend: number): number {
  return frontend * COUNTER_STRIDE;
}
export function backendRow(rows: CounterRows, backend: number): number {
  return (rows.frontends + backend) * COUNTER_STRIDE;
}
export function serverRow(rows: CounterRows, server: number): number {
  return (rows.frontends + rows.backends + server) * COUNTER_STRIDE;
}

/** Primary: sum a row's cell over all worker slabs. Max-type cells are summed too (see C_SMAX). */
export function sumCell(slabs: readonly Float64Array[], row: number, cell: number): number {
  let t = 0;
  for (const s of slabs) t += s[row + cell];
  return t;
}
