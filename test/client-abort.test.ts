// A client that leaves before its answer (src/upstream/drain.ts): the server connection is
// kept when the whole request went out and the rest of the response is small; it goes back to
// the pool once the response completes, and serves the next request. A large response, an
// unfinished upload or a server slower than `timeout server` closes it instead.
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { freePort, request, sleep, startBackend, startGatehouse, type Backend } from './helpers/net';
import { waitFor as until } from './helpers/wait';
import { backendYaml } from './helpers/config';

/** Send a raw request, then close the connection after `ms` without reading the answer. */
function abandon(port: number, raw: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(raw));
    s.on('error', () => {});
    setTimeout(() => {
      s.destroy();
      resolve();
    }, ms);
  });
}

describe('client aborts: the server connection is drained and reused, or closed', () => {
  let backend: Backend;
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  let port: number;
  /** server-side sockets: opened, and closed so far */
  let opened = 0;
  let closed = 0;
  /** the server-side socket each path arrived on */
  const socketOf = new Map<string, number>();
  let answered = 0;

  before(async () => {
    backend = await startBackend('b', (req, res) => {
      const sock = req.socket as net.Socket & { id?: number };
      socketOf.set(req.url ?? '', sock.id ?? -1);
      req.resume();
      req.on('end', () => {
        const url = req.url ?? '';
        const done = () => {
          answered++;
          if (url.startsWith('/big')) res.end(Buffer.alloc(1024 * 1024, 97));
          else res.end('ok ' + url);
        };
        if (url.startsWith('/hang')) return; // never answers
        if (url.startsWith('/slow') || url.startsWith('/big')) setTimeout(done, 300);
        else done();
      });
    });
    backend.server.on('connection', (s: net.Socket & { id?: number }) => {
      s.id = ++opened;
      s.on('close', () => closed++);
    });
    backend.server.keepAliveTimeout = 60000;
    port = await freePort();
    gh = await startGatehouse(backendYaml({ port, servers: [{ name: 's', port: backend.port }], timeout: 'connect: 1s, client: 5s, server: 1s' }), [port]);
  });

  after(async () => {
    await gh.stop();
    await backend.close();
  });

  test('a small answer after the client left: the connection returns to the pool and serves the next request', async () => {
    const r0 = await request(port, { path: '/warm' });
    assert.equal(r0.status, 200);
    const warm = socketOf.get('/warm');
    const before = answered;
    await abandon(port, 'GET /slow-1 HTTP/1.1\r\nHost: x\r\n\r\n', 50);
    await until('the server answered the abandoned request', () => answered === before + 1);
    await sleep(50);
    const r = await request(port, { path: '/next-1' });
    assert.equal(r.body.toString(), 'ok /next-1');
    assert.equal(socketOf.get('/slow-1'), warm, 'the abandoned request used the warm connection');
    assert.equal(socketOf.get('/next-1'), warm, 'and the next request reused it');
    assert.equal(closed, 0, 'no server connection was closed');
  });

  test('a 1 MB answer after the client left: the connection is closed, not read', async () => {
    const closedBefore = closed;
    await abandon(port, 'GET /big-1 HTTP/1.1\r\nHost: x\r\n\r\n', 50);
    await until('the big connection closed', () => closed === closedBefore + 1);
    const r = await request(port, { path: '/next-2' });
    assert.equal(r.body.toString(), 'ok /next-2');
    assert.notEqual(socketOf.get('/next-2'), socketOf.get('/big-1'));
  });

  test('an upload abandoned halfway: the connection is closed (the server still waits for the body)', async () => {
    const closedBefore = closed;
    await abandon(port, 'POST /up-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n' + 'a'.repeat(100), 100);
    await until('the half-fed connection closed', () => closed === closedBefore + 1);
  });

  test('a server that never answers: the kept connection is closed after timeout server', async () => {
    const closedBefore = closed;
    const t0 = Date.now();
    await abandon(port, 'GET /hang-1 HTTP/1.1\r\nHost: x\r\n\r\n', 50);
    await until('the silent connection closed', () => closed === closedBefore + 1, 4000);
    const took = Date.now() - t0;
    assert.ok(took >= 900, `closed after ${took} ms: kept until timeout server (1s)`);
    const r = await request(port, { path: '/next-3' });
    assert.equal(r.body.toString(), 'ok /next-3');
  });
});
