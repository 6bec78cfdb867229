// mode tcp frontends: every worker accepts on the frontend's shared listening sockets (as the
// node engine does), runs `tcp-request` rules over the connection and its first bytes
// (src/tcp/inspect.ts), picks a server with the proxy core's ServerAttempt (balancer,
// maxconn slot and queue, retries, redispatch) and relays bytes both ways (src/tcp/relay.ts).
// Each session is one record for the stats, histograms and the tcplog line.

import type { ProxyAddresses } from '../net/proxy-protocol';
import * as net from 'node:net';
import { C_DREQ } from '../shared/counters';
import type { RequestRecord } from '../log/format';
import { listenShared } from '../front-node/listener';
import { countConnectError, countRequestEnd, countRequestStart } from '../proxy/accounting';
import { ASSIGN_FULL, ASSIGN_NOSRV, RETRY_NONE, RETRY_SAME, ServerAttempt } from '../proxy/attempt';
import { REJECT, TcpRules, TcpView, inspectSession } from '../tcp/inspect';
import { TcpSession, relayTimeouts, type TcpSessionEnd } from '../tcp/relay';
import type { FrontEngine } from './engine';
import type { NodeFrontend } from './node-engine';
import type { BackendRuntime, FrontendRuntime, QueueWaiter, WorkerRuntime } from './runtime';
import { KEY_SOURCE } from './runtime';

export class TcpEngine implements FrontEngine {
  private servers: net.Server[] = [];
  readonly streams = new Set<TcpStream>();
  private readonly rules: TcpRules[];

  constructor(
    private readonly rt: WorkerRuntime,
    private readonly frontends: NodeFrontend[],
    /** called when the last session ended (graceful stop waits for sessions) */
    private readonly onEmpty: () => void,
  ) {
    this.rules = frontends.map(({ fe }) => new TcpRules(fe.cfg));
  }

  get count(): number {
    return this.streams.size;
  }

  async listen(): Promise<void> {
    const jobs: Promise<void>[] = [];
    this.frontends.forEach(({ fe, fds }, i) => {
      for (const fd of fds) {
        // the relay reads the socket itself (nothing flows before its 'data' listener)
        const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => this.accept(fe, this.rules[i], sock));
        this.servers.push(server);
        jobs.push(listenShared(server, fd));
      }
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

  private accept(fe: FrontendRuntime, rules: TcpRules, sock: net.Socket): void {
    const s = new TcpStream(this.rt, fe, rules, sock, (t) => {
      this.streams.delete(t);
      if (this.streams.size === 0) this.onEmpty();
    });
    this.streams.add(s);
    s.start();
  }
}

const view = new TcpView();

/** One TCP session: its record, its server attempt and its relay. */
class TcpStream implements QueueWaiter, RequestRecord {
  private readonly attempt = new ServerAttempt();
  private session: TcpSession | null = null;
  private be: BackendRuntime | null = null;
  private admitted = false;
  private queueTimer: NodeJS.Timeout | null = null;
  private ended = false;

  // RequestRecord
  clientIp: string;
  clientPort: number;
  acceptMs = Date.now();
  frontend: number;
  backend = -1;
  tq = 0;
  tw = -1;
  tc = -1;
  tr = -1;
  ta = -1;
  status = 0;
  bytesOut = 0;
  bytesIn = 0;
  termination = '--';
  method = '';
  uri = '';
  httpVersion = '';
  get server(): number {
    return this.attempt.server;
  }
  get retries(): number {
    return this.attempt.retries;
  }

  constructor(
    private readonly rt: WorkerRuntime,
    private readonly fe: FrontendRuntime,
    private readonly rules: TcpRules,
    private readonly sock: net.Socket,
    private readonly onDone: (s: TcpStream) => void,
  ) {
    const ip = sock.remoteAddress ?? '';
    this.clientIp = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
    this.clientPort = sock.remotePort ?? 0;
    this.frontend = fe.index;
  }

  start(): void {
    const rt = this.rt;
    const fe = this.fe;
    countRequestStart(rt.slab, fe.row, this.acceptMs);
    view.reset(this.clientIp, this.sock.localPort ?? 0);
    if (this.rules.connectionVerdict(view) === REJECT || !rt.admit(fe)) {
      // a refused connection, or the frontend/process at maxconn (HAProxy stops accepting)
      rt.slab[fe.row + C_DREQ]++;
      this.sock.destroy();
      this.termination = 'PR';
      this.end(0, 0);
      return;
    }
    this.admitted = true;
    const s = (this.session = new TcpSession(this.sock, relayTimeouts(fe.cfg, fe.cfg), (e) => this.onEnd(e)));
    // the view is the worker's: inspection re-reads the session's prelude on each step
    const v = new TcpView();
    v.reset(this.clientIp, this.sock.localPort ?? 0);
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
    const pool = srv.pool;
    const params = pool.perClient || pool.tls !== null ? pool.params('', this.addresses()) : null;
    const o = await s.connect({ host: pool.host, port: pool.port }, this.be!.cfg.timeouts.connect, params);
    if (o.ok) {
      s.attach(o.socket);
      return;
    }
    if (o.reason === 'aborted') {
      this.attempt.release();
      return;
    }
    countConnectError(this.rt, this.be!, this.attempt.server);
    const next = this.attempt.retry();
    if (next === RETRY_SAME) void this.connect();
    else if (next !== RETRY_NONE) this.dispatch(this.attempt.exclude);
    else s.connectFailed(o.reason);
  }

  /** For a PROXY header: the client's address (from its own PROXY header with accept-proxy) and the bind's. */
  private addresses(): ProxyAddresses {
    return { srcAddress: this.clientIp, srcPort: this.clientPort, dstAddress: this.sock.localAddress ?? '', dstPort: this.sock.localPort ?? 0 };
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
    this.ta = Date.now() - this.acceptMs;
    const server = this.attempt.server;
    countRequestEnd(rt.slab, this.fe.row, this.be === null ? -1 : this.be.row, server >= 0 ? rt.servers[server].row : -1, bytesIn, bytesOut, this.ta, -1, this.tc);
    if (this.admitted) {
      this.admitted = false;
      rt.releaseAdmission(this.fe);
    }
    if (rt.telemetry !== null) rt.telemetry.onRequestDone(this);
    this.onDone(this);
  }
}
