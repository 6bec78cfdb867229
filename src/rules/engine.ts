// The request/response rule engine the worker calls. Built once per worker from the Config
// (RoutingTable); per request it walks compiled rules (src/acl/compile.ts) and writes the
// outcome into a reusable Decision. Header edits are applied in place to the view's flat
// header array (a deleted header's name becomes ''), so the worker builds the upstream head
// (or writes the response) from that array in one loop afterwards.
//
// Order, as in HAProxy: the frontend's http-request rules, its stats uri, its `redirect` rules,
// use_backend (first match) or default_backend, then the chosen backend's http-request rules,
// stats uri and redirect rules. A request for a stats uri goes to that proxy's hidden stats
// backend (src/stats/routed.ts), whose server is the primary's internal stats listener.
// Responses: the backend's http-response rules, then the frontend's.
import type { Config, CustomErrorPage, ProxyRules } from '../config/model';
import { AclScope, CCond, CFormat } from '../acl/compile';
import { evalCondition, evalFormat } from '../acl/eval';
import type { RequestView, ResponseView } from '../acl/view';
import { openTables } from '../stick/registry';
import { isIpText } from '../acl/ip';
import {
  ACT_FORWARD,
  ACT_DENY,
  ACT_RETURN,
  ACT_REDIRECT,
  R_ALLOW,
  R_DENY,
  R_RETURN,
  R_REDIRECT,
  R_SET_PATH,
  R_SET_SRC,
  R_SET_VAR,
  R_UNSET_VAR,
  R_TRACK,
  DYNAMIC_BACKEND,
  RT_LOCATION,
  RT_PREFIX,
  CRule,
  compileRule,
} from './compiled-rule';
import { HDR_NONE, HDR_LAZY, HDR_ALL, HeaderPlan, HeaderUse, requestHeaderUse, firstHeader } from './header-plan';
import { stickAction, setVar, editHeaders } from './rule-actions';
export { ACT_DENY, ACT_FORWARD, ACT_REDIRECT, ACT_RETURN } from './compiled-rule';
export { HDR_ALL, HDR_LAZY, HDR_NONE, HeaderPlan } from './header-plan';

/** One proxy's compiled rules. */
export class CompiledRules {
  readonly httpRequest: CRule[];
  readonly redirects: CRule[];
  readonly useBackend: number[];
  readonly useBackendCond: (CCond | null)[];
  /** per use_backend rule: the name format of a dynamic rule (useBackend[i] === DYNAMIC_BACKEND), else null */
  readonly useBackendFmt: (CFormat | null)[];
  /** backend names -> indexes, for dynamic use_backend */
  readonly backendIndex: ReadonlyMap<string, number>;
  readonly httpResponse: CRule[];
  readonly hasRequest: boolean;
  readonly hasResponse: boolean;

  constructor(rules: ProxyRules, backendIndex: ReadonlyMap<string, number>, pages?: Record<string, CustomErrorPage>) {
    const scope = new AclScope(rules.acls);
    this.httpRequest = rules.httpRequest.map((r) => compileRule(r, scope, 'req', pages));
    this.redirects = rules.redirects.map((r) => compileRule(r, scope, 'req', pages));
    this.backendIndex = backendIndex;
    this.useBackendFmt = rules.useBackend.map((u) => (u.format ? new CFormat(u.format) : null));
    this.useBackend = rules.useBackend.map((u) => {
      if (u.format) return DYNAMIC_BACKEND;
      const i = backendIndex.get(u.backend);
      if (i === undefined) throw new Error(`internal: use_backend ${u.backend} names no backend (the validator checks it)`);
      return i;
    });
    this.useBackendCond = rules.useBackend.map((u) => (u.cond === null ? null : scope.condition(u.cond, 'req')));
    this.httpResponse = rules.httpResponse.map((r) => compileRule(r, scope, 'res', pages));
    this.hasRequest = this.httpRequest.length + this.redirects.length + this.useBackend.length > 0;
    this.hasResponse = this.httpResponse.length > 0;
  }
}

export const STATS_NONE = 0;
/** intercepted by the frontend's stats uri (HAProxy counts it as intercepted on the frontend) */
export const STATS_FRONTEND = 1;
/** intercepted by the stats uri of the backend the request was routed to */
export const STATS_BACKEND = 2;

/** A proxy's stats page as the workers route it: requests whose path starts with `uri`. */
export interface StatsRoute {
  uri: string;
  /** the Prometheus exposition path (use-service prometheus-exporter), or null */
  prometheus: string | null;
  /** index of the hidden backend reaching the primary's internal listener */
  target: number;
}

/**
 * HAProxy 2.6 (http_stats_check_uri): GET, HEAD and POST only (any other method is proxied, checked
 * with a PUT), the path and query compared with the uri as a prefix.
 */
function statsMatch(s: StatsRoute, req: RequestView): boolean {
  const m = req.method;
  if (m !== 'GET' && m !== 'HEAD' && m !== 'POST') return false;
  return req.url().startsWith(s.uri) || (s.prometheus !== null && req.path === s.prometheus);
}

function statsRoute(stats: { uri: string; prometheus: string | null } | null | undefined, target: string | undefined, backendIndex: ReadonlyMap<string, number>): StatsRoute | null {
  if (stats === null || stats === undefined || target === undefined) return null;
  const i = backendIndex.get(target);
  return i === undefined ? null : { uri: stats.uri, prometheus: stats.prometheus, target: i };
}

/** The outcome of evaluating rules, reused from request to request. */
export class Decision {
  action = ACT_FORWARD;
  /** request: the backend index to use (use_backend, else default_backend), -1 = none (503) */
  backend = -1;
  status = 0;
  reason = '';
  /** headers of the answer to send (deny/return/redirect), flat [name, value, ...], lower-case names */
  headers: string[] = [];
  headersLen = 0;
  body = '';
  /** request: view.path was rewritten (set-path) */
  pathChanged = false;
  /** view.headers was edited (a '' name marks a deleted header) */
  headersChanged = false;
  /** request: a stats uri took it (STATS_FRONTEND / STATS_BACKEND), `backend` is the hidden stats backend */
  stats = STATS_NONE;

  reset(): void {
    this.stats = STATS_NONE;
    this.action = ACT_FORWARD;
    this.backend = -1;
    this.status = 0;
    this.reason = '';
    this.headersLen = 0;
    this.body = '';
    this.pathChanged = false;
    this.headersChanged = false;
  }

  private header(name: string, value: string): void {
    this.headers[this.headersLen++] = name;
    this.headers[this.headersLen++] = value;
  }

  /** @internal fills a deny/return answer */
  reply(r: CRule, req: RequestView, res: ResponseView | null): void {
    this.action = r.kind === R_DENY ? ACT_DENY : ACT_RETURN;
    this.status = r.status;
    this.reason = r.reason;
    this.headersLen = 0;
    if (r.errorPage) {
      this.header('content-type', 'text/html');
      this.header('cache-control', 'no-cache');
    } else if (r.contentType !== null && r.body !== null) {
      this.header('content-type', r.contentType);
    }
    for (let i = 0; i < r.replyHeaders.length; i++) this.header(r.replyHeaders[i], evalFormat(r.replyValues[i], req, res));
    this.body = r.body === null ? '' : evalFormat(r.body, req, res);
  }

  /** @internal fills a redirect; false when ignore-empty skips it */
  redirect(r: CRule, req: RequestView, headers: string[], headersLen: number): boolean {
    const v = evalFormat(r.value!, req, null);
    if (v === '' && r.ignoreEmpty) return false;
    let location: string;
    if (r.redirType === RT_LOCATION) {
      location = v;
    } else {
      let path = req.path;
      if (path === '' || path === '*') path = '/';
      if (r.appendSlash && !path.endsWith('/')) path += '/';
      const tail = r.dropQuery || req.query === null ? path : path + '?' + req.query;
      if (r.redirType === RT_PREFIX) {
        location = v === '/' ? tail : v + tail; // HAProxy: prefix "/" redirects to the same URL
      } else {
        location = v + '://' + (firstHeader(headers, headersLen, 'host') ?? '') + tail;
      }
    }
    this.action = ACT_REDIRECT;
    this.status = r.code;
    this.reason = r.reason;
    this.headersLen = 0;
    this.header('location', location);
    for (let i = 0; i < r.redirHeaders.length; i += 2) this.header(r.redirHeaders[i], r.redirHeaders[i + 1]);
    this.body = '';
    return true;
  }
}

/** Every worker's routing state, built once from the config. Index by frontend / backend index. */
export class RoutingTable {
  /** null: the frontend has no rules of its own */
  readonly frontends: (CompiledRules | null)[];
  /** null: the backend has no rules */
  readonly backends: (CompiledRules | null)[];
  /** default_backend index per frontend, -1 = none */
  readonly defaultBackend: number[];
  /**
   * Per frontend: whether evalRequest has anything to do (its own rules, or http-request rules
   * of a backend it can reach). False = the worker skips the engine: one boolean check.
   */
  readonly requestRules: boolean[];
  /**
   * Per frontend: how to fill the request view's headers. HDR_NONE when no rule reads or edits
   * one; HDR_ALL when rules edit headers or response rules may run (the view outlives the uWS
   * request); else HDR_LAZY with the names the rules read.
   */
  readonly requestHeaders: HeaderPlan[];
  private readonly skipBackendRules: boolean[][];
  private readonly nb: number;
  /** per frontend / backend: its stats page when the workers route it (statsTarget set), else null */
  readonly statsFe: (StatsRoute | null)[];
  readonly statsBe: (StatsRoute | null)[];

  constructor(config: Config) {
    const backendIndex = new Map<string, number>();
    config.backends.forEach((b, i) => backendIndex.set(b.name, i));
    openTables(config); // rules and sc_/src_ fetches find their stick tables by name
    this.nb = config.backends.length;
    this.backends = config.backends.map((b) => (b.rules ? new CompiledRules({ ...b.rules, useBackend: [] }, backendIndex, b.errorPages) : null));
    this.frontends = config.frontends.map((f) => (f.rules ? new CompiledRules(f.rules, backendIndex, f.errorPages) : null));
    this.defaultBackend = config.frontends.map((f) => (f.defaultBackend === null ? -1 : backendIndex.get(f.defaultBackend) ?? -1));
    // A listen's rules are on its frontend and its backend: run them once (HAProxy does).
    this.skipBackendRules = config.frontends.map((f) => config.backends.map((b) => f.fromListen && b.fromListen && f.name === b.name));
    this.statsFe = config.frontends.map((f) => statsRoute(f.stats, f.statsTarget, backendIndex));
    this.statsBe = config.backends.map((b) => statsRoute(b.stats, b.statsTarget, backendIndex));
    const anyBackendStats = this.statsBe.some((x) => x !== null);
    this.requestRules = config.frontends.map((f, fi) => {
      if (this.frontends[fi]?.hasRequest || this.statsFe[fi] !== null) return true;
      const uses = f.rules?.useBackend ?? [];
      if (anyBackendStats && uses.some((u) => u.format !== undefined)) return true; // a computed name may reach one
      const reach = new Set<number>([this.defaultBackend[fi], ...uses.map((u) => backendIndex.get(u.backend) ?? -1)]);
      for (const bi of reach) if (bi >= 0 && ((!this.skipBackendRules[fi][bi] && this.backends[bi]?.hasRequest) || this.statsBe[bi] !== null)) return true;
      return false;
    });
    this.requestHeaders = config.frontends.map((_, fi) => {
      const use: HeaderUse = { names: new Set(), all: false, edits: false };
      let response = false;
      for (const p of [this.frontends[fi], ...this.backends]) {
        if (p === null) continue;
        requestHeaderUse(p, use);
        if (p.hasResponse) response = true;
      }
      if (!use.edits && !use.all && use.names.size === 0) return new HeaderPlan(HDR_NONE, null);
      if (use.edits || response) return new HeaderPlan(HDR_ALL, null);
      return new HeaderPlan(HDR_LAZY, use.all ? null : use.names);
    });
  }

  /** Whether evalResponse has anything to do for this frontend/backend pair. */
  responseRules(frontend: number, backend: number): boolean {
    if (this.frontends[frontend]?.hasResponse) return true;
    return backend >= 0 && backend < this.nb && !this.skipBackendRules[frontend][backend] && this.backends[backend]?.hasResponse === true;
  }

  /** The backend's rules unless they are the frontend's own (a listen). */
  backendRules(frontend: number, backend: number): CompiledRules | null {
    if (backend < 0 || this.skipBackendRules[frontend][backend]) return null;
    return this.backends[backend];
  }
}

/**
 * Runs request rules for a request arriving on `frontend`. `out.action` says what to do:
 * ACT_FORWARD (to `out.backend`, -1 = no backend: 503), or ACT_DENY / ACT_RETURN /
 * ACT_REDIRECT with status, reason, headers and body to answer with. Header edits land in
 * `req.headers` (out.headersChanged), set-path in `req.path` (out.pathChanged).
 */
export function evalRequest(table: RoutingTable, frontend: number, req: RequestView, out: Decision): void {
  req.touch(); // named ACL results of an earlier evaluation do not count
  requestRules(table, frontend, req, out);
  req.detach(); // the uWS request is invalid once the handler returns
}

function requestRules(table: RoutingTable, frontend: number, req: RequestView, out: Decision): void {
  out.reset();
  const fe = table.frontends[frontend];
  let backend = table.defaultBackend[frontend];
  const fs = table.statsFe[frontend];
  if (fe !== null) {
    const r = runRequestRules(fe, req, out, fs);
    if (r === RULES_ANSWERED) return;
    if (r === RULES_STATS) return stats(out, fs!, STATS_FRONTEND);
    const conds = fe.useBackendCond;
    for (let i = 0; i < conds.length; i++) {
      const c = conds[i];
      if (c === null || evalCondition(c, req, null)) {
        const b = fe.useBackend[i];
        // a computed name that names no backend: the default backend (HAProxy 2.6, checked)
        if (b !== DYNAMIC_BACKEND) backend = b;
        else backend = fe.backendIndex.get(evalFormat(fe.useBackendFmt[i]!, req, null)) ?? backend;
        break;
      }
    }
  } else if (fs !== null && statsMatch(fs, req)) {
    return stats(out, fs, STATS_FRONTEND);
  }
  out.backend = backend;
  const be = table.backendRules(frontend, backend);
  const bs = backend >= 0 ? table.statsBe[backend] : null;
  if (be !== null && be.hasRequest) {
    if (runRequestRules(be, req, out, bs) === RULES_STATS) stats(out, bs!, STATS_BACKEND);
  } else if (bs !== null && statsMatch(bs, req)) {
    stats(out, bs, STATS_BACKEND);
  }
}

function stats(out: Decision, s: StatsRoute, how: number): void {
  out.backend = s.target;
  out.stats = how;
}

const RULES_PASS = 0;
const RULES_ANSWERED = 1;
/** the proxy's stats uri took the request (after its http-request rules, before its redirects) */
const RULES_STATS = 2;

/** http-request rules, the stats uri, then redirect rules of one proxy (RULES_*). */
function runRequestRules(p: CompiledRules, req: RequestView, out: Decision, stats: StatsRoute | null): number {
  const rules = p.httpRequest;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.cond !== null && !evalCondition(r.cond, req, null)) continue;
    if (r.kind === R_ALLOW) break; // stops this section's http-request rules only
    if (r.kind === R_DENY || r.kind === R_RETURN) {
      out.reply(r, req, null);
      return RULES_ANSWERED;
    }
    if (r.kind === R_REDIRECT) {
      req.loadHeaders();
      if (out.redirect(r, req, req.headers, req.headersLen)) return RULES_ANSWERED;
      continue;
    }
    if (r.kind === R_SET_PATH) {
      req.path = evalFormat(r.value!, req, null);
      out.pathChanged = true;
      req.touch();
      continue;
    }
    if (r.kind === R_SET_SRC) {
      // HAProxy: a value that is not an IP address leaves the source as it was
      const ip = evalFormat(r.value!, req, null);
      if (isIpText(ip)) {
        req.srcIp = ip;
        req.touch();
      }
      continue;
    }
    if (r.kind >= R_TRACK) {
      stickAction(r, req, null);
      continue;
    }
    if (r.kind === R_SET_VAR || r.kind === R_UNSET_VAR) {
      setVar(r, req, null);
      continue;
    }
    req.loadHeaders();
    if (editHeaders(r, req, null, req)) {
      out.headersChanged = true;
      req.touch();
    }
  }
  if (stats !== null && statsMatch(stats, req)) return RULES_STATS;
  const redirects = p.redirects;
  for (let i = 0; i < redirects.length; i++) {
    const r = redirects[i];
    if (r.cond !== null && !evalCondition(r.cond, req, null)) continue;
    req.loadHeaders();
    if (out.redirect(r, req, req.headers, req.headersLen)) return RULES_ANSWERED;
  }
  return RULES_PASS;
}

/**
 * Runs response rules: the backend's http-response rules, then the frontend's. `out.action` is
 * ACT_FORWARD (send the response, with `res.headers` edited when out.headersChanged) or
 * ACT_DENY / ACT_RETURN: discard the server's response and answer with out.status/headers/body.
 */
export function evalResponse(table: RoutingTable, frontend: number, backend: number, req: RequestView, res: ResponseView, out: Decision): void {
  out.reset();
  out.backend = backend;
  req.touch(); // ACL results computed for the request (or another response) do not count
  const be = table.backendRules(frontend, backend);
  if (be !== null && be.hasResponse && runResponseRules(be, req, res, out)) return;
  const fe = table.frontends[frontend];
  if (fe !== null && fe.hasResponse) runResponseRules(fe, req, res, out);
}

function runResponseRules(p: CompiledRules, req: RequestView, res: ResponseView, out: Decision): boolean {
  const rules = p.httpResponse;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.cond !== null && !evalCondition(r.cond, req, res)) continue;
    if (r.kind === R_ALLOW) break;
    if (r.kind === R_DENY || r.kind === R_RETURN) {
      out.reply(r, req, res);
      return true;
    }
    if (r.kind >= R_TRACK) {
      stickAction(r, req, res);
      continue;
    }
    if (r.kind === R_SET_VAR || r.kind === R_UNSET_VAR) {
      setVar(r, req, res);
      continue;
    }
    if (editHeaders(r, req, res, res)) {
      out.headersChanged = true;
      req.touch();
    }
  }
  return false;
}
