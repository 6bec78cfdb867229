// Cookie persistence on the request path: glue between the proxy core and the pure functions of
// src/persistence/cookie.ts (HAProxy's `cookie NAME insert|rewrite|prefix ...`).

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
import type { HeaderWriter } from './client';
import { ADMIN_MAINT, SERVER_STRIDE, S_ADMIN, S_HEALTH, S_RMAINT, type SharedState } from '../shared/state';

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
    return (
      Atomics.load(this.state.servers, o + S_HEALTH) === 1 &&
      Atomics.load(this.state.servers, o + S_ADMIN) !== ADMIN_MAINT &&
      Atomics.load(this.state.servers, o + S_RMAINT) === 0
    );
  }
}

/** What the response side of persistence needs to know about the request's trip. */
export interface PersistenceTrip {
  cookieTxn: CookieTxn;
  /** global index of the server that answered */
  server: number;
  /** the server was chosen because of the request's cookie */
  direct: boolean;
  method: string;
}

/**
 * Reads the request cookie into `txn` (txn.server: the backend-local index of the server it
 * pins, -1 for none); returns the Cookie line to forward ('' for none).
 */
export function requestCookieLine(txn: CookieTxn, bc: BackendCookies, cookie: string | null): string {
  txn.reset();
  readRequestCookie(cookie ?? undefined, bc.cfg, bc, (Date.now() / 1000) | 0, txn);
  const fwd = txn.forward;
  return fwd.length === 0 ? '' : 'cookie: ' + fwd + '\r\n';
}

/** A server Set-Cookie header as it should reach the client, or null to drop it. */
export function responseSetCookie(t: PersistenceTrip, bc: BackendCookies, firstServer: number, value: string): string | null {
  return rewriteSetCookie(value, bc.cfg, bc.values[t.server - firstServer], t.direct, t.cookieTxn);
}

/** After the server's headers: insert our cookie (and Cache-Control: private for nocache). */
export function finishResponseCookies(
  t: PersistenceTrip,
  bc: BackendCookies,
  firstServer: number,
  out: HeaderWriter,
  status: number,
  headers: string[],
): void {
  const nowSec = (Date.now() / 1000) | 0;
  if (!shouldInsertCookie(bc.cfg, t.cookieTxn, t.direct, t.method === 'POST', nowSec)) return;
  const local = t.server - firstServer;
  const sc =
    bc.staticSetCookie !== null ? bc.staticSetCookie[local] : insertCookieHeader(bc.cfg, bc.values[local], nowSec, t.cookieTxn.firstSeen);
  out.writeHeader('set-cookie', sc);
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
  const v = nocacheHeader(bc.cfg, true, isResponseCacheable(t.method, status, cc, pragma, expiresOrValidator));
  if (v !== null) out.writeHeader('cache-control', v);
}
