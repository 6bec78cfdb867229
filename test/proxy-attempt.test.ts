// ServerAttempt (src/proxy/attempt.ts) in-process: server choice with exclusion and persistence,
// maxconn slots in the shared state, retries and redispatch with their counters, the backend
// queue and its drain. A real Config (haproxy.cfg text through the project's validator) and a
// real WorkerRuntime; "other workers" are simulated by writing the shared S_ACTIVE cells.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ASSIGN_FULL,
  ASSIGN_NOSRV,
  ASSIGN_OK,
  RETRY_NONE,
  RETRY_PICK,
  RETRY_SAME,
  ServerAttempt,
} from '../src/proxy/attempt';
import { C_LBTOT, C_SCUR, C_STOT, C_WREDIS, C_WRETR } from '../src/shared/counters';
import { BACKEND_STRIDE, B_ACTIVE, B_QMAX, B_QUEUE, SERVER_STRIDE, S_ACTIVE } from '../src/shared/state';
import type { BackendRuntime, QueueWaiter, WorkerRuntime } from '../src/worker/runtime';
import { cfgModel } from './helpers/config';
import { activeOf, setHealth, workerRuntime, type RuntimeFixture } from './helpers/runtime';

const MAXCONN = 2;
const RETRIES = 3;

function fixture(): RuntimeFixture {
  return workerRuntime(
    cfgModel(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries ${RETRIES}
frontend fe
    bind 127.0.0.1:8080
    default_backend pool
backend pool
    option redispatch
    server a 127.0.0.1:9001 maxconn ${MAXCONN}
    server b 127.0.0.1:9002 maxconn ${MAXCONN}
backend plain
    server c 127.0.0.1:9003
    server d 127.0.0.1:9004
`),
  );
}

function backend(rt: WorkerRuntime, name: string): BackendRuntime {
  const be = rt.backends.find((b) => b.cfg.name === name);
  assert.ok(be, name);
  return be;
}
/** Global indices of a backend's servers. */
function serversOf(be: BackendRuntime): number[] {
  return be.cfg.servers.map((_s, i) => be.firstServer + i);
}
function attemptOn(rt: WorkerRuntime, be: BackendRuntime, persistServer = -1): ServerAttempt {
  const a = new ServerAttempt();
  a.begin(rt, be, persistServer, Date.now());
  return a;
}
function backendCell(f: RuntimeFixture, be: BackendRuntime, cell: number): number {
  return Atomics.load(f.state.backends, be.index * BACKEND_STRIDE + cell);
}
/** Slots other workers hold on `server` (added to the shared in-flight count). */
function othersHold(f: RuntimeFixture, server: number, n: number): void {
  Atomics.add(f.state.servers, server * SERVER_STRIDE + S_ACTIVE, n);
}

test('assign takes a slot on the chosen server; release gives it back, once', () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  const a = attemptOn(f.rt, be);
  assert.equal(a.assign(null, -1), ASSIGN_OK);
  assert.ok(serversOf(be).includes(a.server), `server ${a.server} is not one of the backend's`);
  assert.equal(a.direct, false);
  const row = f.rt.servers[a.server].row;
  assert.equal(activeOf(f.state, a.server), 1);
  assert.equal(backendCell(f, be, B_ACTIVE), 1);
  assert.equal(f.slab[row + C_SCUR], 1);
  assert.equal(f.slab[row + C_STOT], 1);
  assert.equal(f.slab[row + C_LBTOT], 1);
  assert.equal(f.slab[be.row + C_LBTOT], 1);
  a.release();
  a.release();
  assert.equal(activeOf(f.state, a.server), 0);
  assert.equal(backendCell(f, be, B_ACTIVE), 0);
  assert.equal(f.slab[row + C_SCUR], 0);
  // totals stay
  assert.equal(f.slab[row + C_STOT], 1);
});

test('assign avoids the excluded server; NOSRV when it is the only usable one', () => {
  const f = fixture();
  const be = backend(f.rt, 'plain');
  const [c, d] = serversOf(be);
  for (const excluded of [c, d]) {
    for (let i = 0; i < 6; i++) {
      const a = attemptOn(f.rt, be);
      assert.equal(a.assign(null, excluded), ASSIGN_OK);
      assert.notEqual(a.server, excluded, `pick ${i} went to the excluded server`);
      a.release();
    }
  }
  setHealth(f.rt, d, false);
  const a = attemptOn(f.rt, be);
  assert.equal(a.assign(null, c), ASSIGN_NOSRV);
  assert.equal(activeOf(f.state, c), 0, 'no slot taken');
  assert.equal(a.assign(null, -1), ASSIGN_OK);
  assert.equal(a.server, c);
  a.release();
});

test('NOSRV when every server is down, even when they are also at maxconn', () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  for (const s of serversOf(be)) setHealth(f.rt, s, false);
  assert.equal(attemptOn(f.rt, be).assign(null, -1), ASSIGN_NOSRV);
  for (const s of serversOf(be)) othersHold(f, s, MAXCONN);
  assert.equal(attemptOn(f.rt, be).assign(null, -1), ASSIGN_NOSRV);
  // one back up (and full): now the request waits instead
  setHealth(f.rt, serversOf(be)[0], true);
  assert.equal(attemptOn(f.rt, be).assign(null, -1), ASSIGN_FULL);
});

test('FULL when every usable server is at its maxconn; a free slot anywhere is taken', () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  const [a, b] = serversOf(be);
  othersHold(f, a, MAXCONN);
  othersHold(f, b, MAXCONN - 1);
  const first = attemptOn(f.rt, be);
  assert.equal(first.assign(null, -1), ASSIGN_OK);
  assert.equal(first.server, b, 'the only server with a free slot');
  assert.equal(activeOf(f.state, b), MAXCONN);
  const second = attemptOn(f.rt, be);
  assert.equal(second.assign(null, -1), ASSIGN_FULL);
  assert.equal(activeOf(f.state, a), MAXCONN, 'a full server never holds more than maxconn');
  assert.equal(activeOf(f.state, b), MAXCONN);
  assert.equal(second.stillFull(), true);
  first.release();
  assert.equal(second.stillFull(), false);
  assert.equal(second.assign(null, -1), ASSIGN_OK);
  assert.equal(second.server, b);
  second.release();
});

test('persistence: the cookie\'s server is used directly unless excluded', () => {
  const f = fixture();
  const be = backend(f.rt, 'plain');
  const [, d] = serversOf(be);
  for (let i = 0; i < 4; i++) {
    const a = attemptOn(f.rt, be, d);
    assert.equal(a.assign(null, -1), ASSIGN_OK);
    assert.equal(a.server, d);
    assert.equal(a.direct, true);
    a.release();
  }
  const a = attemptOn(f.rt, be, d);
  assert.equal(a.assign(null, d), ASSIGN_OK);
  assert.notEqual(a.server, d);
  assert.equal(a.direct, false);
  a.release();
});

test('retry: the same server until the last retry, which is redispatched elsewhere; then none', () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  assert.equal(be.cfg.retries, RETRIES);
  assert.equal(be.cfg.redispatch, true);
  const at = attemptOn(f.rt, be);
  assert.equal(at.assign(null, -1), ASSIGN_OK);
  const failed = at.server;
  const srow = f.rt.servers[failed].row;
  for (let i = 1; i < RETRIES; i++) {
    assert.equal(at.retry(), RETRY_SAME, `retry ${i}`);
    assert.equal(at.server, failed);
    assert.equal(at.retries, i);
    assert.equal(activeOf(f.state, failed), 1, 'the slot was taken again, not twice');
    assert.equal(f.slab[srow + C_WRETR], i);
    assert.equal(f.slab[be.row + C_WRETR], i);
    assert.equal(f.slab[srow + C_WREDIS], 0);
  }
  // the last retry: another server (HAProxy's option redispatch)
  assert.equal(at.retry(), RETRY_PICK);
  assert.equal(at.retries, RETRIES);
  assert.equal(at.exclude, failed);
  assert.equal(activeOf(f.state, failed), 0, 'the failed server\'s slot is given back');
  assert.equal(f.slab[srow + C_WRETR], RETRIES);
  assert.equal(f.slab[be.row + C_WRETR], RETRIES);
  assert.equal(f.slab[srow + C_WREDIS], 1);
  assert.equal(f.slab[be.row + C_WREDIS], 1);
  assert.equal(at.assign(null, at.exclude), ASSIGN_OK);
  assert.notEqual(at.server, failed);
  const other = at.server;
  assert.equal(activeOf(f.state, other), 1);
  // nothing left
  assert.equal(at.retry(), RETRY_NONE);
  assert.equal(activeOf(f.state, other), 0);
  assert.equal(f.slab[f.rt.servers[other].row + C_WRETR], 0, 'no retry counted on the last server');
  assert.equal(f.slab[be.row + C_WRETR], RETRIES);
  assert.equal(backendCell(f, be, B_ACTIVE), 0);
});

test('retry: a redispatch forgets the cookie\'s server', () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  const pinned = serversOf(be)[1];
  const at = attemptOn(f.rt, be, pinned);
  assert.equal(at.assign(null, -1), ASSIGN_OK);
  assert.equal(at.server, pinned);
  for (let i = 1; i < RETRIES; i++) assert.equal(at.retry(), RETRY_SAME);
  assert.equal(at.retry(), RETRY_PICK);
  assert.equal(at.persistServer, -1);
  assert.equal(at.assign(null, at.exclude), ASSIGN_OK);
  assert.notEqual(at.server, pinned);
  assert.equal(at.direct, false);
  at.release();
});

test('retry without redispatch stays on the failed server, and counts no redispatch', () => {
  const f = fixture();
  const be = backend(f.rt, 'plain');
  assert.equal(be.cfg.redispatch, false);
  const at = attemptOn(f.rt, be);
  assert.equal(at.assign(null, -1), ASSIGN_OK);
  const failed = at.server;
  for (let i = 1; i <= be.cfg.retries; i++) assert.equal(at.retry(), RETRY_SAME, `retry ${i}`);
  assert.equal(at.retry(), RETRY_NONE);
  assert.equal(f.slab[f.rt.servers[failed].row + C_WRETR], be.cfg.retries);
  assert.equal(f.slab[be.row + C_WREDIS], 0);
  assert.equal(activeOf(f.state, failed), 0);
});

test('retry: when the failed server filled up meanwhile, pick again without exclusion', () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  const at = attemptOn(f.rt, be);
  assert.equal(at.assign(null, -1), ASSIGN_OK);
  const failed = at.server;
  // other workers take every other slot of the failed server
  othersHold(f, failed, MAXCONN);
  assert.equal(at.retry(), RETRY_PICK);
  assert.equal(at.exclude, -1);
  assert.equal(activeOf(f.state, failed), MAXCONN, 'no slot held by this attempt');
  assert.equal(at.assign(null, at.exclude), ASSIGN_OK);
  assert.notEqual(at.server, failed);
  at.release();
});

test('queue: enqueue/dequeue keep the shared queue count and its high-water mark', () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  const waiters = [0, 1, 2].map(() => ({ retryFromQueue: () => false }));
  const attempts = waiters.map(() => attemptOn(f.rt, be));
  attempts.forEach((a, i) => {
    a.enqueue(waiters[i], -1);
    assert.equal(a.queued, true);
    assert.equal(backendCell(f, be, B_QUEUE), i + 1);
    assert.equal(backendCell(f, be, B_QMAX), i + 1);
  });
  assert.deepEqual(be.queue, waiters);
  const waited = attempts[1].dequeue(waiters[1]);
  assert.ok(waited >= 0, `waited ${waited} ms`);
  assert.equal(attempts[1].queued, false);
  assert.deepEqual(be.queue, [waiters[0], waiters[2]]);
  assert.equal(backendCell(f, be, B_QUEUE), waiters.length - 1);
  assert.equal(attempts[1].dequeue(waiters[1]), -1, 'not queued any more');
  assert.equal(backendCell(f, be, B_QUEUE), waiters.length - 1);
  attempts[0].dequeue(waiters[0]);
  attempts[2].dequeue(waiters[2]);
  assert.equal(backendCell(f, be, B_QUEUE), 0);
  assert.equal(backendCell(f, be, B_QMAX), waiters.length, 'the high-water mark stays');
  assert.deepEqual(be.queue, []);
});

/** A queued request as the exchange is one: on a wake-up, take a server or stay queued. */
class Waiter implements QueueWaiter {
  readonly attempt: ServerAttempt;
  served = false;
  constructor(
    readonly name: string,
    rt: WorkerRuntime,
    be: BackendRuntime,
    private readonly log: string[],
  ) {
    this.attempt = attemptOn(rt, be);
  }
  retryFromQueue(): boolean {
    this.log.push(this.name);
    if (this.attempt.stillFull() || this.attempt.assign(null, this.attempt.exclude) !== ASSIGN_OK) return false;
    this.attempt.dequeue(this);
    this.served = true;
    return true;
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a released slot wakes queued requests oldest first; the drain stops at the first still waiting', async () => {
  const f = fixture();
  const be = backend(f.rt, 'pool');
  // this worker fills every slot
  const holders: ServerAttempt[] = [];
  for (let i = 0; i < serversOf(be).length * MAXCONN; i++) {
    const h = attemptOn(f.rt, be);
    assert.equal(h.assign(null, -1), ASSIGN_OK, `holder ${i}`);
    holders.push(h);
  }
  const log: string[] = [];
  const waiters = ['w1', 'w2', 'w3'].map((n) => new Waiter(n, f.rt, be, log));
  for (const w of waiters) {
    assert.equal(w.attempt.assign(null, -1), ASSIGN_FULL, w.name);
    w.attempt.enqueue(w, -1);
  }
  assert.equal(backendCell(f, be, B_QUEUE), waiters.length);

  // one slot frees: the release schedules a drain for after the current callback
  holders[0].release();
  assert.deepEqual(log, [], 'the drain waits for the current callback to end');
  await nextTurn();
  assert.deepEqual(log, ['w1', 'w2'], 'w1 served, w2 still waits, w3 not asked');
  assert.deepEqual(
    waiters.map((w) => w.served),
    [true, false, false],
  );
  assert.equal(waiters[0].attempt.server, holders[0].server, 'it took the slot that freed');
  assert.equal(backendCell(f, be, B_QUEUE), waiters.length - 1);
  assert.deepEqual(be.queue, waiters.slice(1));

  // two more free: both remaining waiters, in order
  log.length = 0;
  holders[1].release();
  holders[2].release();
  await nextTurn();
  assert.deepEqual(log, ['w2', 'w3']);
  assert.deepEqual(
    waiters.map((w) => w.served),
    [true, true, true],
  );
  assert.equal(backendCell(f, be, B_QUEUE), 0);
  assert.deepEqual(be.queue, []);
  for (const s of serversOf(be)) assert.ok(activeOf(f.state, s) <= MAXCONN);

  for (const h of holders) h.release();
  for (const w of waiters) w.attempt.release();
  for (const s of serversOf(be)) assert.equal(activeOf(f.state, s), 0, 'every slot given back');
  assert.equal(backendCell(f, be, B_ACTIVE), 0);
});
