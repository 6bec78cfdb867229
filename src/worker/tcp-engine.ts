// mode tcp frontends: every worker accepts on the frontend's shared listening sockets (as the
// node engine does), runs `tcp-request` rules over the connection and its first bytes
// (src/tcp/inspect.ts), picks a server with the proxy core's ServerAttempt (balancer,
// maxconn slot and queue, retries, redispatch) and relays bytes both ways (src/tcp/relay.ts).
// Each session is one record for the stats, histograms and the tcplog line. An `ssl` bind
// terminates TLS first (src/tcp/tls-terminate.ts) and relays the decrypted bytes.

import type { ProxyAddresses } from '../net/proxy-protocol';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import type { BindAddress } from '../config/model';
import { TlsFacts } from '../front-node/tls-facts';
import { TlsTerminator } from '../tcp/tls-terminate';
import { logHandshakeFailure } from './handshake-log';
import { C_BIN, C_CONN_TOT, C_DCON, C_DREQ, C_DSES, C_LAST_SESS, C_SCUR, C_STOT } from '../shared/counters';
import type { SessionAddresses } from '../log/format';
import { acceptOnMoreServers, listenShared } from '../front-node/listener';
import { countConnectError, countRequestEnd } from '../proxy/accounting';
import { ASSIGN_FULL, ASSIGN_NOSRV, RETRY_NONE, RETRY_SAME } from '../proxy/attempt';
import { SessionRecord } from '../proxy/record';
import { REJECT, TcpRules, TcpView, inspectSession } from '../tcp/inspect';
import { TcpSession, relayTimeouts, type TcpSessionEnd } from '../tcp/relay';
import { trackEnd, trackSession } from '../stick/track';
import { decodeProxyHeader, encodeProxyV1, encodeProxyV2, PP_DONE, PP_INCOMPLETE, type ProxyHeader } from '../net/proxy-protocol';
import { performance } from 'node:perf_hooks';
import type { FrontEngine } from './engine';
import type { NodeFrontend } from './node-engine';
import type { BackendRuntime, FrontendRuntime, QueueWaiter, WorkerRuntime } from './runtime';
import { KEY_SOURCE } from './runtime';

/** IPv4-mapped IPv6 addresses as IPv4 (HAProxy logs v4 clients of a v6 socket so). */
function v4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export class TcpEngine implements FrontEngine {
  private servers: net.Server[] = [];
  readonly streams = new Set<TcpStream>();
  private readonly rules: TcpRules[];

  constructor(
    private readonly rt: WorkerRuntime,
    private readonly frontends: NodeFrontend[],
    /** called when the last session ended (graceful stop waits for sessions) */
    private readonly onEmpty: () => void,
    /** the process's TLS session ticket keys (ssl binds resume each other's sessions) */
    private readonly ticketKeys: Buffer | null = null,
  ) {
    this.rules = frontends.map(({ fe }) => new TcpRules(fe.cfg));
  }

  get count(): number {
    return this.streams.size;
  }

  async listen(): Promise<void> {
    const jobs: Promise<void>[] = [];
    this.frontends.forEach(({ fe, fds }, i) => {
      fds.forEach((fd, j) => {
        // fds are in the order of the frontend's binds (WorkerMain.sharedEntry)
        const b = fe.cfg.binds[j];
        const acceptProxy = b?.acceptProxy === true;
        // TLS is done by a tls.Server of its own after the connection rules and the PROXY header
        const secure = b !== undefined && b.ssl ? { bind: b, term: new TlsTerminator(b, this.ticketKeys, fe.cfg.timeouts.client) } : null;
        // the relay reads the socket itself (nothing flows before its 'data' listener)
        const onConnection = (sock: net.Socket): void => this.accept(fe, this.rules[i], sock, acceptProxy, secure);
        const server = net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
        // tune.maxaccept without the native addon: one more net.Server per duplicate of the
        // socket (libuv accepts one connection per listening handle and loop turn;
        // front-node/accept-burst.ts)
        acceptOnMoreServers(server, () => net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection));
        this.servers.push(server);
        jobs.push(listenShared(server, fd, 511, this.rt.config.global.maxAccept));
      });
    });
    await Promise.all(jobs);
  }

  closeListeners(): void {
    for (const s of this.servers) s.close();
    this.servers = [];
  }

  close(): void {
    this.closeListeners();
    for (const s of Array.from(this.streams)) s.kill();
  }

  private accept(fe: FrontendRuntime, rules: TcpRules, sock: net.Socket, acceptProxy: boolean, secure: SecureBind | null): void {
    const s = new TcpStream(this.rt, fe, rules, sock, (t) => {
      this.streams.delete(t);
      if (this.streams.size === 0) this.onEmpty();
    });
    this.streams.add(s);
    s.start(acceptProxy, secure);
  }
}

/** An ssl bind: its settings (for the log line) and the handshakes of its connections. */
interface SecureBind {
  bind: BindAddress;
  term: TlsTerminator;
}

/**
 * accept-proxy: reads the PROXY header (v1 or v2) at the start of `sock`, within `timeoutMs`.
 * `done(header, bytes after it)`, or `done(null)` on anything else (garbage, timeout, close).
 * The socket is left paused.
 */
function readProxyHeader(sock: net.Socket, timeoutMs: number, done: (h: ProxyHeader | null, rest: Buffer) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  let over = false;
  const finish = (h: ProxyHeader | null, rest: Buffer): void => {
    if (over) return;
    over = true;
    if (timer !== null) clearTimeout(timer);
    sock.pause();
    sock.off('data', onData);
    sock.off('end', onGone);
    sock.off('close', onGone);
    sock.off('error', onGone);
    done(h, rest);
  };
  const onGone = (): void => finish(null, buf);
  const onData = (d: Buffer): void => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    const r = decodeProxyHeader(buf);
    if (r.status === PP_INCOMPLETE) return;
    if (r.status !== PP_DONE || r.header === null) return finish(null, buf);
    finish(r.header, buf.subarray(r.length));
  };
  const timer = timeoutMs > 0 ? setTimeout(onGone, timeoutMs) : null;
  sock.on('data', onData);
  sock.on('end', onGone);
  sock.on('close', onGone);
  sock.on('error', onGone);
  sock.resume();
}

/** One TCP session: its record, its server attempt and its relay. */
class TcpStream extends SessionRecord implements QueueWaiter {
  private session: TcpSession | null = null;
  private be: BackendRuntime | null = null;
  private admitted = false;
  private queueTimer: NodeJS.Timeout | null = null;
  private ended = false;
  /** what the tcp-request rules see; its trackers are the session's stick counters */
  private readonly view = new TcpView();

  // the log record (SessionRecord's fields, and the addresses only a tcp session logs)
  /** performance.now() of the accept (the relay's timers count from it, PROXY header included) */
  private readonly acceptPerf = performance.now();
  readonly addrs: SessionAddresses = { frontendIp: '', frontendPort: 0, backendIp: '', backendPort: 0, serverIp: '', serverPort: 0 };

  constructor(
    private readonly rt: WorkerRuntime,
    private readonly fe: FrontendRuntime,
    private readonly rules: TcpRules,
    /** the accepted socket; after a TLS handshake, the secure socket over it */
    private sock: net.Socket,
    private readonly onDone: (s: TcpStream) => void,
  ) {
    super();
    this.acceptMs = Date.now();
    // not HTTP's starting values: Tw -1 until the relay reports (a session refused before it), no HTTP version
    this.tw = -1;
    this.httpVersion = '';
    this.clientIp = v4(sock.remoteAddress ?? '');
    this.clientPort = sock.remotePort ?? 0;
    this.frontend = fe.index;
    this.addrs.frontendIp = v4(sock.localAddress ?? '');
    this.addrs.frontendPort = sock.localPort ?? 0;
  }

  /** `acceptProxy`: the bind's accept-proxy (a PROXY header comes first); `secure`: an ssl bind. */
  start(acceptProxy: boolean, secure: SecureBind | null = null): void {
    const rt = this.rt;
    const fe = this.fe;
    const slab = rt.slab;
    slab[fe.row + C_CONN_TOT]++;
    const v = this.view;
    v.reset(this.clientIp, this.sock.localPort ?? 0);
    // as in HAProxy, connection rules run before the PROXY header is read: their src is the peer
    if (this.rules.connectionVerdict(v) === REJECT) {
      // HAProxy: denied_conn (dcon), no session, no log
      slab[fe.row + C_DCON]++;
      this.drop();
      return;
    }
    if (acceptProxy) {
      this.sock.pause();
      readProxyHeader(this.sock, fe.cfg.timeouts.client, (h, rest) => {
        if (h === null) {
          // not a PROXY header, a timeout or the client gone: closed before any session (HAProxy)
          this.drop();
          return;
        }
        if (!h.local && h.srcAddress !== '') {
          this.clientIp = v4(h.srcAddress);
          this.clientPort = h.srcPort;
          this.addrs.frontendIp = v4(h.dstAddress);
          this.addrs.frontendPort = h.dstPort;
          v.req.srcIp = this.clientIp;
          v.req.dstPort = h.dstPort;
          v.req.touch();
        }
        if (secure !== null) {
          // the start of the ClientHello: node:tls reads what the socket has buffered
          if (rest.length > 0) this.sock.unshift(rest);
          this.handshake(secure);
          return;
        }
        // what came with the header is the start of the prelude, seen by the content rules
        this.startSession(rest);
        this.sock.resume();
      });
      return;
    }
    if (secure !== null) this.handshake(secure);
    else this.startSession();
  }

  /** TLS on an ssl bind: the session starts on the secure socket; a failed handshake is only logged. */
  private handshake(secure: SecureBind): void {
    secure.term.handshake(this.sock, (socket: tls.TLSSocket | null, err: Error | null) => {
      if (this.ended) {
        socket?.destroy();
        return;
      }
      if (socket === null) {
        // HAProxy: a connection line, no session (stot and the tcplog line are for sessions)
        logHandshakeFailure(this.rt, this.fe, secure.bind, err ?? new Error('handshake failed'), this.clientIp, this.clientPort);
        this.drop();
        return;
      }
      this.sock = socket;
      // ssl_fc, ssl_fc_sni, ssl_c_* for the session and content rules
      this.view.req.tls = true;
      this.view.req.ssl = new TlsFacts(socket);
      this.startSession();
    });
  }

  /** Closed before a session began: only the connection was counted. */
  private drop(): void {
    if (this.ended) return;
    this.ended = true;
    this.sock.destroy();
    trackEnd(this.view.req.trackers, 0, 0, 0);
    this.onDone(this);
  }

  private startSession(received?: Buffer): void {
    const rt = this.rt;
    const fe = this.fe;
    const slab = rt.slab;
    const v = this.view;
    // tcp-request session rules: after the PROXY header, before the session counts (HAProxy's layer 5)
    if (this.rules.sessionVerdict(v) === REJECT) {
      slab[fe.row + C_DSES]++; // denied_sess, no log
      this.drop();
      return;
    }
    // a session (stot); no HTTP request (req_tot stays 0, as HAProxy's for tcp proxies)
    slab[fe.row + C_STOT]++;
    slab[fe.row + C_SCUR]++;
    slab[fe.row + C_LAST_SESS] = this.acceptMs;
    if (!rt.admit(fe)) {
      // the frontend/process at maxconn (HAProxy stops accepting)
      slab[fe.row + C_DREQ]++;
      this.sock.destroy();
      this.termination = 'PR';
      this.end(0, 0);
      return;
    }
    this.admitted = true;
    trackSession(v.req.trackers); // sc entries tracked by connection and session rules count a session
    const s = (this.session = new TcpSession(this.sock, relayTimeouts(fe.cfg, fe.cfg), (e) => this.onEnd(e), { acceptedAt: this.acceptPerf, received }));
    inspectSession(s, this.rules, v, (verdict) => {
      if (verdict === REJECT) {
        rt.slab[fe.row + C_DREQ]++;
        s.fail('P', 'R');
        return;
      }
      const name = this.rules.backend(v);
      const bi = name === null ? undefined : rt.index.backendByName.get(name);
      if (bi === undefined) {
        s.fail('P', 'R');
        return;
      }
      const be = (this.be = rt.backends[bi]);
      this.backend = bi;
      rt.slab[be.row + C_LAST_SESS] = this.acceptMs;
      s.setTimeouts(relayTimeouts(fe.cfg, be.cfg));
      this.attempt.begin(rt, be, -1, this.acceptMs);
      this.dispatch(-1);
    });
  }

  private dispatch(exclude: number): void {
    const s = this.session!;
    const be = this.be!;
    const r = this.attempt.assign(be.keyKind === KEY_SOURCE ? this.clientIp : null, exclude);
    if (r === ASSIGN_NOSRV) {
      s.connectFailed('error');
      return;
    }
    if (r === ASSIGN_FULL) {
      this.attempt.enqueue(this, exclude);
      s.queued();
      this.queueTimer = setTimeout(() => {
        this.queueTimer = null;
        const waited = this.attempt.dequeue(this);
        if (waited >= 0) this.tw = waited;
        s.fail('s', 'Q');
      }, be.cfg.timeouts.queue);
      return;
    }
    void this.connect();
  }

  /** A server slot may have freed (WorkerRuntime.drainQueues); false = still full. */
  retryFromQueue(): boolean {
    if (this.ended) {
      this.attempt.dequeue(this);
      return true;
    }
    if (this.attempt.stillFull()) return false;
    const waited = this.attempt.dequeue(this);
    if (waited >= 0) this.tw = waited;
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.queueTimer = null;
    this.dispatch(this.attempt.exclude);
    return true;
  }

  private async connect(): Promise<void> {
    const s = this.session!;
    const srv = this.rt.servers[this.attempt.server];
    srv.pool.syncAddress(); // a server under resolvers: its current address (src/dns/)
    // %si/%sp: the server tried (HAProxy's target address, known before the connect ends)
    this.addrs.serverIp = srv.pool.host;
    this.addrs.serverPort = srv.pool.port;
    const pool = srv.pool;
    // send-proxy(-v2) and TLS: the relay's connect writes the PROXY header first, then TLS
    const params = pool.perClient || pool.tls !== null ? pool.params('', this.addresses()) : null;
    const o = await s.connect({ host: pool.host, port: pool.port }, this.be!.cfg.timeouts.connect, params);
    if (o.ok) {
      const a = this.addrs;
      a.backendIp = v4(o.socket.localAddress ?? '');
      a.backendPort = o.socket.localPort ?? 0;
      s.attach(o.socket);
      return;
    }
    if (o.reason === 'aborted') {
      this.attempt.release();
      return;
    }
    const failed = this.attempt.server;
    const next = this.attempt.retry();
    // econ once per session, when no retry is left (HAProxy); each failure still feeds `observe`
    countConnectError(this.rt, this.be!, failed, next === RETRY_NONE);
    if (next === RETRY_SAME) void this.connect();
    else if (next !== RETRY_NONE) this.dispatch(this.attempt.exclude);
    else s.connectFailed(o.reason);
  }

  /** For a PROXY header: the client's address (from its own PROXY header with accept-proxy) and the bind's. */
  private addresses(): ProxyAddresses {
    // the client's address and the one it reached (after accept-proxy: the header's)
    return { srcAddress: this.clientIp, srcPort: this.clientPort, dstAddress: this.addrs.frontendIp, dstPort: this.addrs.frontendPort };
  }

  private onEnd(e: TcpSessionEnd): void {
    this.tw = e.tw;
    this.tc = e.tc;
    this.termination = e.termination;
    this.end(e.bytesIn, e.bytesOut);
  }

  /** The worker is going away: end at once (HAProxy's K). */
  kill(): void {
    if (this.session !== null) this.session.fail('K');
    else if (!this.ended) this.drop(); // still reading a PROXY header or in the TLS handshake
  }

  private end(bytesIn: number, bytesOut: number): void {
    if (this.ended) return;
    this.ended = true;
    if (this.queueTimer !== null) clearTimeout(this.queueTimer);
    this.attempt.dequeue(this);
    this.attempt.release();
    const rt = this.rt;
    this.bytesIn = bytesIn;
    this.bytesOut = bytesOut;
    // tracked entries: conn_cur back down, the session's bytes in bytes_in/out
    trackEnd(this.view.req.trackers, 0, bytesIn, bytesOut);
    this.ta = Date.now() - this.acceptMs;
    const server = this.attempt.server;
    rt.slab[this.fe.row + C_BIN] += bytesIn; // (HTTP counts it as the request comes)
    countRequestEnd(rt.slab, this.fe.row, this.be === null ? -1 : this.be.row, server >= 0 ? rt.servers[server].row : -1, bytesIn, bytesOut, this.ta, -1, this.tc);
    if (this.admitted) {
      this.admitted = false;
      rt.releaseAdmission(this.fe);
    }
    if (rt.telemetry !== null) rt.telemetry.onRequestDone(this);
    this.onDone(this);
  }
}
