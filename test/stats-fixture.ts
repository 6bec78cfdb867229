// Shared by the stats and log tests: a validated Config built directly (no config reader),
// and in-process "workers" that record requests the way the worker request path does.
import type { BackendConfig, Config, FrontendConfig, LogTarget, ServerConfig, StatsConfig } from '../src/config/model';
import { DEFAULT_HEALTH_CHECK, DEFAULT_TIMEOUTS } from '../src/config/model';
import * as C from '../src/shared/counters';
import { WorkerTelemetry, type RequestRecord } from '../src/stats/telemetry-worker';

export function server(name: string, port: number, o: Partial<ServerConfig> = {}): ServerConfig {
  return {
    name, host: '127.0.0.1', port, address: `127.0.0.1:${port}`, weight: 1, check: true, backup: false, maxconn: 0,
    cookie: null, inter: null, fastinter: null, downinter: null, rise: null, fall: null, checkPort: null, checkAddr: null,
    observe: 'none', errorLimit: 10, onError: 'fail-check', disabled: false, ...o,
  };
}

export function backend(name: string, servers: ServerConfig[], o: Partial<BackendConfig> = {}): BackendConfig {
  return {
    name, fromListen: false, mode: 'http', balance: 'roundrobin', balanceHeader: null, timeouts: { ...DEFAULT_TIMEOUTS },
    retries: 3, retryOn: 1, redispatch: true, forwardfor: true, persist: false, allbackups: false,
    healthCheck: { ...DEFAULT_HEALTH_CHECK }, cookie: null, servers, ...o,
  };
}

export function frontend(name: string, port: number, o: Partial<FrontendConfig> = {}): FrontendConfig {
  return {
    name, fromListen: false, binds: [{ host: '127.0.0.1', port, text: `127.0.0.1:${port}`, ssl: false, certs: [], sslMinVer: null, ciphers: null, engine: null, acceptProxy: false }], defaultBackend: null, mode: 'http',
    timeouts: { ...DEFAULT_TIMEOUTS }, maxconn: 0, forwardfor: true, httplog: true, logFormat: 'httplog', dontlognull: false,
    logs: [], stats: null, ...o,
  };
}

export function stats(o: Partial<StatsConfig> = {}): StatsConfig {
  return {
    enable: true, uri: '/haproxy?stats', auth: [{ user: 'admin', password: 's3cret' }], realm: 'HAProxy Statistics',
    refresh: 5000, hideVersion: false, admin: true, prometheus: '/metrics', ...o,
  };
}

export function config(frontends: FrontendConfig[], backends: BackendConfig[], logs: LogTarget[] = []): Config {
  return {
    sources: ['test'],
    global: { workers: 2, daemon: false, pidfile: null, maxconn: 20000, logs, maxHeaderSize: 16384, maxHeaders: 101, maxAccept: 32, maxUri: 8192, gracePeriod: 1000, sslDefaultBindCiphers: null, statsSockets: [], statsTimeout: 10000, engine: 'uws' },
    frontends,
    backends,
  };
}

export function record(o: Partial<RequestRecord> = {}): RequestRecord {
  return {
    clientIp: '127.0.0.1', clientPort: 40000, acceptMs: Date.now(), frontend: 0, backend: 0, server: 0,
    tq: 0, tw: 0, tc: 1, tr: 10, ta: 11, status: 200, bytesOut: 100, bytesIn: 50, retries: 0, termination: '--',
    method: 'GET', uri: '/', httpVersion: 'HTTP/1.1', ...o,
  };
}

/** What the worker's request path does for one finished request: slab counters + telemetry. */
export class FakeWorker {
  readonly slab: Float64Array;
  readonly rows: C.CounterRows;
  constructor(cfg: Config, readonly telemetry: WorkerTelemetry) {
    this.rows = C.counterRows(cfg);
    this.slab = C.createSlab(this.rows);
  }
  request(r: RequestRecord): void {
    const cls = Math.floor(r.status / 100);
    const hrsp = cls >= 1 && cls <= 5 ? C.C_HRSP_1XX + cls - 1 : C.C_HRSP_OTHER;
    const rowsOf = [C.frontendRow(r.frontend)];
    if (r.backend >= 0) rowsOf.push(C.backendRow(this.rows, r.backend));
    if (r.server >= 0) rowsOf.push(C.serverRow(this.rows, r.server));
    for (const row of rowsOf) {
      this.slab[row + C.C_STOT]++;
      this.slab[row + C.C_REQ_TOT]++;
      this.slab[row + C.C_BIN] += r.bytesIn;
      this.slab[row + C.C_BOUT] += r.bytesOut;
      this.slab[row + hrsp]++;
      this.slab[row + C.C_LAST_SESS] = Date.now();
      this.slab[row + C.C_TTIME_SUM] += r.ta;
      this.slab[row + C.C_TTIME_CNT]++;
    }
    if (r.server >= 0) this.slab[C.serverRow(this.rows, r.server) + C.C_LBTOT]++;
    this.telemetry.onRequestDone(r);
  }
}
