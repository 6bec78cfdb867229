// A net.Server that speaks HTTP/1.x through H1Connection: what a worker listens with (on a
// shared descriptor from listener.ts, or on a port of its own in tests).

import * as net from 'node:net';
import { DEFAULT_FRONT_OPTIONS, type FrontOptions, type H1Handler } from './api';
import { H1Connection } from './connection';

export function createFrontServer(handler: H1Handler, options: Partial<FrontOptions> = {}): net.Server {
  const opts: FrontOptions = { ...DEFAULT_FRONT_OPTIONS, ...options };
  // allowHalfOpen: a client that half-closes after its request still gets the answer
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    new H1Connection(socket, handler, opts);
  });
}
