// What the worker needs from a front engine (uWebSockets.js, or gatehouse's own on node:net):
// listen on its binds, stop listening (pause, stop), and close every client connection when the
// worker exits. Requests reach the proxy core through the engine's own callbacks.

export interface FrontEngine {
  /** Listen on every bind this engine serves (start, and resume after a pause). */
  listen(): Promise<void>;
  /** Stop accepting new connections; open ones are still served. */
  closeListeners(): void;
  /** Close everything, client connections included (the worker is exiting). */
  close(): void;
}

import type { BindAddress, GlobalConfig } from '../config/model';

/**
 * What an ssl bind asks for that uWebSockets.js 20.30's TLS cannot do (no ALPN, TLSv1.2 minimum
 * fixed, no TLSv1.3 suites, curves, client certificates, crt-list, strict SNI or ticket switch),
 * as the words of its configuration; null when uWS can serve it.
 */
export function nodeTlsNeeds(b: BindAddress): string | null {
  if (!b.ssl) return null;
  const t = b.tlsOpts;
  const out: string[] = [];
  if (b.sslMinVer === 'TLSv1.3') out.push('ssl-min-ver TLSv1.3');
  if (t !== undefined) {
    if (t.sslMaxVer !== null && t.sslMaxVer !== 'TLSv1.3') out.push(`ssl-max-ver ${t.sslMaxVer}`);
    if (t.alpn !== null && t.alpn.includes('h2')) out.push('alpn h2');
    if (t.verify !== 'none') out.push(`verify ${t.verify}`);
    if (t.ciphersuites !== null) out.push('ciphersuites');
    if (t.curves !== null) out.push('curves');
    if (t.strictSni) out.push('strict-sni');
    if (t.crtList.length > 0) out.push('crt-list');
    if (!t.tlsTickets) out.push('no-tls-tickets');
  }
  return out.length === 0 ? null : out.join(', ');
}

/**
 * Which engine serves `b` of a frontend in `mode`: mode tcp binds are node:net sockets (the tcp
 * engine); `proto h2` binds (h2c) and `accept-proxy` binds (uWS cannot read a PROXY header) run
 * on the node engine; without a uWS binary for this Node.js every bind does; an ssl bind that
 * asks for what uWS's TLS lacks runs on the node engine (node:tls); else the bind's own choice
 * or the global default. (The validator refuses `engine uws` written with accept-proxy.)
 */
export function bindEngine(b: BindAddress, g: GlobalConfig, uwsOk: boolean, mode: 'http' | 'tcp' = 'http'): 'uws' | 'node' {
  if (mode === 'tcp') return 'node';
  // HTTP/2 (node:http2) exists on the node engine only
  if (b.proto === 'h2') return 'node';
  if (b.acceptProxy) return 'node';
  if (!uwsOk) return 'node';
  if (b.ssl && nodeTlsNeeds(b) !== null) return 'node';
  return b.engine ?? g.engine;
}

/** Why `b` runs on the node engine, for `-c` (bindEngine said 'node'). */
export function nodeEngineReason(b: BindAddress, g: GlobalConfig, uwsOk: boolean, mode: 'http' | 'tcp'): string {
  if (mode === 'tcp') return 'mode tcp';
  if (b.proto === 'h2') return "'proto h2': HTTP/2";
  if (b.acceptProxy) return "'accept-proxy': uWebSockets.js cannot read a PROXY header";
  if (!uwsOk) return `uWebSockets.js has no binary for Node.js ${process.version}`;
  const needs = nodeTlsNeeds(b);
  if (needs !== null) return `TLS with ${needs}: uWebSockets.js 20.30 cannot`;
  return b.engine === 'node' ? "'engine node' on the bind" : "'engine node' in global";
}

/** The key of a bind address in the table of shared listening sockets. */
export function bindKey(b: BindAddress): string {
  return b.host + '|' + b.port;
}
