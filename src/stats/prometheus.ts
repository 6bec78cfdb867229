// Prometheus text exposition (format 0.0.4) with the metric names of HAProxy's built-in
// exporter (haproxy_frontend_*, haproxy_backend_*, haproxy_server_*), plus gatehouse_* latency
// histograms and summaries from the merged HDR data.
import type { Histogram } from 'hdr-histogram-js';
import { CHECK_STATUS_NAMES } from '../shared/state';
import type { CsvColumn, StatsRow } from './columns';
import { cumulativeCounts, histMean } from './histograms';
import type { Snapshot } from './snapshot';
import { gatehouseVersion } from './version';

type Labels = [string, string][];
type MetricType = 'gauge' | 'counter' | 'histogram' | 'summary';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Exposition {
  private out = '';
  family(name: string, type: MetricType, help: string): void {
    this.out += `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
  }
  sample(name: string, labels: Labels, value: number): void {
    let l = '';
    if (labels.length) l = '{' + labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',') + '}';
    this.out += `${name}${l} ${fmt(value)}\n`;
  }
  text(): string {
    return this.out;
  }
}

interface Def {
  col: CsvColumn;
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  /** converts the CSV unit (ms) to seconds */
  ms?: boolean;
}

const d = (col: CsvColumn, name: string, type: 'gauge' | 'counter', help: string, ms = false): Def => ({ col, name, type, help, ms });

const FRONTEND: Def[] = [
  d('scur', 'current_sessions', 'gauge', 'Number of current sessions on the frontend.'),
  d('smax', 'max_sessions', 'gauge', 'Highest value of current sessions encountered since process started.'),
  d('slim', 'limit_sessions', 'gauge', 'Frontend/listener/server\'s maxconn, backend\'s fullconn.'),
  d('stot', 'sessions_total', 'counter', 'Total number of sessions since process started.'),
  d('bin', 'bytes_in_total', 'counter', 'Total number of request bytes since process started.'),
  d('bout', 'bytes_out_total', 'counter', 'Total number of response bytes since process started.'),
  d('dreq', 'requests_denied_total', 'counter', 'Total number of denied requests since process started.'),
  d('dresp', 'responses_denied_total', 'counter', 'Total number of denied responses since process started.'),
  d('ereq', 'request_errors_total', 'counter', 'Total number of invalid requests since process started.'),
  d('rate_lim', 'limit_session_rate', 'gauge', 'Limit on the number of sessions accepted in a second (frontend only, \'rate-limit sessions\' setting).'),
  d('rate_max', 'max_session_rate', 'gauge', 'Highest value of sessions per second observed since the worker process started.'),
  d('req_rate_max', 'http_requests_rate_max', 'gauge', 'Highest value of http requests observed since the worker process started.'),
  d('req_tot', 'http_requests_total', 'counter', 'Total number of HTTP requests processed by this object since the worker process started.'),
  d('conn_rate_max', 'connections_rate_max', 'gauge', 'Highest value of connections per second observed since the worker process started.'),
  d('conn_tot', 'connections_total', 'counter', 'Total number of new connections accepted on this frontend since the worker process started.'),
  d('intercepted', 'intercepted_requests_total', 'counter', 'Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started.'),
  d('dcon', 'denied_connections_total', 'counter', 'Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started.'),
  d('dses', 'denied_sessions_total', 'counter', 'Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started.'),
  d('wrew', 'failed_header_rewriting_total', 'counter', 'Total number of failed HTTP header rewrites since the worker process started.'),
  d('eint', 'internal_errors_total', 'counter', 'Total number of internal errors since process started.'),
];

const UPSTREAM: Def[] = [
  d('qcur', 'current_queue', 'gauge', 'Number of current queued connections.'),
  d('qmax', 'max_queue', 'gauge', 'Highest value of queued connections encountered since process started.'),
  d('scur', 'current_sessions', 'gauge', 'Number of current sessions on the frontend, backend or server.'),
  d('smax', 'max_sessions', 'gauge', 'Highest value of current sessions encountered since process started.'),
  d('slim', 'limit_sessions', 'gauge', 'Frontend/listener/server\'s maxconn, backend\'s fullconn.'),
  d('stot', 'sessions_total', 'counter', 'Total number of sessions since process started.'),
  d('bin', 'bytes_in_total', 'counter', 'Total number of request bytes since process started.'),
  d('bout', 'bytes_out_total', 'counter', 'Total number of response bytes since process started.'),
  d('dreq', 'requests_denied_total', 'counter', 'Total number of denied requests since process started.'),
  d('dresp', 'responses_denied_total', 'counter', 'Total number of denied responses since process started.'),
  d('econ', 'connection_errors_total', 'counter', 'Total number of failed connections to server since the worker process started.'),
  d('eresp', 'response_errors_total', 'counter', 'Total number of invalid responses since the worker process started.'),
  d('wretr', 'retry_warnings_total', 'counter', 'Total number of server connection retries since the worker process started.'),
  d('wredis', 'redispatch_warnings_total', 'counter', 'Total number of server redispatches due to connection failures since the worker process started.'),
  d('weight', 'weight', 'gauge', 'Server\'s effective weight, or sum of active servers\' effective weights for a backend.'),
  d('act', 'active_servers', 'gauge', 'Total number of active UP servers with a non-zero weight.'),
  d('bck', 'backup_servers', 'gauge', 'Total number of backup UP servers with a non-zero weight.'),
  d('chkfail', 'check_failures_total', 'counter', 'Total number of failed individual health checks per server/backend, since the worker process started.'),
  d('chkdown', 'check_up_down_total', 'counter', 'Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started.'),
  d('lastchg', 'check_last_change_seconds', 'gauge', 'How long ago the last server state changed, in seconds.'),
  d('downtime', 'downtime_seconds_total', 'counter', 'Total time spent in DOWN state, for server or backend.'),
  d('lbtot', 'loadbalanced_total', 'counter', 'Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness).'),
  d('rate_max', 'max_session_rate', 'gauge', 'Highest value of sessions per second observed since the worker process started.'),
  d('check_code', 'check_code', 'gauge', 'HTTP status code of the last health check, 0 if none.'),
  d('check_duration', 'check_duration_seconds', 'gauge', 'Total duration of the latest server health check, in seconds.', true),
  d('req_tot', 'http_requests_total', 'counter', 'Total number of HTTP requests processed by this object since the worker process started.'),
  d('cli_abrt', 'client_aborts_total', 'counter', 'Total number of requests or connections aborted by the client since the worker process started.'),
  d('srv_abrt', 'server_aborts_total', 'counter', 'Total number of requests or connections aborted by the server since the worker process started.'),
  d('lastsess', 'last_session_seconds', 'gauge', 'How long ago some traffic was seen on this object on this worker process, in seconds.'),
  d('qtime', 'queue_time_average_seconds', 'gauge', 'Average queue time, in seconds.', true),
  d('ctime', 'connect_time_average_seconds', 'gauge', 'Average connect time, in seconds.', true),
  d('rtime', 'response_time_average_seconds', 'gauge', 'Average response time, in seconds.', true),
  d('ttime', 'total_time_average_seconds', 'gauge', 'Average total time, in seconds.', true),
  d('ttime_max', 'max_total_time_seconds', 'gauge', 'Maximum observed total request+response time, in seconds.', true),
  d('wrew', 'failed_header_rewriting_total', 'counter', 'Total number of failed HTTP header rewrites since the worker process started.'),
  d('eint', 'internal_errors_total', 'counter', 'Total number of internal errors since process started.'),
  d('uweight', 'uweight', 'gauge', 'Server\'s user weight, or sum of active servers\' user weights for a backend.'),
];

const CODES: [CsvColumn, string][] = [
  ['hrsp_1xx', '1xx'], ['hrsp_2xx', '2xx'], ['hrsp_3xx', '3xx'], ['hrsp_4xx', '4xx'], ['hrsp_5xx', '5xx'], ['hrsp_other', 'other'],
];

const SERVER_STATES = ['DOWN', 'UP', 'MAINT', 'DRAIN', 'NOLB'] as const;

/** Histogram bucket upper bounds, seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const QUANTILES: [string, number][] = [['0.5', 50], ['0.9', 90], ['0.99', 99], ['0.999', 99.9]];

interface Item {
  labels: Labels;
  row: StatsRow;
}

function numeric(v: string | number | undefined): number | null {
  if (v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

function emitDefs(e: Exposition, prefix: string, defs: Def[], items: Item[]): void {
  for (const def of defs) {
    const present = items.filter((it) => numeric(it.row[def.col]) !== null);
    if (present.length === 0) continue;
    const name = `${prefix}_${def.name}`;
    e.family(name, def.type, def.help);
    for (const it of present) {
      const v = numeric(it.row[def.col])!;
      e.sample(name, it.labels, def.ms ? v / 1000 : v);
    }
  }
  // tcp proxies have no HTTP responses (their hrsp_* cells are empty): no samples, as HAProxy's exporter
  const http = items.filter((it) => it.row.mode !== 'tcp');
  if (http.length === 0) return;
  const name = `${prefix}_http_responses_total`;
  e.family(name, 'counter', 'Total number of HTTP responses by status class returned by this object since the worker process started.');
  for (const it of http) for (const [col, code] of CODES) e.sample(name, [...it.labels, ['code', code]], numeric(it.row[col]) ?? 0);
}

function emitLatency(e: Exposition, prefix: string, what: string, items: { labels: Labels; hist: Histogram | null }[]): void {
  const withData = items.filter((i) => i.hist && i.hist.totalCount > 0);
  const hname = `gatehouse_${prefix}_request_duration_seconds`;
  e.family(hname, 'histogram', `Total time of requests (HAProxy Ta) per ${what}, from HDR histograms merged across workers.`);
  const boundsUs = LATENCY_BUCKETS.map((s) => Math.round(s * 1e6));
  for (const it of withData) {
    const h = it.hist!;
    const counts = cumulativeCounts(h, boundsUs);
    LATENCY_BUCKETS.forEach((b, k) => e.sample(`${hname}_bucket`, [...it.labels, ['le', String(b)]], counts[k]));
    e.sample(`${hname}_bucket`, [...it.labels, ['le', '+Inf']], h.totalCount);
    e.sample(`${hname}_sum`, it.labels, (histMean(h) * h.totalCount) / 1e6);
    e.sample(`${hname}_count`, it.labels, h.totalCount);
  }
  const sname = `gatehouse_${prefix}_request_duration_quantiles_seconds`;
  e.family(sname, 'summary', `Percentiles (p50, p90, p99, p99.9) of the total time of requests per ${what}, since start.`);
  for (const it of withData) {
    const h = it.hist!;
    const mean = histMean(h);
    for (const [q, p] of QUANTILES) e.sample(sname, [...it.labels, ['quantile', q]], h.getValueAtPercentile(p) / 1e6);
    e.sample(`${sname}_sum`, it.labels, (mean * h.totalCount) / 1e6);
    e.sample(`${sname}_count`, it.labels, h.totalCount);
  }
}

export function renderPrometheus(s: Snapshot, hideVersion: boolean): string {
  const e = new Exposition();
  e.family('haproxy_process_start_time_seconds', 'gauge', 'Start time in seconds.');
  e.sample('haproxy_process_start_time_seconds', [], s.startedSec);
  e.family('haproxy_process_uptime_seconds', 'gauge', 'How long ago this worker process was started (seconds).');
  e.sample('haproxy_process_uptime_seconds', [], s.uptimeSec);
  e.family('haproxy_process_nbthread', 'gauge', 'Number of started threads (global.nbthread).');
  e.sample('haproxy_process_nbthread', [], s.workers);
  if (!hideVersion) {
    e.family('haproxy_process_build_info', 'gauge', 'Build info.');
    e.sample('haproxy_process_build_info', [['version', 'gatehouse-' + gatehouseVersion()]], 1);
  }

  const fe: Item[] = s.frontends.map((f) => ({ labels: [['proxy', f.name]], row: f.row }));
  e.family('haproxy_frontend_status', 'gauge', 'Current status of the service, per state label value.');
  for (const it of fe) for (const st of ['DOWN', 'UP']) e.sample('haproxy_frontend_status', [...it.labels, ['state', st]], st === 'UP' ? 1 : 0);
  emitDefs(e, 'haproxy_frontend', FRONTEND, fe);

  const be: Item[] = s.backends.map((b) => ({ labels: [['proxy', b.name]], row: b.row }));
  e.family('haproxy_backend_status', 'gauge', 'Current status of the service, per state label value.');
  for (const b of s.backends)
    for (const st of ['DOWN', 'UP']) e.sample('haproxy_backend_status', [['proxy', b.name], ['state', st]], b.status === st ? 1 : 0);
  emitDefs(e, 'haproxy_backend', UPSTREAM.filter((x) => !['chkfail', 'check_code', 'check_duration'].includes(x.col)), be);

  const servers = s.backends.flatMap((b) => b.servers.map((sv) => ({ b, sv })));
  const sv: Item[] = servers.map(({ b, sv }) => ({ labels: [['proxy', b.name], ['server', sv.name]], row: sv.row }));
  e.family('haproxy_server_status', 'gauge', 'Current status of the service, per state label value.');
  for (const { b, sv: v } of servers) {
    // HAProxy's exporter: MAINT wins, DRAIN is an UP server taking no new traffic, 'no check' is UP.
    const state = v.statusClass === 'maint' ? 'MAINT' : v.statusClass === 'drain' ? 'DRAIN' : v.statusClass === 'down' || v.statusClass === 'going-up' ? 'DOWN' : 'UP';
    for (const st of SERVER_STATES) e.sample('haproxy_server_status', [['proxy', b.name], ['server', v.name], ['state', st]], st === state ? 1 : 0);
  }
  const checked = servers.filter(({ sv: v }) => v.row.check_status !== '');
  if (checked.length) {
    e.family('haproxy_server_check_status', 'gauge', 'Status of last health check, per state label value.');
    for (const { b, sv: v } of checked)
      for (const name of CHECK_STATUS_NAMES)
        if (name !== '') e.sample('haproxy_server_check_status', [['proxy', b.name], ['server', v.name], ['state', name]], v.row.check_status === name ? 1 : 0);
  }
  emitDefs(e, 'haproxy_server', UPSTREAM.filter((x) => !['dreq', 'act', 'bck', 'req_tot'].includes(x.col)).concat([
    d('act', 'active_servers', 'gauge', 'Total number of active UP servers with a non-zero weight.'),
    d('bck', 'backup_servers', 'gauge', 'Total number of backup UP servers with a non-zero weight.'),
  ]), sv);

  // stick tables: HAProxy's exporter has size and used; the rest are gatehouse's own
  const tables = s.tables ?? [];
  if (tables.length) {
    const tl = (t: (typeof tables)[number]): Labels => [['name', t.name], ['type', t.type]];
    const fam: [string, 'gauge' | 'counter', string, (t: (typeof tables)[number]) => number][] = [
      ['haproxy_sticktable_size', 'gauge', 'Stick table size.', (t) => t.size],
      ['haproxy_sticktable_used', 'gauge', 'Number of entries used in this stick table.', (t) => t.used],
      ['gatehouse_sticktable_refused_total', 'counter', 'New entries refused because the table was full (nopurge).', (t) => t.refused],
      ['gatehouse_sticktable_evicted_total', 'counter', 'Entries evicted to make room for new ones.', (t) => t.evicted],
      ['gatehouse_sticktable_bad_keys_total', 'counter', 'Samples that could not be a key of the table type.', (t) => t.badKeys],
      ['gatehouse_sticktable_lock_contended_total', 'counter', 'Table lock acquisitions that had to wait for another thread.', (t) => t.contended],
      ['gatehouse_sticktable_learned_total', 'counter', 'Entry updates learned from peers.', (t) => t.learned],
    ];
    for (const [name, type, help, get] of fam) {
      e.family(name, type, help);
      for (const t of tables) e.sample(name, tl(t), get(t));
    }
  }

  emitLatency(e, 'frontend', 'frontend', s.frontends.map((f) => ({ labels: [['proxy', f.name]] as Labels, hist: f.hist })));
  emitLatency(e, 'backend', 'backend', s.backends.map((b) => ({ labels: [['proxy', b.name]] as Labels, hist: b.hist })));
  emitLatency(e, 'server', 'server', servers.map(({ b, sv: v }) => ({ labels: [['proxy', b.name], ['server', v.name]] as Labels, hist: v.hist })));
  return e.text();
}
