// Listen backlogs (src/primary/listen-backlog.ts): uWS listens with 512; gatehouse raises each
// data frontend's sockets to its maxconn as HAProxy does (the kernel caps it at somaxconn), never
// lowers them, and the helper process that does it never takes a connection. Read back with
// `ss` (iproute2), the only reader of a listening socket's backlog.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { freePort, request, startBackend, startGatehouse, type Backend } from './helpers/net';
import { waitFor, waitForOutput } from './helpers/wait';
import { NODE_ENGINE } from './helpers/engine';

// uWS: one listening socket per worker (SO_REUSEPORT); the node engine: one socket shared by
// the workers (src/front-node/listener.ts), each of whose listen() calls must keep the backlog.
const SOCKETS = NODE_ENGINE ? 1 : 2;
const FLOOR = 512;

/** Send-Q of each listening socket on `port` = its backlog. */
function backlogs(port: number): number[] {
  const out = execFileSync('ss', ['-Hltn', `( sport = :${port} )`], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => Number(l.trim().split(/\s+/)[2]));
}

describe('listen backlog from maxconn', () => {
  let backend: Backend;
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  let big: number;
  let small: number;
  const somaxconn = Number(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));

  before(async () => {
    backend = await startBackend('b');
    [big, small] = [await freePort(), await freePort()];
    const yaml = `global: { workers: 2 }
defaults:
  timeout: { connect: 1s, client: 5s, server: 2s }
frontends:
  big: { bind: ["127.0.0.1:${big}"], maxconn: 3000, default_backend: be }
  small: { bind: ["127.0.0.1:${small}"], maxconn: 100, default_backend: be }
backends:
  be:
    servers:
      - { name: s, address: "127.0.0.1:${backend.port}" }
`;
    gh = await startGatehouse(yaml, [big, small]);
    // the backlogs are raised in the background once every worker listens
    const want = Math.min(3000, somaxconn);
    await waitFor('the raised backlogs', () => backlogs(big).every((b) => b === want), 5000, 50).catch(() => undefined);
  });

  after(async () => {
    await gh.stop();
    await backend.close();
  });

  test('each worker socket gets the frontend maxconn (capped by somaxconn); never below 512', () => {
    assert.deepEqual(backlogs(big), Array(SOCKETS).fill(Math.min(3000, somaxconn)), `two workers, ${SOCKETS} socket(s)`);
    assert.deepEqual(backlogs(small), Array(SOCKETS).fill(FLOOR), 'maxconn 100 keeps the engine\'s own backlog');
    assert.doesNotMatch(gh.output(), /listen backlog left/);
  });

  test('after a reload (SIGHUP) the new workers\' sockets get theirs too', async () => {
    gh.child.kill('SIGHUP');
    await waitForOutput(gh, /previous configuration finished/, 1, 10000).catch(() => undefined);
    assert.match(gh.output(), /previous configuration finished/);
    const want = Math.min(3000, somaxconn);
    await waitFor('the raised backlogs', () => backlogs(big).every((b) => b === want), 5000, 50).catch(() => undefined);
    assert.deepEqual(backlogs(big), Array(SOCKETS).fill(want));
    assert.deepEqual(backlogs(small), Array(SOCKETS).fill(FLOOR));
  });

  test('every connection is served by gatehouse (the helper process took none)', async () => {
    for (let i = 0; i < 300; i++) {
      const r = await request(i % 2 === 0 ? big : small, { path: `/${i}` });
      assert.equal(r.status, 200, `request ${i}`);
    }
    assert.equal(backend.hits, 300);
  });
});
