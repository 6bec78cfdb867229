// http-request / http-response / redirect / use_backend rules: words -> the plain model. The
// condition (`if|unless ...`) always comes last, as in HAProxy.
import type { AclCondition, CustomErrorPage, FormatPart, HeaderNameMatch, HttpRule, RedirectSpec, ReplySpec, UseBackendRule } from '../config/model';
import { didYouMean } from '../config/suggest';
import { conditionStart, parseCondition, parseFormat, parseSampleExpr, type ConditionContext, type RuleSide } from '../acl/parse';
import { VAR_NAME_RE } from '../acl/convert';
import { RuleSyntaxError } from '../acl/words';
import { ERROR_PAGE_STATUSES } from './pages';
import { parseStickAction, STICK_REQUEST_ACTIONS, STICK_RESPONSE_ACTIONS, stickActionName } from './stick-actions';
import * as fs from 'node:fs';
import { readErrorFile } from '../config/error-files';

function fail(message: string): never {
  throw new RuleSyntaxError(message);
}

const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const REQUEST_ACTIONS = ['allow', 'deny', 'return', 'redirect', 'set-header', 'add-header', 'del-header', 'replace-header', 'set-path', 'set-src', 'set-var(NAME)', 'set-var-fmt(NAME)', 'unset-var(NAME)', ...STICK_REQUEST_ACTIONS];
export const RESPONSE_ACTIONS = ['allow', 'deny', 'return', 'set-header', 'add-header', 'del-header', 'replace-header', 'set-var(NAME)', 'set-var-fmt(NAME)', 'unset-var(NAME)', ...STICK_RESPONSE_ACTIONS];

/** `set-var(scope.name) EXPR`, `set-var-fmt(scope.name) FORMAT`, `unset-var(scope.name)` [cond] */
function parseVarRule(action: string, name: string, words: readonly string[], opts: ConditionContext): HttpRule {
  if (!VAR_NAME_RE.test(name)) fail(`'${action}(${name})': a variable name is scope.name, the scope one of proc, sess, txn, req, res`);
  const { args, cond } = splitCond(words, 1, opts);
  if (action === 'unset-var') {
    noMore(args, 0, `unset-var(${name})`);
    return { action: 'unset-var', name, cond };
  }
  if (args.length === 0) fail(`'${action}(${name})' expects ${action === 'set-var' ? 'a sample expression such as req.hdr(host),lower' : 'a log-format string'}`);
  noMore(args, 1, `${action}(${name}) ${args[0]}`);
  if (action === 'set-var') return { action: 'set-var', name, value: [parseSampleExpr(args[0], opts.side)], fmt: false, cond };
  return { action: 'set-var', name, value: parseFormat(args[0], opts.side), fmt: true, cond };
}
/** HAProxy 2.6 actions gatehouse does not implement: "not supported" rather than "unknown". */
const KNOWN_REQUEST = [
  'auth', 'cache-use', 'capture', 'del-acl', 'del-map', 'disable-l7-retry', 'do-resolve', 'early-hint', 'normalize-uri',
  'reject', 'replace-path', 'replace-pathq', 'replace-uri', 'replace-value', 'sc-inc-gpc', 'sc-inc-gpc0', 'sc-inc-gpc1',
  'sc-set-gpt0', 'send-spoe-group', 'set-dst', 'set-dst-port', 'set-log-level', 'set-map', 'set-mark', 'set-method',
  'set-nice', 'set-pathq', 'set-priority-class', 'set-priority-offset', 'set-query', 'set-src', 'set-src-port',
  'set-timeout', 'set-tos', 'set-uri', 'set-var', 'silent-drop', 'strict-mode', 'tarpit', 'track-sc0', 'track-sc1',
  'track-sc2', 'unset-var', 'use-service', 'wait-for-body', 'wait-for-handshake', 'add-acl',
];
const KNOWN_RESPONSE = [
  'add-acl', 'cache-store', 'capture', 'del-acl', 'del-map', 'redirect', 'replace-value', 'sc-inc-gpc', 'sc-inc-gpc0',
  'sc-inc-gpc1', 'sc-set-gpt0', 'send-spoe-group', 'set-log-level', 'set-map', 'set-mark', 'set-nice', 'set-status',
  'set-tos', 'set-var', 'silent-drop', 'strict-mode', 'track-sc0', 'track-sc1', 'track-sc2', 'unset-var',
  'wait-for-body',
];

/** Splits off the trailing condition: the action's words and the condition (or null). */
function splitCond(words: readonly string[], from: number, opts: ConditionContext): { args: string[]; cond: AclCondition | null } {
  const c = conditionStart(words, from);
  if (c < 0) return { args: words.slice(from), cond: null };
  return { args: words.slice(from, c), cond: parseCondition(words.slice(c), opts) };
}

function headerName(w: string | undefined, action: string, trailingColon = false): string {
  if (w === undefined) fail(`'${action}' expects a header name`);
  // "set-header X-Name: value" (a colon typed by habit): HAProxy sends the name as written, so the
  // line goes out as "x-name:: value"; accepted for the same result (the cfg reader warns)
  if (trailingColon && w.endsWith(':') && HEADER_NAME_RE.test(w.slice(0, -1))) return w.toLowerCase();
  if (!HEADER_NAME_RE.test(w)) fail(`'${w}' is not a header name`);
  return w.toLowerCase();
}

function status(w: string | undefined, what: string): number {
  if (w === undefined || !/^\d{3}$/.test(w)) fail(`${what} expects a status code, found '${w ?? 'nothing'}'`);
  return Number(w);
}

function noMore(args: readonly string[], from: number, action: string): void {
  if (args.length > from) fail(`unexpected '${args[from]}' after '${action}' (a condition starts with 'if' or 'unless')`);
}

/** One `http-request` (side 'req') or `http-response` (side 'res') rule, without the keyword. */
export function parseHttpRule(words: readonly string[], opts: ConditionContext): HttpRule {
  const side: RuleSide = opts.side;
  const action = stickActionName(words[0]);
  const kw = side === 'req' ? 'http-request' : 'http-response';
  const supported = side === 'req' ? REQUEST_ACTIONS : RESPONSE_ACTIONS;
  if (action === undefined) fail(`'${kw}' expects an action such as ${supported.slice(0, 4).join(', ')}`);
  const sv = /^(set-var|set-var-fmt|unset-var)\((.*)\)$/.exec(action);
  if (sv) return parseVarRule(sv[1], sv[2], words, opts);
  if (!supported.includes(action)) {
    const known = side === 'req' ? KNOWN_REQUEST : KNOWN_RESPONSE;
    if (known.includes(action) || /^(set-var|unset-var|sc-|track-sc|set-map|del-map|add-acl|del-acl)/.test(action)) {
      fail(`'${kw} ${action}' is not supported by gatehouse yet (supported: ${supported.join(', ')})`);
    }
    fail(`unknown '${kw}' action '${action}'${didYouMean(action, [...supported, ...known])}`);
  }
  const { args, cond } = splitCond(words, 1, opts);
  const stick = parseStickAction(words[0], args, cond, side);
  if (stick !== null) return stick;
  switch (action) {
    case 'allow':
      noMore(args, 0, action);
      return { action, cond };
    case 'deny':
    case 'return':
      return { action, reply: parseReply(args, action, side), cond };
    case 'redirect':
      return { action, redirect: parseRedirect(args, false), cond };
    case 'set-header':
    case 'add-header': {
      const name = headerName(args[0], action, true);
      if (args[1] === undefined) fail(`'${action} ${args[0]}' expects a value (a log-format string)`);
      noMore(args, 2, `${action} ${args[0]} ${args[1]}`);
      return { action, name, value: parseFormat(args[1], side), cond };
    }
    case 'del-header': {
      const name = args[0];
      if (name === undefined) fail("'del-header' expects a header name");
      let match: HeaderNameMatch = 'str';
      if (args[1] === '-m') {
        const m = args[2];
        if (m !== 'str' && m !== 'beg' && m !== 'end' && m !== 'sub' && m !== 'reg') fail(`'del-header -m' expects str, beg, end, sub or reg, found '${m ?? 'nothing'}'`);
        match = m;
        noMore(args, 3, 'del-header');
      } else {
        noMore(args, 1, 'del-header');
      }
      if (match === 'reg') {
        try {
          new RegExp(name, 'i');
        } catch (e) {
          fail(`invalid regular expression '${name}': ${(e as Error).message}`);
        }
        return { action, name, match, cond };
      }
      return { action, name: match === 'str' ? headerName(name, action) : name.toLowerCase(), match, cond };
    }
    case 'replace-header': {
      const name = headerName(args[0], action);
      const regex = args[1];
      const replace = args[2];
      if (regex === undefined || replace === undefined) fail("'replace-header' expects a header name, a regular expression and a replacement");
      noMore(args, 3, 'replace-header');
      try {
        new RegExp(regex);
      } catch (e) {
        fail(`invalid regular expression '${regex}': ${(e as Error).message}`);
      }
      return { action, name, regex, replace: parseFormat(replace, side), cond };
    }
    case 'set-path': {
      if (args[0] === undefined) fail("'set-path' expects a path (a log-format string)");
      noMore(args, 1, 'set-path');
      return { action, value: parseFormat(args[0], side), cond };
    }
    case 'set-src': {
      if (args[0] === undefined) fail("'set-src' expects a sample expression such as hdr(x-forwarded-for)");
      noMore(args, 1, `set-src ${args[0]}`);
      return { action, value: [parseSampleExpr(args[0], side)], cond };
    }
  }
  fail(`internal: action '${action}'`);
}

/** deny / return options (`http-request return` syntax; deny defaults to HAProxy's error page). */
function parseReply(args: readonly string[], action: 'deny' | 'return', side: RuleSide): ReplySpec {
  const deny = action === 'deny';
  let code = deny ? (side === 'req' ? 403 : 502) : 200;
  let contentType: string | null = null;
  let body: FormatPart[] | null = null;
  let errorPage = false;
  const headers: { name: string; value: FormatPart[] }[] = [];
  let payload: string | null = null;
  let rawPage: CustomErrorPage | null = null;
  for (let i = 0; i < args.length; i++) {
    const o = args[i];
    switch (o) {
      case 'status':
      case 'deny_status':
        if (o === 'deny_status' && !deny) fail("'deny_status' is only valid with 'deny' (use 'status')");
        code = status(args[++i], `'${o}'`);
        break;
      case 'content-type':
        if (args[i + 1] === undefined) fail("'content-type' expects a type");
        contentType = args[++i];
        break;
      case 'string':
      case 'lf-string': {
        if (payload !== null) fail(`'${o}' conflicts with '${payload}': one payload only`);
        payload = o;
        const v = args[++i];
        if (v === undefined) fail(`'${o}' expects a value`);
        body = o === 'string' ? [{ kind: 'lit', text: v }] : parseFormat(v, side);
        break;
      }
      case 'default-errorfiles':
        if (payload !== null) fail(`'${o}' conflicts with '${payload}': one payload only`);
        payload = o;
        errorPage = true;
        break;
      case 'hdr': {
        const name = headerName(args[i + 1], 'hdr');
        const v = args[i + 2];
        if (v === undefined) fail(`'hdr ${args[i + 1]}' expects a value`);
        headers.push({ name, value: parseFormat(v, side) });
        i += 2;
        break;
      }
      case 'file':
      case 'lf-file': {
        // the file's content is the body, read once at load (HAProxy reads it at start-up too)
        if (payload !== null) fail(`'${o}' conflicts with '${payload}': one payload only`);
        payload = o;
        const f = args[++i];
        if (f === undefined) fail(`'${o}' expects a file name`);
        let text: string;
        try {
          text = fs.readFileSync(f, 'latin1');
        } catch (e) {
          fail(`cannot read '${f}': ${(e as Error).message}`);
        }
        body = o === 'file' ? [{ kind: 'lit', text }] : parseFormat(text, side);
        break;
      }
      case 'errorfile': {
        // a complete HTTP response, as for the errorfile directive: its status and headers win
        if (payload !== null) fail(`'${o}' conflicts with '${payload}': one payload only`);
        payload = o;
        const f = args[++i];
        if (f === undefined) fail("'errorfile' expects a file name");
        let problem = '';
        const page = readErrorFile(f, (m) => (problem = m));
        if (page === null) fail(problem);
        rawPage = page;
        break;
      }
      case 'errorfiles':
        fail(`'${action} ... errorfiles' is not supported by gatehouse yet (use 'errorfile FILE', or the proxy's errorfile/errorfiles with 'default-errorfiles')`);
        break;
      default:
        fail(`unknown '${action}' option '${o}'${didYouMean(o, ['status', ...(deny ? ['deny_status'] : []), 'content-type', 'string', 'lf-string', 'default-errorfiles', 'hdr'])}`);
    }
  }
  if (rawPage !== null) {
    const fileHeaders = [];
    for (let i = 0; i < rawPage.headers.length; i += 2) fileHeaders.push({ name: rawPage.headers[i], value: [{ kind: 'lit' as const, text: rawPage.headers[i + 1] }] });
    return { status: rawPage.status, errorPage: false, contentType: null, body: [{ kind: 'lit', text: rawPage.body }], headers: [...fileHeaders, ...headers] };
  }
  // HAProxy: deny with at most a status means the proxy's error page for that status.
  if (deny && payload === null && contentType === null && headers.length === 0) errorPage = true;
  if (errorPage && !ERROR_PAGE_STATUSES.includes(code)) {
    fail(`status ${code} has no built-in error page (HAProxy's: ${ERROR_PAGE_STATUSES.join(', ')}); give a payload with 'string' and 'content-type'`);
  }
  if (!errorPage && (code < 200 || code > 599)) fail(`status ${code} is out of the range 200-599`);
  if (body !== null && contentType === null) fail(`'${action}' with a payload needs 'content-type' (HAProxy requires it)`);
  return { status: code, errorPage, contentType: errorPage ? null : contentType, body: errorPage ? null : body, headers: errorPage ? [] : headers };
}

const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;

/**
 * `location|prefix|scheme <value> [code N] [drop-query] [append-slash] [set-cookie N[=V]]
 * [clear-cookie N[=]] [ignore-empty]` in any order. `literal`: the standalone `redirect` keyword,
 * whose value is a plain string (only http-request redirect takes log-format).
 */
export function parseRedirect(args: readonly string[], literal: boolean): RedirectSpec {
  let type: RedirectSpec['type'] | null = null;
  let value: FormatPart[] = [];
  let code: RedirectSpec['code'] = 302;
  let dropQuery = false;
  let appendSlash = false;
  let setCookie: string | null = null;
  let clearCookie: string | null = null;
  let ignoreEmpty = false;
  for (let i = 0; i < args.length; i++) {
    const o = args[i];
    switch (o) {
      case 'location':
      case 'prefix':
      case 'scheme': {
        if (type !== null) fail(`'redirect' takes one of location, prefix or scheme (found '${type}' and '${o}')`);
        type = o;
        const v = args[++i];
        if (v === undefined) fail(`'redirect ${o}' expects a value`);
        value = literal ? [{ kind: 'lit', text: v }] : parseFormat(v, 'req');
        break;
      }
      case 'code': {
        const c = Number(args[++i]);
        if (!(REDIRECT_CODES as readonly number[]).includes(c)) fail(`redirect code must be 301, 302, 303, 307 or 308, found '${args[i] ?? 'nothing'}'`);
        code = c as RedirectSpec['code'];
        break;
      }
      case 'drop-query':
        dropQuery = true;
        break;
      case 'append-slash':
        appendSlash = true;
        break;
      case 'ignore-empty':
        ignoreEmpty = true;
        break;
      case 'set-cookie':
      case 'clear-cookie': {
        const v = args[++i];
        if (v === undefined || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(=[^;,\s]*)?$/.test(v)) fail(`'${o}' expects NAME[=value], found '${v ?? 'nothing'}'`);
        if (o === 'set-cookie') setCookie = v;
        else clearCookie = v;
        break;
      }
      default:
        fail(`unknown redirect option '${o}'${didYouMean(o, ['location', 'prefix', 'scheme', 'code', 'drop-query', 'append-slash', 'set-cookie', 'clear-cookie', 'ignore-empty'])}`);
    }
  }
  if (type === null) fail("'redirect' expects 'location', 'prefix' or 'scheme' followed by a value");
  return { type, value, code, dropQuery, appendSlash, setCookie, clearCookie, ignoreEmpty };
}

/** A standalone `redirect ...` rule (cfg keyword; YAML `redirect:` list). */
export function parseRedirectRule(words: readonly string[], opts: ConditionContext): HttpRule {
  const { args, cond } = splitCond(words, 0, opts);
  return { action: 'redirect', redirect: parseRedirect(args, true), cond };
}

/** `<backend> [if|unless <condition>]` */
export function parseUseBackend(words: readonly string[], opts: ConditionContext): UseBackendRule {
  const backend = words[0];
  if (backend === undefined || backend === 'if' || backend === 'unless') fail("'use_backend' expects a backend name");
  if (backend.includes('%[')) {
    const { args, cond } = splitCond(words, 1, opts);
    noMore(args, 0, `use_backend ${backend}`);
    return { backend, format: parseFormat(backend, 'req'), cond };
  }
  if (!/^[A-Za-z0-9_.:-]+$/.test(backend)) fail(`'${backend}' is not a backend name`);
  const { args, cond } = splitCond(words, 1, opts);
  noMore(args, 0, `use_backend ${backend}`);
  return { backend, cond };
}
