// What real clients and a scripted server found on the response side (issue 19): header bytes
// pass as bytes, a bad chunk in the same read as the head is a 502 (nothing had left), a
// close-delimited answer prints no uWS warning, the 414 page says Connection: close once, a
// WebSocket upgrade without its key is a 400 (HAProxy 2.6 on the same request), and a URL up to
// tune.bufsize is forwarded.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { freePort, RawTcpServer, rawExchange, sleep, startGatehouse, type Proc } from './helpers/net';
import { backendYaml } from './helpers/config';

/** Answers every request with the bytes `replies` holds for its path (default: a small 200). */
class ByteServer extends RawTcpServer {
  replies = new Map<string, { bytes: Buffer; close?: boolean }>();
  /** raw request heads received, by path */
  heads = new Map<string, Buffer>();

  protected onConn(sock: net.Socket): void {
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end + 4);
        buf = buf.subarray(end + 4);
        const path = head.toString('latin1').split(' ')[1];
        this.heads.set(path, Buffer.from(head));
        const r = this.replies.get(path);
        if (r === undefined) {
          sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`);
          continue;
        }
        sock.write(r.bytes);
        if (r.close) sock.end();
      }
    });
  }
}

/** `name: value` is among the header lines of `got` (names compared case-insensitively). */
function hasHeader(got: Buffer, name: string, value: Buffer): boolean {
  const text = got.toString('latin1');
  const want = value.toString('latin1');
  for (const line of text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n')) {
    const i = line.indexOf(': ');
    if (i > 0 && line.slice(0, i).toLowerCase() === name.toLowerCase() && line.slice(i + 2) === want) return true;
  }
  return false;
}

const cat = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

/** One raw request; the whole answer as bytes (until close or `idleMs` of silence). */
function rawBytes(port: number, data: Buffer, idleMs = 800): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let t: NodeJS.Timeout | undefined;
    const arm = () => {
      if (t) clearTimeout(t);
      t = setTimeout(() => s.destroy(), idleMs);
    };
    s.on('connect', () => {
      s.write(data);
      arm();
    });
    s.on('data', (d: Buffer) => {
      got.push(d);
      arm();
    });
    s.on('error', () => {});
    s.on('close', () => {
      if (t) clearTimeout(t);
      resolve(Buffer.concat(got));
    });
  });
}

describe('issue 19: responses', () => {
  const srv = new ByteServer();
  let gh: Proc;
  let port = 0;

  before(async () => {
    await srv.start();
    port = await freePort();
    gh = await startGatehouse(
      backendYaml({
        port,
        servers: [{ name: 's1', port: srv.port }],
        defaults: '  httplog: true\n  log: [{ target: stdout }]\n',
        backend: `    http_response:
      - 'add-header X-Static "café €"'
      - 'set-header X-Copy %[res.hdr(x-copy-me)] if { res.hdr(x-copy-me) -m found }'
`,
      }),
      [port],
    );
  });
  after(async () => {
    await gh.stop();
    await srv.close();
  });

  test('response header bytes >= 0x80 reach the client as the server sent them', async () => {
    const utf8 = Buffer.from('café €', 'utf8');
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in latin1: not UTF-8
    const disp = Buffer.from('attachment; filename="résumé.pdf"', 'utf8');
    srv.replies.set('/bytes', {
      bytes: cat('HTTP/1.1 200 OK\r\nX-Name: ', utf8, '\r\nX-Latin: ', latin1, '\r\nContent-Disposition: ', disp, '\r\ncontent-length: 2\r\n\r\nok'),
    });
    const got = await rawBytes(port, Buffer.from('GET /bytes HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.ok(hasHeader(got, 'X-Name', utf8), got.toString('latin1'));
    assert.ok(hasHeader(got, 'X-Latin', latin1), got.toString('latin1'));
    assert.ok(hasHeader(got, 'Content-Disposition', disp), got.toString('latin1'));
  });

  test('response rules: config text and copied server bytes both arrive as UTF-8 bytes', async () => {
    const utf8 = Buffer.from('naïve ü', 'utf8');
    srv.replies.set('/rules', { bytes: cat('HTTP/1.1 200 OK\r\nX-Copy-Me: ', utf8, '\r\ncontent-length: 2\r\n\r\nok') });
    const got = await rawBytes(port, Buffer.from('GET /rules HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.ok(hasHeader(got, 'X-Copy-Me', utf8), got.toString('latin1'));
    assert.ok(hasHeader(got, 'X-Copy', utf8), got.toString('latin1'));
    assert.ok(hasHeader(got, 'X-Static', Buffer.from('café €', 'utf8')), got.toString('latin1'));
  });

  test('request header bytes: UTF-8 is forwarded byte for byte; bytes uWS cannot hand over are a 400', async () => {
    const utf8 = Buffer.from('café € z', 'utf8');
    const ok = await rawBytes(port, cat('GET /req-u8 HTTP/1.1\r\nHost: x\r\nX-U8: ', utf8, '\r\n\r\n'));
    assert.match(ok.toString('latin1'), /^HTTP\/1\.1 200 /);
    assert.ok(srv.heads.get('/req-u8')!.includes(cat('x-u8: ', utf8, '\r\n')), srv.heads.get('/req-u8')!.toString('latin1'));
    // latin1 0xE9 alone is not UTF-8: uWS.js hands it over as U+FFFD, the byte is lost
    const bad = await rawBytes(port, cat('GET /req-l1 HTTP/1.1\r\nHost: x\r\nX-L1: caf', Buffer.from([0xe9]), ' x\r\n\r\n'));
    assert.match(bad.toString('latin1'), /^HTTP\/1\.1 400 /);
    assert.equal(srv.heads.has('/req-l1'), false, 'a corrupted value must not be forwarded');
  });

  for (const [name, chunk] of [
    ['non-hex size', 'zz\r\nabc\r\n0\r\n\r\n'],
    ['negative size', '-5\r\nhello\r\n0\r\n\r\n'],
    ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['overflowing size', 'ffffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
    ['no CRLF after the data', '5\r\nhelloXX0\r\n\r\n'],
  ] as const) {
    test(`a bad chunk (${name}) in the same read as the head is a 502`, async () => {
      const path = '/chunk-' + name.replace(/\W+/g, '-');
      srv.replies.set(path, { bytes: cat('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', chunk) });
      const got = (await rawBytes(port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`))).toString('latin1');
      assert.match(got, /^HTTP\/1\.1 502 Bad Gateway\r\n/, got);
      assert.equal(got.indexOf('HTTP/1.1 200'), -1);
    });
  }

  test('a chunked answer whole in one read still streams through (head, chunks, end)', async () => {
    srv.replies.set('/chunk-good', { bytes: cat('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nX-A: 1\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n') });
    const got = (await rawBytes(port, Buffer.from('GET /chunk-good HTTP/1.1\r\nHost: x\r\n\r\n'))).toString('latin1');
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(got, /X-A: 1\r\n/);
    const body = got.slice(got.indexOf('\r\n\r\n') + 4);
    // uWS re-chunks: decode and compare the payload
    let out = '';
    let rest = body;
    for (;;) {
      const i = rest.indexOf('\r\n');
      const n = parseInt(rest.slice(0, i), 16);
      if (n === 0) break;
      out += rest.slice(i + 2, i + 2 + n);
      rest = rest.slice(i + 2 + n + 2);
    }
    assert.equal(out, 'hello world');
  });

  test('a close-delimited answer ends without a uWebSockets.js "corked" warning', async () => {
    srv.replies.set('/close-delimited', { bytes: cat('HTTP/1.1 200 OK\r\nX-B: 1\r\n\r\nuntil the end'), close: true });
    const before = gh.output().length;
    for (let i = 0; i < 3; i++) {
      const got = (await rawBytes(port, Buffer.from('GET /close-delimited HTTP/1.1\r\nHost: x\r\n\r\n'))).toString('latin1');
      assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(got, /until the end/);
    }
    await sleep(300);
    const out = gh.output().slice(before);
    assert.doesNotMatch(out, /cork/i, out);
    // each is logged as a clean end at once, not as sD when `timeout server` (2 s) runs out
    const lines = out.split('\n').filter((l) => l.includes('GET /close-delimited'));
    assert.equal(lines.length, 3, out);
    for (const l of lines) assert.match(l, / 200 \d+ - - ---- /, l);
  });

  test('the 414 page says Connection: close once, whether the client said close or not', async () => {
    const long = '/' + 'a'.repeat(17000);
    for (const extra of ['', 'Connection: close\r\n']) {
      const got = await rawExchange(port, `GET ${long} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);
      assert.match(got, /^HTTP\/1\.1 414 /);
      const head = got.slice(0, got.indexOf('\r\n\r\n'));
      assert.equal(head.match(/^connection:/gim)?.length, 1, head);
      assert.match(head, /^connection: close$/im);
    }
  });

  test('a URL of 8-16 KB is forwarded (the limit follows tune.bufsize, as in HAProxy)', async () => {
    const path = '/' + 'u'.repeat(12000);
    const got = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(got, /^HTTP\/1\.1 200 /);
    assert.ok(srv.heads.has(path));
  });

  test('Upgrade: websocket without a usable Sec-WebSocket-Key is a 400 (HAProxy 2.6); without Connection: upgrade it is forwarded', async () => {
    const noKey = await rawExchange(port, 'GET /ws-nokey HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.match(noKey, /^HTTP\/1\.1 400 /);
    const badKey = await rawExchange(port, 'GET /ws-badkey HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: abc\r\n\r\n');
    assert.match(badKey, /^HTTP\/1\.1 400 /);
    assert.equal(srv.heads.has('/ws-nokey') || srv.heads.has('/ws-badkey'), false);
    const plain = await rawExchange(port, 'GET /ws-noconn HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n');
    assert.match(plain, /^HTTP\/1\.1 200 /);
  });
});

test('issue 19: haproxy.cfg tune.bufsize raises the URI limit with the head limit', async () => {
  const srv = new ByteServer();
  await srv.start();
  const port = await freePort();
  const gh = await startGatehouse(
    `global
  nbthread 1
  tune.bufsize 32768
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server s1 127.0.0.1:${srv.port}
`,
    [port],
    { ext: '.cfg' },
  );
  try {
    const path = '/' + 'v'.repeat(24000);
    const got = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(got, /^HTTP\/1\.1 200 /);
    assert.ok(srv.heads.has(path));
  } finally {
    await gh.stop();
    await srv.close();
  }
});
