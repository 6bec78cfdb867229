// gatehouse's own front engine on node:net (src/front-node/): for the frontends configured with
// `engine node`, and for every frontend where uWebSockets.js has no binary for this Node.js.
// Every worker listens on the same socket, made once by the primary (listener.ts); each request
// goes to a recycled Exchange of the proxy core, a WebSocket upgrade through a raw tunnel
// (node-tunnel.ts) once its server switched protocols.

import * as net from 'node:net';
import type * as tls from 'node:tls';
import type { BindAddress } from '../config/model';
import { logHandshakeFailure } from './handshake-log';
import { createFrontServer, type FrontTls, type ProxiedClient } from '../front-node/server';
import { tlsBindSetup } from '../front-node/tls-context';
import { getH2Serve, h2Ready, setH2Serve } from './alpn';
import type { FrontOptions, H1Handler, H1Refusal, H1Request, H1Response } from '../front-node/api';
import type { RequestRecord } from '../log/format';
import { countRequestEnd, countRequestStart, countStatus } from '../proxy/accounting';
import { C_EREQ } from '../shared/counters';
import { listenShared } from '../front-node/listener';
import { H2Front, h2Settings, idleTimeout } from '../front-h2/server';
import { readProxyHeader } from '../front-h2/proxy-header';
import type { Exchange } from '../proxy/exchange';
import type { FrontEngine } from './engine';
import { NodeClientRequest, NodeClientResponse } from './node-client';
import { NodeUpgrader } from './node-tunnel';
import type { FrontendRuntime, WorkerRuntime } from './runtime';

/** Test-only fault injection (GATEHOUSE_TEST_HOOKS=1), as in uws-engine.ts: GET /.gatehouse/crash-worker crashes the worker. */
const TEST_HOOKS = process.env.GATEHOUSE_TEST_HOOKS === '1';

/** A frontend this engine serves, with the shared listening descriptor of each of its binds. */
export interface NodeFrontend {
  fe: FrontendRuntime;
  fds: number[];
  /** the binds of `fds`, index for index (their TLS settings, accept-proxy); absent: all plain */
  binds?: BindAddress[];
  /** these binds are `proto h2`: clients speak HTTP/2 with prior knowledge (h2c) */
  h2?: boolean;
  /** (h2 binds) `accept-proxy`: a PROXY header comes before the h2 preface */
  acceptProxy?: boolean;
}

export class NodeEngine implements FrontEngine {
  private servers: net.Server[] = [];
  private readonly handlers: H1Handler[];
  private readonly options: Partial<FrontOptions>[];
  private readonly upgrader: NodeUpgrader;
  /** the HTTP/2 server of each frontend that had an h2 connection (src/front-h2/) */
  private readonly h2 = new Map<FrontendRuntime, H2Front>();

  constructor(
    private readonly rt: WorkerRuntime,
    private readonly frontends: NodeFrontend[],
    private readonly exchange: () => Exchange,
    /** called when the last tunnel ended (graceful stop waits for tunnels) */
    onTunnelsEmpty: () => void,
    /** the process's TLS session ticket keys (every worker resumes every other's sessions) */
    private readonly ticketKeys: Buffer | null = null,
  ) {
    this.upgrader = new NodeUpgrader(onTunnelsEmpty);
    // TLS binds whose ALPN chose h2 hand their sockets to this engine's HTTP/2 server
    setH2Serve((socket, fe, client) => this.serveH2(socket, fe, client));
    this.handlers = frontends.map(({ fe }) => ({
      onRequest: (req: H1Request, res: H1Response) => this.onRequest(fe, req, res),
      onRefused: (info: H1Refusal) => this.onRefused(fe, info),
    }));
    const g = rt.config.global;
    this.options = frontends.map(({ fe }) => ({
      maxHeadSize: g.maxHeaderSize,
      maxHeaders: g.maxHeaders,
      timeoutHttpRequest: fe.cfg.timeouts.httpRequest,
      timeoutHttpKeepAlive: fe.cfg.timeouts.httpKeepAlive,
      timeoutClient: fe.cfg.timeouts.client,
      // per bind, in listen() (proto h2 binds read theirs in serveH2Proxied)
      acceptProxy: false,
    }));
  }

  async listen(): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < this.frontends.length; i++) {
      // HAProxy's backlog is the frontend's maxconn (the kernel caps it at somaxconn). Every
      // listen() on the shared socket sets it again, a reload's new workers' too: asking for
      // less here would undo what src/primary/listen-backlog.ts raised.
      const backlog = Math.max(512, this.frontends[i].fe.cfg.maxconn);
      const { fe, fds, binds, h2, acceptProxy } = this.frontends[i];
      const onH2 = acceptProxy === true ? (socket: net.Socket) => this.serveH2Proxied(socket, fe) : (socket: net.Socket) => this.serveH2(socket, fe);
      for (let j = 0; j < fds.length; j++) {
        const fd = fds[j];
        const b = binds?.[j];
        const secure = b !== undefined && b.ssl ? this.frontTls(fe, b) : null;
        // accept-proxy: read by the connection (plain), or before the handshake (ssl, server.ts)
        const opts = b?.acceptProxy === true ? { ...this.options[i], acceptProxy: true } : this.options[i];
        const server = h2 === true ? net.createServer({ noDelay: true }, onH2) : createFrontServer(this.handlers[i], opts, secure);
        this.servers.push(server);
        // tune.maxaccept: libuv accepts one connection per listening handle and loop turn; more
        // come from the native addon, or from more duplicates of the socket (accept-burst.ts)
        jobs.push(listenShared(server, fd, backlog, this.rt.config.global.maxAccept));
      }
    }
    await Promise.all(jobs);
  }

  /** TLS for bind `b` of `fe`: node:tls options, h2 to the registered HTTP/2 server, handshake failures logged. */
  private frontTls(fe: FrontendRuntime, b: BindAddress): FrontTls {
    return {
      setup: tlsBindSetup(b, this.ticketKeys, h2Ready),
      h2: (socket: tls.TLSSocket, client: ProxiedClient | null) => {
        const serve = getH2Serve();
        if (serve === null) return false;
        serve(socket, fe, client ?? undefined);
        return true;
      },
      onHandshakeError: (err: Error, socket: tls.TLSSocket, client: ProxiedClient | null) => this.onHandshakeError(fe, b, err, socket, client),
    };
  }

  /**
   * Counted (handshake failures of the frontend) and logged as HAProxy does: "fe/bind: SSL
   * handshake failure", with the PROXY header's client on an accept-proxy bind.
   */
  private onHandshakeError(fe: FrontendRuntime, b: BindAddress, err: Error, socket: tls.TLSSocket, client: ProxiedClient | null): void {
    // not a request error (HAProxy keeps handshake failures out of ereq too)
    this.handshakeFailures++;
    logHandshakeFailure(this.rt, fe, b, err, client !== null ? client.address : socket.remoteAddress, client !== null ? client.port : socket.remotePort);
  }

  /** TLS handshakes that failed on this worker (tests, stats) */
  handshakeFailures = 0;

  closeListeners(): void {
    for (const s of this.servers) s.close();
    this.servers = [];
    // a graceful stop or reload: GOAWAY, so h2 clients finish their streams and go elsewhere
    // (a pause keeps them, as it keeps HTTP/1.1 connections)
    if (this.rt.draining) for (const f of this.h2.values()) f.goAway();
  }

  close(): void {
    this.closeListeners();
    for (const t of Array.from(this.upgrader.tunnels)) t.cut();
    for (const f of this.h2.values()) f.closeAll();
  }

  /**
   * Serve HTTP/2 on a socket already accepted for `fe`: a `proto h2` bind's connection, or a
   * TLS socket whose ALPN chose h2. Every stream goes through the proxy core like an HTTP/1.1
   * request of that frontend.
   */
  serveH2 = (socket: net.Socket, fe: FrontendRuntime, client?: { address: string; port: number }): void => {
    let f = this.h2.get(fe);
    if (f === undefined) {
      const g = this.rt.config.global;
      f = new H2Front((req, res) => this.onRequest(fe, req, res, 'HTTP/2.0'), {
        settings: h2Settings(g.h2),
        maxHeaderListSize: g.maxHeaderSize,
        timeoutIdle: idleTimeout(fe.cfg.timeouts.client, fe.cfg.timeouts.httpKeepAlive),
        onSessionError: (err, peer) => this.onH2Error(fe, err, peer.remoteAddress, peer.remotePort),
      });
      this.h2.set(fe, f);
    }
    f.accept(socket, client);
  };

  /** An accept-proxy h2 bind's connection: the PROXY header first (within timeout http-request). */
  private serveH2Proxied(socket: net.Socket, fe: FrontendRuntime): void {
    readProxyHeader(socket, fe.cfg.timeouts.httpRequest, (h) => {
      this.serveH2(socket, fe, h === null ? undefined : { address: h.srcAddress, port: h.srcPort });
    });
  }

  /** A client's h2 connection failed (bad preface, protocol error): counted and logged as a bad request, as HAProxy does. */
  private onH2Error(fe: FrontendRuntime, err: Error, addr: string, port: number): void {
    const sock = (err as { code?: string }).code;
    // a connection reset by the client is not its request's fault
    if (sock === 'ECONNRESET' || sock === 'EPIPE') return;
    this.onRefused(fe, { status: 400, reason: `HTTP/2: ${err.message}`, dispatched: false, remoteAddress: addr, remotePort: port, localAddress: '', localPort: 0 });
  }

  /** WebSocket tunnels open on this engine */
  get tunnelCount(): number {
    return this.upgrader.tunnels.size;
  }

  private onRefused(fe: FrontendRuntime, info: H1Refusal): void {
    if (info.dispatched) return;
    const slab = this.rt.slab;
    const r = refusalRecord(fe, info);
    countRequestStart(slab, fe.row, r.acceptMs);
    slab[fe.row + C_EREQ]++;
    countStatus(slab, info.status, fe.row, -1, -1);
    countRequestEnd(slab, fe.row, -1, -1, 0, 0, 0, -1, -1);
    if (this.rt.telemetry !== null) this.rt.telemetry.onRequestDone(r);
  }

  private onRequest(fe: FrontendRuntime, req: H1Request, res: H1Response, version?: string): void {
    if (TEST_HOOKS && req.target === '/.gatehouse/crash-worker') {
      // thrown outside the engine's own handling of the request: an uncaught exception
      process.nextTick(() => {
        throw new Error('crash requested by a test hook');
      });
      return;
    }
    const ex = this.exchange();
    ex.clientPort = req.remotePort;
    ex.httpVersion = version ?? (req.versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1');
    const cres = new NodeClientResponse(res, req);
    const up = req.upgrade && isWebSocketUpgrade(req) ? this.upgrader : null;
    ex.start(this.rt, fe, cres, new NodeClientRequest(req), up);
  }
}

/**
 * A request the engine answered itself (malformed, oversized, timed out): counted and logged as
 * HAProxy does (<BADREQ>, the frontend's request errors). One that had reached the proxy core
 * is that exchange's own record already.
 */
function refusalRecord(fe: FrontendRuntime, info: H1Refusal): RequestRecord {
  return {
    clientIp: info.remoteAddress,
    clientPort: info.remotePort,
    acceptMs: Date.now(),
    frontend: fe.index,
    backend: -1,
    server: -1,
    tq: -1,
    tw: -1,
    tc: -1,
    tr: -1,
    ta: 0,
    status: info.status,
    bytesOut: 0,
    bytesIn: 0,
    retries: 0,
    termination: info.status === 408 ? 'cR' : 'PR',
    method: '<BADREQ>',
    uri: '',
    httpVersion: '',
  };
}

/** Upgrade: websocket with a key: a WebSocket handshake (anything else is an ordinary request). */
function isWebSocketUpgrade(req: H1Request): boolean {
  let ws = false;
  let key = false;
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i].toLowerCase();
    if (n === 'upgrade' && h[i + 1].toLowerCase().split(',').some((t) => t.trim() === 'websocket')) ws = true;
    else if (n === 'sec-websocket-key') key = true;
  }
  return ws && key;
}
