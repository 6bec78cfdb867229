// Balancing algorithms over a real SharedState: in-process picks, plus two worker_threads that
// share the SharedArrayBuffer to prove the round-robin cursor is global.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import {
  DEFAULT_HEALTH_CHECK,
  DEFAULT_TIMEOUTS,
  type BackendConfig,
  type BalanceAlgorithm,
  type Config,
  type ServerConfig,
} from '../src/config/model';
import { ADMIN_MAINT, ADMIN_READY, S_ACTIVE, S_ADMIN, S_HEALTH, S_WEIGHT, ServerIndex, SharedState } from '../src/shared/state';
import type { Balancer } from '../src/balancing/balancer';
import { createBalancers } from '../src/balancing/index';

interface ServerSpec {
  name: string;
  weight?: number;
  backup?: boolean;
  maxconn?: number;
}

function server(spec: ServerSpec, port: number): ServerConfig {
  return {
    name: spec.name,
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    weight: spec.weight ?? 1,
    check: false,
    backup: spec.backup ?? false,
    maxconn: spec.maxconn ?? 0,
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
    onError: 'fastinter',
    disabled: false,
  };
}

function backend(name: string, balance: BalanceAlgorithm, servers: ServerSpec[], allbackups = false): BackendConfig {
  return {
    name,
    fromListen: false,
    mode: 'http',
    balance,
    balanceHeader: balance === 'hdr' ? 'x-user' : null,
    timeouts: { ...DEFAULT_TIMEOUTS },
    retries: 3,
    retryOn: 1,
    redispatch: true,
    forwardfor: false,
    persist: false,
    allbackups,
    healthCheck: { ...DEFAULT_HEALTH_CHECK },
    cookie: null,
    servers: servers.map((s, i) => server(s, 10000 + i)),
  };
}

function config(backends: BackendConfig[]): Config {
  return {
    sources: ['balancing.test'],
    global: { workers: 2, daemon: false, pidfile: null, maxconn: 1000, logs: [], maxHeaderSize: 16384, maxHeaders: 101, maxAccept: 32, maxUri: 8192, gracePeriod: 1000, sslDefaultBindCiphers: null, statsSockets: [], statsTimeout: 10000, engine: 'uws' },
    frontends: [],
    backends,
  };
}

interface Fixture {
  cfg: Config;
  state: SharedState;
  index: ServerIndex;
  lb: Balancer;
  /** global index by server name (backend 1 of the fixture config, which has a decoy backend 0) */
  id: (name: string) => number;
  name: (server: number) => string;
  set: (name: string, cell: number, value: number) => void;
}

/** Backend under test is the second one, so global and local indices differ (catches mixups). */
function fixture(balance: BalanceAlgorithm, servers: ServerSpec[], allbackups = false): Fixture {
  const cfg = config([backend('decoy', 'roundrobin', [{ name: 'd1' }, { name: 'd2' }]), backend('be', balance, servers, allbackups)]);
  const state = SharedState.create(cfg);
  const index = new ServerIndex(cfg);
  const lb = createBalancers(cfg, state, index)[1];
  const names = cfg.backends[1].servers.map((s) => s.name);
  const id = (name: string): number => {
    const local = names.indexOf(name);
    assert.ok(local >= 0, `no server ${name}`);
    return index.server(1, local);
  };
  return {
    cfg,
    state,
    index,
    lb,
    id,
    name: (s) => (s < 0 ? '-' : names[s - index.backendFirstServer[1]]),
    set: (name, cell, value) => {
      if (cell === S_ACTIVE) state.set(id(name), cell, value);
      else state.setAndBump(id(name), 1, cell, value);
    },
  };
}

function picks(f: Fixture, n: number, key: string | null = null, exclude = -1): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(f.name(f.lb.pick(key, exclude)));
  return out;
}

function counts(list: string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const s of list) c[s] = (c[s] ?? 0) + 1;
  return c;
}

const ALL: BalanceAlgorithm[] = ['roundrobin', 'static-rr', 'leastconn', 'source', 'first', 'random', 'uri', 'hdr'];
const KEY: Record<BalanceAlgorithm, string | null> = {
  roundrobin: null,
  'static-rr': null,
  leastconn: null,
  source: '10.0.0.7',
  first: null,
  random: null,
  uri: '/img/logo.png',
  hdr: 'alice',
};

test('roundrobin: two equal servers alternate exactly', () => {
  const f = fixture('roundrobin', [{ name: 'a' }, { name: 'b' }]);
  const seq = picks(f, 101);
  for (let i = 1; i < seq.length; i++) assert.notEqual(seq[i], seq[i - 1], `repeat at ${i}: ${seq.join(',')}`);
  assert.ok(seq.every((s) => s === 'a' || s === 'b'));
});

test('roundrobin: weights 3:1 give a smooth 3:1 interleave, and follow a live weight change', () => {
  const f = fixture('roundrobin', [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }]);
  const seq = picks(f, 40);
  // Every window of 4 consecutive picks holds exactly one b: 3:1 and never two b's together.
  for (let i = 0; i + 4 <= seq.length; i++) {
    assert.equal(seq.slice(i, i + 4).filter((s) => s === 'b').length, 1, `window ${i}: ${seq.join('')}`);
  }
  f.set('a', S_WEIGHT, 1);
  const after = picks(f, 20);
  assert.deepEqual(counts(after), { a: 10, b: 10 });
  for (let i = 1; i < after.length; i++) assert.notEqual(after[i], after[i - 1]);
});

test('static-rr: uses configured weights; a weight change other than 0 has no effect', () => {
  const f = fixture('static-rr', [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }]);
  f.set('a', S_WEIGHT, 1);
  assert.deepEqual(counts(picks(f, 40)), { a: 30, b: 10 });
  f.set('a', S_WEIGHT, 0);
  assert.deepEqual(counts(picks(f, 10)), { b: 10 });
});

test('roundrobin: exact alternation across two worker threads sharing the cursor', async () => {
  const cfg = config([backend('be', 'roundrobin', [{ name: 'a' }, { name: 'b' }])]);
  const state = SharedState.create(cfg);
  const N = 200;
  // control[0] = whose turn (pick number); control[1 + k] = server chosen at pick k;
  // control[N + 1] = workers started (the turns begin once both are up: a loaded machine can
  // take seconds to start a thread, which is not what this test measures)
  const control = new Int32Array(new SharedArrayBuffer(4 * (N + 2)));
  const distSrc = path.join(__dirname, '..', 'src');
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { createBalancers } = require(${JSON.stringify(path.join(distSrc, 'balancing', 'index.js'))});
    const { SharedState, ServerIndex } = require(${JSON.stringify(path.join(distSrc, 'shared', 'state.js'))});
    const { cfg, buffer, control, me, n } = workerData;
    const state = SharedState.attach(buffer, cfg);
    const lb = createBalancers(cfg, state, new ServerIndex(cfg))[0];
    let ok = true;
    Atomics.add(control, n + 1, 1);
    Atomics.notify(control, n + 1);
    for (let v; (v = Atomics.load(control, n + 1)) < 2 && ok; ) ok = Atomics.wait(control, n + 1, v, 60000) !== 'timed-out';
    for (let k = me; k < n && ok; k += 2) {
      // wait for our turn (turn k), bounded: 30 s without progress fails the test
      while (ok && Atomics.load(control, 0) !== k) {
        ok = Atomics.wait(control, 0, Atomics.load(control, 0), 30000) !== 'timed-out' || Atomics.load(control, 0) === k;
      }
      if (!ok) break;
      Atomics.store(control, 1 + k, lb.pick(null, -1));
      Atomics.store(control, 0, k + 1);
      Atomics.notify(control, 0);
    }
    parentPort.postMessage(ok);
  `;
  const run = (me: number): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { cfg, buffer: state.buffer, control, me, n: N } });
      w.once('message', (ok: boolean) => resolve(ok));
      w.once('error', reject);
    });
  const [ok0, ok1] = await Promise.all([run(0), run(1)]);
  assert.ok(ok0 && ok1, 'a worker timed out waiting for its turn');
  const seq = Array.from(control.subarray(1, N + 1));
  assert.equal(seq.filter((s) => s === 0).length, N / 2);
  assert.equal(seq.filter((s) => s === 1).length, N / 2);
  for (let i = 1; i < N; i++) assert.notEqual(seq[i], seq[i - 1], `same server twice at pick ${i}`);
});

test('leastconn: avoids the busy server, alternates idle ones, weighs load', () => {
  const f = fixture('leastconn', [{ name: 'a' }, { name: 'b' }, { name: 'c', weight: 4 }]);
  // all idle: round-robin over the three
  const idle = picks(f, 30);
  assert.deepEqual(counts(idle), { a: 10, b: 10, c: 10 });
  for (let i = 1; i < idle.length; i++) assert.notEqual(idle[i], idle[i - 1]);
  // a busy: never a
  f.set('a', S_ACTIVE, 1);
  assert.ok(!picks(f, 20).includes('a'));
  // a:1/1 -> 2, b:1/1 -> 2, c:3/4 -> (3+1)/4 = 1: c is least loaded
  f.set('b', S_ACTIVE, 1);
  f.set('c', S_ACTIVE, 3);
  assert.deepEqual(counts(picks(f, 5)), { c: 5 });
  // c:7 in flight -> 8/4 = 2 ties with a and b: all three rotate
  f.set('c', S_ACTIVE, 7);
  assert.deepEqual(counts(picks(f, 9)), { a: 3, b: 3, c: 3 });
});

test('source: a client stays on its server; only clients of a removed server move', () => {
  const f = fixture('source', [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }]);
  const ips: string[] = [];
  for (let i = 0; i < 2000; i++) ips.push(`10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`);
  const before = ips.map((ip) => f.name(f.lb.pick(ip, -1)));
  // stable across repeated picks
  assert.deepEqual(
    ips.map((ip) => f.name(f.lb.pick(ip, -1))),
    before,
  );
  // spread: every server has a fair share (deterministic hash, so no flakiness)
  const c = counts(before);
  for (const s of ['a', 'b', 'c', 'd']) assert.ok(c[s] > 300 && c[s] < 700, `share of ${s}: ${c[s]}`);

  f.set('c', S_HEALTH, 0);
  const during = ips.map((ip) => f.name(f.lb.pick(ip, -1)));
  for (let i = 0; i < ips.length; i++) {
    if (before[i] === 'c') assert.notEqual(during[i], 'c');
    else assert.equal(during[i], before[i], `${ips[i]} moved from ${before[i]} to ${during[i]}`);
  }
  // the moved clients spread over the others rather than all landing on one
  assert.ok(Object.keys(counts(during.filter((_, i) => before[i] === 'c'))).length >= 2);

  f.set('c', S_HEALTH, 1);
  assert.deepEqual(
    ips.map((ip) => f.name(f.lb.pick(ip, -1))),
    before,
  );
});

test('source: weights give proportional shares', () => {
  const f = fixture('source', [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }]);
  const got: string[] = [];
  for (let i = 0; i < 4000; i++) got.push(f.name(f.lb.pick(`192.168.${i >> 8}.${i & 255}`, -1)));
  const c = counts(got);
  assert.ok(c.b > 600 && c.b < 1400, `b got ${c.b} of 4000`);
});

test('uri: hashes the path without the query; hdr: header value, roundrobin when absent', () => {
  const u = fixture('uri', [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  const paths = Array.from({ length: 60 }, (_, i) => `/p/${i}`);
  for (const p of paths) {
    const s = u.lb.pick(p, -1);
    assert.equal(u.lb.pick(`${p}?x=1&y=${p}`, -1), s, p);
    assert.equal(u.lb.pick(p, -1), s);
  }
  assert.equal(Object.keys(counts(paths.map((p) => u.name(u.lb.pick(p, -1))))).length, 3);

  const h = fixture('hdr', [{ name: 'a' }, { name: 'b' }]);
  const users = Array.from({ length: 40 }, (_, i) => `user${i}`);
  const first = users.map((v) => h.lb.pick(v, -1));
  assert.deepEqual(
    users.map((v) => h.lb.pick(v, -1)),
    first,
  );
  assert.equal(Object.keys(counts(first.map(h.name))).length, 2);
  for (const absent of [null, '']) {
    const seq = picks(h, 10, absent);
    for (let i = 1; i < seq.length; i++) assert.notEqual(seq[i], seq[i - 1], `fallback for ${String(absent)}`);
  }
});

test('first: the first server with a free slot, in config order', () => {
  const f = fixture('first', [{ name: 'a', maxconn: 2 }, { name: 'b', maxconn: 1 }, { name: 'c' }]);
  assert.deepEqual(counts(picks(f, 5)), { a: 5 });
  f.set('a', S_ACTIVE, 2);
  assert.deepEqual(counts(picks(f, 5)), { b: 5 });
  f.set('b', S_ACTIVE, 1);
  assert.deepEqual(counts(picks(f, 5)), { c: 5 });
  f.set('a', S_ACTIVE, 1);
  assert.deepEqual(counts(picks(f, 5)), { a: 5 });
});

test('random: weighted draws (power of two choices) and load-aware', () => {
  const f = fixture('random', [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }]);
  const c = counts(picks(f, 4000));
  // idle: plain weighted random, b expected 1000 (sd ~27)
  assert.ok(c.b > 700 && c.b < 1300, `b got ${c.b}`);
  // a loaded: a wins only when both draws are a, so b takes well over its 1/4
  f.set('a', S_ACTIVE, 10);
  const busy = counts(picks(f, 4000));
  assert.ok(busy.b > 1600, `b got ${busy.b} with a busy`);
});

test('backup servers: used only when no active server is usable; first one, or all with allbackups', () => {
  const specs = [{ name: 'a' }, { name: 'b' }, { name: 'k1', backup: true }, { name: 'k2', backup: true }];
  for (const balance of ALL) {
    const f = fixture(balance, specs);
    const key = KEY[balance];
    assert.ok(!picks(f, 8, key).some((s) => s.startsWith('k')), balance);
    f.set('a', S_HEALTH, 0);
    assert.deepEqual(counts(picks(f, 6, key)), { b: 6 }, balance);
    f.set('b', S_ADMIN, ADMIN_MAINT);
    assert.deepEqual(counts(picks(f, 6, key)), { k1: 6 }, balance);
    f.set('k1', S_HEALTH, 0);
    assert.deepEqual(counts(picks(f, 6, key)), { k2: 6 }, balance);
    f.set('a', S_HEALTH, 1);
    assert.deepEqual(counts(picks(f, 6, key)), { a: 6 }, balance);
  }
  const all = fixture('roundrobin', specs, true);
  all.set('a', S_HEALTH, 0);
  all.set('b', S_HEALTH, 0);
  assert.deepEqual(counts(picks(all, 10)), { k1: 5, k2: 5 });
  const allHash = fixture('source', specs, true);
  allHash.set('a', S_HEALTH, 0);
  allHash.set('b', S_HEALTH, 0);
  const spread = Array.from({ length: 200 }, (_, i) => allHash.name(allHash.lb.pick(`172.16.0.${i}`, -1)));
  assert.deepEqual(Object.keys(counts(spread)).sort(), ['k1', 'k2']);
});

test('exclude: avoids the server; -1 when it is the only usable one', () => {
  for (const balance of ALL) {
    const f = fixture(balance, [{ name: 'a' }, { name: 'b' }]);
    const key = KEY[balance];
    assert.deepEqual(counts(picks(f, 6, key, f.id('a'))), { b: 6 }, balance);
    assert.deepEqual(counts(picks(f, 6, key, f.id('b'))), { a: 6 }, balance);
    f.set('b', S_HEALTH, 0);
    assert.equal(f.lb.pick(key, f.id('a')), -1, balance);
    assert.equal(f.name(f.lb.pick(key, -1)), 'a', balance);
  }
});

test('weight 0 takes no traffic; maxconn-full servers are skipped; nothing usable gives -1', () => {
  for (const balance of ALL) {
    const f = fixture(balance, [{ name: 'a', maxconn: 2 }, { name: 'b' }, { name: 'c', weight: 0 }]);
    const key = KEY[balance];
    const varied = (i: number): string | null => (key === null ? null : `${key}${i}`);
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(f.name(f.lb.pick(varied(i), -1)));
    assert.ok(!seen.has('c'), `${balance} picked weight-0 c`);
    f.set('a', S_ACTIVE, 2);
    for (let i = 0; i < 30; i++) assert.equal(f.name(f.lb.pick(varied(i), -1)), 'b', `${balance} picked a full server`);
    f.set('a', S_ACTIVE, 0);
    // weight back to 1 at run time: c returns
    f.set('c', S_WEIGHT, 1);
    f.set('a', S_ADMIN, ADMIN_MAINT);
    f.set('b', S_HEALTH, 0);
    assert.equal(f.name(f.lb.pick(key, -1)), 'c', balance);
    f.set('c', S_WEIGHT, 0);
    assert.equal(f.lb.pick(key, -1), -1, balance);
    f.set('a', S_ADMIN, ADMIN_READY);
    assert.equal(f.name(f.lb.pick(key, -1)), 'a', balance);
  }
});

test('a server that turns unusable without an LB_GEN bump is still skipped', () => {
  for (const balance of ALL) {
    const f = fixture(balance, [{ name: 'a' }, { name: 'b' }]);
    f.state.set(f.id('a'), S_HEALTH, 0); // no bump: cached tables still list a
    const key = KEY[balance];
    for (let i = 0; i < 10; i++) assert.equal(f.name(f.lb.pick(key === null ? null : `${key}${i}`, -1)), 'b', balance);
  }
});
