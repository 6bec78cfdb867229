// A net.Server that speaks HTTP/1.x through H1Connection: what a worker listens with (on a
// shared descriptor from listener.ts, or on a port of its own in tests).

import * as net from 'node:net';
import { DEFAULT_FRONT_OPTIONS, type FrontOptions, type H1Handler } from './api';
import { H1Connection } from './connection';

export interface FrontServer extends net.Server {
  /** open connections (closed and detached ones leave the set) */
  readonly h1Connections: Set<H1Connection>;
  /**
   * Graceful stop / reload: stop accepting (server.close()) and let every connection finish
   * its current exchange with `connection: close`; idle ones close at once. `cb` runs when the
   * last connection is gone.
   */
  drain(cb?: () => void): void;
}

export function createFrontServer(handler: H1Handler, options: Partial<FrontOptions> = {}): FrontServer {
  const opts: FrontOptions = { ...DEFAULT_FRONT_OPTIONS, ...options };
  const conns = new Set<H1Connection>();
  let drainCheck: (() => void) | null = null;
  const forget = (c: H1Connection): void => {
    conns.delete(c);
    if (drainCheck !== null) drainCheck();
  };
  // allowHalfOpen: a client that half-closes after its request still gets the answer
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const c = new H1Connection(socket, handler, opts);
    c.onDone = forget;
    conns.add(c);
  }) as FrontServer;
  Object.defineProperty(server, 'h1Connections', { value: conns });
  server.drain = (cb?: () => void) => {
    // net counts a socket gone when it is destroyed, a tick before its 'close' reaches the
    // connection: wait for both
    let serverClosed = false;
    drainCheck = () => {
      if (!serverClosed || conns.size > 0 || cb === undefined) return;
      const done = cb;
      cb = undefined;
      done();
    };
    server.close(() => {
      serverClosed = true;
      drainCheck?.();
    });
    for (const c of conns) c.drain();
  };
  return server;
}
