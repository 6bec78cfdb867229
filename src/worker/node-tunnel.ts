// WebSocket (and any accepted protocol switch) on the node:net engine: after the server's valid
// 101 the client's socket and the server connection are joined byte for byte, with
// backpressure and half-close both ways, until both sides are done. No re-framing: unlike the
// uWS engine (websocket.ts), messages of any size and extensions pass through untouched.
// `timeout tunnel` is inactivity on the client socket (its reads and writes are both
// directions of the tunnel).

import type * as net from 'node:net';
import { C_BIN, C_BOUT, C_CLI_ABRT, C_SRV_ABRT } from '../shared/counters';
import type { Exchange, Upgrader } from '../proxy/exchange';
import type { ClientResponse } from '../proxy/client';
import { writeResponseHeaders } from '../proxy/response-head';
import type { ConnOwner, UpstreamConn } from '../upstream/connection';
import type { NodeClientResponse } from './node-client';

/** The node engine's way into a tunnel (one per engine), and the tunnels it opened. */
export class NodeUpgrader implements Upgrader {
  readonly tunnels = new Set<RawTunnel>();
  private readonly endB = this.end.bind(this);

  /** `onEmpty`: the last tunnel ended (graceful stop waits for tunnels) */
  constructor(private readonly onEmpty: () => void) {}

  private end(t: RawTunnel): void {
    this.tunnels.delete(t);
    if (this.tunnels.size === 0) this.onEmpty();
  }

  switchProtocols(ex: Exchange, res: ClientResponse, conn: UpstreamConn, headers: string[], rest: Buffer): void {
    const h1 = (res as NodeClientResponse).h1;
    // the server's handshake headers go to the client as they are (the tunnel is end to end);
    // Connection/Upgrade are this hop's and written again
    res.writeStatus('101 Switching Protocols');
    writeResponseHeaders(res, headers, 101, ex.be!, ex, false, false);
    res.writeHeader('connection', 'upgrade');
    res.writeHeader('upgrade', 'websocket');
    res.endWithoutBody(-1);
    const { socket, head } = h1.detach();
    const t = new RawTunnel(ex, conn, socket, this.endB);
    this.tunnels.add(t);
    t.start(head, rest);
  }
}

export class RawTunnel implements ConnOwner {
  private clientOpen = true;
  private serverOpen = true;
  private done = false;

  constructor(
    private readonly ex: Exchange,
    private readonly conn: UpstreamConn,
    private readonly client: net.Socket,
    private readonly onEnd: (t: RawTunnel) => void,
  ) {}

  start(clientHead: Buffer, serverRest: Buffer): void {
    const client = this.client;
    const server = this.conn.socket;
    this.conn.becomeTunnel(this);
    client.setTimeout(this.ex.be!.cfg.timeouts.tunnel);
    client.on('timeout', () => {
      this.ex.termination = 'cD';
      this.cut();
    });
    client.on('data', (d: Buffer) => {
      this.count(C_BIN, d.length, true);
      if (!server.write(d)) client.pause();
    });
    client.on('end', () => {
      // the client is done sending: tell the server the same way
      if (this.serverOpen) server.end();
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      if (!this.clientOpen) return;
      this.clientOpen = false;
      if (this.serverOpen && !client.readableEnded) {
        // cut, not closed: mirror it
        this.ex.termination = 'CD';
        this.countRow(C_CLI_ABRT);
        this.conn.destroy();
        this.serverOpen = false;
        this.ex.attempt.release();
      }
      this.maybeEnd();
    });
    client.on('drain', () => {
      if (server.isPaused()) server.resume();
    });
    server.on('drain', () => {
      if (client.isPaused()) client.resume();
    });
    if (clientHead.length > 0) this.onClient(clientHead);
    if (serverRest.length > 0) this.onUpstreamData(this.conn, serverRest);
    if (client.isPaused()) client.resume();
  }

  private onClient(d: Buffer): void {
    this.count(C_BIN, d.length, true);
    this.conn.socket.write(d);
  }

  // ---- the server connection (ConnOwner) ----

  onUpstreamConnect(): void {}
  onUpstreamDrain(): void {}

  onUpstreamData(_conn: UpstreamConn, data: Buffer): void {
    if (!this.clientOpen) return;
    this.count(C_BOUT, data.length, false);
    // a view of the connection's read buffer, reused after this call: the socket keeps a copy
    if (!this.client.write(Buffer.from(data))) this.conn.socket.pause();
  }

  /** The server's socket closed. */
  onUpstreamFail(): void {
    if (!this.serverOpen) return;
    this.serverOpen = false;
    this.ex.attempt.release();
    if (this.clientOpen) {
      if (this.conn.socket.readableEnded) this.client.end();
      else {
        this.ex.termination = 'SD';
        this.countRow(C_SRV_ABRT);
        this.client.end();
      }
    }
    this.maybeEnd();
  }

  /** Timeout or shutdown: both sides go at once. */
  cut(): void {
    this.client.destroy();
    this.conn.destroy();
    this.serverOpen = false;
    this.ex.attempt.release();
  }

  private count(c: number, n: number, fromClient: boolean): void {
    const ex = this.ex;
    const slab = ex.rt.slab;
    slab[ex.fe.row + c] += n;
    slab[ex.be!.row + c] += n;
    slab[ex.rt.servers[ex.server].row + c] += n;
    if (fromClient) ex.countTunnel(n, 0);
    else ex.countTunnel(0, n);
  }

  private countRow(c: number): void {
    const ex = this.ex;
    ex.rt.slab[ex.fe.row + c]++;
    ex.rt.slab[ex.rt.servers[ex.server].row + c]++;
  }

  private maybeEnd(): void {
    if (this.done || this.clientOpen || this.serverOpen) return;
    this.done = true;
    this.onEnd(this);
    this.ex.endTunnel();
  }
}
