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
 * Which engine serves `b` of a frontend in `mode`: mode tcp binds are node:net sockets (the tcp
 * engine); TLS binds run on uWS (the node engine has no TLS yet); without a uWS binary for this
 * Node.js every other bind runs on the node engine, and so do `proto h2` binds; else the
 * bind's own choice or the global default.
 */
export function bindEngine(b: BindAddress, g: GlobalConfig, uwsOk: boolean, mode: 'http' | 'tcp' = 'http'): 'uws' | 'node' {
  if (mode === 'tcp') return 'node';
  if (b.ssl) return 'uws';
  // HTTP/2 (node:http2) exists on the node engine only
  if (b.proto === 'h2') return 'node';
  if (!uwsOk) return 'node';
  return b.engine ?? g.engine;
}

/** The key of a bind address in the table of shared listening sockets. */
export function bindKey(b: BindAddress): string {
  return b.host + '|' + b.port;
}
