// Accepting more than one connection per loop turn (src/front-node/accept-burst.ts): libuv takes
// one connection per listening handle and turn; with the native addon (native/) a handle takes
// up to tune.maxaccept, and without it a worker listens on duplicates of the socket instead.
// Connections are queued in the kernel while this thread is blocked, then counted per turn.
import { strict as assert } from 'node:assert';
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { ACCEPT_BURST_CAP, DEFAULT_ACCEPT_HANDLES, acceptBurstAvailable, acceptInBursts, acceptPlan } from '../src/front-node/accept-burst';
import { native } from '../src/shared/native';
import { freePort, startBackend, startGatehouse } from './helpers/net';

const noAddon = acceptBurstAvailable ? false : 'the native addon did not build or load here (src/shared/native.ts)';

test('the native addon loads where CI builds it', () => {
  // CI machines have g++ and Node's headers: a missing addon there is a build failure, not a skip
  if (process.env.CI === 'true') assert.ok(acceptBurstAvailable, 'build/Release/gatehouse_native.node did not load');
  assert.deepEqual(acceptPlan(-1), acceptBurstAvailable ? { handles: 1, burst: ACCEPT_BURST_CAP } : { handles: DEFAULT_ACCEPT_HANDLES, burst: 1 });
});

test('acceptBurst refuses bad arguments with a TypeError and reports system errors as -errno', { skip: noAddon }, async () => {
  const addon = native!;
  const out = new Int32Array(4);
  assert.throws(() => addon.acceptBurst('3' as unknown as number, out), TypeError);
  assert.throws(() => addon.acceptBurst(-1, out), TypeError);
  assert.throws(() => addon.acceptBurst(0, new Uint8Array(4) as unknown as Int32Array), TypeError);
  assert.throws(() => (addon.acceptBurst as unknown as (fd: number) => number)(0), TypeError);
  assert.throws(() => addon.closeFd(-5), TypeError);
  // a descriptor number nothing has open
  const unused = 1_000_000;
  assert.equal(addon.acceptBurst(unused, out), -os.constants.errno.EBADF);
  assert.equal(addon.closeFd(unused), -os.constants.errno.EBADF);
  // a socket that does not listen: EINVAL, nothing accepted
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  const fd = (c as net.Socket & { _handle: { fd: number } })._handle.fd;
  assert.equal(addon.acceptBurst(fd, out), -os.constants.errno.EINVAL);
  c.destroy();
  srv.close();
  // an empty queue is not an error: none accepted
  const idle = net.createServer();
  await new Promise<void>((r) => idle.listen(0, '127.0.0.1', r));
  assert.equal(addon.acceptBurst((idle as net.Server & { _handle: { fd: number } })._handle.fd, out), 0);
  idle.close();
});

// A child process opening `n` connections to `port`; it writes `ready` once all are connected
// (the kernel completes handshakes for the accept queue), then prints each one's outcome.
const CLIENTS = `
const net = require('net'); const fs = require('fs');
const [port, n, ready] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
let up = 0, done = 0; const out = [];
for (let i = 0; i < n; i++) {
  const s = net.connect(port, '127.0.0.1');
  let got = '';
  s.on('connect', () => { if (++up === n) fs.writeFileSync(ready, 'up'); });
  s.on('data', (d) => (got += d));
  s.on('error', (e) => (got = got || 'ERR ' + e.code));
  s.on('close', () => { out[i] = got; if (++done === n) { console.log(JSON.stringify(out)); process.exit(0); } });
}
setTimeout(() => { console.log(JSON.stringify(out)); process.exit(1); }, 10000);
`;

/**
 * Queues `n` connections on `server` while this thread is blocked, then lets the loop run and
 * returns how many connections arrived in each turn, and what each client received.
 */
async function burstOf(server: net.Server, n: number, perTurn: () => number): Promise<{ turns: number[]; replies: string[] }> {
  const port = (server.address() as net.AddressInfo).port;
  const ready = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-accept-')), 'ready');
  const child = spawn(process.execPath, ['-e', CLIENTS, String(port), String(n), ready], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // block this thread until every connection waits in the accept queue
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 10000;
  while (!fs.existsSync(ready) && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 5);
  assert.ok(fs.existsSync(ready), 'the clients did not connect');
  const turns: number[] = [];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      turns.push(perTurn());
      if (turns.reduce((a, b) => a + b, 0) >= n || turns.length > 5 * n) resolve();
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
  await exited;
  fs.rmSync(path.dirname(ready), { recursive: true, force: true });
  return { turns, replies: JSON.parse(out) as string[] };
}

/** A net.Server answering `hi` to each connection, counting connections per turn. */
async function countingServer(onConnection?: (s: net.Socket, nth: number, server: net.Server) => void): Promise<{ server: net.Server; take(): number }> {
  let count = 0;
  let total = 0;
  const server = net.createServer((s) => {
    count++;
    onConnection?.(s, ++total, server);
    s.end('hi');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 511, r));
  return {
    server,
    take() {
      const c = count;
      count = 0;
      return c;
    },
  };
}

test('libuv alone accepts one connection per turn; acceptInBursts up to its budget', { skip: noAddon }, async () => {
  const n = 40;
  const budget = 8;
  const plain = await countingServer();
  const burst = await countingServer();
  try {
    assert.equal(acceptInBursts(burst.server, budget), true);
    const a = await burstOf(plain.server, n, plain.take);
    assert.equal(Math.max(...a.turns), 1, `libuv alone: ${a.turns.join(',')}`);
    const b = await burstOf(burst.server, n, burst.take);
    // the queue was full before the first turn: every turn takes a whole budget
    const expected = Array.from({ length: Math.ceil(n / budget) }, (_, i) => Math.min(budget, n - i * budget));
    assert.deepEqual(b.turns.filter((c) => c > 0), expected, `per turn: ${b.turns.join(',')}`);
    // each connection is a working socket, handed on as libuv's own
    assert.deepEqual(b.replies, new Array(n).fill('hi'));
  } finally {
    plain.server.close();
    burst.server.close();
  }
});

test('a server closed in the middle of a burst: what was accepted is served, the rest reset, nothing else accepted', { skip: noAddon }, async () => {
  const n = 30;
  const budget = 10;
  const closeAt = 3;
  const s = await countingServer((_sock, nth, server) => {
    if (nth === closeAt) server.close();
  });
  assert.equal(acceptInBursts(s.server, budget), true);
  const r = await burstOf(s.server, n, s.take);
  const served = r.replies.filter((x) => x === 'hi').length;
  // the burst's own descriptors were taken before the close: each is served, not leaked
  assert.equal(served, budget, `replies: ${JSON.stringify(r.replies)}`);
  // the others were in the queue of a socket that closed: reset, not left waiting
  for (const x of r.replies.filter((y) => y !== 'hi')) assert.match(x, /^(ERR ECONNRESET|)$/);
});

// gatehouse itself: the listening descriptors of a node-engine worker, with and without the
// addon, and a burst of simultaneous connects all answered either way
for (const withAddon of [true, false]) {
  test(`node engine ${withAddon ? 'with' : 'without'} the native addon: listening descriptors per worker, and 300 connects at once all answered`, { skip: withAddon ? noAddon : false }, async () => {
    const be = await startBackend('be1');
    const port = await freePort();
    const cfg = `global\n  nbthread 1\n  engine node\ndefaults\n  mode http\n  timeout client 10s\n  timeout server 10s\n  timeout connect 2s\nfrontend fe\n  bind 127.0.0.1:${port}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:${be.port}\n`;
    const prevNative = process.env.GATEHOUSE_NATIVE;
    if (!withAddon) process.env.GATEHOUSE_NATIVE = '0';
    const gh = await startGatehouse(cfg, [port], { ext: '.cfg' }).finally(() => {
      if (prevNative === undefined) delete process.env.GATEHOUSE_NATIVE;
      else process.env.GATEHOUSE_NATIVE = prevNative;
    });
    try {
      // ss lists every descriptor of the one listening socket: the primary's and the worker's
      // (a child that passed the duplicates over may still be exiting: other pids do not count)
      const ss = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
      const fds = (ss.match(new RegExp(`pid=${gh.child.pid},fd=\\d+`, 'g')) ?? []).length;
      assert.equal(fds, 1 + (withAddon ? 1 : DEFAULT_ACCEPT_HANDLES), ss);
      const answers = await Promise.all(
        Array.from(
          { length: 300 },
          () =>
            new Promise<string>((resolve) => {
              const c = net.connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
              let d = '';
              c.on('data', (x: Buffer) => (d += x.toString('latin1')));
              c.on('error', (e: NodeJS.ErrnoException) => (d = 'ERR ' + e.code));
              c.on('close', () => resolve(d.split('\r\n')[0] + ' ' + d.slice(d.indexOf('\r\n\r\n') + 4)));
            }),
        ),
      );
      assert.deepEqual(answers, new Array(300).fill('HTTP/1.1 200 OK be1'));
    } finally {
      await gh.stop();
      await be.close();
    }
  });
}
