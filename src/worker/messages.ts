// Messages between the primary and a worker thread (besides the telemetry ones, which
// src/stats defines and handles itself).

export type PrimaryToWorker = { type: 'stop'; graceMs: number } | { type: string; [k: string]: unknown };

export type WorkerToPrimary =
  | { type: 'ready' }
  | { type: 'stopped' }
  | { type: 'fatal'; message: string }
  | { type: string; [k: string]: unknown };
