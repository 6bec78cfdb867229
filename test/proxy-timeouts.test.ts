// End-to-end timeout client: a stalled upload gets 408, a stalled reader is cut.
// Real node:http upstreams, gatehouse as a child process, real HTTP clients.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  freePort,
  rawExchange,
  request,
  startBackend,
  startGatehouse,
} from './helpers/net';
import { proxyYaml } from './helpers/config';
import { waitFor } from './helpers/wait';

describe('timeout client', () => {
  test('an upload that stalls gets 408 and frees the server; a reader that stalls is cut', async () => {
    const big = Buffer.alloc(32 * 1024 * 1024, 7);
    let uploadsClosed = 0;
    const be = await startBackend('be', (req, res) => {
      if (req.method === 'POST') {
        req.resume();
        req.on('close', () => uploadsClosed++);
        req.on('end', () => res.end('got it'));
        return;
      }
      res.end(big);
    });
    const port = await freePort();
    const cfg = proxyYaml({ port, workers: 1, servers: [{ name: 'be', port: be.port }] })
      .replace('client: 10s', 'client: 500ms')
      .replace('server: 5s', 'server: 30s'); // only timeout client may cut here
    const gh = await startGatehouse(cfg, [port]);
    try {
      // 10 of 100 announced bytes, then silence
      const raw = await rawExchange(port, 'POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789', 3000);
      assert.match(raw, /^HTTP\/1\.1 408 /);
      await waitFor('the server-side upload to close', () => uploadsClosed > 0, 2000).catch(() => undefined);
      assert.equal(uploadsClosed, 1, 'the server-side upload must be abandoned');

      // A client that stops reading a 32 MB answer is cut: once it reads again it gets a
      // truncated answer and the close (a paused socket cannot see the FIN earlier).
      const got = await new Promise<number>((resolve, reject) => {
        let n = 0;
        const s = net.connect(port, '127.0.0.1', () => {
          s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
          s.pause();
          setTimeout(() => s.resume(), 2000);
        });
        s.on('data', (d: Buffer) => (n += d.length));
        s.on('close', () => resolve(n));
        s.on('error', () => undefined);
        setTimeout(() => reject(new Error('not disconnected within 15 s')), 15000).unref();
      });
      assert.ok(got < big.length, `got all ${got} bytes: the stalled reader was not cut`);
      // and the proxy still serves
      assert.equal((await request(port, { method: 'POST', path: '/up', body: 'x' })).status, 200);
    } finally {
      await gh.stop();
      await be.close();
    }
  });
});
