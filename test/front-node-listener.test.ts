// One listening socket for every worker thread (src/front-node/listener.ts): the primary binds
// it and never accepts; each worker listens on its own duplicate. Measured here: how evenly
// connections spread over two workers, that a worker closing its duplicate leaves the others
// serving, and that a worker replaced under load (a reload) costs no connection.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { bindSharedSocket, sharedSocketsAvailable } from '../src/front-node/listener';

const WORKER = path.join(__dirname, 'helpers', 'front-node-worker.js');

function startWorker(fd: number, id: number): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { fd, id } });
    w.once('message', (m: { up?: boolean; error?: string }) => (m.up ? resolve(w) : reject(new Error(m.error))));
    w.once('error', reject);
  });
}

function ask<T>(w: Worker, msg: string): Promise<T> {
  return new Promise((resolve) => {
    w.once('message', (m: T) => resolve(m));
    w.postMessage(msg);
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let d = '';
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
    s.on('data', (x) => (d += x));
    s.on('close', () => resolve(d.slice(d.indexOf('\r\n\r\n') + 4)));
    s.on('error', (e: NodeJS.ErrnoException) => resolve('ERR ' + e.code));
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: 30000 }, (err, out, errOut) => (err && !out ? reject(err) : resolve(out + errOut))),
  );
}

test('shared listener: two workers, even spread, a worker leaving or replaced costs nothing', { skip: !sharedSocketsAvailable() }, async () => {
  const sock = bindSharedSocket('127.0.0.1', 0);
  const workers = [await startWorker(sock.fd, 0), await startWorker(sock.fd, 1)];
  try {
    // steady arrivals (ab without keep-alive: a connection per request)
    const out = await run('ab', ['-n', '1000', '-c', '4', `http://127.0.0.1:${sock.port}/`]);
    assert.match(out, /Failed requests:\s+0/);
    const counts = await Promise.all(workers.map((w) => ask<{ connections: number }>(w, 'count')));
    const [a, b] = counts.map((c) => c.connections);
    console.log(`ab -c4, 1000 connections: worker0 ${a}, worker1 ${b}`);
    assert.ok(a + b >= 1000); // ab may open a connection or two more
    assert.ok(Math.min(a, b) >= 250, `uneven spread ${a}/${b}`);
    // a burst of simultaneous connections (reported: libuv accepts in a loop, see listener.ts)
    await run('h2load', ['--h1', '-n', '200', '-c', '100', `http://127.0.0.1:${sock.port}/`]);
    const burst = await Promise.all(workers.map((w) => ask<{ connections: number }>(w, 'count')));
    console.log(`h2load -c100 burst: worker0 ${burst[0].connections}, worker1 ${burst[1].connections}`);

    // worker 0 closes its duplicate: worker 1 serves everything, the socket stays open
    await ask(workers[0], 'close');
    const after = await Promise.all(Array.from({ length: 20 }, () => get(sock.port)));
    assert.deepEqual(new Set(after), new Set(['w1']));

    // replace worker 1 by worker 2 while a client connects in a loop: no connection fails
    let stop = false;
    const seen: string[] = [];
    const loop = (async () => {
      while (!stop) seen.push(await get(sock.port));
    })();
    await new Promise((r) => setTimeout(r, 100));
    workers.push(await startWorker(sock.fd, 2));
    await ask(workers[1], 'close');
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await loop;
    assert.ok(seen.length > 20);
    assert.deepEqual(seen.filter((x) => x !== 'w1' && x !== 'w2'), []);
    assert.equal(seen[seen.length - 1], 'w2');
  } finally {
    for (const w of workers) await w.terminate();
    sock.close();
  }
  // the primary's close ends the socket: refused
  assert.equal(await get(sock.port), 'ERR ECONNREFUSED');
});

test('bindSharedSocket reports a port in use', { skip: !sharedSocketsAvailable() }, async () => {
  const a = bindSharedSocket('127.0.0.1', 0);
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    const port = (s.address() as net.AddressInfo).port;
    assert.throws(() => bindSharedSocket('127.0.0.1', port), /EADDRINUSE/);
  } finally {
    a.close();
    s.close();
  }
});
