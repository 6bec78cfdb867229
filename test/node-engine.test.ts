// The node:net front engine end to end: a real gatehouse process with `engine node` binds in
// front of a real node:http upstream, driven by the clients issue 14 names (ab, nginx's default
// proxy_pass, curl --http1.0, wrk pipelining, h2load -m 8) and by raw sockets for what the
// engine must parse itself (extension methods, long heads in several reads, field limits,
// chunked uploads with trailers, Expect: 100-continue, timeouts, PROXY protocol v1/v2).
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort, request, runCli, sleep, startGatehouse, tmpFile, waitForPort, type Proc } from './helpers/net';
import { countInOutput, waitFor, waitForOutput } from './helpers/wait';
import { uwsLoads } from './helpers/engine';

const HTTP_REQUEST_MS = 600;
const KEEP_ALIVE_MS = 500;
const MAXHDR = 120;

/** What the upstream saw, echoed as JSON in every answer. */
interface Echo {
  method: string;
  url: string;
  httpVersion: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  trailers: NodeJS.Dict<string>;
}

interface Upstream {
  port: number;
  hits: number;
  expects: number;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const u = { port: 0, hits: 0, expects: 0 } as Upstream;
  const server = http.createServer((req, res) => {
    u.hits++;
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const e: Echo = {
        method: req.method ?? '',
        url: req.url ?? '',
        httpVersion: req.httpVersion,
        headers: req.headers,
        body: Buffer.concat(parts).toString('latin1'),
        trailers: req.trailers,
      };
      const text = JSON.stringify(e);
      // node:http writes header strings as UTF-8: the bytes c3 a9 for é
      if (req.url === '/bytes') res.setHeader('x-bytes', 'café');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  // node:http answers Expect itself unless told: count what reached it
  server.on('checkContinue', (req, res) => {
    u.expects++;
    res.writeContinue();
    server.emit('request', req, res);
  });
  server.keepAliveTimeout = 60000;
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  u.port = (server.address() as net.AddressInfo).port;
  u.close = () =>
    new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return u;
}

function cfg(port: number, proxyPort: number, upstream: number): string {
  return `global
  nbthread 2
  tune.http.maxhdr ${MAXHDR}
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  option forwardfor
  timeout connect 1s
  timeout client 10s
  timeout server 5s
  timeout tunnel 10s
  timeout http-request ${HTTP_REQUEST_MS}ms
  timeout http-keep-alive ${KEEP_ALIVE_MS}ms
frontend fe
  bind 127.0.0.1:${port} engine node
  default_backend be
frontend fp
  bind 127.0.0.1:${proxyPort} engine node accept-proxy
  default_backend be
backend be
  server s1 127.0.0.1:${upstream}
`;
}

let up: Upstream;
let gh: Proc;
let port: number;
let proxyPort: number;

before(async () => {
  up = await startUpstream();
  port = await freePort();
  proxyPort = await freePort();
  gh = await startGatehouse(cfg(port, proxyPort, up.port), [port, proxyPort], { ext: '.cfg' });
});
after(async () => {
  await gh?.stop();
  await up?.close();
});

function run(cmd: string, args: string[], timeoutMs = 30000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : 1;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/** A raw connection: write pieces (with pauses), collect what comes back until close or idle. */
function rawSession(
  p: number,
  pieces: Array<Buffer | string | number>,
  idleMs = 1500,
): Promise<{ out: string; closedByPeer: boolean; ms: number; localPort: number; arrivals: number[] }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(p, '127.0.0.1');
    let out = '';
    let closedByPeer = false;
    let localPort = 0;
    const arrivals: number[] = [];
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), idleMs);
    };
    s.on('connect', async () => {
      localPort = s.localPort ?? 0;
      for (const x of pieces) {
        if (typeof x === 'number') await sleep(x);
        else if (!s.destroyed) s.write(x);
      }
      arm();
    });
    s.on('data', (d) => {
      arrivals.push(Date.now() - t0);
      out += d.toString('latin1');
      arm();
    });
    s.on('end', () => (closedByPeer = true));
    s.on('error', () => {});
    s.on('close', () => {
      if (timer) clearTimeout(timer);
      resolve({ out, closedByPeer, ms: Date.now() - t0, localPort, arrivals });
    });
  });
}

const statuses = (out: string) => [...out.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
function bodyOf(out: string): Echo {
  const i = out.indexOf('\r\n\r\n', out.lastIndexOf('HTTP/1.1 200'));
  // the JSON is UTF-8 (out is latin1: one code unit per byte)
  return JSON.parse(Buffer.from(out.slice(i + 4), 'latin1').toString('utf8')) as Echo;
}

test('ab (HTTP/1.0): every request answered', async () => {
  const r = await run('ab', ['-n', '400', '-c', '4', `http://127.0.0.1:${port}/ab`]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Complete requests:\s+400\b/);
  assert.match(r.out, /Failed requests:\s+0\b/);
  assert.doesNotMatch(r.out, /Non-2xx responses/);
});

test("nginx's default proxy_pass (HTTP/1.0 upstream) in front of gatehouse", async (t) => {
  const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((f) => fs.existsSync(f));
  if (nginx === undefined) return t.skip('nginx is not installed (apt package nginx)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-nginx-'));
  const nport = await freePort();
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
${os.userInfo().uid === 0 ? 'user root;' : ''}
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${nport};
    location / { proxy_pass http://127.0.0.1:${port}; }
  }
}
`,
  );
  const child = spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { stdio: 'ignore' });
  try {
    await waitForPort(nport, 10000);
    for (let i = 0; i < 20; i++) {
      const r = await request(nport, { path: `/via-nginx/${i}`, method: i % 2 ? 'POST' : 'GET', body: i % 2 ? 'x'.repeat(i * 100) : undefined });
      assert.equal(r.status, 200, r.body.toString());
      const e = JSON.parse(r.body.toString()) as Echo;
      assert.equal(e.url, `/via-nginx/${i}`);
      // nginx spoke HTTP/1.0 to gatehouse; gatehouse speaks 1.1 to the server
      assert.equal(e.body.length, i % 2 ? i * 100 : 0);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('curl --http1.0, PURGE and PROPFIND', async () => {
  const r = await run('curl', ['-sS', '--http1.0', '-D', '-', `http://127.0.0.1:${port}/ten`]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^HTTP\/1\.[01] 200 /);
  assert.equal((JSON.parse(r.out.slice(r.out.indexOf('\r\n\r\n') + 4)) as Echo).url, '/ten');
  for (const m of ['PURGE', 'PROPFIND']) {
    const c = await run('curl', ['-sS', '-X', m, `http://127.0.0.1:${port}/res`]);
    assert.equal(c.code, 0, c.out);
    assert.equal((JSON.parse(c.out) as Echo).method, m);
  }
});

test('wrk with a pipelining script: every answer counted, no errors', async () => {
  const script = tmpFile(
    'pipeline.lua',
    `init = function(args)
  local r = {}
  for i = 1, 8 do r[i] = wrk.format(nil, "/pipe") end
  req = table.concat(r)
end
request = function() return req end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
end
`,
  );
  const before = up.hits;
  const r = await run('wrk', ['-t1', '-c4', '-d2s', '-s', script, `http://127.0.0.1:${port}/`]);
  assert.equal(r.code, 0, r.out);
  const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(r.out);
  assert.ok(m, r.out);
  const [answers, ...errors] = m.slice(1).map(Number);
  assert.ok(answers > 100, `only ${answers} answers`);
  assert.deepEqual(errors, [0, 0, 0, 0, 0], r.out);
  // the server saw every answered request, and at most the pipelines in flight at the stop besides
  await waitFor('the last requests to finish', () => up.hits - before >= answers, 3000);
  assert.ok(up.hits - before <= answers + 4 * 8, `server ${up.hits - before}, answers ${answers}`);
});

test('h2load --h1 -m 8 -n 2000: 0 errors', async () => {
  const r = await run('h2load', ['--h1', '-m', '8', '-n', '2000', '-c', '4', `http://127.0.0.1:${port}/h2load`]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
  assert.match(r.out, /status codes: 2000 2xx/);
});

test('a 12 KB header arriving in several reads is forwarded whole', async () => {
  const big = 'c'.repeat(12 * 1024);
  const head = `GET /big HTTP/1.1\r\nHost: x\r\nCookie: ${big}\r\nConnection: close\r\n\r\n`;
  const pieces: Array<string | number> = [];
  for (let i = 0; i < head.length; i += 3000) pieces.push(head.slice(i, i + 3000), 30);
  const s = await rawSession(port, pieces);
  assert.deepEqual(statuses(s.out), [200]);
  assert.equal(bodyOf(s.out).headers.cookie, big);
});

test(`tune.http.maxhdr ${MAXHDR}: ${MAXHDR - 10} fields pass, 150 get 431`, async () => {
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
  const ok = await rawSession(port, [`GET /many HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${fields(MAXHDR - 10)}\r\n`]);
  assert.deepEqual(statuses(ok.out), [200]);
  assert.equal(bodyOf(ok.out).headers[`x-f${MAXHDR - 11}`], String(MAXHDR - 11));
  const hits = up.hits;
  const bad = await rawSession(port, [`GET /many HTTP/1.1\r\nHost: x\r\n${fields(150)}\r\n`]);
  assert.deepEqual(statuses(bad.out), [431]);
  assert.ok(bad.closedByPeer);
  assert.equal(up.hits, hits, 'nothing forwarded');
});

test('header bytes >= 0x80 pass byte for byte, both ways', async () => {
  const utf8 = Buffer.from('café ☕');
  const s = await rawSession(port, [
    Buffer.concat([Buffer.from('GET /bytes HTTP/1.1\r\nHost: x\r\nX-U: '), utf8, Buffer.from('\r\nConnection: close\r\n\r\n')]),
  ]);
  assert.deepEqual(statuses(s.out), [200]);
  // the server's parser gives one code unit per byte: the same bytes as sent
  assert.equal(bodyOf(s.out).headers['x-u'], utf8.toString('latin1'));
  assert.match(s.out, new RegExp(`\r\nx-bytes: ${Buffer.from('café').toString('latin1')}\r\n`, 'i'));
});

test('header bytes that are not UTF-8 (latin1 text) reach the server unchanged, as HAProxy forwards them', async () => {
  // uWS.js hands values over UTF-8 decoded and loses such bytes (a 400 there, see issue19-responses)
  const values = [
    Buffer.from([0x63, 0x61, 0x66, 0xe9]), // "café" in latin1
    Buffer.concat([Buffer.from([0xe9, 0x20]), Buffer.from('café ☕ '), Buffer.from([0xff, 0xc3, 0x28, 0xf0, 0x9f, 0x98])]), // mixed with UTF-8, truncated sequences
  ];
  for (const v of values) {
    const s = await rawSession(port, [
      Buffer.concat([Buffer.from('GET /l1 HTTP/1.1\r\nHost: x\r\nX-L1: '), v, Buffer.from('\r\nConnection: close\r\n\r\n')]),
    ]);
    assert.deepEqual(statuses(s.out), [200]);
    assert.equal(bodyOf(s.out).headers['x-l1'], v.toString('latin1'));
  }
});

test('a chunked upload with trailers reaches the server', async () => {
  const s = await rawSession(port, [
    'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n',
    '5;ext=1\r\nhello\r\n',
    50,
    '6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n',
  ]);
  assert.deepEqual(statuses(s.out), [200]);
  const e = bodyOf(s.out);
  assert.equal(e.body, 'hello world');
  assert.equal(e.headers['transfer-encoding'], 'chunked');
  assert.equal(e.trailers['x-sum'], '42');
});

test('Expect: 100-continue gets exactly one 100, then the answer', async () => {
  const expects = up.expects;
  const s = await rawSession(port, [
    'POST /expect HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n',
    300,
    'hello',
  ]);
  assert.deepEqual(statuses(s.out), [100, 200], s.out);
  // the 100 came before the body was sent
  assert.ok(s.arrivals[0] < 300, `first byte at ${s.arrivals[0]} ms`);
  assert.equal(bodyOf(s.out).body, 'hello');
  assert.ok(up.expects - expects <= 1);
});

test('timeout http-request: an incomplete head gets 408 after the timeout; http-keep-alive closes an idle connection', async () => {
  const hits = up.hits;
  const slow = await rawSession(port, ['GET /slow HTTP/1.1\r\nHost: x\r\n'], 3000);
  assert.deepEqual(statuses(slow.out), [408]);
  assert.ok(slow.arrivals[0] >= HTTP_REQUEST_MS - 50 && slow.arrivals[0] < HTTP_REQUEST_MS + 1500, `408 after ${slow.arrivals[0]} ms`);
  assert.ok(slow.closedByPeer);
  assert.equal(up.hits, hits);

  const idle = await rawSession(port, ['GET /ka HTTP/1.1\r\nHost: x\r\n\r\n'], 5000);
  assert.deepEqual(statuses(idle.out), [200]);
  assert.ok(idle.closedByPeer, 'closed by gatehouse');
  const quiet = idle.ms - idle.arrivals[idle.arrivals.length - 1];
  assert.ok(quiet >= KEEP_ALIVE_MS - 50 && quiet < KEEP_ALIVE_MS + 1500, `closed ${quiet} ms after the answer`);
  assert.doesNotMatch(idle.out.slice(idle.out.indexOf('\r\n\r\n')), /HTTP\/1\.1 408/, 'silent close');
});

function proxyV2(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const b = Buffer.alloc(16 + 12);
  sig.copy(b, 0);
  b[12] = 0x21; // v2, PROXY
  b[13] = 0x11; // TCP over IPv4
  b.writeUInt16BE(12, 14);
  src.split('.').forEach((x, i) => (b[16 + i] = Number(x)));
  dst.split('.').forEach((x, i) => (b[20 + i] = Number(x)));
  b.writeUInt16BE(srcPort, 24);
  b.writeUInt16BE(dstPort, 26);
  return b;
}

test('accept-proxy v1 and v2: the address from the header reaches X-Forwarded-For and the log (%ci:%cp)', async () => {
  const v1 = await rawSession(proxyPort, [`PROXY TCP4 203.0.113.7 127.0.0.1 40001 ${proxyPort}\r\nGET /pp1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
  assert.deepEqual(statuses(v1.out), [200]);
  assert.equal(bodyOf(v1.out).headers['x-forwarded-for'], '203.0.113.7');
  const v2 = await rawSession(proxyPort, [
    Buffer.concat([proxyV2('198.51.100.9', 40002, '127.0.0.1', proxyPort), Buffer.from('GET /pp2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]),
  ]);
  assert.deepEqual(statuses(v2.out), [200]);
  assert.equal(bodyOf(v2.out).headers['x-forwarded-for'], '198.51.100.9');
  await waitForOutput(gh, /^198\.51\.100\.9:40002 .* fp be\/s1 .* 200 .*"GET \/pp2 HTTP\/1\.1"$/m);
  // workers hold log lines up to 100 ms each: the two lines may come in either order
  await waitForOutput(gh, /^203\.0\.113\.7:40001 .* fp be\/s1 .* 200 .*"GET \/pp1 HTTP\/1\.1"$/m);
  // no header at all: closed without a byte, nothing forwarded
  const hits = up.hits;
  const none = await rawSession(proxyPort, ['GET /nopp HTTP/1.1\r\nHost: x\r\n\r\n']);
  assert.equal(none.out, '');
  assert.equal(up.hits, hits);
});

test('the log has the client port (%cp) and the HTTP version of a 1.0 request', async () => {
  const s = await rawSession(port, ['GET /cp HTTP/1.0\r\nHost: x\r\n\r\n']);
  assert.deepEqual(statuses(s.out), [200]);
  assert.ok(s.localPort > 0);
  await waitForOutput(gh, new RegExp(`^127\\.0\\.0\\.1:${s.localPort} .* fe be/s1 .* 200 .*"GET /cp HTTP/1\\.0"$`, 'm'));
});

test('a WebSocket echo through the node engine', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const got: string[] = [];
  const done = new Promise<void>((resolve) =>
    ws.on('message', (d) => {
      got.push(d.toString());
      if (got.length === 3) resolve();
    }),
  );
  ws.send('one');
  ws.send('two');
  ws.send('x'.repeat(200000));
  await done;
  assert.deepEqual(got.slice(0, 2), ['one', 'two']);
  assert.equal(got[2].length, 200000);
  ws.close();
  await new Promise((r) => ws.once('close', r));
});

test('SIGHUP under a request loop on the node engine: 0 failed requests (the listening socket is kept)', async () => {
  const rport = await freePort();
  const file = tmpFile(
    'reload.yaml',
    `global: { workers: 2, engine: node }
defaults: { timeout: { connect: 1s, client: 5s, server: 5s } }
frontends:
  fe: { bind: ["127.0.0.1:${rport}"], default_backend: be }
backends:
  be: { servers: [{ name: s1, address: "127.0.0.1:${up.port}" }] }
`,
  );
  const p = runCli(['-f', file]);
  try {
    await waitForPort(rport, 15000, p);
    let ok = 0;
    const failed: string[] = [];
    const end = Date.now() + 3000;
    const loops = Array.from({ length: 4 }, async () => {
      while (Date.now() < end) {
        // a new connection per request: the accept queue must survive each reload
        await request(rport, { path: '/loop' }).then(
          (r) => (r.status === 200 ? ok++ : failed.push(`status ${r.status}`)),
          (e: NodeJS.ErrnoException) => failed.push(e.code ?? e.message),
        );
      }
    });
    const reloads = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(600);
        p.child.kill('SIGHUP');
        await waitForOutput(p, /configuration reloaded/, i + 1, 5000);
      }
    })();
    await Promise.all([...loops, reloads]);
    assert.equal(countInOutput(p, /configuration reloaded/), 3);
    assert.deepEqual(failed, []);
    assert.ok(ok > 100, `only ${ok} requests`);
  } finally {
    await p.stop();
  }
});

test('engine node on an ssl bind runs it on node:tls (-c says so)', async () => {
  const pem = tmpFile('site.pem', '');
  const key = pem + '.key';
  const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', pem]);
  assert.equal(made.code, 0, made.out);
  fs.appendFileSync(pem, fs.readFileSync(key));
  const file = tmpFile(
    'ssl.cfg',
    `defaults
  mode http
frontend fe
  bind 127.0.0.1:8443 ssl crt ${pem} engine node
  default_backend be
backend be
  server s1 127.0.0.1:1
`,
  );
  const p = runCli(['-c', '-f', file]);
  assert.equal(await p.exited, 0, p.output());
  assert.match(p.output(), uwsLoads() ? /frontend 'fe' bind 127\.0\.0\.1:8443: node:tls engine \('engine node' on the bind\)/ : /frontend 'fe' bind 127\.0\.0\.1:8443: node:tls engine \(uWebSockets\.js has no binary for Node\.js/);
});
