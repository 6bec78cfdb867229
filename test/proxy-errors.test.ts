// End-to-end error answers: 503 without a server, retries and redispatch, 502 on garbage,
// 504 on a mute server, weight 0.
// Real node:http upstreams, gatehouse as a child process, real HTTP clients.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  freePort,
  request,
  startBackend,
  startGatehouse,
} from './helpers/net';
import { proxyYaml } from './helpers/config';

describe('error answers', () => {
  test('503 when no server accepts connections (after retries)', async () => {
    const dead1 = await freePort();
    const dead2 = await freePort();
    const port = await freePort();
    const gh = await startGatehouse(proxyYaml({ port, servers: [{ name: 'a', port: dead1 }, { name: 'b', port: dead2 }] }), [port]);
    try {
      const r = await request(port);
      assert.equal(r.status, 503);
      assert.match(r.body.toString(), /No server is available to handle this request/);
    } finally {
      await gh.stop();
    }
  });

  test('refused connect is retried and redispatched to a live server', async () => {
    const live = await startBackend('live');
    const dead = await freePort();
    const port = await freePort();
    const gh = await startGatehouse(
      proxyYaml({ port, workers: 1, servers: [{ name: 'dead', port: dead }, { name: 'live', port: live.port }] }),
      [port],
    );
    try {
      for (let i = 0; i < 10; i++) {
        const r = await request(port);
        assert.equal(r.status, 200, `request ${i}`);
        assert.equal(r.body.toString(), 'live');
      }
    } finally {
      await gh.stop();
      await live.close();
    }
  });

  test('502 on a garbage response; the next request is unaffected', async () => {
    const garbage = net.createServer((s) => {
      s.once('data', () => s.end('SPDY/9 what is this\r\n\r\n'));
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', () => r()));
    const gport = (garbage.address() as net.AddressInfo).port;
    const port = await freePort();
    const gh = await startGatehouse(proxyYaml({ port, workers: 1, servers: [{ name: 'bad', port: gport }] }), [port]);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await request(port);
        assert.equal(r.status, 502);
        assert.match(r.body.toString(), /invalid or incomplete response/);
      }
    } finally {
      await gh.stop();
      garbage.close();
    }
  });

  test('504 when the server does not answer within timeout server', async () => {
    const mute = await startBackend('mute', () => {
      /* never answers */
    });
    const port = await freePort();
    const cfg = proxyYaml({ port, workers: 1, servers: [{ name: 'mute', port: mute.port }] }).replace('server: 5s', 'server: 400ms');
    const gh = await startGatehouse(cfg, [port]);
    try {
      const r = await request(port);
      assert.equal(r.status, 504);
      assert.match(r.body.toString(), /didn't respond in time/);
    } finally {
      await gh.stop();
      await mute.close();
    }
  });

  test('weight 0 takes no traffic', async () => {
    const a = await startBackend('web1');
    const b = await startBackend('web2');
    const port = await freePort();
    const gh = await startGatehouse(
      proxyYaml({ port, servers: [{ name: 'web1', port: a.port, weight: 0 }, { name: 'web2', port: b.port }] }),
      [port],
    );
    try {
      for (let i = 0; i < 10; i++) assert.equal((await request(port)).body.toString(), 'web2');
      assert.equal(a.hits, 0);
    } finally {
      await gh.stop();
      await a.close();
      await b.close();
    }
  });
});
