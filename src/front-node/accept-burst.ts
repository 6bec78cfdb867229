// More than one accept per loop turn on a listening handle, with the native addon.
//
// libuv (1.45+) accepts one connection per listening handle and loop turn, then waits for the
// next epoll report. A worker turn that serves thousands of connections lasts tens of
// milliseconds, so a burst of connects (wrk opening 5,000) overflowed the kernel's accept queue:
// handshakes dropped, clients retrying after 1 s and 3 s (native-bench (f), the node engine's
// p99). HAProxy accepts up to tune.maxaccept connections per wake-up. Here, after libuv's own
// accept, the handle's onconnection takes up to `budget - 1` more from the same socket and hands
// each on exactly as libuv would have: net.Server's own onconnection (maxConnections, counts,
// 'connection') or acceptRaw's.
//
// Without the addon, listenShared listens on duplicates of the socket instead (one accept each
// per turn), which costs an accept4 EAGAIN per duplicate and wake-up (acceptPlan).

import type * as net from 'node:net';
import { native } from '../shared/native';
import { tcpWrap, type TcpWrapHandle } from '../shared/node-internals';

interface ListeningHandle {
  readonly fd: number;
  onconnection: ((this: ListeningHandle, err: number, client?: TcpWrapHandle) => void) | null;
}

/** Whether acceptInBursts can work here (the addon loaded, tcp_wrap can open a descriptor). */
export const acceptBurstAvailable = native !== null && tcpWrap !== null && typeof tcpWrap.TCP.prototype.open === 'function';

/**
 * Most accepts per wake-up with the addon (tune.maxaccept -1): Linux's default somaxconn, so in
 * practice the whole queue. Measured (native-bench (f), 5,000 clients connecting at once, node
 * engine, 2026-12-06): p99.9 312-391 ms at 4,096 and 1,024, 400-490 at 256, 720-750 at 64;
 * with 32 duplicates instead, 500-1,400. (e) (a connection per request): 58.5 CPU µs/request
 * against 62-66 with the duplicates.
 */
export const ACCEPT_BURST_CAP = 4096;
/** Listening duplicates per bind and worker without the addon, for tune.maxaccept -1 (measured best of 1/16/32/64, docs/front-node.md) */
export const DEFAULT_ACCEPT_HANDLES = 32;
/** ... and at most: each is a descriptor, and each costs an empty accept4 per wake-up */
export const MAX_ACCEPT_HANDLES = 64;

export interface AcceptPlan {
  /** listening handles per bind and worker (descriptors: primary/fd-limit.ts counts them) */
  handles: number;
  /** connections the one handle accepts per wake-up (1: libuv's own) */
  burst: number;
}

/** How a worker accepts up to `maxAccept` (tune.maxaccept, -1: no limit) per bind and wake-up, here. */
export function acceptPlan(maxAccept: number): AcceptPlan {
  if (acceptBurstAvailable) return { handles: 1, burst: maxAccept < 0 ? ACCEPT_BURST_CAP : Math.min(maxAccept, ACCEPT_BURST_CAP) };
  return { handles: maxAccept < 0 ? DEFAULT_ACCEPT_HANDLES : Math.min(maxAccept, MAX_ACCEPT_HANDLES), burst: 1 };
}

/**
 * Makes `server`'s listening handle accept up to `budget` connections per wake-up. Call once
 * it listens (after anything else that sets the handle's onconnection). Returns false (and
 * changes nothing) where it cannot.
 */
export function acceptInBursts(server: net.Server, budget: number): boolean {
  const lh = (server as net.Server & { _handle?: ListeningHandle | null })._handle;
  if (!acceptBurstAvailable || budget <= 1 || lh === null || lh === undefined) return false;
  const deliver = lh.onconnection;
  if (typeof deliver !== 'function') return false;
  const { TCP, constants } = tcpWrap!;
  const addon = native!;
  const fds = new Int32Array(budget - 1);
  lh.onconnection = function (this: ListeningHandle, err: number, client?: TcpWrapHandle): void {
    deliver.call(this, err, client);
    // an error is libuv's to handle (EMFILE has its reserve-descriptor trick)
    if (err !== 0) return;
    // read each time: -1 once closed (a callback above may have closed the server), and a
    // closed number may already belong to another socket
    const fd = this.fd;
    if (fd < 0) return;
    const n = addon.acceptBurst(fd, fds);
    for (let i = 0; i < n; i++) {
      const h = new TCP(constants.SOCKET);
      if (h.open(fds[i]) !== 0) {
        addon.closeFd(fds[i]);
        h.close();
        continue;
      }
      deliver.call(this, 0, h);
    }
  };
  return true;
}
