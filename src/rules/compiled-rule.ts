// Rule engine, compile side: action and rule-kind codes, and one http-request/response rule
// compiled to a CRule (conditions, formats, target) once per worker.
import type { CustomErrorPage, HttpRule } from '../config/model';
import { AclScope, CCond, CFormat } from '../acl/compile';
import { errorPageBody, reasonPhrase } from './pages';
import { tableNamed } from '../stick/registry';
import type { StickTable } from '../stick/table';
import { DT_GPC0, DT_GPC0_RATE, DT_GPC1, DT_GPC1_RATE } from '../stick/types';

/** Forward the request to `backend` (or, on the response side, send the response on). */
export const ACT_FORWARD = 0;
/** deny: answer with status/headers/body (counted as a denied request/response) */
export const ACT_DENY = 1;
/** http-request return */
export const ACT_RETURN = 2;
/** redirect */
export const ACT_REDIRECT = 3;

export const R_ALLOW = 0;
export const R_DENY = 1;
export const R_RETURN = 2;
export const R_REDIRECT = 3;
export const R_SET_HEADER = 4;
export const R_ADD_HEADER = 5;
export const R_DEL_HEADER = 6;
export const R_REPLACE_HEADER = 7;
export const R_SET_PATH = 8;
export const R_SET_VAR = 9;
export const R_UNSET_VAR = 10;
export const R_SET_SRC = 11;
// stick actions last: `kind >= R_TRACK` selects them
export const R_TRACK = 12;
export const R_SC_INC = 13;
export const R_SC_SET_GPT0 = 14;

/** useBackend entry of a `use_backend %[...]` rule: the name is computed per request */
export const DYNAMIC_BACKEND = -2;

export const RT_LOCATION = 0;
export const RT_PREFIX = 1;
export const RT_SCHEME = 2;

/** A compiled rule: one class for every action so the hot loop is monomorphic. */
export class CRule {
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

export function compileRule(r: HttpRule, scope: AclScope, side: 'req' | 'res', pages?: Record<string, CustomErrorPage>): CRule {
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
    case 'set-src':
      c.kind = R_SET_SRC;
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
