// The shared validator: a YAML-shaped document (from the YAML reader or the haproxy.cfg reader)
// becomes the validated Config model. Every problem is collected, not just the first, and each
// names its source position through the reader's SourceMap.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as nodePath from 'node:path';
import * as os from 'node:os';
import * as nodeTls from 'node:tls';
import {
  type BackendConfig,
  type CustomErrorPage,
  type BalanceAlgorithm,
  type BindAddress,
  type StatsSocketConfig,
  type ForwardForOptions,
  type Config,
  type CookieConfig,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_TIMEOUTS,
  type FrontendConfig,
  type GlobalConfig,
  type HealthCheckConfig,
  type LogTarget,
  type ServerConfig,
  type StatsConfig,
  type TcpCheckConfig,
  type Timeouts,
} from './model';
import { parseIpv4Pattern, parseIpv6Pattern, type IpNet } from '../acl/ip';
import { ConfigError, type ConfigIssue, describeValue, formatPath, type SourceMap } from './errors';
import { DURATION_EXPECTED, parseDuration } from './duration';
import { didYouMean } from './suggest';
import { readRules, RULE_KEYS, type BackendRef } from './validate-rules';
import { buildStick, STICK_PROXY_KEYS } from './stick';
import { checkModes, readTcpCheck, readTcpRequest } from './tcp';
import { buildErrorPages } from './error-files';
import { compileLogFormat } from '../log/custom-format';
import { DEFAULT_RETRY_ON, parseRetryOn } from './retry-on';

type Path = (string | number)[];
type Obj = Record<string, unknown>;

// ---- key vocabulary (snake_case, HAProxy's words) ----

export const TOP_KEYS = ['global', 'defaults', 'frontends', 'backends', 'listen', 'peers'] as const;
export const GLOBAL_KEYS = ['workers', 'daemon', 'pidfile', 'maxconn', 'log', 'max_header_size', 'max_headers', 'max_uri', 'grace', 'ssl_default_bind_ciphers', 'stats_socket', 'stats_timeout', 'localpeer', 'engine'] as const;
export const STATS_SOCKET_KEYS = ['path', 'mode', 'level'] as const;
export const FORWARDFOR_KEYS = ['except', 'header', 'if_none'] as const;
const DEFAULT_STATS_TIMEOUT_MS = 10_000;
/** Keys a `defaults` section may hold; frontends, backends and listens inherit them. */
export const COMMON_KEYS = [
  'mode', 'timeout', 'retries', 'retry_on', 'redispatch', 'forwardfor', 'httplog', 'log', 'log_format', 'dontlognull',
  'maxconn', 'balance', 'hash_type', 'health_check', 'persist', 'allbackups', 'cookie', 'default_backend', 'error_pages',
  // mode tcp (src/config/tcp.ts)
  'tcplog', 'tcp_check',
] as const;
/** Common keys that only mean something on the backend side (HAProxy warns and ignores them in a frontend). */
const BACKEND_SIDE = new Set(['retries', 'retry_on', 'redispatch', 'balance', 'hash_type', 'health_check', 'persist', 'allbackups', 'cookie', 'tcp_check']);
/** Common keys that only mean something on the frontend side. */
const FRONTEND_SIDE = new Set(['httplog', 'log', 'log_format', 'dontlognull', 'maxconn', 'default_backend', 'tcplog']);
export const FRONTEND_KEYS = [...COMMON_KEYS, 'bind', 'stats', ...RULE_KEYS, ...STICK_PROXY_KEYS, 'tcp_request'];
export const BACKEND_KEYS = [...COMMON_KEYS, 'servers', ...RULE_KEYS, ...STICK_PROXY_KEYS];
export const LISTEN_KEYS = [...COMMON_KEYS, 'bind', 'stats', 'servers', ...RULE_KEYS, ...STICK_PROXY_KEYS, 'tcp_request'];
/** Where a key that is valid somewhere else belongs, for a better message than "unknown key". */
const PLACEMENT: Record<string, string> = {
  bind: 'frontends and listen sections',
  stats: 'frontends and listen sections',
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
const UWS_IDLE_MS = 10_000;
/** in the warning about http_request/http_keep_alive (dropped when no bind runs on uWS) */
const UWS_TIMER_NOTE = 'on uWS binds';
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
const HTTP_CHECK_KEYS = ['method', 'uri', 'version', 'host', 'headers', 'expect_status', 'expect_string'] as const;
export const SERVER_KEYS = [
  'name', 'address', 'check', 'cookie', 'weight', 'backup', 'maxconn', 'inter', 'fastinter', 'downinter',
  'rise', 'fall', 'port', 'addr', 'observe', 'error_limit', 'on_error', 'disabled', 'slowstart',
  'agent_check', 'agent_port', 'agent_addr', 'agent_inter', 'agent_send',
] as const;
export const COOKIE_KEYS = [
  'name', 'mode', 'indirect', 'nocache', 'postonly', 'preserve', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife',
] as const;
export const STATS_KEYS = ['enable', 'uri', 'auth', 'realm', 'refresh', 'hide_version', 'admin', 'prometheus'] as const;
export const LOG_KEYS = ['target', 'facility', 'level', 'format'] as const;
export const ENGINES = ['uws', 'node'] as const;
export const BIND_KEYS = ['address', 'ssl', 'crt', 'ssl_min_ver', 'ciphers', 'engine', 'accept_proxy'] as const;
const SSL_VERSIONS = ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

type BindTls = Pick<BindAddress, 'ssl' | 'certs' | 'sslMinVer' | 'ciphers'>;

/**
 * `forwardfor` and its options as one setting: the section's when it sets forwardfor, else the
 * defaults' (options travel with the switch that turned the header on).
 */
function forwardfor(s: Settings, d: Settings): { forwardfor: boolean; forwardforOptions?: ForwardForOptions } {
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
  try {
    nodeTls.createSecureContext({ ciphers: list });
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, '');
  }
}

const BALANCE_NAMES = ['roundrobin', 'static-rr', 'leastconn', 'source', 'first', 'random', 'uri', 'hdr(NAME)'];
const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'auth2', 'ftp', 'ntp',
  'audit', 'alert', 'cron2', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
];
const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** HAProxy proxy and server names: letters, digits, '-', '_', '.', ':'. */
const NAME_RE = /^[A-Za-z0-9_.:-]+$/;
const NAME_EXPECTED = 'a name of letters, digits, "-", "_", "." or ":"';
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;
/** RFC 9110 token (method and header names). */
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const DEFAULT_GRACE_MS = 10_000;
const DEFAULT_MAX_HEADER_SIZE = 16_384;
/** HAProxy's tune.http.maxhdr default */
const DEFAULT_MAX_HEADERS = 101;
const DEFAULT_GLOBAL_MAXCONN = 20_000;
const DEFAULT_RETRIES = 3;
const DEFAULT_STATS_URI = '/haproxy?stats';
const DEFAULT_STATS_REALM = 'HAProxy Statistics';
const DEFAULT_PROMETHEUS_URI = '/metrics';

// ---- issue collection and typed readers ----

class Checker {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  constructor(private readonly src: SourceMap) {}

  /** Position of `path`, walking up to the nearest parent the source map knows. */
  private where(path: Path, atKey: boolean): { file: string; line: number; col: number } {
    for (let p = path; ; p = p.slice(0, -1)) {
      const pos = (atKey && p === path && this.src.locateKey ? this.src.locateKey(p) : null) ?? this.src.locate(p);
      if (pos) return { file: pos.file ?? this.src.file, line: pos.line, col: pos.col };
      if (p.length === 0) return { file: this.src.file, line: 0, col: 0 };
    }
  }

  add(severity: 'error' | 'warning', path: Path, message: string, expected = '', found = '', atKey = false): void {
    const issue: ConfigIssue = { severity, ...this.where(path, atKey), path: formatPath(path), expected, found, message };
    (severity === 'error' ? this.errors : this.warnings).push(issue);
  }
  error(path: Path, message: string, expected = '', found = ''): void {
    this.add('error', path, message, expected, found);
  }
  warn(path: Path, message: string, atKey = false): void {
    this.add('warning', path, message, '', '', atKey);
  }
  /** Reports a wrong value; always returns undefined so readers can `return c.bad(...)`. */
  bad(path: Path, expected: string, value: unknown, message = 'invalid value'): undefined {
    this.error(path, message, expected, describeValue(value));
    return undefined;
  }

  /** A map, or null after reporting. `null`/absent reads as an empty map when `emptyOk`. */
  map(v: unknown, path: Path, what: string, emptyOk = true): Obj | null {
    if ((v === null || v === undefined) && emptyOk) return {};
    if (isObj(v)) return v;
    this.bad(path, what, v);
    return null;
  }

  /** Reports every key of `obj` not in `allowed`, with a did-you-mean. */
  keys(obj: Obj, path: Path, allowed: readonly string[], section: string): void {
    const set = new Set(allowed);
    for (const k of Object.keys(obj)) {
      if (set.has(k)) continue;
      const home = has(PLACEMENT, k) ? PLACEMENT[k] : undefined;
      const msg = home
        ? `"${k}" is not allowed in ${section}; it belongs in ${home}`
        : `unknown key "${k}" in ${section}${didYouMean(k, allowed)}`;
      const expected = home ? '' : allowed.length <= 12 ? `one of ${allowed.join(', ')}` : `a key valid in ${section}, see docs/configuration.md`;
      this.add('error', [...path, k], msg, expected, home ? '' : `"${k}"`, true);
    }
  }

  bool(o: Obj, k: string, path: Path): boolean | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    if (typeof v === 'boolean') return v;
    // YAML 1.2 reads yes/no/on/off as strings; say so rather than leave the user puzzled.
    const hint = typeof v === 'string' && /^(yes|no|on|off|y|n|true|false)$/i.test(v) ? 'invalid value (write true or false without quotes)' : 'invalid value';
    return this.bad([...path, k], 'true or false', v, hint);
  }

  int(o: Obj, k: string, path: Path, min: number, max: number): number | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    // Numeric strings are accepted: the haproxy.cfg reader hands over words as written.
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d{1,16}\s*$/.test(v) ? Number(v) : NaN;
    const expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    if (!Number.isInteger(n)) return this.bad([...path, k], expected, v);
    if (n < min || n > max) return this.bad([...path, k], expected, v, 'out of range');
    return n;
  }

  duration(o: Obj, k: string, path: Path, min = 0): number | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    const ms = parseDuration(v);
    if (ms === null) return this.bad([...path, k], DURATION_EXPECTED, v, 'invalid duration');
    if (ms < min) return this.bad([...path, k], `at least ${min}ms`, v, 'duration too short');
    return ms;
  }

  str(o: Obj, k: string, path: Path, opts: { re?: RegExp; expected?: string } = {}): string | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    const expected = opts.expected ?? 'a non-empty string';
    if (typeof v !== 'string' || v === '') return this.bad([...path, k], expected, v);
    if (opts.re && !opts.re.test(v)) return this.bad([...path, k], expected, v);
    return v;
  }

  /** A string, or null when the key is explicitly null/false (used to clear an inherited value). */
  nullableStr(o: Obj, k: string, path: Path, opts: { re?: RegExp; expected?: string } = {}): string | null | undefined {
    if (has(o, k) && (o[k] === null || o[k] === false)) return null;
    return this.str(o, k, path, opts);
  }

  oneOf<T extends string>(o: Obj, k: string, path: Path, values: readonly T[]): T | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === 'string' ? didYouMean(v, values) : '';
    this.error([...path, k], `invalid value${hint}`, `one of ${values.join(', ')}`, describeValue(v));
    return undefined;
  }
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
function has(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}
/** A list, or a single item standing for a list of one. */
function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

// ---- TLS certificates ----

/**
 * A `crt` argument as files: a directory stands for its *.pem files, sorted (HAProxy loads a
 * directory's certificates too). Problems come back as one entry starting with "!".
 */
function expandCrt(f: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(f);
  } catch (e) {
    return [`!certificate ${f}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`];
  }
  if (!st.isDirectory()) return [f];
  let names: string[];
  try {
    names = fs.readdirSync(f).filter((n) => n.endsWith('.pem')).sort();
  } catch (e) {
    return [`!certificate directory ${f}: cannot list it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`];
  }
  if (names.length === 0) return [`!certificate directory ${f} holds no *.pem file`];
  return names.map((n) => nodePath.join(f, n));
}

/**
 * Checks one combined PEM (HAProxy's `crt`): readable, a CERTIFICATE and a PRIVATE KEY block,
 * and the key belongs to the (first, leaf) certificate. uWS would otherwise start a listener
 * that fails every handshake.
 */
export function checkPemFile(file: string): { error?: string; warning?: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    return { error: `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(text)) return { error: 'no CERTIFICATE block in the file' };
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) return { error: 'the private key is encrypted; gatehouse needs an unencrypted key' };
  if (!/-----BEGIN (?:RSA |EC |DSA )?PRIVATE KEY-----/.test(text)) return { error: 'no PRIVATE KEY block in the file (HAProxy-style crt files hold the certificate chain and the key)' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(text);
  } catch (e) {
    return { error: `the certificate cannot be parsed (${(e as Error).message})` };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (e) {
    return { error: `the private key cannot be parsed (${(e as Error).message})` };
  }
  if (!cert.checkPrivateKey(key)) return { error: 'the private key does not match the certificate' };
  const to = Date.parse(cert.validTo);
  if (Number.isFinite(to) && to < Date.now()) return { warning: `the certificate expired on ${cert.validTo}` };
  return {};
}

// ---- addresses ----

function validHost(h: string): boolean {
  return isIP(h) !== 0 || HOSTNAME_RE.test(h);
}

/**
 * "HOST:PORT", "[V6]:PORT" or "V6:PORT" (the last colon separates the port, as in HAProxy).
 * For binds, "*" and an empty host mean every IPv4 address.
 */
function parseHostPort(text: string, forBind: boolean): { host: string; port: number } | string {
  let host: string;
  let portText: string;
  const br = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (br) {
    host = br[1];
    portText = br[2];
    if (isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  } else {
    const i = text.lastIndexOf(':');
    if (i < 0) return 'the port is missing';
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (host.includes(':') && isIP(host) !== 6) return `"${host}" is not an IPv6 address (write [ADDR]:PORT)`;
  }
  if (!/^\d{1,5}$/.test(portText)) return `"${portText}" is not a port number`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${port} is out of range 1-65535`;
  if (forBind && (host === '*' || host === '')) host = '0.0.0.0';
  else if (host === '' || host === '*') return 'a server needs a host';
  else if (!validHost(host)) return `"${host}" is not an IP address or host name`;
  return { host, port };
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

// ---- sections ----

/** What a defaults/frontend/backend/listen section sets of the inheritable keys. */
interface Settings {
  mode?: 'http' | 'tcp';
  tcplog?: boolean;
  /** null: explicitly none (clears an inherited one) */
  tcpCheck?: TcpCheckConfig | null;
  timeouts: Partial<Timeouts>;
  retries?: number;
  retryOn?: number;
  redispatch?: boolean;
  forwardfor?: boolean;
  forwardforOptions?: ForwardForOptions;
  httplog?: boolean;
  logs?: LogTarget[] | 'global';
  logFormat?: 'httplog' | 'json';
  /** a HAProxy log-format string (null: explicitly none, from httplog/json) */
  logFormatCustom?: string | null;
  dontlognull?: boolean;
  maxconn?: number;
  balance?: { alg: BalanceAlgorithm; header: string | null };
  hashType?: BackendConfig['hashType'];
  errorPages?: Record<string, CustomErrorPage>;
  health: Partial<HealthCheckConfig>;
  persist?: boolean;
  allbackups?: boolean;
  /** null: explicitly no cookie (clears an inherited one) */
  cookie?: CookieConfig | null;
  defaultBackend?: { name: string; path: Path };
}

type SectionKind = 'defaults' | 'frontend' | 'backend' | 'listen';

class Builder {
  constructor(private readonly c: Checker) {}

  global(v: unknown): GlobalConfig {
    const c = this.c;
    const path: Path = ['global'];
    const o = c.map(v, path, 'a map of global settings') ?? {};
    c.keys(o, path, GLOBAL_KEYS, 'global');
    let workers: number | undefined;
    if (has(o, 'workers') && o.workers === 'auto') workers = os.availableParallelism();
    else workers = c.int(o, 'workers', path, 1, 1024);
    const pidfile = c.nullableStr(o, 'pidfile', path, { expected: 'a file path' });
    const maxHeaderSize = c.int(o, 'max_header_size', path, 1024, 16 * 1024 * 1024) ?? DEFAULT_MAX_HEADER_SIZE;
    return {
      workers: workers ?? os.availableParallelism(),
      daemon: c.bool(o, 'daemon', path) ?? false,
      pidfile: pidfile ?? null,
      maxconn: c.int(o, 'maxconn', path, 1, 10_000_000) ?? DEFAULT_GLOBAL_MAXCONN,
      maxconnSet: has(o, 'maxconn'),
      logs: has(o, 'log') ? this.logs(o.log, [...path, 'log'], false) ?? [] : [],
      maxHeaderSize,
      maxHeaders: c.int(o, 'max_headers', path, 1, 10000) ?? DEFAULT_MAX_HEADERS,
      // HAProxy has no URI limit of its own: the request line must fit its buffer (tune.bufsize)
      maxUri: c.int(o, 'max_uri', path, 16, 16 * 1024 * 1024) ?? maxHeaderSize,
      gracePeriod: c.duration(o, 'grace', path) ?? DEFAULT_GRACE_MS,
      // GATEHOUSE_ENGINE: the default for configurations that name none (the test suite's engine matrix)
      engine: c.oneOf(o, 'engine', path, ENGINES) ?? (process.env.GATEHOUSE_ENGINE === 'node' ? 'node' : 'uws'),
      sslDefaultBindCiphers: this.ciphers(o, 'ssl_default_bind_ciphers', path),
      statsSockets: has(o, 'stats_socket') ? this.statsSockets(o.stats_socket, [...path, 'stats_socket']) : [],
      statsTimeout: c.duration(o, 'stats_timeout', path, 1) ?? DEFAULT_STATS_TIMEOUT_MS,
    };
  }

  /** `{ except: NET, header: NAME, if_none: BOOL }` */
  private forwardforOptions(o: Obj, path: Path): ForwardForOptions {
    const c = this.c;
    c.keys(o, path, FORWARDFOR_KEYS, 'forwardfor');
    const header = c.str(o, 'header', path, { re: TOKEN_RE, expected: 'a header name' });
    const exceptText = c.nullableStr(o, 'except', path, { expected: 'a network such as 127.0.0.0/8 or ::1/128' }) ?? null;
    let except: IpNet | null = null;
    if (exceptText !== null) {
      except = parseIpv4Pattern(exceptText) ?? parseIpv6Pattern(exceptText);
      if (except === null) c.error([...path, 'except'], 'invalid network', 'an IPv4 or IPv6 address with an optional /mask, such as 127.0.0.0/8', describeValue(exceptText));
    }
    return { header: (header ?? 'X-Forwarded-For').toLowerCase(), except, ifNone: c.bool(o, 'if_none', path) ?? false };
  }

  /** A list of runtime API sockets; a bare string is a path. */
  private statsSockets(v: unknown, path: Path): StatsSocketConfig[] {
    const c = this.c;
    const out: StatsSocketConfig[] = [];
    if (v === null || v === false) return out;
    const expected = 'a unix socket path, or { path, mode, level }';
    asList(v).forEach((item, i) => {
      const p = Array.isArray(v) ? [...path, i] : path;
      const pathExpected = 'an absolute unix socket path such as /run/gatehouse/admin.sock';
      if (typeof item === 'string' && !item.startsWith('/')) {
        c.bad(p, pathExpected, item);
        return;
      }
      const o = typeof item === 'string' ? { path: item } : c.map(item, p, expected, false);
      if (!o) return;
      if (typeof item !== 'string') c.keys(o, p, STATS_SOCKET_KEYS, 'a stats socket');
      const sockPath = c.str(o, 'path', p, { re: /^\//, expected: pathExpected });
      if (sockPath === undefined) {
        if (!has(o, 'path')) c.error(p, 'missing required key "path"', expected, 'nothing');
        return;
      }
      const modeText = has(o, 'mode') ? String(o.mode) : null;
      let mode: number | null = null;
      if (modeText !== null) {
        if (/^[0-7]{1,4}$/.test(modeText)) mode = parseInt(modeText, 8);
        else c.error([...p, 'mode'], 'invalid mode', 'octal permissions such as 660', describeValue(o.mode));
      }
      if (out.some((s) => s.path === sockPath)) c.error(p, `duplicate stats socket "${sockPath}"`);
      out.push({ path: sockPath, mode, level: c.oneOf(o, 'level', p, ['user', 'operator', 'admin'] as const) ?? 'operator' });
    });
    return out;
  }

  /** An OpenSSL cipher list at o[key] (null when absent), refused when it selects no cipher. */
  private ciphers(o: Obj, key: string, path: Path): string | null {
    const c = this.c;
    const v = c.nullableStr(o, key, path, { expected: 'an OpenSSL cipher list such as ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256' });
    if (v === undefined || v === null) return null;
    const problem = cipherListProblem(v);
    if (problem !== null) {
      c.error([...path, key], `invalid cipher list: ${problem}`, 'an OpenSSL cipher list (TLSv1.2 ciphers; see `openssl ciphers`)', describeValue(v));
      return null;
    }
    return v;
  }

  /** A list of log targets; in a proxy section also "global" (use global.log, HAProxy's `log global`). */
  logs(v: unknown, path: Path, globalOk: false): LogTarget[] | undefined;
  logs(v: unknown, path: Path, globalOk: boolean): LogTarget[] | 'global' | undefined;
  logs(v: unknown, path: Path, globalOk: boolean): LogTarget[] | 'global' | undefined {
    const c = this.c;
    if (globalOk && v === 'global') return 'global';
    if (v === null || v === false) return [];
    const list = asList(v);
    const out: LogTarget[] = [];
    list.forEach((item, i) => {
      const p = Array.isArray(v) ? [...path, i] : path;
      // A bare string is shorthand for { target: STRING }.
      const o = typeof item === 'string' ? { target: item } : c.map(item, p, 'a log target map { target, facility, level, format }', false);
      if (!o) return;
      if (typeof item !== 'string') c.keys(o, p, LOG_KEYS, 'a log target');
      const target = c.str(o, 'target', p, { expected: 'stdout, stderr, file:PATH, udp://HOST:PORT or unix:PATH' });
      if (target === undefined) {
        if (!has(o, 'target')) c.error(p, 'missing required key "target"', 'stdout, stderr, file:PATH, udp://HOST:PORT or unix:PATH', 'nothing');
        return;
      }
      const tp = typeof item === 'string' ? p : [...p, 'target'];
      const problem = logTargetProblem(target);
      if (problem) {
        c.error(tp, problem, 'stdout, stderr, file:PATH, udp://HOST:PORT or unix:PATH', describeValue(target));
        return;
      }
      out.push({
        target,
        facility: c.oneOf(o, 'facility', p, FACILITIES) ?? 'local0',
        level: c.oneOf(o, 'level', p, LEVELS) ?? 'debug',
        format: c.oneOf(o, 'format', p, ['rfc3164', 'rfc5424', 'raw'] as const) ?? 'rfc3164',
      });
    });
    return out;
  }

  /** The inheritable keys of one section. Keys that do not apply to `kind` are warned about and dropped. */
  settings(o: Obj, path: Path, kind: SectionKind): Settings {
    const c = this.c;
    const s: Settings = { timeouts: {}, health: {} };
    for (const k of Object.keys(o)) {
      if (kind === 'frontend' && BACKEND_SIDE.has(k)) {
        c.warn([...path, k], `"${k}" has no effect in a frontend (it applies to backends); ignored`);
        delete o[k];
      } else if (kind === 'backend' && FRONTEND_SIDE.has(k)) {
        c.warn([...path, k], `"${k}" has no effect in a backend (it applies to frontends); ignored`);
        delete o[k];
      }
    }
    if (has(o, 'mode')) {
      if (o.mode === 'http' || o.mode === 'tcp') s.mode = o.mode;
      else c.error([...path, 'mode'], 'invalid mode', 'http or tcp', describeValue(o.mode));
    }
    if (has(o, 'timeout')) {
      const tp = [...path, 'timeout'];
      const t = c.map(o.timeout, tp, 'a map of timeouts');
      if (t) {
        c.keys(t, tp, Object.keys(TIMEOUT_KEYS), 'timeout');
        for (const [yamlKey, modelKey] of Object.entries(TIMEOUT_KEYS)) {
          // A zero timeout would fire at once; HAProxy also requires a positive value.
          const ms = c.duration(t, yamlKey, tp, 1);
          if (ms !== undefined) s.timeouts[modelKey] = ms;
          if (ms !== undefined && ms !== UWS_IDLE_MS && (yamlKey === 'http_request' || yamlKey === 'http_keep_alive')) {
            c.warn(
              [...tp, yamlKey],
              `timeout ${yamlKey} ${ms}ms is not applied ${UWS_TIMER_NOTE}: uWebSockets.js closes a connection whose request head is incomplete, or that is idle between requests, after its fixed 10s`,
            );
          }
        }
      }
    }
    s.retries = c.int(o, 'retries', path, 0, 100);
    if (has(o, 'retry_on')) s.retryOn = this.retryOn(o.retry_on, [...path, 'retry_on']);
    s.redispatch = c.bool(o, 'redispatch', path);
    if (has(o, 'forwardfor') && isObj(o.forwardfor)) {
      // a map of options turns it on (HAProxy: option forwardfor except .. header .. if-none)
      s.forwardforOptions = this.forwardforOptions(o.forwardfor, [...path, 'forwardfor']);
      s.forwardfor = true;
    } else s.forwardfor = c.bool(o, 'forwardfor', path);
    s.httplog = c.bool(o, 'httplog', path);
    s.tcplog = c.bool(o, 'tcplog', path);
    if (has(o, 'tcp_check')) s.tcpCheck = readTcpCheck(c, o.tcp_check, [...path, 'tcp_check']) ?? null;
    if (has(o, 'log')) s.logs = this.logs(o.log, [...path, 'log'], true);
    if (typeof o.log_format === 'string' && o.log_format !== 'httplog' && o.log_format !== 'json') {
      // any other text is a HAProxy log-format string with its variables
      try {
        compileLogFormat(o.log_format);
        s.logFormatCustom = o.log_format;
      } catch (e) {
        c.error([...path, 'log_format'], `invalid log-format: ${(e as Error).message}`, `httplog, json, or a log-format string of ${'%'}ci, ${'%'}tr, ${'%'}ST ... (docs/configuration.md)`, describeValue(o.log_format));
      }
    } else {
      s.logFormat = c.oneOf(o, 'log_format', path, ['httplog', 'json'] as const);
      if (s.logFormat !== undefined) s.logFormatCustom = null;
    }
    s.dontlognull = c.bool(o, 'dontlognull', path);
    s.maxconn = c.int(o, 'maxconn', path, 1, 10_000_000);
    if (has(o, 'balance')) s.balance = this.balance(o.balance, [...path, 'balance']);
    if (has(o, 'hash_type')) s.hashType = this.hashType(o.hash_type, [...path, 'hash_type']);
    if (has(o, 'error_pages')) {
      const ep = [...path, 'error_pages'];
      s.errorPages = buildErrorPages(o.error_pages, (key, message, expected = '', found = '') => c.error(key === null ? ep : [...ep, key], message, expected, found));
    }
    if (has(o, 'health_check')) s.health = this.health(o.health_check, [...path, 'health_check']);
    s.persist = c.bool(o, 'persist', path);
    s.allbackups = c.bool(o, 'allbackups', path);
    if (has(o, 'cookie')) s.cookie = this.cookie(o.cookie, [...path, 'cookie']);
    const db = c.str(o, 'default_backend', path, { re: NAME_RE, expected: 'a backend name' });
    if (db !== undefined) s.defaultBackend = { name: db, path: [...path, 'default_backend'] };
    return s;
  }

  /** retry_on: HAProxy's keywords, as one space-separated string or a list. */
  retryOn(v: unknown, path: Path): number | undefined {
    const words = typeof v === 'number' ? [String(v)] : typeof v === 'string' ? v.split(/\s+/).filter((w) => w !== '') : Array.isArray(v) && v.every((w) => typeof w === 'string' || typeof w === 'number') ? v.map(String) : null;
    const expected = 'retry-on keywords such as "conn-failure empty-response 503"';
    if (words === null) {
      this.c.error(path, 'invalid retry_on', expected, describeValue(v));
      return undefined;
    }
    const r = parseRetryOn(words);
    if (typeof r === 'string') {
      this.c.error(path, `invalid retry_on: ${r}`, expected, describeValue(v));
      return undefined;
    }
    return r;
  }

  balance(v: unknown, path: Path): { alg: BalanceAlgorithm; header: string | null } | undefined {
    const expected = `one of ${BALANCE_NAMES.join(', ')}`;
    if (typeof v !== 'string') return this.c.bad(path, expected, v);
    const simple: readonly string[] = ['roundrobin', 'static-rr', 'leastconn', 'source', 'first', 'random', 'uri'];
    if (simple.includes(v)) return { alg: v as BalanceAlgorithm, header: null };
    const hdr = /^hdr\(\s*([^()\s]*)\s*\)$/.exec(v);
    if (hdr) {
      if (!TOKEN_RE.test(hdr[1])) return this.c.bad(path, 'hdr(NAME) with a header name', v, 'invalid header name');
      return { alg: 'hdr', header: hdr[1].toLowerCase() };
    }
    this.c.error(path, `unknown balance algorithm${didYouMean(v, BALANCE_NAMES)}`, expected, describeValue(v));
    return undefined;
  }

  /** `hash_type: "map-based|consistent [sdbm|djb2|wt6|crc32] [avalanche]"` (HAProxy's words) */
  hashType(v: unknown, path: Path): BackendConfig['hashType'] {
    const expected = '"map-based" or "consistent", then optionally sdbm, djb2, wt6 or crc32, then optionally avalanche';
    if (typeof v !== 'string') return this.c.bad(path, expected, v);
    const w = v.trim().split(/\s+/);
    const method = w[0];
    if (method !== 'map-based' && method !== 'consistent') return this.c.bad(path, expected, v);
    const fn = w[1] ?? 'sdbm';
    if (!['sdbm', 'djb2', 'wt6', 'crc32'].includes(fn)) return this.c.bad(path, expected, v, `unknown hash function "${fn}"`);
    if (w.length > 3 || (w[2] !== undefined && w[2] !== 'avalanche')) return this.c.bad(path, expected, v);
    // as HAProxy: 'consistent' alone is sdbm with avalanche; a named function has none unless said
    return { method, fn: fn as 'sdbm', avalanche: w[2] === 'avalanche' || (w.length === 1 && method === 'consistent') };
  }

  health(v: unknown, path: Path): Partial<HealthCheckConfig> {
    const c = this.c;
    const h: Partial<HealthCheckConfig> = {};
    const o = c.map(v, path, 'a health_check map');
    if (!o) return h;
    c.keys(o, path, HEALTH_KEYS, 'health_check');
    const type = c.oneOf(o, 'type', path, ['tcp', 'http'] as const);
    if (type) h.type = type;
    const method = c.str(o, 'method', path, { re: TOKEN_RE, expected: 'an HTTP method such as GET, HEAD or OPTIONS' });
    if (method) h.method = method;
    const uri = c.str(o, 'uri', path, { re: /^\/[\x21-\x7e]*$/, expected: 'a path starting with "/" without spaces' });
    if (uri) h.uri = uri;
    if (has(o, 'version')) {
      const ver = o.version;
      if (ver === 'HTTP/1.0' || ver === '1.0' || ver === 1) h.version = 'HTTP/1.0';
      else if (ver === 'HTTP/1.1' || ver === '1.1' || ver === 1.1) h.version = 'HTTP/1.1';
      else c.bad([...path, 'version'], 'HTTP/1.0 or HTTP/1.1', ver);
    }
    const host = c.nullableStr(o, 'host', path, { re: /^[\x21-\x7e]+$/, expected: 'a Host header value' });
    if (host !== undefined) h.host = host;
    if (has(o, 'headers')) {
      const headers = this.headers(o.headers, [...path, 'headers']);
      if (headers) h.headers = headers;
    }
    if (has(o, 'expect_status')) {
      const st = expectStatus(o.expect_status);
      if (typeof st === 'string') c.bad([...path, 'expect_status'], 'statuses like 200, "200-399", "200,204" or a list of them', o.expect_status, st);
      else h.expectStatus = st;
    }
    const es = c.nullableStr(o, 'expect_string', path);
    if (es !== undefined) h.expectString = es;
    for (const k of ['inter', 'fastinter', 'downinter'] as const) {
      const ms = c.duration(o, k, path, 1);
      if (ms !== undefined) h[k] = ms;
    }
    for (const k of ['rise', 'fall'] as const) {
      const n = c.int(o, k, path, 1, 1000);
      if (n !== undefined) h[k] = n;
    }
    if (h.type === 'tcp') {
      for (const k of HTTP_CHECK_KEYS) {
        if (has(o, k)) c.warn([...path, k], `"${k}" has no effect with type tcp; ignored`);
      }
    }
    return h;
  }

  /** Probe headers: a map { Name: value } or a list of { name, value }. */
  headers(v: unknown, path: Path): { name: string; value: string }[] | undefined {
    const c = this.c;
    const out: { name: string; value: string }[] = [];
    const check = (name: unknown, value: unknown, p: Path): void => {
      if (typeof name !== 'string' || !TOKEN_RE.test(name)) {
        c.bad(p, 'a header name (letters, digits, "-")', name);
      } else if (typeof value !== 'string' && typeof value !== 'number') {
        c.bad(p, 'a header value string', value);
      } else if (/[\r\n\0]/.test(String(value))) {
        c.bad(p, 'a header value without line breaks', value);
      } else {
        out.push({ name, value: String(value) });
      }
    };
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        const o = c.map(item, [...path, i], 'a map { name, value }', false);
        if (!o) return;
        c.keys(o, [...path, i], ['name', 'value'], 'a header');
        check(o.name, o.value, [...path, i]);
      });
    } else if (isObj(v)) {
      for (const [name, value] of Object.entries(v)) check(name, value, [...path, name]);
    } else {
      return c.bad(path, 'a map of header names to values', v);
    }
    return out;
  }

  cookie(v: unknown, path: Path): CookieConfig | null | undefined {
    const c = this.c;
    if (v === null || v === false) return null;
    const o = typeof v === 'string' ? { name: v } : c.map(v, path, 'a cookie map { name, mode, ... } or a cookie name', false);
    if (!o) return undefined;
    if (typeof v !== 'string') c.keys(o, path, COOKIE_KEYS, 'cookie');
    const name = c.str(o, 'name', path, { re: TOKEN_RE, expected: 'a cookie name' });
    if (name === undefined) {
      if (!has(o, 'name')) c.error(path, 'missing required key "name"', 'a cookie name', 'nothing');
      return undefined;
    }
    return {
      name,
      mode: c.oneOf(o, 'mode', path, ['insert', 'rewrite', 'prefix'] as const) ?? 'insert',
      indirect: c.bool(o, 'indirect', path) ?? false,
      nocache: c.bool(o, 'nocache', path) ?? false,
      postonly: c.bool(o, 'postonly', path) ?? false,
      preserve: c.bool(o, 'preserve', path) ?? false,
      httponly: c.bool(o, 'httponly', path) ?? false,
      secure: c.bool(o, 'secure', path) ?? false,
      domain: c.nullableStr(o, 'domain', path, { re: /^[A-Za-z0-9.-]+$/, expected: 'a domain name' }) ?? null,
      maxidle: c.duration(o, 'maxidle', path) ?? 0,
      maxlife: c.duration(o, 'maxlife', path) ?? 0,
    };
  }

  /** `defaultCiphers`: global ssl_default_bind_ciphers, for ssl binds without their own */
  binds(v: unknown, path: Path, defaultCiphers: string | null = null, mixedOk = false, defaultEngine: 'uws' | 'node' = 'uws'): BindAddress[] {
    const c = this.c;
    const out: BindAddress[] = [];
    const expected = '"ADDR:PORT" such as "*:80", "127.0.0.1:8080" or "[::]:443", or { address, ssl: true, crt: FILE_OR_DIR }';
    if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) return out;
    const seen = new Set<string>();
    asList(v).forEach((item, i) => {
      const p = Array.isArray(v) ? [...path, i] : path;
      let text: string;
      let tls: BindTls | undefined = { ssl: false, certs: [], sslMinVer: null, ciphers: null };
      let engine: 'uws' | 'node' | null = null;
      let acceptProxy = false;
      if (isObj(item)) {
        c.keys(item, p, BIND_KEYS, 'bind');
        engine = c.oneOf(item, 'engine', p, ENGINES) ?? null;
        acceptProxy = c.bool(item, 'accept_proxy', p) ?? false;
        const a = c.str(item, 'address', p, { expected: '"ADDR:PORT"' });
        if (a === undefined) {
          if (!has(item, 'address')) c.error(p, 'missing required key "address"', '"ADDR:PORT" such as "*:443"', 'nothing');
          return;
        }
        text = a;
        tls = this.bindTls(item, p);
      } else if (typeof item === 'string') {
        text = item;
      } else {
        c.bad(p, expected, item);
        return;
      }
      const hp = parseHostPort(text.trim(), true);
      if (typeof hp === 'string') {
        c.error(isObj(item) ? [...p, 'address'] : p, `invalid bind address: ${hp}`, expected, describeValue(text));
        return;
      }
      if (tls === undefined) return;
      const key = `${hp.host}|${hp.port}`;
      if (seen.has(key)) {
        c.error(p, `duplicate bind "${text}" in the same section`);
        return;
      }
      seen.add(key);
      if (tls.ssl && tls.ciphers === null) tls.ciphers = defaultCiphers;
      if (tls.ssl && engine === 'node') c.error([...p, 'engine'], 'TLS is not served by the node engine yet: an ssl bind runs on uWebSockets.js', 'engine: uws (or no engine) on an ssl bind', '"node"');
      if (acceptProxy && (engine ?? defaultEngine) !== 'node') c.error([...p, 'accept_proxy'], 'accept-proxy needs the node engine on this bind (uWebSockets.js cannot read a PROXY header)', 'engine: node (on the bind or in global)', `"${engine ?? defaultEngine}"`);
      out.push({ host: hp.host, port: hp.port, text, ...tls, engine, acceptProxy });
    });
    // One uWS app serves all binds of a frontend, and an app is either TLS or plain: a frontend
    // (not a listen) that mixes them becomes two (see the caller); a listen cannot.
    if (!mixedOk && out.some((x) => x.ssl) && out.some((x) => !x.ssl)) {
      c.error(path, 'a listen section cannot mix ssl and plain binds: use a frontend (gatehouse runs its ssl binds as a twin frontend) or put them in separate sections', 'all binds ssl, or none', out.map((x) => `"${x.text}"${x.ssl ? ' ssl' : ''}`).join(', '));
    } else if (new Set(out.filter((x) => x.ssl).map((x) => x.ciphers)).size > 1) {
      // ...and an app has one TLS context (and its SNI certificates) for all its binds.
      c.error(path, 'the ssl binds of one frontend must use the same ciphers: put binds with other ciphers in another frontend', 'one cipher list', out.map((x) => `"${x.text}": ${x.ciphers ?? 'default'}`).join(', '));
    }
    return out;
  }

  /** The TLS part of a bind map: `ssl`, `crt` (files or directories), `ssl_min_ver`, `ciphers`. Undefined on error. */
  private bindTls(o: Obj, p: Path): BindTls | undefined {
    const c = this.c;
    const before = c.errors.length;
    const ssl = c.bool(o, 'ssl', p) ?? false;
    const sslMinVer = c.nullableStr(o, 'ssl_min_ver', p) ?? null;
    const ciphers = this.ciphers(o, 'ciphers', p);
    if (!ssl && ciphers !== null) c.error([...p, 'ciphers'], '"ciphers" without "ssl: true"', 'ssl: true', describeValue(o.ssl ?? false));
    const certs: string[] = [];
    if (sslMinVer !== null) {
      if (!SSL_VERSIONS.includes(sslMinVer)) {
        c.error([...p, 'ssl_min_ver'], 'invalid value', `one of ${SSL_VERSIONS.join(', ')}`, describeValue(sslMinVer));
      } else if (sslMinVer === 'TLSv1.3') {
        c.error([...p, 'ssl_min_ver'], 'ssl_min_ver TLSv1.3 is not supported: uWebSockets.js 20.30 cannot raise the minimum TLS version above TLSv1.2', 'SSLv3, TLSv1.0, TLSv1.1 or TLSv1.2', '"TLSv1.3"');
      } else if (sslMinVer !== 'TLSv1.2') {
        c.warn([...p, 'ssl_min_ver'], `ssl_min_ver ${sslMinVer} has no effect: uWebSockets.js always requires TLSv1.2 or later`);
      }
    }
    const hasCrt = has(o, 'crt') && o.crt !== null && !(Array.isArray(o.crt) && o.crt.length === 0);
    if (ssl && !hasCrt) {
      c.error(p, 'an ssl bind needs a certificate: "crt" is missing', 'crt: a PEM file (certificate chain and private key) or a directory of them', 'nothing');
    } else if (!ssl && hasCrt) {
      c.error([...p, 'crt'], '"crt" without "ssl: true": the certificate would not be used', 'ssl: true', describeValue(o.ssl ?? false));
    } else if (!ssl && sslMinVer !== null) {
      c.error([...p, 'ssl_min_ver'], '"ssl_min_ver" without "ssl: true"', 'ssl: true', describeValue(o.ssl ?? false));
    }
    if (ssl && hasCrt) {
      asList(o.crt).forEach((f, i) => {
        const fp = Array.isArray(o.crt) ? [...p, 'crt', i] : [...p, 'crt'];
        if (typeof f !== 'string' || f === '') {
          c.bad(fp, 'a PEM file or a directory of PEM files', f);
          return;
        }
        for (const file of expandCrt(f)) {
          if (file.startsWith('!')) {
            c.error(fp, file.slice(1), 'a PEM file with the certificate chain and its private key, or a directory of *.pem files', `"${f}"`);
            continue;
          }
          const problem = checkPemFile(file);
          if (problem.error) c.error(fp, `certificate ${file}: ${problem.error}`, 'a PEM file with the certificate chain and its matching private key', `"${file}"`);
          else {
            if (problem.warning) c.warn(fp, `certificate ${file}: ${problem.warning}`);
            const abs = nodePath.resolve(file);
            if (!certs.includes(abs)) certs.push(abs);
          }
        }
      });
    }
    return c.errors.length === before ? { ssl, certs, sslMinVer, ciphers } : undefined;
  }

  stats(v: unknown, path: Path): StatsConfig | null {
    const c = this.c;
    if (v === null || v === false) return null;
    const o = v === true ? {} : c.map(v, path, 'a stats map { enable, uri, auth, ... } or true', false);
    if (!o) return null;
    c.keys(o, path, STATS_KEYS, 'stats');
    const enable = c.bool(o, 'enable', path) ?? true; // like HAProxy, `stats uri` alone enables stats
    const uri = c.str(o, 'uri', path, { re: /^\/[\x21-\x7e]*$/, expected: 'a path starting with "/" without spaces' });
    const auth: { user: string; password: string }[] = [];
    if (has(o, 'auth') && o.auth !== null) {
      asList(o.auth).forEach((a, i) => {
        const p = Array.isArray(o.auth) ? [...path, 'auth', i] : [...path, 'auth'];
        const colon = typeof a === 'string' ? a.indexOf(':') : -1;
        if (typeof a !== 'string' || colon < 1) {
          c.bad(p, '"USER:PASSWORD"', a);
          return;
        }
        auth.push({ user: a.slice(0, colon), password: a.slice(colon + 1) });
      });
    }
    let prometheus: string | null = null;
    if (has(o, 'prometheus')) {
      const pv = o.prometheus;
      if (pv === true) prometheus = DEFAULT_PROMETHEUS_URI;
      else if (pv === false || pv === null) prometheus = null;
      else prometheus = c.str(o, 'prometheus', path, { re: /^\/[\x21-\x7e]*$/, expected: 'true, false or a path starting with "/"' }) ?? null;
    }
    const admin = c.bool(o, 'admin', path) ?? false;
    if (enable && admin && auth.length === 0 && !(has(o, 'auth') && o.auth !== null)) {
      c.warn([...path, 'admin'], 'admin actions are enabled without auth: anyone who reaches the stats page can change servers');
    }
    const stats: StatsConfig = {
      enable,
      uri: uri ?? DEFAULT_STATS_URI,
      auth,
      realm: c.str(o, 'realm', path) ?? DEFAULT_STATS_REALM,
      refresh: c.duration(o, 'refresh', path) ?? 0,
      hideVersion: c.bool(o, 'hide_version', path) ?? false,
      admin,
      prometheus,
    };
    // Consumers test `stats !== null`; a disabled block is the same as none.
    return enable ? stats : null;
  }

  servers(v: unknown, path: Path, fastinterFromInter: boolean, downinterFromInter: boolean): ServerConfig[] {
    const c = this.c;
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) {
      c.bad(path, 'a list of servers, each { name, address, ... }', v);
      return [];
    }
    const out: ServerConfig[] = [];
    const names = new Map<string, number>();
    v.forEach((item, i) => {
      const p: Path = [...path, i];
      const o = c.map(item, p, 'a server map { name, address, ... }', false);
      if (!o) return;
      c.keys(o, p, SERVER_KEYS, 'a server');
      const name = c.str(o, 'name', p, { re: NAME_RE, expected: NAME_EXPECTED });
      if (!has(o, 'name')) c.error(p, 'missing required key "name"', NAME_EXPECTED, 'nothing');
      if (name !== undefined) {
        const prev = names.get(name);
        if (prev !== undefined) c.error([...p, 'name'], `duplicate server name "${name}" (also servers[${prev}])`);
        else names.set(name, i);
      }
      let host: string | undefined;
      let port: number | undefined;
      const addrExpected = '"HOST:PORT" such as "192.168.1.10:80" or "[::1]:8080"';
      if (!has(o, 'address')) {
        c.error(p, 'missing required key "address"', addrExpected, 'nothing');
      } else if (typeof o.address !== 'string') {
        c.bad([...p, 'address'], addrExpected, o.address);
      } else {
        const hp = parseHostPort(o.address.trim(), false);
        if (typeof hp === 'string') c.error([...p, 'address'], `invalid server address: ${hp}`, addrExpected, describeValue(o.address));
        else ({ host, port } = hp);
      }
      const checkAddr = c.str(o, 'addr', p, { expected: 'an IP address or host name' });
      if (checkAddr !== undefined && !validHost(checkAddr)) c.bad([...p, 'addr'], 'an IP address or host name', checkAddr);
      const inter = c.duration(o, 'inter', p, 1) ?? null;
      let fastinter = c.duration(o, 'fastinter', p, 1) ?? null;
      let downinter = c.duration(o, 'downinter', p, 1) ?? null;
      // HAProxy: fastinter and downinter default to the server's own inter.
      if (inter !== null && fastinter === null && fastinterFromInter) fastinter = inter;
      if (inter !== null && downinter === null && downinterFromInter) downinter = inter;
      if (name === undefined || host === undefined || port === undefined) {
        // Still read the remaining keys so their errors are reported too.
        this.serverRest(o, p);
        return;
      }
      out.push({
        name,
        host,
        port,
        address: String(o.address),
        inter,
        fastinter,
        downinter,
        checkAddr: checkAddr !== undefined && validHost(checkAddr) ? checkAddr : null,
        ...this.serverRest(o, p),
      });
    });
    return out;
  }

  /** agent_check / agent_port / agent_addr / agent_inter / agent_send (HAProxy's agent-*). */
  private agent(o: Obj, p: Path): { agent?: ServerConfig['agent'] } {
    const c = this.c;
    const on = c.bool(o, 'agent_check', p) ?? false;
    const port = c.int(o, 'agent_port', p, 1, 65535);
    const addr = c.str(o, 'agent_addr', p, { re: /^[A-Za-z0-9_.:-]+$/, expected: 'an IP address or host name' });
    const inter = c.duration(o, 'agent_inter', p, 1);
    const send = c.str(o, 'agent_send', p);
    if (!on) {
      for (const k of ['agent_port', 'agent_addr', 'agent_inter', 'agent_send']) if (has(o, k)) c.warn([...p, k], `"${k}" has no effect without agent_check: true`);
      return {};
    }
    if (port === undefined) {
      c.error([...p, 'agent_check'], 'agent_check needs agent_port', 'agent_port: PORT', 'nothing');
      return {};
    }
    return { agent: { port, addr: addr ?? null, inter: inter ?? 2000, send: send ?? null } };
  }

  private serverRest(o: Obj, p: Path): Omit<ServerConfig, 'name' | 'host' | 'port' | 'address' | 'inter' | 'fastinter' | 'downinter' | 'checkAddr'> {
    const c = this.c;
    return {
      weight: c.int(o, 'weight', p, 0, 256) ?? 1,
      check: c.bool(o, 'check', p) ?? false,
      backup: c.bool(o, 'backup', p) ?? false,
      maxconn: c.int(o, 'maxconn', p, 0, 10_000_000) ?? 0,
      cookie: c.nullableStr(o, 'cookie', p, { re: /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/, expected: 'a cookie value without spaces, "," or ";"' }) ?? null,
      rise: c.int(o, 'rise', p, 1, 1000) ?? null,
      fall: c.int(o, 'fall', p, 1, 1000) ?? null,
      checkPort: c.int(o, 'port', p, 1, 65535) ?? null,
      observe: c.oneOf(o, 'observe', p, ['none', 'layer4', 'layer7'] as const) ?? 'none',
      errorLimit: c.int(o, 'error_limit', p, 1, 1_000_000) ?? 10,
      onError: c.oneOf(o, 'on_error', p, ['fastinter', 'fail-check', 'sudden-death', 'mark-down'] as const) ?? 'fail-check',
      disabled: c.bool(o, 'disabled', p) ?? false,
      ...((): { slowstart?: number } => {
        const ss = c.duration(o, 'slowstart', p);
        return ss ? { slowstart: ss } : {};
      })(),
      ...this.agent(o, p),
    };
  }
}

/**
 * stdout, stderr, file:PATH, unix:PATH, udp://HOST[:PORT]; also HAProxy's own spellings, as the
 * log sink reads them: /PATH (unix socket), IP[:PORT] and HOST:PORT (UDP syslog, port 514 by default).
 */
function logTargetProblem(t: string): string | null {
  if (t === 'stdout' || t === 'stderr') return null;
  if (/^(file|unix):./.test(t) || t.startsWith('/')) return null;
  const udp = t.startsWith('udp://') ? t.slice(6) : t;
  if (isIP(udp) !== 0 || (t !== udp && validHost(udp))) return null;
  if (udp.includes(':')) {
    const hp = parseHostPort(udp, false);
    return typeof hp === 'string' ? `invalid UDP log target: ${hp}` : null;
  }
  return `unknown log target${didYouMean(t, ['stdout', 'stderr'])}`;
}

/** "200-399", "200,204", 200, or a list of these -> inclusive ranges; a string is the problem. */
function expectStatus(v: unknown): [number, number][] | string {
  const out: [number, number][] = [];
  const parts: unknown[] = [];
  for (const item of asList(v)) {
    if (typeof item === 'string') parts.push(...item.split(','));
    else parts.push(item);
  }
  if (parts.length === 0) return 'no status given';
  for (const part of parts) {
    let lo: number;
    let hi: number;
    if (typeof part === 'number') {
      lo = hi = part;
    } else if (typeof part === 'string') {
      const m = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(part);
      if (!m) return `"${part.trim()}" is not a status or range`;
      lo = Number(m[1]);
      hi = m[2] === undefined ? lo : Number(m[2]);
    } else {
      return 'not a status';
    }
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 100 || hi > 599 || lo > hi) {
      return `${lo === hi ? lo : `${lo}-${hi}`} is not a status range within 100-599`;
    }
    out.push([lo, hi]);
  }
  return out;
}

// ---- assembly ----

interface Proxy {
  kind: 'frontend' | 'backend' | 'listen';
  name: string;
  path: Path;
  raw: Obj;
  settings: Settings;
}

export function buildModel(doc: unknown, src: SourceMap): { config: Config; warnings: ConfigIssue[] } {
  const c = new Checker(src);
  const b = new Builder(c);

  if (doc === null || doc === undefined) {
    c.error([], 'the configuration is empty', 'at least one frontend or listen section', 'nothing');
    throw new ConfigError(c.errors);
  }
  const top = c.map(doc, [], 'a map with global, defaults, frontends, backends, listen', false);
  if (!top) throw new ConfigError(c.errors);
  c.keys(top, [], TOP_KEYS, 'the top level');

  const global = b.global(top.global);

  const defaultsObj = c.map(top.defaults, ['defaults'], 'a map of default settings');
  let defaults: Settings = { timeouts: {}, health: {} };
  if (defaultsObj) {
    c.keys(defaultsObj, ['defaults'], COMMON_KEYS, 'defaults');
    defaults = b.settings(defaultsObj, ['defaults'], 'defaults');
  }

  // Read every named section; names are validated where they are written (as map keys).
  const proxies: Proxy[] = [];
  const sections: [key: 'frontends' | 'backends' | 'listen', kind: Proxy['kind'], allowed: readonly string[], label: string][] = [
    ['frontends', 'frontend', FRONTEND_KEYS, 'a frontend'],
    ['backends', 'backend', BACKEND_KEYS, 'a backend'],
    ['listen', 'listen', LISTEN_KEYS, 'a listen section'],
  ];
  for (const [key, kind, allowed, label] of sections) {
    const group = c.map(top[key], [key], `a map of ${kind} names to their settings`);
    if (!group) continue;
    for (const [name, body] of Object.entries(group)) {
      const path: Path = [key, name];
      if (!NAME_RE.test(name) || name === '__proto__') c.add('error', path, `invalid ${kind} name`, NAME_EXPECTED, `"${name}"`, true);
      const raw = c.map(body, path, `${label} map`);
      if (!raw) continue;
      c.keys(raw, path, allowed, label);
      proxies.push({ kind, name, path, raw, settings: b.settings(raw, path, kind) });
    }
  }

  // Names: a listen is both a frontend and a backend, so it may share its name with neither.
  // A frontend and a backend may share a name (common in HAProxy configs).
  const feNames = new Map<string, Proxy>();
  const beNames = new Map<string, Proxy>();
  for (const p of proxies) {
    const clash = (p.kind !== 'backend' && feNames.get(p.name)) || (p.kind !== 'frontend' && beNames.get(p.name));
    if (clash) {
      c.add('error', p.path, `duplicate name "${p.name}": already used by ${clash.kind} ${formatPath(clash.path)}`, '', '', true);
      continue;
    }
    if (p.kind !== 'backend') feNames.set(p.name, p);
    if (p.kind !== 'frontend') beNames.set(p.name, p);
  }

  const frontends: FrontendConfig[] = [];
  const backends: BackendConfig[] = [];
  const defaultBackendRefs: { fe: FrontendConfig; ref: { name: string; path: Path } }[] = [];
  const useBackendRefs: { fe: FrontendConfig; ref: BackendRef }[] = [];
  for (const p of proxies) {
    const s = p.settings;
    const refs: BackendRef[] = [];
    const rules = readRules(c, p.raw, p.path, p.kind, refs);
    const d = defaults;
    const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...d.timeouts, ...s.timeouts };
    // HAProxy applies `timeout tunnel` to a TCP stream only when written (the 1h default is for WebSocket)
    if ((s.mode ?? d.mode) === 'tcp' && s.timeouts.tunnel === undefined && d.timeouts.tunnel === undefined) timeouts.tunnel = 0;
    let servers: ServerConfig[] = [];
    if (p.kind !== 'frontend') {
      const hcPartial: Partial<HealthCheckConfig> = { ...d.health, ...s.health };
      const hc: HealthCheckConfig = { ...DEFAULT_HEALTH_CHECK, ...hcPartial };
      // HAProxy: fastinter and downinter default to inter.
      if (hcPartial.fastinter === undefined) hc.fastinter = hc.inter;
      if (hcPartial.downinter === undefined) hc.downinter = hc.inter;
      if (hcPartial.type === undefined && HTTP_CHECK_KEYS.some((k) => hcPartialHas(hcPartial, k))) hc.type = 'http';
      servers = b.servers(p.raw.servers, [...p.path, 'servers'], hcPartial.fastinter === undefined, hcPartial.downinter === undefined);
      const balance = s.balance ?? d.balance ?? { alg: 'roundrobin' as const, header: null };
      const cookie = s.cookie !== undefined ? s.cookie : d.cookie !== undefined ? d.cookie : null;
      if (!cookie) {
        const raw = Array.isArray(p.raw.servers) ? (p.raw.servers as unknown[]) : [];
        for (const sv of servers) {
          if (sv.cookie === null) continue;
          // Index in the written list (invalid servers are not in `servers`).
          const i = raw.findIndex((x) => isObj(x) && x.name === sv.name);
          c.warn([...p.path, 'servers', i, 'cookie'], `server cookie "${sv.cookie}" has no effect: ${p.kind} "${p.name}" sets no cookie`);
        }
      }
      const tcpCheck = s.tcpCheck !== undefined ? s.tcpCheck : d.tcpCheck;
      backends.push({
        name: p.name,
        fromListen: p.kind === 'listen',
        mode: s.mode ?? d.mode ?? 'http',
        ...(tcpCheck ? { tcpCheck } : {}),
        balance: balance.alg,
        balanceHeader: balance.header,
        ...((s.hashType ?? d.hashType) ? { hashType: s.hashType ?? d.hashType } : {}),
        ...errorPagesOf(s, d),
        timeouts,
        retries: s.retries ?? d.retries ?? DEFAULT_RETRIES,
        retryOn: s.retryOn ?? d.retryOn ?? DEFAULT_RETRY_ON,
        redispatch: s.redispatch ?? d.redispatch ?? false,
        ...forwardfor(s, d),
        persist: s.persist ?? d.persist ?? false,
        allbackups: s.allbackups ?? d.allbackups ?? false,
        healthCheck: hc,
        cookie,
        servers,
        // a listen runs its rules once, as a frontend; a backend never switches backends
        ...(rules ? { rules: { ...rules, useBackend: [] } } : {}),
      });
    }
    if (p.kind !== 'backend') {
      const bindPath = [...p.path, 'bind'];
      const errorsBefore = c.errors.length;
      const binds = b.binds(p.raw.bind, bindPath, global.sslDefaultBindCiphers, p.kind === 'frontend', global.engine);
      if (binds.length === 0 && c.errors.length === errorsBefore) {
        const at = has(p.raw, 'bind') ? bindPath : p.path;
        c.add('error', at, `${p.kind} "${p.name}" needs at least one bind address`, '"ADDR:PORT" such as "*:80"', has(p.raw, 'bind') ? describeValue(p.raw.bind) : 'nothing', true);
      }
      const stats = has(p.raw, 'stats') ? b.stats(p.raw.stats, [...p.path, 'stats']) : null;
      if (stats !== null && stats.enable && binds.some((x) => x.ssl)) {
        // the stats page is served by the primary thread over plain node:http
        c.error([...p.path, 'stats'], `the stats page cannot be served on an ssl bind yet: give ${p.kind} "${p.name}" plain binds (for example 127.0.0.1 only)`, 'plain binds', 'ssl binds');
      }
      const logs = s.logs ?? d.logs ?? 'global';
      const fe: FrontendConfig = {
        name: p.name,
        fromListen: p.kind === 'listen',
        binds,
        defaultBackend: null,
        mode: s.mode ?? d.mode ?? 'http',
        timeouts,
        maxconn: s.maxconn ?? d.maxconn ?? global.maxconn,
        ...forwardfor(s, d),
        httplog: s.httplog ?? d.httplog ?? false,
        logFormat: s.logFormat ?? d.logFormat ?? 'httplog',
        ...((): { logFormatCustom?: string } => {
          const custom = s.logFormatCustom !== undefined ? s.logFormatCustom : d.logFormatCustom;
          return custom ? { logFormatCustom: custom } : {};
        })(),
        dontlognull: s.dontlognull ?? d.dontlognull ?? false,
        logs: logs === 'global' ? global.logs.map((l) => ({ ...l })) : logs,
        stats,
        ...errorPagesOf(s, d),
        ...(rules ? { rules } : {}),
      };
      const tcplog = s.tcplog ?? d.tcplog;
      if (tcplog !== undefined) fe.tcplog = tcplog;
      const tcpRequest = readTcpRequest(c, p.raw.tcp_request, [...p.path, 'tcp_request'], rules);
      if (tcpRequest) fe.tcpRequest = tcpRequest;
      frontends.push(fe);
      // A frontend with plain and ssl binds runs as two: "NAME" on the plain binds and "NAME~" (the
      // name HAProxy's %ft gives its ssl side) on the ssl ones, with the same rules and backends,
      // so each knows whether its requests came over TLS (ssl_fc, X-Forwarded-Proto).
      const twins = [fe];
      if (binds.some((x) => x.ssl) && binds.some((x) => !x.ssl)) {
        const twin: FrontendConfig = { ...fe, name: `${p.name}~`, binds: binds.filter((x) => x.ssl) };
        fe.binds = binds.filter((x) => !x.ssl);
        frontends.push(twin);
        twins.push(twin);
        c.warn(bindPath, `${p.kind} "${p.name}" mixes plain and ssl binds: its ssl binds run as frontend "${p.name}~" (same rules and backends; a separate row in the stats)`);
      }
      for (const t of twins) for (const ref of refs) useBackendRefs.push({ fe: t, ref });
      // A listen's own default_backend wins, then its own servers, then the inherited default_backend.
      const ref = s.defaultBackend ?? (p.kind === 'listen' && servers.length > 0 ? { name: p.name, path: p.path } : d.defaultBackend);
      if (ref) for (const t of twins) defaultBackendRefs.push({ fe: t, ref });
      else if (!stats && !(rules && (rules.useBackend.length > 0 || rules.httpRequest.length > 0 || rules.redirects.length > 0))) c.warn(p.path, `${p.kind} "${p.name}" has no default_backend: every request will be answered 503`, true);
      // (an inherited default_backend does not count: a stats listen section often inherits one)
      const ownRoute = s.defaultBackend !== undefined || (p.kind === 'listen' && servers.length > 0) || (rules?.useBackend.length ?? 0) > 0;
      if (stats !== null && stats.enable && ownRoute) {
        // HAProxy serves the stats page and forwards the other requests; gatehouse's stats listener
        // (node:http on the primary) only serves the page
        c.warn([...p.path, 'stats'], `${p.kind} "${p.name}" has stats enabled: gatehouse serves only the stats page on its binds, so requests for other paths get 404 and do not reach ${ref ? `backend "${ref.name}"` : 'its use_backend backends'}; give the stats page its own frontend or listen section`);
      }
    }
  }

  // Cross references.
  const backendNames = backends.map((x) => x.name);
  for (const { fe, ref } of defaultBackendRefs) {
    if (backendNames.includes(ref.name)) {
      fe.defaultBackend = ref.name;
      continue;
    }
    const why = feNames.has(ref.name) && !beNames.has(ref.name) ? ` ("${ref.name}" is a frontend)` : didYouMean(ref.name, backendNames);
    c.error(ref.path, `default_backend of ${fe.fromListen ? 'listen' : 'frontend'} "${fe.name}" names no backend${why}`, backendNames.length ? `one of ${backendNames.join(', ')}` : 'a backend defined under backends or listen', `"${ref.name}"`);
  }
  for (const { fe, ref } of useBackendRefs) {
    if (backendNames.includes(ref.name)) continue;
    const why = feNames.has(ref.name) && !beNames.has(ref.name) ? ` ("${ref.name}" is a frontend)` : didYouMean(ref.name, backendNames);
    c.error(ref.path, `use_backend of ${fe.fromListen ? 'listen' : 'frontend'} "${fe.name}" names no backend${why}`, backendNames.length ? `one of ${backendNames.join(', ')}` : 'a backend defined under backends or listen', `"${ref.name}"`);
  }
  checkModes(c, proxies, frontends, backends);
  // (A listen without servers either routes elsewhere, serves stats, or got the warning above.)
  for (const p of proxies) {
    const sv = p.raw.servers;
    if (p.kind !== 'backend' || (sv !== undefined && sv !== null && !(Array.isArray(sv) && sv.length === 0))) continue;
    c.warn(p.path, `backend "${p.name}" has no server: requests sent to it will be answered 503`, true);
  }
  // Binds of different frontends must not overlap: with SO_REUSEPORT both would listen and the
  // kernel would split connections between them.
  const owners: { fe: FrontendConfig; bind: BindAddress; index: number }[] = [];
  for (const fe of frontends) {
    const p = proxies.find((x) => x.kind !== 'backend' && x.name === fe.name);
    fe.binds.forEach((bind, index) => {
      const other = owners.find((o) => o.fe !== fe && o.bind.port === bind.port && (o.bind.host === bind.host || isWildcard(o.bind.host) || isWildcard(bind.host)));
      if (other && p) {
        const bp = Array.isArray(p.raw.bind) ? [...p.path, 'bind', index] : [...p.path, 'bind'];
        c.error(bp, `bind "${bind.text}" overlaps bind "${other.bind.text}" of ${other.fe.fromListen ? 'listen' : 'frontend'} "${other.fe.name}"`, 'a distinct address or port', `"${bind.text}"`);
      }
      owners.push({ fe, bind, index });
    });
  }
  if (frontends.length === 0 && proxies.every((p) => p.kind === 'backend')) {
    c.error([], 'no frontend or listen section: nothing would accept connections', 'at least one frontend or listen section', 'none');
  }

  const stick = buildStick(c, top, proxies, frontends, backends); // stick tables and peers (src/config/stick.ts)

  // uWS's fixed 10 s timers concern only binds on uWS: without one, that warning is wrong
  // (the node engine applies http_request and http_keep_alive as configured).
  if (!frontends.some((fe) => fe.binds.some((b) => b.ssl || (b.engine ?? global.engine) === 'uws'))) {
    const kept = c.warnings.filter((w) => !w.message.includes(UWS_TIMER_NOTE));
    c.warnings.length = 0;
    c.warnings.push(...kept);
  }

  // Warnings ride along after the errors so `gatehouse -c` shows everything at once.
  if (c.errors.length) throw new ConfigError([...sortIssues(c.errors), ...sortIssues(c.warnings)]);
  return { config: { sources: [src.file], global, frontends, backends, ...(stick ? { stick } : {}) }, warnings: sortIssues(c.warnings) };
}

/** A proxy's error pages: the defaults' ones, overridden status by status by its own. */
function errorPagesOf(s: Settings, d: Settings): { errorPages?: Record<string, CustomErrorPage> } {
  const pages = { ...(d.errorPages ?? {}), ...(s.errorPages ?? {}) };
  return Object.keys(pages).length ? { errorPages: pages } : {};
}

/** Source order, so the report reads top to bottom (the sort is stable for equal positions). */
function sortIssues(list: ConfigIssue[]): ConfigIssue[] {
  const fileRank = new Map<string, number>();
  for (const i of list) if (!fileRank.has(i.file)) fileRank.set(i.file, fileRank.size);
  const rank = (i: ConfigIssue): number => fileRank.get(i.file) ?? 0;
  return [...list].sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.col - b.col);
}

function hcPartialHas(h: Partial<HealthCheckConfig>, yamlKey: (typeof HTTP_CHECK_KEYS)[number]): boolean {
  const modelKey: Record<(typeof HTTP_CHECK_KEYS)[number], keyof HealthCheckConfig> = {
    method: 'method', uri: 'uri', version: 'version', host: 'host', headers: 'headers',
    expect_status: 'expectStatus', expect_string: 'expectString',
  };
  return h[modelKey[yamlKey]] !== undefined;
}
