// Starts worker threads, restarts any that dies (with backoff), and stops them gracefully.
// A dead worker's share of the shared active counters is given back so leastconn and maxconn
// do not see phantom requests.

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/model';
import { C_ADMITTED, C_SCUR, counterRows, createSlab, frontendRow, serverRow, type CounterRows } from '../shared/counters';
import { BACKEND_STRIDE, B_ACTIVE, FRONTEND_STRIDE, F_ACTIVE, G_ACTIVE_CONN, SERVER_STRIDE, S_ACTIVE, ServerIndex, type SharedState } from '../shared/state';
import type { WorkerInit } from '../worker/main';
import type { WorkerToPrimary } from '../worker/messages';
import { raiseListenBacklogs } from './listen-backlog';

/** One TLS session ticket key set per process: a ticket from one worker (node engine TLS binds) resumes on any other, reloads included. */
const TLS_TICKET_KEYS = randomBytes(48);

const WORKER_ENTRY = path.join(__dirname, '..', 'worker', 'main.js');
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10000;
/** A worker that ran this long before dying restarts without backoff. */
const STABLE_MS = 30000;

export interface SupervisorHooks {
  log(level: 'info' | 'notice' | 'warning' | 'alert', text: string): void;
  onWorkerStarted(id: number, slab: Float64Array, send: (m: unknown) => void): void;
  onWorkerGone(id: number): void;
  onWorkerMessage(id: number, msg: unknown): void;
}

interface Slot {
  id: number;
  slab: Float64Array;
  thread: Worker | null;
  startedAt: number;
  backoff: number;
  ready: boolean;
  /** called when the worker answers 'resume' */
  onResumed: ((error: string | null) => void) | null;
}

export class Supervisor {
  private readonly slots: Slot[] = [];
  private readonly rows: CounterRows;
  private readonly index: ServerIndex;
  private stopping = false;
  /** listeners closed by pause() (SIGTTOU); workers (re)started meanwhile are paused too */
  private paused = false;

  constructor(
    private readonly config: Config,
    private readonly state: SharedState,
    /** listening descriptors of node-engine binds (shared-listeners.ts), by bind key */
    private fds: Record<string, number>,
    private readonly hooks: SupervisorHooks,
  ) {
    this.rows = counterRows(config);
    this.index = new ServerIndex(config);
  }

  /** Start every worker; resolves when all listen, rejects with the first bind error. */
  start(): Promise<void> {
    const n = this.config.global.workers;
    const ready: Promise<void>[] = [];
    for (let id = 0; id < n; id++) {
      const slot: Slot = { id, slab: createSlab(this.rows), thread: null, startedAt: 0, backoff: BACKOFF_MIN_MS, ready: false, onResumed: null };
      this.slots.push(slot);
      ready.push(this.spawn(slot));
    }
    // The backlogs are raised in the background: start() (and with it the primary's signal
    // handlers and the started notice) does not wait for the helper process.
    return Promise.all(ready).then(() => void this.raiseBacklogs());
  }

  /** Listen backlogs from maxconn (listen-backlog.ts); a failure leaves uWS's 512 and is logged. */
  private raiseBacklogs(): Promise<void> {
    return raiseListenBacklogs(this.config).then(
      () => undefined,
      (e: Error) => this.hooks.log('warning', `listen backlog left at uWebSockets.js's 512: ${e.message}`),
    );
  }

  private spawn(slot: Slot): Promise<void> {
    const init: WorkerInit = {
      config: this.config,
      stateBuffer: this.state.buffer,
      slab: slot.slab,
      workerId: slot.id,
      fds: this.fds,
      paused: this.paused,
      ticketKeys: TLS_TICKET_KEYS,
    };
    const t = new Worker(WORKER_ENTRY, { workerData: init });
    slot.thread = t;
    slot.startedAt = Date.now();
    slot.ready = false;
    this.hooks.onWorkerStarted(slot.id, slot.slab, (m) => t.postMessage(m));
    return new Promise<void>((resolve, reject) => {
      t.on('message', (m: WorkerToPrimary) => {
        if (m.type === 'ready') {
          slot.ready = true;
          // a worker started before a pause that has begun since: it stops accepting at once
          // (one started during the pause does not listen at all: init.paused)
          if (this.paused) t.postMessage({ type: 'pause' });
          resolve();
        } else if (m.type === 'resumed') {
          const done = slot.onResumed;
          slot.onResumed = null;
          done?.(typeof m.error === 'string' ? m.error : null);
        } else if (m.type === 'fatal') {
          reject(new Error(String(m.message)));
        } else if (m.type === 'crashed') {
          this.hooks.log('alert', `worker ${slot.id} crashed: ${String(m.message)}`);
        } else if (m.type !== 'stopped') {
          this.hooks.onWorkerMessage(slot.id, m);
        }
      });
      t.on('error', (e) => {
        this.hooks.log('alert', `worker ${slot.id} crashed: ${e.stack ?? e.message}`);
      });
      t.on('exit', (code) => {
        slot.thread = null;
        const resumed = slot.onResumed;
        slot.onResumed = null;
        resumed?.(null);
        this.releaseShare(slot);
        this.hooks.onWorkerGone(slot.id);
        if (!slot.ready) reject(new Error(`worker ${slot.id} exited with code ${code} before listening`));
        if (this.stopping) return;
        const lived = Date.now() - slot.startedAt;
        if (lived > STABLE_MS) slot.backoff = BACKOFF_MIN_MS;
        const delay = slot.backoff;
        slot.backoff = Math.min(slot.backoff * 2, BACKOFF_MAX_MS);
        this.hooks.log('alert', `worker ${slot.id} exited (code ${code}); restarting in ${delay} ms`);
        setTimeout(() => {
          if (this.stopping) return;
          this.spawn(slot).then(
            () => {
              this.hooks.log('notice', `worker ${slot.id} restarted`);
              void this.raiseBacklogs();
            },
            (e: Error) => this.hooks.log('alert', `worker ${slot.id} failed to restart: ${e.message}`),
          );
        }, delay).unref();
      });
    });
  }

  /** Give back the in-flight counts a dead worker held in the shared state. */
  private releaseShare(slot: Slot): void {
    const slab = slot.slab;
    for (let b = 0; b < this.index.backendCount; b++) {
      const first = this.index.backendFirstServer[b];
      const count = this.config.backends[b].servers.length;
      let held = 0;
      for (let s = first; s < first + count; s++) {
        const row = serverRow(this.rows, s);
        const n = slab[row + C_SCUR];
        if (n > 0) {
          Atomics.sub(this.state.servers, s * SERVER_STRIDE + S_ACTIVE, n);
          held += n;
        }
        slab[row + C_SCUR] = 0;
      }
      if (held > 0) Atomics.sub(this.state.backends, b * BACKEND_STRIDE + B_ACTIVE, held);
    }
    for (let f = 0; f < this.rows.frontends; f++) {
      const row = frontendRow(f);
      const admitted = slab[row + C_ADMITTED];
      if (admitted > 0) {
        Atomics.sub(this.state.frontends, f * FRONTEND_STRIDE + F_ACTIVE, admitted);
        Atomics.sub(this.state.global, G_ACTIVE_CONN, admitted);
      }
      slab[row + C_SCUR] = 0;
      slab[row + C_ADMITTED] = 0;
    }
  }

  /** Ask every worker to stop accepting and finish in-flight requests within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const exits: Promise<void>[] = [];
    for (const s of this.slots) {
      const t = s.thread;
      if (t === null) continue;
      exits.push(new Promise<void>((resolve) => t.once('exit', () => resolve())));
      t.postMessage({ type: 'stop', graceMs });
    }
    const hard = setTimeout(() => {
      for (const s of this.slots) void s.thread?.terminate();
    }, graceMs + 5000);
    hard.unref();
    await Promise.all(exits);
    clearTimeout(hard);
  }

  /** SIGTTOU: every worker closes its listeners and keeps serving its open connections. */
  pause(): boolean {
    if (this.stopping || this.paused) return false;
    this.paused = true;
    for (const s of this.slots) s.thread?.postMessage({ type: 'pause' });
    return true;
  }

  /**
   * SIGTTIN: every worker listens again. Resolves with the bind errors (empty: all listen);
   * the new listening sockets get their backlogs like at start. `fds`: the shared sockets,
   * bound anew by the primary (it closed them for the pause).
   */
  async resume(fds: Record<string, number>): Promise<string[]> {
    if (this.stopping || !this.paused) return [];
    this.paused = false;
    this.fds = fds;
    const answers: Promise<string | null>[] = [];
    for (const s of this.slots) {
      const t = s.thread;
      if (t === null || !s.ready) continue;
      answers.push(
        new Promise<string | null>((resolve) => {
          s.onResumed = resolve;
          t.postMessage({ type: 'resume', fds });
        }),
      );
    }
    const errors = (await Promise.all(answers)).filter((e): e is string => e !== null);
    void this.raiseBacklogs();
    return [...new Set(errors)];
  }

  get workerCount(): number {
    return this.slots.filter((s) => s.thread !== null).length;
  }

  /** Test/admin hook: end one worker abruptly (crash recovery). */
  terminate(id: number): void {
    void this.slots[id]?.thread?.terminate();
  }
}
