// Cookie persistence on the request path: glue between the exchange and the pure functions of
// src/persistence/cookie.ts (HAProxy's `cookie NAME insert|rewrite|prefix ...`).

import type { HttpResponse } from 'uWebSockets.js';
import type { CookieConfig } from '../config/model';
import {
  CookieTxn,
  insertCookieHeader,
  isResponseCacheable,
  nocacheHeader,
  readRequestCookie,
  rewriteSetCookie,
  shouldInsertCookie,
  staticInsertCookies,
  type CookieMatcher,
} from '../persistence/cookie';
import { ADMIN_MAINT, SERVER_STRIDE, S_ADMIN, S_HEALTH, type SharedState } from '../shared/state';

/** Per-backend persistence data, built once at start-up. */
export class BackendCookies implements CookieMatcher {
  readonly values: (string | null)[];
  /** Set-Cookie per local server when it does not depend on time, else null */
  readonly staticSetCookie: string[] | null;

  constructor(
    readonly cfg: CookieConfig,
    private readonly state: SharedState,
    private readonly firstServer: number,
    servers: readonly { cookie: string | null }[],
    readonly persist: boolean,
  ) {
    this.values = servers.map((s) => s.cookie);
    this.staticSetCookie = staticInsertCookies(cfg, this.values);
  }

  /** A cookie may pin to a server that is up, draining included (drain keeps persistent clients). */
  usable(i: number): boolean {
    const o = (this.firstServer + i) * SERVER_STRIDE;
    return Atomics.load(this.state.servers, o + S_HEALTH) === 1 && Atomics.load(this.state.servers, o + S_ADMIN) !== ADMIN_MAINT;
  }
}

export interface PersistentExchange {
  cookieTxn: CookieTxn;
  persistServer: number;
  /** the server was chosen because of the request's cookie */
  direct: boolean;
  server: number;
  method: string;
}

/** Reads the request cookie: pins ex.persistServer, returns the Cookie line to forward ('' for none). */
export function requestCookieLine(ex: PersistentExchange, bc: BackendCookies, firstServer: number, cookie: string | null): string {
  const txn = ex.cookieTxn;
  txn.reset();
  readRequestCookie(cookie ?? undefined, bc.cfg, bc, (Date.now() / 1000) | 0, txn);
  if (txn.server >= 0) ex.persistServer = firstServer + txn.server;
  const fwd = txn.forward;
  return fwd.length === 0 ? '' : 'cookie: ' + fwd + '\r\n';
}

/** A server Set-Cookie header as it should reach the client, or null to drop it. */
export function responseSetCookie(ex: PersistentExchange, bc: BackendCookies, firstServer: number, value: string): string | null {
  return rewriteSetCookie(value, bc.cfg, bc.values[ex.server - firstServer], ex.direct, ex.cookieTxn);
}

/** After the server's headers: insert our cookie (and Cache-Control: private for nocache). */
export function finishResponseCookies(
  ex: PersistentExchange,
  bc: BackendCookies,
  firstServer: number,
  res: HttpResponse,
  status: number,
  headers: string[],
): void {
  const nowSec = (Date.now() / 1000) | 0;
  if (!shouldInsertCookie(bc.cfg, ex.cookieTxn, ex.direct, ex.method === 'POST', nowSec)) return;
  const local = ex.server - firstServer;
  const sc =
    bc.staticSetCookie !== null ? bc.staticSetCookie[local] : insertCookieHeader(bc.cfg, bc.values[local], nowSec, ex.cookieTxn.firstSeen);
  res.writeHeader('set-cookie', sc);
  if (!bc.cfg.nocache) return;
  let cc: string | undefined;
  let pragma: string | undefined;
  let expiresOrValidator = false;
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i].toLowerCase();
    if (n === 'cache-control') cc = cc === undefined ? headers[i + 1] : cc + ', ' + headers[i + 1];
    else if (n === 'pragma') pragma = headers[i + 1];
    else if (n === 'expires' || n === 'etag' || n === 'last-modified') expiresOrValidator = true;
  }
  const v = nocacheHeader(bc.cfg, true, isResponseCacheable(ex.method, status, cc, pragma, expiresOrValidator));
  if (v !== null) res.writeHeader('cache-control', v);
}
