// Connect pacing (src/upstream/connect-pacing.ts): a burst of requests on a cold pool opens at
// most CONNECTS_PER_TURN new upstream connections per event-loop turn; the rest wait in the
// pool's line, first come first served, and take a connection freed meanwhile before opening one.
// In-process for the pacer's order; end to end (real server, real sockets) for the burst.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { CONNECTS_PER_TURN, ConnectPacer, type ConnWaiter } from '../src/upstream/connect-pacing';
import type { ServerPool } from '../src/upstream/pool';
import type { UpstreamConn } from '../src/upstream/connection';
import { freePort, startBackend, startGatehouse } from './helpers/net';
import { proxyYaml } from './helpers/config';

/** The two things the pacer uses of a pool: its line and its idle connections. */
function linePool(idle: number): { pool: ServerPool; idleLeft: () => number } {
  let left = idle;
  const fake = {
    waiters: [] as ConnWaiter[],
    takeIdle: (): UpstreamConn | null => (left > 0 ? (left--, {} as UpstreamConn) : null),
  };
  return { pool: fake as unknown as ServerPool, idleLeft: () => left };
}

/** A request in the line, recording how it was served into `log`. */
function waiter(name: string, log: string[], still = () => true): ConnWaiter & { waiting: boolean } {
  const w = {
    waiting: true,
    waitsIn: () => w.waiting && still(),
    useConn: () => {
      w.waiting = false;
      log.push(`${name}:idle`);
    },
    connectNow: () => {
      w.waiting = false;
      log.push(`${name}:connect`);
    },
  };
  return w;
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe('connect pacing', () => {
  test('past the turn budget requests wait their turn, in order, idle connections first', async () => {
    const pacer = new ConnectPacer();
    const { pool, idleLeft } = linePool(0);
    const log: string[] = [];
    for (let i = 0; i < CONNECTS_PER_TURN; i++) assert.equal(pacer.admit(pool, waiter(`n${i}`, log)), true);
    const late = Array.from({ length: CONNECTS_PER_TURN + 3 }, (_, i) => waiter(`w${i}`, log));
    for (const w of late) assert.equal(pacer.admit(pool, w), false, 'over budget: waits');
    assert.equal(pool.waiters.length, late.length);
    // a request that gave up (client gone, timed out) is skipped, not connected for
    late[1].waiting = false;
    await nextTurn();
    // the next turn: a fresh budget, spent in arrival order; the rest still wait
    assert.deepEqual(log.slice(0, 3), ['w0:connect', 'w2:connect', 'w3:connect']);
    assert.equal(log.length, CONNECTS_PER_TURN);
    assert.equal(pool.waiters.length, 2, 'two left for the turn after');
    // a newcomer goes behind them
    assert.equal(pacer.admit(pool, waiter('late', log)), false);
    // connections freed meanwhile serve the line before a connect does
    (pool as unknown as { takeIdle: () => UpstreamConn | null }).takeIdle = (() => {
      let n = 1;
      return () => (n-- > 0 ? ({} as UpstreamConn) : null);
    })();
    await nextTurn();
    assert.deepEqual(log.slice(-3), [`w${late.length - 2}:idle`, `w${late.length - 1}:connect`, 'late:connect']);
    assert.equal(pool.waiters.length, 0);
    assert.equal(idleLeft(), 0);
  });

  test('a burst of clients on a cold pool opens fewer server connections than requests, all answered', async () => {
    let conns = 0;
    const be = await startBackend('a');
    be.server.on('connection', () => conns++);
    const port = await freePort();
    const gh = await startGatehouse(proxyYaml({ port, workers: 1, servers: [{ name: 'a', port: be.port }] }), [port]);
    const N = 800;
    try {
      const statuses = await Promise.all(
        Array.from(
          { length: N },
          () =>
            new Promise<string>((resolve) => {
              const s = net.connect(port, '127.0.0.1', () =>
                s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
              );
              let head = '';
              s.on('data', (d) => (head += d.toString('latin1')));
              s.on('error', () => {});
              s.on('close', () => resolve(head.slice(0, 12)));
            }),
        ),
      );
      assert.equal(statuses.filter((s) => s === 'HTTP/1.1 200').length, N, 'every request answered 200');
      assert.equal(be.hits, N);
      // without pacing every request of the burst opened its own connection (N of N); with it,
      // connections answered meanwhile serve the requests still in line
      assert.ok(conns <= N * 0.9, `${conns} server connections for ${N} requests`);
    } finally {
      await gh.stop();
      await be.close();
    }
  });
});
