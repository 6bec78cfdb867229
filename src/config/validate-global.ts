// Validator, global section: first link of the Builder chain (global, stats sockets, ciphers, logs).
import * as os from 'node:os';
import { H2_DEFAULTS, type H2Settings, type StatsSocketConfig, type ForwardForOptions, type GlobalConfig, type LogTarget } from './model';
import { parseIpv4Pattern, parseIpv6Pattern, type IpNet } from '../acl/ip';
import { describeValue } from './errors';
import {
  Path,
  Obj,
  GLOBAL_KEYS,
  STATS_SOCKET_KEYS,
  FORWARDFOR_KEYS,
  DEFAULT_STATS_TIMEOUT_MS,
  LOG_KEYS,
  ENGINES,
  forwardfor,
  cipherListProblem,
  secureContextProblem,
  FACILITIES,
  LEVELS,
  TOKEN_RE,
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_MAX_HEADERS,
  DEFAULT_MAX_ACCEPT,
  DEFAULT_GLOBAL_MAXCONN,
} from './validate-keys';
import { Checker, has, asList } from './validate-checker';
import { logTargetProblem } from './validate-values';
import { DEFAULT_SERVER_TLS, serverTlsDefaults, type ServerTlsDefaults } from './validate-server-tls';
import { parseDefaultBindOptions } from './tls-versions';

export class BuilderGlobal {
  constructor(protected readonly c: Checker) {}
  /** global ssl-server-verify / ssl-default-server-*, for every ssl server (set by global()) */
  protected serverTlsDefaults: ServerTlsDefaults = DEFAULT_SERVER_TLS;

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
    this.serverTlsDefaults = serverTlsDefaults(c, o, path);
    return {
      workers: workers ?? os.availableParallelism(),
      daemon: c.bool(o, 'daemon', path) ?? false,
      pidfile: pidfile ?? null,
      maxconn: c.int(o, 'maxconn', path, 1, 10_000_000) ?? DEFAULT_GLOBAL_MAXCONN,
      maxconnSet: has(o, 'maxconn'),
      logs: has(o, 'log') ? this.logs(o.log, [...path, 'log'], false) ?? [] : [],
      maxHeaderSize,
      maxHeaders: c.int(o, 'max_headers', path, 1, 10000) ?? DEFAULT_MAX_HEADERS,
      maxAccept: this.maxAccept(o, path),
      // HAProxy has no URI limit of its own: the request line must fit its buffer (tune.bufsize)
      maxUri: c.int(o, 'max_uri', path, 16, 16 * 1024 * 1024) ?? maxHeaderSize,
      gracePeriod: c.duration(o, 'grace', path) ?? DEFAULT_GRACE_MS,
      // GATEHOUSE_ENGINE: the default for configurations that name none (the test suite's engine matrix)
      engine: c.oneOf(o, 'engine', path, ENGINES) ?? (process.env.GATEHOUSE_ENGINE === 'node' ? 'node' : 'uws'),
      sslDefaultBindCiphers: this.ciphers(o, 'ssl_default_bind_ciphers', path),
      ...this.sslBindDefaults(o, path),
      statsSockets: has(o, 'stats_socket') ? this.statsSockets(o.stats_socket, [...path, 'stats_socket']) : [],
      statsTimeout: c.duration(o, 'stats_timeout', path, 1) ?? DEFAULT_STATS_TIMEOUT_MS,
      ...this.h2Settings(o, path),
    };
  }

  /** tune.maxaccept: -1 is HAProxy's "no limit" (what it means per engine: front-node/accept-burst.ts) */
  private maxAccept(o: Obj, path: Path): number {
    const v = this.c.int(o, 'max_accept', path, -1, 1_000_000);
    if (v === undefined) return DEFAULT_MAX_ACCEPT;
    if (v === 0) {
      this.c.error([...path, 'max_accept'], 'invalid value', '-1 (no limit) or a number from 1', '0');
      return DEFAULT_MAX_ACCEPT;
    }
    return v;
  }

  /** tune.h2.*: only when one is written (absent: HAProxy's defaults, H2_DEFAULTS) */
  private h2Settings(o: Obj, path: Path): { h2?: H2Settings } {
    const c = this.c;
    if (!has(o, 'h2_max_concurrent_streams') && !has(o, 'h2_initial_window_size') && !has(o, 'h2_header_table_size')) return {};
    return {
      h2: {
        maxConcurrentStreams: c.int(o, 'h2_max_concurrent_streams', path, 1, 0xffffffff) ?? H2_DEFAULTS.maxConcurrentStreams,
        initialWindowSize: c.int(o, 'h2_initial_window_size', path, 0, 0x7fffffff) ?? H2_DEFAULTS.initialWindowSize,
        headerTableSize: c.int(o, 'h2_header_table_size', path, 0, 65536) ?? H2_DEFAULTS.headerTableSize,
      },
    };
  }

  /** `{ except: NET, header: NAME, if_none: BOOL }` */
  protected forwardforOptions(o: Obj, path: Path): ForwardForOptions {
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
  protected statsSockets(v: unknown, path: Path): StatsSocketConfig[] {
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

  /** ssl_default_bind_ciphersuites and ssl_default_bind_options, only when given (checked here, applied per bind). */
  private sslBindDefaults(o: Obj, path: Path): { sslDefaultBindCiphersuites?: string; sslDefaultBindOptions?: string } {
    const c = this.c;
    const out: { sslDefaultBindCiphersuites?: string; sslDefaultBindOptions?: string } = {};
    const suites = c.nullableStr(o, 'ssl_default_bind_ciphersuites', path, { expected: 'TLSv1.3 suites such as TLS_AES_128_GCM_SHA256' });
    if (typeof suites === 'string') {
      const notSuite = suites.split(':').find((x) => !x.startsWith('TLS_'));
      const problem = notSuite !== undefined ? `'${notSuite}' is not a TLSv1.3 suite (those are named TLS_...)` : secureContextProblem({ ciphers: suites });
      if (problem !== null) c.error([...path, 'ssl_default_bind_ciphersuites'], `invalid TLSv1.3 cipher suites: ${problem}`, 'TLSv1.3 suites such as TLS_AES_128_GCM_SHA256', describeValue(suites));
      else out.sslDefaultBindCiphersuites = suites;
    }
    const opts = c.nullableStr(o, 'ssl_default_bind_options', path, { expected: 'bind options such as "ssl-min-ver TLSv1.2 no-tls-tickets"' });
    if (typeof opts === 'string') {
      const r = parseDefaultBindOptions(opts);
      if (typeof r === 'string') c.error([...path, 'ssl_default_bind_options'], r, 'ssl-min-ver, ssl-max-ver, no-sslv3, no-tlsv10..13, force-tlsv12/13, no-tls-tickets', describeValue(opts));
      else out.sslDefaultBindOptions = opts;
    }
    return out;
  }

  /** An OpenSSL cipher list at o[key] (null when absent), refused when it selects no cipher. */
  protected ciphers(o: Obj, key: string, path: Path): string | null {
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
}
