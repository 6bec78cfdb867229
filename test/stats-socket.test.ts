// HAProxy's runtime API on `stats socket` (src/stats/cli.ts): what socat one-liners, Ansible's
// haproxy module and hatop send, against a running gatehouse with real upstream servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, request, runCli, sleep, startBackend, startGatehouse, tmpFile, waitForPort } from './helpers/net';
import { runtimeCommand, waitForSocket } from './helpers/runtime-api';
import { waitFor, waitForOutput } from './helpers/wait';
import { backendYaml } from './helpers/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-sock-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

const cli = runtimeCommand;

async function names(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await request(port)).body.toString());
  return out;
}

test('show info, show stat, weights and server states through the admin socket; a read-only socket refuses changes', async () => {
  const web1 = await startBackend('web1');
  const web2 = await startBackend('web2');
  const port = await freePort();
  const admin = path.join(dir, 'admin.sock');
  const ro = path.join(dir, 'ro.sock');
  const cfg = backendYaml({ port, workers: 2, servers: [{ name: 'web1', port: web1.port }, { name: 'web2', port: web2.port, keys: 'weight: 4' }] }).replace(
    'global:\n',
    `global:\n  stats_socket: [{ path: "${admin}", mode: 600, level: admin }, "${ro}"]\n`,
  );
  const gh = await startGatehouse(cfg, [port]);
  try {
    await waitForSocket(admin);
    await waitForSocket(ro);
    assert.equal(fs.statSync(admin).mode & 0o777, 0o600);
    assert.ok(fs.statSync(ro).isSocket());

    const info = await cli(admin, 'show info');
    assert.match(info, /^Name: gatehouse$/m);
    assert.match(info, new RegExp(`^Pid: ${gh.child.pid}$`, 'm'));
    assert.match(info, /^Nbthread: 2$/m);
    assert.ok(info.endsWith('\n\n'), 'an answer ends with an empty line');

    // counters: the CSV of show stat counts the requests sent through both workers
    await names(port, 10);
    const csv = (await cli(ro, 'show stat')).trim().split('\n');
    assert.ok(csv[0].startsWith('# pxname,svname,'));
    const cols = csv[0].slice(2).split(',');
    const row = (sv: string) => csv.map((l) => l.split(',')).find((r) => r[0] === 'be' && r[1] === sv)!;
    const stot = cols.indexOf('stot');
    assert.equal(Number(row('web1')[stot]) + Number(row('web2')[stot]), 10);

    assert.equal(await cli(admin, 'get weight be/web2'), '4 (initial 4)\n\n');
    assert.equal(await cli(admin, 'set weight be/web2 50%'), '\n');
    assert.equal(await cli(admin, 'get weight be/web2'), '2 (initial 4)\n\n');

    // maintenance takes web1 out of rotation in every worker; enable brings it back
    assert.equal(await cli(admin, 'disable server be/web1'), '\n');
    assert.deepEqual(new Set(await names(port, 8)), new Set(['web2']));
    assert.equal(await cli(admin, 'set server be/web1 state ready'), '\n');
    assert.ok((await names(port, 8)).includes('web1'));
    assert.match(gh.output(), /server be\/web1 set to MAINT/);

    // the read-only socket (HAProxy's default level, operator) reads but changes nothing
    assert.equal(await cli(ro, 'disable server be/web1'), 'Permission denied\n\n');
    assert.equal(await cli(ro, 'get weight be/web1'), '1 (initial 1)\n\n');

    // errors are answers, not disconnects without a word
    assert.equal(await cli(admin, 'get weight be/nope'), 'No such server.\n\n');
    assert.equal(await cli(admin, 'disable server nope/web1'), 'No such backend.\n\n');
    assert.equal(await cli(admin, 'enable server web1'), "Require 'backend/server'.\n\n");
    assert.equal(await cli(admin, 'set weight be/web1 999'), 'Weight is out of range (0-256).\n\n');
    assert.match(await cli(admin, 'set server be/web1 state sleepy'), /expects 'ready', 'drain' and 'maint'/);
    assert.match(await cli(admin, 'frobnicate'), /^Unknown command: 'frobnicate'.*\n(.*\n)*  show stat/);

    // the last line may come without its newline (printf 'show info' | socat ...)
    assert.equal(await cli(admin, 'get weight be/web1', false), '1 (initial 1)\n\n');

    // several commands on one line; interactive mode keeps the connection for the next line
    assert.equal(await cli(admin, 'get weight be/web1; get weight be/web2'), '1 (initial 1)\n\n2 (initial 4)\n\n');
    const prompt = await new Promise<string>((resolve) => {
      const s = net.connect(admin);
      let out = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        out += d;
        if (out.split('> ').length === 3) s.write('quit\n');
      });
      s.on('close', () => resolve(out));
      s.write('prompt\nget weight be/web1\n');
    });
    assert.equal(prompt, '> 1 (initial 1)\n\n> ');
  } finally {
    await gh.stop();
    await web1.close();
    await web2.close();
  }
  assert.equal(fs.existsSync(admin), false, 'the socket file is removed on stop');
});

test('haproxy.cfg: Debian\'s stats socket line loads (foreign options are warnings), a stale socket file does not block the start, a reload keeps the socket', async () => {
  const web1 = await startBackend('web1');
  const port = await freePort();
  const sock = path.join(dir, 'debian.sock');
  // a file left at the path (a process that died without cleaning up): it is replaced
  fs.writeFileSync(sock, '');
  const file = tmpFile(
    'gatehouse.cfg',
    `global\n  stats socket ${sock} mode 660 level admin expose-fd listeners user haproxy\n  stats timeout 30s\n  nbthread 1\n` +
      `defaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n` +
      `frontend fe\n  bind 127.0.0.1:${port}\n  default_backend be\nbackend be\n  server web1 127.0.0.1:${web1.port}\n`,
  );
  const gh = runCli(['-f', file]);
  try {
    await waitForPort(port, 15000, gh);
    await waitForSocket(sock);
    assert.match(gh.output(), /stats socket option 'expose-fd' is ignored/);
    assert.match(gh.output(), /stats socket option 'user' is ignored/);
    assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
    assert.equal(await cli(sock, 'get weight be/web1'), '1 (initial 1)\n\n');

    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(`server web1 127.0.0.1:${web1.port}`, `server web1 127.0.0.1:${web1.port} weight 7`));
    gh.child.kill('SIGHUP');
    await waitForOutput(gh, /configuration reloaded/, 1, 10000);
    let answer = '';
    const weighs7 = async () => (answer = await cli(sock, 'get weight be/web1').catch(() => '')) === '7 (initial 7)\n\n';
    await waitFor('the new weight on the socket', weighs7, 5000, 100).catch(() => undefined);
    assert.equal(answer, '7 (initial 7)\n\n', gh.output());
  } finally {
    await gh.stop();
    await web1.close();
  }
});

test('stats socket errors: a relative path, a bad mode, an unknown level, a directory that does not exist', async () => {
  const port = await freePort();
  const check = (global: string) => {
    const text = backendYaml({ port, servers: [{ name: 's', port: 9 }] }).replace('global:\n', `global:\n${global}\n`);
    return runCli(['-c', '-f', tmpFile('g.yaml', text)]);
  };
  for (const [g, re] of [
    ['  stats_socket: relative.sock', /stats_socket: .*absolute unix socket path/],
    [`  stats_socket: { path: "${dir}/x.sock", mode: 999 }`, /stats_socket\.mode: invalid mode/],
    [`  stats_socket: { path: "${dir}/x.sock", level: root }`, /stats_socket\.level/],
  ] as const) {
    const p = check(g);
    assert.equal(await p.exited, 1, p.output());
    assert.match(p.output(), re);
  }
  // valid config, but the socket cannot be created: gatehouse does not start, and says why
  const missing = path.join(dir, 'no', 'such', 'dir', 'g.sock');
  const text = backendYaml({ port, servers: [{ name: 's', port: 9 }] }).replace('global:\n', `global:\n  stats_socket: "${missing}"\n`);
  const gh = runCli(['-f', tmpFile('g.yaml', text)]);
  const code = await Promise.race([gh.exited, sleep(15000).then(() => 'still running')]);
  if (code === 'still running') await gh.stop('SIGKILL');
  assert.equal(code, 1, gh.output());
  assert.match(gh.output(), new RegExp(`cannot bind stats socket ${missing.replace(/[/.]/g, '\\$&')}`));
});
