// Access-log line formats: HAProxy's `option httplog`, its default (tcp-style) format when
// httplog is off, and a JSON object per line. Runs in the worker for every logged request:
// plain string building, a per-millisecond date cache, no per-request objects beyond the line.
// The lines the workers write to files themselves are built as bytes by line-bytes.ts, which
// must stay byte for byte equal to these (test/log.test.ts compares them).

/** Filled by the worker for each finished request (reused object; see WorkerTelemetry). */
export interface RequestRecord {
  clientIp: string;
  clientPort: number;
  /** epoch ms the request head arrived */
  acceptMs: number;
  frontend: number;
  /** -1 none */
  backend: number;
  /** global server index, -1 none */
  server: number;
  /** ms, -1 when not reached (HAProxy semantics) */
  tq: number;
  tw: number;
  tc: number;
  tr: number;
  ta: number;
  status: number;
  bytesOut: number;
  bytesIn: number;
  retries: number;
  /** HAProxy's 2-char termination state, e.g. '--', 'SC', 'sH', 'CD' */
  termination: string;
  method: string;
  uri: string;
  httpVersion: string;
  /** the session's addresses (%fi %fp %bi %bp %si %sp): mode tcp sessions fill them; absent: '-' */
  addrs?: SessionAddresses;
}

export interface SessionAddresses {
  /** the address and port the client connected to */
  frontendIp: string;
  frontendPort: number;
  /** our side of the server connection ('' / 0 while none) */
  backendIp: string;
  backendPort: number;
  /** the server's address ('' / 0 while none) */
  serverIp: string;
  serverPort: number;
}

/** Connection/queue gauges shown in the log line (%ac/%fc/%bc/%sc %sq/%bq). */
export interface LogGauges {
  actconn: number;
  feconn: number;
  beconn: number;
  srvConn: number;
  srvQueue: number;
  backendQueue: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}
function pad3(n: number): string {
  return n < 10 ? '00' + n : n < 100 ? '0' + n : '' + n;
}

let cachedSecond = -1;
let cachedPrefix = '';
let cachedMs = -1;
let cachedDate = '';

/** HAProxy's log date, local time: 06/Feb/2009:12:14:14.655 (built once per millisecond) */
export function logDate(ms: number): string {
  if (ms === cachedMs) return cachedDate;
  const sec = Math.floor(ms / 1000);
  if (sec !== cachedSecond) {
    const d = new Date(sec * 1000);
    cachedPrefix =
      pad2(d.getDate()) + '/' + MONTHS[d.getMonth()] + '/' + d.getFullYear() + ':' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) + '.';
    cachedSecond = sec;
  }
  cachedDate = cachedPrefix + pad3(ms - sec * 1000);
  cachedMs = ms;
  return cachedDate;
}

const UNSAFE = /[\x00-\x1f"\x7f]/;
const UNSAFE_G = /[\x00-\x1f"\x7f]/g;

/** HAProxy escapes non-printable characters and the quote of a logged field as #XX. */
export function escapeField(s: string): string {
  if (!UNSAFE.test(s)) return s;
  return s.replace(UNSAFE_G, (c) => '#' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** Timers are measured in fractional ms; HAProxy logs whole ms, -1 for a step never reached. */
function ms(t: number): number {
  return t < 0 ? -1 : Math.round(t);
}

function version(v: string): string {
  return v.startsWith('HTTP/') ? v : 'HTTP/' + v;
}

function requestLine(r: RequestRecord): string {
  if (r.method === '') return '<BADREQ>';
  return escapeField(r.method) + ' ' + escapeField(r.uri) + ' ' + escapeField(version(r.httpVersion));
}

function termination(t: string): string {
  // The last two characters are the persistence-cookie flags, which gatehouse does not report yet.
  return t.length >= 4 ? t : (t + '----').slice(0, 4);
}

export interface Names {
  frontend: string;
  /** '<NOSRV>'-style placeholders are applied by the caller */
  backend: string;
  server: string;
}

/**
 * option httplog:
 * %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
 */
export function formatHttplog(r: RequestRecord, n: Names, g: LogGauges): string {
  return (
    r.clientIp + ':' + r.clientPort + ' [' + logDate(r.acceptMs) + '] ' + n.frontend + ' ' +
    n.backend + '/' + n.server + ' ' +
    ms(r.tq) + '/' + ms(r.tw) + '/' + ms(r.tc) + '/' + ms(r.tr) + '/' + ms(r.ta) + ' ' +
    r.status + ' ' + r.bytesOut + ' - - ' + termination(r.termination) + ' ' +
    g.actconn + '/' + g.feconn + '/' + g.beconn + '/' + g.srvConn + '/' + r.retries + ' ' +
    g.srvQueue + '/' + g.backendQueue + ' "' + requestLine(r) + '"'
  );
}

/**
 * HAProxy's default format (httplog off):
 * %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
 */
export function formatDefault(r: RequestRecord, n: Names, g: LogGauges): string {
  return (
    r.clientIp + ':' + r.clientPort + ' [' + logDate(r.acceptMs) + '] ' + n.frontend + ' ' +
    n.backend + '/' + n.server + ' ' + ms(r.tw) + '/' + ms(r.tc) + '/' + ms(r.ta) + ' ' + r.bytesOut + ' ' +
    (r.termination.length >= 2 ? r.termination.slice(0, 2) : '--') + ' ' +
    g.actconn + '/' + g.feconn + '/' + g.beconn + '/' + g.srvConn + '/' + r.retries + ' ' +
    g.srvQueue + '/' + g.backendQueue
  );
}

/** One JSON object per line; field names follow HAProxy's log variable descriptions. */
export function formatJson(r: RequestRecord, n: Names, g: LogGauges): string {
  return (
    '{"client_ip":' + JSON.stringify(r.clientIp) +
    ',"client_port":' + r.clientPort +
    ',"accept_date":"' + logDate(r.acceptMs) + '"' +
    ',"accept_ms":' + r.acceptMs +
    ',"frontend_name":' + JSON.stringify(n.frontend) +
    ',"backend_name":' + JSON.stringify(n.backend) +
    ',"server_name":' + JSON.stringify(n.server) +
    ',"time_request":' + ms(r.tq) +
    ',"time_queue":' + ms(r.tw) +
    ',"time_connect":' + ms(r.tc) +
    ',"time_response":' + ms(r.tr) +
    ',"time_active":' + ms(r.ta) +
    ',"status_code":' + r.status +
    ',"bytes_read":' + r.bytesOut +
    ',"bytes_uploaded":' + r.bytesIn +
    ',"termination_state":' + JSON.stringify(termination(r.termination)) +
    ',"actconn":' + g.actconn +
    ',"feconn":' + g.feconn +
    ',"beconn":' + g.beconn +
    ',"srv_conn":' + g.srvConn +
    ',"retries":' + r.retries +
    ',"srv_queue":' + g.srvQueue +
    ',"backend_queue":' + g.backendQueue +
    ',"http_method":' + JSON.stringify(r.method) +
    ',"http_uri":' + JSON.stringify(r.uri) +
    ',"http_version":' + JSON.stringify(r.method === '' ? '' : version(r.httpVersion)) +
    '}'
  );
}
