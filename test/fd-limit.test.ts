// maxconn against the file-descriptor limit (issue 19): at start gatehouse makes room (soft up
// to hard; past hard only as root, through prlimit), says the effective maxconn in its start-up
// line, and lowers an explicit maxconn that still does not fit with HAProxy's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { CLI, freePort, startBackend, tmpFile, waitForPort } from './helpers/net';
import { FD_RESERVE, fitMaxconnToFdLimit, readFdLimits, type FdLimits } from '../src/primary/fd-limit';
import type { Config } from '../src/config/model';
import { acceptPlan } from '../src/front-node/accept-burst';

// no frontends: the reserve is FD_RESERVE alone
const cfgWith = (maxconn: number, maxconnSet: boolean) => ({ global: { maxconn, maxconnSet, workers: 1, maxAccept: 32 }, frontends: [] }) as unknown as Config;

test('fitMaxconnToFdLimit: raises the soft limit to what is needed, up to the hard one', () => {
  let lim: FdLimits = { soft: 1024, hard: 65536 };
  const calls: [number, number][] = [];
  const raise = (s: number, h: number) => {
    calls.push([s, h]);
    lim = { soft: s, hard: h };
    return true;
  };
  const c = cfgWith(5000, true);
  const r = fitMaxconnToFdLimit(c, () => lim, raise, false);
  assert.deepEqual(calls, [[5000 * 2 + FD_RESERVE, 65536]]);
  assert.equal(r.maxconn, 5000);
  assert.equal(r.warning, null);
  assert.equal(c.global.maxconn, 5000);
});

test('fitMaxconnToFdLimit: past the hard limit, an explicit maxconn is lowered with a warning; the default quietly', () => {
  const lim: FdLimits = { soft: 1024, hard: 1024 };
  const c = cfgWith(5000, true);
  const r = fitMaxconnToFdLimit(c, () => lim, () => false, true);
  const fit = Math.floor((1024 - FD_RESERVE) / 2);
  assert.equal(r.maxconn, fit);
  assert.equal(c.global.maxconn, fit);
  assert.match(r.warning ?? '', new RegExp(`^Cannot raise FD limit to ${5000 * 2 + FD_RESERVE}, limit is 1024: maxconn lowered from 5000 to ${fit}`));
  const d = cfgWith(20000, false);
  const q = fitMaxconnToFdLimit(d, () => lim, () => false, false);
  assert.equal(q.maxconn, fit);
  assert.equal(q.warning, null);
  // enough room: nothing changes, nothing is raised
  const e = cfgWith(100, true);
  assert.equal(fitMaxconnToFdLimit(e, () => lim, () => assert.fail('raised'), false).maxconn, 100);
});

test('readFdLimits reads this process\'s RLIMIT_NOFILE', () => {
  const l = readFdLimits();
  assert.ok(l !== null && l.soft > 0 && l.hard >= l.soft);
});

test('started under a 1024-descriptor limit, a maxconn of 5000 is lowered and said so; the start-up line gives the effective maxconn', async () => {
  const be = await startBackend('s1');
  const port = await freePort();
  const file = tmpFile(
    'gh.yaml',
    `global:
  workers: 1
  maxconn: 5000
frontends:
  fe:
    bind: ["127.0.0.1:${port}"]
    default_backend: be
backends:
  be:
    servers: [{ name: s1, address: "127.0.0.1:${be.port}" }]
`,
  );
  // util-linux prlimit starts the command with the limit set (as `ulimit -n 1024` would)
  const child = spawn('prlimit', ['--nofile=1024:1024', process.execPath, CLI, '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await waitForPort(port, 15000);
    for (let i = 0; i < 100 && !out.includes('gatehouse started'); i++) await new Promise((r) => setTimeout(r, 50));
    // one worker listening on one or more duplicates of the one bind (tune.maxaccept: accept-burst.ts)
    const reserve = FD_RESERVE + acceptPlan(-1).handles;
    const fit = Math.floor((1024 - reserve) / 2);
    assert.match(out, new RegExp(`Cannot raise FD limit to ${5000 * 2 + reserve}, limit is 1024: maxconn lowered from 5000 to ${fit}`), out);
    assert.match(out, new RegExp(`gatehouse started: .*maxconn ${fit} \\(fd limit 1024\\)`), out);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await be.close();
  }
});
