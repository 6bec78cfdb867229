// End-to-end forwarding: what reaches the server and what comes back (methods, targets,
// hop-by-hop headers, forwarded-for, status lines, chunked bodies, keep-alive), and the access log.
// Real node:http upstreams, gatehouse as a child process, real HTTP clients.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { spawnSync } from 'node:child_process';
import {
  CLI,
  freePort,
  rawExchange,
  request,
  startBackend,
  startGatehouse,
  tmpFile,
  type Backend,
} from './helpers/net';
import { proxyYaml } from './helpers/config';
import { waitForOutput } from './helpers/wait';

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
    gh = await startGatehouse(proxyYaml({ port, workers: 1, servers: [{ name: 'echo', port: echo.port }] }), [port]);
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

describe('access log', () => {
  test('one httplog line per request, HAProxy fields, whole-millisecond timers', async () => {
    const a = await startBackend('web1');
    const port = await freePort();
    const cfg = proxyYaml({ port, workers: 1, servers: [{ name: 'web1', port: a.port }] })
      .replace('global:\n', 'global:\n  log: [{ target: stdout }]\n')
      .replace('  forwardfor: true\n', '  forwardfor: true\n  httplog: true\n');
    const gh = await startGatehouse(cfg, [port]);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await request(port, { path: `/logged?i=${i}` })).status, 200);
      // lines are batched off the request path
      await waitForOutput(gh, /"GET \/logged/, 3, 5000).catch(() => undefined);
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
