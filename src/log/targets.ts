// Log target strings as written by the user, and which of them the workers write themselves.
// Shared by the primary's LogSink and the workers' WorkerTelemetry, so both sides agree on who
// writes what: access lines to `file:` targets are appended by each worker directly; everything
// else (stdout, stderr, syslog over udp/unix) goes through the primary.
import type { LogTarget } from '../config/model';
import { severityCode } from './syslog';

export interface TargetSpec {
  kind: 'stdout' | 'stderr' | 'file' | 'udp' | 'unix';
  path?: string;
  host?: string;
  port?: number;
}

/** Parse a target as written by the user into an output. Exported for the tests and `-c`. */
export function parseTarget(target: string): TargetSpec {
  if (target === 'stdout' || target === 'stderr') return { kind: target };
  if (target.startsWith('file:')) return { kind: 'file', path: target.slice(5) };
  if (target.startsWith('unix:')) return { kind: 'unix', path: target.slice(5) };
  if (target.startsWith('/')) return { kind: 'unix', path: target };
  const m = /^(?:udp:\/\/)?(\[[^\]]+\]|[^:/\s]+)(?::(\d+))?$/.exec(target);
  if (m) {
    const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
    return { kind: 'udp', host, port: m[2] ? Number(m[2]) : 514 };
  }
  throw new Error(`unknown log target "${target}" (expected stdout, stderr, file:PATH, udp://HOST:PORT or unix:PATH)`);
}

/** Severity of access-log lines (info). */
export const ACCESS_SEVERITY = severityCode('info');

/** Does this target take access lines? (`level` is a ceiling, HAProxy's semantics) */
export function takesAccessLines(t: LogTarget): boolean {
  return ACCESS_SEVERITY <= severityCode(t.level || 'debug');
}
