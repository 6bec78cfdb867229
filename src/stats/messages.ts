// Messages between WorkerTelemetry and PrimaryTelemetry (over the worker's MessagePort).
// Every message carries `gh: 'telemetry'` so both sides can tell theirs apart cheaply.

export const TAG = 'telemetry';

/** worker -> primary: a batch of finished access-log lines of one frontend, '\n'-terminated */
export interface LogBatch {
  gh: typeof TAG;
  kind: 'log';
  frontend: number;
  lines: number;
  text: string;
}

/**
 * worker -> primary: a log target of frontend `frontend` failed in the worker (a file the worker
 * appends to could not be opened or written). The primary reports it once, as a warning.
 */
export interface LogWarning {
  gh: typeof TAG;
  kind: 'logwarn';
  frontend: number;
  text: string;
}

/** primary -> worker: send your histograms that changed since `since` (your own last reply) */
export interface HistogramRequest {
  gh: typeof TAG;
  kind: 'hist?';
  id: number;
}

/** worker -> primary: changed histograms as [index, compressed base64] per row kind */
export interface HistogramReply {
  gh: typeof TAG;
  kind: 'hist';
  /** 0 for a reply the worker sent on its own (final flush) */
  id: number;
  frontends: [number, string][];
  backends: [number, string][];
  servers: [number, string][];
}

/** primary -> worker, once a second while a stats listener runs: send what you recorded since the last tick */
export interface TickRequest {
  gh: typeof TAG;
  kind: 'tick?';
  id: number;
}

/**
 * worker -> primary: latencies recorded since the worker's previous tick reply, per counter row
 * (frontends, backends, servers numbered as in shared/counters.ts), as records
 * `row, n, (slot, count) x n` (HDR slots of histograms.ts, in no particular order).
 */
export interface TickReply {
  gh: typeof TAG;
  kind: 'tick';
  id: number;
  data: Uint32Array;
}

export type TelemetryMessage = LogBatch | LogWarning | HistogramRequest | HistogramReply | TickRequest | TickReply;

export function isTelemetry(msg: unknown): msg is TelemetryMessage {
  return typeof msg === 'object' && msg !== null && (msg as { gh?: unknown }).gh === TAG;
}
