// `option tcplog` lines, HAProxy 2.6's TCP log format:
//   %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
// e.g. 127.0.0.1:46900 [04/Dec/2026:17:08:58.768] fe be/s1 1/0/8 5 -- 1/1/0/0/0 0/0
// (captured from haproxy 2.6 with `log stdout format raw`). The session's part comes from
// TcpSession's end (relay.ts); the gauges are what the proxy core counts.
import { logDate } from '../log/format';
import type { TcpSessionEnd } from './relay';

export interface TcpLogRecord {
  clientIp: string;
  clientPort: number;
  frontend: string;
  /** '<NOSRV>'-style names as HAProxy: the backend is the frontend's name when none was chosen */
  backend: string;
  /** '<NOSRV>' when no server was reached */
  server: string;
  end: TcpSessionEnd;
  /** %ac process connections, %fc frontend, %bc backend, %sc server, %rc retries */
  actconn: number;
  feconn: number;
  beconn: number;
  srvconn: number;
  retries: number;
  /** %sq server queue, %bq backend queue, at the time the session was queued */
  srvQueue: number;
  backendQueue: number;
}

/** IPv4-mapped IPv6 addresses are logged as IPv4, as HAProxy does for v4 clients of a v6 bind. */
function ip(s: string): string {
  return s.startsWith('::ffff:') && s.includes('.') ? s.slice(7) : s;
}

export function formatTcplog(r: TcpLogRecord): string {
  const e = r.end;
  // %Tc is -1 when no connection was established, and %Tw too when the queue was not left
  return `${ip(r.clientIp)}:${r.clientPort} [${logDate(e.acceptedAt)}] ${r.frontend} ${r.backend}/${r.server} ` +
    `${e.tw}/${e.tc}/${e.tt} ${e.bytesOut} ${e.termination} ` +
    `${r.actconn}/${r.feconn}/${r.beconn}/${r.srvconn}/${r.retries} ${r.srvQueue}/${r.backendQueue}`;
}
