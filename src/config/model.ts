// The validated configuration model. Both readers (YAML and haproxy.cfg) produce exactly this;
// everything downstream (primary, workers, health thread, stats) reads only this.
// Durations are milliseconds. Plain data only: it is structured-cloned to worker threads.

import type { IpNet } from '../acl/ip';
import type { StickConfig, StickPersistRule, StickRule } from '../stick/model';

export type BalanceAlgorithm =
  | 'roundrobin'
  | 'static-rr'
  | 'leastconn'
  | 'source'
  | 'first'
  | 'random'
  | 'uri'
  | 'hdr';

export interface Timeouts {
  connect: number;
  client: number;
  server: number;
  httpRequest: number;
  httpKeepAlive: number;
  check: number;
  queue: number;
  tunnel: number;
  /** `timeout client-fin` / `server-fin` (mode tcp, half-closed sides); absent = not set */
  clientFin?: number;
  serverFin?: number;
}

export interface LogTarget {
  /** stdout | stderr | file:PATH | udp://HOST:PORT | unix:PATH (as written by the user) */
  target: string;
  facility: string;
  /** syslog severity ceiling, e.g. info */
  level: string;
  format: 'rfc3164' | 'rfc5424' | 'raw';
}

/** `stats socket PATH [mode M] [level L]`: HAProxy's runtime API on a unix socket (src/stats/cli.ts). */
export interface StatsSocketConfig {
  path: string;
  /** file permissions (octal as written, e.g. 660), null: the umask decides */
  mode: number | null;
  /** user: read only; operator (HAProxy's default): read only here too; admin: server changes */
  level: 'user' | 'operator' | 'admin';
}

export interface GlobalConfig {
  workers: number;
  daemon: boolean;
  pidfile: string | null;
  maxconn: number;
  /** maxconn was written in the config (else it is the default, lowered quietly to fit the fd limit) */
  maxconnSet?: boolean;
  logs: LogTarget[];
  /** max bytes of a request head (HAProxy tune.bufsize-like) */
  maxHeaderSize: number;
  /** max header fields in a request (HAProxy tune.http.maxhdr) */
  maxHeaders: number;
  /** node engine and mode tcp: connections accepted per bind and wake-up (tune.maxaccept; -1: no limit) */
  maxAccept: number;
  /** max bytes of a request target (path and query); by default max_header_size (HAProxy) */
  maxUri: number;
  /** grace period on SIGTERM/SIGINT before in-flight requests are cut */
  gracePeriod: number;
  /** the front engine of binds that name none (gatehouse-only: `engine uws|node`) */
  engine: 'uws' | 'node';
  /** `ssl-default-bind-ciphers`: the cipher list of ssl binds without their own, or null */
  sslDefaultBindCiphers: string | null;
  /** `ssl-default-bind-ciphersuites`: the TLSv1.3 suites of ssl binds without their own (node engine) */
  sslDefaultBindCiphersuites?: string | null;
  /** `ssl-default-bind-options` as written (words such as no-tls-tickets, ssl-min-ver TLSv1.2) */
  sslDefaultBindOptions?: string | null;
  /** runtime API sockets (`stats socket`) */
  statsSockets: StatsSocketConfig[];
  /** `stats timeout`: how long a runtime API connection may stay idle */
  statsTimeout: number;
  /** tune.h2.*: HTTP/2 settings of `proto h2` binds; absent: HAProxy's defaults (H2_DEFAULTS) */
  h2?: H2Settings;
}

/** What gatehouse announces in its HTTP/2 SETTINGS frame (HAProxy's tune.h2.* globals). */
export interface H2Settings {
  /** tune.h2.max-concurrent-streams: streams a client may have open at once per connection */
  maxConcurrentStreams: number;
  /** tune.h2.initial-window-size: each stream's receive window, bytes */
  initialWindowSize: number;
  /** tune.h2.header-table-size: the HPACK dynamic table, bytes */
  headerTableSize: number;
}

/** HAProxy 2.6's defaults. */
export const H2_DEFAULTS: H2Settings = { maxConcurrentStreams: 100, initialWindowSize: 65535, headerTableSize: 4096 };

export interface BindAddress {
  /** '0.0.0.0' for '*', '::' for any v6, otherwise a literal address or host name */
  host: string;
  port: number;
  /** as written, for messages */
  text: string;
  /** TLS termination on this address (`bind ... ssl crt ...`) */
  ssl: boolean;
  /**
   * Combined PEM files (certificate chain + private key), in load order; a `crt` directory is
   * expanded to its *.pem files, sorted. The first one is the default certificate (no SNI or no
   * match). Empty when !ssl.
   */
  certs: string[];
  /** `ssl-min-ver` as written (SSLv3, TLSv1.0 .. TLSv1.3), or null */
  sslMinVer: string | null;
  /**
   * OpenSSL cipher list for TLSv1.2 (`ciphers`, else global `ssl-default-bind-ciphers`), or
   * null for uWebSockets.js's default. TLSv1.3 suites are not configurable in uWS.
   */
  ciphers: string | null;
  /**
   * The front engine for this address: 'uws' (uWebSockets.js) or 'node' (gatehouse's own on
   * node:net, src/front-node/); null: global.engine. TLS binds run on uWS.
   */
  engine: 'uws' | 'node' | null;
  /**
   * `accept-proxy`: a PROXY protocol v1/v2 header precedes each connection (before the TLS
   * handshake on an ssl bind); such a bind runs on the node engine (`engine uws` with it: an error)
   */
  acceptProxy: boolean;
  /** `proto h2`: clients speak HTTP/2 with prior knowledge (h2c; node engine); absent: HTTP/1.x */
  proto?: 'h2';
  /** the TLS settings only the node engine can apply (node:tls); set on ssl binds only */
  tlsOpts?: BindTlsOptions;
}

/** One certificate of a `crt-list` file. */
export interface CrtListEntry {
  /** the combined PEM (absolute path) */
  file: string;
  /** SNI names it serves (wildcards allowed); empty: the names of the certificate itself */
  filters: string[];
  /** names it must not serve (`!name` filters) */
  excluded: string[];
}

/** A TLS bind's settings beyond what uWebSockets.js 20.30 offers (src/front-node/tls-context.ts). */
export interface BindTlsOptions {
  /** `ssl-max-ver` (or what no-tlsv13 / force-tlsv12 leave), null: TLSv1.3 */
  sslMaxVer: string | null;
  /** TLSv1.3 suites (`ciphersuites`, else global ssl-default-bind-ciphersuites), null: OpenSSL's */
  ciphersuites: string | null;
  /** `curves`: ECDHE groups, colon-separated (X25519:P-256), null: OpenSSL's */
  curves: string | null;
  /** `strict-sni`: refuse a handshake without an SNI name some certificate serves */
  strictSni: boolean;
  /** `alpn` protocols in the server's order of preference, null: no ALPN */
  alpn: string[] | null;
  /** `verify`: client certificates (none: not asked for) */
  verify: 'none' | 'optional' | 'required';
  /** `ca-file`: the CAs client certificates must chain to */
  caFile: string | null;
  /** `crl-file`: revoked client certificates */
  crlFile: string | null;
  /** session tickets (`no-tls-tickets` turns them off) */
  tlsTickets: boolean;
  /** `prefer-client-ciphers`: the client's cipher order wins (node engine; uWS keeps its own) */
  preferClientCiphers?: boolean;
  /** `crt-list` entries after the `crt` certificates, in list order */
  crtList: CrtListEntry[];
}

export interface StatsConfig {
  enable: boolean;
  uri: string;
  /** user:password pairs */
  auth: { user: string; password: string }[];
  realm: string;
  /** ms, 0 = no auto refresh */
  refresh: number;
  hideVersion: boolean;
  admin: boolean;
  /** path of the Prometheus exposition, or null */
  prometheus: string | null;
}

/** `option forwardfor except NET header NAME if-none`: absent when none of them is given. */
export interface ForwardForOptions {
  /** the header to add, lower case (HAProxy's default x-forwarded-for) */
  header: string;
  /** clients in this network get no header */
  except: IpNet | null;
  /** add it only when the request has none already */
  ifNone: boolean;
}

/** A custom error page (errorfile / errorloc): what is sent instead of the built-in page for a status. */
export interface CustomErrorPage {
  /** the status sent (an errorfile's own status line; 302/303 for errorloc) */
  status: number;
  reason: string;
  /** flat [name, value, ...], lower-case names; no Content-Length (the writer sets it) */
  headers: string[];
  body: string;
}

export interface FrontendConfig {
  name: string;
  /** true when this frontend came from a `listen` section */
  fromListen: boolean;
  binds: BindAddress[];
  defaultBackend: string | null;
  mode: 'http' | 'tcp';
  timeouts: Timeouts;
  maxconn: number;
  forwardfor: boolean;
  forwardforOptions?: ForwardForOptions;
  httplog: boolean;
  logFormat: 'httplog' | 'json';
  /** a HAProxy log-format string (src/log/custom-format.ts); when set, it replaces logFormat/httplog */
  logFormatCustom?: string;
  dontlognull: boolean;
  /** inherits global logs unless the section sets its own */
  logs: LogTarget[];
  stats: StatsConfig | null;
  /**
   * The frontend also proxies (default_backend, use_backend, a listen's servers): its binds are
   * served by the workers, which send requests for the stats uri to the primary's internal
   * stats listener (src/stats/routed.ts). Absent: a stats-only frontend, served by the primary.
   */
  statsRouted?: boolean;
  /** set by the primary at start (routed.ts): the hidden backend that reaches this proxy's stats page */
  statsTarget?: string;
  /** acl / use_backend / http-request / http-response / redirect; absent when the section has none */
  rules?: ProxyRules;
  /** `option tcplog` (mode tcp) */
  tcplog?: boolean;
  /** tcp-request lines; absent when none */
  tcpRequest?: TcpRequestRules;
  /** errorfile / errorloc pages by status; absent when none (src/rules/error-table.ts looks them up) */
  errorPages?: Record<string, CustomErrorPage>;
}

// ---- content routing (src/acl, src/rules compile these once per worker) ----

export type AclMatch = 'str' | 'beg' | 'end' | 'sub' | 'reg' | 'dir' | 'dom' | 'len' | 'found' | 'int' | 'ip' | 'bool';
export type IntOperator = 'eq' | 'ge' | 'gt' | 'le' | 'lt';

/** One ACL criterion: `<fetch>[(<arg>)] [-i] [-m <match>] [<operator>] <value> ...` (values are ORed). */
export interface AclTest {
  /**
   * Canonical fetch: path, url, query, url_param, req.hdr, req.fhdr, req.hdr_cnt, req.fhdr_cnt,
   * req.hdr_val, res.hdr, res.fhdr, res.hdr_cnt, res.fhdr_cnt, res.hdr_val, status, method, src,
   * dst_port, req.ver, ssl_fc, always_true, always_false, var.
   */
  fetch: string;
  /** header name (lower case), URL parameter name or variable name; '' when the fetch takes none */
  arg: string;
  /** converters applied to the sample before matching (`hdr(host),lower,map_str(f) -m found`) */
  conv?: SampleConv[];
  match: AclMatch;
  icase: boolean;
  /** for int/len matches; 'eq' otherwise */
  op: IntOperator;
  /** patterns as written (after -f files are read) */
  values: string[];
}

/** `acl NAME ...` lines of one section; several lines with one name are ORed. */
export interface AclDefinition {
  name: string;
  tests: AclTest[];
}

/** `[!]name` or `[!]{ anonymous test }` */
export interface AclTerm {
  negate: boolean;
  /** a named ACL (the section's own, else a predefined one); null for an anonymous one */
  name: string | null;
  /** the anonymous ACL's tests (several when `-i` splits the patterns), or null */
  tests: AclTest[] | null;
}

/** `if|unless` + a disjunction (`||` / `or`) of conjunctions (implicit AND). */
export interface AclCondition {
  unless: boolean;
  or: AclTerm[][];
}

/** A log-format string (`%[fetch(arg),lower]` parts between literal text). */
/** A sample converter (src/acl/convert.ts): `map_beg(/etc/hosts.map,default)` etc. */
export interface SampleConv {
  name: string;
  args: string[];
  /** map converters: the file's [key, value, key, value, ...], read at load time */
  map?: string[];
}

export type FormatPart = { kind: 'lit'; text: string } | { kind: 'fetch'; fetch: string; arg: string; conv: SampleConv[] };

/** Response built by deny / return rules. */
export interface ReplySpec {
  status: number;
  /** true: HAProxy's built-in error page for `status` (deny's default) */
  errorPage: boolean;
  contentType: string | null;
  /** null: no payload */
  body: FormatPart[] | null;
  headers: { name: string; value: FormatPart[] }[];
}

export interface RedirectSpec {
  type: 'location' | 'prefix' | 'scheme';
  value: FormatPart[];
  code: 301 | 302 | 303 | 307 | 308;
  dropQuery: boolean;
  appendSlash: boolean;
  /** `NAME[=value]` to set, or null */
  setCookie: string | null;
  /** `NAME[=]` to clear, or null */
  clearCookie: string | null;
  /** skip the rule when the location evaluates to '' */
  ignoreEmpty: boolean;
}

export type HeaderNameMatch = 'str' | 'beg' | 'end' | 'sub' | 'reg';

export type HttpRule = { cond: AclCondition | null } & (
  | { action: 'allow' }
  | { action: 'deny' | 'return'; reply: ReplySpec }
  | { action: 'redirect'; redirect: RedirectSpec }
  | { action: 'set-header' | 'add-header'; name: string; value: FormatPart[] }
  | { action: 'del-header'; name: string; match: HeaderNameMatch }
  | { action: 'replace-header'; name: string; regex: string; replace: FormatPart[] }
  | { action: 'set-path'; value: FormatPart[] }
  /** one sample expression: the client address from here on when it is an IP address */
  | { action: 'set-src'; value: FormatPart[] }
  // stick tables (src/stick, docs/stick-tables.md)
  | StickRule
  /** set-var(scope.name) EXPR (one fetch part: a missing sample leaves the variable alone) and set-var-fmt */
  | { action: 'set-var'; name: string; value: FormatPart[]; fmt: boolean }
  | { action: 'unset-var'; name: string }
);

export interface UseBackendRule {
  /** a backend name, or a log-format text when `format` is set */
  backend: string;
  /** `use_backend %[...]`: the name is computed per request; no backend by that name: the rule is skipped */
  format?: FormatPart[];
  cond: AclCondition | null;
}

export interface ProxyRules {
  acls: AclDefinition[];
  /** http-request rules in order */
  httpRequest: HttpRule[];
  /** standalone `redirect` rules: evaluated after every http-request rule */
  redirects: HttpRule[];
  /** frontends and listens only */
  useBackend: UseBackendRule[];
  /** http-response rules in order */
  httpResponse: HttpRule[];
}

export interface HealthCheckConfig {
  type: 'tcp' | 'http';
  method: string;
  uri: string;
  /** HTTP version sent by the probe */
  version: 'HTTP/1.0' | 'HTTP/1.1';
  host: string | null;
  headers: { name: string; value: string }[];
  /** inclusive [lo, hi] ranges; a status passes if any range holds it */
  expectStatus: [number, number][];
  expectString: string | null;
  inter: number;
  fastinter: number;
  downinter: number;
  rise: number;
  fall: number;
}

export interface CookieConfig {
  name: string;
  mode: 'insert' | 'rewrite' | 'prefix';
  indirect: boolean;
  nocache: boolean;
  postonly: boolean;
  preserve: boolean;
  httponly: boolean;
  secure: boolean;
  domain: string | null;
  maxidle: number;
  maxlife: number;
}

export interface ServerConfig {
  name: string;
  host: string;
  port: number;
  /** as written, for messages */
  address: string;
  weight: number;
  check: boolean;
  backup: boolean;
  /** 0 = unlimited */
  maxconn: number;
  cookie: string | null;
  /** per-server overrides of the backend's health_check; null = inherit */
  inter: number | null;
  fastinter: number | null;
  downinter: number | null;
  rise: number | null;
  fall: number | null;
  checkPort: number | null;
  checkAddr: string | null;
  observe: 'none' | 'layer4' | 'layer7';
  errorLimit: number;
  onError: 'fastinter' | 'fail-check' | 'sudden-death' | 'mark-down';
  /** start in maintenance (HAProxy `disabled`) */
  disabled: boolean;
  /** ms over which the weight ramps up after the server comes back (HAProxy `slowstart`); absent/0 = none */
  slowstart?: number;
  /** agent-check (src/health/agent.ts); absent when the server has none */
  agent?: { port: number; addr: string | null; inter: number; send: string | null };
  /** DNS discovery: the `resolvers` section that resolves `host` at run time; absent: static */
  resolvers?: string;
  /** `init-addr` methods in order (last, libc, none or an IP); with resolvers, default [last, libc] */
  initAddr?: string[];
  /** address family asked first (HAProxy's default: ipv6) */
  resolvePrefer?: 'ipv4' | 'ipv6';
  /** `ssl` and its options: TLS to this server (src/upstream/tls-connect.ts); absent = plain TCP */
  tls?: ServerTls;
  /** `send-proxy` (1) / `send-proxy-v2` (2): a PROXY header first on each new connection; absent = none */
  sendProxy?: 1 | 2;
  /**
   * How health checks connect, HAProxy's defaults applied (`check-ssl`, `check-sni`,
   * `check-send-proxy`; the server's own ssl / send-proxy when no check port or addr is set);
   * absent: plain TCP, no PROXY header
   */
  checkTls?: { ssl: boolean; sni: string | null; sendProxy: 0 | 1 | 2 };
}

/** `sni` on a server line: a constant name, or a request header's value (HTTP mode). */
export type ServerSni = { kind: 'str'; value: string } | { kind: 'hdr'; name: string };

/** TLS towards one server (global ssl-server-verify / ssl-default-server-* already applied). */
export interface ServerTls {
  verify: 'none' | 'required';
  /** absolute path of the CA bundle the server's chain is checked against, or null */
  caFile: string | null;
  /** absolute path of a PEM with the client certificate and its key (`crt`), or null */
  crt: string | null;
  sni: ServerSni | null;
  /** TLSv1.0 .. TLSv1.3, or null for Node's default */
  minVer: string | null;
  maxVer: string | null;
  /** OpenSSL cipher list (TLSv1.2 and below), or null */
  ciphers: string | null;
  /** ALPN protocols offered (only http/1.1 is accepted), or null for none */
  alpn: string[] | null;
  /** resume TLS sessions (HAProxy's default; `no-ssl-reuse` turns it off) */
  reuse: boolean;
  /**
   * The name the certificate must carry: `verifyhost`, else the SNI (HAProxy checks the name it
   * sent); false: `no-verifyhost`, the name is not checked; null: nothing to check against
   */
  verifyHost: string | false | null;
}

export interface BackendConfig {
  name: string;
  /** `stick on|match|store-request` rules (persistence through a stick table), in order */
  stickRules?: StickPersistRule[];
  fromListen: boolean;
  mode: 'http' | 'tcp';
  balance: BalanceAlgorithm;
  /** header name for balance hdr(NAME), lower-case; null otherwise */
  balanceHeader: string | null;
  /**
   * `hash-type` for source/uri/hdr: HAProxy's own map-based or consistent hashing (the same key
   * picks the same server as HAProxy); null: gatehouse's consistent ring (FNV-1a), YAML's default
   */
  hashType?: { method: 'map-based' | 'consistent'; fn: 'sdbm' | 'djb2' | 'wt6' | 'crc32'; avalanche: boolean } | null;
  /** errorfile / errorloc pages by status; absent when none */
  errorPages?: Record<string, CustomErrorPage>;
  timeouts: Timeouts;
  retries: number;
  /** retry-on as a bit mask (src/config/retry-on.ts); HAProxy's default: conn-failure */
  retryOn: number;
  redispatch: boolean;
  forwardfor: boolean;
  forwardforOptions?: ForwardForOptions;
  persist: boolean;
  allbackups: boolean;
  healthCheck: HealthCheckConfig;
  cookie: CookieConfig | null;
  servers: ServerConfig[];
  /**
   * acl / http-request / http-response / redirect of a backend section; absent when none. A
   * listen's rules are on its frontend only (HAProxy runs them once for a listen).
   */
  rules?: ProxyRules;
  /** tcp-check / ssl-hello-chk / mysql-check / pgsql-check / redis-check / smtpchk; absent: health_check alone */
  tcpCheck?: TcpCheckConfig;
  /** `stats enable` in a backend section: requests routed here whose path starts with the uri get the stats page */
  stats?: StatsConfig;
  /** set by the primary at start (routed.ts): the hidden backend that reaches this backend's stats page */
  statsTarget?: string;
  /**
   * Set by the primary at start on the hidden backends it adds (routed.ts): the internal stats
   * listener of `proxy`; every request to it carries STATS_KEY_HEADER: key. Never shown in stats.
   */
  internalStats?: { proxy: string; key: string };
}

// ---- mode tcp (src/tcp; parsed by src/config/tcp.ts) ----

/** `tcp-request connection|content accept|reject [if|unless cond]` */
/** A tcp-request connection/content rule: accept, reject, or a stick action (track-scN, sc-inc-gpcN, sc-set-gpt0). */
export type TcpRequestRule = { action: 'accept' | 'reject'; cond: AclCondition | null } | StickRule;

/** A frontend's tcp-request lines (listen: on its frontend). */
export interface TcpRequestRules {
  /** `tcp-request inspect-delay`: ms content rules may wait for more bytes; 0 = evaluate at once */
  inspectDelay: number;
  connection: TcpRequestRule[];
  /** `tcp-request session`: after the handshake (the PROXY header of an accept-proxy bind) */
  session: TcpRequestRule[];
  content: TcpRequestRule[];
}

/** One `tcp-check` step (HAProxy 2.6 tcp-check connect/send/send-binary/expect). */
export type TcpCheckStep =
  | { kind: 'connect'; port: number | null; ssl: boolean; comment: string | null }
  | { kind: 'send'; data: string; binary: boolean; comment: string | null }
  | {
      kind: 'expect';
      /** string: substring; rstring: regex over the received text; binary: hex substring; rbinary: regex over hex */
      match: 'string' | 'rstring' | 'binary' | 'rbinary';
      pattern: string;
      negate: boolean;
      /** HAProxy's `min-recv` (-1: the pattern's own length for string/binary, any for regexes) */
      minRecv: number;
      comment: string | null;
    };

/**
 * The check a TCP backend runs (tcp-check sequences and the protocol checks), beside
 * health_check's tcp/http types. Absent: health_check decides as before.
 */
export interface TcpCheckConfig {
  type: 'tcp-check' | 'ssl-hello' | 'mysql' | 'pgsql' | 'redis' | 'smtp';
  steps: TcpCheckStep[];
  /** mysql-check / pgsql-check user, '' for a mysql-check without one */
  user: string;
  /** mysql-check: post-41 (4.1+ handshake reply) */
  post41: boolean;
  /** smtpchk: HELO or EHLO and its domain */
  smtpVerb: string;
  smtpDomain: string;
}

export interface Config {
  /** the files read, for messages */
  sources: string[];
  global: GlobalConfig;
  frontends: FrontendConfig[];
  backends: BackendConfig[];
  /** stick tables and peers (src/config/stick.ts); absent when the configuration has none */
  stick?: StickConfig;
  /** `resolvers` sections (src/config/resolvers.ts, docs/dns.md); absent when none */
  resolvers?: ResolversConfig[];
}

/** A `resolvers` section: where and how often server names are resolved (src/dns/). */
export interface ResolversConfig {
  name: string;
  /** `nameserver NAME IP:PORT` lines, then those of /etc/resolv.conf with parse-resolv-conf */
  nameservers: { name: string; host: string; port: number }[];
  /** read /etc/resolv.conf's nameservers at start-up */
  parseResolvConf: boolean;
  /** queries sent per resolution before it fails with a timeout (HAProxy default 3) */
  resolveRetries: number;
  /** ms between two resolutions of a name (`timeout resolve`, default 1 s) */
  timeoutResolve: number;
  /** ms to wait for an answer before sending the query again (`timeout retry`, default 1 s) */
  timeoutRetry: number;
  /** ms: how long the last good answer is kept after an error of each kind; obsolete: how long a record missing from answers is kept */
  hold: { valid: number; nx: number; other: number; refused: number; timeout: number; obsolete: number };
  /** EDNS0 UDP payload size announced in queries (default 512) */
  acceptedPayloadSize: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  connect: 5000,
  client: 50000,
  server: 50000,
  httpRequest: 10000,
  // uWS's fixed idle timeout; see validate.ts (UWS_IDLE_MS)
  httpKeepAlive: 10000,
  check: 2000,
  queue: 5000,
  tunnel: 3600000,
};

export const DEFAULT_HEALTH_CHECK: HealthCheckConfig = {
  type: 'tcp',
  method: 'GET',
  uri: '/',
  version: 'HTTP/1.0',
  host: null,
  headers: [],
  expectStatus: [[200, 399]],
  expectString: null,
  inter: 2000,
  fastinter: 2000,
  downinter: 2000,
  rise: 2,
  fall: 3,
};

/** The primary serves this frontend's binds itself (node:http): stats enabled and nothing proxied. */
export function primaryServesBinds(fe: FrontendConfig): boolean {
  return fe.stats !== null && fe.stats.enable && fe.statsRouted !== true;
}
