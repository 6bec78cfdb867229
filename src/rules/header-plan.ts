// Rule engine: which request headers the rules of a frontend/backend read (HeaderPlan), so the
// worker copies only what is needed.
import type { CompiledRules } from './engine';
import { CCond, CFormat, readsRequestHeader } from '../acl/compile';
import {
  R_DENY,
  R_RETURN,
  R_REDIRECT,
  R_SET_HEADER,
  R_ADD_HEADER,
  R_DEL_HEADER,
  R_REPLACE_HEADER,
  R_SET_PATH,
  R_SET_SRC,
  R_SET_VAR,
  R_TRACK,
  R_SC_SET_GPT0,
  RT_SCHEME,
} from './compiled-rule';

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
export interface HeaderUse {
  names: Set<string>;
  /** a test or format reads every header (hdr() without a name) */
  all: boolean;
  /** set/add/del/replace-header */
  edits: boolean;
}

export function formatHeaders(f: CFormat | null, use: HeaderUse): void {
  if (f === null) return;
  for (let i = 0; i < f.fetches.length; i++) {
    if (f.fetches[i] < 0 || !readsRequestHeader(f.fetches[i])) continue;
    if (f.args[i] === '') use.all = true;
    else use.names.add(f.args[i]);
  }
}

export function condHeaders(c: CCond | null, use: HeaderUse): void {
  if (c === null) return;
  for (const term of c.terms) {
    for (const t of term.acl.tests) {
      if (!readsRequestHeader(t.fetch)) continue;
      if (t.arg === '') use.all = true;
      else use.names.add(t.arg);
    }
  }
}

export function requestHeaderUse(p: CompiledRules, use: HeaderUse): void {
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
      case R_SET_SRC:
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

export function firstHeader(h: string[], len: number, name: string): string | null {
  for (let i = 0; i < len; i += 2) if (h[i] === name || (h[i] !== '' && h[i].toLowerCase() === name)) return h[i + 1];
  return null;
}
