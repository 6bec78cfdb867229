// Primary-side handle of the health thread: starts it, relays its log lines, restarts it with
// backoff if it dies (it resumes from the shared state), and stops it cleanly.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/model';
import type { LogLevel } from './log-lines';
import type { HealthWorkerData, ToHealthThread } from './messages';
import { isFromHealthThread } from './messages';

export interface HealthThreadHandle {
  stop(): Promise<void>;
}

export type HealthLogFn = (level: LogLevel, line: string) => void;

const THREAD_FILE = path.join(__dirname, 'thread.js');
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;
/** A thread that ran this long without dying resets the backoff. */
const STABLE_MS = 10000;
/** stop() waits this long for a clean exit before terminating the thread. */
const STOP_GRACE_MS = 3000;

/** Starts the probe thread. `onLog(level, line)` receives every state-change line (HAProxy style). */
export function startHealthThread(config: Config, stateBuffer: SharedArrayBuffer, onLog: HealthLogFn): HealthThreadHandle {
  let worker: Worker | null = null;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | null = null;
  let backoff = RESTART_MIN_MS;
  let exited: Promise<void> = Promise.resolve();

  const spawn = () => {
    restartTimer = null;
    if (stopping) return;
    const data: HealthWorkerData = { config, stateBuffer };
    const w = new Worker(THREAD_FILE, { workerData: data, name: 'gatehouse-health' });
    const startedAt = Date.now();
    let crash: string | null = null;
    worker = w;
    w.on('message', (m: unknown) => {
      if (isFromHealthThread(m) && m.type === 'log') onLog(m.level, m.line);
    });
    w.on('error', (err) => {
      crash = err instanceof Error ? err.message : String(err);
    });
    exited = new Promise<void>((resolve) => {
      w.once('exit', (code) => {
        if (worker === w) worker = null;
        resolve();
        if (stopping) return;
        if (Date.now() - startedAt > STABLE_MS) backoff = RESTART_MIN_MS;
        const why = crash ?? `exit code ${code}`;
        onLog('alert', `Health check thread died (${why}); restarting it in ${backoff}ms.`);
        restartTimer = setTimeout(spawn, backoff);
        backoff = Math.min(backoff * 2, RESTART_MAX_MS);
      });
    });
  };

  spawn();

  return {
    async stop() {
      if (stopping) return exited;
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = null;
      const w = worker;
      if (!w) return exited;
      const msg: ToHealthThread = { type: 'stop' };
      w.postMessage(msg);
      const kill = setTimeout(() => void w.terminate(), STOP_GRACE_MS);
      await exited;
      clearTimeout(kill);
    },
  };
}
