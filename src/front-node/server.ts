// A net.Server that speaks HTTP/1.x through H1Connection: what a worker listens with (on a
// shared descriptor from listener.ts, or on a port of its own in tests). For an ssl bind it is a
// tls.Server (a net.Server too, so it listens on the shared descriptor the same way) whose
// secure sockets go to the same H1Connection, or to the HTTP/2 server when ALPN chose h2.

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { TlsBindSetup } from './tls-context';
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

/** TLS on a front server: its options, and where h2 connections and handshake failures go. */
export interface FrontTls {
  setup: TlsBindSetup;
  /** takes a connection that negotiated 'h2'; false: nothing serves h2 (the socket is closed) */
  h2(socket: tls.TLSSocket): boolean;
  /** a handshake that failed or timed out, or a client certificate refused after it */
  onHandshakeError(err: Error, socket: tls.TLSSocket): void;
}

export function createFrontServer(handler: H1Handler, options: Partial<FrontOptions> = {}, secure: FrontTls | null = null): FrontServer {
  const opts: FrontOptions = { ...DEFAULT_FRONT_OPTIONS, ...options };
  const conns = new Set<H1Connection>();
  let drainCheck: (() => void) | null = null;
  const forget = (c: H1Connection): void => {
    conns.delete(c);
    if (drainCheck !== null) drainCheck();
  };
  const serve = (socket: net.Socket): void => {
    const c = new H1Connection(socket, handler, opts);
    c.onDone = forget;
    conns.add(c);
  };
  // allowHalfOpen: a client that half-closes after its request still gets the answer
  const server = (secure === null ? net.createServer({ allowHalfOpen: true, noDelay: true }, serve) : tlsServer(secure, opts, serve)) as FrontServer;
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

function tlsServer(secure: FrontTls, opts: FrontOptions, serve: (socket: net.Socket) => void): tls.Server {
  const server = tls.createServer(
    // HAProxy counts the handshake in `timeout http-request` from the accept, as a request head
    { ...secure.setup.options, allowHalfOpen: true, noDelay: true, handshakeTimeout: opts.timeoutHttpRequest },
    (socket: tls.TLSSocket) => {
      if (secure.setup.rejectUnverified && !socket.authorized && socket.getPeerX509Certificate() !== undefined) {
        // verify optional: a certificate was sent and does not verify (see tls-context.ts)
        secure.onHandshakeError(new Error(`client certificate refused: ${String(socket.authorizationError)}`), socket);
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol === 'h2') {
        if (!secure.h2(socket)) socket.destroy();
        return;
      }
      serve(socket);
    },
  );
  // a failed handshake costs only its own connection
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    secure.onHandshakeError(err, socket);
    socket.destroy();
  });
  return server;
}
