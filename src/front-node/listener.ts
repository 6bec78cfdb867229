// One listening socket shared by every worker thread (Node 20's net servers have no reusePort).
//
// Who owns what:
//  - The primary thread binds the socket (bindSharedSocket) but never listens on it: a bound
//    socket is not polled, so the primary accepts nothing. It keeps that descriptor open for as
//    long as the bind exists (reloads included: new workers take the same socket, so a reload
//    neither closes the port nor resets connections queued in its backlog), and closes it when
//    the bind goes away (stop, SIGTTOU pause, a reload that drops the bind).
//  - Each worker gets the descriptor *number* (workerData; threads share one descriptor table)
//    and calls listenShared(): that takes a duplicate of its own (a short-lived child process
//    passes the socket back over an IPC channel, which is how a Node process gets a second
//    descriptor for one socket) and listens on it. The first listen() makes the socket
//    listening; each worker's event loop then accepts from the one queue.
//  - Why a duplicate per worker: closing a net.Server closes its descriptor. Were the workers
//    to listen on the primary's number itself, the first worker to stop (restart, reload,
//    pause) would close the socket under everyone, and the number could be reused for an
//    unrelated file while other handles still point at it. With its own duplicate a worker
//    closes only its own, whenever it likes.
//
// Spread (measured, 2 workers, 127.0.0.1, 2 cores): every worker is woken for a connection and
// the quickest accepts it, so steady arrivals split evenly (ab -c10 without keep-alive, 2000
// connections: 1011/993; wrk -c100: 41/60 .. 54/47), but a burst of simultaneous connects can
// land mostly on one worker (h2load -c50: 49/1 .. 14/36; -c200: 42/158), because libuv accepts
// in a loop until the queue is empty. With UV_TCP_SINGLE_ACCEPT=1 in the process environment
// libuv yields after each accept (a 1 ns nanosleep, ~50 us in practice), which evens bursts
// out (-c50: 24/26, -c200: 128/72) at ~45 us of accept cost per connection (ab -c10 on 2000
// connections: 346 -> 439 ms). enableSingleAccept() sets it; libuv reads it once per process,
// at the first listen of any TCP server, so it must run before the primary listens on
// anything (stats pages included).

import { spawn } from 'node:child_process';
import type * as net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { tcpWrap, type TcpWrapBinding } from '../shared/node-internals';
import { acceptInBursts, acceptPlan } from './accept-burst';

function tcpWrapOrThrow(): TcpWrapBinding {
  // tcp_wrap is the only way in Node 20 to get a TCP socket that is bound and not listening
  if (tcpWrap === null) throw new Error(`this Node.js (${process.version}) has no tcp_wrap binding`);
  return tcpWrap;
}

/** A bound, not listening socket held by the primary thread. */
export interface SharedSocket {
  /** the descriptor number to give the workers */
  readonly fd: number;
  readonly host: string;
  /** the bound port (useful with port 0) */
  readonly port: number;
  close(): void;
}

/** Whether this Node can create shared sockets (process.binding('tcp_wrap') is there). */
export function sharedSocketsAvailable(): boolean {
  return tcpWrap !== null;
}

/**
 * Primary: binds host:port (an IPv6 host with `v6only` as HAProxy's bind option). Throws with
 * the errno name (EADDRINUSE, EACCES, EADDRNOTAVAIL ...) when the bind fails.
 */
export function bindSharedSocket(host: string, port: number, v6only = false): SharedSocket {
  const { TCP, constants } = tcpWrapOrThrow();
  const h = new TCP(constants.SERVER);
  const v6 = host.includes(':');
  // libuv defers EADDRINUSE from bind() to listen(); getsockname() reports it now
  const out: { port?: number } = {};
  let err = v6 ? h.bind6(host, port, v6only ? constants.UV_TCP_IPV6ONLY : 0) : h.bind(host, port);
  if (err === 0) err = h.getsockname(out);
  if (err !== 0) {
    h.close();
    const name = errnoName(err);
    const e = new Error(`cannot bind ${v6 ? '[' + host + ']' : host}:${port}: ${name}`) as NodeJS.ErrnoException;
    e.code = name;
    throw e;
  }
  let open = true;
  return {
    fd: h.fd,
    host,
    port: out.port ?? port,
    close() {
      if (open) {
        open = false;
        h.close();
      }
    },
  };
}

/** libuv's negative error code as its name (EADDRINUSE ...) */
function errnoName(err: number): string {
  try {
    return getSystemErrorName(err);
  } catch {
    return String(err);
  }
}

// The child: its fd 4 is the socket; it sends it back N times (argv) over the IPC channel (fd 3)
// and exits: each send arrives as a descriptor of its own. A raw handle is sent, so the child
// never listens or accepts.
const DUP_CHILD = `
const { TCP, constants } = process.binding('tcp_wrap');
const h = new TCP(constants.SOCKET);
const err = h.open(4);
let left = Number(process.argv[1]) || 1;
// a handle waits for the parent's ack of the previous one: stay up until the last is sent
const alive = setInterval(() => {}, 1000);
const done = () => { clearInterval(alive); process.disconnect(); };
const next = () => (--left > 0 ? process.send('fd', h, next) : done());
if (err !== 0) { process.exitCode = 2; done(); }
else process.send('fd', h, next);
`;

/** `n` duplicates of descriptor `fd`, each a raw TCP handle owned by the calling thread. */
export function duplicateSockets(fd: number, n: number, timeoutMs = 10000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', DUP_CHILD, String(n)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc', fd],
      env: {},
    });
    const got: unknown[] = [];
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('duplicating the listening socket timed out'));
    }, timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('message', (_m: unknown, handle: unknown) => {
      if (handle !== undefined && handle !== null) got.push(handle);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close': after the exit and the IPC channel's last message
    child.on('close', (code) => {
      clearTimeout(timer);
      if (got.length === n) resolve(got);
      else reject(new Error(`duplicating the listening socket failed (exit ${code}) ${err.trim()}`));
    });
  });
}

/** A server that can accept on more listening handles than its own (front-node/server.ts). */
export interface AcceptsOnMore {
  /** listens on each handle too, closing them when the server closes */
  listenMore(handles: unknown[], backlog: number): void;
}

/** Runs `also` when server.close() is called (its 'close' event waits for its connections). */
export function closeWith(server: net.Server, also: () => void): void {
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void): net.Server => {
    also();
    return close(cb);
  };
}

/**
 * listenMore for a net.Server whose connections all go to one listener: a server made by `make`
 * listens on each more handle; they close when `server.close()` is called.
 */
export function acceptOnMoreServers(server: net.Server, make: () => net.Server): void {
  const extra: net.Server[] = [];
  (server as net.Server & AcceptsOnMore).listenMore = (handles: unknown[], backlog: number): void => {
    for (const h of handles) {
      const s = make();
      s.on('error', () => s.close()); // a failed duplicate costs only its own accepts
      (s.listen as (h: unknown, backlog: number) => net.Server)(h, backlog);
      extra.push(s);
    }
  };
  closeWith(server, () => {
    for (const s of extra) s.close();
    extra.length = 0;
  });
}

/**
 * Worker: listen with `server` on its own duplicate of the primary's shared socket `fd`.
 * Resolves once listening. Closing `server` later closes only this worker's duplicates.
 * `maxAccept` (tune.maxaccept, -1: no limit): connections to accept per wake-up, libuv taking
 * one per listening handle and loop turn (accept-burst.ts): with the native addon the one
 * handle accepts more itself; without it, the server listens on that many duplicates (its
 * listenMore(); a server without one keeps one handle).
 */
export async function listenShared(server: net.Server, fd: number, backlog = 511, maxAccept = 1): Promise<void> {
  const more = (server as net.Server & Partial<AcceptsOnMore>).listenMore;
  const { handles, burst } = acceptPlan(maxAccept);
  const dups = await duplicateSockets(fd, typeof more === 'function' ? handles : 1);
  const handle = dups[0];
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    // listen(handle): net adopts a handle object as its own
    (server.listen as (h: unknown, backlog: number, cb: () => void) => net.Server)(handle, backlog, () => {
      server.off('error', onError);
      if (burst > 1) acceptInBursts(server, burst);
      if (dups.length > 1) more!.call(server, dups.slice(1), backlog);
      resolve();
    });
  });
}

/**
 * Optional: make every libuv accept loop in this process take one connection per wake-up, so
 * bursts spread over the workers (see the figures above). Call at start-up, before anything
 * in the process listens on TCP (libuv reads the variable once, at the first listen).
 */
export function enableSingleAccept(): void {
  process.env.UV_TCP_SINGLE_ACCEPT = '1';
}
