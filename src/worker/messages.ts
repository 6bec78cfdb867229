// Messages between the primary and a worker thread (besides the telemetry ones, which
// src/stats defines and handles itself).

export type PrimaryToWorker =
  | { type: 'stop'; graceMs: number }
  /** SIGTTOU / SIGTTIN: close the listeners, keep the connections / listen again */
  | { type: 'pause' }
  /** fds: the primary bound the shared sockets anew (it closed them for the pause) */
  | { type: 'resume'; fds?: Record<string, number> }
  | { type: string; [k: string]: unknown };

export type WorkerToPrimary =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'fatal'; message: string }
  /** answer to 'resume': listening again (error: a bind that failed) */
  | { type: 'resumed'; error?: string }
  | { type: string; [k: string]: unknown };
