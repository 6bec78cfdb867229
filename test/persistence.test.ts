// Cookie persistence end to end: real backends, gatehouse with 2 workers, real clients.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, request, startBackend, startGatehouse, type Backend } from './helpers/net';

function config(port: number, servers: { name: string; port: number }[], cookieLine: string): string {
  return `global: { workers: 2 }
defaults:
  timeout: { connect: 1s, server: 5s }
  retries: 2
  redispatch: true
frontends:
  fe: { bind: ["127.0.0.1:${port}"], default_backend: be }
backends:
  be:
    balance: roundrobin
    cookie: ${cookieLine}
    servers:
${servers.map((s) => `      - { name: ${s.name}, address: "127.0.0.1:${s.port}", cookie: ${s.name} }`).join('\n')}
`;
}

/** Backend that answers its name and the Cookie header it received. */
function cookieEcho(name: string): Promise<Backend> {
  return startBackend(name, (req, res) => {
    req.resume();
    res.setHeader('content-type', 'text/plain');
    // a validator makes the answer cacheable in HAProxy's eyes (see nocache)
    if (req.url === '/cacheable') res.setHeader('last-modified', 'Mon, 23 Nov 2026 10:00:00 GMT');
    res.end(`${name}|${req.headers.cookie ?? ''}`);
  });
}

describe('cookie insert indirect nocache', () => {
  let a: Backend, b: Backend, port: number, gh: Awaited<ReturnType<typeof startGatehouse>>;
  before(async () => {
    a = await cookieEcho('web1');
    b = await cookieEcho('web2');
    port = await freePort();
    gh = await startGatehouse(
      config(port, [{ name: 'web1', port: a.port }, { name: 'web2', port: b.port }], '{ name: SERVERID, mode: insert, indirect: true, nocache: true }'),
      [port],
    );
  });
  after(async () => {
    await gh.stop();
    await a.close();
    await b.close();
  });

  test('first answer inserts SERVERID; nocache marks a cacheable answer private', async () => {
    const r = await request(port, { path: '/cacheable' });
    const server = r.body.toString().split('|')[0];
    assert.deepEqual(r.headers['set-cookie'], [`SERVERID=${server}; path=/`]);
    assert.equal(r.headers['cache-control'], 'private');
    // no validator and no freshness: HAProxy 2.6 does not consider it cacheable
    const plain = await request(port, { path: '/plain' });
    assert.equal(plain.headers['set-cookie']?.length, 1);
    assert.equal(plain.headers['cache-control'], undefined);
  });

  test('a client with the cookie stays on its server, which never sees the cookie, and gets no new one', async () => {
    for (const pinned of ['web1', 'web2']) {
      for (let i = 0; i < 12; i++) {
        const r = await request(port, { headers: { cookie: `lang=en; SERVERID=${pinned}; theme=dark` } });
        const [server, seen] = r.body.toString().split('|');
        assert.equal(server, pinned, `request ${i} left ${pinned}`);
        assert.equal(seen, 'lang=en; theme=dark');
        assert.equal(r.headers['set-cookie'], undefined);
      }
    }
  });

  test('a forged value is balanced normally and gets a real cookie', async () => {
    const r = await request(port, { headers: { cookie: 'SERVERID=web9' } });
    const server = r.body.toString().split('|')[0];
    assert.ok(server === 'web1' || server === 'web2');
    assert.deepEqual(r.headers['set-cookie'], [`SERVERID=${server}; path=/`]);
  });
});

test('a cookie naming a dead server is redispatched and re-pinned', async () => {
  const live = await cookieEcho('live');
  const deadPort = await freePort();
  const port = await freePort();
  const gh = await startGatehouse(
    config(port, [{ name: 'dead', port: deadPort }, { name: 'live', port: live.port }], '{ name: SERVERID, mode: insert, indirect: true }'),
    [port],
  );
  try {
    const r = await request(port, { headers: { cookie: 'SERVERID=dead' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString().split('|')[0], 'live');
    assert.deepEqual(r.headers['set-cookie'], ['SERVERID=live; path=/']);
  } finally {
    await gh.stop();
    await live.close();
  }
});

test('prefix mode prefixes the application cookie and strips it on the way back', async () => {
  const app = await startBackend('app', (req, res) => {
    req.resume();
    res.setHeader('set-cookie', 'JSESSIONID=abc123; Path=/');
    res.end(`app|${req.headers.cookie ?? ''}`);
  });
  const port = await freePort();
  const gh = await startGatehouse(config(port, [{ name: 's1', port: app.port }], '{ name: JSESSIONID, mode: prefix }'), [port]);
  try {
    const first = await request(port);
    assert.deepEqual(first.headers['set-cookie'], ['JSESSIONID=s1~abc123; Path=/']);
    const again = await request(port, { headers: { cookie: 'JSESSIONID=s1~abc123' } });
    assert.equal(again.body.toString(), 'app|JSESSIONID=abc123');
  } finally {
    await gh.stop();
    await app.close();
  }
});
