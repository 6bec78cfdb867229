// End-to-end maxconn: server maxconn and the backend queue, frontend and global maxconn,
// timeout queue.
// Real node:http upstreams, gatehouse as a child process, real HTTP clients.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  csvCell,
  freePort,
  request,
  startBackend,
  startGatehouse,
  statsCsv,
} from './helpers/net';
import { proxyYaml, statsListen } from './helpers/config';
import { waitFor } from './helpers/wait';

/**
 * With one slot and a short `timeout queue`, a request behind one that holds the slot gets a 503
 * in under `withinMs` (before the slot frees), and the first request is still served. `hits`: the
 * server's request count (the first request holds the slot once the server has it).
 */
async function assertQueueTimeout(port: number, hits: () => number, withinMs: number, message: string): Promise<void> {
  const first = request(port, { path: '/first' });
  await waitFor('the first request to reach the server', () => hits() === 1);
  const t0 = Date.now();
  const second = await request(port, { path: '/second' });
  assert.equal(second.status, 503);
  assert.ok(Date.now() - t0 < withinMs, message);
  assert.equal((await first).status, 200);
}

describe('maxconn and the queue', () => {
  test('requests beyond a server maxconn wait for a slot; the server never sees more', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = await startBackend('slow', (req, res) => {
      req.resume();
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('ok');
      }, 150);
    });
    const port = await freePort();
    const cfg = proxyYaml({ port, servers: [{ name: 'slow', port: slow.port }] }).replace(
      `address: "127.0.0.1:${slow.port}", weight: 1 }`,
      `address: "127.0.0.1:${slow.port}", weight: 1, maxconn: 1 }`,
    );
    assert.match(cfg, /maxconn: 1/);
    const statsPort = await freePort();
    const gh = await startGatehouse(cfg + statsListen(statsPort), [port, statsPort]);
    try {
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => request(port, { path: `/q${i}` })));
      for (const r of replies) assert.equal(r.status, 200);
      assert.equal(peak, 1, 'the server saw more than maxconn requests at once');
      assert.equal(slow.hits, 6);
      // high-water marks in the stats: one at a time on the server, others waited in the queue
      const rows = await statsCsv(statsPort, '/stats');
      assert.equal(csvCell(rows, 'be', 'slow', 'smax'), 1);
      assert.equal(csvCell(rows, 'be', 'BACKEND', 'smax'), 1);
      assert.ok(csvCell(rows, 'be', 'BACKEND', 'qmax') >= 1, 'backend qmax');
      assert.equal(csvCell(rows, 'be', 'BACKEND', 'qcur'), 0);
    } finally {
      await gh.stop();
      await slow.close();
    }
  });

  test('a request queued longer than timeout queue gets 503', async () => {
    const slow = await startBackend('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('ok'), 1500);
    });
    const port = await freePort();
    const cfg = proxyYaml({ port, workers: 1, servers: [{ name: 'slow', port: slow.port }] })
      .replace(`weight: 1 }`, `weight: 1, maxconn: 1 }`)
      .replace('timeout: { connect: 1s,', 'timeout: { queue: 300ms, connect: 1s,');
    const gh = await startGatehouse(cfg, [port]);
    try {
      await assertQueueTimeout(port, () => slow.hits, 1400, 'the queued request waited for the slot instead of timing out');
      assert.equal(slow.hits, 1);
    } finally {
      await gh.stop();
      await slow.close();
    }
  });
});

describe('frontend and global maxconn', () => {
  /**
   * A backend that holds each request `ms` and records the peak of concurrent requests; backends
   * given the same `seen` record the peak of their sum (the sum of separate peaks, reached at
   * different moments, would overstate it).
   */
  async function peakBackend(ms: number, seen = { inFlight: 0, peak: 0 }) {
    const be = await startBackend('slow', (req, res) => {
      req.resume();
      seen.inFlight++;
      seen.peak = Math.max(seen.peak, seen.inFlight);
      setTimeout(() => {
        seen.inFlight--;
        res.end('ok');
      }, ms);
    });
    return { be, seen };
  }

  for (const where of ['frontend', 'global'] as const) {
    test(`${where} maxconn 2: requests beyond it wait over 2 workers; none is lost`, async () => {
      // two servers without their own maxconn: only the frontend/global limit can hold requests back
      const both = { inFlight: 0, peak: 0 };
      const a = await peakBackend(150, both);
      const b = await peakBackend(150, both);
      const port = await freePort();
      // timeout queue well above the 4 rounds of 150 ms the 8 requests need
      let cfg = proxyYaml({ port, servers: [{ name: 'a', port: a.be.port }, { name: 'b', port: b.be.port }] }).replace(
        'timeout: { connect: 1s,',
        'timeout: { queue: 5s, connect: 1s,',
      );
      cfg =
        where === 'frontend'
          ? cfg.replace('    default_backend: be', '    default_backend: be\n    maxconn: 2')
          : cfg.replace('global:\n', 'global:\n  maxconn: 2\n');
      assert.match(cfg, /maxconn: 2/);
      const statsPort = await freePort();
      const gh = await startGatehouse(cfg + statsListen(statsPort), [port, statsPort]);
      try {
        const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => request(port, { path: `/m${i}` })));
        for (const r of replies) assert.equal(r.status, 200);
        assert.equal(a.be.hits + b.be.hits, 8);
        // the frontend's smax is the most requests in progress at once: the limit, reached
        const rows = await statsCsv(statsPort, '/stats');
        assert.equal(csvCell(rows, 'fe', 'FRONTEND', 'smax'), 2);
        assert.equal(csvCell(rows, 'fe', 'FRONTEND', 'scur'), 0);
        // the limit is shared by both workers
        assert.equal(both.peak, 2, `the servers saw ${both.peak} requests at once`);
      } finally {
        await gh.stop();
        await a.be.close();
        await b.be.close();
      }
    });
  }

  test('a request waiting for a frontend slot longer than timeout queue gets 503, then slots are back', async () => {
    const slow = await peakBackend(1200);
    const port = await freePort();
    const cfg = proxyYaml({ port, workers: 1, servers: [{ name: 'slow', port: slow.be.port }] })
      .replace('    default_backend: be', '    default_backend: be\n    maxconn: 1')
      .replace('timeout: { connect: 1s,', 'timeout: { queue: 300ms, connect: 1s,');
    const gh = await startGatehouse(cfg, [port]);
    try {
      await assertQueueTimeout(port, () => slow.be.hits, 1100, 'the waiting request got the slot instead of timing out');
      assert.equal(slow.be.hits, 1);
      // the slot was given back: later requests pass one after another
      for (let i = 0; i < 2; i++) assert.equal((await request(port, { path: `/after${i}` })).status, 200);
      assert.equal(slow.seen.peak, 1);
    } finally {
      await gh.stop();
      await slow.be.close();
    }
  });
});
