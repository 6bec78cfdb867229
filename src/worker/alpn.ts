// Where a node:tls client connection goes once ALPN chose 'h2': the HTTP/2 server registers
// itself here (setH2Serve), and the node engine hands it each such socket. Without a
// registered server the engine does not offer h2 in the handshake (src/front-node/tls-context.ts
// asks h2Ready()), so clients fall back to HTTP/1.1.
import type * as tls from 'node:tls';
import type { FrontendRuntime } from './runtime';

/**
 * Serves one TLS connection that negotiated 'h2' on frontend `fe` (it owns the socket from then
 * on). `client`: the client of an accept-proxy bind's PROXY header, absent: the socket's own.
 */
export type H2Serve = (socket: tls.TLSSocket, fe: FrontendRuntime, client?: { address: string; port: number }) => void;

let h2Serve: H2Serve | null = null;

/** Register (or, with null, withdraw) the HTTP/2 server. */
export function setH2Serve(serve: H2Serve | null): void {
  h2Serve = serve;
}

/** The registered HTTP/2 server, or null. */
export function getH2Serve(): H2Serve | null {
  return h2Serve;
}

/** Whether h2 may be offered in ALPN now. */
export function h2Ready(): boolean {
  return h2Serve !== null;
}
