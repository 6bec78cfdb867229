// A net.Server that speaks HTTP/1.x through H1Connection: what a worker listens with (on a
// shared descriptor from listener.ts, or on a port of its own in tests). For an ssl bind it is a
// tls.Server (a net.Server too, so it listens on the shared descriptor the same way) whose
// secure sockets go to the same H1Connection, or to the HTTP/2 server when ALPN chose h2.
// An ssl bind with accept-proxy listens with a plain net.Server that reads the PROXY header off
// each TCP connection, then hands the socket (ClientHello bytes that came with the header put
// back) to an unlistening tls.Server through its 'connection' event: everything node:tls does
// for a bind (SNI, ALPN, client certificates, tickets, handshake timeout and errors) is the same.

import * as net from 'node:net';
import * as tls from 'node:tls';
import type { TlsBindSetup } from './tls-context';
import { DEFAULT_FRONT_OPTIONS, type FrontOptions, type H1Handler } from './api';
import { H1Connection } from './connection';
import { SocketIo, type ClientIo } from './client-io';
import { acceptRaw, rawClientsEnabled } from './raw-client';
import { readProxyHeader } from '../front-h2/proxy-header';
import { PeerMap } from '../net/peer-map';

/** A client address from a PROXY header. */
export interface ProxiedClient {
  address: string;
  port: number;
}

export interface FrontServer extends net.Server {
  /** open connections (closed and detached ones leave the set) */
  readonly h1Connections: Set<H1Connection>;
  /** connections served since the start (a plain bind's raw accepts emit no 'connection') */
  readonly served: number;
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
  /**
   * takes a connection that negotiated 'h2'; false: nothing serves h2 (the socket is closed).
   * `client`: the PROXY header's client (accept-proxy), null: the socket's own address.
   */
  h2(socket: tls.TLSSocket, client: ProxiedClient | null): boolean;
  /** a handshake that failed or timed out, or a client certificate refused after it */
  onHandshakeError(err: Error, socket: tls.TLSSocket, client: ProxiedClient | null): void;
}

export function createFrontServer(handler: H1Handler, options: Partial<FrontOptions> = {}, secure: FrontTls | null = null): FrontServer {
  const opts: FrontOptions = { ...DEFAULT_FRONT_OPTIONS, ...options };
  const conns = new Set<H1Connection>();
  let drainCheck: (() => void) | null = null;
  const forget = (c: H1Connection): void => {
    conns.delete(c);
    if (drainCheck !== null) drainCheck();
  };
  // with TLS, accept-proxy is read before the handshake, not by the connection
  const connOpts = secure !== null && opts.acceptProxy ? { ...opts, acceptProxy: false } : opts;
  let served = 0;
  const serveIo = (io: ClientIo, client: ProxiedClient | null = null): void => {
    served++;
    const c = new H1Connection(io, handler, connOpts, client);
    c.onDone = forget;
    conns.add(c);
  };
  const serve = (socket: net.Socket, client: ProxiedClient | null = null): void => serveIo(new SocketIo(socket), client);
  // allowHalfOpen: a client that half-closes after its request still gets the answer
  let server: FrontServer;
  if (secure === null) {
    server = net.createServer({ allowHalfOpen: true, noDelay: true }, serve) as FrontServer;
    // plain HTTP/1: the accepted handles themselves (a connection accepted before 'listening'
    // is a net.Socket, served the same)
    if (rawClientsEnabled) acceptRaw(server, serveIo);
  } else if (!opts.acceptProxy) server = tlsServer(secure, opts, serve, null) as unknown as FrontServer;
  else {
    const clients = new PeerMap<ProxiedClient>();
    const inner = tlsServer(secure, opts, serve, clients);
    server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      // HAProxy's accept-proxy: a bad, missing or late header closes the connection without a byte
      readProxyHeader(socket, opts.timeoutHttpRequest, (h) => {
        if (socket.destroyed) return;
        if (h !== null) clients.add(socket, { address: h.srcAddress, port: h.srcPort });
        inner.emit('connection', socket);
      });
    }) as FrontServer;
  }
  Object.defineProperty(server, 'h1Connections', { value: conns });
  Object.defineProperty(server, 'served', { get: () => served });
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

/** `clients`: the PROXY headers' clients of an accept-proxy bind, null without accept-proxy. */
function tlsServer(secure: FrontTls, opts: FrontOptions, serve: (socket: net.Socket, client: ProxiedClient | null) => void, clients: PeerMap<ProxiedClient> | null): tls.Server {
  const server = tls.createServer(
    // HAProxy counts the handshake in `timeout http-request` from the accept, as a request head
    { ...secure.setup.options, allowHalfOpen: true, noDelay: true, handshakeTimeout: opts.timeoutHttpRequest },
    (socket: tls.TLSSocket) => {
      const client = clients === null ? null : clients.take(socket);
      if (secure.setup.rejectUnverified && !socket.authorized && socket.getPeerX509Certificate() !== undefined) {
        // verify optional: a certificate was sent and does not verify (see tls-context.ts)
        secure.onHandshakeError(new Error(`client certificate refused: ${String(socket.authorizationError)}`), socket, client);
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol === 'h2') {
        if (!secure.h2(socket, client)) socket.destroy();
        return;
      }
      serve(socket, client);
    },
  );
  // a failed handshake costs only its own connection
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    secure.onHandshakeError(err, socket, clients === null ? null : clients.take(socket));
    socket.destroy();
  });
  return server;
}
