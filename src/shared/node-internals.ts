// The Node.js internals gatehouse relies on, typed and checked in one place:
// - `process.binding('stream_wrap').WriteWrap` and a socket's `_handle`: writing a small request
//   head straight to the TCP handle skips net.Socket's Writable bookkeeping (measured: it cost
//   more than the write). Optional: without them, writes go through socket.write.
// - `streamBaseState[kLastWriteWasAsync]`: whether libuv kept part of the last write for later
//   (the kernel did not take it all). Node's C++ sets only this; a WriteWrap's own `async` is
//   a field Node's JavaScript fills in from it, so a raw write must read it here.
// Each is looked up once at load. Checked on the Node versions in package.json's `engines`.

import type * as net from 'node:net';

/** Node's stream handle write request (the object net.Socket uses internally). */
interface RawWriteReq {
  handle: RawHandle;
  oncomplete: (this: RawWriteReq) => void;
  async: boolean;
  /** writeLent: the reusable buffer the write reads from, and where it goes back */
  lent?: Buffer;
  giveBack?: (b: Buffer) => void;
}
interface RawHandle {
  writeUtf8String(req: RawWriteReq, s: string): number;
  writeBuffer?(req: RawWriteReq, b: Uint8Array): number;
  /** bytes libuv still holds for this stream (a write the kernel did not take at once) */
  writeQueueSize?: number;
}

interface StreamWrapBinding {
  WriteWrap?: new () => RawWriteReq;
  ShutdownWrap?: new () => RawShutdownReq;
  streamBaseState?: Int32Array;
  kLastWriteWasAsync?: number;
  kReadBytesOrError?: number;
}

/**
 * process.binding(name), or null where this Node has no such binding. process.binding is
 * deprecated for new uses (DEP0111, documentation-only), but 'stream_wrap' and 'tcp_wrap' are on
 * Node's allow-list, and they are the only way to the handles under net.Socket.
 */
export function nodeBinding<T>(name: string): T | null {
  try {
    return (process as unknown as { binding(name: string): T }).binding(name);
  } catch {
    return null;
  }
}

const streamWrap = nodeBinding<StreamWrapBinding>('stream_wrap') ?? {};
const streamState = streamWrap.streamBaseState;
const kAsync = streamWrap.kLastWriteWasAsync;
// without the write-result state a raw write cannot know whether libuv still reads its buffer
const WriteWrap =
  typeof streamWrap.WriteWrap === 'function' && streamState instanceof Int32Array && typeof kAsync === 'number' ? streamWrap.WriteWrap : null;

/** Whether libuv kept part of the write just made (it reads the buffer until oncomplete). */
function lastWriteWasAsync(): boolean {
  return streamState![kAsync!] !== 0;
}

// ---- accepted TCP handles without net.Socket (front-node/raw-client.ts) ----
// A libuv TCP handle as net.Server's listening handle passes it to `onconnection`. The methods
// are StreamBase's and TCPWrap's (Node's src/stream_base.cc, tcp_wrap.cc); net.Socket is their
// only other user.

/** A shutdown request (the FIN after queued writes). */
export interface RawShutdownReq {
  handle: RawClientHandle;
  oncomplete: (this: RawShutdownReq, status: number) => void;
  owner: unknown;
}

/** A write request of a raw client handle; `buffer` keeps the bytes alive while libuv holds them. */
export interface RawClientWriteReq {
  handle: RawClientHandle;
  oncomplete: (this: RawClientWriteReq, status: number) => void;
  async: boolean;
  owner: unknown;
  buffer: Buffer | null;
  lent: Buffer | null;
  giveBack: ((b: Buffer) => void) | null;
}

export interface RawClientHandle {
  /** called by libuv for every read (the byte count is rawReadBytes()) */
  onread: (this: RawClientHandle) => void;
  /** gatehouse's back pointer from the handle to its connection */
  owner: unknown;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: RawClientWriteReq, b: Uint8Array): number;
  writeLatin1String(req: RawClientWriteReq, s: string): number;
  shutdown(req: RawShutdownReq): number;
  close(cb: () => void): void;
  reset?(cb: () => void): number;
  setNoDelay(on: boolean): number;
  getpeername(out: { address?: string; port?: number }): number;
  getsockname(out: { address?: string; port?: number }): number;
  readonly writeQueueSize: number;
  /** reads land in `buf` (from offset 0) instead of a new ArrayBuffer each; cannot be undone */
  useUserBuffer(buf: Uint8Array): void;
}

const ShutdownWrap = streamWrap.ShutdownWrap;
const kNread = streamWrap.kReadBytesOrError;

/** A TCP handle made from tcp_wrap's constructor (the methods gatehouse calls on one it made). */
export interface TcpWrapHandle {
  readonly fd: number;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  /** adopts descriptor `fd` (0, or a negative libuv error) */
  open(fd: number): number;
  close(cb?: () => void): void;
}

export interface TcpWrapBinding {
  TCP: (new (type: number) => TcpWrapHandle) & { prototype: Record<string, unknown> };
  constants: { SERVER: number; SOCKET: number; UV_TCP_IPV6ONLY: number };
}

/** tcp_wrap, the binding under net's TCP sockets (shared listeners, accept bursts, raw clients), or null */
export const tcpWrap: TcpWrapBinding | null = ((): TcpWrapBinding | null => {
  const b = nodeBinding<Partial<TcpWrapBinding>>('tcp_wrap');
  return b !== null && typeof b.TCP === 'function' && typeof b.constants === 'object' ? (b as TcpWrapBinding) : null;
})();

/** The TCP handle methods RawIo calls, looked up on the prototype (no handle exists at load). */
const RAW_HANDLE_METHODS = ['readStart', 'readStop', 'writeBuffer', 'writeLatin1String', 'shutdown', 'close', 'setNoDelay', 'getpeername', 'getsockname', 'useUserBuffer'];

function tcpHandleMethodsPresent(): boolean {
  const proto = tcpWrap?.TCP.prototype;
  return proto !== undefined && RAW_HANDLE_METHODS.every((m) => typeof proto[m] === 'function');
}

/**
 * Whether accepted handles can be served without net.Socket on this Node: every binding piece
 * and handle method RawIo uses is there (checked on Node 20 and 24; a Node without one of them
 * serves its clients through net.Socket instead of failing on the first connection).
 */
export const rawClientsAvailable =
  WriteWrap !== null && typeof ShutdownWrap === 'function' && typeof kNread === 'number' && tcpHandleMethodsPresent();

/** The byte count (or a negative libuv error, UV_EOF at the end) of the read being delivered. */
export function rawReadBytes(): number {
  return streamState![kNread!];
}

export function newRawWrite(handle: RawClientHandle, owner: unknown, oncomplete: (this: RawClientWriteReq, status: number) => void): RawClientWriteReq {
  const req = new WriteWrap!() as unknown as RawClientWriteReq;
  req.handle = handle;
  req.oncomplete = oncomplete;
  req.async = false;
  req.owner = owner;
  req.buffer = null;
  req.lent = null;
  req.giveBack = null;
  return req;
}

/** After a raw write returned 0: whether libuv still holds part of it (oncomplete will run). */
export function rawWriteQueued(): boolean {
  return lastWriteWasAsync();
}

export function newRawShutdown(handle: RawClientHandle, owner: unknown, oncomplete: (this: RawShutdownReq, status: number) => void): RawShutdownReq {
  const req = new ShutdownWrap!();
  req.handle = handle;
  req.oncomplete = oncomplete;
  req.owner = owner;
  return req;
}

/** Whether small writes can bypass net.Socket's Writable (false: every write is socket.write). */
export const rawWritesAvailable = WriteWrap !== null;

function noop(): void {}

/**
 * Write `s` to the socket's TCP handle when nothing is queued in its Writable, else through
 * socket.write; either way in order with later socket.write calls (a write the kernel could
 * not take at once completes in libuv). A failed raw write destroys the socket: its owner
 * hears it through 'close'.
 */
export function writeStringDirect(sock: net.Socket, s: string): void {
  const h = (sock as net.Socket & { _handle?: RawHandle | null })._handle;
  if (WriteWrap === null || h === null || h === undefined || typeof h.writeUtf8String !== 'function' || sock.writableLength !== 0 || sock.connecting) {
    sock.write(s);
    return;
  }
  const req = new WriteWrap();
  req.handle = h;
  req.oncomplete = noop;
  req.async = false;
  const err = h.writeUtf8String(req, s);
  if (err !== 0) sock.destroy(new Error('write failed (' + err + ')'));
}

/**
 * Whether a write now would go straight to the handle: the raw path exists and neither the
 * Writable nor libuv holds anything for this socket (so a raw write keeps the byte order).
 */
export function canWriteDirect(sock: net.Socket): boolean {
  const h = (sock as net.Socket & { _handle?: RawHandle | null })._handle;
  return WriteWrap !== null && h !== null && h !== undefined && typeof h.writeBuffer === 'function' && h.writeQueueSize === 0 && sock.writableLength === 0 && !sock.connecting;
}

/**
 * Whether bytes written to `sock` may still be read from the caller's buffers: queued in the
 * Writable or in libuv, still connecting, or TLS (node:tls may keep cleartext for later).
 * A destroyed socket writes nothing more (libuv cancels what it held).
 */
export function writesPending(sock: net.Socket): boolean {
  const h = (sock as net.Socket & { _handle?: RawHandle | null })._handle;
  if (h === null || h === undefined) return false;
  return sock.writableLength !== 0 || sock.connecting || (sock as net.Socket & { encrypted?: boolean }).encrypted === true || h.writeQueueSize !== 0;
}

function lentDone(this: RawWriteReq): void {
  const b = this.lent;
  const back = this.giveBack;
  this.lent = undefined;
  if (b !== undefined && back !== undefined) back(b);
}

/**
 * Writes `view` (bytes of the reusable buffer `owner`) to the handle; only after
 * canWriteDirect(sock). `owner` goes to `giveBack` as soon as libuv no longer reads it: at once
 * when the kernel took every byte (the usual case), else when the write completes or fails.
 * So an answer's bytes leave without a buffer allocated per write (node engine, large answers).
 */
export function writeLent(sock: net.Socket, view: Buffer, owner: Buffer, giveBack: (b: Buffer) => void): void {
  const h = (sock as net.Socket & { _handle?: RawHandle | null })._handle!;
  const req = new WriteWrap!();
  req.handle = h;
  req.oncomplete = lentDone;
  req.async = false;
  req.lent = owner;
  req.giveBack = giveBack;
  const err = h.writeBuffer!(req, view);
  if (err !== 0) {
    req.lent = undefined;
    giveBack(owner);
    sock.destroy(new Error('write failed (' + err + ')'));
    return;
  }
  req.async = lastWriteWasAsync();
  if (!req.async) {
    req.lent = undefined;
    giveBack(owner);
  }
}
