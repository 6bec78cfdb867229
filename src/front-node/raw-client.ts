// A plain bind's client connections served on the accepted libuv handle itself, without a
// net.Socket: no Socket / Duplex / ReadableState / WritableState per connection, no stream
// events per read. The handle's own reads, writes, shutdown and close are what net.Socket calls
// underneath (src/shared/node-internals.ts has the binding pieces). The semantics kept are the
// ones H1Connection relies on with `allowHalfOpen`: a FIN from either side leaves the other
// direction open; the connection closes once both have ended, or on destroy / reset.
// A connection that turns into a tunnel (WebSocket, CONNECT) becomes a net.Socket then.

import * as net from 'node:net';
import { monoNow } from '../shared/clock';
import {
  newRawShutdown,
  newRawWrite,
  rawClientsAvailable,
  rawReadBytes,
  rawWriteQueued,
  type RawClientHandle,
  type RawClientWriteReq,
  type RawShutdownReq,
} from '../shared/node-internals';
import type { ClientIo, ClientIoSink } from './client-io';
import { closeWith, type AcceptsOnMore } from './listener';

const UV_EOF = -4095;
/** net.Socket's default writable highWaterMark: past it, the writer waits for ioDrain */
const HIGH_WATER = 16384;

interface LocalAddress {
  readonly address: string;
  readonly port: number;
}

/** filled by getpeername / getsockname; one per thread, read at once */
const scratch: { address?: string; port?: number; family?: string } = {};

// Every raw connection of the thread reads into this one buffer (Node's useUserBuffer): without
// it Node allocates a 64 KB backing store per read and hands it over as a new ArrayBuffer.
// libuv runs one read and its callback at a time, so the bytes are valid until onBytes returns;
// the sink copies what it keeps (ClientIo.readBuffer).
const READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

function onRead(this: RawClientHandle): void {
  const io = this.owner as RawIo | null;
  if (io === null) return;
  const n = rawReadBytes();
  if (n > 0) {
    io.onBytes(READ_BUFFER.subarray(0, n));
    return;
  }
  if (n !== 0) io.onReadEnd(n);
}

function afterWrite(this: RawClientWriteReq, status: number): void {
  const lent = this.lent;
  if (lent !== null) {
    this.lent = null;
    this.giveBack!(lent);
  }
  this.buffer = null;
  (this.owner as RawIo).onWritten(status);
}

function afterShutdown(this: RawShutdownReq, status: number): void {
  (this.owner as RawIo).onShutdown(status);
}

export class RawIo implements ClientIo {
  readonly tlsSocket = null;
  readonly readBuffer: ArrayBufferLike = READ_BUFFER.buffer;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  private sink: ClientIoSink | null = null;
  private reading = false;
  private eof = false;
  /** end() asked for the FIN */
  private shut = false;
  /** finish(): close once the FIN is out */
  private closeAtShutdown = false;
  private shutDone = false;
  private closed = false;
  private detached = false;
  private corked = 0;
  private corkedParts: (string | Buffer)[] | null = null;
  /** needDrain was true: ioDrain is due once the queue empties */
  private owed = false;
  private timeoutMs = 0;
  private timerMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastActive = 0;
  private readonly onTimerBound = (): void => this.onTimer();

  /** `local`: the listening socket's own address when it is not a wildcard (every accepted connection has it) */
  constructor(
    private readonly handle: RawClientHandle,
    local: LocalAddress | null,
  ) {
    handle.owner = this;
    handle.onread = onRead;
    handle.useUserBuffer(READ_BUFFER);
    scratch.address = undefined;
    scratch.port = undefined;
    handle.getpeername(scratch);
    this.remoteAddress = scratch.address;
    this.remotePort = scratch.port;
    if (local !== null) {
      this.localAddress = local.address;
      this.localPort = local.port;
      return;
    }
    scratch.address = undefined;
    scratch.port = undefined;
    handle.getsockname(scratch);
    this.localAddress = scratch.address;
    this.localPort = scratch.port;
  }

  get needDrain(): boolean {
    if (this.handle.writeQueueSize < HIGH_WATER || this.closed) return false;
    this.owed = true;
    return true;
  }

  start(sink: ClientIoSink): void {
    this.sink = sink;
    this.resume();
  }

  pause(): void {
    if (this.reading) {
      this.reading = false;
      this.handle.readStop();
    }
  }

  resume(): void {
    if (this.reading || this.eof || this.closed || this.detached) return;
    this.reading = true;
    const err = this.handle.readStart();
    if (err !== 0) this.destroy();
  }

  setTimeout(ms: number): void {
    this.timeoutMs = ms;
    if (ms === 0) return; // a running timer sees 0 when it fires and stops
    this.lastActive = monoNow();
    if (this.timer !== null && ms < this.timerMs) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.timer === null) {
      this.timerMs = ms;
      this.timer = setTimeout(this.onTimerBound, ms);
    }
  }

  private onTimer(): void {
    this.timer = null;
    if (this.timeoutMs === 0 || this.closed || this.detached) return;
    const idle = monoNow() - this.lastActive;
    if (idle + 1 < this.timeoutMs) {
      // whole milliseconds: Node keeps one timer list per distinct duration
      this.timerMs = Math.ceil(this.timeoutMs - idle);
      this.timer = setTimeout(this.onTimerBound, this.timerMs);
      return;
    }
    this.timeoutMs = 0;
    this.sink!.ioTimeout();
  }

  private touch(): void {
    if (this.timeoutMs !== 0) this.lastActive = monoNow();
  }

  /** @internal a read's bytes */
  onBytes(b: Buffer): void {
    if (this.closed || this.detached) return;
    this.touch();
    this.sink!.ioData(b);
  }

  /** @internal the client's FIN, or a read error */
  onReadEnd(n: number): void {
    if (this.reading) {
      this.reading = false;
      this.handle.readStop();
    }
    if (n !== UV_EOF) {
      this.destroy();
      return;
    }
    this.eof = true;
    if (this.closed || this.detached) return;
    this.sink!.ioEnd();
    if (this.shutDone) this.close(false);
  }

  write(data: string | Buffer): void {
    if (this.closed || this.shut) return;
    if (this.corked > 0) {
      (this.corkedParts ??= []).push(data);
      return;
    }
    const h = this.handle;
    const req = newRawWrite(h, this, afterWrite);
    const err = typeof data === 'string' ? h.writeLatin1String(req, data) : h.writeBuffer(req, data);
    if (err !== 0) {
      this.destroy();
      return;
    }
    // a string's unsent rest is copied by Node; a Buffer is read until oncomplete
    if (rawWriteQueued() && typeof data !== 'string') req.buffer = data;
    this.touch();
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    const parts = this.corkedParts;
    this.corkedParts = null;
    if (parts === null) return;
    if (parts.length === 1) {
      this.write(parts[0]);
      return;
    }
    let n = 0;
    for (const p of parts) n += typeof p === 'string' ? p.length : p.length;
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    for (const p of parts) o += typeof p === 'string' ? out.write(p, o, 'latin1') : p.copy(out, o);
    this.write(out);
  }

  /** What cork() held goes out now, whatever the nesting (the connection is ending). */
  private flushCorked(): void {
    if (this.corked > 0) {
      this.corked = 1;
      this.uncork();
    }
  }

  canWriteDirect(): boolean {
    return !this.closed && !this.shut && this.corked === 0 && this.handle.writeQueueSize === 0;
  }

  writeLent(view: Buffer, owner: Buffer, giveBack: (b: Buffer) => void): void {
    const h = this.handle;
    const req = newRawWrite(h, this, afterWrite);
    req.lent = owner;
    req.giveBack = giveBack;
    const err = h.writeBuffer(req, view);
    if (err !== 0 || !rawWriteQueued()) {
      // taken at once (or failed): libuv no longer reads the buffer
      req.lent = null;
      giveBack(owner);
      if (err !== 0) this.destroy();
    }
    this.touch();
  }

  /** @internal a write libuv had queued is over */
  onWritten(status: number): void {
    if (this.closed || this.detached) return;
    if (status < 0) {
      this.destroy();
      return;
    }
    this.touch();
    if (this.owed && this.handle.writeQueueSize === 0) {
      this.owed = false;
      this.sink!.ioDrain();
    }
  }

  end(): void {
    if (this.shut || this.closed) return;
    this.flushCorked();
    this.shut = true;
    const err = this.handle.shutdown(newRawShutdown(this.handle, this, afterShutdown));
    if (err !== 0) this.destroy();
  }

  finish(timeoutMs: number): void {
    if (this.shut || this.closed) return;
    this.flushCorked();
    // Nothing left in libuv: the kernel sends what it holds, then the FIN, after close() as after
    // shutdown(); skipping uv_shutdown spares a POLLOUT registration and a loop turn. Closing
    // with unread bytes would reset, so it is only for a client that sent nothing more.
    if (this.handle.writeQueueSize === 0) {
      this.close(false);
      return;
    }
    this.closeAtShutdown = true;
    this.setTimeout(timeoutMs);
    this.end();
  }

  get writesQueued(): boolean {
    return !this.closed && this.handle.writeQueueSize > 0;
  }

  /** @internal the FIN went out after the queued writes */
  onShutdown(status: number): void {
    if (this.closed || this.detached) return;
    if (status < 0) {
      this.destroy();
      return;
    }
    this.shutDone = true;
    if (this.eof || this.closeAtShutdown) this.close(false);
  }

  destroy(): void {
    this.close(false);
  }

  reset(): void {
    this.close(true);
  }

  /** No more timeout and no more reads: the connection closes or changes hands. */
  private quiesce(): void {
    this.timeoutMs = 0;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.pause();
  }

  private close(withReset: boolean): void {
    if (this.closed || this.detached) return;
    this.closed = true;
    this.quiesce();
    const h = this.handle;
    const done = (): void => {
      h.owner = null;
      if (this.sink !== null) this.sink.ioClose();
    };
    // reset: SO_LINGER 0 then close (libuv's uv_tcp_close_reset), as net's resetAndDestroy
    if (withReset && typeof h.reset === 'function' && h.reset(done) === 0) return;
    h.close(done);
  }

  detach(): net.Socket {
    this.detached = true;
    this.quiesce(); // net.Socket starts reading itself; a second readStart would fail
    const h = this.handle;
    h.owner = null; // (onread is a native accessor that takes only a function: net.Socket sets its own)
    // net.Socket adopts a handle as child_process's handle passing does. The handle reads into
    // READ_BUFFER for good (useUserBuffer cannot be undone), so the socket takes its reads the
    // same way and pushes a copy of each: 'data' and backpressure (push() false stops reading)
    // work as on any socket.
    const s: net.Socket = new net.Socket({
      handle: h,
      readable: true,
      writable: true,
      allowHalfOpen: true,
      onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array): boolean => s.push(Buffer.from(buf.subarray(0, n))) },
    } as net.SocketConstructorOpts);
    if (this.eof) s.push(null);
    return s;
  }
}

/** Whether plain binds serve their connections on raw handles (GATEHOUSE_RAW_CLIENTS=0: net.Socket, for comparison). */
export const rawClientsEnabled = rawClientsAvailable && process.env.GATEHOUSE_RAW_CLIENTS !== '0';

interface ListeningHandle {
  onconnection: ((err: number, client?: RawClientHandle) => void) | null;
  listen(backlog: number): number;
  close(cb?: () => void): void;
}

/**
 * Takes over `server`'s accepts once it listens: each accepted handle goes to `serve` instead
 * of becoming a net.Socket. The server stays what closes the listening socket.
 *
 * libuv accepts one connection per listening handle and loop turn (accept-burst.ts). Without
 * the native addon, the server's listenMore() listens on more duplicates of the socket: each
 * adds one accept per turn.
 */
export function acceptRaw(server: net.Server, serve: (io: RawIo) => void): void {
  // A socket bound to one address gives every connection that local address: no getsockname each.
  let local: LocalAddress | null = null;
  const onconnection = (err: number, client?: RawClientHandle): void => {
    // libuv keeps accepting after an error (EMFILE has its own reserve-fd trick)
    if (err !== 0 || client === undefined) return;
    client.setNoDelay(true);
    serve(new RawIo(client, local));
  };
  server.on('listening', () => {
    const a = server.address();
    local = a !== null && typeof a === 'object' && a.address !== '0.0.0.0' && a.address !== '::' ? { address: a.address, port: a.port } : null;
    const lh = (server as net.Server & { _handle?: ListeningHandle | null })._handle;
    if (lh === null || lh === undefined || typeof lh.onconnection !== 'function') return;
    lh.onconnection = onconnection;
  });
  const extra: ListeningHandle[] = [];
  (server as net.Server & AcceptsOnMore).listenMore = (handles: unknown[], backlog: number): void => {
    for (const h of handles as ListeningHandle[]) {
      h.onconnection = onconnection;
      if (h.listen(backlog) === 0) extra.push(h);
      else h.close();
    }
  };
  closeWith(server, () => {
    for (const h of extra) h.close();
    extra.length = 0;
  });
}
