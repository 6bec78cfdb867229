// What travels between the primary and the health thread. Plain data, checked on arrival.
import type { Config } from '../config/model';
import type { LogLevel } from './log-lines';

export interface HealthWorkerData {
  config: Config;
  stateBuffer: SharedArrayBuffer;
}

/** thread -> primary */
export type FromHealthThread = { type: 'log'; level: LogLevel; line: string } | { type: 'stopped' };

/** primary -> thread */
export type ToHealthThread = { type: 'stop' };

const LEVELS: readonly string[] = ['info', 'notice', 'warning', 'alert'];

export function isFromHealthThread(m: unknown): m is FromHealthThread {
  if (!m || typeof m !== 'object') return false;
  const o = m as Record<string, unknown>;
  if (o.type === 'stopped') return true;
  return o.type === 'log' && typeof o.line === 'string' && typeof o.level === 'string' && LEVELS.includes(o.level);
}

export function isToHealthThread(m: unknown): m is ToHealthThread {
  return !!m && typeof m === 'object' && (m as Record<string, unknown>).type === 'stop';
}
