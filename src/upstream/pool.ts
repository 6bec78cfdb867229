// Per-worker keep-alive pools, one per server. LIFO reuse keeps the warmest connections busy
// and lets the idle tail age out.

import { CONN_IDLE, UpstreamConn, type ConnHome, type HttpConnOwner } from './connection';

export class ServerPool implements ConnHome {
  private readonly idle: UpstreamConn[] = [];
  /** all open connections of this pool (idle or busy) */
  open = 0;

  constructor(
    readonly server: number,
    readonly host: string,
    readonly port: number,
    private readonly maxIdle: number,
  ) {}

  /** An idle connection, or null: the caller then calls connect(). */
  takeIdle(): UpstreamConn | null {
    for (;;) {
      const c = this.idle.pop();
      if (c === undefined) return null;
      if (c.state === CONN_IDLE && !c.socket.destroyed) return c;
    }
  }

  connect(owner: HttpConnOwner): UpstreamConn {
    this.open++;
    return new UpstreamConn(this.server, this.host, this.port, this, owner);
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

  /** Close connections idle since before `cutoff` (ms epoch). Oldest are at the bottom. */
  reap(cutoff: number): void {
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
