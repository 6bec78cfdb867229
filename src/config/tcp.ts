// `mode tcp` configuration: the YAML keys tcplog, tcp_request and tcp_check (the haproxy.cfg
// reader produces them from `option tcplog`, `tcp-request ...`, `tcp-check ...` and the protocol
// check options), and HAProxy's mode rules between frontends and backends. validate.ts calls
// these; they report through the same checker, at the key paths the cfg reader maps to lines.
import type {
  AclCondition, BackendConfig, FormatPart, FrontendConfig, HttpRule, ProxyRules, TcpCheckConfig, TcpCheckStep, TcpRequestRule, TcpRequestRules,
} from './model';
import { describeValue } from './errors';
import { parseDuration } from './duration';
import { didYouMean } from './suggest';
import { conditionStart, parseCondition } from '../acl/parse';
import { PAYLOAD_FETCHES, PREDEFINED_ACLS } from '../acl/fetches';
import { RuleSyntaxError, splitWords } from '../acl/words';
import type { RuleReporter } from './validate-rules';
import { compileLogFormat, usesSessionAddresses } from '../log/custom-format';
import { STICK_REQUEST_ACTIONS, parseStickAction, stickActionName } from '../rules/stick-actions';

type Path = (string | number)[];
type Obj = Record<string, unknown>;

export const TCP_CHECK_TYPES = ['tcp-check', 'ssl-hello', 'mysql', 'pgsql', 'redis', 'smtp'] as const;
const TCP_CHECK_KEYS = ['type', 'steps', 'user', 'post41', 'smtp_hello'];
const EXPECT_MATCHES = ['string', 'rstring', 'binary', 'rbinary'] as const;
/** tcp-check expect options HAProxy 2.6 has and gatehouse does not evaluate */
const EXPECT_UNSUPPORTED = ['ok-status', 'error-status', 'tout-status', 'on-success', 'on-error', 'status-code', 'string-lf', 'binary-lf'];

function has(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}
function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// ---- tcp_request ----

/**
 * `tcp_request: ["inspect-delay 5s", "content accept if { req.ssl_hello_type 1 }",
 * "connection reject if { src 10.0.0.0/8 }", "session track-sc0 src"]`: the words after
 * `tcp-request`. Session rules run after the PROXY header of an accept-proxy bind (HAProxy's
 * layer 5), connection rules before it.
 */
export function readTcpRequest(c: RuleReporter, v: unknown, path: Path, rules: ProxyRules | undefined): TcpRequestRules | undefined {
  if (v === null || v === undefined) return undefined;
  const out: TcpRequestRules = { inspectDelay: 0, connection: [], session: [], content: [] };
  const list = Array.isArray(v) ? v : [v];
  const acls = new Set((rules?.acls ?? []).map((a) => a.name));
  let sawContent = false;
  let sawSession = false;
  list.forEach((item, i) => {
    const p = Array.isArray(v) ? [...path, i] : path;
    if (typeof item !== 'string' || item.trim() === '') {
      c.error(p, 'invalid tcp-request rule', '"inspect-delay TIME", "content accept|reject [if|unless COND]" or "connection accept|reject [...]"', describeValue(item));
      return;
    }
    let w: string[];
    try {
      w = splitWords(item);
    } catch (e) {
      c.error(p, (e as Error).message);
      return;
    }
    const kind = w[0];
    if (kind === 'inspect-delay') {
      const ms = w.length === 2 ? parseDuration(w[1]) : null;
      if (ms === null) c.error(p, "'tcp-request inspect-delay' expects a duration", 'a duration such as 5s', describeValue(w.slice(1).join(' ') || 'nothing'));
      else out.inspectDelay = ms;
      return;
    }
    if (kind !== 'content' && kind !== 'connection' && kind !== 'session') {
      c.error(p, `unknown 'tcp-request' rule '${kind}'${didYouMean(kind, ['inspect-delay', 'content', 'connection', 'session'])}`, 'inspect-delay, connection, session or content', `"${kind}"`);
      return;
    }
    const action = w[1];
    const stick = stickActionName(action);
    const isStick = stick !== undefined && STICK_REQUEST_ACTIONS.includes(stick);
    if (action !== 'accept' && action !== 'reject' && !isStick) {
      const expected = `accept, reject, ${STICK_REQUEST_ACTIONS.join(', ')}`;
      if (action === undefined) c.error(p, `'tcp-request ${kind}' expects an action`, expected, 'nothing');
      else c.error(p, `'tcp-request ${kind} ${action}' is not supported by gatehouse yet`, expected, `"${action}"`);
      return;
    }
    const ci = conditionStart(w, 2);
    if (!isStick && ((ci < 0 && w.length > 2) || ci > 2)) {
      c.error(p, `unexpected '${w[2]}' after 'tcp-request ${kind} ${action}' (a condition starts with 'if' or 'unless')`);
      return;
    }
    let cond: AclCondition | null = null;
    if (ci >= 2) {
      try {
        cond = parseCondition(w.slice(ci), { side: 'req' });
      } catch (e) {
        if (!(e instanceof RuleSyntaxError)) throw e;
        c.error(p, e.message);
        return;
      }
      for (const group of cond.or) {
        for (const t of group) {
          if (t.name !== null && !acls.has(t.name) && !has(PREDEFINED_ACLS, t.name)) {
            c.error(p, `ACL "${t.name}" is not defined${didYouMean(t.name, [...acls])}`, 'an ACL declared in this section (acls) or a predefined one', `"${t.name}"`);
            return;
          }
        }
      }
      if (kind !== 'content' && usesPayload(cond, rules)) {
        // HAProxy refuses it too: nothing has been read when connection/session rules run
        c.error(p, `'tcp-request ${kind}' rules cannot use payload fetches (req.len, req.ssl_*): nothing has been received yet; use 'tcp-request content'`);
        return;
      }
    }
    let rule: TcpRequestRule;
    if (isStick) {
      // the same words as http-request's (src/rules/stick-actions.ts); the key is a sample
      // fetch read at this point of the connection
      const args = w.slice(2, ci < 0 ? w.length : ci);
      let r: HttpRule | null;
      try {
        r = parseStickAction(action, args, cond, 'req');
      } catch (e) {
        if (!(e instanceof RuleSyntaxError)) throw e;
        c.error(p, e.message);
        return;
      }
      if (r === null || (r.action !== 'track-sc' && r.action !== 'sc-inc-gpc' && r.action !== 'sc-set-gpt0')) return;
      if (r.action === 'track-sc' && formatUsesPayload(r.key)) {
        if (kind !== 'content') {
          c.error(p, `'tcp-request ${kind}' rules cannot use payload fetches (req.len, req.ssl_*): nothing has been received yet; use 'tcp-request content'`);
          return;
        }
        const k = r.key[0];
        if (r.key.length !== 1 || k.kind !== 'fetch' || k.conv.length > 0 || !TRACK_PAYLOAD_KEYS.includes(k.fetch)) {
          c.error(p, `'${action}' keys on the payload only as one of ${TRACK_PAYLOAD_KEYS.join(', ')} without converters in gatehouse yet`);
          return;
        }
      }
      rule = r;
    } else rule = { action: action as 'accept' | 'reject', cond };
    if (kind === 'content') {
      sawContent = true;
      out.content.push(rule);
    } else if (kind === 'session') {
      if (sawContent) c.warn(p, "a 'tcp-request session' rule placed after a 'tcp-request content' rule will still be processed before");
      sawSession = true;
      out.session.push(rule);
    } else {
      if (sawContent) c.warn(p, "a 'tcp-request connection' rule placed after a 'tcp-request content' rule will still be processed before");
      else if (sawSession) c.warn(p, "a 'tcp-request connection' rule placed after a 'tcp-request session' rule will still be processed before");
      out.connection.push(rule);
    }
  });
  return out;
}

/** payload fetches a tcp-request content track-scN may key on (src/tcp/inspect.ts reads them) */
export const TRACK_PAYLOAD_KEYS = ['req.ssl_sni', 'req.len', 'req.ssl_hello_type'];

/** Does a track-scN key read the payload? */
function formatUsesPayload(key: FormatPart[]): boolean {
  return key.some((k) => k.kind === 'fetch' && PAYLOAD_FETCHES.includes(k.fetch));
}

/** Does a condition read the payload (directly or through a named ACL)? */
export function usesPayload(cond: AclCondition | null, rules: ProxyRules | undefined): boolean {
  if (cond === null) return false;
  for (const group of cond.or) {
    for (const t of group) {
      const tests = t.tests ?? rules?.acls.find((a) => a.name === t.name)?.tests ?? [];
      if (tests.some((x) => PAYLOAD_FETCHES.includes(x.fetch))) return true;
    }
  }
  return false;
}

// ---- tcp_check ----

/** `tcp-check expect [min-recv N] [comment TEXT] [!] MATCH PATTERN` words (after `expect`). */
export function parseExpectWords(w: readonly string[]): TcpCheckStep | string {
  let minRecv = -1;
  let comment: string | null = null;
  let negate = false;
  let i = 0;
  for (; i < w.length; i++) {
    const x = w[i];
    if (x === 'min-recv') {
      const n = w[i + 1];
      if (n === undefined || !/^-?\d+$/.test(n)) return "'min-recv' expects an integer";
      minRecv = Number(n);
      i++;
    } else if (x === 'comment') {
      if (w[i + 1] === undefined) return "'comment' expects a text";
      comment = w[++i];
    } else if (x === '!') {
      negate = true;
    } else if (EXPECT_UNSUPPORTED.includes(x)) {
      return `'tcp-check expect ${x}' is not supported by gatehouse yet`;
    } else break;
  }
  const match = w[i];
  const pattern = w[i + 1];
  if (match === undefined) return "'tcp-check expect' expects a match (string, rstring, binary, rbinary) and a pattern";
  if (!(EXPECT_MATCHES as readonly string[]).includes(match)) {
    if (EXPECT_UNSUPPORTED.includes(match)) return `'tcp-check expect ${match}' is not supported by gatehouse yet`;
    return `unknown 'tcp-check expect' match '${match}'${didYouMean(match, EXPECT_MATCHES)} (expected string, rstring, binary or rbinary)`;
  }
  if (pattern === undefined) return `'tcp-check expect ${match}' expects a pattern`;
  if (w.length > i + 2) return `unexpected '${w[i + 2]}' after the pattern of 'tcp-check expect'`;
  if ((match === 'binary') && !/^([0-9a-fA-F]{2})+$/.test(pattern)) return `'${pattern}' is not a hexadecimal string (for 'expect binary')`;
  if (match === 'rstring' || match === 'rbinary') {
    try {
      new RegExp(pattern);
    } catch (e) {
      return `invalid regular expression '${pattern}': ${(e as Error).message}`;
    }
  }
  return { kind: 'expect', match: match as (typeof EXPECT_MATCHES)[number], pattern, negate, minRecv, comment };
}

/** `connect [port N] [comment TEXT]` words (after `connect`). */
export function parseConnectWords(w: readonly string[]): TcpCheckStep | string {
  let port: number | null = null;
  let comment: string | null = null;
  for (let i = 0; i < w.length; i++) {
    const x = w[i];
    if (x === 'port') {
      const n = w[i + 1];
      if (n === undefined || !/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 65535) return "'tcp-check connect port' expects a port from 1 to 65535";
      port = Number(n);
      i++;
    } else if (x === 'comment') {
      if (w[i + 1] === undefined) return "'comment' expects a text";
      comment = w[++i];
    } else if (['ssl', 'send-proxy', 'via-socks4', 'sni', 'alpn', 'proto', 'linger', 'addr', 'default'].includes(x)) {
      return `'tcp-check connect ${x}' is not supported by gatehouse yet`;
    } else {
      return `unknown 'tcp-check connect' option '${x}' (expected port or comment)`;
    }
  }
  return { kind: 'connect', port, ssl: false, comment };
}

function readStep(c: RuleReporter, item: unknown, p: Path): TcpCheckStep | undefined {
  const expected = '{ connect: { port: N } }, { send: TEXT }, { send_binary: HEX } or { expect: "string +OK" }';
  // "send PING\r\n"-style strings are not accepted: YAML escapes belong in a { send: "..." } map
  if (!isObj(item) || Object.keys(item).length !== 1) {
    c.error(p, 'invalid tcp-check step', expected, describeValue(item));
    return undefined;
  }
  const [k, v] = Object.entries(item)[0];
  const sp = [...p, k];
  const fail = (msg: string): undefined => {
    c.error(sp, msg);
    return undefined;
  };
  switch (k) {
    case 'connect': {
      if (v === null || v === true) return { kind: 'connect', port: null, ssl: false, comment: null };
      if (typeof v === 'string') {
        const r = parseConnectWords(splitWords(v));
        return typeof r === 'string' ? fail(r) : r;
      }
      if (!isObj(v)) return fail('invalid tcp-check connect');
      for (const key of Object.keys(v)) if (key !== 'port' && key !== 'comment') return fail(`unknown key "${key}" in a tcp-check connect (port, comment)`);
      const port = v.port === undefined ? null : Number(v.port);
      if (port !== null && !(Number.isInteger(port) && port >= 1 && port <= 65535)) return fail("'tcp-check connect port' expects a port from 1 to 65535");
      return { kind: 'connect', port, ssl: false, comment: typeof v.comment === 'string' ? v.comment : null };
    }
    case 'send':
      if (typeof v !== 'string' || v === '') return fail("'tcp-check send' expects the text to send");
      return { kind: 'send', data: v, binary: false, comment: null };
    case 'send_binary':
      if (typeof v !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(v)) return fail("'tcp-check send-binary' expects a hexadecimal string such as 50494e470d0a");
      return { kind: 'send', data: v.toLowerCase(), binary: true, comment: null };
    case 'expect': {
      let r: TcpCheckStep | string;
      if (typeof v === 'string') {
        try {
          r = parseExpectWords(splitWords(v));
        } catch (e) {
          r = (e as Error).message;
        }
      } else if (isObj(v)) {
        const words: string[] = [];
        if (v.min_recv !== undefined) words.push('min-recv', String(v.min_recv));
        if (v.negate === true) words.push('!');
        words.push(String(v.match ?? ''), String(v.pattern ?? ''));
        r = parseExpectWords(words);
      } else r = "'tcp-check expect' expects \"MATCH PATTERN\" or { match, pattern, negate, min_recv }";
      return typeof r === 'string' ? fail(r) : r;
    }
    case 'comment':
      return undefined; // a label HAProxy shows in logs; nothing to run
  }
  c.error(sp, `unknown tcp-check step "${k}"${didYouMean(k, ['connect', 'send', 'send_binary', 'expect'])}`, expected);
  return undefined;
}

/** `tcp_check: { type, steps, user, post41, smtp_hello }` */
export function readTcpCheck(c: RuleReporter, v: unknown, path: Path): TcpCheckConfig | undefined {
  if (v === null || v === false) return undefined;
  if (!isObj(v)) {
    c.error(path, 'invalid tcp_check', `a map { type: ${TCP_CHECK_TYPES.join(' | ')}, ... }`, describeValue(v));
    return undefined;
  }
  for (const k of Object.keys(v)) {
    if (!TCP_CHECK_KEYS.includes(k)) c.error([...path, k], `unknown key "${k}" in tcp_check${didYouMean(k, TCP_CHECK_KEYS)}`, `one of ${TCP_CHECK_KEYS.join(', ')}`);
  }
  const type = v.type === undefined ? 'tcp-check' : v.type;
  if (typeof type !== 'string' || !(TCP_CHECK_TYPES as readonly string[]).includes(type)) {
    c.error([...path, 'type'], 'invalid value', `one of ${TCP_CHECK_TYPES.join(', ')}`, describeValue(type));
    return undefined;
  }
  const out: TcpCheckConfig = { type: type as TcpCheckConfig['type'], steps: [], user: '', post41: false, smtpVerb: 'HELO', smtpDomain: 'localhost' };
  if (v.user !== undefined) {
    if (typeof v.user !== 'string' || v.user === '' || /[\0\r\n]/.test(v.user)) c.error([...path, 'user'], 'invalid user', 'a user name', describeValue(v.user));
    else out.user = v.user;
  }
  if (type === 'pgsql' && out.user === '') c.error(path, "'option pgsql-check' needs a user", 'user: NAME', 'nothing');
  if (v.post41 !== undefined) out.post41 = v.post41 === true;
  if (v.smtp_hello !== undefined) {
    const m = typeof v.smtp_hello === 'string' ? /^(HELO|EHLO) ([^\s]+)$/i.exec(v.smtp_hello) : null;
    if (!m) c.error([...path, 'smtp_hello'], 'invalid value', '"HELO DOMAIN" or "EHLO DOMAIN"', describeValue(v.smtp_hello));
    else {
      out.smtpVerb = m[1].toUpperCase();
      out.smtpDomain = m[2];
    }
  }
  if (v.steps !== undefined) {
    if (type !== 'tcp-check') c.warn([...path, 'steps'], `tcp-check steps are ignored with type ${type} (it runs its own sequence)`);
    else if (!Array.isArray(v.steps)) c.error([...path, 'steps'], 'invalid value', 'a list of steps', describeValue(v.steps));
    else {
      v.steps.forEach((item, i) => {
        const s = readStep(c, item, [...path, 'steps', i]);
        if (s) out.steps.push(s);
      });
    }
  }
  return out;
}

// ---- modes ----

export interface ModeProxy {
  kind: 'frontend' | 'backend' | 'listen';
  name: string;
  path: Path;
  raw: Obj;
}

/**
 * HAProxy's mode rules, with its words. An http frontend cannot use a tcp backend (fatal); a
 * tcp frontend may use an http backend (HAProxy upgrades the stream). HTTP-only settings of tcp
 * proxies are ignored with a warning, as HAProxy does, and dropped from the model.
 */
export function checkModes(
  c: RuleReporter,
  proxies: ModeProxy[],
  frontends: FrontendConfig[],
  backends: BackendConfig[],
): void {
  const beByName = new Map(backends.map((b) => [b.name, b]));
  const pathOf = (kind: 'fe' | 'be', name: string): Path => proxies.find((p) => (kind === 'fe' ? p.kind !== 'backend' : p.kind !== 'frontend') && p.name === name)?.path ?? [];
  for (const fe of frontends) {
    const fp = pathOf('fe', fe.name);
    const label = fe.fromListen ? 'proxy' : 'frontend';
    if (fe.mode === 'http') {
      const refs: [string, string][] = [];
      if (fe.defaultBackend !== null) refs.push([fe.defaultBackend, 'as its default backend']);
      for (const u of fe.rules?.useBackend ?? []) refs.push([u.backend, "in a 'use_backend' rule"]);
      for (const [name, how] of refs) {
        const be = beByName.get(name);
        if (be && be.mode === 'tcp' && !(fe.fromListen && be.name === fe.name)) {
          c.error(fp, `http frontend '${fe.name}' tries to use incompatible tcp backend '${be.name}' ${how} (see 'mode')`);
        }
      }
      const t = fe.tcpRequest;
      if (t && (t.connection.length > 0 || t.session.length > 0 || t.content.length > 0)) {
        // Refused rather than ignored: a `tcp-request connection reject if { src ... }` that
        // silently let everyone in would be worse than a config error. (uWebSockets.js has no
        // connection hook to run them on; the node:net front will.)
        if (t.content.some((r) => usesPayload(r.cond, fe.rules))) c.warn([...fp, 'tcp_request'], `Proxy '${fe.name}': L6 sample fetches ignored on HTTP proxies`);
        c.error([...fp, 'tcp_request'], `tcp-request rules of http ${label} '${fe.name}' are not applied by gatehouse yet (only mode tcp frontends run them); use http-request rules (e.g. 'http-request deny if { src 10.0.0.0/8 }')`);
      } else if (t) {
        c.warn([...fp, 'tcp_request'], `'tcp-request inspect-delay' has no effect on http ${label} '${fe.name}' in gatehouse; ignored`);
      }
      warnL6(c, fp, fe.name, fe.rules);
      if (fe.logFormatCustom && usesSessionAddresses(compileLogFormat(fe.logFormatCustom))) {
        c.warn([...fp, 'log_format'], `log-format of http ${label} '${fe.name}': %fi %fp %bi %bp %si %sp are logged as '-' by gatehouse on http frontends (only mode tcp sessions record them yet)`);
      }
      continue;
    }
    // mode tcp: HAProxy upgrades a stream switched to an http backend; gatehouse does not
    // (yet) and refuses to run it (tcpNotServedYet), so `-c` says so ahead of time
    for (const [name, key] of [[fe.defaultBackend, 'default_backend'], ...(fe.rules?.useBackend ?? []).map((u) => [u.backend, 'use_backend'])] as [string | null, string][]) {
      const be = name === null ? undefined : beByName.get(name);
      if (be !== undefined && be.mode !== 'tcp') {
        c.warn([...fp, key], `tcp ${label} '${fe.name}' uses http backend '${be.name}': gatehouse does not serve this yet (HAProxy upgrades the stream to HTTP) and will refuse to run it; put both in mode tcp or both in mode http`);
      }
    }
    if (fe.httplog) {
      c.warn([...fp, 'httplog'], `'option httplog' not usable with ${label} '${fe.name}' (needs 'mode http'). Falling back to 'option tcplog'.`);
      fe.httplog = false;
      fe.tcplog = true;
    }
    const r = fe.rules;
    if (r && (r.httpRequest.length || r.httpResponse.length || r.redirects.length)) {
      const key = r.httpRequest.length ? 'http_request' : r.httpResponse.length ? 'http_response' : 'redirect';
      c.warn([...fp, key], `'${key.replace('_', '-')}' rules ignored for ${label} '${fe.name}' as they require HTTP mode.`);
      r.httpRequest = [];
      r.httpResponse = [];
      r.redirects = [];
    }
    if (fe.forwardfor) {
      c.warn([...fp, 'forwardfor'], `'option forwardfor' ignored for ${label} '${fe.name}' as it requires HTTP mode.`);
      fe.forwardfor = false;
    }
    if (fe.stats !== null && fe.stats.enable) {
      c.error([...fp, 'stats'], `the stats page needs 'mode http' (${label} '${fe.name}' is in mode tcp)`);
    }
  }
  for (const be of backends) {
    if (be.tcpCheck && be.healthCheck.type === 'http') {
      c.warn([...pathOf('be', be.name), 'tcp_check'], `tcp_check of ${be.fromListen ? 'listen' : 'backend'} '${be.name}' is ignored: its health_check is an HTTP check (type: http)`);
    }
    if (be.mode !== 'tcp') {
      if (!be.fromListen) warnL6(c, pathOf('be', be.name), be.name, be.rules);
      continue;
    }
    const bp = pathOf('be', be.name);
    const label = be.fromListen ? 'proxy' : 'backend';
    if (be.cookie !== null) {
      c.warn([...bp, 'cookie'], `cookie will be ignored for ${label} '${be.name}' (needs 'mode http').`);
      be.cookie = null;
    }
    if (be.balance === 'uri' || be.balance === 'hdr') {
      c.warn([...bp, 'balance'], `Layer 7 hash not possible for ${label} '${be.name}' (needs 'mode http'). Falling back to round robin.`);
      be.balance = 'roundrobin';
      be.balanceHeader = null;
    }
    const r = be.rules;
    if (r && (r.httpRequest.length || r.httpResponse.length || r.redirects.length)) {
      const key = r.httpRequest.length ? 'http_request' : r.httpResponse.length ? 'http_response' : 'redirect';
      c.warn([...bp, key], `'${key.replace('_', '-')}' rules ignored for ${label} '${be.name}' as they require HTTP mode.`);
      r.httpRequest = [];
      r.httpResponse = [];
      r.redirects = [];
    }
  }
}

/** HAProxy's warning for each HTTP rule of an http proxy that reads the TCP payload (it never matches there). */
function warnL6(c: RuleReporter, p: Path, name: string, rules: ProxyRules | undefined): void {
  if (!rules) return;
  const lists: [string, { cond: AclCondition | null }[]][] = [['http_request', rules.httpRequest], ['http_response', rules.httpResponse], ['redirect', rules.redirects], ['use_backend', rules.useBackend]];
  for (const [key, list] of lists) {
    list.forEach((r, i) => {
      if (usesPayload(r.cond, rules)) c.warn([...p, key, i], `Proxy '${name}': L6 sample fetches ignored on HTTP proxies`);
    });
  }
}

/**
 * What the runtime cannot serve yet of mode tcp: a tcp frontend switching to an http backend
 * (HAProxy upgrades such a stream to HTTP). Null when everything is served.
 */
export function tcpNotServedYet(config: { frontends: FrontendConfig[]; backends: BackendConfig[] }): string | null {
  const byName = new Map(config.backends.map((b) => [b.name, b]));
  for (const fe of config.frontends) {
    if (fe.mode !== 'tcp') continue;
    const names = [fe.defaultBackend, ...(fe.rules?.useBackend ?? []).map((u) => u.backend)];
    for (const n of names) {
      const be = n === null ? undefined : byName.get(n);
      if (be !== undefined && be.mode !== 'tcp') {
        return `a tcp frontend using an http backend is not served yet: ${fe.fromListen ? 'listen' : 'frontend'} "${fe.name}" uses backend "${be.name}" (HAProxy upgrades such a stream to HTTP); put both in mode tcp or both in mode http`;
      }
    }
  }
  return null;
}
