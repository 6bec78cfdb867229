// Bodiless request heads wait for the end of the event loop's poll phase and are written
// together (one setImmediate per turn, not per request). Every client request read in one poll
// phase then reaches its server in one burst: the servers wake once for all of them and their
// answers come back in fewer, fuller turns of our loop (measured: native-bench/ab-cpu.mjs,
// docs in native-bench/README.md "Per-request CPU"). Each head still has its own socket and
// its own write; nothing is merged across connections.

import { CONN_BUSY, type UpstreamConn } from './connection';

const conns: (UpstreamConn | null)[] = [];
const heads: (string | Buffer | null)[] = [];
/** the owner the head was queued for: a connection that changed hands since gets nothing */
const owners: unknown[] = [];
let queued = 0;
let scheduled = false;

/** Write `head` (the whole request) to `conn` at the end of this loop turn. */
export function queueHead(conn: UpstreamConn, head: string | Buffer): void {
  conns[queued] = conn;
  heads[queued] = head;
  owners[queued] = conn.owner;
  queued++;
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushHeads);
  }
}

function flushHeads(): void {
  scheduled = false;
  // a write can fail and close its socket synchronously; the queue is walked by index so a
  // head queued meanwhile (not expected, but harmless) goes out in this pass too
  for (let i = 0; i < queued; i++) {
    const conn = conns[i];
    if (conn === null) continue; // written already (flushHeadOf)
    const head = heads[i]!;
    const owner = owners[i];
    conns[i] = null;
    heads[i] = null;
    owners[i] = null;
    // the exchange gave up (client gone, timeout) before its turn came: nothing to send
    if (conn.state === CONN_BUSY && conn.owner === owner) conn.writeHead(head);
  }
  queued = 0;
}

/**
 * The exchange on `conn` is letting go of it (its client left) while its head may still wait
 * here: write it now, so the request the client sent reaches the server as it would have
 * unbatched (HAProxy forwards it), and a drain has a response to wait for.
 */
export function flushHeadOf(conn: UpstreamConn): void {
  for (let i = 0; i < queued; i++) {
    if (conns[i] !== conn) continue;
    const head = heads[i]!;
    const owner = owners[i];
    conns[i] = null;
    heads[i] = null;
    owners[i] = null;
    if (conn.state === CONN_BUSY && conn.owner === owner) conn.writeHead(head);
    return;
  }
}
