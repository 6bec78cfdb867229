// Everything a worker thread's request path needs, built once at start-up from the config.

import { ConnectPacer } from '../upstream/connect-pacing';
import type { BackendConfig, Config, FrontendConfig } from '../config/model';
import type { Balancer } from '../balancing/balancer';
import { createBalancers } from '../balancing';
import { C_ADMITTED, backendRow, counterRows, frontendRow, serverRow, type CounterRows } from '../shared/counters';
import { FRONTEND_STRIDE, F_ACTIVE, F_SMAX, G_ACTIVE_CONN, SERVER_STRIDE, S_ACTIVE, ServerIndex, SharedState, dynamicAddress, raiseMax } from '../shared/state';
import { ServerPool } from '../upstream/pool';
import type { WorkerTelemetry } from '../stats/telemetry-worker';
import { BackendCookies } from '../proxy/persistence';
import type { RequestLimits } from '../proxy/request-validate';
import { Decision, ResponseView, RoutingTable } from '../rules';
import { ipInNet } from '../acl/ip';
import { ErrorPageTable } from '../rules/error-table';
import { compileStickPersistence, type StickPersistence } from '../stick/persist';
import { ServerTlsDialer } from '../upstream/tls-connect';
import type { ServerConfig } from '../config/model';
import { STATS_KEY_HEADER } from '../stats/stats-key';

export interface BackendRuntime {
  index: number;
  cfg: BackendConfig;
  balancer: Balancer;
  /** counters row offset */
  row: number;
  firstServer: number;
  /** cookie value -> global server index, for persistence */
  cookieServers: Map<string, number>;
  /** hash key source for this backend's algorithm */
  keyKind: number;
  /** cookie persistence, or null */
  cookies: BackendCookies | null;
  /** some server has a maxconn, so requests may have to queue */
  hasMaxconn: boolean;
  /** requests of this worker waiting for a server slot, oldest first */
  queue: QueueWaiter[];
  /** `stick on|match|store-request` rules, or null */
  stick: StickPersistence | null;
  /** the request header some server takes its SNI from (`sni req.hdr(NAME)`), or null */
  sniHeader: string | null;
  /** a hidden stats backend (src/stats/routed.ts): the key line every request to it carries; else null */
  statsKeyLine: string | null;
}

/** A request waiting in a backend's queue for a server slot (maxconn). */
export interface QueueWaiter {
  /** a slot may have freed: try again; false = still full (it stays queued) */
  retryFromQueue(): boolean;
}

/** A request waiting in a frontend's queue for a frontend/global maxconn slot. */
export interface AdmissionWaiter {
  /** a slot may have freed: try again; false = still full (it stays queued) */
  retryAdmission(): boolean;
}

/** A request in flight, whose deadlines the worker's ticker watches. */
export interface TimedRequest {
  /** ms epoch of the connect/queue/server deadline, 0 for none */
  deadline: number;
  /** ms epoch of the client inactivity deadline (timeout client), 0 for none */
  clientDeadline: number;
  onTimeout(): void;
  onClientTimeout(): void;
  /** while clientDeadline is set: keep the engine's own client timer from firing first */
  keepClientTimer(now: number): void;
}

export const KEY_NONE = 0;
export const KEY_SOURCE = 1;
export const KEY_URI = 2;
export const KEY_HDR = 3;

/**
 * Whether a request needs the client address as text: X-Forwarded-For, access logs, or a
 * `balance source` hash (each read is a getpeername(), so only then).
 */
export function needsClientAddress(fe: FrontendRuntime, be: BackendRuntime | null): boolean {
  return fe.cfg.forwardfor || fe.logs || (be !== null && (be.cfg.forwardfor || be.keyKind === KEY_SOURCE));
}

/**
 * The forwarded-for line of a request ('' for none): `option forwardfor` of the backend (whose
 * options win, as in HAProxy) or of the frontend. `except` spares clients of a network; `if_none`
 * spares requests that carry the header already (`headers`: the forwarded header lines).
 */
export function forwardedForLine(fe: FrontendRuntime, be: BackendRuntime | null, clientIp: string, headers: string): string {
  const cfg = be !== null && be.cfg.forwardfor ? be.cfg : fe.cfg.forwardfor ? fe.cfg : null;
  if (cfg === null) return '';
  const o = cfg.forwardforOptions;
  if (o === undefined) return 'x-forwarded-for: ' + clientIp + '\r\n';
  if (o.except !== null && clientIp !== '' && ipInNet(clientIp, o.except)) return '';
  if (o.ifNone && ('\n' + headers.toLowerCase()).includes('\n' + o.header + ':')) return '';
  return o.header + ': ' + clientIp + '\r\n';
}

/** What `be`'s balancer hashes for a request (null: its algorithm hashes nothing). */
export function balanceKey(be: BackendRuntime, clientIp: string, uri: string, hashHeader: string | null): string | null {
  const kind = be.keyKind;
  return kind === KEY_SOURCE ? clientIp : kind === KEY_URI ? uri : kind === KEY_HDR ? hashHeader : null;
}

export interface FrontendRuntime {
  index: number;
  cfg: FrontendConfig;
  row: number;
  backend: BackendRuntime | null;
  /** logging on for this frontend */
  logs: boolean;
  /** the port rules see as dst_port (the first bind's) */
  port: number;
  /** TLS frontend (all its binds are ssl): X-Forwarded-Proto https, ssl_fc true */
  tls: boolean;
  /** concurrent requests allowed through this frontend, all workers (frontend maxconn) */
  maxconn: number;
  /** requests of this worker waiting for a frontend or global maxconn slot, oldest first */
  queue: AdmissionWaiter[];
}

export interface ServerRuntime {
  index: number;
  backend: number;
  name: string;
  row: number;
  pool: ServerPool;
  maxconn: number;
  observe: boolean;
  observeL7: boolean;
}

export class WorkerRuntime {
  readonly index: ServerIndex;
  readonly rows: CounterRows;
  readonly backends: BackendRuntime[];
  readonly frontends: FrontendRuntime[];
  readonly servers: ServerRuntime[] = [];
  /** requests in flight, scanned by the ticker for timeouts */
  readonly active = new Set<TimedRequest>();
  readonly limits: RequestLimits;
  /** content routing (acl, use_backend, http-request/response rules); decisions are reused */
  readonly routing: RoutingTable;
  readonly decision = new Decision();
  readonly responseDecision = new Decision();
  readonly responseView = new ResponseView();
  /** errorfile / errorloc pages, or null when no proxy has one */
  readonly errorPages: ErrorPageTable | null;
  /** the worker is stopping: answers carry Connection: close */
  draining = false;
  /** new upstream connections per loop turn (connect-pacing.ts) */
  readonly pacer = new ConnectPacer();
  private readonly drainB = this.drainQueues.bind(this);
  private drainScheduled = false;

  /**
   * True when no server of `be` can take a request only because of maxconn: some usable
   * server is full and none is usable with a free slot (then a request queues, not 503s).
   */
  backendFull(be: BackendRuntime): boolean {
    const st = this.state;
    const servers = be.cfg.servers;
    for (let i = 0; i < servers.length; i++) {
      const max = servers[i].maxconn;
      const g = be.firstServer + i;
      if (max > 0 && st.usable(g) && Atomics.load(st.servers, g * SERVER_STRIDE + S_ACTIVE) >= max) return true;
    }
    return false;
  }

  readonly globalMaxconn: number;

  /**
   * Take a frontend and a global maxconn slot, or neither. HAProxy counts connections (it stops
   * accepting at maxconn); uWS 20.30 has no connection hooks, so gatehouse counts requests in
   * progress: an idle keep-alive connection holds no slot, a request beyond the limit waits.
   */
  admit(fe: FrontendRuntime): boolean {
    const st = this.state;
    const cell = fe.index * FRONTEND_STRIDE + F_ACTIVE;
    const f = Atomics.add(st.frontends, cell, 1);
    const g = Atomics.add(st.global, G_ACTIVE_CONN, 1);
    if (f >= fe.maxconn || g >= this.globalMaxconn) {
      Atomics.sub(st.frontends, cell, 1);
      Atomics.sub(st.global, G_ACTIVE_CONN, 1);
      return false;
    }
    this.slab[fe.row + C_ADMITTED]++;
    raiseMax(st.frontends, fe.index * FRONTEND_STRIDE + F_SMAX, f + 1);
    return true;
  }

  /** Give back what admit() took; waiting requests get their turn. */
  releaseAdmission(fe: FrontendRuntime): void {
    Atomics.sub(this.state.frontends, fe.index * FRONTEND_STRIDE + F_ACTIVE, 1);
    Atomics.sub(this.state.global, G_ACTIVE_CONN, 1);
    this.slab[fe.row + C_ADMITTED]--;
    if (this.admissionWaiting > 0) this.scheduleDrain();
  }

  /** requests of this worker waiting in frontend queues */
  admissionWaiting = 0;

  /** A slot freed: let queued requests try again once the current callback is over. */
  scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(this.drainB);
  }

  /** Oldest first; stop at the first that still finds every server full. Also run by the ticker. */
  drainQueues(): void {
    this.drainScheduled = false;
    if (this.admissionWaiting > 0) {
      for (const fe of this.frontends) {
        const q = fe.queue;
        while (q.length > 0) {
          const ex = q[0];
          if (!ex.retryAdmission()) break;
          if (q[0] === ex) q.shift();
        }
      }
    }
    for (const be of this.backends) {
      const q = be.queue;
      while (q.length > 0) {
        const ex = q[0];
        if (!ex.retryFromQueue()) break;
        // it left the queue when dispatched; make sure of progress whatever happened
        if (q[0] === ex) q.shift();
      }
    }
  }

  constructor(
    readonly config: Config,
    readonly state: SharedState,
    readonly slab: Float64Array,
    readonly workerId: number,
    readonly telemetry: WorkerTelemetry | null,
  ) {
    const g = config.global;
    this.limits = { maxHeaderSize: g.maxHeaderSize, maxHeaders: g.maxHeaders, maxUri: g.maxUri };
    this.routing = new RoutingTable(config);
    const pages = new ErrorPageTable(config);
    this.errorPages = pages.any ? pages : null;
    this.index = new ServerIndex(config);
    this.rows = counterRows(config);
    const balancers = createBalancers(config, state, this.index);
    const stick = compileStickPersistence(config);
    // Keep as many idle server connections as this worker's share of maxconn could need at
    // once, so a burst of concurrent clients does not churn connections (5,000 clients in
    // native-bench scenario f opened thousands per run with a cap of 1024).
    const idleCap = Math.max(256, Math.ceil(config.global.maxconn / Math.max(1, config.global.workers)));
    this.backends = config.backends.map((b, bi) => {
      const first = this.index.backendFirstServer[bi];
      const cookieServers = new Map<string, number>();
      b.servers.forEach((s, si) => {
        const g = first + si;
        if (s.cookie !== null) cookieServers.set(s.cookie, g);
        this.servers[g] = {
          index: g,
          backend: bi,
          name: s.name,
          row: serverRow(this.rows, g),
          pool: new ServerPool(g, s.host, s.port, idleCap, serverDialer(b.name, s, telemetry), s.sendProxy ?? 0, s.tls?.sni ?? null, dynamicAddress(s) ? state : null),
          maxconn: s.maxconn,
          observe: s.observe !== 'none',
          observeL7: s.observe === 'layer7',
        };
      });
      return {
        index: bi,
        cfg: b,
        balancer: balancers[bi],
        row: backendRow(this.rows, bi),
        firstServer: first,
        cookieServers,
        keyKind:
          b.balance === 'source' ? KEY_SOURCE : b.balance === 'uri' ? KEY_URI : b.balance === 'hdr' ? KEY_HDR : KEY_NONE,
        cookies: b.cookie === null ? null : new BackendCookies(b.cookie, state, first, b.servers, b.persist),
        hasMaxconn: b.servers.some((s) => s.maxconn > 0),
        queue: [],
        stick: stick[bi],
        sniHeader: sniHeaderOf(b.servers),
        statsKeyLine: b.internalStats === undefined ? null : `${STATS_KEY_HEADER}: ${b.internalStats.key}\r\n`,
      };
    });
    this.frontends = config.frontends.map((f, fi) => ({
      index: fi,
      cfg: f,
      row: frontendRow(fi),
      backend: f.defaultBackend === null ? null : this.backends[this.index.backendByName.get(f.defaultBackend)!],
      logs: f.logs.length > 0,
      port: f.binds.length > 0 ? f.binds[0].port : 0,
      tls: f.binds.length > 0 && f.binds[0].ssl,
      maxconn: f.maxconn,
      queue: [],
    }));
    this.globalMaxconn = config.global.maxconn;
  }
}

/** The TLS dialer of an ssl server (one per worker: its context and cached session), or null. */
export function serverDialer(backend: string, s: ServerConfig, telemetry: WorkerTelemetry | null): ServerTlsDialer | null {
  if (s.tls === undefined) return null;
  return new ServerTlsDialer(s.tls, `${backend}/${s.name}`, telemetry === null ? null : (text) => telemetry.serverWarning(text));
}

function sniHeaderOf(servers: ServerConfig[]): string | null {
  for (const s of servers) if (s.tls !== undefined && s.tls.sni !== null && s.tls.sni.kind === 'hdr') return s.tls.sni.name;
  return null;
}
