// Which server a request goes to, and what follows when that server fails it: the one place
// where every request (an HTTP exchange or a WebSocket upgrade) picks a server, takes its
// maxconn slot, waits in the backend's queue, retries and redispatches. HAProxy keeps the same
// concern in backend.c (assign_server, the queue) and stream.c's retry loop.

import { BACKEND_STRIDE, B_QMAX, B_QUEUE, raiseMax } from '../shared/state';
import type { BackendRuntime, QueueWaiter, WorkerRuntime } from '../worker/runtime';
import { countRetry, releaseServerSlot, takeServerSlot } from './accounting';
import { performance } from 'node:perf_hooks';

/** assign(): `server` holds a slot and is the one to connect to. */
export const ASSIGN_OK = 0;
/** assign(): no usable server (all down, in maintenance, or excluded): answer 503. */
export const ASSIGN_NOSRV = 1;
/** assign(): every usable server is at its maxconn: wait in the queue (enqueue()). */
export const ASSIGN_FULL = 2;

/** retry(): the slot on the failed server was taken again: connect to `server` once more. */
export const RETRY_SAME = 0;
/** retry(): pick again with assign(key, exclude) (redispatch, or the failed server is full now). */
export const RETRY_PICK = 1;
/** retry(): no retries left: answer the error. */
export const RETRY_NONE = 2;

export class ServerAttempt {
  private rt!: WorkerRuntime;
  private be!: BackendRuntime;
  private acceptMs = 0;
  /** global index of the server chosen last, -1 before any */
  server = -1;
  /** the server was chosen because of the request's persistence cookie */
  direct = false;
  /** the server the request's cookie pins (global index), -1 for none */
  persistServer = -1;
  private holdsSlot = false;
  private retriesLeft = 0;
  /** retries made (the log's %rc) */
  retries = 0;
  /** waiting in the backend's queue */
  queued = false;
  /** the server a queued or retried request must avoid (-1: none) */
  exclude = -1;
  private tQueued = 0;

  /** A new request for `be`; `persistServer` comes from its cookie (-1 for none). */
  begin(rt: WorkerRuntime, be: BackendRuntime, persistServer: number, acceptMs: number): void {
    this.rt = rt;
    this.be = be;
    this.acceptMs = acceptMs;
    this.persistServer = persistServer;
    this.retriesLeft = be.cfg.retries;
  }

  /**
   * Choose a server and take its slot: the cookie's server unless it is `exclude`d, otherwise
   * the balancer's pick for `key` avoiding `exclude`.
   */
  assign(key: string | null, exclude: number): number {
    const be = this.be;
    let server = this.persistServer;
    this.direct = server >= 0 && server !== exclude;
    if (!this.direct) server = be.balancer.pick(key, exclude);
    if (server < 0) return be.hasMaxconn && this.rt.backendFull(be) ? ASSIGN_FULL : ASSIGN_NOSRV;
    // the balancer saw a free slot, but another worker may have taken it since; lbtot counts
    // the balancer's choices only, not a cookie's nor a retry's same server (HAProxy's
    // assign_server: srv != prev_srv)
    return this.take(server, !this.direct && server !== this.server) ? ASSIGN_OK : ASSIGN_FULL;
  }

  private take(server: number, lb: boolean): boolean {
    if (!takeServerSlot(this.rt, this.be, server, this.acceptMs, lb)) return false;
    this.server = server;
    this.holdsSlot = true;
    return true;
  }

  /** Give the server's slot back (idempotent). */
  release(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    releaseServerSlot(this.rt, this.be, this.server);
  }

  /** A retry is left (retry() would not answer RETRY_NONE). */
  get canRetry(): boolean {
    return this.retriesLeft > 0;
  }

  /**
   * The attempt on `server` failed before any answer (refused, timed out, closed empty). The
   * caller has checked the request can be sent again. HAProxy's default `option redispatch`:
   * the last retry goes to another server.
   */
  retry(): number {
    const failed = this.server;
    this.release();
    if (this.retriesLeft <= 0) return RETRY_NONE;
    this.retriesLeft--;
    this.retries++;
    const redispatch = this.retriesLeft === 0 && this.be.cfg.redispatch;
    countRetry(this.rt, this.be, failed, redispatch);
    if (redispatch) {
      this.persistServer = -1;
      this.exclude = failed;
      return RETRY_PICK;
    }
    if (this.take(failed, false)) return RETRY_SAME;
    this.exclude = -1;
    return RETRY_PICK;
  }

  /** Wait in this worker's queue for the backend (WorkerRuntime.drainQueues wakes `w`). */
  enqueue(w: QueueWaiter, exclude: number): void {
    const be = this.be;
    const cells = this.rt.state.backends;
    this.queued = true;
    this.exclude = exclude;
    this.tQueued = performance.now();
    be.queue.push(w);
    raiseMax(cells, be.index * BACKEND_STRIDE + B_QMAX, Atomics.add(cells, be.index * BACKEND_STRIDE + B_QUEUE, 1) + 1);
  }

  /** Still no server for a queued request? (every usable one is at its maxconn) */
  stillFull(): boolean {
    return this.be.balancer.pick(null, this.exclude) < 0 && this.rt.backendFull(this.be);
  }

  /** Leave the queue (dispatched, timed out or aborted); returns the ms waited, -1 if not queued. */
  dequeue(w: QueueWaiter): number {
    if (!this.queued) return -1;
    this.queued = false;
    const be = this.be;
    const i = be.queue.indexOf(w);
    if (i >= 0) be.queue.splice(i, 1);
    Atomics.sub(this.rt.state.backends, be.index * BACKEND_STRIDE + B_QUEUE, 1);
    return performance.now() - this.tQueued;
  }

  reset(): void {
    this.server = -1;
    this.direct = false;
    this.persistServer = -1;
    this.holdsSlot = false;
    this.retries = 0;
    this.queued = false;
    this.exclude = -1;
  }
}
