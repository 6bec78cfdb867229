// HTTP/2 towards clients (node:http2): one server per frontend that takes sockets already
// accepted elsewhere (a `proto h2` bind's listener, or a TLS socket whose ALPN chose h2) with
// accept(), and hands each stream to the engine as an H1Request / H1Response pair
// (stream-exchange.ts). The http2 server itself never listens.
//
// Settings are HAProxy's tune.h2.* (max-concurrent-streams 100, initial-window-size 65535,
// header-table-size 4096); the largest header list is tune.bufsize, as HAProxy's buffer bounds
// a decoded head. A client that speaks garbage gets a GOAWAY (or a reset) on its own
// connection; nothing else is affected.

import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TlsFacts } from '../front-node/tls-facts';
import type { H1Request, H1Response } from '../front-node/api';
import { H2_DEFAULTS, type H2Settings } from '../config/model';
import { H2Request, H2Response, type H2Peer } from './stream-exchange';

export interface H2FrontOptions {
  settings: H2Settings;
  /** tune.bufsize: the largest decoded header list a client may send */
  maxHeaderListSize: number;
  /** a connection without open streams for this long is closed (see idleTimeout()) */
  timeoutIdle: number;
  /** the connection failed (protocol error, reset): for the log, never thrown */
  onSessionError?: (err: Error, peer: H2Peer) => void;
}

export type H2StreamHandler = (req: H1Request, res: H1Response) => void;

/** "::ffff:a.b.c.d" (dual-stack bind) as a.b.c.d, as HAProxy logs it */
function plainAddress(a: string | undefined): string {
  if (a === undefined) return '';
  return a.startsWith('::ffff:') && a.indexOf('.') > 0 ? a.slice(7) : a;
}

interface SessionState {
  peer: H2Peer;
  /** streams handed to the handler and not closed yet */
  open: number;
}

export class H2Front {
  private readonly server: http2.Http2Server;
  private readonly sessions = new Map<http2.ServerHttp2Session, SessionState>();
  private goingAway = false;
  /** the PROXY header's client for the session being made (accept()) */
  private nextClient: { address: string; port: number } | null = null;
  /** the TLS facts of the connection being made (accept()), null on h2c */
  private nextTls: TlsFacts | null = null;

  constructor(
    private readonly handler: H2StreamHandler,
    private readonly opts: H2FrontOptions,
  ) {
    const s = opts.settings;
    this.server = http2.createServer({
      settings: {
        maxConcurrentStreams: s.maxConcurrentStreams,
        initialWindowSize: s.initialWindowSize,
        headerTableSize: s.headerTableSize,
        maxHeaderListSize: opts.maxHeaderListSize,
      },
      // node:http2 refuses new streams past maxConcurrentStreams itself (RST_STREAM REFUSED_STREAM)
      peerMaxConcurrentStreams: s.maxConcurrentStreams,
    });
    this.server.on('session', (session: http2.ServerHttp2Session) => this.onSession(session));
    this.server.on('stream', (stream: http2.ServerHttp2Stream, _h: http2.IncomingHttpHeaders, _f: number, raw: string[]) => this.onStream(stream, raw));
    // a session's error (bad preface, protocol error): that connection only
    this.server.on('sessionError', () => {});
  }

  /**
   * Serve HTTP/2 on an accepted socket (plain, or TLS with ALPN h2). `client`: the client's
   * address from a PROXY header (accept-proxy), else the socket's own.
   */
  accept(socket: net.Socket, client?: { address: string; port: number }): void {
    if (this.goingAway) {
      socket.destroy();
      return;
    }
    // node:http2 makes the session (and emits 'session') within this call
    this.nextClient = client ?? null;
    // a TLS socket whose ALPN chose h2: its facts for the ssl_* fetches of every stream
    this.nextTls = (socket as TLSSocket).encrypted === true ? new TlsFacts(socket as TLSSocket) : null;
    try {
      this.server.emit('connection', socket);
    } finally {
      this.nextClient = null;
      this.nextTls = null;
    }
  }

  /** connections open */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * Graceful stop / reload: GOAWAY on every connection; streams in flight finish, no new ones
   * are taken, and each connection closes once its last stream ended.
   */
  goAway(): void {
    this.goingAway = true;
    for (const session of this.sessions.keys()) if (!session.closed) session.close();
  }

  /** Cut every connection now (the worker exits). */
  closeAll(): void {
    this.goingAway = true;
    for (const session of this.sessions.keys()) session.destroy();
    this.sessions.clear();
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const sock = session.socket;
    const client = this.nextClient;
    const peer: H2Peer = {
      remoteAddress: client !== null ? client.address : plainAddress(sock.remoteAddress),
      remotePort: client !== null ? client.port : sock.remotePort ?? 0,
      localAddress: plainAddress(sock.localAddress),
      localPort: sock.localPort ?? 0,
      tls: this.nextTls,
    };
    const st: SessionState = { peer, open: 0 };
    this.sessions.set(session, st);
    session.on('error', (err: Error) => {
      if (this.opts.onSessionError !== undefined) this.opts.onSessionError(err, peer);
    });
    session.on('close', () => this.sessions.delete(session));
    // idle: no stream open for timeoutIdle (a stream in progress has the core's timers)
    session.setTimeout(this.opts.timeoutIdle, () => {
      if (st.open === 0) session.close();
    });
    if (this.goingAway) session.close();
  }

  private onStream(stream: http2.ServerHttp2Stream, raw: string[]): void {
    const st = this.sessions.get(stream.session as http2.ServerHttp2Session);
    if (st === undefined) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    st.open++;
    stream.on('close', () => st.open--);
    // a reset from the client surfaces as an error event: the response's close handling covers it
    stream.on('error', () => {});
    const req = new H2Request(stream, raw, st.peer);
    const res = new H2Response(stream, req.method === 'HEAD');
    this.handler(req, res);
  }
}

/**
 * How long an h2 connection may sit without a stream: HAProxy 2.6 uses `timeout
 * http-keep-alive` when it is shorter than `timeout client`, else `timeout client`.
 */
export function idleTimeout(client: number, httpKeepAlive: number): number {
  return httpKeepAlive > 0 && httpKeepAlive < client ? httpKeepAlive : client;
}

/** The settings of `proto h2` binds: tune.h2.* from global, HAProxy's defaults where unset. */
export function h2Settings(s: H2Settings | undefined): H2Settings {
  return s ?? H2_DEFAULTS;
}
