// The client side of one node-engine connection, as H1Connection and AnswerFramer use it: read
// events in, writes out, half-close, timeouts. Two implementations:
//  - SocketIo (here): a net.Socket or a tls.TLSSocket (ssl binds, accept-proxy binds, tests);
//  - RawIo (raw-client.ts): the accepted libuv handle itself, for plain binds, without the
//    net.Socket / Duplex / ReadableState of every connection (native-bench (e): a third of the
//    engine's per-connection time was that machinery).

import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { canWriteDirect, writeLent } from '../shared/node-internals';

/** What the connection hears from its client side. */
export interface ClientIoSink {
  ioData(d: Buffer): void;
  /** the client's FIN */
  ioEnd(): void;
  /** the connection is gone (after destroy, or after both directions ended) */
  ioClose(): void;
  /** `timeout client`: no read nor write progress for the armed time */
  ioTimeout(): void;
  /** everything queued for the client has gone out */
  ioDrain(): void;
}

export interface ClientIo {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** the TLS socket of an ssl bind (for the ssl_* fetches), else null */
  readonly tlsSocket: TLSSocket | null;
  /** the memory ioData's bytes are lent from (reused by the next read: copy what is kept), or null */
  readonly readBuffer: ArrayBufferLike | null;
  /** more than a window of bytes waits to go out: wait for ioDrain */
  readonly needDrain: boolean;
  /** starts delivering events to `sink` */
  start(sink: ClientIoSink): void;
  pause(): void;
  resume(): void;
  /** `timeout client` (0: off); any read or write restarts it */
  setTimeout(ms: number): void;
  /** strings are latin1; a Buffer is not copied (the caller must not reuse it) */
  write(data: string | Buffer): void;
  cork(): void;
  uncork(): void;
  /** nothing is queued: a write now goes straight to the kernel, in order */
  canWriteDirect(): boolean;
  /** writes `view` of the reusable `owner`, which goes to `giveBack` once libuv no longer reads it */
  writeLent(view: Buffer, owner: Buffer, giveBack: (b: Buffer) => void): void;
  /** FIN once queued writes are out; reading goes on (closes when the client's FIN came too) */
  end(): void;
  /**
   * The client will send nothing more (it asked for the close, and all it sent is used): close
   * once queued writes are out, without waiting for its FIN (HAProxy's shutdown + close). While
   * bytes wait for the client, ioTimeout comes after `timeoutMs` without progress.
   */
  finish(timeoutMs: number): void;
  /** bytes written are still waiting to go out */
  readonly writesQueued: boolean;
  destroy(): void;
  /** close with a TCP reset */
  reset(): void;
  /** stops the events and hands the connection over as a net.Socket (WebSocket, tunnels) */
  detach(): Socket;
}

/** A ClientIo over a net.Socket (or a TLSSocket). */
export class SocketIo implements ClientIo {
  readonly tlsSocket: TLSSocket | null;
  readonly readBuffer = null;

  constructor(private readonly socket: Socket) {
    this.tlsSocket = (socket as TLSSocket).encrypted === true ? (socket as TLSSocket) : null;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.socket.localPort;
  }
  get needDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  start(sink: ClientIoSink): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.on('data', (d: Buffer) => sink.ioData(d));
    s.on('end', () => sink.ioEnd());
    s.on('close', () => sink.ioClose());
    s.on('error', () => {}); // 'close' follows
    s.on('timeout', () => sink.ioTimeout());
    s.on('drain', () => sink.ioDrain());
  }

  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  setTimeout(ms: number): void {
    this.socket.setTimeout(ms);
  }
  write(data: string | Buffer): void {
    if (typeof data === 'string') this.socket.write(data, 'latin1');
    else this.socket.write(data);
  }
  cork(): void {
    this.socket.cork();
  }
  uncork(): void {
    this.socket.uncork();
  }
  canWriteDirect(): boolean {
    return canWriteDirect(this.socket);
  }
  writeLent(view: Buffer, owner: Buffer, giveBack: (b: Buffer) => void): void {
    writeLent(this.socket, view, owner, giveBack);
  }
  end(): void {
    this.socket.end();
  }
  finish(timeoutMs: number): void {
    this.socket.setTimeout(timeoutMs);
    this.socket.destroySoon();
  }
  get writesQueued(): boolean {
    return this.socket.writableLength > 0;
  }
  destroy(): void {
    this.socket.destroy();
  }
  reset(): void {
    this.socket.resetAndDestroy();
  }

  detach(): Socket {
    const s = this.socket;
    s.setTimeout(0);
    s.removeAllListeners('data');
    s.removeAllListeners('end');
    s.removeAllListeners('close');
    s.removeAllListeners('timeout');
    s.removeAllListeners('drain');
    s.removeAllListeners('error');
    if (s.isPaused()) s.resume();
    return s;
  }
}
