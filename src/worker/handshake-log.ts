// A TLS handshake that failed on a bind (HTTP or mode tcp): HAProxy's connection log line
// "client:port [date] frontend/bind: SSL handshake failure" (no session, no request counted).

import type { BindAddress } from '../config/model';
import { logDate } from '../log/format';
import type { FrontendRuntime, WorkerRuntime } from './runtime';

/** `ip`/`port`: the client (the PROXY header's on an accept-proxy bind), as the socket gave them. */
export function logHandshakeFailure(rt: WorkerRuntime, fe: FrontendRuntime, b: BindAddress, err: Error, ip: string | undefined, port: number | undefined): void {
  const raw = ip ?? '-';
  const addr = raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
  const line = `${addr}:${port ?? 0} [${logDate(Date.now())}] ${fe.cfg.name}/${b.text}: SSL handshake failure`;
  if (rt.telemetry !== null) rt.telemetry.onConnectionLine(fe.index, line);
  if (process.env.GATEHOUSE_DEBUG_TLS === '1') process.stderr.write(`${line} (${err.message})\n`);
}
