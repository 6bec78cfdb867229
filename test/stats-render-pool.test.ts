// Stats rendering on the piscina render thread (src/stats/render-pool.ts): what the pool renders
// is byte for byte what the primary renders inline, over real HTTP too; small snapshots stay
// inline; the thread goes away when idle and on stop().
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, request } from './helpers/net';
import { FakeWorker, backend, config, frontend, record, server, stats } from './stats-fixture';
import { LogSink } from '../src/log/sink';
import type { Config } from '../src/config/model';
import { SharedState } from '../src/shared/state';
import { histMean, newHistogram } from '../src/stats/histograms';
import { POOL_MIN_ROWS, RenderPool, snapshotRowCount } from '../src/stats/render-pool';
import { histogramSlots, packHistograms, unpackHistograms, type RenderKind } from '../src/stats/render-task';
import { PrimaryTelemetry } from '../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../src/stats/telemetry-worker';

const AUTH = 'Basic ' + Buffer.from('admin:s3cret').toString('base64');
const PAGE = { uri: '/haproxy?stats', refresh: 5, hideVersion: false, admin: true, user: 'admin', result: null };

async function setup(cfg: Config, minRows: number, idleTimeoutMs = 30_000): Promise<{ primary: PrimaryTelemetry; workers: FakeWorker[] }> {
  const state = SharedState.create(cfg);
  const primary = new PrimaryTelemetry(cfg, state, new LogSink([]), { minRows, idleTimeoutMs });
  const workers = [0, 1].map((id) => {
    const wt = new WorkerTelemetry(cfg, id, (msg) => setImmediate(() => primary.onWorkerMessage(id, msg)));
    const w = new FakeWorker(cfg, wt);
    primary.addWorker(id, w.slab, (msg) => setImmediate(() => wt.onMessage(msg)));
    return w;
  });
  return { primary, workers };
}

function bigConfig(statsPort: number, fePort: number, backends = 4, perBackend = 60): Config {
  const bes = Array.from({ length: backends }, (_, b) =>
    backend(`be${b}`, Array.from({ length: perBackend }, (_, i) => server(`s${b}_${i}`, 1 + b * perBackend + i, { check: i % 2 === 0, backup: i % 7 === 6 }))),
  );
  return config([frontend('fe', fePort, { defaultBackend: 'be0' }), frontend('stats', statsPort, { stats: stats() })], bes);
}

describe('stats render pool', () => {
  let cfg: Config;
  let port: number;
  let pooled: PrimaryTelemetry;

  before(async () => {
    port = await freePort();
    cfg = bigConfig(port, await freePort());
    const p = await setup(cfg, 0);
    pooled = p.primary;
    for (const w of p.workers) for (let s = 0; s < 240; s += 5) w.request(record({ backend: Math.floor(s / 60), server: s, ta: 3 + s }));
  });

  after(async () => {
    await pooled.stop();
  });

  test('pool output equals inline output for every kind, histograms included', async () => {
    const { primary, workers } = await setup(cfg, 0);
    try {
      let k = 0;
      for (const w of workers)
        for (let s = 0; s < 240; s += 3)
          for (let i = 0; i < 7; i++) w.request(record({ backend: Math.floor(s / 60), server: s, ta: i === 0 ? 0 : ((k++ * 7919) % 2000) + 0.2 }));
      // The primary waits HISTOGRAM_WAIT_MS for the workers' histograms and then uses what it has;
      // on a loaded machine the first collection can miss them: ask again (bounded).
      let snap = await primary.snapshot();
      for (let i = 0; i < 5 && histogramSlots(snap).every((s) => s.get() === null); i++) snap = await primary.snapshot();
      assert.ok(snapshotRowCount(snap) > 200);
      const withHist = histogramSlots(snap).filter((s) => s.get() !== null).length;
      assert.ok(withHist >= 80, `histograms in the snapshot: ${withHist}`);
      const inlinePool = new RenderPool({ minRows: Infinity });
      for (const kind of ['html', 'csv', 'json', 'prometheus'] as RenderKind[]) {
        const viaPool = await primary.render(kind, snap, false, PAGE);
        const local = await inlinePool.render(kind, snap, false, PAGE);
        assert.equal(viaPool, local, `${kind} differs`);
      }
      assert.match(await primary.render('prometheus', snap, false), /gatehouse_server_request_duration_seconds_bucket\{proxy="be0",server="s0_0",le="\+Inf"\} 14\n/);
      assert.equal(primary.renderer.pooled, 5);
      assert.equal(primary.renderer.inline, 0);
      assert.equal(inlinePool.pooled, 0);
      assert.equal(primary.renderer.threads, 1);
      // the snapshot given to the pool is left intact (histograms still there for the next use)
      assert.equal(histogramSlots(snap).filter((s) => s.get() !== null).length, withHist);
    } finally {
      await primary.stop();
    }
    assert.equal(primary.renderer.threads, 0, 'stop() destroys the pool');
  });

  test('packed histograms come back bucket for bucket', () => {
    const a = newHistogram();
    for (let i = 0; i < 500; i++) a.recordValue((i * 104729) % 3_000_000);
    a.recordValueWithCount(0, 3);
    a.recordValue(90_000_000); // beyond the initial range: autoResize
    const b = newHistogram();
    b.recordValue(1);
    const [ra, rn, rb] = unpackHistograms(packHistograms([a, null, b]), 3);
    assert.equal(rn, null);
    for (const [x, y] of [[a, ra!], [b, rb!]]) {
      assert.equal(y.totalCount, x.totalCount);
      for (const p of [0, 1, 50, 90, 99, 99.9, 100]) assert.equal(y.getValueAtPercentile(p), x.getValueAtPercentile(p), `p${p}`);
      assert.equal(histMean(y), histMean(x));
    }
  });

  test('histMean equals hdr-histogram-js mean', () => {
    for (const n of [1, 10, 1000]) {
      const h = newHistogram();
      for (let i = 0; i < n; i++) h.recordValue(Math.floor(((i + 1) * 2654435761) % 5_000_000));
      h.recordValueWithCount(0, 2);
      assert.equal(histMean(h), h.mean);
    }
    assert.equal(histMean(newHistogram()), 0);
  });

  test('over HTTP: pages rendered in the pool; small snapshots stay inline', async () => {
    // big: every page through the pool
    await pooled.startStatsServers();
    const [sp] = pooled.statsPorts;
    for (const path of ['/haproxy?stats', '/haproxy?stats;csv', '/haproxy?stats;json', '/metrics']) {
      const r = await request(sp, { path, headers: { authorization: AUTH } });
      assert.equal(r.status, 200, path);
      assert.ok(r.body.toString().includes('s3_59'), `${path} lists the last server`);
    }
    assert.equal(pooled.renderer.pooled, 4);
    assert.equal(pooled.renderer.inline, 0);
    // small configuration with the default threshold: inline, no thread started
    const small = config([frontend('stats', await freePort(), { stats: stats() })], [backend('app', [server('web1', 9001), server('web2', 9002)])]);
    const { primary } = await setup(small, POOL_MIN_ROWS);
    try {
      await primary.startStatsServers();
      const r = await request(primary.statsPorts[0], { path: '/metrics', headers: { authorization: AUTH } });
      assert.equal(r.status, 200);
      assert.match(r.body.toString(), /haproxy_server_status\{proxy="app",server="web2",state="UP"\} 1/);
      assert.equal(primary.renderer.inline, 1);
      assert.equal(primary.renderer.pooled, 0);
      assert.equal(primary.renderer.threads, 0);
    } finally {
      await primary.stop();
    }
  });

  test('the thread ends after idleTimeout and comes back on demand', async () => {
    const { primary } = await setup(cfg, 0, 100);
    try {
      const snap = await primary.snapshot();
      const first = await primary.render('csv', snap, false);
      assert.equal(primary.renderer.threads, 1);
      const deadline = Date.now() + 10_000;
      while (primary.renderer.threads > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(primary.renderer.threads, 0, 'idle thread did not go away');
      assert.equal(await primary.render('csv', snap, false), first);
      assert.equal(primary.renderer.pooled, 2);
    } finally {
      await primary.stop();
    }
    // after stop(): rendering still answers, inline
    const snap = await primary.snapshot();
    assert.ok((await primary.render('csv', snap, false)).startsWith('# pxname,'));
    assert.equal(primary.renderer.threads, 0);
    assert.equal(primary.renderer.inline, 1);
  });
});
