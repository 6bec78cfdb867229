// Validator vocabulary: the YAML keys each section accepts, where misplaced keys belong, and the
// defaults the model falls back to.
import * as nodeTls from 'node:tls';
import { type BindAddress, type ForwardForOptions, type Timeouts } from './model';
import { RULE_KEYS } from './validate-rules';
import { STICK_PROXY_KEYS } from './stick';
import { Settings } from './validate-checker';

export type Path = (string | number)[];
export type Obj = Record<string, unknown>;

// ---- key vocabulary (snake_case, HAProxy's words) ----

export const TOP_KEYS = ['global', 'defaults', 'frontends', 'backends', 'listen', 'peers', 'resolvers'] as const;
export const GLOBAL_KEYS = ['workers', 'daemon', 'pidfile', 'maxconn', 'log', 'max_header_size', 'max_headers', 'max_accept', 'max_uri', 'grace', 'ssl_default_bind_ciphers', 'ssl_default_bind_ciphersuites', 'ssl_default_bind_options', 'stats_socket', 'stats_timeout', 'localpeer', 'engine', 'ssl_server_verify', 'ssl_default_server_ciphers', 'ssl_default_server_options', 'h2_max_concurrent_streams', 'h2_initial_window_size', 'h2_header_table_size'] as const;
export const STATS_SOCKET_KEYS = ['path', 'mode', 'level'] as const;
export const FORWARDFOR_KEYS = ['except', 'header', 'if_none'] as const;
export const DEFAULT_STATS_TIMEOUT_MS = 10_000;
/** Keys a `defaults` section may hold; frontends, backends and listens inherit them. */
export const COMMON_KEYS = [
  'mode', 'timeout', 'retries', 'retry_on', 'redispatch', 'forwardfor', 'httplog', 'log', 'log_format', 'dontlognull',
  'maxconn', 'balance', 'hash_type', 'health_check', 'persist', 'allbackups', 'cookie', 'default_backend', 'error_pages',
  // mode tcp (src/config/tcp.ts)
  'tcplog', 'tcp_check',
] as const;
/** Common keys that only mean something on the backend side (HAProxy warns and ignores them in a frontend). */
export const BACKEND_SIDE = new Set(['retries', 'retry_on', 'redispatch', 'balance', 'hash_type', 'health_check', 'persist', 'allbackups', 'cookie', 'tcp_check']);
/** Common keys that only mean something on the frontend side. */
export const FRONTEND_SIDE = new Set(['httplog', 'log', 'log_format', 'dontlognull', 'maxconn', 'default_backend', 'tcplog']);
export const FRONTEND_KEYS = [...COMMON_KEYS, 'bind', 'stats', ...RULE_KEYS, ...STICK_PROXY_KEYS, 'tcp_request'];
export const BACKEND_KEYS = [...COMMON_KEYS, 'servers', 'stats', ...RULE_KEYS, ...STICK_PROXY_KEYS];
export const LISTEN_KEYS = [...COMMON_KEYS, 'bind', 'stats', 'servers', ...RULE_KEYS, ...STICK_PROXY_KEYS, 'tcp_request'];
/** Where a key that is valid somewhere else belongs, for a better message than "unknown key". */
export const PLACEMENT: Record<string, string> = {
  bind: 'frontends and listen sections',
  stats: 'frontends, backends and listen sections',
  servers: 'backends and listen sections',
  // HAProxy allows some of these in named defaults sections only, and never shares their ACLs
  acls: 'frontends, backends and listen sections',
  http_request: 'frontends, backends and listen sections',
  http_response: 'frontends, backends and listen sections',
  redirect: 'frontends, backends and listen sections',
  use_backend: 'frontends and listen sections',
  tcp_request: 'frontends and listen sections',
};

/** uWS 20.30's fixed HTTP idle timeout (HTTP_IDLE_TIMEOUT_S): what http_request and http_keep_alive really are. */
export const UWS_IDLE_MS = 10_000;
/** in the warning about http_request/http_keep_alive (dropped when no bind runs on uWS) */
export const UWS_TIMER_NOTE = 'on uWS binds';
export const TIMEOUT_KEYS: Record<string, keyof Timeouts> = {
  connect: 'connect', client: 'client', server: 'server', http_request: 'httpRequest',
  http_keep_alive: 'httpKeepAlive', check: 'check', queue: 'queue', tunnel: 'tunnel',
  client_fin: 'clientFin', server_fin: 'serverFin',
};
export const HEALTH_KEYS = [
  'type', 'method', 'uri', 'version', 'host', 'headers', 'expect_status', 'expect_string',
  'inter', 'fastinter', 'downinter', 'rise', 'fall',
] as const;
/** Setting any of these without `type` means an HTTP check (like HAProxy's option httpchk). */
export const HTTP_CHECK_KEYS = ['method', 'uri', 'version', 'host', 'headers', 'expect_status', 'expect_string'] as const;
export const SERVER_KEYS = [
  'name', 'address', 'check', 'cookie', 'weight', 'backup', 'maxconn', 'inter', 'fastinter', 'downinter',
  'rise', 'fall', 'port', 'addr', 'observe', 'error_limit', 'on_error', 'disabled', 'slowstart',
  'agent_check', 'agent_port', 'agent_addr', 'agent_inter', 'agent_send',
  'prefix', 'count', 'resolvers', 'init_addr', 'resolve_prefer',
  // validate-server-tls.ts SERVER_TLS_KEYS
  'ssl', 'verify', 'ca_file', 'crt', 'sni', 'ssl_min_ver', 'ssl_max_ver', 'ciphers', 'alpn', 'ssl_reuse', 'verifyhost',
  'send_proxy', 'send_proxy_v2', 'check_ssl', 'check_sni', 'check_send_proxy',
] as const;
export const COOKIE_KEYS = [
  'name', 'mode', 'indirect', 'nocache', 'postonly', 'preserve', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife',
] as const;
export const STATS_KEYS = ['enable', 'uri', 'auth', 'realm', 'refresh', 'hide_version', 'admin', 'prometheus'] as const;
export const LOG_KEYS = ['target', 'facility', 'level', 'format'] as const;
export const ENGINES = ['uws', 'node'] as const;
export const BIND_KEYS = [
  'address', 'ssl', 'crt', 'ssl_min_ver', 'ciphers', 'engine', 'accept_proxy', 'crt_list', 'ssl_max_ver', 'ciphersuites', 'curves',
  'strict_sni', 'alpn', 'verify', 'ca_file', 'crl_file', 'no_tls_tickets', 'prefer_client_ciphers', 'proto',
] as const;
/** ALPN protocol names a bind may offer (h2 is served by the node engine's HTTP/2 hook, src/worker/alpn.ts) */
export const ALPN_NAMES = ['h2', 'http/1.1', 'http/1.0'];
export const SSL_VERSIONS = ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export type BindTls = Pick<BindAddress, 'ssl' | 'certs' | 'sslMinVer' | 'ciphers' | 'tlsOpts'>;

/**
 * `forwardfor` and its options as one setting: the section's when it sets forwardfor, else the
 * defaults' (options travel with the switch that turned the header on).
 */
export function forwardfor(s: Settings, d: Settings): { forwardfor: boolean; forwardforOptions?: ForwardForOptions } {
  const from = s.forwardfor !== undefined ? s : d;
  const on = from.forwardfor ?? false;
  return on && from.forwardforOptions !== undefined ? { forwardfor: on, forwardforOptions: from.forwardforOptions } : { forwardfor: on };
}

/**
 * Why OpenSSL would refuse a cipher list (null: it selects at least one cipher). Checked at load:
 * uWS's SSLApp refuses such a list only when a worker builds it ("App construction failed"),
 * and its addServerName crashes the process on one.
 */
export function cipherListProblem(list: string): string | null {
  return secureContextProblem({ ciphers: list });
}

/** Why OpenSSL refuses these secure context options (TLSv1.3 suites, curves, CA or CRL files), or null. */
export function secureContextProblem(opts: nodeTls.SecureContextOptions): string | null {
  try {
    nodeTls.createSecureContext(opts);
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, '');
  }
}

export const BALANCE_NAMES = ['roundrobin', 'static-rr', 'leastconn', 'source', 'first', 'random', 'uri', 'hdr(NAME)'];
export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'auth2', 'ftp', 'ntp',
  'audit', 'alert', 'cron2', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];
export const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** HAProxy proxy and server names: letters, digits, '-', '_', '.', ':'. */
export const NAME_RE = /^[A-Za-z0-9_.:-]+$/;
export const NAME_EXPECTED = 'a name of letters, digits, "-", "_", "." or ":"';
export const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;
/** RFC 9110 token (method and header names). */
export const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const DEFAULT_GRACE_MS = 10_000;
export const DEFAULT_MAX_HEADER_SIZE = 16_384;
/** HAProxy's tune.http.maxhdr default */
export const DEFAULT_MAX_HEADERS = 101;
/**
 * Connections a node-engine worker may accept per bind and wake-up (tune.maxaccept): -1, no
 * limit, by default. HAProxy's default is 4, for its short turns (tune.maxpollevents 200); a
 * libuv turn handles up to 1024 events per poll, and a worker that empties the accept queue
 * when woken, as uWS does, measured best (native-bench e/f; front-node/accept-burst.ts).
 */
export const DEFAULT_MAX_ACCEPT = -1;
export const DEFAULT_GLOBAL_MAXCONN = 20_000;
export const DEFAULT_RETRIES = 3;
export const DEFAULT_STATS_URI = '/haproxy?stats';
export const DEFAULT_STATS_REALM = 'HAProxy Statistics';
export const DEFAULT_PROMETHEUS_URI = '/metrics';

// ---- issue collection and typed readers ----
