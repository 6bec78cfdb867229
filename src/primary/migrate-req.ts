// A reload (or -sf) closes the old workers' listening sockets while the new workers' sockets
// on the same ports are already open (SO_REUSEPORT). The kernel spreads new connections over
// every socket of the group, so a few always sit in an old socket's accept queue when it closes,
// and Linux resets them, unless net.ipv4.tcp_migrate_req (Linux 5.14+) is 1: then it moves them
// to a socket of the group still listening. Measured with 2 workers, 8 clients opening a
// connection per request and a SIGHUP every 700 ms: 0-15 resets per 7 reloads with it off, none
// with it on (docs/hardening.md).
// HAProxy avoids the resets by passing its listening descriptors to the new process; uWS.js
// cannot adopt a listening descriptor, so gatehouse relies on the kernel and says so.

import { promises as fsp } from 'node:fs';

const SYSCTL = '/proc/sys/net/ipv4/tcp_migrate_req';

/** Why connections queued on closing listeners would be reset, or null when the kernel migrates them. */
export async function migrateReqProblem(): Promise<string | null> {
  let value: string;
  try {
    value = (await fsp.readFile(SYSCTL, 'latin1')).trim();
  } catch {
    return 'this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14+): connections queued on the old workers\' listening sockets when they close are reset';
  }
  if (value !== '0') return null;
  return (
    'net.ipv4.tcp_migrate_req is 0: connections queued on the old workers\' listening sockets when they close are reset; ' +
    '`sysctl -w net.ipv4.tcp_migrate_req=1` makes the kernel hand them to the new workers'
  );
}
