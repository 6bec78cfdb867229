// One keep-alive TCP connection to a server, owned by at most one exchange at a time.
// The connection only moves bytes and frames responses; what a failure means (retry, 502, 504)
// is decided by the owner.

import * as net from 'node:net';
import { ResponseParseError, ResponseParser, type ResponseSink } from './response-parser';

export const CONN_CONNECTING = 0;
export const CONN_BUSY = 1;
export const CONN_IDLE = 2;
export const CONN_CLOSED = 3;

/** Failure phases an owner is told about. */
export const FAIL_CONNECT = 0; // never connected (refused, unreachable)
export const FAIL_IO = 1; // reset/closed after connecting, before a complete response
export const FAIL_PARSE = 2; // the server sent something that is not a valid response

export interface ConnOwner extends ResponseSink {
  onUpstreamConnect(conn: UpstreamConn): void;
  onUpstreamFail(conn: UpstreamConn, phase: number, detail: string): void;
  onUpstreamDrain(): void;
  /** Runs `conn.parse(data)` for the owner, e.g. inside a uWS cork so all writes batch. */
  onUpstreamData(conn: UpstreamConn, data: Buffer): void;
}

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

  constructor(
    readonly server: number,
    host: string,
    port: number,
    readonly home: ConnHome,
    owner: ConnOwner,
  ) {
    this.owner = owner;
    // Reads land in one buffer per worker thread, handed to the parser and forgotten before the
    // next read: no Buffer per read and no Readable push/emit. Whoever keeps bytes past
    // onUpstreamData (the exchange's backpressure queue) must copy them.
    this.socket = net.connect({ host, port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.onRead.bind(this) } });
    this.socket.on('connect', this.onConnect.bind(this));
    this.socket.on('drain', this.onDrain.bind(this));
    this.socket.on('error', noop);
    this.socket.on('close', this.onClose.bind(this));
  }

  /** Hand the connection to an exchange; the caller then writes its request. */
  attach(owner: ConnOwner, isHead: boolean): void {
    this.owner = owner;
    this.state = CONN_BUSY;
    this.received = 0;
    this.parser.begin(owner, isHead);
  }

  /** A new owner for the response in progress (the old one is gone); the socket reads again. */
  handOff(owner: ConnOwner): void {
    this.owner = owner;
    this.parser.retarget(owner);
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** Owner: prepare the parser for the response to the request about to be written. */
  expect(isHead: boolean): void {
    this.received = 0;
    this.parser.begin(this.owner!, isHead);
  }

  /**
   * Write a request head that is all the request there is (no body). When nothing is queued in
   * the socket's Writable, the string goes straight to the TCP handle: Writable's bookkeeping
   * (write callbacks, a nextTick per write) cost more than the write itself for a small head.
   * A write the kernel could not take at once completes in libuv, in order with any later
   * socket.write. A failed write destroys the socket: the owner hears it through 'close'.
   */
  writeHead(head: string): void {
    const sock = this.socket as net.Socket & { _handle: RawHandle | null };
    const h = sock._handle;
    if (h === null || sock.writableLength !== 0 || sock.connecting) {
      sock.write(head);
      return;
    }
    const req = new WriteWrap();
    req.handle = h;
    req.oncomplete = noop;
    req.async = false;
    const err = h.writeUtf8String(req, head);
    if (err !== 0) sock.destroy(new Error('write failed (' + err + ')'));
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
      this.idleSince = Date.now();
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
    const wasConnecting = this.state === CONN_CONNECTING;
    const owner = this.owner;
    if (this.state !== CONN_CLOSED) {
      this.state = CONN_CLOSED;
      this.home.forget(this);
    }
    this.owner = null;
    if (owner === null) return;
    if (wasConnecting) {
      owner.onUpstreamFail(this, FAIL_CONNECT, 'connection refused');
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

/** Node's stream handle write request (the object net.Socket uses internally). */
interface RawWriteReq {
  handle: RawHandle;
  oncomplete: () => void;
  async: boolean;
}
interface RawHandle {
  writeUtf8String(req: RawWriteReq, s: string): number;
}
// process.binding is deprecated for new uses, but 'stream_wrap' is on Node's allow-list and
// is the only way to reach the handle's write without net.Socket's Writable layer.
const { WriteWrap } = (process as unknown as { binding(name: string): { WriteWrap: new () => RawWriteReq } }).binding('stream_wrap');

function noop(): void {}
