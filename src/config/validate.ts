// The shared validator: a YAML-shaped document (from the YAML reader or the haproxy.cfg reader)
// becomes the validated Config model. Every problem is collected, not just the first, and each
// names its source position through the reader's SourceMap.
import {
  type BackendConfig,
  type CustomErrorPage,
  type BindAddress,
  type Config,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_TIMEOUTS,
  type FrontendConfig,
  type HealthCheckConfig,
  type ServerConfig,
  type Timeouts,
} from './model';
import { ConfigError, type ConfigIssue, describeValue, formatPath, type SourceMap } from './errors';
import { didYouMean } from './suggest';
import { readRules, type BackendRef } from './validate-rules';
import { buildStick } from './stick';
import { buildResolvers } from './resolvers';
import { DEFAULT_RETRY_ON } from './retry-on';
import { checkModes, readTcpRequest } from './tcp';
import {
  Path,
  Obj,
  TOP_KEYS,
  COMMON_KEYS,
  FRONTEND_KEYS,
  BACKEND_KEYS,
  LISTEN_KEYS,
  HTTP_CHECK_KEYS,
  forwardfor,
  NAME_RE,
  NAME_EXPECTED,
  DEFAULT_RETRIES,
  UWS_TIMER_NOTE,
} from './validate-keys';
import { Checker, isObj, has, Settings } from './validate-checker';
import { isWildcard, expectStatus } from './validate-values';
import { Builder } from './validate-servers';
import { parseDefaultBindOptions } from './tls-versions';
export { TOP_KEYS, GLOBAL_KEYS, STATS_SOCKET_KEYS, FORWARDFOR_KEYS, COMMON_KEYS, FRONTEND_KEYS, BACKEND_KEYS, LISTEN_KEYS, TIMEOUT_KEYS, HEALTH_KEYS, SERVER_KEYS, COOKIE_KEYS, STATS_KEYS, LOG_KEYS, ENGINES, BIND_KEYS } from './validate-keys';
export { cipherListProblem } from './validate-keys';
export { checkPemFile } from './validate-values';

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
  const resolvers = buildResolvers(c, top); // before the servers that name them (src/config/resolvers.ts)
  b.resolverNames = new Set(resolvers.map((r) => r.name));

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
      if ((s.mode ?? d.mode) === 'tcp') {
        servers.forEach((sv, i) => {
          if (sv.tls?.sni?.kind === 'hdr') c.error([...p.path, 'servers', i, 'sni'], 'sni req.hdr() needs an HTTP request: this backend is mode tcp', 'sni str(NAME)', `hdr(${sv.tls.sni.name})`);
        });
      }
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
      // a backend's own stats page (a listen's is on its frontend side, below)
      const beStats = p.kind === 'backend' && has(p.raw, 'stats') ? b.stats(p.raw.stats, [...p.path, 'stats']) : null;
      if (beStats !== null && beStats.enable && (s.mode ?? d.mode) === 'tcp') {
        c.error([...p.path, 'stats'], `the stats page needs mode http: backend "${p.name}" is mode tcp`, 'mode http, or no stats', 'mode tcp');
      }
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
        ...(beStats !== null && beStats.enable ? { stats: beStats } : {}),
      });
    }
    if (p.kind !== 'backend') {
      const bindPath = [...p.path, 'bind'];
      const errorsBefore = c.errors.length;
      // mode tcp binds always run on node:net (src/worker/tcp-engine.ts), accept-proxy included
      const bindEngine = (s.mode ?? d.mode) === 'tcp' ? 'node' : global.engine;
      const defaultOptions = global.sslDefaultBindOptions ? parseDefaultBindOptions(global.sslDefaultBindOptions) : null;
      const tlsDefaults = { ciphersuites: global.sslDefaultBindCiphersuites ?? null, options: typeof defaultOptions === 'string' ? null : defaultOptions };
      const globalUws = bindEngine === 'uws' && isObj(top.global) && top.global.engine === 'uws';
      const binds = b.binds(p.raw.bind, bindPath, global.sslDefaultBindCiphers, p.kind === 'frontend', bindEngine, tlsDefaults, globalUws);
      if (binds.length === 0 && c.errors.length === errorsBefore) {
        const at = has(p.raw, 'bind') ? bindPath : p.path;
        c.add('error', at, `${p.kind} "${p.name}" needs at least one bind address`, '"ADDR:PORT" such as "*:80"', has(p.raw, 'bind') ? describeValue(p.raw.bind) : 'nothing', true);
      }
      const stats = has(p.raw, 'stats') ? b.stats(p.raw.stats, [...p.path, 'stats']) : null;
      // (an inherited default_backend does not count: a stats listen section often inherits one)
      const ownRoute = s.defaultBackend !== undefined || (p.kind === 'listen' && servers.length > 0) || (rules?.useBackend.length ?? 0) > 0;
      // a proxying frontend's binds are the workers' (any bind); a stats-only one is node:http in the primary
      const direct = stats !== null && stats.enable && !ownRoute;
      if (direct && binds.some((x) => x.ssl)) {
        // the stats page is served by the primary thread over plain node:http
        c.error([...p.path, 'stats'], `the stats page cannot be served on an ssl bind yet: give ${p.kind} "${p.name}" plain binds (for example 127.0.0.1 only)`, 'plain binds', 'ssl binds');
      }
      if (binds.some((x) => x.proto === 'h2')) {
        // HTTP/2 is served by the node engine's http path: not the tcp relay, not the stats page (primary thread, HTTP/1.1)
        if ((s.mode ?? d.mode) === 'tcp') c.error(bindPath, `proto h2 needs mode http: ${p.kind} "${p.name}" is mode tcp`, 'mode http, or no proto h2', 'mode tcp');
        else if (direct) c.error([...p.path, 'stats'], `the stats page cannot be served on a proto h2 bind yet: give ${p.kind} "${p.name}" HTTP/1.1 binds`, 'binds without proto h2', 'proto h2');
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
      if (stats !== null && stats.enable && ownRoute) {
        // HAProxy serves the stats page and forwards the other requests: the workers serve the
        // binds and send requests for the stats uri to the primary (src/stats/routed.ts)
        for (const t of twins) t.statsRouted = true;
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
  // (accept-proxy binds always run on the node engine)
  if (!frontends.some((fe) => fe.binds.some((b) => !b.acceptProxy && (b.ssl || (b.engine ?? global.engine) === 'uws')))) {
    const kept = c.warnings.filter((w) => !w.message.includes(UWS_TIMER_NOTE));
    c.warnings.length = 0;
    c.warnings.push(...kept);
  }

  // Warnings ride along after the errors so `gatehouse -c` shows everything at once.
  if (c.errors.length) throw new ConfigError([...sortIssues(c.errors), ...sortIssues(c.warnings)]);
  return { config: { sources: [src.file], global, frontends, backends, ...(stick ? { stick } : {}), ...(resolvers.length ? { resolvers } : {}) }, warnings: sortIssues(c.warnings) };
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
