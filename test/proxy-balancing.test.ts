// End-to-end balancing: roundrobin over two workers, leastconn and source with real
// upstreams.
// Real node:http upstreams, gatehouse as a child process, real HTTP clients.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import {
  freePort,
  request,
  startBackend,
  startGatehouse,
  type Backend,
} from './helpers/net';
import { proxyYaml } from './helpers/config';
import { waitFor } from './helpers/wait';

describe('roundrobin over 2 workers', () => {
  let a: Backend, b: Backend, port: number, gh: Awaited<ReturnType<typeof startGatehouse>>;
  before(async () => {
    a = await startBackend('web1');
    b = await startBackend('web2');
    port = await freePort();
    gh = await startGatehouse(proxyYaml({ port, servers: [{ name: 'web1', port: a.port }, { name: 'web2', port: b.port }] }), [port]);
  });
  after(async () => {
    await gh.stop();
    await a.close();
    await b.close();
  });

  test('40 requests on fresh connections alternate exactly', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await request(port, { path: '/' });
      assert.equal(r.status, 200);
      seen.push(r.body.toString());
    }
    assert.equal(seen.filter((s) => s === 'web1').length, 20);
    assert.equal(seen.filter((s) => s === 'web2').length, 20);
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], `request ${i} went to ${seen[i]} twice`);
  });
});

describe('balancing algorithms end to end', () => {
  test('leastconn avoids the server holding a slow request', async () => {
    const slow = await startBackend('slow', (req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow'), 1500);
      else res.end('slow');
    });
    const fast = await startBackend('fast');
    const port = await freePort();
    const gh = await startGatehouse(
      proxyYaml({ port, balance: 'leastconn', servers: [{ name: 'slow', port: slow.port }, { name: 'fast', port: fast.port }] }),
      [port],
    );
    try {
      // Occupy one server with a slow request, then every quick request must avoid it.
      const pending = request(port, { path: '/slow' });
      await waitFor('the slow request to reach a server', () => slow.hits + fast.hits === 1);
      const holder = slow.hits === 1 ? 'slow' : 'fast';
      const other = holder === 'slow' ? 'fast' : 'slow';
      for (let i = 0; i < 10; i++) {
        const r = await request(port, { path: '/quick' });
        assert.equal(r.body.toString(), other, `request ${i} went to the busy server`);
      }
      await pending;
    } finally {
      await gh.stop();
      await slow.close();
      await fast.close();
    }
  });

  test('source keeps each client on one server', async () => {
    const a = await startBackend('web1');
    const b = await startBackend('web2');
    const port = await freePort();
    const gh = await startGatehouse(
      proxyYaml({ port, balance: 'source', servers: [{ name: 'web1', port: a.port }, { name: 'web2', port: b.port }] }),
      [port],
    );
    try {
      const perClient = new Map<string, Set<string>>();
      // Distinct loopback source addresses are distinct clients.
      for (let c = 1; c <= 12; c++) {
        const localAddress = `127.0.0.${c}`;
        for (let i = 0; i < 5; i++) {
          const body = await new Promise<string>((resolve, reject) => {
            http
              .get({ host: '127.0.0.1', port, path: '/', localAddress, agent: false }, (res) => {
                let s = '';
                res.on('data', (d) => (s += d));
                res.on('end', () => resolve(s));
              })
              .on('error', reject);
          });
          if (!perClient.has(localAddress)) perClient.set(localAddress, new Set());
          perClient.get(localAddress)!.add(body);
        }
      }
      for (const [client, servers] of perClient) assert.equal(servers.size, 1, `${client} moved between ${[...servers]}`);
      const used = new Set([...perClient.values()].map((s) => [...s][0]));
      assert.equal(used.size, 2, '12 clients should not all hash to one server');
    } finally {
      await gh.stop();
      await a.close();
      await b.close();
    }
  });
});
