// The node:net front engine with real clients (curl, ab, h2load, wrk) and raw sockets:
// HTTP/1.0, keep-alive, pipelining in order, 100-continue, big heads in many reads, header
// limits, trailers, answer framing, latin1 bytes, timeouts, backpressure, aborts.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sleep, tmpFile } from './helpers/net';
import { type EchoServer, startEchoServer } from './helpers/front-node-echo';

function run(cmd: string, args: string[], timeoutMs = 30000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err && !stdout) reject(new Error(`${cmd} failed: ${err.message}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

interface RawResult {
  out: string;
  closed: boolean;
  ms: number;
  localPort: number;
}

/** Sends `parts` (with `gapMs` between them), collects until close or `waitMs` of silence. */
function raw(port: number, parts: Array<string | Buffer>, opts: { gapMs?: number; waitMs?: number; end?: boolean } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let localPort = 0;
    const finish = () => {
      if (timer) clearTimeout(timer);
      s.destroy();
      resolve({ out, closed, ms: Date.now() - t0, localPort });
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(finish, opts.waitMs ?? 600);
    };
    s.on('connect', async () => {
      localPort = s.localPort ?? 0;
      for (const p of parts) {
        s.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
        if (opts.gapMs) await sleep(opts.gapMs);
      }
      if (opts.end) s.end();
      arm();
    });
    s.on('data', (d) => {
      out += d.toString('latin1');
      arm();
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      finish();
    });
  });
}

function statuses(out: string): number[] {
  return [...out.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

describe('front-node engine', () => {
  let echo: EchoServer;
  before(async () => {
    echo = await startEchoServer({ timeoutHttpRequest: 500, timeoutHttpKeepAlive: 400, timeoutClient: 1500 });
  });
  after(async () => {
    await echo.close();
  });

  test('curl --http1.0: answered, connection closed', async () => {
    const out = await run('curl', ['-sS', '-i', '--http1.0', `http://127.0.0.1:${echo.port}/one?x=1`]);
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /connection: close\r\n/i);
    assert.match(out, /GET \/one\?x=1 0\n$/);
    assert.equal(echo.last?.versionMinor, 0);
  });

  test('ApacheBench (HTTP/1.0) with and without keep-alive', async () => {
    const plain = await run('ab', ['-n', '300', '-c', '10', `http://127.0.0.1:${echo.port}/ab`]);
    assert.match(plain, /Complete requests:\s+300/);
    assert.match(plain, /Failed requests:\s+0/);
    const ka = await run('ab', ['-k', '-n', '300', '-c', '10', `http://127.0.0.1:${echo.port}/ab`]);
    assert.match(ka, /Complete requests:\s+300/);
    assert.match(ka, /Failed requests:\s+0/);
    assert.match(ka, /Keep-Alive requests:\s+300/);
  });

  test('h2load --h1 -m 8 (pipelined, 8 in flight per connection)', async () => {
    const out = await run('h2load', ['--h1', '-n', '800', '-c', '4', '-m', '8', `http://127.0.0.1:${echo.port}/h2load`]);
    assert.match(out, /requests: 800 total, 800 started, 800 done, 800 succeeded, 0 failed, 0 errored/);
  });

  test('wrk with a pipeline of 8', async () => {
    const script = tmpFile(
      'pipeline.lua',
      `init = function(args)
  local r = {}
  for i = 1, 8 do r[i] = wrk.format(nil, "/p" .. i) end
  req = table.concat(r)
end
request = function() return req end
`,
    );
    const before = echo.answered;
    const out = await run('wrk', ['-t1', '-c4', '-d1s', '-s', script, `http://127.0.0.1:${echo.port}/`]);
    const m = /(\d+) requests in/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) > 100, out);
    assert.doesNotMatch(out, /Socket errors|Non-2xx/, out);
    assert.ok(echo.answered - before >= Number(m[1]));
  });

  test('pipelined requests: answered in order, the next dispatched only after the previous answer', async () => {
    const events: string[] = [];
    const srv = await startEchoServer({}, (req, res) => {
      events.push('dispatch ' + req.target);
      const delay = req.target === '/slow' ? 150 : 0;
      setTimeout(() => {
        events.push('answer ' + req.target);
        const b = Buffer.from(req.target);
        res.writeHead(200, 'OK', [], b.length, false);
        res.write(b);
        res.end();
      }, delay);
    });
    try {
      const r = await raw(srv.port, ['GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.0\r\n\r\n'], { waitMs: 800 });
      assert.deepEqual(statuses(r.out), [200, 200, 200]);
      assert.ok(r.out.indexOf('/slow') < r.out.indexOf('/fast') && r.out.indexOf('/fast') < r.out.indexOf('/last'));
      assert.deepEqual(events, ['dispatch /slow', 'answer /slow', 'dispatch /fast', 'answer /fast', 'dispatch /last', 'answer /last']);
      assert.ok(r.closed, 'HTTP/1.0 request without keep-alive ends the connection');
    } finally {
      await srv.close();
    }
  });

  test('Expect: 100-continue answered once, before the body is sent', async () => {
    const s = net.connect(echo.port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString('latin1')));
    await new Promise((r) => s.once('connect', r));
    s.write('POST /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await sleep(150);
    assert.equal(out, 'HTTP/1.1 100 Continue\r\n\r\n');
    s.write('hello');
    await sleep(150);
    s.destroy();
    assert.deepEqual(statuses(out), [100, 200]);
    assert.match(out, /POST \/up 5\n$/);
  });

  test("a handler's own 100 (writeInterim) is not doubled by the engine; 103 passes on", async () => {
    const srv = await startEchoServer({}, (req, res, body) => {
      res.writeHead(200, 'OK', [], body.length, false);
      res.write(body);
      res.end();
    });
    srv.server.removeAllListeners('connection');
    const { createFrontServer } = await import('../src/front-node/server');
    const server = createFrontServer({
      onRequest(req, res) {
        res.writeInterim(103, 'Early Hints', ['link', '</a.css>; rel=preload']);
        res.writeInterim(100, 'Continue', []);
        const parts: Buffer[] = [];
        req.onBody((c, last) => {
          parts.push(Buffer.from(c));
          if (!last) return;
          const b = Buffer.concat(parts);
          res.writeHead(200, 'OK', [], b.length, false);
          res.write(b);
          res.end();
        });
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const r = await raw(port, ['POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n', 'ok'], { gapMs: 100, waitMs: 300 });
      assert.deepEqual(statuses(r.out), [103, 100, 200]);
      assert.match(r.out, /link: <\/a.css>; rel=preload\r\n/);
    } finally {
      await new Promise((r) => server.close(r));
      await srv.close();
    }
  });

  test('a 12 KB head arriving in 60 reads is parsed; values keep their bytes', async () => {
    const big = 'v'.repeat(12000);
    const head = Buffer.from(`GET /big HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\nX-Latin: \xe9t\xe9\xff\r\n\r\n`, 'latin1');
    const parts: Buffer[] = [];
    for (let i = 0; i < head.length; i += 200) parts.push(head.subarray(i, i + 200));
    assert.ok(parts.length >= 60);
    // its own server: 60 reads can outlast the shared one's 500 ms timeout http-request on a busy machine
    const srv = await startEchoServer({ timeoutHttpRequest: 5000 });
    let r: Awaited<ReturnType<typeof raw>>;
    try {
      r = await raw(srv.port, parts, { gapMs: 3, waitMs: 300 });
    } finally {
      await srv.close();
    }
    assert.deepEqual(statuses(r.out), [200]);
    const h = srv.last!.headers;
    assert.equal(h[h.indexOf('X-Big') + 1], big);
    assert.equal(h[h.indexOf('X-Latin') + 1], '\xe9t\xe9\xff');
    assert.equal(srv.last!.remotePort, r.localPort, 'the client port is known');
  });

  test('head limits: 431 past the head size or 100 fields, 414 for a request line that long', async () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join('');
    const ok = await raw(echo.port, [`GET /h HTTP/1.1\r\nHost: a\r\n${fields(99)}\r\n`], { waitMs: 300 });
    assert.deepEqual(statuses(ok.out), [200]);
    assert.equal(echo.last!.headers.length, 200);
    const many = await raw(echo.port, [`GET /h HTTP/1.1\r\nHost: a\r\n${fields(200)}\r\n`], { waitMs: 300 });
    assert.deepEqual(statuses(many.out), [431]);
    assert.ok(many.closed);
    const large = await raw(echo.port, [`GET /h HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(16000)}\r\n\r\n`], { waitMs: 300 });
    assert.deepEqual(statuses(large.out), [431]);
    const longUri = await raw(echo.port, [`GET /${'u'.repeat(16000)} HTTP/1.1\r\nHost: a\r\n\r\n`], { waitMs: 300 });
    assert.deepEqual(statuses(longUri.out), [414]);
  });

  test('chunked request with extensions and trailers: de-chunked body, trailers handed over', async () => {
    const r = await raw(echo.port, ['POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n', '6\r\n world\r\n0\r\nX-Sum: abc\r\nX-Two: 2\r\n\r\n'], { gapMs: 50, waitMs: 300 });
    assert.deepEqual(statuses(r.out), [200]);
    assert.equal(echo.lastBody.toString(), 'hello world');
    assert.deepEqual(echo.last!.trailers, ['X-Sum', 'abc', 'X-Two', '2']);
  });

  test('answer framing: chunked with trailers for 1.1, close-delimited for 1.0, HEAD without body', async () => {
    const srv = await startEchoServer({}, (req, res) => {
      res.writeHead(200, 'OK', ['x-kind', 'stream'], -1, false);
      res.write(Buffer.from('part1-'));
      res.write(Buffer.from('part2'));
      res.end(['x-trailer', 'yes']);
    });
    try {
      const r11 = await raw(srv.port, ['GET / HTTP/1.1\r\nHost: a\r\n\r\n'], { waitMs: 300 });
      assert.match(r11.out, /transfer-encoding: chunked\r\n\r\n6\r\npart1-\r\n5\r\npart2\r\n0\r\nx-trailer: yes\r\n\r\n$/);
      assert.equal(r11.closed, false);
      const r10 = await raw(srv.port, ['GET / HTTP/1.0\r\n\r\n'], { waitMs: 300 });
      assert.match(r10.out, /connection: close\r\n\r\npart1-part2$/);
      assert.ok(r10.closed);
      const head = await raw(srv.port, ['HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'], { waitMs: 300 });
      assert.deepEqual(statuses(head.out), [200, 200]);
      assert.match(head.out, /^HTTP\/1\.1 200 OK\r\nx-kind: stream\r\n\r\nHTTP\/1\.1 200 OK/);
    } finally {
      await srv.close();
    }
  });

  test('HTTP/1.0 keep-alive: connection kept with a length, closed without one', async () => {
    const r = await raw(echo.port, ['GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], { waitMs: 200 });
    assert.deepEqual(statuses(r.out), [200, 200]);
    assert.match(r.out, /connection: keep-alive\r\n/);
    assert.equal(r.closed, false);
  });

  test('timeouts: 408 for a partial head after http-request, silent close when idle after keep-alive', async () => {
    const partial = await raw(echo.port, ['GET /slow HTTP/1.1\r\nHo'], { waitMs: 2000 });
    assert.deepEqual(statuses(partial.out), [408]);
    assert.ok(partial.ms >= 450 && partial.ms < 1500, `408 after ${partial.ms} ms`);
    assert.ok(partial.closed);
    const idle = await raw(echo.port, ['GET / HTTP/1.1\r\nHost: a\r\n\r\n'], { waitMs: 2000 });
    assert.deepEqual(statuses(idle.out), [200]);
    assert.ok(idle.closed && idle.ms >= 350 && idle.ms < 1500, `closed after ${idle.ms} ms`);
  });

  test('timeouts: keep-alive counts from the last answer; a request served longer than it is not cut', async () => {
    // keep-alive 400 ms; one timer per connection is kept across requests (connection.ts arm())
    const srv = await startEchoServer({ timeoutHttpRequest: 500, timeoutHttpKeepAlive: 400, timeoutClient: 1500 }, (req, res) => {
      setTimeout(() => {
        const b = Buffer.from(req.target);
        res.writeHead(200, 'OK', [], b.length, false);
        res.write(b);
        res.end();
      }, req.target === '/slow' ? 900 : 0);
    });
    try {
      // the second request comes 300 ms after the first answer: idle from its answer, 400 ms more
      const two = await raw(srv.port, ['GET /a HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /b HTTP/1.1\r\nHost: a\r\n\r\n'], { gapMs: 300, waitMs: 2000 });
      assert.deepEqual(statuses(two.out), [200, 200]);
      assert.ok(two.closed && two.ms >= 650 && two.ms < 2000, `closed after ${two.ms} ms`);
      // an answer that takes longer than both timeouts: the connection waits for it, then idles
      const slow = await raw(srv.port, ['GET /a HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n'], { gapMs: 100, waitMs: 2000 });
      assert.deepEqual(statuses(slow.out), [200, 200]);
      assert.match(slow.out, /\/slow$/);
      assert.ok(slow.closed && slow.ms >= 1350, `closed after ${slow.ms} ms`);
    } finally {
      await srv.close();
    }
  });

  test('body bytes that came with the head, read by the handler later while other connections read', async () => {
    // the head's read buffer is shared by every connection of the thread (raw-client.ts): what
    // follows a head is held as a view only while that read lasts, then copied
    const srv = await startEchoServer({}, (req, res, body) => {
      const b = Buffer.from(`${req.target} ${body.length} ${body.toString('latin1').replace(/(.)\1*/g, (m, c: string) => c + m.length)}`);
      res.writeHead(200, 'OK', [], b.length, false);
      res.write(b);
      res.end();
    });
    try {
      const post = (target: string, fill: string, n: number) => Buffer.concat([Buffer.from(`POST ${target} HTTP/1.1\r\nHost: a\r\nContent-Length: ${n}\r\nConnection: close\r\n\r\n`), Buffer.alloc(n, fill)]);
      const [a, b] = await Promise.all([raw(srv.port, [post('/a', 'a', 16384)], { waitMs: 800 }), raw(srv.port, [post('/b', 'b', 30000)], { waitMs: 800 })]);
      assert.match(a.out, /\r\n\r\n\/a 16384 a16384$/);
      assert.match(b.out, /\r\n\r\n\/b 30000 b30000$/);
    } finally {
      await srv.close();
    }
  });

  test('bad framing is answered at once and never dispatched; a bad chunk after dispatch aborts the request', async () => {
    const d0 = echo.dispatched;
    const clte = await raw(echo.port, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'], { waitMs: 300 });
    assert.deepEqual(statuses(clte.out), [400]);
    assert.ok(clte.closed && clte.ms < 1000, `answered after ${clte.ms} ms`);
    const te = await raw(echo.port, ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'], { waitMs: 300 });
    assert.deepEqual(statuses(te.out), [501]);
    const dup = await raw(echo.port, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'], { waitMs: 300 });
    assert.deepEqual(statuses(dup.out), [400]);
    assert.equal(echo.dispatched, d0);
    // the handler hears of each (access log, error counters)
    const r = echo.refused.find((x) => x.remotePort === clte.localPort);
    assert.deepEqual(r && [r.status, r.reason, r.dispatched, r.remoteAddress], [400, 'Content-Length with Transfer-Encoding', false, '127.0.0.1']);
    const a0 = echo.aborted;
    const badChunk = await raw(echo.port, ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', 'zz\r\n'], { gapMs: 50, waitMs: 300 });
    assert.deepEqual(statuses(badChunk.out), [400]);
    assert.equal(echo.dispatched, d0 + 1);
    assert.equal(echo.aborted, a0 + 1);
    const rb = echo.refused.find((x) => x.remotePort === badChunk.localPort);
    assert.deepEqual(rb && [rb.status, rb.reason, rb.dispatched], [400, 'invalid chunk size', true]);
  });

  test('backpressure: a 16 MB answer to a slow reader, a 4 MB upload read with pause/resume', async () => {
    let sawFalse = false;
    const total = 16 << 20;
    const piece = Buffer.alloc(64 << 10, 120);
    const srv = await startEchoServer({ timeoutClient: 5000 }, (req, res, body) => {
      if (req.method === 'POST') {
        const b = Buffer.from(String(body.length));
        res.writeHead(200, 'OK', [], b.length, false);
        res.write(b);
        res.end();
        return;
      }
      res.writeHead(200, 'OK', [], total, false);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += piece.length;
          if (!res.write(piece)) {
            sawFalse = true;
            res.onWritable(pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    try {
      const got = await new Promise<number>((resolve) => {
        const s = net.connect(srv.port, '127.0.0.1');
        let n = 0;
        s.on('data', (d) => {
          n += d.length;
          s.pause();
          setTimeout(() => s.resume(), 1);
        });
        s.on('close', () => resolve(n));
        s.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      });
      assert.ok(sawFalse, 'write() reported backpressure');
      assert.ok(got > total && got < total + 200, `received ${got}`);
      // upload: the handler pauses the body for a while after each piece
      const { createFrontServer } = await import('../src/front-node/server');
      let pauses = 0;
      const up = createFrontServer({
        onRequest(req, res) {
          let n = 0;
          req.onBody((c, last) => {
            n += c.length;
            if (!last) {
              req.pauseBody();
              pauses++;
              setTimeout(() => req.resumeBody(), 1);
              return;
            }
            const b = Buffer.from(String(n));
            res.writeHead(200, 'OK', [], b.length, false);
            res.write(b);
            res.end();
          });
        },
      });
      await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
      const port = (up.address() as net.AddressInfo).port;
      const size = 4 << 20;
      const r = await new Promise<string>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let o = '';
        s.on('data', (d) => (o += d));
        s.on('close', () => resolve(o));
        s.write(`POST / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: ${size}\r\n\r\n`);
        s.write(Buffer.alloc(size, 97));
      });
      assert.match(r, new RegExp(`\\r\\n\\r\\n${size}$`));
      assert.ok(pauses > 4);
      await new Promise((res) => up.close(res));
    } finally {
      await srv.close();
    }
  });

  test('a client that leaves mid-answer: onAborted runs', async () => {
    let aborted = false;
    const srv = await startEchoServer({}, (req, res) => {
      res.onAborted(() => (aborted = true));
      res.writeHead(200, 'OK', [], 1 << 20, false);
      // a streaming answer: the next write after the client left fails
      let n = 0;
      const tick = () => {
        if (res.aborted || ++n > 50) return;
        res.write(Buffer.alloc(1000));
        setTimeout(tick, 20);
      };
      tick();
    });
    try {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
      s.once('data', () => s.destroy());
      s.on('error', () => {});
      await sleep(400);
      assert.ok(aborted);
    } finally {
      await srv.close();
    }
  });

  test('a client that half-closes after its request still gets the answer, held body bytes included', async () => {
    const srv = await startEchoServer({}, (req, res, body) => {
      const b = Buffer.from(`${req.target} ${body.length}`);
      res.writeHead(200, 'OK', [], b.length, false);
      res.write(b);
      res.end();
    });
    const { createFrontServer } = await import('../src/front-node/server');
    // this handler starts reading the body only after a while: the FIN is already in
    const late = createFrontServer({
      onRequest(req, res) {
        setTimeout(() => {
          let n = 0;
          req.onBody((c, last) => {
            n += c.length;
            if (!last) return;
            const b = Buffer.from(String(n));
            res.writeHead(200, 'OK', [], b.length, false);
            res.write(b);
            res.end();
          });
        }, 100);
      },
    });
    await new Promise<void>((r) => late.listen(0, '127.0.0.1', r));
    try {
      const two = await raw(srv.port, ['GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc'], { end: true, waitMs: 500 });
      assert.deepEqual(statuses(two.out), [200, 200]);
      assert.match(two.out, /\/2 3$/);
      assert.ok(two.closed);
      const port = (late.address() as net.AddressInfo).port;
      const held = await raw(port, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello'], { end: true, waitMs: 500 });
      assert.deepEqual(statuses(held.out), [200]);
      assert.match(held.out, /\r\n\r\n5$/);
      const cut = await raw(port, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nhello'], { end: true, waitMs: 500 });
      assert.deepEqual(statuses(cut.out), [400]);
    } finally {
      await new Promise((r) => late.close(r));
      await srv.close();
    }
  });

  test('timeout client counts only the client: a handler that reads the body late (queued) is not cut', async () => {
    const { createFrontServer } = await import('../src/front-node/server');
    const slow = createFrontServer(
      {
        onRequest(req, res) {
          setTimeout(() => {
            req.onBody((_c, last) => {
              if (!last) return;
              res.writeHead(200, 'OK', [], 2, false);
              res.write(Buffer.from('ok'));
              res.end();
            });
          }, 700);
        },
      },
      { timeoutClient: 400 },
    );
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const port = (slow.address() as net.AddressInfo).port;
      // the body came at once; the handler reads it after 700 ms, beyond timeout client
      const r = await raw(port, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok'], { waitMs: 1000 });
      assert.deepEqual(statuses(r.out), [200]);
      // Expect: 100-continue: the 100 goes out when the handler reads, and only then does the
      // client's time count (this client never sends its body: 408 after timeout client)
      const e = await raw(port, ['POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n'], { waitMs: 2000 });
      assert.deepEqual(statuses(e.out), [100, 408]);
      assert.ok(e.ms >= 1100, `408 after ${e.ms} ms`);
      // once the body is wanted, a client that stalls gets 408 after timeout client
      const stalled = await raw(port, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nx'], { waitMs: 2000 });
      assert.deepEqual(statuses(stalled.out), [408]);
      assert.ok(stalled.ms >= 1000 && stalled.ms < 1900, `408 after ${stalled.ms} ms`);
    } finally {
      await new Promise((r) => slow.close(r));
    }
  });

  test('upgrade: 101 then detach() hands the socket over with the bytes sent after the head', async () => {
    const { createFrontServer } = await import('../src/front-node/server');
    let upgradeSeen = false;
    const up = createFrontServer({
      onRequest(req, res) {
        upgradeSeen = req.upgrade;
        req.onBody(() => {
          res.writeHead(101, 'Switching Protocols', ['upgrade', 'echo', 'connection', 'upgrade'], -1, false);
          const { socket, head } = res.detach();
          // an echo tunnel, upper-casing what it gets
          if (head.length > 0) socket.write(head.toString('latin1').toUpperCase());
          socket.on('data', (d: Buffer) => socket.write(d.toString('latin1').toUpperCase()));
          socket.on('end', () => socket.end());
        });
      },
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    try {
      const port = (up.address() as net.AddressInfo).port;
      const r = await raw(port, ['GET /t HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nfirst-', 'second'], { gapMs: 100, waitMs: 300 });
      assert.ok(upgradeSeen);
      assert.match(r.out, /^HTTP\/1\.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\nFIRST-SECOND$/);
    } finally {
      await new Promise((r) => up.close(r));
    }
  });

  test('drain (graceful stop): idle connections close at once, an exchange in progress ends with connection: close', async () => {
    const { createFrontServer } = await import('../src/front-node/server');
    const srv = createFrontServer({
      onRequest(req, res) {
        req.onBody((_c, last) => {
          if (!last) return;
          setTimeout(() => {
            res.writeHead(200, 'OK', [], 2, false);
            res.write(Buffer.from('ok'));
            res.end();
          }, req.target === '/slow' ? 300 : 0);
        });
      },
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const idle = raw(port, ['GET /fast HTTP/1.1\r\nHost: a\r\n\r\n'], { waitMs: 3000 });
    const busy = raw(port, ['GET /slow HTTP/1.1\r\nHost: a\r\n\r\n'], { waitMs: 3000 });
    await sleep(150);
    assert.equal(srv.h1Connections.size, 2);
    const t0 = Date.now();
    const drained = new Promise<number>((r) => srv.drain(() => r(Date.now() - t0)));
    const [i, b] = await Promise.all([idle, busy]);
    assert.ok(i.closed && i.ms < 1000, 'the idle connection closed at once');
    assert.deepEqual(statuses(b.out), [200]);
    assert.match(b.out, /connection: close\r\n/);
    assert.ok(b.closed);
    const ms = await drained;
    assert.ok(ms >= 100 && ms < 2000, `drained after ${ms} ms`);
    assert.equal(srv.h1Connections.size, 0);
    assert.equal(await new Promise((r) => net.connect(port, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => r(e.code))), 'ECONNREFUSED');
  });

  test('obs-fold is unfolded into spaces (HAProxy 2.6), bare LF lines are accepted', async () => {
    const r = await raw(echo.port, ['GET /f HTTP/1.1\r\nHost: a\r\nX-Fold: one\r\n  two\r\n\r\n'], { waitMs: 300 });
    assert.deepEqual(statuses(r.out), [200]);
    const h = echo.last!.headers;
    assert.equal(h[h.indexOf('X-Fold') + 1], 'one    two');
    const lf = await raw(echo.port, ['GET /lf HTTP/1.1\nHost: a\nX: y\n\n'], { waitMs: 300 });
    assert.deepEqual(statuses(lf.out), [200]);
    assert.equal(echo.last!.target, '/lf');
  });

  test('extension methods, absolute-form, OPTIONS * and CONNECT reach the handler', async () => {
    for (const [line, target] of [
      ['PROPFIND /dav HTTP/1.1\r\nHost: a', '/dav'],
      ['GET http://a/abs?q=1 HTTP/1.1\r\nHost: a', 'http://a/abs?q=1'],
      ['OPTIONS * HTTP/1.1\r\nHost: a', '*'],
      ['CONNECT a:443 HTTP/1.1\r\nHost: a:443', 'a:443'],
    ]) {
      const r = await raw(echo.port, [line + '\r\n\r\n'], { waitMs: 200 });
      assert.deepEqual(statuses(r.out), [200], line);
      assert.equal(echo.last!.target, target);
    }
    const mismatch = await raw(echo.port, ['GET http://b/abs HTTP/1.1\r\nHost: a\r\n\r\n'], { waitMs: 200 });
    assert.deepEqual(statuses(mismatch.out), [400]);
  });
});
