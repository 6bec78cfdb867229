// Per-worker keep-alive pools, one per server. LIFO reuse keeps the warmest connections busy
// and lets the idle tail age out.

import { CONN_IDLE, UpstreamConn, type ConnHome, type HttpConnOwner } from './connection';
import type { SharedState } from '../shared/state';
import type { ServerSni } from '../config/model';
import type { ProxyAddresses } from '../net/proxy-protocol';
import { proxyHeader, type ConnParams } from './conn-params';
import type { ServerTlsDialer } from './tls-connect';
import type { ConnWaiter } from './connect-pacing';

export class ServerPool implements ConnHome {
  private readonly idle: UpstreamConn[] = [];
  /** all open connections of this pool (idle or busy) */
  open = 0;
  /** requests waiting for a connection, oldest first (connect-pacing.ts) */
  readonly waiters: ConnWaiter[] = [];
  /** the address sequence last read from the shared state (-1: never) */
  private addrSeq = -1;

  /**
   * `dynamic`: the shared state this server's address is read from, when the resolver
   * (src/dns/) publishes it; null for a server whose address is fixed by the configuration.
   */
  constructor(
    readonly server: number,
    public host: string,
    public port: number,
    private readonly maxIdle: number,
    readonly tls: ServerTlsDialer | null = null,
    private readonly sendProxy: 0 | 1 | 2 = 0,
    private readonly sni: ServerSni | null = null,
    private readonly dynamic: SharedState | null = null,
  ) {
    this.perClient = sendProxy !== 0 || (sni !== null && sni.kind === 'hdr');
    this.fixed = tls === null ? null : { key: '', tls, sni: sni !== null && sni.kind === 'str' ? sni.value : null, proxy: null };
  }

  /** connections depend on the client (PROXY header, SNI from a header): use params() */
  readonly perClient: boolean;
  /** the parameters of every connection when !perClient (null: plain TCP) */
  private readonly fixed: ConnParams | null;
  /** the request header the SNI comes from (lower case), or null */
  get sniHeader(): string | null {
    return this.sni !== null && this.sni.kind === 'hdr' ? this.sni.name : null;
  }

  /** The parameters of a connection for this client: `hostValue` is the SNI header's value. */
  params(hostValue: string, addrs: ProxyAddresses | null): ConnParams {
    const sni = this.sni === null ? null : this.sni.kind === 'str' ? this.sni.value : hostValue === '' ? null : hostValue;
    const proxy = this.sendProxy === 0 ? null : proxyHeader(this.sendProxy, addrs);
    return { key: (sni ?? '') + '\n' + (proxy === null ? '' : proxy.toString('latin1')), tls: this.tls, sni, proxy };
  }


  /**
   * Servers under `resolvers`: take the address the resolver published, if it changed since
   * the last look (one Atomics.load when it did not). Idle connections to the old address are
   * closed: a connection is never reused for an address the server no longer has.
   */
  syncAddress(): void {
    const st = this.dynamic;
    if (st === null || st.addressSeq(this.server) === this.addrSeq) return;
    const { addr, seq } = st.readAddress(this.server);
    this.addrSeq = seq;
    if (addr !== null && addr.ip === this.host && addr.port === this.port) return;
    // none (the record left): keep the last address for a request already routed here
    if (addr !== null) {
      this.host = addr.ip;
      this.port = addr.port;
    }
    this.closeAll();
  }

  /** An idle connection (made with `params`, when given), or null: the caller then calls connect(). */
  takeIdle(params: ConnParams | null = null): UpstreamConn | null {
    if (this.dynamic !== null) this.syncAddress();
    if (params !== null && params.key !== '') return this.takeIdleKeyed(params.key);
    for (;;) {
      const c = this.idle.pop();
      if (c === undefined) return null;
      if (c.state === CONN_IDLE && !c.socket.destroyed) return c;
    }
  }

  private takeIdleKeyed(key: string): UpstreamConn | null {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i];
      if (c.key !== key) continue;
      this.idle.splice(i, 1); // entries above i were seen already
      if (c.state === CONN_IDLE && !c.socket.destroyed) return c;
    }
    return null;
  }

  connect(owner: HttpConnOwner, params: ConnParams | null = null): UpstreamConn {
    if (this.dynamic !== null) this.syncAddress();
    this.open++;
    return new UpstreamConn(this.server, this.host, this.port, this, owner, params ?? this.fixed);
  }

  release(conn: UpstreamConn): void {
    if (this.idle.length >= this.maxIdle) {
      conn.destroy();
      return;
    }
    this.idle.push(conn);
  }

  forget(conn: UpstreamConn): void {
    this.open--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Close connections idle since before `cutoff` (monoNow() ms). Oldest are at the bottom. */
  reap(cutoff: number): void {
    // every second (worker tick): an address DNS took away loses its idle connections even
    // when the server is no longer picked
    if (this.dynamic !== null) this.syncAddress();
    while (this.idle.length > 0 && this.idle[0].idleSince < cutoff) {
      this.idle[0].destroy(); // destroy() -> forget() removes it
    }
  }

  closeAll(): void {
    for (const c of this.idle.slice()) c.destroy();
  }

  get idleCount(): number {
    return this.idle.length;
  }
}
