// WebSocket proxying end to end: real `ws` echo servers behind gatehouse (a child process), real
// `ws` clients, plain TCP peers for misbehaving servers. See docs/websocket.md.
import { onNodeEngine, uwsLoads } from './helpers/engine';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { loadConfig } from '../src/config/load';
import { OP_BINARY, OP_CLOSE, OP_TEXT, WsDecoder, WsFrameError, encodeClose, encodeFrame, type WsFrameSink } from '../src/upstream/ws-frame';
import { acceptFor, checkSwitchingProtocols } from '../src/upstream/ws-handshake';
import { ResponseParseError, ResponseParser, type ResponseSink } from '../src/upstream/response-parser';
import { freePort, RawTcpServer, request, sleep, startGatehouse, tmpFile } from './helpers/net';
import { waitForOutput } from './helpers/wait';
import { backendYaml } from './helpers/config';

type Gatehouse = Awaited<ReturnType<typeof startGatehouse>>;

interface WsBackend {
  name: string;
  port: number;
  /** headers of the upgrade requests it received, in order */
  upgrades: http.IncomingHttpHeaders[];
  /** close codes/reasons its connections received from the client side */
  closes: { code: number; reason: string }[];
  /** the server side of the latest connection */
  last: WebSocket | null;
  /** resolves on the next close a connection of this server sees */
  nextClose(): Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/**
 * A WebSocket echo server (the `ws` package) on a node:http server that also answers plain HTTP
 * with its name. Paths: /deny answers the upgrade with 403; /close-me closes with 4000 "bye"
 * after open; /ping pings the client and reports the pong; /fragments sends one message in two
 * frames; /flood/N sends N messages of 1 MB at once; /noread never reads. Text "whoami" is answered with the server's name; everything else is echoed as is.
 */
async function startWsBackend(name: string): Promise<WsBackend> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.setHeader('x-server', name);
    res.end(name);
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  });
  let waiters: ((c: { code: number; reason: string }) => void)[] = [];
  const b: WsBackend = {
    name,
    port: 0,
    upgrades: [],
    closes: [],
    last: null,
    nextClose: () => new Promise((resolve) => waiters.push(resolve)),
    close: async () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    b.upgrades.push(req.headers);
    if (req.url === '/deny') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 11\r\nx-why: policy\r\n\r\nnot for you');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('close', (code, reason) => {
        const c = { code, reason: reason.toString() };
        b.closes.push(c);
        const w = waiters;
        waiters = [];
        for (const f of w) f(c);
      });
      b.last = ws;
      if (req.url === '/noread') (ws as unknown as { _socket: net.Socket })._socket.pause();
      if (req.url?.startsWith('/flood/')) {
        // N messages of 1 MB, each filled with its index
        const n = Number(req.url.slice(7));
        for (let i = 0; i < n; i++) ws.send(Buffer.alloc(1024 * 1024, i & 0xff));
      }
      if (req.url === '/close-me') {
        ws.close(4000, 'bye');
        return;
      }
      if (req.url === '/ping') {
        ws.on('pong', (data) => ws.send('pong:' + data.toString()));
        ws.ping('abc');
      }
      if (req.url === '/fragments') {
        ws.send('hel', { fin: false });
        ws.send('lo', { fin: true });
      }
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'whoami') ws.send(name);
        else ws.send(data as Buffer, { binary: isBinary });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  b.port = (server.address() as net.AddressInfo).port;
  return b;
}

/** Open a client; resolves once open (rejects on an error or an unexpected HTTP answer). */
function connect(url: string, protocols?: string[], opts: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts);
    // remember how it closed: a test may ask only after the close already happened
    ws.once('close', (code, reason) => closeSeen.set(ws, { code, reason: reason.toString() }));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

/** The answer when an upgrade is refused: status, headers and body. */
function refused(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary }));
    ws.once('close', (code) => reject(new Error(`closed (${code}) before a message`)));
  });
}

const closeSeen = new WeakMap<WebSocket, { code: number; reason: string }>();

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  const seen = closeSeen.get(ws);
  if (seen !== undefined) return Promise.resolve(seen);
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: '' });
  ws.on('error', () => {}); // a reset is reported by the close code (1006)
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function yaml(port: number, servers: { name: string; port: number }[]): string {
  return backendYaml({ port, servers, defaults: '  forwardfor: true\n', backend: '    balance: roundrobin\n' });
}

describe('websocket through one frontend', () => {
  let a: WsBackend, b: WsBackend, port: number, gh: Gatehouse;
  before(async () => {
    a = await startWsBackend('ws1');
    b = await startWsBackend('ws2');
    port = await freePort();
    gh = await startGatehouse(yaml(port, [{ name: 'ws1', port: a.port }, { name: 'ws2', port: b.port }]), [port]);
  });
  after(async () => {
    await gh.stop();
    await a.close();
    await b.close();
  });

  test('text messages round trip in order', async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/echo`);
    const got: string[] = [];
    const all = new Promise<void>((resolve) => {
      ws.on('message', (d, isBinary) => {
        assert.equal(isBinary, false);
        got.push(d.toString());
        if (got.length === 50) resolve();
      });
    });
    for (let i = 0; i < 50; i++) ws.send(`message ${i} ünïcödé`);
    await all;
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `message ${i} ünïcödé`));
    ws.close();
    await closed(ws);
  });

  test('a 5 MB binary frame round trips intact, both ways', async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/big`);
    const data = crypto.randomBytes(5 * 1024 * 1024 + 3);
    const reply = nextMessage(ws);
    ws.send(data, { binary: true });
    const r = await reply;
    assert.equal(r.isBinary, true);
    assert.equal(r.data.length, data.length);
    assert.equal(sha(r.data), sha(data));
    // a few more of mixed sizes (7-bit, 16-bit and 64-bit lengths), in order
    const sizes = [0, 1, 125, 126, 65535, 65536, 300000];
    const bufs = sizes.map((n) => crypto.randomBytes(n));
    const back: Buffer[] = [];
    const done = new Promise<void>((resolve) => ws.on('message', (d) => back.push(d as Buffer) === sizes.length && resolve()));
    for (const buf of bufs) ws.send(buf, { binary: true });
    await done;
    assert.deepEqual(back.map(sha), bufs.map(sha));
    ws.close(1000);
    await closed(ws);
  });

  test('the subprotocol is negotiated with the server; extensions are not passed on', async () => {
    const before = a.upgrades.length + b.upgrades.length;
    // the ws client offers permessage-deflate by default
    const ws = await connect(`ws://127.0.0.1:${port}/proto?x=1`, ['nope', 'chat']);
    assert.equal(ws.protocol, 'chat');
    assert.equal(ws.extensions, '');
    const seen = [...a.upgrades, ...b.upgrades];
    assert.equal(seen.length, before + 1);
    const last = seen.find((x) => String(x['sec-websocket-protocol']).replace(/ /g, '') === 'nope,chat');
    assert.ok(last, 'the server saw the offered protocols');
    assert.equal(last['sec-websocket-extensions'], undefined);
    assert.equal(last['x-forwarded-for'], '127.0.0.1');
    assert.equal(last.host, `127.0.0.1:${port}`);
    assert.equal(last.upgrade, 'websocket');
    ws.send('hi');
    assert.equal((await nextMessage(ws)).data.toString(), 'hi');
    ws.close();
    await closed(ws);
  });

  test('upgrades are balanced roundrobin across the two servers', async () => {
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const ws = await connect(`ws://127.0.0.1:${port}/who`);
      ws.send('whoami');
      names.push((await nextMessage(ws)).data.toString());
      ws.close();
      await closed(ws);
    }
    assert.equal(names.filter((n) => n === 'ws1').length, 3, names.join());
    assert.equal(names.filter((n) => n === 'ws2').length, 3, names.join());
    for (let i = 1; i < names.length; i++) assert.notEqual(names[i], names[i - 1], names.join());
  });

  test('a server refusing the upgrade: its 403 reaches the client', async () => {
    const r = await refused(`ws://127.0.0.1:${port}/deny`);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'not for you');
    assert.equal(r.headers['x-why'], 'policy');
  });

  test('the server closing: the client gets its close code and reason', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/close-me`);
    const c = await closed(ws);
    assert.equal(c.code, 4000);
    assert.equal(c.reason, 'bye');
  });

  test('the client closing: the server gets its close code and reason', async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/client-closes`);
    ws.send('whoami');
    const who = (await nextMessage(ws)).data.toString();
    const srv = who === 'ws1' ? a : b;
    const seen = srv.nextClose();
    ws.close(4001, 'client bye');
    assert.deepEqual(await seen, { code: 4001, reason: 'client bye' });
    const c = await closed(ws);
    assert.equal(c.code, 4001);
  });

  test('the client vanishing (no close frame): the server connection ends too', async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/vanish`);
    ws.send('whoami');
    const who = (await nextMessage(ws)).data.toString();
    const seen = (who === 'ws1' ? a : b).nextClose();
    ws.terminate();
    const c = await seen;
    assert.equal(c.code, 1006);
  });

  test('server pings reach the client and its pong goes back', async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/ping`);
    assert.equal((await nextMessage(ws)).data.toString(), 'pong:abc');
    ws.close();
    await closed(ws);
  });

  test('a message the server sends in fragments arrives whole', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/fragments`);
    const m = await nextMessage(ws);
    assert.equal(m.data.toString(), 'hello');
    assert.equal(m.isBinary, false);
    ws.close();
    await closed(ws);
  });

  test('many tunnels at once keep their own messages', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(`ws://127.0.0.1:${port}/many`)));
    const replies = await Promise.all(
      clients.map((ws, i) => {
        const p = nextMessage(ws);
        ws.send(`client ${i}`);
        return p;
      }),
    );
    replies.forEach((r, i) => assert.equal(r.data.toString(), `client ${i}`));
    for (const ws of clients) ws.close();
    await Promise.all(clients.map(closed));
  });

  test('a client that does not read holds the server back (backpressure), then gets everything', async () => {
    const n = 48;
    const ws = await connect(`ws://127.0.0.1:${port}/flood/${n}`);
    const sock = (ws as unknown as { _socket: net.Socket })._socket;
    sock.pause();
    await sleep(1500);
    // the server of this tunnel still holds most of what it sent: gatehouse stopped reading it
    const held = Math.max(...[a, b].map((x) => (x.last !== null && x.last.readyState === WebSocket.OPEN ? x.last.bufferedAmount : 0)));
    if (process.env.WS_TEST_VERBOSE) console.log(`held by the server: ${(held / 1048576).toFixed(1)} MB`);
    assert.ok(held > 20 * 1024 * 1024, `the server could only hand over ${((n * 1024 * 1024 - held) / 1048576).toFixed(1)} MB`);
    const got: number[] = [];
    const all = new Promise<void>((resolve, reject) => {
      ws.on('message', (d: Buffer) => {
        if (d.length !== 1024 * 1024 || d[0] !== (got.length & 0xff) || d[d.length - 1] !== (got.length & 0xff)) reject(new Error(`message ${got.length} damaged`));
        got.push(d[0]);
        if (got.length === n) resolve();
      });
    });
    sock.resume();
    await all;
    ws.close();
    await closed(ws);
  });

  test('a server that does not read: past the buffer limit the tunnel closes with 1008', { skip: onNodeEngine('its tunnel joins the sockets byte for byte (node-tunnel.ts) and holds the client back by TCP backpressure, as HAProxy does: no frames, no 1008') }, async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/noread`);
    const c = closed(ws);
    const mb = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < 80 && ws.readyState === WebSocket.OPEN; i++) {
      ws.send(mb);
      if (i % 8 === 7) await sleep(20);
    }
    const r = await c;
    assert.equal(r.code, 1008);
    assert.equal(r.reason, 'backpressure limit');
  });

  test('plain HTTP still works on the same frontend', async () => {
    const r1 = await request(port, { path: '/' });
    const r2 = await request(port, { path: '/' });
    assert.equal(r1.status, 200);
    assert.deepEqual([r1.body.toString(), r2.body.toString()].sort(), ['ws1', 'ws2']);
    // a Sec-WebSocket-Key without Upgrade: websocket is an ordinary request
    const r3 = await request(port, { path: '/', headers: { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } });
    assert.equal(r3.status, 200);
  });
});

describe('websocket failures', () => {
  let port: number, gh: Gatehouse, dead: number;
  /** A scripted server: answers the upgrade per `mode`, then misbehaves. */
  class BadServer extends RawTcpServer {
    mode = 'masked';
    protected onConn(sock: net.Socket): void {
      let buf = '';
      sock.on('error', () => {});
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0 || buf === '') return;
        const key = /sec-websocket-key: (\S+)/i.exec(buf)![1];
        buf = '';
        const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        if (this.mode === 'silent') return;
        if (this.mode === 'bad-accept') {
          sock.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n');
          return;
        }
        const ok = `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`;
        // one good text frame in the same write as the 101, then a masked frame (forbidden)
        const good = Buffer.from([0x81, 0x02, 0x6f, 0x6b]);
        const masked = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x6f ^ 1, 0x6b ^ 2]);
        sock.write(Buffer.concat([Buffer.from(ok, 'latin1'), good]));
        setTimeout(() => sock.write(masked), 50);
      });
    }
  }
  const bad = new BadServer();

  before(async () => {
    await bad.start();
    dead = await freePort();
    port = await freePort();
    const cfg = `global:
  workers: 1
defaults:
  timeout: { connect: 1s, client: 5s, server: 1s }
  retries: 1
frontends:
  fe:
    bind: ["127.0.0.1:${port}"]
    default_backend: bad
    use_backend: [{ backend: down, if: "{ path_beg /down }" }]
    http_request:
      - "deny if { path_beg /denied }"
backends:
  bad:
    servers:
      - { name: bad1, address: "127.0.0.1:${bad.port}" }
  down:
    servers:
      - { name: nobody, address: "127.0.0.1:${dead}" }
`;
    gh = await startGatehouse(cfg, [port]);
  });
  after(async () => {
    await gh.stop();
    await bad.close();
  });

  test('no server up: 503', async () => {
    const r = await refused(`ws://127.0.0.1:${port}/down`);
    assert.equal(r.status, 503);
    assert.match(r.body, /503 Service Unavailable/);
  });

  test('denied by a rule: 403', async () => {
    const r = await refused(`ws://127.0.0.1:${port}/denied`);
    assert.equal(r.status, 403);
  });

  test('a masked frame from the server closes both sides with 1002', { skip: onNodeEngine('its tunnel relays bytes as HAProxy does (node-tunnel.ts): no frames of its own, so the client sees the TCP close (1006), not a close frame') }, async () => {
    bad.mode = 'masked';
    const ws = new WebSocket(`ws://127.0.0.1:${port}/x`);
    const first = await nextMessage(ws);
    assert.equal(first.data.toString(), 'ok');
    const c = await closed(ws);
    assert.equal(c.code, 1002);
  });

  test('a 101 with a wrong Sec-WebSocket-Accept: 502', async () => {
    bad.mode = 'bad-accept';
    const r = await refused(`ws://127.0.0.1:${port}/x`);
    assert.equal(r.status, 502);
  });

  test('no answer within timeout server: 504', async () => {
    bad.mode = 'silent';
    const r = await refused(`ws://127.0.0.1:${port}/x`);
    assert.equal(r.status, 504);
  });
});

describe('haproxy.cfg: timeout tunnel', () => {
  let srv: WsBackend, port: number, gh: Gatehouse;
  const cfgText = (p: number, sp: number) => `global
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout tunnel 1500ms

frontend ws_in
    bind 127.0.0.1:${p}
    default_backend ws_back

backend ws_back
    server ws1 127.0.0.1:${sp}
`;
  before(async () => {
    srv = await startWsBackend('ws1');
    port = await freePort();
    gh = await startGatehouse(cfgText(port, srv.port), [port], { ext: '.cfg' });
  });
  after(async () => {
    await gh.stop();
    await srv.close();
  });

  test('the keyword parses into the backend timeouts', () => {
    const file = tmpFile('t.cfg', cfgText(1, 2));
    const { config } = loadConfig([file]);
    assert.equal(config.backends[0].timeouts.tunnel, 1500);
    // and the default when absent
    const plain = tmpFile('p.cfg', cfgText(1, 2).replace(/ *timeout tunnel.*\n/, ''));
    assert.equal(loadConfig([plain]).config.backends[0].timeouts.tunnel, 3600000);
  });

  test('traffic keeps a tunnel open; 1.5 s of silence closes both sides', { skip: onNodeEngine('its tunnel relays bytes as HAProxy does (node-tunnel.ts): no frames of its own, so the client sees the TCP close (1006), not a close frame') }, async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/t`);
    // active for 2.4 s: messages every 300 ms keep it open
    for (let i = 0; i < 8; i++) {
      ws.send(`tick ${i}`);
      assert.equal((await nextMessage(ws)).data.toString(), `tick ${i}`);
      await sleep(300);
    }
    const serverSide = srv.nextClose();
    const t0 = Date.now();
    const c = await closed(ws);
    const waited = Date.now() - t0;
    assert.equal(c.code, 1001);
    assert.equal(c.reason, 'tunnel timeout');
    assert.ok(waited > 800 && waited < 4000, `closed after ${waited} ms`);
    assert.equal((await serverSide).code, 1001);
    // logged like a request: status 101, termination cD
    await waitForOutput(gh, / 101 /, 1, 5000).catch(() => undefined);
    const line = gh.output().split('\n').find((l) => / 101 /.test(l) && l.includes('GET /t HTTP/1.1'));
    assert.ok(line, gh.output());
    assert.match(line, /ws_in ws_back\/ws1 /);
    assert.match(line, / cD-- /);
  });
});

describe('wss through an SNI certificate', { skip: uwsLoads() ? false : `TLS binds need uWebSockets.js, which has no binary for Node.js ${process.version}` }, () => {
  let srv: WsBackend, port: number, gh: Gatehouse, dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-wss-'));
    const pem = (name: string, cn: string) => {
      const key = path.join(dir, name + '.key');
      const crt = path.join(dir, name + '.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
        '-addext', `subjectAltName=DNS:${cn}`, '-keyout', key, '-out', crt], { stdio: 'ignore' });
      const file = path.join(dir, name + '.pem');
      fs.writeFileSync(file, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
      return file;
    };
    const def = pem('default', 'default.test');
    const sni = pem('sni', 'ws.test');
    srv = await startWsBackend('ws1');
    port = await freePort();
    gh = await startGatehouse(`global:
  workers: 1
  log: [{ target: stdout, format: raw }]
frontends:
  fe:
    bind: [{ address: "127.0.0.1:${port}", ssl: true, crt: ["${def}", "${sni}"] }]
    default_backend: be
backends:
  be:
    servers:
      - { name: ws1, address: "127.0.0.1:${srv.port}" }
`, [port]);
  });
  after(async () => {
    await gh.stop();
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the SNI router upgrades too; the server sees X-Forwarded-Proto https', async () => {
    for (const servername of ['ws.test', undefined]) {
      const ws = await connect(`wss://127.0.0.1:${port}/secure`, undefined, {
        rejectUnauthorized: false,
        ...(servername ? { servername, headers: { host: servername } } : {}),
      });
      // Failed once in CI (a 1006 close before the answer) and never again in thousands of
      // runs: say which name, what the client's socket reported and what gatehouse logged,
      // should it recur.
      let clientError = 'none';
      ws.on('error', (e: Error) => {
        clientError = e.message;
      });
      ws.send('whoami');
      const answer = await nextMessage(ws).catch((e: Error) => {
        throw new Error(`servername ${servername ?? '(none)'}: ${e.message}; client error: ${clientError}\ngatehouse:\n${gh.output()}`);
      });
      assert.equal(answer.data.toString(), 'ws1');
      assert.equal(srv.upgrades[srv.upgrades.length - 1]['x-forwarded-proto'], 'https');
      ws.close();
      await closed(ws);
    }
  });
});

describe('cookie persistence, maxconn and graceful stop', () => {
  let a: WsBackend, b: WsBackend, port: number, limited: number, gh: Gatehouse;
  before(async () => {
    a = await startWsBackend('ws1');
    b = await startWsBackend('ws2');
    port = await freePort();
    limited = await freePort();
    gh = await startGatehouse(`global:
  workers: 1
  grace: 1s
defaults:
  timeout: { connect: 1s, client: 5s, server: 2s }
frontends:
  fe:
    bind: ["127.0.0.1:${port}"]
    default_backend: be
  small:
    bind: ["127.0.0.1:${limited}"]
    maxconn: 1
    default_backend: be
backends:
  be:
    cookie: { name: SRV, mode: insert, indirect: true }
    servers:
      - { name: ws1, address: "127.0.0.1:${a.port}", cookie: w1 }
      - { name: ws2, address: "127.0.0.1:${b.port}", cookie: w2 }
`, [port, limited]);
  });
  after(async () => {
    await gh.stop();
    await a.close();
    await b.close();
  });

  test('the 101 carries the persistence cookie, and the cookie pins the server', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/c`);
    const opened = new Promise((r) => ws.once('open', r));
    const setCookie = await new Promise<string[]>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers['set-cookie'] ?? []));
      ws.once('error', reject);
    });
    await opened;
    assert.equal(setCookie.length, 1);
    assert.match(setCookie[0], /^SRV=w[12]; path=\//);
    ws.close();
    await closed(ws);
    for (let i = 0; i < 3; i++) {
      const pinned = await connect(`ws://127.0.0.1:${port}/c`, undefined, { headers: { cookie: 'SRV=w2; other=1' } });
      pinned.send('whoami');
      assert.equal((await nextMessage(pinned)).data.toString(), 'ws2');
      // indirect: the server does not see gatehouse's cookie
      assert.equal(b.upgrades[b.upgrades.length - 1].cookie, 'other=1');
      pinned.close();
      await closed(pinned);
    }
  });

  test('a tunnel holds a frontend maxconn slot for its life; beyond maxconn an upgrade gets 503', async () => {
    const first = await connect(`ws://127.0.0.1:${limited}/m`);
    const r = await refused(`ws://127.0.0.1:${limited}/m`);
    assert.equal(r.status, 503);
    first.close();
    await closed(first);
    await sleep(100);
    const again = await connect(`ws://127.0.0.1:${limited}/m`);
    again.close();
    await closed(again);
  });

  test('SIGTERM: open tunnels stay up to the grace period, then both sides hear 1001', { skip: onNodeEngine('its tunnel relays bytes as HAProxy does (node-tunnel.ts): no frames of its own, so the client sees the TCP close (1006), not a close frame') }, async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/stop`);
    ws.send('whoami');
    const who = (await nextMessage(ws)).data.toString();
    const serverSide = (who === 'ws1' ? a : b).nextClose();
    const c = closed(ws);
    const t0 = Date.now();
    const exited = gh.stop('SIGTERM');
    // still relaying during the grace period
    await sleep(300);
    ws.send('still here');
    assert.equal((await nextMessage(ws)).data.toString(), 'still here');
    const r = await c;
    assert.equal(r.code, 1001);
    assert.ok(Date.now() - t0 >= 900, 'closed before the grace period ended');
    assert.equal((await serverSide).code, 1001);
    assert.equal(await exited, 0);
  });
});

// ---- the framing and handshake modules on their own ----

/** An unmasked (server) frame, built by hand. `len` overrides the length encoding width. */
function serverFrame(b0: number, payload: Buffer, width?: 7 | 16 | 64): Buffer {
  const n = payload.length;
  const w = width ?? (n < 126 ? 7 : n < 65536 ? 16 : 64);
  const h = w === 7 ? Buffer.from([b0, n]) : w === 16 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (w === 16) {
    h[0] = b0;
    h[1] = 126;
    h.writeUInt16BE(n, 2);
  } else if (w === 64) {
    h[0] = b0;
    h[1] = 127;
    h.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([h, payload]);
}

class Collect implements WsFrameSink {
  events: string[] = [];
  payloads: Buffer[] = [];
  onWsMessage(p: Buffer, isBinary: boolean): void {
    this.events.push(isBinary ? 'binary' : 'text');
    this.payloads.push(Buffer.from(p));
  }
  onWsPing(p: Buffer): void {
    this.events.push('ping:' + p.toString());
  }
  onWsPong(p: Buffer): void {
    this.events.push('pong:' + p.toString());
  }
  onWsClose(code: number, reason: Buffer): void {
    this.events.push(`close:${code}:${reason.toString()}`);
  }
}

function decodeAll(bytes: Buffer, step: number, max = 1 << 20): Collect {
  const d = new WsDecoder(max);
  const c = new Collect();
  for (let i = 0; i < bytes.length; i += step) {
    d.push(bytes.subarray(i, i + step));
    while (d.next(c)) {
      /* drain */
    }
  }
  return c;
}

function decodeError(bytes: Buffer, max = 1 << 20): number {
  try {
    decodeAll(bytes, bytes.length, max);
  } catch (e) {
    assert.ok(e instanceof WsFrameError, String(e));
    return e.closeCode;
  }
  return 0;
}

/** Unmask a client frame produced by encodeFrame. */
function unmask(frame: Buffer): { fin: boolean; opcode: number; payload: Buffer } {
  assert.ok(frame[1] & 0x80, 'client frames are masked');
  let len = frame[1] & 0x7f;
  let at = 2;
  if (len === 126) {
    len = frame.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    len = Number(frame.readBigUInt64BE(2));
    at = 10;
  }
  const mask = frame.subarray(at, at + 4);
  const payload = Buffer.from(frame.subarray(at + 4));
  assert.equal(payload.length, len);
  for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
  return { fin: (frame[0] & 0x80) !== 0, opcode: frame[0] & 0x0f, payload };
}

describe('ws-frame: encoder and decoder', () => {
  test('client frames are masked and carry the payload, for every length encoding and alignment', () => {
    for (const n of [0, 1, 3, 4, 5, 125, 126, 127, 65535, 65536, 70001]) {
      const data = crypto.randomBytes(n + 3);
      for (const off of [0, 1, 2, 3]) {
        const payload = data.subarray(off, off + n);
        const f = unmask(encodeFrame(OP_BINARY, payload));
        assert.equal(f.fin, true);
        assert.equal(f.opcode, OP_BINARY);
        assert.ok(f.payload.equals(payload), `n=${n} off=${off}`);
      }
    }
    const c = unmask(encodeClose(4001, 'x'.repeat(200)));
    assert.equal(c.opcode, OP_CLOSE);
    assert.equal(c.payload.readUInt16BE(0), 4001);
    assert.equal(c.payload.length, 125);
    assert.equal(unmask(encodeClose(1005)).payload.length, 0);
    // masks differ from frame to frame
    assert.notDeepEqual(encodeFrame(OP_TEXT, Buffer.from('a')).subarray(2, 6), encodeFrame(OP_TEXT, Buffer.from('a')).subarray(2, 6));
  });

  test('the decoder takes frames split anywhere, with 7, 16 and 64-bit lengths and fragments', () => {
    const big = crypto.randomBytes(70000);
    const stream = Buffer.concat([
      serverFrame(0x81, Buffer.from('héllo')),
      serverFrame(0x82, Buffer.alloc(300, 9)),
      serverFrame(0x82, big),
      serverFrame(0x89, Buffer.from('p1')),
      serverFrame(0x01, Buffer.from('frag')), // text, not final
      serverFrame(0x8a, Buffer.from('p2')), // a control frame between fragments
      serverFrame(0x00, Buffer.from('men')),
      serverFrame(0x80, Buffer.from('ted')),
      serverFrame(0x82, Buffer.alloc(0)),
      serverFrame(0x88, Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('done')])),
      serverFrame(0x81, Buffer.from('after close: ignored')),
    ]);
    for (const step of [1, 2, 3, 7, 1000, stream.length]) {
      const c = decodeAll(stream, step);
      assert.deepEqual(c.events, ['text', 'binary', 'binary', 'ping:p1', 'pong:p2', 'text', 'binary', 'close:4000:done'], `step ${step}`);
      assert.equal(c.payloads[0].toString(), 'héllo');
      assert.ok(c.payloads[2].equals(big));
      assert.equal(c.payloads[3].toString(), 'fragmented');
      assert.equal(c.payloads[4].length, 0);
    }
    assert.deepEqual(decodeAll(serverFrame(0x88, Buffer.alloc(0)), 1).events, ['close:1005:']);
  });

  test('what RFC 6455 forbids is refused with the right close code', () => {
    const P = 1002;
    const cases: [string, Buffer, number][] = [
      ['masked server frame', Buffer.from([0x81, 0x81, 1, 2, 3, 4, 0x61]), P],
      ['RSV1 without extension', serverFrame(0xc1, Buffer.from('a')), P],
      ['RSV3', serverFrame(0x91, Buffer.from('a')), P],
      ['reserved data opcode', serverFrame(0x83, Buffer.from('a')), P],
      ['reserved control opcode', serverFrame(0x8b, Buffer.from('a')), P],
      ['fragmented control frame', serverFrame(0x09, Buffer.from('a')), P],
      ['control frame over 125 bytes', serverFrame(0x89, Buffer.alloc(126)), P],
      ['continuation without a message', serverFrame(0x80, Buffer.from('a')), P],
      ['new message inside a fragmented one', Buffer.concat([serverFrame(0x01, Buffer.from('a')), serverFrame(0x81, Buffer.from('b'))]), P],
      ['16-bit length for a short payload', serverFrame(0x82, Buffer.alloc(10), 16), P],
      ['64-bit length for a 16-bit payload', serverFrame(0x82, Buffer.alloc(300), 64), P],
      ['64-bit length with the top bit set', Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), P],
      ['close with a 1-byte payload', serverFrame(0x88, Buffer.from([3])), P],
      ['close with code 1005', serverFrame(0x88, Buffer.from([0x03, 0xed])), P],
      ['close with code 999', serverFrame(0x88, Buffer.from([0x03, 0xe7])), P],
      ['text that is not UTF-8', serverFrame(0x81, Buffer.from([0xc3, 0x28])), 1007],
      ['fragmented text that is not UTF-8', Buffer.concat([serverFrame(0x01, Buffer.from([0xe2, 0x82])), serverFrame(0x80, Buffer.from([0x28]))]), 1007],
      ['close reason that is not UTF-8', serverFrame(0x88, Buffer.from([0x03, 0xe8, 0xff])), 1007],
    ];
    for (const [what, bytes, code] of cases) assert.equal(decodeError(bytes), code, what);
    // over the size limit: refused from the header, before the payload is buffered
    assert.equal(decodeError(serverFrame(0x82, Buffer.alloc(2000)).subarray(0, 10), 1000), 1009);
    assert.equal(decodeError(Buffer.concat([serverFrame(0x02, Buffer.alloc(600)), serverFrame(0x80, Buffer.alloc(600))]), 1000), 1009);
    // a UTF-8 sequence split across fragments is fine
    assert.deepEqual(decodeAll(Buffer.concat([serverFrame(0x01, Buffer.from([0xe2, 0x82])), serverFrame(0x80, Buffer.from([0xac]))]), 1).payloads[0].toString(), '€');
  });

  test('the handshake: response heads and the 101 checks', () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    assert.equal(acceptFor(key), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const ok = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Protocol: chat\r\nX-Extra:  kept \r\n\r\n\x81\x00`, 'latin1');
    assert.equal(upgradeHead([ok.subarray(0, 40)]), null);
    const h = upgradeHead([ok.subarray(0, 40), ok.subarray(40)])!;
    assert.equal(h.status, 101);
    assert.equal(h.rest.length, 2);
    assert.deepEqual(h.headers.slice(-2), ['X-Extra', 'kept']);
    assert.equal(checkSwitchingProtocols(h, key, 'x, chat'), null);
    assert.match(String(checkSwitchingProtocols(h, key, 'x')), /subprotocol/);
    assert.match(String(checkSwitchingProtocols(h, 'AAAAAAAAAAAAAAAAAAAAAA==', 'chat')), /Accept/);
    const ext = upgradeHead([Buffer.from(`HTTP/1.1 101 OK\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${acceptFor(key)}\r\nsec-websocket-extensions: permessage-deflate\r\n\r\n`)])!;
    assert.match(String(checkSwitchingProtocols(ext, key, '')), /extension/);
    const noUpgrade = upgradeHead([Buffer.from(`HTTP/1.1 101 OK\r\nconnection: upgrade\r\nsec-websocket-accept: ${acceptFor(key)}\r\n\r\n`)])!;
    assert.match(String(checkSwitchingProtocols(noUpgrade, key, '')), /Upgrade/);
    for (const bad of [
      'HTTP/1.1 1010 x\r\n\r\n',
      'HTTP/2 101 x\r\n\r\n',
      'HTTP/1.1 101 x\r\n folded: no\r\n\r\n',
      'HTTP/1.1 101 x\r\nbad name: v\r\n\r\n',
      'HTTP/1.1 101 x\r\nname: a\nb\r\n\r\n',
      'HTTP/1.1 101 x\r\nname: a\x00\r\n\r\n',
    ]) {
      assert.throws(() => upgradeHead([Buffer.from(bad, 'latin1')]), ResponseParseError, JSON.stringify(bad));
    }
    assert.throws(() => upgradeHead([Buffer.alloc(70000, 0x61)]), ResponseParseError);
    // a refused upgrade is an ordinary answer, with an empty reason allowed
    const refused = upgradeHead([Buffer.from('HTTP/1.1 403\r\ncontent-length: 0\r\n\r\n')])!;
    assert.equal(refused.status, 403);
    assert.equal(refused.reason, '');
    // a 101 to a request that asked for no upgrade is no valid answer
    assert.throws(() => upgradeHead([ok], false), ResponseParseError);
  });
});

/**
 * The server's answer to an upgrade request as the proxy parses it (ResponseParser in upgrade
 * mode), fed in `reads`; null while the head is incomplete. `upgrade` false: a plain request.
 */
function upgradeHead(reads: Buffer[], upgrade = true): { status: number; reason: string; headers: string[]; minor: number; rest: Buffer } | null {
  const p = new ResponseParser();
  let head: { status: number; reason: string; headers: string[]; minor: number; rest: Buffer } | null = null;
  const sink: ResponseSink = {
    onResponseHead(status, reason, headers) {
      head = { status, reason, headers, minor: p.versionMinor, rest: Buffer.alloc(0) };
    },
    onResponseBody() {},
    onResponseComplete() {},
    onResponseUpgrade(rest) {
      head!.rest = Buffer.from(rest);
    },
  };
  p.begin(sink, false, upgrade);
  try {
    for (const r of reads) p.execute(r);
  } finally {
    p.close();
  }
  return head;
}
