// HTTP/2 to clients on a plain bind (`bind ... proto h2`, h2c with prior knowledge), served by
// node:http2 on the node engine: real clients (h2load, curl --http2-prior-knowledge, node:http2)
// through gatehouse to real HTTP/1.1 servers; the same curl against HAProxy 2.6 on the same
// haproxy.cfg.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { H2Front } from '../src/front-h2/server';
import { H2_DEFAULTS } from '../src/config/model';
import { freePort, runCli, startBackend, startGatehouse, tmpFile, type Backend } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';

const hasH2load = spawnSync('h2load', ['--version']).status === 0;
const hasCurlH2 = /HTTP2/.test(spawnSync('curl', ['--version']).stdout?.toString() ?? '');

const cfg = (port: number, a: Backend, b: Backend, api: Backend, extra = '') => `global
  nbthread 1
  log stdout format raw local0
${extra}defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:${port} proto h2
  use_backend api if { path_beg /api }
  default_backend app
backend app
  cookie SRV insert indirect nocache
  server a 127.0.0.1:${a.port} cookie a
  server b 127.0.0.1:${b.port} cookie b
backend api
  server api 127.0.0.1:${api.port}
`;

/** An upstream that reads the whole body and answers its name, the body's size and digest; /big: 1 MB of its own. */
const BIG = crypto.randomBytes(1024 * 1024);
const BIG_SHA = crypto.createHash('sha256').update(BIG).digest('hex');
function digestBackend(name: string): Promise<Backend> {
  return startBackend(name, (req, res) => {
    const h = crypto.createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      h.update(c);
    });
    req.on('end', () => {
      res.setHeader('X-Server', name);
      res.setHeader('X-Got', `${n} ${h.digest('hex')}`);
      res.setHeader('X-Host', req.headers.host ?? '');
      res.setHeader('X-TE', req.headers['transfer-encoding'] ?? '');
      if (req.url === '/big') res.end(BIG);
      else res.end(`${name} ${req.method} ${req.url}\n`);
    });
  });
}

function run(cmd: string, args: string[], timeoutMs = 60000): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, stdout, stderr: stderr.toString() });
    });
  });
}

/** curl -i over h2c; the head and body apart. */
async function curlH2(port: number, path: string, extra: string[] = []): Promise<{ status: number; version: string; headers: Map<string, string[]>; body: Buffer }> {
  const r = await run('curl', ['-sS', '-i', '--http2-prior-knowledge', ...extra, `http://127.0.0.1:${port}${path}`]);
  assert.equal(r.code, 0, r.stderr);
  const cut = r.stdout.indexOf('\r\n\r\n');
  const head = r.stdout.subarray(0, cut).toString('latin1').split('\r\n');
  const [version, status] = head[0].split(' ');
  const headers = new Map<string, string[]>();
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    const n = line.slice(0, i).toLowerCase();
    headers.set(n, [...(headers.get(n) ?? []), line.slice(i + 1).trim()]);
  }
  return { status: Number(status), version, headers, body: r.stdout.subarray(cut + 4) };
}

async function setup(extra = '') {
  const a = await digestBackend('a');
  const b = await digestBackend('b');
  const api = await digestBackend('api');
  const port = await freePort();
  const gh = await startGatehouse(cfg(port, a, b, api, extra), [port], { ext: '.cfg' });
  return {
    port,
    gh,
    async close() {
      await gh.stop();
      await Promise.all([a.close(), b.close(), api.close()]);
    },
  };
}

test('h2load -n 2000 -c 10 -m 10 through gatehouse: every request succeeds', { skip: hasH2load ? false : 'h2load not installed' }, async () => {
  const s = await setup();
  try {
    const r = await run('h2load', ['-n', '2000', '-c', '10', '-m', '10', `http://127.0.0.1:${s.port}/`], 120000);
    const out = r.stdout.toString();
    assert.match(out, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout/, out);
    assert.match(out, /status codes: 2000 2xx/, out);
  } finally {
    await s.close();
  }
});

test('40 concurrent streams on one connection: each gets its own answer (the body of its own URL)', { skip: hasCurlH2 ? false : 'curl without HTTP/2' }, async () => {
  const s = await setup();
  try {
    const urls = Array.from({ length: 40 }, (_, i) => `http://127.0.0.1:${s.port}/s/${i}`);
    const r = await run('curl', ['-sS', '--http2-prior-knowledge', '--parallel', '--parallel-immediate', '--parallel-max', '40', ...urls]);
    assert.equal(r.code, 0, r.stderr);
    const got = r.stdout.toString().trim().split('\n').map((l) => l.replace(/^[ab] GET /, '')).sort();
    assert.deepEqual(got, urls.map((_, i) => `/s/${i}`).sort(), 'every stream its own body, none twice');
  } finally {
    await s.close();
  }
});

test('curl --http2-prior-knowledge: GET, a 1 MB POST and a 1 MB answer arrive intact; :authority is the Host', { skip: hasCurlH2 ? false : 'curl without HTTP/2' }, async () => {
  const s = await setup();
  try {
    const g = await curlH2(s.port, '/hello?x=1');
    assert.equal(g.version, 'HTTP/2');
    assert.equal(g.status, 200);
    assert.match(g.body.toString(), /^[ab] GET \/hello\?x=1\n$/);
    assert.deepEqual(g.headers.get('x-host'), [`127.0.0.1:${s.port}`]);
    // no HTTP/1.1 connection fields in an h2 answer
    assert.equal(g.headers.get('connection'), undefined);
    assert.equal(g.headers.get('keep-alive'), undefined);

    const body = tmpFile('up.bin', '');
    const up = crypto.randomBytes(1024 * 1024);
    fs.writeFileSync(body, up);
    const p = await curlH2(s.port, '/upload', ['--data-binary', `@${body}`]);
    assert.equal(p.status, 200);
    assert.deepEqual(p.headers.get('x-got'), [`${up.length} ${crypto.createHash('sha256').update(up).digest('hex')}`]);

    const big = await curlH2(s.port, '/big');
    assert.equal(big.status, 200);
    assert.equal(big.body.length, BIG.length);
    assert.equal(crypto.createHash('sha256').update(big.body).digest('hex'), BIG_SHA);
  } finally {
    await s.close();
  }
});

test('a request body without content-length streams to the server chunked, with backpressure both ways', async () => {
  const s = await setup();
  const client = http2.connect(`http://127.0.0.1:${s.port}`);
  try {
    // 4 MB, well beyond the 64 KB stream window: gatehouse must keep granting window as the server reads
    const parts = Array.from({ length: 64 }, () => crypto.randomBytes(64 * 1024));
    const sha = crypto.createHash('sha256');
    for (const p of parts) sha.update(p);
    const req = client.request({ ':method': 'POST', ':path': '/stream' });
    const head = new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    let i = 0;
    const pump = () => {
      while (i < parts.length) if (!req.write(parts[i++])) return void req.once('drain', pump);
      req.end();
    };
    pump();
    req.resume();
    const h = await head;
    await new Promise((r) => req.on('end', r));
    assert.equal(h[':status'], 200);
    assert.equal(h['x-te'], 'chunked');
    assert.equal(h['x-got'], `${64 * 64 * 1024} ${sha.digest('hex')}`);
  } finally {
    client.close();
    await s.close();
  }
});

test('SETTINGS: HAProxy\'s h2 defaults, and tune.h2.* when set', async () => {
  const settingsOf = async (extra: string) => {
    const s = await setup(extra);
    const client = http2.connect(`http://127.0.0.1:${s.port}`);
    try {
      const got = await new Promise<http2.Settings>((resolve) => client.once('remoteSettings', resolve));
      return got;
    } finally {
      client.close();
      await s.close();
    }
  };
  const d = await settingsOf('');
  assert.equal(d.maxConcurrentStreams, 100);
  assert.equal(d.initialWindowSize, 65535);
  assert.equal(d.headerTableSize, 4096);
  assert.equal(d.maxHeaderListSize, 16384);
  const t = await settingsOf('  tune.h2.max-concurrent-streams 5\n  tune.h2.initial-window-size 1048576\n  tune.h2.header-table-size 8192\n  tune.bufsize 32768\n');
  assert.equal(t.maxConcurrentStreams, 5);
  assert.equal(t.initialWindowSize, 1048576);
  assert.equal(t.headerTableSize, 8192);
  assert.equal(t.maxHeaderListSize, 32768);
});

test('Expect: 100-continue over h2: the client hears 100 before it sends the body', async () => {
  const s = await setup();
  const client = http2.connect(`http://127.0.0.1:${s.port}`);
  try {
    const body = crypto.randomBytes(200 * 1024);
    const req = client.request({ ':method': 'POST', ':path': '/expect', expect: '100-continue', 'content-length': String(body.length) });
    const heard = await new Promise<boolean>((resolve) => {
      req.on('continue', () => resolve(true));
      req.on('response', () => resolve(false));
      setTimeout(() => resolve(false), 3000);
    });
    assert.equal(heard, true, 'a 100 (Continue) before the answer');
    const head = new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    req.end(body);
    req.resume();
    const h = await head;
    assert.equal(h[':status'], 200);
    assert.equal(h['x-got'], `${body.length} ${crypto.createHash('sha256').update(body).digest('hex')}`);
  } finally {
    client.close();
    await s.close();
  }
});

test('over h2: cookie persistence, a use_backend rule, and the access log says HTTP/2.0', { skip: hasCurlH2 ? false : 'curl without HTTP/2' }, async () => {
  const s = await setup();
  try {
    const first = await curlH2(s.port, '/logme');
    const set = first.headers.get('set-cookie')?.[0] ?? '';
    const m = /^SRV=([ab]);/.exec(set);
    assert.ok(m, `set-cookie: ${set}`);
    for (const who of ['a', 'b']) {
      for (let i = 0; i < 4; i++) {
        const r = await curlH2(s.port, '/', ['-H', `cookie: SRV=${who}`]);
        assert.deepEqual(r.headers.get('x-server'), [who]);
        // indirect: the server does not see the persistence cookie, the client is not told again
        assert.equal(r.headers.get('set-cookie'), undefined);
      }
    }
    const api = await curlH2(s.port, '/api/v1');
    assert.deepEqual(api.headers.get('x-server'), ['api']);
    for (let i = 0; i < 50 && !/"GET \/api\/v1 HTTP\/2\.0"/.test(s.gh.output()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(s.gh.output(), / fe app\/[ab] .* 200 .*"GET \/logme HTTP\/2\.0"/);
    assert.match(s.gh.output(), / fe api\/api .* 200 .*"GET \/api\/v1 HTTP\/2\.0"/);
  } finally {
    await s.close();
  }
});

test('garbage on the h2c port closes that connection only; another h2 client keeps working', async () => {
  const s = await setup();
  const client = http2.connect(`http://127.0.0.1:${s.port}`);
  try {
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const r = client.request({ ':path': path });
        r.on('response', (h) => resolve(Number(h[':status'])));
        r.on('error', reject);
        r.resume();
      });
    assert.equal(await get('/before'), 200);
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), crypto.randomBytes(4096), Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), crypto.randomBytes(512)])]) {
      const closed = await new Promise<boolean>((resolve) => {
        const sock = net.connect(s.port, '127.0.0.1', () => sock.write(junk));
        sock.on('error', () => {});
        sock.resume();
        const t = setTimeout(() => {
          sock.destroy();
          resolve(false);
        }, 5000);
        sock.on('close', () => {
          clearTimeout(t);
          resolve(true);
        });
      });
      assert.ok(closed, 'gatehouse closes a connection that speaks garbage');
      assert.equal(await get('/during'), 200);
    }
    assert.equal(s.gh.child.exitCode, null);
    for (let i = 0; i < 50 && !/<BADREQ>/.test(s.gh.output()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(s.gh.output(), /fe fe\/<NOSRV> .* 400 .*<BADREQ>/);
  } finally {
    client.close();
    await s.close();
  }
});

for (const [signal, what] of [['SIGTERM', 'stop'], ['SIGHUP', 'reload']] as const) {
  test(`${what}: GOAWAY, and a stream in flight still gets its whole answer`, async () => {
    const slow = await startBackend('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('late answer'), 800);
    });
    const port = await freePort();
    const gh = await startGatehouse(
      `global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\nfrontend fe\n  bind 127.0.0.1:${port} proto h2\n  default_backend be\nbackend be\n  server s 127.0.0.1:${slow.port}\n`,
      [port],
      { ext: '.cfg' },
    );
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const goaway = new Promise<boolean>((resolve) => {
        client.on('goaway', () => resolve(true));
        setTimeout(() => resolve(false), 5000);
      });
      client.on('error', () => {});
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const r = client.request({ ':path': '/slow' });
        let status = 0;
        let body = '';
        r.on('response', (h) => (status = Number(h[':status'])));
        r.on('data', (c: Buffer) => (body += c));
        r.on('end', () => resolve({ status, body }));
        r.on('error', reject);
      });
      await new Promise((r) => setTimeout(r, 200));
      gh.child.kill(signal);
      assert.equal(await goaway, true, 'the client hears GOAWAY');
      assert.deepEqual(await answer, { status: 200, body: 'late answer' });
      if (signal === 'SIGTERM') assert.equal(await gh.exited, 0);
      else {
        // the new generation serves a new connection
        const again = http2.connect(`http://127.0.0.1:${port}`);
        again.on('error', () => {});
        const status = await new Promise<number>((resolve) => {
          const r = again.request({ ':path': '/next' });
          r.on('response', (h) => resolve(Number(h[':status'])));
          r.on('error', () => resolve(-1));
          r.resume();
        });
        again.close();
        assert.equal(status, 200);
        assert.equal(gh.child.exitCode, null);
      }
    } finally {
      client.close();
      await gh.stop();
      await slow.close();
    }
  });
}

test('a stream the client resets is aborted alone (logged CD, the server connection let go); idle connections close after timeout http-keep-alive', async () => {
  let serverSawClose = false;
  const slow = await startBackend('slow', (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    const t = setInterval(() => res.write('x'.repeat(1024)), 20);
    res.on('close', () => {
      clearInterval(t);
      serverSawClose = true;
    });
    setTimeout(() => res.end(), 10000).unref();
  });
  const port = await freePort();
  const gh = await startGatehouse(
    `global\n  nbthread 1\n  log stdout format raw local0\ndefaults\n  mode http\n  log global\n  option httplog\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n  timeout http-keep-alive 400ms\nfrontend fe\n  bind 127.0.0.1:${port} proto h2\n  default_backend be\nbackend be\n  server s 127.0.0.1:${slow.port}\n`,
    [port],
    { ext: '.cfg' },
  );
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  let closedAt = 0;
  client.on('close', () => (closedAt = Date.now()));
  try {
    const r = client.request({ ':path': '/stream' });
    await new Promise((resolve) => r.once('data', resolve));
    r.close(http2.constants.NGHTTP2_CANCEL);
    // the same connection goes on with another stream...
    const status = await new Promise<number>((resolve) => {
      const q = client.request({ ':path': '/again' });
      q.on('response', (h) => {
        resolve(Number(h[':status']));
        q.close(http2.constants.NGHTTP2_CANCEL);
      });
      q.on('error', () => resolve(-1));
    });
    assert.equal(status, 200);
    const idleFrom = Date.now();
    for (let i = 0; i < 50 && !serverSawClose; i++) await new Promise((res) => setTimeout(res, 100));
    assert.ok(serverSawClose, 'the server connection of the reset stream is closed');
    for (let i = 0; i < 50 && !/"GET \/stream HTTP\/2\.0"/.test(gh.output()); i++) await new Promise((res) => setTimeout(res, 100));
    assert.match(gh.output(), / 200 \d+ - - CD.. .*"GET \/stream HTTP\/2\.0"/);
    // ...and, once idle, is closed after timeout http-keep-alive (400 ms), well before timeout client (10 s)
    for (let i = 0; i < 50 && closedAt === 0; i++) await new Promise((res) => setTimeout(res, 100));
    assert.ok(closedAt > 0 && closedAt - idleFrom < 4000, 'the idle connection is closed');
  } finally {
    client.destroy();
    await gh.stop();
    await slow.close();
  }
});

test('the ALPN hook: an accepted TLS socket that chose h2 is served by H2Front.accept (what NodeEngine.serveH2 calls)', async () => {
  const pem = tmpFile('alpn.pem', '');
  const keyFile = pem + '.key';
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', keyFile, '-out', pem], { stdio: 'ignore' });
  assert.equal(made.status, 0, 'openssl made a certificate');
  const cert = fs.readFileSync(pem);
  const key = fs.readFileSync(keyFile);
  const seen: string[] = [];
  const front = new H2Front(
    (req, res) => {
      seen.push(`${req.method} ${req.target} ${req.headers.join('|')}`);
      req.onBody((_c, last) => {
        if (!last) return;
        res.writeHead(200, 'OK', ['Content-Type', 'text/plain', 'Connection', 'keep-alive'], 5, false);
        res.write(Buffer.from('hello'));
        res.end();
      });
    },
    { settings: H2_DEFAULTS, maxHeaderListSize: 16384, timeoutIdle: 5000 },
  );
  const server = tls.createServer({ cert, key, ALPNProtocols: ['h2', 'http/1.1'] }, (sock) => front.accept(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = http2.connect(`https://localhost:${port}`, { ca: cert });
  try {
    const got = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      const r = client.request({ ':path': '/tls?x=1' });
      let body = '';
      let status = 0;
      let type = '';
      r.on('response', (h) => {
        status = Number(h[':status']);
        type = String(h['content-type']);
        assert.equal(h.connection, undefined);
      });
      r.on('data', (c: Buffer) => (body += c));
      r.on('end', () => resolve({ status, type, body }));
      r.on('error', reject);
    });
    assert.deepEqual(got, { status: 200, type: 'text/plain', body: 'hello' });
    assert.equal(client.alpnProtocol, 'h2');
    assert.deepEqual(seen, [`GET /tls?x=1 host|localhost:${port}`]);
  } finally {
    client.close();
    front.closeAll();
    await new Promise((r) => server.close(r));
  }
});

test('accept-proxy on a proto h2 bind: the PROXY header gives the client address (X-Forwarded-For, log); a bad one closes the connection', async () => {
  const srv = await startBackend('s', (req, res) => {
    req.resume();
    req.on('end', () => res.end(String(req.headers['x-forwarded-for'])));
  });
  const [port, plain] = await distinctPorts(2);
  const gh = await startGatehouse(
    `global\n  nbthread 1\n  log stdout format raw local0\ndefaults\n  mode http\n  log global\n  option httplog\n  option forwardfor\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:${port} proto h2 accept-proxy\n  bind 127.0.0.1:${plain} proto h2\n  default_backend be\nbackend be\n  server s 127.0.0.1:${srv.port}\n`,
    [port, plain],
    { ext: '.cfg' },
  );
  const get = (p: number, header: Buffer | string | null) =>
    new Promise<string>((resolve) => {
      const client = http2.connect(`http://127.0.0.1:${p}`, {
        createConnection: () => {
          const sock = net.connect(p, '127.0.0.1');
          if (header !== null) sock.write(header);
          return sock;
        },
      });
      client.on('error', (e) => resolve(`error ${e.message}`));
      client.on('close', () => resolve('closed'));
      const r = client.request({ ':path': '/pp' });
      let body = '';
      let answered = false;
      r.on('response', () => (answered = true));
      r.on('data', (c: Buffer) => (body += c));
      r.on('end', () => {
        client.close();
        resolve(answered ? body : 'closed');
      });
      r.on('error', () => {});
    });
  try {
    assert.equal(await get(port, 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n'), '192.0.2.7');
    // v2, with the h2 preface in the same segment as the header
    const v2 = Buffer.concat([
      Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c]),
      Buffer.from([198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x40, 0x00, 0x50]),
    ]);
    assert.equal(await get(port, v2), '198.51.100.9');
    // no header: the h2 preface is not a PROXY header, the connection is closed
    assert.match(await get(port, null), /^(closed|error)/);
    // the bind without accept-proxy is not affected
    assert.equal(await get(plain, null), '127.0.0.1');
    for (let i = 0; i < 50 && !/192\.0\.2\.7:40000 .*"GET \/pp HTTP\/2\.0"/.test(gh.output()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(gh.output(), /192\.0\.2\.7:40000 .*"GET \/pp HTTP\/2\.0"/);
  } finally {
    await gh.stop();
    await srv.close();
  }
});

test('-c: proto h2 runs on the node engine; ssl + proto h2, an unknown proto and bad tune.h2 values are errors', async () => {
  const check = async (text: string, ext: string) => {
    const p = runCli(['-c', '-f', tmpFile('c' + ext, text)]);
    const code = await p.exited;
    return { code, out: p.output() };
  };
  const fe = (bind: string, global = '') => `global\n${global}defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend fe\n  bind ${bind}\n  default_backend be\nbackend be\n  server s 127.0.0.1:1\n`;
  const ok = await check(fe('127.0.0.1:8080 proto h2', '  tune.h2.max-concurrent-streams 50\n  tune.h2.initial-window-size 1048576\n  tune.h2.header-table-size 8192\n'), '.cfg');
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /bind 127\.0\.0\.1:8080: node:net engine \('proto h2': HTTP\/2\)/);
  // a real certificate, so that the error is proto h2's and not the file's
  const pem = tmpFile('c.pem', '');
  const key = pem + '.key';
  spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=h2', '-keyout', key, '-out', pem], { stdio: 'ignore' });
  fs.appendFileSync(pem, fs.readFileSync(key));
  const withSsl = await check(fe(`127.0.0.1:8443 ssl crt ${pem} proto h2`), '.cfg');
  assert.notEqual(withSsl.code, 0);
  assert.match(withSsl.out, /c\.cfg:8.*proto h2 on an ssl bind: use alpn h2,http\/1\.1/);
  const bogus = await check(fe('127.0.0.1:8080 proto h3'), '.cfg');
  assert.notEqual(bogus.code, 0);
  assert.match(bogus.out, /c\.cfg:8/);
  const badTune = await check(fe('127.0.0.1:8080 proto h2', '  tune.h2.header-table-size 100000\n'), '.cfg');
  assert.notEqual(badTune.code, 0);
  assert.match(badTune.out, /c\.cfg:2/);
  const tcp = await check(fe('127.0.0.1:8080 proto h2').replace('mode http', 'mode tcp'), '.cfg');
  assert.notEqual(tcp.code, 0);
  assert.match(tcp.out, /proto h2 needs mode http/);
  // a stats-only frontend is served by the primary (HTTP/1.1); a proxying one routes its stats
  // uri through the workers (src/stats/routed.ts), h2 streams included
  const stats = await check(fe('127.0.0.1:8080 proto h2').replace('  default_backend be\n', '  stats enable\n  stats uri /st\n'), '.cfg');
  assert.notEqual(stats.code, 0);
  assert.match(stats.out, /stats page cannot be served on a proto h2 bind/);
  const routed = await check(fe('127.0.0.1:8080 proto h2').replace('  default_backend be\n', '  stats enable\n  stats uri /st\n  default_backend be\n'), '.cfg');
  assert.equal(routed.code, 0, routed.out);
  const yaml = await check(
    `global:\n  h2_max_concurrent_streams: 10\nfrontends:\n  fe:\n    bind: [{ address: "127.0.0.1:8080", proto: h2 }]\n    default_backend: be\nbackends:\n  be:\n    servers: [{ name: s, address: "127.0.0.1:1" }]\n`,
    '.yaml',
  );
  assert.equal(yaml.code, 0, yaml.out);
  const yamlUws = await check(`frontends:\n  fe:\n    bind: [{ address: "127.0.0.1:8080", proto: h2, engine: uws }]\n    default_backend: be\nbackends:\n  be:\n    servers: [{ name: s, address: "127.0.0.1:1" }]\n`, '.yaml');
  assert.notEqual(yamlUws.code, 0);
  assert.match(yamlUws.out, /proto h2 needs the node engine/);
});

const bin = haproxyBinary();

test('the same curl over h2c gets what HAProxy 2.6 gives on the same haproxy.cfg', { skip: bin === null ? 'haproxy not installed' : !hasCurlH2 ? 'curl without HTTP/2' : false }, async () => {
  const srv = await startBackend('s', (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/204') {
        res.writeHead(204, { 'Content-Length': '0', 'X-Server': 's' });
        res.end();
        return;
      }
      res.setHeader('X-Server', 's');
      res.setHeader('Set-Cookie', ['one=1', 'two=2']);
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Keep-Alive', 'timeout=5');
      res.end(`${req.method} ${req.url} host=${req.headers.host} te=${req.headers['transfer-encoding'] ?? ''}\n`);
    });
  });
  const [gp, hp] = await distinctPorts(2);
  const text = (port: number) => `global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:${port} proto h2\n  http-response set-header X-Via fe\n  default_backend be\nbackend be\n  server s 127.0.0.1:${srv.port}\n`;
  const g = await startGatehouse(text(gp), [gp], { ext: '.cfg' });
  const h = await startHaproxy(bin!, text(hp), [hp]);
  const body = tmpFile('b.txt', 'x'.repeat(3000));
  try {
    for (const [path, extra] of [['/cmp?q=1', []], ['/cmp?q=1', ['-I']], ['/cmp?q=1', ['--data-binary', `@${body}`]], ['/cmp?q=1', ['-H', 'content-type: text/plain', '-T', body]], ['/204', []]] as const) {
      const [a, b] = await Promise.all([curlH2(gp, path, [...extra]), curlH2(hp, path, [...extra])]);
      const view = (r: Awaited<ReturnType<typeof curlH2>>, port: number) => {
        const hs = [...r.headers].filter(([n]) => n !== 'date').sort();
        return { status: r.status, version: r.version, headers: hs, body: r.body.toString().replace(`:${port}`, ':PORT') };
      };
      assert.deepEqual(view(a, gp), view(b, hp), `curl ${extra.join(' ')}`);
    }
  } finally {
    await g.stop();
    await h.stop();
    await srv.close();
  }
});
