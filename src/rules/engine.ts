// The request/response rule engine the worker calls. Built once per worker from the Config
// (RoutingTable); per request it walks compiled rules (src/acl/compile.ts) and writes the
// outcome into a reusable Decision. Header edits are applied in place to the view's flat
// header array (a deleted header's name becomes ''), so the worker builds the upstream head
// (or writes the response) from that array in one loop afterwards.
//
// Order, as in HAProxy: the frontend's http-request rules, its `redirect` rules, use_backend
// (first match) or default_backend, then the chosen backend's http-request and redirect rules.
// Responses: the backend's http-response rules, then the frontend's.
import type { Config, CustomErrorPage, HttpRule, ProxyRules } from '../config/model';
import { AclScope, CCond, CFormat, readsRequestHeader } from '../acl/compile';
import { evalCondition, evalFormat, evalSample } from '../acl/eval';
import type { RequestView, ResponseView } from '../acl/view';
import { errorPageBody, reasonPhrase } from './pages';
import { openTables, tableNamed } from '../stick/registry';
import type { StickTable } from '../stick/table';
import { KeyBuf, keyFromIp, keyFromText } from '../stick/keys';
import { Trackers, trackStart } from '../stick/track';
import { DT_GPC0, DT_GPC0_RATE, DT_GPC1, DT_GPC1_RATE, DT_GPT0 } from '../stick/types';

/** Forward the request to `backend` (or, on the response side, send the response on). */
export const ACT_FORWARD = 0;
/** deny: answer with status/headers/body (counted as a denied request/response) */
export const ACT_DENY = 1;
/** http-request return */
export const ACT_RETURN = 2;
/** redirect */
export const ACT_REDIRECT = 3;

const R_ALLOW = 0;
const R_DENY = 1;
const R_RETURN = 2;
const R_REDIRECT = 3;
const R_SET_HEADER = 4;
const R_ADD_HEADER = 5;
const R_DEL_HEADER = 6;
const R_REPLACE_HEADER = 7;
const R_SET_PATH = 8;
const R_SET_VAR = 9;
const R_UNSET_VAR = 10;
// stick actions last: `kind >= R_TRACK` selects them
const R_TRACK = 11;
const R_SC_INC = 12;
const R_SC_SET_GPT0 = 13;

/** useBackend entry of a `use_backend %[...]` rule: the name is computed per request */
const DYNAMIC_BACKEND = -2;

const RT_LOCATION = 0;
const RT_PREFIX = 1;
const RT_SCHEME = 2;

/** A compiled rule: one class for every action so the hot loop is monomorphic. */
class CRule {
  kind = R_ALLOW;
  cond: CCond | null = null;
  // deny / return
  status = 0;
  reason = '';
  errorPage = false;
  contentType: string | null = null;
  body: CFormat | null = null;
  replyHeaders: string[] = [];
  replyValues: CFormat[] = [];
  // headers
  name = '';
  /** del-header -m: 0 str, 1 beg, 2 end, 3 sub, 4 reg */
  nameMatch = 0;
  nameRe: RegExp | null = null;
  value: CFormat | null = null;
  regex: RegExp | null = null;
  // redirect
  redirType = RT_LOCATION;
  code = 302;
  dropQuery = false;
  appendSlash = false;
  ignoreEmpty = false;
  /** extra response headers of a redirect (cache-control, set-cookie), flat */
  redirHeaders: string[] = [];
  // stick tables: track-scN (key in `value`), sc-inc-gpcN, sc-set-gpt0 (value in `value`)
  slot = 0;
  stickTable: StickTable | null = null;
  /** track key is the client address, read in binary form (ip / ipv6 tables) */
  keySrc = false;
  /** sc-inc-gpcN: the counter and its rate */
  counter = DT_GPC0;
  counterRate = DT_GPC0_RATE;
  // set-var / unset-var
  varName = '';
  /** set-var-fmt: the value is a format (always a string); set-var: one sample expression */
  varFmt = false;
}

function compileRule(r: HttpRule, scope: AclScope, side: 'req' | 'res', pages?: Record<string, CustomErrorPage>): CRule {
  const c = new CRule();
  c.cond = r.cond === null ? null : scope.condition(r.cond, side);
  switch (r.action) {
    case 'allow':
      c.kind = R_ALLOW;
      break;
    case 'deny':
    case 'return': {
      c.kind = r.action === 'deny' ? R_DENY : R_RETURN;
      const rep = r.reply;
      c.status = rep.status;
      c.errorPage = rep.errorPage;
      c.reason = reasonPhrase(rep.status, rep.errorPage);
      c.contentType = rep.contentType;
      c.body = rep.errorPage ? new CFormat([{ kind: 'lit', text: errorPageBody(rep.status) }]) : rep.body === null ? null : new CFormat(rep.body);
      for (const h of rep.headers) {
        c.replyHeaders.push(h.name);
        c.replyValues.push(new CFormat(h.value));
      }
      // the proxy's errorfile/errorloc for that status replaces the built-in page (HAProxy)
      const custom = rep.errorPage ? pages?.[String(rep.status)] : undefined;
      if (custom !== undefined) {
        c.status = custom.status;
        c.reason = custom.reason;
        c.errorPage = false;
        c.contentType = null;
        c.body = new CFormat([{ kind: 'lit', text: custom.body }]);
        c.replyHeaders.length = 0;
        c.replyValues.length = 0;
        for (let i = 0; i < custom.headers.length; i += 2) {
          c.replyHeaders.push(custom.headers[i]);
          c.replyValues.push(new CFormat([{ kind: 'lit', text: custom.headers[i + 1] }]));
        }
      }
      break;
    }
    case 'redirect': {
      c.kind = R_REDIRECT;
      const d = r.redirect;
      c.redirType = d.type === 'location' ? RT_LOCATION : d.type === 'prefix' ? RT_PREFIX : RT_SCHEME;
      c.value = new CFormat(d.value);
      c.code = d.code;
      c.reason = reasonPhrase(d.code, false);
      c.dropQuery = d.dropQuery;
      c.appendSlash = d.appendSlash;
      c.ignoreEmpty = d.ignoreEmpty;
      // HAProxy marks temporary redirects uncacheable; 301/308 may be cached.
      if (d.code === 302 || d.code === 303 || d.code === 307) c.redirHeaders.push('cache-control', 'no-cache');
      if (d.setCookie !== null) c.redirHeaders.push('set-cookie', `${d.setCookie}; path=/;`);
      if (d.clearCookie !== null) c.redirHeaders.push('set-cookie', `${d.clearCookie}; path=/; Max-Age=0;`);
      break;
    }
    case 'set-header':
    case 'add-header':
      c.kind = r.action === 'set-header' ? R_SET_HEADER : R_ADD_HEADER;
      c.name = r.name;
      c.value = new CFormat(r.value);
      break;
    case 'del-header':
      c.kind = R_DEL_HEADER;
      c.name = r.name;
      c.nameMatch = ['str', 'beg', 'end', 'sub', 'reg'].indexOf(r.match);
      if (r.match === 'reg') c.nameRe = new RegExp(r.name, 'i');
      break;
    case 'replace-header':
      c.kind = R_REPLACE_HEADER;
      c.name = r.name;
      c.regex = new RegExp(r.regex); // HAProxy: case-sensitive, unanchored search
      c.value = new CFormat(r.replace);
      break;
    case 'set-path':
      c.kind = R_SET_PATH;
      c.value = new CFormat(r.value);
      break;
    case 'track-sc': {
      c.kind = R_TRACK;
      c.slot = r.slot;
      c.value = new CFormat(r.key);
      const t = tableNamed(r.table);
      if (t === undefined) throw new Error(`internal: track-sc${r.slot} names no open stick table '${r.table}' (the validator checks it)`);
      c.stickTable = t;
      const k = r.key[0];
      c.keySrc = r.key.length === 1 && k.kind === 'fetch' && k.fetch === 'src' && k.conv.length === 0 && (t.cfg.type === 'ip' || t.cfg.type === 'ipv6');
      break;
    }
    case 'sc-inc-gpc':
      c.kind = R_SC_INC;
      c.slot = r.slot;
      c.counter = r.counter === 0 ? DT_GPC0 : DT_GPC1;
      c.counterRate = r.counter === 0 ? DT_GPC0_RATE : DT_GPC1_RATE;
      break;
    case 'sc-set-gpt0':
      c.kind = R_SC_SET_GPT0;
      c.slot = r.slot;
      c.value = new CFormat(r.value);
      break;
    case 'set-var':
      c.kind = R_SET_VAR;
      c.varName = r.name;
      c.varFmt = r.fmt;
      c.value = new CFormat(r.value);
      break;
    case 'unset-var':
      c.kind = R_UNSET_VAR;
      c.varName = r.name;
      break;
  }
  return c;
}

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

  reset(): void {
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

/** The request's headers are not read (no rule reads or edits one). */
export const HDR_NONE = 0;
/** Read on first use, only the names the rules read (RequestView.lazyHeaders). */
export const HDR_LAZY = 1;
/** Every header, read before the rules run (header edits rebuild the upstream head from them). */
export const HDR_ALL = 2;

/** How the worker fills the request view's headers for a frontend (RoutingTable.requestHeaders). */
export class HeaderPlan {
  constructor(
    readonly mode: number,
    /** HDR_LAZY: the lower-case header names rules read; null = every header */
    readonly names: ReadonlySet<string> | null,
  ) {}
}

/** What a proxy's request-side rules do with request headers (start-up only). */
interface HeaderUse {
  names: Set<string>;
  /** a test or format reads every header (hdr() without a name) */
  all: boolean;
  /** set/add/del/replace-header */
  edits: boolean;
}

function formatHeaders(f: CFormat | null, use: HeaderUse): void {
  if (f === null) return;
  for (let i = 0; i < f.fetches.length; i++) {
    if (f.fetches[i] < 0 || !readsRequestHeader(f.fetches[i])) continue;
    if (f.args[i] === '') use.all = true;
    else use.names.add(f.args[i]);
  }
}

function condHeaders(c: CCond | null, use: HeaderUse): void {
  if (c === null) return;
  for (const term of c.terms) {
    for (const t of term.acl.tests) {
      if (!readsRequestHeader(t.fetch)) continue;
      if (t.arg === '') use.all = true;
      else use.names.add(t.arg);
    }
  }
}

function requestHeaderUse(p: CompiledRules, use: HeaderUse): void {
  for (const c of p.useBackendCond) condHeaders(c, use);
  for (const f of p.useBackendFmt) formatHeaders(f, use);
  for (const r of [...p.httpRequest, ...p.redirects]) {
    condHeaders(r.cond, use);
    switch (r.kind) {
      case R_SET_HEADER:
      case R_ADD_HEADER:
      case R_DEL_HEADER:
      case R_REPLACE_HEADER:
        use.edits = true;
        break;
      case R_REDIRECT:
        if (r.redirType === RT_SCHEME) use.names.add('host');
        formatHeaders(r.value, use);
        break;
      case R_SET_PATH:
      case R_TRACK:
      case R_SC_SET_GPT0:
      case R_SET_VAR:
        formatHeaders(r.value, use);
        break;
      case R_DENY:
      case R_RETURN:
        formatHeaders(r.body, use);
        for (const v of r.replyValues) formatHeaders(v, use);
        break;
    }
  }
}

function firstHeader(h: string[], len: number, name: string): string | null {
  for (let i = 0; i < len; i += 2) if (h[i] === name || (h[i] !== '' && h[i].toLowerCase() === name)) return h[i + 1];
  return null;
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
    this.requestRules = config.frontends.map((f, fi) => {
      if (this.frontends[fi]?.hasRequest) return true;
      const reach = new Set<number>([this.defaultBackend[fi], ...(f.rules?.useBackend ?? []).map((u) => backendIndex.get(u.backend) ?? -1)]);
      for (const bi of reach) if (bi >= 0 && !this.skipBackendRules[fi][bi] && this.backends[bi]?.hasRequest) return true;
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
  if (fe !== null) {
    if (runRequestRules(fe, req, out)) return;
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
  }
  out.backend = backend;
  const be = table.backendRules(frontend, backend);
  if (be !== null && be.hasRequest) runRequestRules(be, req, out);
}

/** http-request then redirect rules of one proxy; true when the request is answered here. */
function runRequestRules(p: CompiledRules, req: RequestView, out: Decision): boolean {
  const rules = p.httpRequest;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.cond !== null && !evalCondition(r.cond, req, null)) continue;
    if (r.kind === R_ALLOW) break; // stops this section's http-request rules only
    if (r.kind === R_DENY || r.kind === R_RETURN) {
      out.reply(r, req, null);
      return true;
    }
    if (r.kind === R_REDIRECT) {
      req.loadHeaders();
      if (out.redirect(r, req, req.headers, req.headersLen)) return true;
      continue;
    }
    if (r.kind === R_SET_PATH) {
      req.path = evalFormat(r.value!, req, null);
      out.pathChanged = true;
      req.touch();
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
  const redirects = p.redirects;
  for (let i = 0; i < redirects.length; i++) {
    const r = redirects[i];
    if (r.cond !== null && !evalCondition(r.cond, req, null)) continue;
    req.loadHeaders();
    if (out.redirect(r, req, req.headers, req.headersLen)) return true;
  }
  return false;
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

const keyBuf = new KeyBuf();

/**
 * track-scN, sc-inc-gpcN, sc-set-gpt0. A slot already tracking keeps its entry (HAProxy: the
 * first track-scN of a request wins). A key that cannot be one of the table's type is counted
 * (StickTable.badKeys) and nothing is tracked; an empty sample tracks nothing, as in HAProxy.
 */
function stickAction(r: CRule, req: RequestView, res: ResponseView | null): void {
  let tr = req.trackers;
  if (r.kind === R_TRACK) {
    if (tr === null) tr = req.trackers = new Trackers();
    if (tr.tables[r.slot] !== null) return;
    const t = r.stickTable!;
    let ok: boolean;
    if (r.keySrc) {
      const ip = req.srcAddress();
      ok = ip !== null && keyFromIp(t.cfg.type, ip, keyBuf);
    } else {
      const s = evalFormat(r.value!, req, res);
      if (s === '') return;
      ok = keyFromText(t.cfg.type, s, t.cfg.keyLen, keyBuf);
    }
    if (!ok) {
      t.countBadKey();
      return;
    }
    const idx = t.get(keyBuf.bytes, keyBuf.len, true);
    if (idx < 0) return; // full with nopurge: counted by the table
    trackStart(tr, r.slot, t, idx);
    req.touch(); // sc_* fetches read something else now
    return;
  }
  const t = tr === null ? null : tr.tables[r.slot];
  if (t === null || tr === null) return;
  const idx = tr.idx[r.slot];
  const gen = tr.gen[r.slot];
  if (r.kind === R_SC_INC) {
    t.inc(idx, gen, r.counter, t.dataOff[r.counterRate] >= 0 ? r.counterRate : -1);
  } else {
    const v = Number(evalFormat(r.value!, req, res));
    if (!Number.isInteger(v)) return;
    t.set(idx, gen, DT_GPT0, v >>> 0);
  }
  req.touch();
}

/** set-var / set-var-fmt / unset-var: a set-var whose sample is missing leaves the variable as it was (HAProxy). */
function setVar(r: CRule, req: RequestView, res: ResponseView | null): void {
  if (r.kind === R_UNSET_VAR) req.unsetVar(r.varName);
  else {
    const v = r.varFmt ? evalFormat(r.value!, req, res) : evalSample(r.value!, req, res);
    if (v === null) return;
    req.setVar(r.varName, v);
  }
  req.touch(); // ACLs reading the variable see the new value
}

/** set/add/del/replace-header on `target`'s flat header array; true when it changed. */
function editHeaders(r: CRule, req: RequestView, res: ResponseView | null, target: RequestView | ResponseView): boolean {
  const h = target.headers;
  const len = target.headersLen;
  switch (r.kind) {
    case R_ADD_HEADER:
      target.addHeader(r.name, evalFormat(r.value!, req, res));
      return true;
    case R_SET_HEADER: {
      const v = evalFormat(r.value!, req, res); // computed before the removal (HAProxy)
      for (let i = 0; i < len; i += 2) if (h[i] !== '' && nameEquals(h[i], r.name)) h[i] = '';
      target.addHeader(r.name, v);
      return true;
    }
    case R_DEL_HEADER: {
      let changed = false;
      for (let i = 0; i < len; i += 2) {
        const n = h[i];
        if (n !== '' && delMatches(r, n)) {
          h[i] = '';
          changed = true;
        }
      }
      return changed;
    }
    case R_REPLACE_HEADER: {
      let changed = false;
      for (let i = 0; i < len; i += 2) {
        const n = h[i];
        if (n === '' || !nameEquals(n, r.name)) continue;
        const m = r.regex!.exec(h[i + 1]);
        if (m === null) continue;
        h[i + 1] = substituteGroups(evalFormat(r.value!, req, res), m);
        changed = true;
      }
      return changed;
    }
  }
  return false;
}

function nameEquals(n: string, lower: string): boolean {
  return n === lower || (n.length === lower.length && n.toLowerCase() === lower);
}

function delMatches(r: CRule, n: string): boolean {
  const name = r.name;
  switch (r.nameMatch) {
    case 0:
      return nameEquals(n, name);
    case 4:
      return r.nameRe!.test(n);
  }
  const l = n.toLowerCase();
  return r.nameMatch === 1 ? l.startsWith(name) : r.nameMatch === 2 ? l.endsWith(name) : l.includes(name);
}

/** `\0`..`\9` in a replace-header result -> the regex's groups (HAProxy's exp_replace). */
function substituteGroups(s: string, m: RegExpExecArray): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 48 && d <= 57) {
        out += m[d - 48] ?? '';
        i++;
        continue;
      }
      if (s[i + 1] === '\\') {
        out += '\\';
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}
