// End-to-end lifecycle of the process: -c checks, graceful stop with a request in flight,
// a stop signal during start-up, worker crash recovery.
// Real node:http upstreams, gatehouse as a child process, real HTTP clients.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  CLI,
  freePort,
  request,
  runCli,
  startBackend,
  startGatehouse,
  tmpFile,
  waitForPort,
} from './helpers/net';
import { proxyYaml } from './helpers/config';
import { countInOutput, waitFor } from './helpers/wait';

describe('CLI and lifecycle', () => {
  test('-c accepts a valid file and reports errors with file:line:col', async () => {
    const good = tmpFile('good.yaml', proxyYaml({ port: 18080, servers: [{ name: 'a', port: 18081 }] }));
    const ok = runCli(['-c', '-f', good]);
    assert.equal(await ok.exited, 0);
    assert.match(ok.output(), /Configuration file is valid/);

    const text = proxyYaml({ port: 18080, servers: [{ name: 'a', port: 18081 }] }).replace('balance: roundrobin', 'balanse: roundrobin');
    const bad = tmpFile('bad.yaml', text);
    const p = runCli(['-c', '-f', bad]);
    assert.equal(await p.exited, 1);
    const line = text.split('\n').findIndex((l) => l.includes('balanse')) + 1;
    assert.match(p.output(), new RegExp(`bad\\.yaml:${line}:\\d+`));
    assert.match(p.output(), /balance/); // did-you-mean
  });

  test('SIGTERM lets an in-flight request finish, then exits 0', async () => {
    const slow = await startBackend('slow', (_req, res) => setTimeout(() => res.end('finished'), 800));
    const port = await freePort();
    const gh = await startGatehouse(proxyYaml({ port, servers: [{ name: 'slow', port: slow.port }] }), [port]);
    try {
      const inflight = request(port);
      await waitFor('the request to reach the server', () => slow.hits === 1);
      gh.child.kill('SIGTERM');
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'finished');
      assert.equal(await gh.exited, 0);
      assert.doesNotMatch(gh.output(), /Abort|core dumped|Assertion/i);
      // no longer accepting
      await assert.rejects(request(port));
    } finally {
      await gh.stop('SIGKILL');
      await slow.close();
    }
  });
});

describe('stop signal during startup', () => {
  test('SIGTERM the moment the port accepts (before the start completes): a graceful stop, exit 0', async () => {
    const be = await startBackend('b');
    const port = await freePort();
    const gh = runCli(['-f', tmpFile('early.yaml', proxyYaml({ port, servers: [{ name: 'b', port: be.port }] }))]);
    try {
      // poll much faster than waitForPort: the window between the workers listening and the
      // primary's handlers being in place is a few milliseconds
      await waitFor(
        'the port to accept',
        () =>
          new Promise<boolean>((resolve) => {
            const s = net.connect(port, '127.0.0.1');
            s.once('connect', () => (s.destroy(), resolve(true)));
            s.once('error', () => resolve(false));
          }),
        15000,
        2,
      );
      gh.child.kill('SIGTERM');
      assert.equal(await gh.exited, 0, `killed by the signal instead of stopping: ${gh.output()}`);
      assert.match(gh.output(), /SIGTERM received/);
    } finally {
      await gh.stop('SIGKILL');
      await be.close();
    }
  });
});

describe('crash recovery', () => {
  test('a worker that crashes is replaced; the others keep serving', async () => {
    const a = await startBackend('web1');
    const port = await freePort();
    const cfgPath = tmpFile('crash.yaml', proxyYaml({ port, servers: [{ name: 'web1', port: a.port }] }));
    const gh = runCli(['-f', cfgPath], { GATEHOUSE_TEST_HOOKS: '1' });
    try {
      await waitForPort(port, 15000, gh);
      // Crash each worker (the kernel picks which one accepts), serving between crashes.
      let crashes = 0;
      for (let round = 0; round < 6; round++) {
        await request(port, { path: '/.gatehouse/crash-worker' }).catch(() => undefined);
        crashes++;
        for (let i = 0; i < 5; i++) {
          const r = await request(port).catch(() => null);
          if (r !== null) assert.equal(r.status, 200);
        }
      }
      // Once the restarts are done (every worker that exited is back), every request succeeds again.
      await waitFor(
        () => `every exited worker to be restarted:\n${gh.output()}`,
        () => countInOutput(gh, /worker \d exited/) > 0 && countInOutput(gh, /worker \d restarted/) === countInOutput(gh, /worker \d exited/),
        15000,
        20,
      );
      for (let i = 0; i < 20; i++) assert.equal((await request(port)).status, 200);
      assert.equal(gh.child.exitCode, null, 'the process must survive worker crashes');
      assert.match(gh.output(), /worker \d crashed: Error: crash requested by a test hook/);
      assert.match(gh.output(), /worker \d restarted/);
      assert.ok(crashes > 0);
    } finally {
      await gh.stop();
      await a.close();
    }
  });
});
