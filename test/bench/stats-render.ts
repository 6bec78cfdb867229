// Measurement, not a test: stats rendering for ~2,000 servers, inline vs on the piscina render
// thread. The primary side is the real PrimaryTelemetry + StatsServer (in this thread, as in
// gatehouse's primary); two in-process fake workers answer the histogram requests; the HTTP client
// runs in its own worker thread so it does not disturb this event loop.
//   node dist-test/test/bench/stats-render.js [servers=2000] [rounds=4] [live=1]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { LogSink } from '../../src/log/sink';
import { SharedState } from '../../src/shared/state';
import { PrimaryTelemetry } from '../../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../../src/stats/telemetry-worker';
import type { PageOptions } from '../../src/stats/html';
import type { RenderKind } from '../../src/stats/render-task';
import type { Snapshot } from '../../src/stats/snapshot';
import { FakeWorker, backend, config, frontend, record, server, stats } from '../stats-fixture';
import { freePort } from '../helpers/net';

const SERVERS = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 4);
const LIVE = (process.argv[4] ?? '1') === '1';
const PER_BACKEND = 100;
const PATHS = ['/stats', '/stats;csv', '/metrics'];

const CLIENT = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
parentPort.on('message', ({ port, path }) => {
  const t = process.hrtime.bigint();
  http.get({ host: '127.0.0.1', port, path, headers: { authorization: 'Basic ' + Buffer.from('admin:s3cret').toString('base64') } }, (res) => {
    let n = 0; res.on('data', (c) => (n += c.length));
    res.on('end', () => parentPort.postMessage({ status: res.statusCode, bytes: n, ms: Number(process.hrtime.bigint() - t) / 1e6 }));
  });
});`;

async function main(): Promise<void> {
  const nb = Math.max(1, Math.round(SERVERS / PER_BACKEND));
  const backends = Array.from({ length: nb }, (_, b) =>
    backend(`be${b}`, Array.from({ length: Math.min(PER_BACKEND, SERVERS) }, (_, i) => server(`srv${b}_${i}`, 1 + ((b * PER_BACKEND + i) % 1000), { check: false }))),
  );
  const port = await freePort();
  const cfg = config([frontend('fe', await freePort(), { defaultBackend: 'be0' }), frontend('stats', port, { stats: stats({ uri: '/stats' }) })], backends);
  const nsrv = backends.reduce((t, b) => t + b.servers.length, 0);
  const client = new Worker(CLIENT, { eval: true });
  const get = (path: string) => new Promise<{ status: number; bytes: number; ms: number }>((resolve) => {
    client.once('message', resolve);
    client.postMessage({ port, path });
  });

  for (const mode of ['inline', 'pool'] as const) {
    const state = SharedState.create(cfg);
    const primary = new PrimaryTelemetry(cfg, state, new LogSink([]), { minRows: mode === 'pool' ? 0 : Infinity, idleTimeoutMs: 5000 });
    const workers = [0, 1].map((id) => {
      const wt = new WorkerTelemetry(cfg, id, (msg) => setImmediate(() => primary.onWorkerMessage(id, msg)));
      const w = new FakeWorker(cfg, wt);
      primary.addWorker(id, w.slab, (msg) => setImmediate(() => wt.onMessage(msg)));
      return w;
    });
    const traffic = () => {
      for (const w of workers)
        for (let b = 0; b < nb; b++)
          for (let i = 0; i < backends[b].servers.length; i++)
            for (let k = 0; k < 5; k++) w.request(record({ backend: b, server: b * PER_BACKEND + i, ta: 0.3 + Math.random() * 200 }));
    };
    // time the two halves the stats listener awaits
    const times = { snapshot: 0, render: 0 };
    const snap0 = primary.snapshot.bind(primary);
    const render0 = primary.render.bind(primary);
    primary.snapshot = async () => {
      const t = performance.now();
      const s = await snap0();
      times.snapshot = performance.now() - t;
      return s;
    };
    primary.render = async (kind: RenderKind, s: Snapshot, hv: boolean, page?: PageOptions) => {
      const t = performance.now();
      const out = await render0(kind, s, hv, page);
      times.render = performance.now() - t;
      return out;
    };
    traffic();
    await primary.startStatsServers();
    await get('/stats;csv'); // warm up: first histogram collection, JIT, pool thread start
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const rows: Record<string, { total: number[]; snapshot: number[]; render: number[]; eldMax: number[]; bytes: number }> = {};
    for (let r = 0; r < ROUNDS; r++) {
      for (const path of PATHS) {
        if (LIVE) traffic();
        await new Promise((res) => setTimeout(res, 20));
        h.reset();
        const out = await get(path);
        if (out.status !== 200) throw new Error(`${path}: ${out.status}`);
        const row = (rows[path] ??= { total: [], snapshot: [], render: [], eldMax: [], bytes: out.bytes });
        row.total.push(out.ms);
        row.snapshot.push(times.snapshot);
        row.render.push(times.render);
        row.eldMax.push(h.max / 1e6);
      }
    }
    h.disable();
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)].toFixed(0);
    const mx = (a: number[]) => Math.max(...a).toFixed(0);
    console.log(`\n== ${mode}: ${nsrv} servers in ${nb} backends, live traffic ${LIVE}, ${ROUNDS} rounds (median / max ms)`);
    console.log('path'.padEnd(12), 'bytes'.padStart(9), 'response'.padStart(12), 'snapshot'.padStart(12), 'render'.padStart(12), 'loop-delay max'.padStart(16));
    for (const [p, r] of Object.entries(rows))
      console.log(p.padEnd(12), String(r.bytes).padStart(9), `${med(r.total)}/${mx(r.total)}`.padStart(12), `${med(r.snapshot)}/${mx(r.snapshot)}`.padStart(12), `${med(r.render)}/${mx(r.render)}`.padStart(12), `${med(r.eldMax)}/${mx(r.eldMax)}`.padStart(16));
    console.log(`pooled renders ${primary.renderer.pooled}, inline ${primary.renderer.inline}`);
    await primary.stop();
  }
  await client.terminate();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
