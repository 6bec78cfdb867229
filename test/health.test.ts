// The health thread against real backends on 127.0.0.1: startHealthThread is called directly and
// its verdicts are read from the SharedArrayBuffer, as the proxy workers read them.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, test } from 'node:test';
import type { BackendConfig, Config, HealthCheckConfig, ServerConfig } from '../src/config/model';
import { DEFAULT_HEALTH_CHECK, DEFAULT_TIMEOUTS } from '../src/config/model';
import { startHealthThread, type HealthThreadHandle } from '../src/health/index';
import {
  B_LB_GEN,
  BACKEND_STRIDE,
  CHECK_STATUS_NAMES,
  S_CHECK_CODE,
  S_CHECK_HEALTH,
  S_CHECK_STATUS,
  S_CHKDOWN,
  S_CHKFAIL,
  S_HEALTH,
  S_OBSERVE_ERRORS,
  SERVER_STRIDE,
  SharedState,
} from '../src/shared/state';
import { freePort, sleep, startBackend, type Backend } from './helpers/net';
import { waitFor } from './helpers/wait';

// ---- literal config -------------------------------------------------------------------------

type ServerSpec = Partial<ServerConfig> & { name: string; port: number };
interface BackendSpec {
  name: string;
  hc?: Partial<HealthCheckConfig>;
  checkTimeout?: number;
  servers: ServerSpec[];
}

function server(s: ServerSpec): ServerConfig {
  return {
    host: '127.0.0.1',
    address: `127.0.0.1:${s.port}`,
    weight: 1,
    check: true,
    backup: false,
    maxconn: 0,
    cookie: null,
    inter: null,
    fastinter: null,
    downinter: null,
    rise: null,
    fall: null,
    checkPort: null,
    checkAddr: null,
    observe: 'none',
    errorLimit: 10,
    onError: 'fail-check',
    disabled: false,
    ...s,
  };
}

function backend(b: BackendSpec): BackendConfig {
  return {
    name: b.name,
    fromListen: false,
    mode: 'http',
    balance: 'roundrobin',
    balanceHeader: null,
    timeouts: { ...DEFAULT_TIMEOUTS, check: b.checkTimeout ?? 1000 },
    retries: 3,
    retryOn: 1,
    redispatch: true,
    forwardfor: false,
    persist: false,
    allbackups: false,
    healthCheck: { ...DEFAULT_HEALTH_CHECK, inter: 100, fastinter: 100, downinter: 100, ...b.hc },
    cookie: null,
    servers: b.servers.map(server),
  };
}

function config(...backends: BackendSpec[]): Config {
  return {
    sources: ['health.test'],
    global: { workers: 1, daemon: false, pidfile: null, maxconn: 1000, logs: [], maxHeaderSize: 16384, maxHeaders: 101, maxAccept: 32, maxUri: 8192, gracePeriod: 1000, sslDefaultBindCiphers: null, statsSockets: [], statsTimeout: 10000, engine: 'uws' },
    frontends: [],
    backends: backends.map(backend),
  };
}

// ---- harness --------------------------------------------------------------------------------

interface Run {
  state: SharedState;
  logs: { level: string; line: string }[];
  handle: HealthThreadHandle;
  cell(server: number, c: number): number;
  status(server: number): string;
}

const running = new Set<HealthThreadHandle>();
after(async () => {
  for (const h of running) await h.stop();
});

function run(cfg: Config): Run {
  const state = SharedState.create(cfg);
  const logs: { level: string; line: string }[] = [];
  const handle = startHealthThread(cfg, state.buffer, (level, line) => logs.push({ level, line }));
  running.add(handle);
  return {
    state,
    logs,
    handle,
    cell: (s, c) => state.get(s, c),
    status: (s) => CHECK_STATUS_NAMES[state.get(s, S_CHECK_STATUS)] ?? '?',
  };
}

async function stop(r: Run): Promise<void> {
  await r.handle.stop();
  running.delete(r.handle);
}

/** Log lines cross a message port, so they may arrive just after the buffer changed: wait. */
async function logged(logs: { level: string; line: string }[], has: string): Promise<{ level: string; line: string }> {
  await waitFor(`log line containing ${JSON.stringify(has)}`, () => logs.some((l) => l.line.includes(has)), 3000);
  return logs.find((l) => l.line.includes(has))!;
}

/** An HTTP backend whose /health answer the test switches. */
async function switchable(name: string, initial: { code: number; body?: string }) {
  const answer = { ...initial, served: new Map<number, number>() };
  const b = await startBackend(name, (req, res) => {
    req.resume();
    const code = req.url === '/health' ? answer.code : 404;
    answer.served.set(code, (answer.served.get(code) ?? 0) + 1);
    res.statusCode = code;
    res.setHeader('Connection', 'close');
    res.end(answer.body ?? http.STATUS_CODES[code] ?? '');
  });
  return { b, answer };
}

/** A raw TCP server that tracks its sockets so close() never waits on a half-open one. */
async function rawServer(onConn: (s: net.Socket) => void): Promise<{ port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    onConn(s);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

const backends: Backend[] = [];
after(async () => {
  for (const b of backends) await b.close();
});

// ---- tests ----------------------------------------------------------------------------------

test('http check: 503 takes the server DOWN after `fall` failures, 200 brings it UP after `rise`', async () => {
  const { b, answer } = await switchable('web1', { code: 200 });
  backends.push(b);
  const plain = await startBackend('web2');
  backends.push(plain);
  const fall = 2;
  const rise = 3;
  const cfg = config({
    name: 'http_back',
    hc: { type: 'http', uri: '/health', inter: 100, fastinter: 100, downinter: 100, rise, fall },
    servers: [
      { name: 'web1', port: b.port },
      { name: 'web2', port: plain.port, check: false },
    ],
  });
  const r = run(cfg);
  const unchecked = () => Array.from(r.state.servers.subarray(SERVER_STRIDE, 2 * SERVER_STRIDE));
  const uncheckedBefore = unchecked();

  await waitFor('web1 fully up (L7OK)', () => r.status(0) === 'L7OK' && r.cell(0, S_CHECK_HEALTH) === rise + fall - 1);
  assert.equal(r.cell(0, S_CHECK_CODE), 200);
  assert.equal(r.cell(0, S_HEALTH), 1);
  const gen0 = Atomics.load(r.state.backends, 0 * BACKEND_STRIDE + B_LB_GEN);

  // Sick.
  answer.code = 503;
  const tookDown = await waitFor('web1 DOWN', () => r.cell(0, S_HEALTH) === 0);
  // fall x inter plus one check timeout, with generous slack for 2 busy cores.
  assert.ok(tookDown < fall * 100 + 1000 + 2000, `DOWN took ${tookDown}ms`);
  assert.ok((answer.served.get(503) ?? 0) >= fall, 'went DOWN before `fall` failed checks');
  assert.equal(r.status(0), 'L7STS');
  assert.equal(r.cell(0, S_CHECK_CODE), 503);
  assert.equal(r.cell(0, S_CHKDOWN), 1);
  assert.ok(r.cell(0, S_CHKFAIL) >= fall);
  assert.ok(Atomics.load(r.state.backends, B_LB_GEN) > gen0, 'DOWN must bump the backend generation');
  const down = await logged(r.logs, 'is DOWN');
  assert.equal(down.level, 'alert');
  assert.match(
    down.line,
    /^Server http_back\/web1 is DOWN, reason: Layer7 wrong status, code: 503, info: "Service Unavailable", check duration: \d+ms\. 1 active and 0 backup servers left\. 0 sessions active, 0 requeued, 0 remaining in queue\.$/,
  );
  // web2 (no check) is still up, so the backend is not empty.
  assert.ok(!r.logs.some((l) => l.line.includes('has no server available')));

  // Healthy again.
  answer.served.clear();
  answer.code = 200;
  await waitFor('web1 UP again', () => r.cell(0, S_HEALTH) === 1);
  assert.ok((answer.served.get(200) ?? 0) >= rise, 'came back UP before `rise` passed checks');
  const up = await logged(r.logs, 'is UP');
  assert.equal(up.level, 'notice');
  assert.match(
    up.line,
    /^Server http_back\/web1 is UP, reason: Layer7 check passed, code: 200, check duration: \d+ms\. 2 active and 0 backup servers online\. 0 sessions requeued, 0 total in queue\.$/,
  );

  // The server without `check` was never touched.
  assert.deepEqual(unchecked(), uncheckedBefore);
  assert.equal(plain.hits, 0, 'a server without check is never probed');
  await stop(r);
});

test('tcp check against a closed port goes DOWN with L4CON, then UP with L4OK once it listens', async () => {
  const port = await freePort();
  const cfg = config({ name: 'tcp_back', hc: { type: 'tcp', rise: 2, fall: 3 }, servers: [{ name: 'db1', port }] });
  const r = run(cfg);
  // Like HAProxy's default init-state "up": the first failed check already takes it DOWN.
  await waitFor('db1 DOWN', () => r.cell(0, S_HEALTH) === 0);
  assert.equal(r.status(0), 'L4CON');
  const down = await logged(r.logs, 'is DOWN');
  assert.match(
    down.line,
    /^Server tcp_back\/db1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: \d+ms\. 0 active and 0 backup servers left\. 0 sessions active, 0 requeued, 0 remaining in queue\.$/,
  );
  await waitFor('backend empty line', () => r.logs.some((l) => l.line === 'backend tcp_back has no server available!'));
  assert.equal(r.logs.find((l) => l.line.startsWith('backend '))?.level, 'alert');

  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  try {
    await waitFor('db1 UP', () => r.cell(0, S_HEALTH) === 1);
    assert.equal(r.status(0), 'L4OK');
    assert.match((await logged(r.logs, 'is UP')).line, /^Server tcp_back\/db1 is UP, reason: Layer4 check passed, check duration: \d+ms\. 1 active/);
  } finally {
    await stop(r);
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
});

test('check port/addr overrides: the probe goes to checkPort, not the traffic port', async () => {
  const { b } = await switchable('side', { code: 200 });
  backends.push(b);
  const closed = await freePort();
  const cfg = config({
    name: 'be',
    hc: { type: 'http', uri: '/health' },
    servers: [{ name: 's', port: closed, checkPort: b.port, checkAddr: '127.0.0.1' }],
  });
  const r = run(cfg);
  await waitFor('probe answered on the check port', () => r.status(0) === 'L7OK');
  assert.equal(r.cell(0, S_HEALTH), 1);
  await stop(r);
});

test('expect_string absent from the body is L7RSP and DOWN; present again is UP', async () => {
  const { b, answer } = await switchable('app', { code: 200, body: 'status: ALIVE' });
  backends.push(b);
  const cfg = config({
    name: 'str_back',
    hc: { type: 'http', uri: '/health', expectString: 'ALIVE', rise: 1, fall: 1 },
    servers: [{ name: 'app1', port: b.port }],
  });
  const r = run(cfg);
  await waitFor('L7OK', () => r.status(0) === 'L7OK');
  answer.body = 'status: degraded';
  await waitFor('DOWN', () => r.cell(0, S_HEALTH) === 0);
  assert.equal(r.status(0), 'L7RSP');
  assert.match(
    (await logged(r.logs, 'is DOWN')).line,
    /^Server str_back\/app1 is DOWN, reason: Layer7 invalid response, info: "HTTP content check did not match", check duration: \d+ms\. 0 active/,
  );
  answer.body = 'ALIVE and well';
  await waitFor('UP', () => r.cell(0, S_HEALTH) === 1);
  await stop(r);
});

test('garbage reply is L7RSP, a silent server is L7TOUT, and neither crashes the thread', async () => {
  const garbage = await rawServer((s) => {
    s.resume();
    s.end('SSH-2.0-OpenSSH_9.2\r\n');
  });
  let silentConns = 0;
  const silent = await rawServer((s) => {
    s.resume();
    silentConns++;
  });
  const cfg = config({
    name: 'odd',
    checkTimeout: 300,
    hc: { type: 'http', uri: '/health', rise: 1, fall: 1 },
    servers: [
      { name: 'garbage', port: garbage.port },
      { name: 'silent', port: silent.port },
    ],
  });
  const r = run(cfg);
  try {
    await waitFor('garbage DOWN', () => r.cell(0, S_HEALTH) === 0);
    assert.equal(r.status(0), 'L7RSP');
    await logged(r.logs, 'Server odd/garbage is DOWN, reason: Layer7 invalid response, info: "SSH-2.0-OpenSSH_9.2"');
    await waitFor('silent DOWN', () => r.cell(1, S_HEALTH) === 0);
    assert.equal(r.status(1), 'L7TOUT');
    assert.match((await logged(r.logs, 'Server odd/silent is DOWN')).line, /Server odd\/silent is DOWN, reason: Layer7 timeout, check duration: \d+ms\./);
    // The thread survived both and keeps probing.
    const seen = silentConns;
    await waitFor('probes continue', () => silentConns > seen, 3000);
  } finally {
    await stop(r);
    await garbage.close();
    await silent.close();
  }
});

test('observe: live-traffic errors reaching error_limit apply on_error', async (t) => {
  const { b } = await switchable('obs', { code: 200 });
  backends.push(b);
  // inter is long on purpose: only the fastinter forced by on_error can bring a server back soon.
  const hc = { type: 'http' as const, uri: '/health', inter: 60000, fastinter: 100, downinter: 60000, rise: 2, fall: 3 };
  const max = hc.rise + hc.fall - 1;
  // One server per run: first probes are spread over `inter`, and only the first fires at once.
  const start = async (observe: 'layer4' | 'layer7', onError: ServerConfig['onError']) => {
    const r = run(config({ name: 'obs_back', hc, servers: [{ name: 'srv', port: b.port, observe, errorLimit: 5, onError }] }));
    await waitFor('fully up', () => r.cell(0, S_CHECK_HEALTH) === max);
    return r;
  };
  const errs = 0 * SERVER_STRIDE + S_OBSERVE_ERRORS;

  await t.test('mark-down: DOWN at once with reason Health analyze, back UP via fastinter', async () => {
    const r = await start('layer4', 'mark-down');
    // Below the limit nothing happens, and the streak is left to the workers.
    Atomics.store(r.state.servers, errs, 4);
    await sleep(350);
    assert.equal(r.cell(0, S_HEALTH), 1);
    assert.equal(Atomics.load(r.state.servers, errs), 4);

    Atomics.add(r.state.servers, errs, 1);
    await waitFor('DOWN', () => r.cell(0, S_HEALTH) === 0, 3000);
    assert.equal(r.status(0), 'HANA');
    assert.equal(Atomics.load(r.state.servers, errs), 0, 'the streak is reset once applied');
    assert.equal(
      (await logged(r.logs, 'is DOWN')).line,
      'Server obs_back/srv is DOWN, reason: Health analyze, info: "Detected 5 consecutive errors, last one was: L4 unsuccessful connection". 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
    );
    assert.equal((await logged(r.logs, 'has no server')).line, 'backend obs_back has no server available!');
    // With inter at 60s, coming back in seconds proves on_error moved the next probe to fastinter.
    await waitFor('UP again through fastinter probes', () => r.cell(0, S_HEALTH) === 1, 5000);
    await stop(r);
  });

  await t.test('fail-check: one failed check, still UP', async () => {
    const r = await start('layer7', 'fail-check');
    const fails = r.cell(0, S_CHKFAIL);
    Atomics.store(r.state.servers, errs, 7);
    await waitFor('analysed', () => r.cell(0, S_CHKFAIL) === fails + 1, 3000);
    assert.equal(r.cell(0, S_HEALTH), 1);
    assert.ok(!r.logs.some((l) => l.line.includes('is DOWN')));
    await stop(r);
  });

  await t.test('sudden-death: one failure short of DOWN, still UP', async () => {
    const r = await start('layer7', 'sudden-death');
    Atomics.store(r.state.servers, errs, 5);
    await waitFor('analysed', () => r.status(0) === 'HANA', 3000);
    assert.equal(r.cell(0, S_HEALTH), 1);
    assert.equal(r.cell(0, S_CHECK_HEALTH), hc.rise, 'pre-fatal: at rise, so one more failure takes it DOWN');
    await stop(r);
  });

  await t.test('observe on a server without check is ignored (HAProxy needs check for it)', async () => {
    const r = run(config({ name: 'obs_back', hc, servers: [{ name: 'srv', port: b.port, check: false, observe: 'layer4', errorLimit: 5, onError: 'mark-down' }] }));
    Atomics.store(r.state.servers, errs, 50);
    await sleep(350);
    assert.equal(r.cell(0, S_HEALTH), 1);
    assert.deepEqual(r.logs, []);
    await stop(r);
  });
});

test('200 checked servers: first probes are spread over the interval, and stop() ends everything', async () => {
  const hits: number[] = [];
  let open = 0;
  let maxOpen = 0;
  const farm: Backend[] = [];
  for (let i = 0; i < 2; i++) {
    const b = await startBackend(`farm${i}`, (req, res) => {
      hits.push(Date.now());
      open++;
      maxOpen = Math.max(maxOpen, open);
      res.on('close', () => open--);
      req.resume();
      res.setHeader('Connection', 'close');
      res.end('ok');
    });
    farm.push(b);
  }
  // 2 s keeps a scheduling stall of a busy machine small against the interval.
  const inter = 2000;
  const n = 200;
  const cfg = config(
    ...[0, 1].map((bi) => ({
      name: `farm_back${bi}`,
      hc: { type: 'http' as const, uri: '/health', inter, fastinter: inter, downinter: inter },
      servers: Array.from({ length: n / 2 }, (_, i) => ({ name: `s${i}`, port: farm[bi].port })),
    })),
  );
  const t0 = Date.now();
  const r = run(cfg);
  const first = new Array<number>(n).fill(-1);
  await waitFor(
    'every server probed once',
    () => {
      const now = Date.now() - t0;
      for (let i = 0; i < n; i++) if (first[i] < 0 && r.status(i) !== 'INI' && r.status(i) !== '') first[i] = now;
      return first.every((v) => v >= 0);
    },
    inter + 4000,
  );
  const times = [...first].sort((a, b) => a - b);
  const span = times[n - 1] - times[0];
  assert.ok(span >= inter / 2, `first probes should spread over ~${inter}ms, spread ${span}ms`);
  // Ideal is n/20 per 100 ms window; a herd puts them all in one. The bound leaves room for the
  // stalls of a loaded 2-core machine (observed: a 500 ms stall bunches a quarter of them).
  let worst = 0;
  for (const start of times) worst = Math.max(worst, times.filter((v) => v >= start && v < start + 100).length);
  assert.ok(worst <= n * 0.6, `${worst} of ${n} first probes landed within 100ms`);
  assert.ok(maxOpen < n / 2, `backends saw ${maxOpen} probes at once`);
  for (let i = 0; i < n; i++) assert.equal(r.cell(i, S_HEALTH), 1);

  const stopStart = Date.now();
  await stop(r);
  assert.ok(Date.now() - stopStart < 3000, 'stop() should be prompt');
  const after = hits.length;
  await sleep(inter + 200);
  assert.equal(hits.length, after, 'no probe after stop()');
  for (const b of farm) await b.close();
});

test('stop() does not wait for a probe stuck on a silent server', async () => {
  // Reads (so it sees the probe's close) but never answers.
  const silent = await rawServer((s) => s.resume());
  let accepted = 0;
  const cfg = config({
    name: 'slow',
    checkTimeout: 30000,
    hc: { type: 'http', uri: '/health' },
    servers: [{ name: 'x', port: silent.port }],
  });
  const r = run(cfg);
  await waitFor('probe connected', () => (accepted = silent.sockets.size) > 0);
  const t0 = Date.now();
  await stop(r);
  assert.ok(Date.now() - t0 < 2000, `stop() took ${Date.now() - t0}ms with a 30s check timeout in flight`);
  assert.ok(accepted > 0);
  await waitFor('probe socket closed by stop()', () => silent.sockets.size === 0, 2000);
  await silent.close();
});

test('a new health thread resumes from the shared state (what a restart after a crash sees)', async () => {
  const { b, answer } = await switchable('resume', { code: 503 });
  backends.push(b);
  const cfg = config({ name: 'res_back', hc: { type: 'http', uri: '/health', rise: 2, fall: 2 }, servers: [{ name: 'r1', port: b.port }] });
  const first = run(cfg);
  await waitFor('DOWN', () => first.cell(0, S_HEALTH) === 0);
  await stop(first);
  const downs = first.cell(0, S_CHKDOWN);

  // Same buffer, new thread: it must not replay the DOWN, and must need `rise` successes.
  const logs: { level: string; line: string }[] = [];
  const handle = startHealthThread(cfg, first.state.buffer, (level, line) => logs.push({ level, line }));
  running.add(handle);
  answer.served.clear();
  answer.code = 200;
  await waitFor('UP', () => first.cell(0, S_HEALTH) === 1);
  assert.ok((answer.served.get(200) ?? 0) >= 2, 'resumed at health 0, so rise=2 successes were needed');
  assert.equal(first.cell(0, S_CHKDOWN), downs);
  assert.ok((await logged(logs, 'is UP')).line.startsWith('Server res_back/r1 is UP'));
  assert.ok(!logs.some((l) => l.line.includes('is DOWN')));
  await handle.stop();
  running.delete(handle);
});

test('a thread that dies is reported and restarted; stop() still ends it', async () => {
  const good = config({ name: 'x', servers: [{ name: 'y', port: 1 }] });
  const state = SharedState.create(good);
  // A config the thread cannot use (what a bug would look like): it throws on start.
  const broken = { ...good, backends: null } as unknown as Config;
  const logs: { level: string; line: string }[] = [];
  const handle = startHealthThread(broken, state.buffer, (level, line) => logs.push({ level, line }));
  await waitFor('two restarts reported', () => logs.filter((l) => l.line.startsWith('Health check thread died')).length >= 2);
  assert.ok(logs.every((l) => l.level === 'alert'));
  const t0 = Date.now();
  await handle.stop();
  assert.ok(Date.now() - t0 < 3000);
  const n = logs.length;
  await sleep(400);
  assert.equal(logs.length, n, 'no restart after stop()');
});
