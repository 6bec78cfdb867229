// One keep-alive TCP connection to a server, owned by at most one exchange at a time.
// The connection only moves bytes and frames responses; what a failure means (retry, 502, 504)
// is decided by the owner.

import * as net from 'node:net';
import { ResponseParseError, ResponseParser, type ResponseSink } from './response-parser';
import { writeStringDirect } from '../shared/node-internals';
import { monoNow } from '../shared/clock';
import type { ConnParams } from './conn-params';

export const CONN_CONNECTING = 0;
export const CONN_BUSY = 1;
export const CONN_IDLE = 2;
export const CONN_CLOSED = 3;
/** switched protocols (a WebSocket after 101): raw bytes to its owner, never pooled again */
export const CONN_TUNNEL = 4;

/** Failure phases an owner is told about. */
export const FAIL_CONNECT = 0; // never connected (refused, unreachable)
export const FAIL_IO = 1; // reset/closed after connecting, before a complete response
export const FAIL_PARSE = 2; // the server sent something that is not a valid response

/** Whoever uses the connection: told about its I/O. */
export interface ConnOwner {
  onUpstreamConnect(conn: UpstreamConn): void;
  onUpstreamFail(conn: UpstreamConn, phase: number, detail: string): void;
  onUpstreamDrain(): void;
  /** Runs `conn.parse(data)` for the owner, e.g. inside a uWS cork so all writes batch. */
  onUpstreamData(conn: UpstreamConn, data: Buffer): void;
}

/** An owner that exchanges HTTP on the connection: it also receives the parsed response. */
export interface HttpConnOwner extends ConnOwner, ResponseSink {}

export interface ConnHome {
  release(conn: UpstreamConn): void;
  forget(conn: UpstreamConn): void;
}

export class UpstreamConn {
  readonly socket: net.Socket;
  readonly parser = new ResponseParser();
  state = CONN_CONNECTING;
  owner: ConnOwner | null;
  /** responses completed on this connection; >0 means it was reused and may be stale */
  served = 0;
  /** response bytes received for the current exchange */
  received = 0;
  idleSince = 0;
  /** pool key (conn-params.ts): '' unless connections to this server depend on the client */
  readonly key: string;
  /** TLS: writes go through the TLS socket (never straight to the TCP handle) */
  private readonly tls: boolean;
  /** why the socket failed (a TLS verify error, a refused connect), for the owner */
  private failure = '';

  constructor(
    readonly server: number,
    host: string,
    port: number,
    readonly home: ConnHome,
    owner: HttpConnOwner,
    params: ConnParams | null = null,
  ) {
    this.owner = owner;
    this.key = params === null ? '' : params.key;
    this.tls = params !== null && params.tls !== null;
    if (params === null || params.tls === null) {
      // Reads land in one buffer per worker thread, handed to the parser and forgotten before the
      // next read: no Buffer per read and no Readable push/emit. Whoever keeps bytes past
      // onUpstreamData (the exchange's backpressure queue) must copy them.
      this.socket = net.connect({ host, port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.onRead.bind(this) } });
      // send-proxy: the PROXY header goes first, queued until the connect completes
      if (params !== null && params.proxy !== null) this.socket.write(params.proxy);
      this.socket.on('connect', this.onConnect.bind(this));
    } else {
      // TLS (tls-connect.ts): the PROXY header precedes the handshake on the TCP socket
      let raw: net.Socket | null = null;
      if (params.proxy !== null) {
        raw = net.connect({ host, port, noDelay: true });
        raw.write(params.proxy);
      }
      this.socket = params.tls.connect(host, port, params.sni, raw);
      this.socket.on('secureConnect', this.onConnect.bind(this));
      this.socket.on('data', this.onData.bind(this));
    }
    this.socket.on('drain', this.onDrain.bind(this));
    this.socket.on('error', (e: Error) => (this.failure = e.message));
    this.socket.on('close', this.onClose.bind(this));
  }

  /**
   * Hand the connection to an exchange; the caller then writes its request. `upgrade`: the
   * request asks to switch protocols (a 101 then ends HTTP on this connection).
   */
  attach(owner: HttpConnOwner, isHead: boolean, upgrade: boolean): void {
    this.owner = owner;
    this.state = CONN_BUSY;
    this.received = 0;
    this.parser.begin(owner, isHead, upgrade);
  }

  /** A new owner for the response in progress (the old one is gone); the socket reads again. */
  handOff(owner: HttpConnOwner): void {
    this.owner = owner;
    this.parser.retarget(owner);
    if (this.socket.isPaused()) this.socket.resume();
  }

  /**
   * The server switched protocols: from now on every byte goes to `owner` as it arrives (a view
   * of the shared read buffer: copy what is kept), and the connection never returns to its pool.
   */
  becomeTunnel(owner: ConnOwner): void {
    this.state = CONN_TUNNEL;
    this.owner = owner;
  }

  /**
   * Write a request head that is all the request there is (no body). When nothing is queued in
   * the socket's Writable, the string goes straight to the TCP handle (node-internals.ts):
   * Writable's bookkeeping (write callbacks, a nextTick per write) cost more than the write
   * itself for a small head.
   */
  writeHead(head: string | Buffer): void {
    if (typeof head === 'string' && !this.tls) writeStringDirect(this.socket, head);
    else this.socket.write(head);
  }

  /** Called by the owner from onUpstreamData. Parse errors become onUpstreamFail(FAIL_PARSE). */
  parse(data: Buffer): void {
    this.received += data.length;
    try {
      this.parser.execute(data);
    } catch (e) {
      const owner = this.owner;
      this.destroy();
      if (owner) owner.onUpstreamFail(this, FAIL_PARSE, e instanceof ResponseParseError ? e.code : String(e));
    }
  }

  /** The exchange is done with it: back to the pool if it is clean, otherwise closed. */
  done(): void {
    this.owner = null;
    if (this.state === CONN_CLOSED) return;
    if (this.parser.complete && this.parser.framingOk && this.keepAlive) {
      this.served++;
      this.state = CONN_IDLE;
      this.idleSince = monoNow();
      if (this.socket.isPaused()) this.socket.resume();
      this.home.release(this);
    } else {
      this.destroy();
    }
  }

  /** set by the owner from the response head */
  keepAlive = false;

  destroy(): void {
    if (this.state === CONN_CLOSED) return;
    this.state = CONN_CLOSED;
    this.owner = null;
    this.socket.destroy();
    this.home.forget(this);
  }

  private onConnect(): void {
    if (this.state !== CONN_CONNECTING) return;
    this.state = CONN_BUSY;
    if (this.owner) this.owner.onUpstreamConnect(this);
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    this.onData((buf as Buffer).subarray(0, n));
    return true;
  }

  private onData(data: Buffer): void {
    if (this.owner === null) {
      // Bytes from an idle server: it is out of step with us; never reuse it.
      this.destroy();
      return;
    }
    this.owner.onUpstreamData(this, data);
  }

  private onDrain(): void {
    if (this.owner) this.owner.onUpstreamDrain();
  }

  private onClose(): void {
    const was = this.state;
    const owner = this.owner;
    if (was !== CONN_CLOSED) {
      this.state = CONN_CLOSED;
      this.home.forget(this);
    }
    this.owner = null;
    if (owner === null) return;
    if (was === CONN_CONNECTING) {
      owner.onUpstreamFail(this, FAIL_CONNECT, this.failure || 'connection refused');
      return;
    }
    if (was === CONN_TUNNEL) {
      owner.onUpstreamFail(this, FAIL_IO, 'connection closed');
      return;
    }
    // A close-delimited body ends here; anything else unfinished is an I/O failure.
    if (!this.parser.complete) {
      try {
        this.parser.finish();
      } catch {
        /* reported below */
      }
      if (!this.parser.complete) owner.onUpstreamFail(this, FAIL_IO, 'connection closed');
    }
  }
}

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
