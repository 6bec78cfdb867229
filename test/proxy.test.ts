// End-to-end: real node:http upstreams, gatehouse as a child process, real HTTP clients.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { spawnSync } from 'node:child_process';
import {
  CLI,
  csvCell,
  freePort,
  rawExchange,
  request,
  runCli,
  sleep,
  startBackend,
  startGatehouse,
  statsCsv,
  tmpFile,
  waitForPort,
  type Backend,
} from './helpers/net';

function yamlConfig(opts: {
  port: number;
  servers: { name: string; port: number; weight?: number }[];
  balance?: string;
  workers?: number;
  extraDefaults?: string;
  extraBackend?: string;
}): string {
  return `global:
  workers: ${opts.workers ?? 2}
defaults:
  timeout: { connect: 1s, client: 10s, server: 5s }
  retries: 3
  redispatch: true
  forwardfor: true
${opts.extraDefaults ?? ''}
frontends:
  fe:
    bind: ["127.0.0.1:${opts.port}"]
    default_backend: be
backends:
  be:
    balance: ${opts.balance ?? 'roundrobin'}
${opts.extraBackend ?? ''}
    servers:
${opts.servers.map((s) => `      - { name: ${s.name}, address: "127.0.0.1:${s.port}", weight: ${s.weight ?? 1} }`).join('\n')}
`;
}

/**
 * With one slot and a short `timeout queue`, a request behind one that holds the slot gets a 503
 * in under `withinMs` (before the slot frees), and the first request is still served.
 */
async function assertQueueTimeout(port: number, withinMs: number, message: string): Promise<void> {
  const first = request(port, { path: '/first' });
  await sleep(100);
  const t0 = Date.now();
  const second = await request(port, { path: '/second' });
  assert.equal(second.status, 503);
  assert.ok(Date.now() - t0 < withinMs, message);
  assert.equal((await first).status, 200);
}

describe('roundrobin over 2 workers', () => {
  let a: Backend, b: Backend, port: number, gh: Awaited<ReturnType<typeof startGatehouse>>;
  before(async () => {
    a = await startBackend('web1');
    b = await startBackend('web2');
    port = await freePort();
    gh = await startGatehouse(yamlConfig({ port, servers: [{ name: 'web1', port: a.port }, { name: 'web2', port: b.port }] }), [port]);
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

describe('request and response forwarding', () => {
  let echo: Backend, port: number, gh: Awaited<ReturnType<typeof startGatehouse>>;
  before(async () => {
    echo = await startBackend('echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const u = req.url ?? '';
        if (u.startsWith('/status/')) {
          const code = Number(u.slice(8, 11));
          res.writeHead(code, code === 299 ? 'Quite Fine' : undefined, { 'x-kept': 'yes' });
          res.end(code === 204 || code === 304 ? undefined : 'body');
          return;
        }
        if (u === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('hello ');
          setTimeout(() => res.end('world'), 20);
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.setHeader('connection', 'keep-alive, x-hop');
        res.setHeader('x-hop', 'must not pass');
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            headers: req.headers,
            raw: req.rawHeaders,
            body: body.toString(),
          }),
        );
      });
    });
    port = await freePort();
    gh = await startGatehouse(yamlConfig({ port, workers: 1, servers: [{ name: 'echo', port: echo.port }] }), [port]);
  });
  after(async () => {
    await gh.stop();
    await echo.close();
  });

  test('methods, path and query untouched; Host kept; hop-by-hop removed; XFF appended', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await request(port, {
        method,
        path: '/a/b%20c?x=1&y=%2F&z',
        headers: {
          host: 'example.test',
          'x-custom': 'v1',
          'keep-alive': 'timeout=5',
          te: 'trailers',
          'proxy-authorization': 'secret',
          connection: 'keep-alive, x-listed',
          'x-listed': 'drop me',
          'x-forwarded-for': '10.9.8.7',
        },
        body: method === 'GET' || method === 'DELETE' || method === 'OPTIONS' ? undefined : 'payload',
      });
      assert.equal(r.status, 200, method);
      const got = JSON.parse(r.body.toString());
      assert.equal(got.method, method);
      assert.equal(got.url, '/a/b%20c?x=1&y=%2F&z');
      assert.equal(got.headers.host, 'example.test');
      assert.equal(got.headers['x-custom'], 'v1');
      assert.equal(got.headers['keep-alive'], undefined);
      assert.equal(got.headers.te, undefined);
      assert.equal(got.headers['proxy-authorization'], undefined);
      assert.equal(got.headers['x-listed'], undefined);
      // HAProxy appends its own header line after the client's
      assert.equal(got.headers['x-forwarded-for'], '10.9.8.7, 127.0.0.1');
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') assert.equal(got.body, 'payload');
      // response hop-by-hop headers named in Connection do not reach the client
      assert.equal(r.headers['x-hop'], undefined);
      assert.equal(r.headers['content-type'], 'application/json');
    }
  });

  test('status line keeps the reason phrase; 204 and 304 have no body; HEAD has none', async () => {
    const r = await request(port, { path: '/status/299' });
    assert.equal(r.status, 299);
    assert.equal(r.statusMessage, 'Quite Fine');
    assert.equal(r.headers['x-kept'], 'yes');
    assert.equal(r.body.toString(), 'body');
    // One keep-alive socket, one request at a time: a body wrongly sent after a 204, 304 or
    // HEAD answer would corrupt the next response on the same connection.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const [method, path, status] of [
        ['GET', '/status/204', 204],
        ['GET', '/status/200', 200],
        ['GET', '/status/304', 304],
        ['GET', '/status/200', 200],
        ['HEAD', '/status/200', 200],
        ['GET', '/status/200', 200],
      ] as const) {
        const r = await request(port, { method, path, agent });
        assert.equal(r.status, status, `${method} ${path}`);
        assert.equal(r.body.length, method === 'HEAD' || status !== 200 ? 0 : 4, `${method} ${path} body`);
      }
    } finally {
      agent.destroy();
    }
    const raw = await rawExchange(port, 'GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n', 300);
    assert.match(raw, /^HTTP\/1\.1 204 No Content\r\n/);
    assert.doesNotMatch(raw, /content-length|transfer-encoding/i);
  });

  test('chunked upstream response is streamed to the client', async () => {
    const r = await request(port, { path: '/chunked' });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello world');
  });

  test('chunked request body is forwarded', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/up', agent: false }, (res) => {
        const c: Buffer[] = [];
        res.on('data', (d: Buffer) => c.push(d));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(c).toString()).body));
      });
      req.on('error', reject);
      req.write('part1-');
      setTimeout(() => req.end('part2'), 30);
    });
    assert.equal(body, 'part1-part2');
  });

  test('Connection: close is announced back and the connection then closes cleanly', async () => {
    const raw = await rawExchange(port, 'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 2000);
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(raw, /\r\nconnection: close\r\n/i);
    const kept = await rawExchange(port, 'GET /k HTTP/1.1\r\nHost: x\r\n\r\n', 300);
    assert.doesNotMatch(kept, /\r\nconnection: close\r\n/i);
  });

  test('keep-alive client: many requests on one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 50; i++) {
      const r = await request(port, { path: `/k?i=${i}`, agent });
      assert.equal(JSON.parse(r.body.toString()).url, `/k?i=${i}`);
    }
    agent.destroy();
  });
});

describe('large bodies stream both ways intact', () => {
  let big: Backend, port: number, gh: Awaited<ReturnType<typeof startGatehouse>>;
  // Deterministic pseudo-random bytes so the expected hash is computed independently.
  const block = crypto.createHash('sha512').update('gatehouse').digest();
  const pattern = Buffer.alloc(1 << 16);
  for (let i = 0; i < pattern.length; i++) pattern[i] = block[i % block.length] ^ (i & 0xff);

  function expectedHash(size: number): string {
    const h = crypto.createHash('sha256');
    let left = size;
    while (left > 0) {
      const n = Math.min(left, pattern.length);
      h.update(pattern.subarray(0, n));
      left -= n;
    }
    return h.digest('hex');
  }

  before(async () => {
    big = await startBackend('big', (req, res) => {
      if (req.method === 'POST') {
        const h = crypto.createHash('sha256');
        let n = 0;
        req.on('data', (c: Buffer) => {
          h.update(c);
          n += c.length;
        });
        req.on('end', () => res.end(JSON.stringify({ n, sha: h.digest('hex') })));
        return;
      }
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size'));
      res.writeHead(200, { 'content-length': String(size) });
      let left = size;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, pattern.length);
          left -= n;
          if (!res.write(pattern.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    port = await freePort();
    gh = await startGatehouse(yamlConfig({ port, workers: 1, servers: [{ name: 'big', port: big.port }] }), [port]);
  });
  after(async () => {
    await gh.stop();
    await big.close();
  });

  for (const size of [5 * 1024 * 1024, 200 * 1024 * 1024]) {
    test(`download ${size >> 20} MB`, async () => {
      const got = await new Promise<{ n: number; sha: string }>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: `/dl?size=${size}`, agent: false }, (res) => {
            const h = crypto.createHash('sha256');
            let n = 0;
            res.on('data', (c: Buffer) => {
              h.update(c);
              n += c.length;
            });
            res.on('end', () => resolve({ n, sha: h.digest('hex') }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      assert.equal(got.n, size);
      assert.equal(got.sha, expectedHash(size));
    });

    test(`upload ${size >> 20} MB`, async () => {
      const got = await new Promise<{ n: number; sha: string }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: '/ul', agent: false, headers: { 'content-length': String(size) } },
          (res) => {
            const c: Buffer[] = [];
            res.on('data', (d: Buffer) => c.push(d));
            res.on('end', () => resolve(JSON.parse(Buffer.concat(c).toString())));
          },
        );
        req.on('error', reject);
        let left = size;
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, pattern.length);
            left -= n;
            const ok = req.write(pattern.subarray(0, n));
            if (!ok) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      });
      assert.equal(got.n, size);
      assert.equal(got.sha, expectedHash(size));
    });
  }
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
      yamlConfig({ port, balance: 'leastconn', servers: [{ name: 'slow', port: slow.port }, { name: 'fast', port: fast.port }] }),
      [port],
    );
    try {
      // Occupy one server with a slow request, then every quick request must avoid it.
      const pending = request(port, { path: '/slow' });
      await sleep(200);
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
      yamlConfig({ port, balance: 'source', servers: [{ name: 'web1', port: a.port }, { name: 'web2', port: b.port }] }),
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

describe('error answers', () => {
  test('503 when no server accepts connections (after retries)', async () => {
    const dead1 = await freePort();
    const dead2 = await freePort();
    const port = await freePort();
    const gh = await startGatehouse(yamlConfig({ port, servers: [{ name: 'a', port: dead1 }, { name: 'b', port: dead2 }] }), [port]);
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
      yamlConfig({ port, workers: 1, servers: [{ name: 'dead', port: dead }, { name: 'live', port: live.port }] }),
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
    const gh = await startGatehouse(yamlConfig({ port, workers: 1, servers: [{ name: 'bad', port: gport }] }), [port]);
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
    const cfg = yamlConfig({ port, workers: 1, servers: [{ name: 'mute', port: mute.port }] }).replace('server: 5s', 'server: 400ms');
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
      yamlConfig({ port, servers: [{ name: 'web1', port: a.port, weight: 0 }, { name: 'web2', port: b.port }] }),
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

describe('CLI and lifecycle', () => {
  test('-c accepts a valid file and reports errors with file:line:col', async () => {
    const good = tmpFile('good.yaml', yamlConfig({ port: 18080, servers: [{ name: 'a', port: 18081 }] }));
    const ok = runCli(['-c', '-f', good]);
    assert.equal(await ok.exited, 0);
    assert.match(ok.output(), /Configuration file is valid/);

    const text = yamlConfig({ port: 18080, servers: [{ name: 'a', port: 18081 }] }).replace('balance: roundrobin', 'balanse: roundrobin');
    const bad = tmpFile('bad.yaml', text);
    const p = runCli(['-c', '-f', bad]);
    assert.equal(await p.exited, 1);
    const line = text.split('\n').findIndex((l) => l.includes('balanse')) + 1;
    assert.match(p.output(), new RegExp(`bad\\.yaml:${line}:\\d+`));
    assert.match(p.output(), /balance/); // did-you-mean
  });

  test('SIGTERM lets an in-flight request finish, then exits 0', async () => {
    const slow = await startBackend('slow', (_req, res) => setTimeout(() => res.end('finished'), 800));
    const port = await freePort();
    const gh = await startGatehouse(yamlConfig({ port, servers: [{ name: 'slow', port: slow.port }] }), [port]);
    try {
      const inflight = request(port);
      await sleep(200);
      gh.child.kill('SIGTERM');
      const r = await inflight;
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'finished');
      assert.equal(await gh.exited, 0);
      assert.doesNotMatch(gh.output(), /Abort|core dumped|Assertion/i);
      // no longer accepting
      await assert.rejects(request(port));
    } finally {
      await gh.stop('SIGKILL');
      await slow.close();
    }
  });
});

describe('stop signal during startup', () => {
  test('SIGTERM the moment the port accepts (before the start completes): a graceful stop, exit 0', async () => {
    const be = await startBackend('b');
    const port = await freePort();
    const gh = runCli(['-f', tmpFile('early.yaml', yamlConfig({ port, servers: [{ name: 'b', port: be.port }] }))]);
    try {
      // poll much faster than waitForPort: the window between the workers listening and the
      // primary's handlers being in place is a few milliseconds
      for (let i = 0; i < 5000; i++) {
        const up = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          s.once('connect', () => (s.destroy(), resolve(true)));
          s.once('error', () => resolve(false));
        });
        if (up) break;
        await sleep(2);
      }
      gh.child.kill('SIGTERM');
      assert.equal(await gh.exited, 0, `killed by the signal instead of stopping: ${gh.output()}`);
      assert.match(gh.output(), /SIGTERM received/);
    } finally {
      await gh.stop('SIGKILL');
      await be.close();
    }
  });
});

describe('crash recovery', () => {
  test('a worker that crashes is replaced; the others keep serving', async () => {
    const a = await startBackend('web1');
    const port = await freePort();
    const cfgPath = tmpFile('crash.yaml', yamlConfig({ port, servers: [{ name: 'web1', port: a.port }] }));
    const gh = runCli(['-f', cfgPath], { GATEHOUSE_TEST_HOOKS: '1' });
    try {
      await waitForPort(port, 15000, gh);
      // Crash each worker (the kernel picks which one accepts), serving between crashes.
      let crashes = 0;
      for (let round = 0; round < 6; round++) {
        await request(port, { path: '/.gatehouse/crash-worker' }).catch(() => undefined);
        crashes++;
        for (let i = 0; i < 5; i++) {
          const r = await request(port).catch(() => null);
          if (r !== null) assert.equal(r.status, 200);
        }
      }
      // Once the restarts are done, every request succeeds again.
      await sleep(1500);
      for (let i = 0; i < 20; i++) assert.equal((await request(port)).status, 200);
      assert.equal(gh.child.exitCode, null, 'the process must survive worker crashes');
      assert.match(gh.output(), /worker \d crashed: Error: crash requested by a test hook/);
      assert.match(gh.output(), /worker \d restarted/);
      assert.ok(crashes > 0);
    } finally {
      await gh.stop();
      await a.close();
    }
  });
});

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
    const cfg = yamlConfig({ port, workers: 1, servers: [{ name: 'be', port: be.port }] })
      .replace('client: 10s', 'client: 500ms')
      .replace('server: 5s', 'server: 30s'); // only timeout client may cut here
    const gh = await startGatehouse(cfg, [port]);
    try {
      // 10 of 100 announced bytes, then silence
      const raw = await rawExchange(port, 'POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789', 3000);
      assert.match(raw, /^HTTP\/1\.1 408 /);
      await sleep(200);
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

describe('access log', () => {
  test('one httplog line per request, HAProxy fields, whole-millisecond timers', async () => {
    const a = await startBackend('web1');
    const port = await freePort();
    const cfg = yamlConfig({ port, workers: 1, servers: [{ name: 'web1', port: a.port }] })
      .replace('global:\n', 'global:\n  log: [{ target: stdout }]\n')
      .replace('  forwardfor: true\n', '  forwardfor: true\n  httplog: true\n');
    const gh = await startGatehouse(cfg, [port]);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: `/logged?i=${i}` })).status, 200);
      await sleep(400); // lines are batched off the request path
      const lines = gh.output().split('\n').filter((l) => l.includes('"GET /logged'));
      assert.equal(lines.length, 3, gh.output());
      const re = /^127\.0\.0\.1:\d+ \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe be\/web1 (-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+)\/(\d+) 200 \d+ - - \S{4} \d+\/\d+\/\d+\/\d+\/0 \d+\/\d+ "GET \/logged\?i=\d HTTP\/1\.1"$/;
      for (const l of lines) assert.match(l.replace(/^.*?(127\.0\.0\.1:)/, '$1'), re);
    } finally {
      await gh.stop();
      await a.close();
    }
  });
});

describe('long uploads', () => {
  test('an upload trickling for longer than the 10 s uWS timer still completes', async () => {
    const be = await startBackend('be', (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(`got ${n}`));
    });
    const port = await freePort();
    const gh = await startGatehouse(yamlConfig({ port, workers: 1, servers: [{ name: 'be', port: be.port }] }), [port]);
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write('POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n');
          let i = 0;
          const t = setInterval(() => {
            s.write('x');
            if (++i === 13) clearInterval(t);
          }, 1000); // 13 s in all, each gap well inside timeout client (10 s)
        });
        let out = '';
        s.on('data', (d) => {
          out += d;
          if (out.includes('got ')) {
            s.destroy();
            resolve(out);
          }
        });
        s.on('close', () => resolve(out));
        s.on('error', reject);
      });
      assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(reply, /got 13$/);
    } finally {
      await gh.stop();
      await be.close();
    }
  });
});

/** A stats listener on `port` (appended to a yamlConfig()). */
function statsListen(port: number): string {
  return `listen:\n  stats:\n    bind: ["127.0.0.1:${port}"]\n    stats: { enable: true, uri: /stats }\n`;
}

describe('maxconn and the queue', () => {
  test('requests beyond a server maxconn wait for a slot; the server never sees more', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = await startBackend('slow', (req, res) => {
      req.resume();
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('ok');
      }, 150);
    });
    const port = await freePort();
    const cfg = yamlConfig({ port, servers: [{ name: 'slow', port: slow.port }] }).replace(
      `address: "127.0.0.1:${slow.port}", weight: 1 }`,
      `address: "127.0.0.1:${slow.port}", weight: 1, maxconn: 1 }`,
    );
    assert.match(cfg, /maxconn: 1/);
    const statsPort = await freePort();
    const gh = await startGatehouse(cfg + statsListen(statsPort), [port, statsPort]);
    try {
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => request(port, { path: `/q${i}` })));
      for (const r of replies) assert.equal(r.status, 200);
      assert.equal(peak, 1, 'the server saw more than maxconn requests at once');
      assert.equal(slow.hits, 6);
      // high-water marks in the stats: one at a time on the server, others waited in the queue
      const rows = await statsCsv(statsPort, '/stats');
      assert.equal(csvCell(rows, 'be', 'slow', 'smax'), 1);
      assert.equal(csvCell(rows, 'be', 'BACKEND', 'smax'), 1);
      assert.ok(csvCell(rows, 'be', 'BACKEND', 'qmax') >= 1, 'backend qmax');
      assert.equal(csvCell(rows, 'be', 'BACKEND', 'qcur'), 0);
    } finally {
      await gh.stop();
      await slow.close();
    }
  });

  test('a request queued longer than timeout queue gets 503', async () => {
    const slow = await startBackend('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('ok'), 1500);
    });
    const port = await freePort();
    const cfg = yamlConfig({ port, workers: 1, servers: [{ name: 'slow', port: slow.port }] })
      .replace(`weight: 1 }`, `weight: 1, maxconn: 1 }`)
      .replace('timeout: { connect: 1s,', 'timeout: { queue: 300ms, connect: 1s,');
    const gh = await startGatehouse(cfg, [port]);
    try {
      await assertQueueTimeout(port, 1400, 'the queued request waited for the slot instead of timing out');
      assert.equal(slow.hits, 1);
    } finally {
      await gh.stop();
      await slow.close();
    }
  });
});

describe('option forwardfor except / header / if-none', () => {
  /** A backend that answers with the forwarded-for headers it received, as JSON. */
  async function headerEcho() {
    return startBackend('echo', (req, res) => {
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ xff: req.headers['x-forwarded-for'] ?? null, real: req.headers['x-real-ip'] ?? null }));
    });
  }
  const seen = async (port: number, headers: Record<string, string> = {}) => JSON.parse((await request(port, { headers })).body.toString()) as { xff: string | null; real: string | null };

  test('YAML: a client inside `except` gets no header; another header name; if_none keeps the client\'s', async () => {
    const echo = await headerEcho();
    const p1 = await freePort();
    const p2 = await freePort();
    const p3 = await freePort();
    const p4 = await freePort();
    const fe = (name: string, port: number, xff: string) => `  ${name}: { bind: ["127.0.0.1:${port}"], default_backend: be, forwardfor: ${xff} }\n`;
    const cfg = `global: { workers: 1 }
defaults:
  timeout: { connect: 1s, client: 5s, server: 5s }
frontends:
${fe('inside', p1, '{ except: 127.0.0.0/8 }')}${fe('outside', p2, '{ except: "10.0.0.0/8" }')}${fe('named', p3, '{ header: X-Real-IP }')}${fe('ifnone', p4, '{ if_none: true }')}backends:
  be:
    servers: [{ name: echo, address: "127.0.0.1:${echo.port}" }]
`;
    const gh = await startGatehouse(cfg, [p1, p2, p3, p4]);
    try {
      assert.deepEqual(await seen(p1), { xff: null, real: null });
      assert.deepEqual(await seen(p2), { xff: '127.0.0.1', real: null });
      assert.deepEqual(await seen(p3), { xff: null, real: '127.0.0.1' });
      assert.deepEqual(await seen(p4, { 'x-forwarded-for': '203.0.113.9' }), { xff: '203.0.113.9', real: null });
      assert.deepEqual(await seen(p4), { xff: '127.0.0.1', real: null });
    } finally {
      await gh.stop();
      await echo.close();
    }
  });

  test('haproxy.cfg: `option forwardfor except 127.0.0.0/8` in defaults; the backend\'s own options win', async () => {
    const echo = await headerEcho();
    const p1 = await freePort();
    const p2 = await freePort();
    const cfg = `global
  nbthread 1
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
  option forwardfor except 127.0.0.0/8
frontend a
  bind 127.0.0.1:${p1}
  default_backend plain
frontend b
  bind 127.0.0.1:${p2}
  default_backend named
backend plain
  server echo 127.0.0.1:${echo.port}
backend named
  option forwardfor header X-Real-IP if-none
  server echo 127.0.0.1:${echo.port}
`;
    const gh = await startGatehouse(cfg, [p1, p2], { ext: '.cfg' });
    try {
      assert.deepEqual(await seen(p1), { xff: null, real: null });
      assert.deepEqual(await seen(p2), { xff: null, real: '127.0.0.1' });
      assert.deepEqual(await seen(p2, { 'x-real-ip': '198.51.100.4' }), { xff: null, real: '198.51.100.4' });
    } finally {
      await gh.stop();
      await echo.close();
    }
  });

  test('bad arguments are configuration errors', () => {
    const r1 = spawnSync(process.execPath, [CLI, '-c', '-f', tmpFile('x.cfg', 'frontend f\n  bind 127.0.0.1:1\n  option forwardfor sometimes\n')], { encoding: 'utf8' });
    assert.equal(r1.status, 1);
    assert.match(r1.stderr + r1.stdout, /x\.cfg:3:\d+: error: unknown 'option forwardfor' argument 'sometimes'/);
    const r2 = spawnSync(process.execPath, [CLI, '-c', '-f', tmpFile('x.yaml', 'frontends:\n  f: { bind: ["127.0.0.1:1"], forwardfor: { except: 300.1.1.1/8 } }\n')], { encoding: 'utf8' });
    assert.equal(r2.status, 1);
    assert.match(r2.stderr + r2.stdout, /forwardfor\.except: invalid network/);
  });
});

describe('frontend and global maxconn', () => {
  /**
   * A backend that holds each request `ms` and records the peak of concurrent requests; backends
   * given the same `seen` record the peak of their sum (the sum of separate peaks, reached at
   * different moments, would overstate it).
   */
  async function peakBackend(ms: number, seen = { inFlight: 0, peak: 0 }) {
    const be = await startBackend('slow', (req, res) => {
      req.resume();
      seen.inFlight++;
      seen.peak = Math.max(seen.peak, seen.inFlight);
      setTimeout(() => {
        seen.inFlight--;
        res.end('ok');
      }, ms);
    });
    return { be, seen };
  }

  for (const where of ['frontend', 'global'] as const) {
    test(`${where} maxconn 2: requests beyond it wait over 2 workers; none is lost`, async () => {
      // two servers without their own maxconn: only the frontend/global limit can hold requests back
      const both = { inFlight: 0, peak: 0 };
      const a = await peakBackend(150, both);
      const b = await peakBackend(150, both);
      const port = await freePort();
      // timeout queue well above the 4 rounds of 150 ms the 8 requests need
      let cfg = yamlConfig({ port, servers: [{ name: 'a', port: a.be.port }, { name: 'b', port: b.be.port }] }).replace(
        'timeout: { connect: 1s,',
        'timeout: { queue: 5s, connect: 1s,',
      );
      cfg =
        where === 'frontend'
          ? cfg.replace('    default_backend: be', '    default_backend: be\n    maxconn: 2')
          : cfg.replace('global:\n', 'global:\n  maxconn: 2\n');
      assert.match(cfg, /maxconn: 2/);
      const statsPort = await freePort();
      const gh = await startGatehouse(cfg + statsListen(statsPort), [port, statsPort]);
      try {
        const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => request(port, { path: `/m${i}` })));
        for (const r of replies) assert.equal(r.status, 200);
        assert.equal(a.be.hits + b.be.hits, 8);
        // the frontend's smax is the most requests in progress at once: the limit, reached
        const rows = await statsCsv(statsPort, '/stats');
        assert.equal(csvCell(rows, 'fe', 'FRONTEND', 'smax'), 2);
        assert.equal(csvCell(rows, 'fe', 'FRONTEND', 'scur'), 0);
        // the limit is shared by both workers
        assert.equal(both.peak, 2, `the servers saw ${both.peak} requests at once`);
      } finally {
        await gh.stop();
        await a.be.close();
        await b.be.close();
      }
    });
  }

  test('a request waiting for a frontend slot longer than timeout queue gets 503, then slots are back', async () => {
    const slow = await peakBackend(1200);
    const port = await freePort();
    const cfg = yamlConfig({ port, workers: 1, servers: [{ name: 'slow', port: slow.be.port }] })
      .replace('    default_backend: be', '    default_backend: be\n    maxconn: 1')
      .replace('timeout: { connect: 1s,', 'timeout: { queue: 300ms, connect: 1s,');
    const gh = await startGatehouse(cfg, [port]);
    try {
      await assertQueueTimeout(port, 1100, 'the waiting request got the slot instead of timing out');
      assert.equal(slow.be.hits, 1);
      // the slot was given back: later requests pass one after another
      for (let i = 0; i < 2; i++) assert.equal((await request(port, { path: `/after${i}` })).status, 200);
      assert.equal(slow.seen.peak, 1);
    } finally {
      await gh.stop();
      await slow.be.close();
    }
  });
});

describe('streaming uploads', () => {
  // The server answers as soon as it has the head and echoes each body chunk: a client that
  // waits for the answer before sending its body must not deadlock.
  let be: Backend, port: number, gh: Awaited<ReturnType<typeof startGatehouse>>;
  before(async () => {
    be = await startBackend('stream', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('ready;');
      req.on('data', (d: Buffer) => res.write(d));
      req.on('end', () => res.end(';done'));
    });
    port = await freePort();
    gh = await startGatehouse(yamlConfig({ port, workers: 1, servers: [{ name: 's', port: be.port }] }), [port]);
  });
  after(async () => {
    await gh.stop();
    await be.close();
  });

  async function waitThenSend(head: string, body: string[]): Promise<string> {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    const until = async (what: string, pred: () => boolean) => {
      for (let i = 0; i < 300 && !pred(); i++) await sleep(10);
      assert.ok(pred(), `${what}; got so far: ${JSON.stringify(got)}`);
    };
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.write(head);
    await until('the answer starts before any body byte is sent', () => got.includes('ready;'));
    for (const part of body) sock.write(part);
    await until('the body comes back and the answer ends', () => got.includes('hello') && got.includes(';done'));
    sock.destroy();
    return got;
  }

  test('chunked: the server sees the head before any body byte; both directions stream', async () => {
    const got = await waitThenSend('POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ['5\r\nhello\r\n', '0\r\n\r\n']);
    assert.match(got, /^HTTP\/1\.1 200 /);
  });

  test('Content-Length: a head held for its body still goes out when the body is late', async () => {
    const got = await waitThenSend('POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n', ['hello']);
    assert.match(got, /^HTTP\/1\.1 200 /);
  });
});
