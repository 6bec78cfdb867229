// Seamless reload, counters: traffic totals carry over a SIGHUP for every frontend, backend and
// server that keeps its name, including what the old generation counts while it drains; a
// worker restarted after a crash neither loses nor doubles the dead worker's counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { csvCell, csvRow, freePort, request, runCli, sleep, startBackend, statsCsv, tmpFile, waitForPort, type Backend, type CsvRow, type Proc } from './helpers/net';
import { statsListen } from './helpers/config';
import { waitFor } from './helpers/wait';
import { FakeWorker, backend, config, frontend, record, server } from './stats-fixture';
import type { Config } from '../src/config/model';
import { LogSink } from '../src/log/sink';
import { CounterCarry } from '../src/primary/carry-over';
import * as C from '../src/shared/counters';
import { B_SMAX, S_QMAX, S_SMAX, SharedState } from '../src/shared/state';
import type { CsvColumn } from '../src/stats/columns';
import { PrimaryTelemetry } from '../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../src/stats/telemetry-worker';

const csv = (statsPort: number): Promise<CsvRow[]> => statsCsv(statsPort, '/stats');

/** Latency histogram counts per `pxname/svname`, from `<stats uri>;json`. */
async function latencyCounts(statsPort: number): Promise<Map<string, number>> {
  const r = await request(statsPort, { path: '/stats;json' });
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body.toString()) as { stats: { pxname: string; svname: string; latency_ms: { count: number } | null }[] };
  return new Map(body.stats.map((x) => [`${x.pxname}/${x.svname}`, x.latency_ms?.count ?? 0]));
}

const row = csvRow;
const cell = csvCell;

/** Network conditions (stats pages, requests) are polled every 50 ms. */
const until = (what: string, cond: () => Promise<boolean>, ms = 10000) => waitFor(what, cond, ms, 50);

/** Answers to `/slow` requests, held until the test releases them. */
const held: (() => void)[] = [];
function releaseHeld(): void {
  for (const answer of held.splice(0)) answer();
}

/** A backend that answers its name; `/slow` waits for releaseHeld(). */
function nameBackend(name: string): Promise<Backend> {
  return startBackend(name, (req, res) => {
    req.resume();
    const answer = () => {
      res.setHeader('X-Server', name);
      res.end(name);
    };
    if (req.url === '/slow') held.push(answer);
    else answer();
  });
}

interface Cfg {
  ports: { fe: number; fe2?: number; stats: number };
  servers: { name: string; port: number }[];
  extraBackend?: boolean;
}

function yaml(c: Cfg): string {
  const servers = c.servers.map((s) => `      - { name: ${s.name}, address: "127.0.0.1:${s.port}" }`).join('\n');
  return `global: { workers: 2 }
defaults:
  timeout: { connect: 1s, server: 5s }
frontends:
  fe: { bind: ["127.0.0.1:${c.ports.fe}"], default_backend: be }
${c.ports.fe2 ? `  fe2: { bind: ["127.0.0.1:${c.ports.fe2}"], default_backend: be }\n` : ''}backends:
${c.extraBackend ? `  other:\n    servers:\n      - { name: x, address: "127.0.0.1:9" }\n` : ''}  be:
    balance: roundrobin
    servers:
${servers}
${statsListen(c.ports.stats)}`;
}

/** Cumulative columns compared across the reload (gauges and rates excluded). */
const TOTALS = ['stot', 'hrsp_2xx', 'bout', 'bin'];

test('SIGHUP: counters carry over by name, old-generation drain counted once', async () => {
  const web1 = await nameBackend('web1');
  const web2 = await nameBackend('web2');
  const web3 = await nameBackend('web3');
  const ports = { fe: await freePort(), stats: await freePort() };
  const file = tmpFile('reload-counters.yaml', yaml({ ports, servers: [{ name: 'a', port: web1.port }, { name: 'b', port: web2.port }] }));
  const gh = runCli(['-f', file]);
  try {
    await waitForPort(ports.fe, 15000, gh);
    await waitForPort(ports.stats, 15000, gh);

    // N requests, each on its own connection: the kernel spreads them over both workers.
    const N = 20;
    for (let i = 0; i < N; i++) assert.equal((await request(ports.fe)).status, 200);
    const before = await csv(ports.stats);
    assert.equal(cell(before, 'fe', 'FRONTEND', 'stot'), N);
    assert.equal(cell(before, 'be', 'BACKEND', 'stot'), N);
    assert.equal(cell(before, 'be', 'a', 'stot'), web1.hits);
    assert.equal(cell(before, 'be', 'b', 'stot'), web2.hits);
    const boutPerReq = cell(before, 'fe', 'FRONTEND', 'bout') / N;
    assert.ok(Number.isInteger(boutPerReq) && boutPerReq > 0, `bout per request ${boutPerReq}`);

    // A request in flight across the reload, served (and counted) by an old worker.
    const inflight = request(ports.fe, { path: '/slow' }).catch((e: Error) => {
      throw new Error(`in-flight request: ${e.message}\n${gh.output()}`);
    });
    inflight.catch(() => undefined);
    await until('the slow request to reach a server', async () => web1.hits + web2.hits === N + 1);

    // New config: b removed, c added (listed first: rows are matched by name, not position),
    // a new frontend and a new backend.
    const ports2 = { ...ports, fe2: await freePort() };
    fs.writeFileSync(
      file,
      yaml({ ports: ports2, servers: [{ name: 'c', port: web3.port }, { name: 'a', port: web1.port }], extraBackend: true }),
    );
    gh.child.kill('SIGHUP');
    await until('the reload', async () => /configuration reloaded/.test(gh.output()));
    await waitForPort(ports2.fe2, 15000, gh);
    await until('stats on the new configuration', async () => {
      const rows = await csv(ports.stats).catch(() => null);
      return rows !== null && row(rows, 'be', 'c') !== undefined;
    });

    // While the old generation drains, its counts are already included (read live).
    const during = await csv(ports.stats);
    assert.doesNotMatch(gh.output(), /previous configuration finished/, 'read while the old generation drains');
    assert.equal(row(during, 'be', 'b'), undefined, 'a removed server has no row');
    assert.equal(cell(during, 'fe', 'FRONTEND', 'stot'), N + 1, 'the in-flight request counted once');
    assert.ok(cell(during, 'be', 'a', 'stot') >= cell(before, 'be', 'a', 'stot'));
    assert.equal(cell(during, 'be', 'c', 'stot'), 0, 'a new server starts at 0');
    assert.equal(cell(during, 'fe2', 'FRONTEND', 'stot'), 0, 'a new frontend starts at 0');
    assert.equal(cell(during, 'fe', 'FRONTEND', 'scur'), 0, 'gauges are this generation only');

    releaseHeld();
    const r = await inflight;
    assert.equal(r.status, 200);

    const M = 10;
    const K = 4;
    for (let i = 0; i < M; i++) assert.equal((await request(ports.fe)).status, 200);
    for (let i = 0; i < K; i++) assert.equal((await request(ports2.fe2)).status, 200);

    await until('the old generation to finish', async () => /previous configuration finished/.test(gh.output()));
    const after = await csv(ports.stats);
    const total = N + 1 + M + K;
    assert.equal(cell(after, 'fe', 'FRONTEND', 'stot'), N + 1 + M);
    assert.equal(cell(after, 'fe', 'FRONTEND', 'req_tot'), N + 1 + M);
    assert.equal(cell(after, 'fe', 'FRONTEND', 'hrsp_2xx'), N + 1 + M);
    assert.equal(cell(after, 'fe', 'FRONTEND', 'bout'), boutPerReq * (N + 1 + M));
    assert.equal(cell(after, 'fe2', 'FRONTEND', 'stot'), K);
    assert.equal(cell(after, 'be', 'BACKEND', 'stot'), total);
    assert.equal(cell(after, 'be', 'BACKEND', 'hrsp_2xx'), total);
    assert.equal(cell(after, 'be', 'BACKEND', 'lbtot'), total);
    assert.equal(cell(after, 'be', 'a', 'stot'), web1.hits, 'kept server: before + after');
    assert.equal(cell(after, 'be', 'a', 'lbtot'), web1.hits);
    assert.equal(cell(after, 'be', 'c', 'stot'), web3.hits, 'new server: counted from 0');
    assert.ok(web3.hits > 0);
    assert.equal(row(after, 'be', 'b'), undefined);
    assert.equal(cell(after, 'other', 'BACKEND', 'stot'), 0);
    for (const [px, sv] of [['fe', 'FRONTEND'], ['fe2', 'FRONTEND'], ['be', 'BACKEND'], ['be', 'a'], ['be', 'c']]) {
      assert.equal(cell(after, px, sv, 'scur'), 0, `${px}/${sv} scur`);
    }
    const lat = await latencyCounts(ports.stats);
    assert.equal(lat.get('fe/FRONTEND'), N + 1 + M, 'frontend latency histogram carried over');
    assert.equal(lat.get('be/BACKEND'), total);
    assert.equal(lat.get('be/a'), web1.hits);
    assert.equal(lat.get('be/c'), web3.hits);
    for (const col of TOTALS) {
      assert.ok(cell(after, 'be', 'a', col) >= cell(before, 'be', 'a', col), `be/a ${col} did not go down`);
    }

    // Stable once folded: more reads, same totals.
    await sleep(300);
    const again = await csv(ports.stats);
    assert.equal(cell(again, 'be', 'BACKEND', 'stot'), total);

    // A second reload folds the chain: still N + 1 + M + K, plus what comes next.
    fs.writeFileSync(file, yaml({ ports: ports2, servers: [{ name: 'a', port: web1.port }] }));
    gh.child.kill('SIGHUP');
    await until('the second reload', async () => (gh.output().match(/previous configuration finished/g) ?? []).length === 2);
    await until('stats on the third configuration', async () => {
      const rows = await csv(ports.stats).catch(() => null);
      return rows !== null && row(rows, 'be', 'c') === undefined;
    });
    assert.equal((await request(ports.fe)).status, 200);
    const third = await csv(ports.stats);
    assert.equal(cell(third, 'be', 'BACKEND', 'stot'), total + 1);
    assert.equal(cell(third, 'fe', 'FRONTEND', 'stot'), N + 1 + M + 1);
    assert.equal(cell(third, 'fe2', 'FRONTEND', 'stot'), K);
    assert.equal(cell(third, 'be', 'a', 'stot'), web1.hits);
    assert.equal(gh.child.exitCode, null);
  } finally {
    releaseHeld();
    await gh.stop();
    await web1.close();
    await web2.close();
    await web3.close();
  }
});

test('SIGHUP: requests on a keep-alive connection to a draining worker are counted', async () => {
  const web1 = await nameBackend('web1');
  const ports = { fe: await freePort(), stats: await freePort() };
  const file = tmpFile('reload-ka.yaml', yaml({ ports, servers: [{ name: 'a', port: web1.port }] }));
  const gh = runCli(['-f', file]);
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await waitForPort(ports.fe, 15000, gh);
    await waitForPort(ports.stats, 15000, gh);
    for (let i = 0; i < 5; i++) assert.equal((await request(ports.fe, { agent })).status, 200);
    fs.writeFileSync(file, yaml({ ports, servers: [{ name: 'a', port: web1.port }, { name: 'z', port: web1.port }] }));
    gh.child.kill('SIGHUP');
    await until('the reload', async () => /configuration reloaded/.test(gh.output()));
    // The next request on the open connection reaches the old worker (it lingers and answers
    // with Connection: close); then the agent reconnects to the new generation.
    // A connection opened just as an old worker closes its listener can be reset by the kernel
    // (SO_REUSEPORT accept queue): such a request is retried; the servers' hit count is the truth.
    let closes = 0;
    const errors: string[] = [];
    for (let ok = 0; ok < 5; ) {
      const r = await request(ports.fe, { agent }).catch((e: Error) => {
        errors.push(e.message);
        return null;
      });
      if (r === null) {
        assert.ok(errors.length < 5, errors.join(', '));
        continue;
      }
      assert.equal(r.status, 200);
      if (r.headers.connection === 'close') closes++;
      ok++;
    }
    if (errors.length) console.log(`# retried after: ${errors.join(', ')}`);
    assert.ok(closes >= 1, 'a draining old worker answered on the kept-alive connection');
    await until('the old generation to finish', async () => /previous configuration finished/.test(gh.output()));
    await until('stats on the new configuration', async () => {
      const rows = await csv(ports.stats).catch(() => null);
      return rows !== null && row(rows, 'be', 'z') !== undefined;
    });
    const rows = await csv(ports.stats);
    assert.ok(web1.hits >= 10);
    assert.equal(cell(rows, 'fe', 'FRONTEND', 'stot'), web1.hits);
    assert.equal(cell(rows, 'be', 'BACKEND', 'stot'), web1.hits);
    assert.equal(cell(rows, 'be', 'a', 'stot') + cell(rows, 'be', 'z', 'stot'), web1.hits);
  } finally {
    agent.destroy();
    await gh.stop();
    await web1.close();
  }
});

test('a worker restarted after a crash neither loses nor doubles its counts', async () => {
  const web1 = await nameBackend('web1');
  const ports = { fe: await freePort(), stats: await freePort() };
  const file = tmpFile('crash-counters.yaml', yaml({ ports, servers: [{ name: 'a', port: web1.port }] }));
  const gh: Proc = runCli(['-f', file], { GATEHOUSE_TEST_HOOKS: '1' });
  try {
    await waitForPort(ports.fe, 15000, gh);
    await waitForPort(ports.stats, 15000, gh);
    for (let i = 0; i < 20; i++) assert.equal((await request(ports.fe)).status, 200);
    assert.equal(cell(await csv(ports.stats), 'be', 'a', 'stot'), 20);
    // Crash workers until one restart happened (the kernel picks the worker that accepts).
    await request(ports.fe, { path: '/.gatehouse/crash-worker' }).catch(() => undefined);
    await until('a worker restart', async () => /worker \d restarted/.test(gh.output()));
    let rows = await csv(ports.stats);
    assert.equal(cell(rows, 'be', 'a', 'stot'), web1.hits, 'after the crash');
    assert.equal(cell(rows, 'be', 'BACKEND', 'stot'), web1.hits);
    for (let i = 0; i < 10; i++) assert.equal((await request(ports.fe)).status, 200);
    rows = await csv(ports.stats);
    assert.equal(web1.hits, 30);
    assert.equal(cell(rows, 'be', 'a', 'stot'), 30, 'after the restart');
    assert.equal(cell(rows, 'be', 'BACKEND', 'stot'), 30);
    assert.equal(cell(rows, 'be', 'a', 'hrsp_2xx'), 30);
    // the crash request throws before it is counted
    assert.equal(cell(rows, 'fe', 'FRONTEND', 'stot'), 30);
  } finally {
    await gh.stop();
    await web1.close();
  }
});

// In-process: two and three generations of PrimaryTelemetry wired the way primary/run.ts does,
// for the semantics the socket tests cannot reach (maxima, gauges, rates, the chain).
test('CounterCarry: sums by name, maxima as max, gauges and removed objects dropped', async () => {
  const cfgA = config([frontend('fe', 1)], [backend('be', [server('a', 2), server('b', 3)])]);
  // reordered and renamed around the kept names: rows must match by name, not position
  const cfgB = config(
    [frontend('new', 4), frontend('fe', 1)],
    [backend('x', [server('x1', 5)]), backend('be', [server('c', 6), server('a', 2)])],
  );
  const gens: { primary: PrimaryTelemetry; workers: FakeWorker[]; carry: CounterCarry | null }[] = [];
  const start = (cfg: Config) => {
    const state = SharedState.create(cfg);
    const primary = new PrimaryTelemetry(cfg, state, new LogSink([]));
    const prev = gens.at(-1);
    const carry = prev ? new CounterCarry(prev.primary.carrySource(), cfg) : null;
    primary.carry = carry;
    const workers = [0, 1].map((id) => {
      const wt = new WorkerTelemetry(cfg, id, (msg) => setImmediate(() => primary.onWorkerMessage(id, msg)));
      const w = new FakeWorker(cfg, wt);
      primary.addWorker(id, w.slab, (msg) => setImmediate(() => wt.onMessage(msg)));
      return w;
    });
    const g = { primary, workers, carry, state };
    gens.push(g);
    return g;
  };
  const stop = async (g: (typeof gens)[number]) => {
    for (const w of g.workers) w.telemetry.flush();
    // flush() posts through setImmediate (see start()): one turn later the primary has it all
    await new Promise((resolve) => setImmediate(resolve));
    g.workers.forEach((_w, id) => g.primary.removeWorker(id));
    await g.primary.stop();
  };
  const rowOf = async (g: (typeof gens)[number], px: string, sv: string) => {
    const snap = await g.primary.snapshot();
    const b = snap.backends.find((x) => x.name === px);
    if (sv === 'FRONTEND') return snap.frontends.find((f) => f.name === px) ?? null;
    if (sv === 'BACKEND') return b ?? null;
    return b?.servers.find((s) => s.name === sv) ?? null;
  };
  const v = async (g: (typeof gens)[number], px: string, sv: string, col: CsvColumn) => Number((await rowOf(g, px, sv))!.row[col]);
  const lat = async (g: (typeof gens)[number], px: string, sv: string) => (await rowOf(g, px, sv))!.latency?.count ?? 0;

  const A = start(cfgA);
  for (const w of A.workers) {
    for (let i = 0; i < 3; i++) w.request(record({ server: 0 }));
    for (let i = 0; i < 2; i++) w.request(record({ server: 1, status: 404 }));
  }
  const feRowA = C.frontendRow(0);
  A.workers[0].slab[feRowA + C.C_SMAX] = 7;
  A.workers[0].slab[feRowA + C.C_SCUR] = 2; // in flight on the old generation: a gauge
  A.state.set(0, S_SMAX, 5);
  A.state.set(0, S_QMAX, 3);
  A.state.backends[B_SMAX] = 6;
  const ratesA = (A.primary as unknown as { rates: { sample(): void } }).rates;
  ratesA.sample();
  A.workers[0].request(record({ server: 0 }));
  ratesA.sample(); // one request in that "second": rate_max 1 on fe, be and a

  const B = start(cfgB);
  const [feB, aB, cB] = [C.frontendRow(1), 2, 1]; // fe is frontend 1; be/a is server 2, be/c server 1
  B.workers[1].request(record({ frontend: 1, backend: 1, server: aB, ta: 20 }));
  assert.equal(await v(B, 'fe', 'FRONTEND', 'stot'), 11 + 1);
  assert.equal(await v(B, 'be', 'BACKEND', 'stot'), 11 + 1);
  assert.equal(await v(B, 'be', 'a', 'stot'), 7 + 1);
  assert.equal(await v(B, 'be', 'a', 'lbtot'), 7 + 1);
  assert.equal(await v(B, 'be', 'a', 'hrsp_2xx'), 8);
  assert.equal(await v(B, 'be', 'BACKEND', 'hrsp_4xx'), 4);
  assert.equal(await v(B, 'be', 'c', 'stot'), 0);
  assert.equal(await rowOf(B, 'be', 'b'), null);
  assert.equal(await v(B, 'new', 'FRONTEND', 'stot'), 0);
  assert.equal(await v(B, 'x', 'BACKEND', 'stot'), 0);
  assert.equal(await v(B, 'fe', 'FRONTEND', 'scur'), 0, 'scur is not carried');
  assert.equal(await v(B, 'fe', 'FRONTEND', 'smax'), 7, 'smax carried as a maximum');
  assert.equal(await v(B, 'be', 'a', 'smax'), 5);
  assert.equal(await v(B, 'be', 'a', 'qmax'), 3);
  assert.equal(await v(B, 'be', 'BACKEND', 'qmax'), 3);
  assert.equal(await v(B, 'be', 'BACKEND', 'smax'), 6);
  assert.equal(await v(B, 'be', 'c', 'smax'), 0);
  assert.equal(await v(B, 'fe', 'FRONTEND', 'rate_max'), 1, 'rate_max carried');
  assert.equal(await v(B, 'be', 'a', 'rate_max'), 1);
  assert.equal(await v(B, 'fe', 'FRONTEND', 'rate'), 0, 'current rates are this generation only');
  assert.equal(await v(B, 'be', 'a', 'ttime'), Math.round((7 * 11 + 20) / 8), 'averages over both generations');
  assert.equal(await lat(B, 'be', 'a'), 8, 'latency histograms carried (old workers asked live)');
  assert.equal(await lat(B, 'fe', 'FRONTEND'), 12);
  // A bigger max in the new generation wins.
  B.workers[0].slab[feB + C.C_SMAX] = 9;
  assert.equal(await v(B, 'fe', 'FRONTEND', 'smax'), 9);
  B.workers[0].slab[feB + C.C_SMAX] = 0;

  // The old generation keeps counting while it drains: visible at once, and once only.
  A.workers[1].request(record({ server: 0 }));
  assert.equal(await v(B, 'be', 'a', 'stot'), 9);
  A.workers[0].slab[feRowA + C.C_SCUR] = 0;
  await stop(A);
  B.carry!.freeze();
  assert.ok(B.carry!.isFrozen);
  assert.equal(await v(B, 'be', 'a', 'stot'), 9, 'folded into the base: not lost, not doubled');
  assert.equal(await v(B, 'fe', 'FRONTEND', 'stot'), 13);
  assert.equal(await v(B, 'fe', 'FRONTEND', 'smax'), 7);
  assert.equal(await v(B, 'be', 'a', 'smax'), 5);
  assert.equal(await v(B, 'fe', 'FRONTEND', 'rate_max'), 1);
  assert.equal(await lat(B, 'be', 'a'), 9);
  // a slab written after the stop (it cannot happen) would no longer show
  A.workers[0].slab[C.serverRow(A.workers[0].rows, 0) + C.C_STOT] += 100;
  assert.equal(await v(B, 'be', 'a', 'stot'), 9);

  // A third generation inherits the chain; c gets traffic in B first.
  B.workers[0].request(record({ frontend: 1, backend: 1, server: cB }));
  const cfgC = config([frontend('fe', 1)], [backend('be', [server('a', 2), server('c', 6)])]);
  const G3 = start(cfgC);
  assert.equal(await v(G3, 'fe', 'FRONTEND', 'stot'), 14);
  assert.equal(await v(G3, 'be', 'a', 'stot'), 9);
  assert.equal(await v(G3, 'be', 'c', 'stot'), 1);
  assert.equal(await v(G3, 'fe', 'FRONTEND', 'smax'), 7);
  assert.equal(await lat(G3, 'be', 'a'), 9);
  await stop(B);
  G3.carry!.freeze();
  assert.equal(await v(G3, 'be', 'BACKEND', 'stot'), 14);
  assert.equal(await lat(G3, 'be', 'BACKEND'), 14);
  await G3.primary.stop();
});
