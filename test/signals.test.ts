// Signals as HAProxy's operators send them (src/primary/signals.ts): none may kill or freeze the
// process by Node's default action, open the inspector, or lose a request in flight.
import { onNodeEngine } from './helpers/engine';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { freePort, request, runCli, sleep, startBackend, tmpFile, waitForPort, type Proc } from './helpers/net';
import { waitFor } from './helpers/wait';
import { backendYaml } from './helpers/config';

/** frontend fe -> backend be over `servers`, two workers unless told */
const config = (port: number, servers: Array<{ name: string; port: number }>, workers = 2): string => backendYaml({ port, servers, workers });

const until = (what: string, cond: () => boolean | Promise<boolean>, gh: Proc, ms = 10000) => waitFor(() => `${what}:\n${gh.output()}`, cond, ms, 50);

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** 'T' when the process is stopped (SIGTTOU/SIGTTIN's default action), 'S'/'R' when running. */
function procState(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

function get(port: number, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('SIGUSR1 is HAProxy soft-stop: the request in flight finishes, exit 0, no inspector opens', async () => {
  const slow = await startBackend('slow', (_req, res) => setTimeout(() => res.end('slow done'), 800));
  const port = await freePort();
  const gh = runCli(['-f', tmpFile('usr1.yaml', config(port, [{ name: 'slow', port: slow.port }]))]);
  try {
    await waitForPort(port, 15000, gh);
    const inflight = request(port);
    await until('the request to reach the server', () => slow.hits === 1, gh);
    gh.child.kill('SIGUSR1');
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'slow done');
    const code = await Promise.race([gh.exited, sleep(10000).then(() => 'still running after 10 s')]);
    assert.equal(code, 0, gh.output());
    assert.match(gh.output(), /SIGUSR1 received: no new connections/);
    assert.doesNotMatch(gh.output(), /Debugger listening/);
  } finally {
    await gh.stop('SIGKILL');
    await slow.close();
  }
});

test('SIGUSR2 reloads the configuration like SIGHUP (HAProxy master-worker reload)', async () => {
  const web1 = await startBackend('web1');
  const web2 = await startBackend('web2');
  const port = await freePort();
  const file = tmpFile('usr2.yaml', config(port, [{ name: 'a', port: web1.port }]));
  const gh = runCli(['-f', file]);
  try {
    await waitForPort(port, 15000, gh);
    assert.equal((await request(port)).body.toString(), 'web1');
    fs.writeFileSync(file, config(port, [{ name: 'b', port: web2.port }]));
    gh.child.kill('SIGUSR2');
    await until('requests to reach the reloaded backend', async () => (await request(port).catch(() => null))?.body.toString() === 'web2', gh);
    // the new workers may serve (shared sockets of the node engine) before the primary logs the
    // reload as done: wait for the line rather than expect it already
    await until('the reload to be logged', () => /SIGUSR2: configuration reloaded/.test(gh.output()), gh);
    assert.equal(gh.child.exitCode, null, 'still running');
  } finally {
    await gh.stop();
    await web1.close();
    await web2.close();
  }
});

test('SIGTTOU closes the listeners but serves open connections; SIGTTIN listens again', async () => {
  const web1 = await startBackend('web1');
  const port = await freePort();
  const gh = runCli(['-f', tmpFile('ttou.yaml', config(port, [{ name: 'web1', port: web1.port }]))]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await waitForPort(port, 15000, gh);
    assert.equal((await get(port, agent)).body, 'web1');

    gh.child.kill('SIGTTOU');
    await until('the pause', () => /listeners paused/.test(gh.output()), gh);
    await until('new connections to be refused', async () => !(await connects(port)), gh);
    // every worker has closed its listener, not just the one the kernel picked
    for (let i = 0; i < 10; i++) assert.equal(await connects(port), false, 'a connection was accepted while paused');
    assert.notEqual(procState(gh.child.pid!), 'T', 'the process was stopped by the signal');
    // the connection opened before the pause is still served
    const kept = await get(port, agent);
    assert.equal(kept.status, 200);
    assert.equal(kept.body, 'web1');

    gh.child.kill('SIGTTIN');
    await until('listening again', () => /SIGTTIN: listening again/.test(gh.output()), gh);
    assert.equal((await request(port)).body.toString(), 'web1');
    assert.equal(gh.child.exitCode, null);
  } finally {
    agent.destroy();
    await gh.stop();
    await web1.close();
  }
});

test('a reload during a pause keeps the port closed; SIGTTIN opens it with the new configuration', async () => {
  const web1 = await startBackend('web1');
  const web2 = await startBackend('web2');
  const port = await freePort();
  const file = tmpFile('ttou-reload.yaml', config(port, [{ name: 'a', port: web1.port }]));
  const gh = runCli(['-f', file]);
  try {
    await waitForPort(port, 15000, gh);
    gh.child.kill('SIGTTOU');
    await until('new connections to be refused', async () => !(await connects(port)), gh);
    fs.writeFileSync(file, config(port, [{ name: 'b', port: web2.port }]));
    gh.child.kill('SIGHUP');
    await until('the reload', () => /SIGHUP: the new workers' listeners stay paused/.test(gh.output()), gh);
    await until('the old workers to finish', () => /SIGHUP: previous configuration finished/.test(gh.output()), gh);
    for (let i = 0; i < 10; i++) assert.equal(await connects(port), false, 'a connection was accepted while paused');
    gh.child.kill('SIGTTIN');
    await until('listening again', () => /SIGTTIN: listening again/.test(gh.output()), gh);
    assert.doesNotMatch(gh.output(), /listening again, except/);
    for (let i = 0; i < 4; i++) assert.equal((await request(port)).body.toString(), 'web2');
  } finally {
    await gh.stop();
    await web1.close();
    await web2.close();
  }
});

test('SIGQUIT logs the frontends and servers and keeps serving', async () => {
  const web1 = await startBackend('web1');
  const closedPort = await freePort();
  const port = await freePort();
  const gh = runCli(['-f', tmpFile('quit.yaml', config(port, [{ name: 'web1', port: web1.port }, { name: 'gone', port: closedPort }], 1))]);
  try {
    await waitForPort(port, 15000, gh);
    gh.child.kill('SIGQUIT');
    await until('the status report', () => /status: backend be:/.test(gh.output()), gh);
    assert.match(gh.output(), /status: frontend fe: OPEN, \d+ in flight, \d+ total/);
    assert.match(gh.output(), /status: backend be: UP, 2\/2 server\(s\) usable: web1 no check \(0 in flight\), gone no check \(0 in flight\)/);
    assert.equal((await request(port)).body.toString().length > 0, true);
    assert.equal(gh.child.exitCode, null, 'still running');
  } finally {
    await gh.stop();
    await web1.close();
  }
});

test('a reload signal the moment the port accepts (before the start completes) is kept and carried out', async () => {
  const web1 = await startBackend('web1');
  const port = await freePort();
  const gh = runCli(['-f', tmpFile('early-hup.yaml', config(port, [{ name: 'web1', port: web1.port }]))]);
  try {
    // poll faster than waitForPort: the window between the workers listening and the start
    // completing is short
    await waitFor('the port to accept', () => connects(port), 15000, 2);
    gh.child.kill('SIGHUP');
    await until('the reload', () => /SIGHUP: configuration reloaded/.test(gh.output()), gh);
    // Until the old workers have closed their listeners, a new connection may be queued on one
    // and reset by the close (net.ipv4.tcp_migrate_req=0; see reload.test.ts).
    await until('the old workers to finish', () => /SIGHUP: previous configuration finished/.test(gh.output()), gh);
    assert.equal(gh.child.exitCode, null, `killed by SIGHUP: ${gh.output()}`);
    assert.equal((await request(port)).body.toString(), 'web1');
  } finally {
    await gh.stop();
    await web1.close();
  }
});
