// Validator, proxy settings: the inheritable settings of a section (balance, hash, health checks,
// cookie...).
import { parseRetryOn } from './retry-on';
import { type BackendConfig, type BalanceAlgorithm, type CookieConfig, type HealthCheckConfig } from './model';
import { describeValue } from './errors';
import { didYouMean } from './suggest';
import { readTcpCheck } from './tcp';
import { buildErrorPages } from './error-files';
import { compileLogFormat } from '../log/custom-format';
import {
  Path,
  Obj,
  BACKEND_SIDE,
  FRONTEND_SIDE,
  UWS_IDLE_MS,
  UWS_TIMER_NOTE,
  TIMEOUT_KEYS,
  HEALTH_KEYS,
  HTTP_CHECK_KEYS,
  COOKIE_KEYS,
  forwardfor,
  BALANCE_NAMES,
  NAME_RE,
  TOKEN_RE,
} from './validate-keys';
import { isObj, has, Settings, SectionKind } from './validate-checker';
import { expectStatus } from './validate-values';
import { BuilderGlobal } from './validate-global';

export class BuilderProxy extends BuilderGlobal {
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
}
