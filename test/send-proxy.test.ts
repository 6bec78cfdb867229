// send-proxy / send-proxy-v2 on servers: a backend that reads the PROXY header and answers the
// client address it got, in HTTP mode (both engines: uWebSockets.js knows no client port, so
// there the header carries port 0) and mode tcp; the v2 bytes are those HAProxy 2.6 writes for
// the same client on the same cfg.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { makePki } from './helpers/test-pki';
import { freePort, startGatehouse, type Proc } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';
import { NODE_ENGINE } from './helpers/engine';
import { decodeProxyHeader, encodeProxyV1, encodeProxyV2, PP_DONE, PP_INCOMPLETE } from '../src/net/proxy-protocol';

interface Got {
  version: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** the header's bytes, hex */
  hex: string;
}

/** A server that reads a PROXY header, then (HTTP) a request head and answers what it got. */
async function proxyBackend(http: boolean): Promise<{ port: number; close(): Promise<void> }> {
  const srv = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    let got: Got | null = null;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (got === null) {
        const r = decodeProxyHeader(buf);
        if (r.status === PP_INCOMPLETE) return;
        if (r.status !== PP_DONE || r.header === null) {
          s.end(http ? 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n' : 'no header\n');
          return;
        }
        const h = r.header;
        got = { version: h.version, src: h.srcAddress, sport: h.srcPort, dst: h.dstAddress, dport: h.dstPort, hex: buf.subarray(0, r.length).toString('hex') };
        buf = buf.subarray(r.length);
        if (!http) {
          s.end(JSON.stringify(got));
          return;
        }
      }
      if (http && buf.includes('\r\n\r\n')) {
        const body = JSON.stringify(got);
        s.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      }
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
}

/** One exchange from a known local port: what came back (an HTTP body or the raw bytes) and that port. */
function exchange(port: number, http: boolean): Promise<{ got: Got; clientPort: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let out = '';
    let clientPort = 0;
    s.on('connect', () => (clientPort = s.localPort ?? 0));
    s.on('connect', () => s.write(http ? 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n' : 'hello\n'));
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      const body = http ? out.slice(out.indexOf('\r\n\r\n') + 4) : out;
      try {
        resolve({ got: JSON.parse(body) as Got, clientPort });
      } catch {
        reject(new Error(`not JSON: ${out}`));
      }
    });
  });
}

const cfg = (port: number, srv: number, mode: 'http' | 'tcp', opt: string) => `global
  nbthread 1
defaults
  mode ${mode}
  timeout connect 2s
  timeout client 5s
  timeout server 5s
listen px
  bind 127.0.0.1:${port}
  server s1 127.0.0.1:${srv} ${opt}
`;

async function run(start: (port: number, srv: number) => Promise<Proc>, http: boolean): Promise<{ got: Got; clientPort: number; port: number }> {
  const be = await proxyBackend(http);
  const port = await freePort();
  const p = await start(port, be.port);
  try {
    return { ...(await exchange(port, http)), port };
  } finally {
    await p.stop();
    await be.close();
  }
}

const bin = haproxyBinary();
const skipH = bin === null ? 'haproxy not installed' : false;

for (const mode of ['http', 'tcp'] as const) {
  const http = mode === 'http';
  // uWS (HTTP mode only) cannot tell the client's port
  const portKnown = !http || NODE_ENGINE;
  for (const [opt, v] of [['send-proxy', 1], ['send-proxy-v2', 2]] as const) {
    test(`mode ${mode}, ${opt}: the server reads the client's address in a v${v} header`, async () => {
      const r = await run((port, srv) => startGatehouse(cfg(port, srv, mode, opt), [port], { ext: '.cfg' }), http);
      assert.equal(r.got.version, v);
      assert.equal(r.got.src, '127.0.0.1');
      assert.equal(r.got.dst, '127.0.0.1');
      assert.equal(r.got.dport, r.port);
      assert.equal(r.got.sport, portKnown ? r.clientPort : 0);
      const a = { srcAddress: '127.0.0.1', srcPort: r.got.sport, dstAddress: '127.0.0.1', dstPort: r.port };
      assert.equal(r.got.hex, (v === 1 ? encodeProxyV1(a) : encodeProxyV2(a)).toString('hex'));
    });
  }
  test(`mode ${mode}: HAProxy 2.6 writes the same v1 and v2 bytes for its client`, { skip: skipH }, async () => {
    for (const [opt, v] of [['send-proxy', 1], ['send-proxy-v2', 2]] as const) {
      const r = await run((port, srv) => startHaproxy(bin!, cfg(port, srv, mode, opt), [port]), http);
      const a = { srcAddress: '127.0.0.1', srcPort: r.clientPort, dstAddress: '127.0.0.1', dstPort: r.port };
      // the bytes gatehouse's encoder makes for this client (checked against gatehouse above)
      assert.equal(r.got.hex, (v === 1 ? encodeProxyV1(a) : encodeProxyV2(a)).toString('hex'));
    }
  });
}

/**
 * A keep-alive backend that reads one PROXY header per connection and answers each request with
 * its connection's number and the header's source port.
 */
async function keepAliveProxyBackend(): Promise<{ port: number; conns: () => number; close(): Promise<void> }> {
  let n = 0;
  const srv = net.createServer((s) => {
    const id = ++n;
    let buf = Buffer.alloc(0);
    let sport = -1;
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (sport < 0) {
        const r = decodeProxyHeader(buf);
        if (r.status === PP_INCOMPLETE) return;
        if (r.status !== PP_DONE || r.header === null) return void s.destroy();
        sport = r.header.srcPort;
        buf = buf.subarray(r.length);
      }
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        buf = buf.subarray(end + 4);
        const body = JSON.stringify({ conn: id, sport });
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, conns: () => n, close: () => new Promise((r) => { srv.close(() => r()); }) };
}

/** `count` requests on one kept-alive client connection; the answers' bodies and the client's port. */
function keepAliveRequests(port: number, count: number): Promise<{ bodies: Array<{ conn: number; sport: number }>; clientPort: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const bodies: Array<{ conn: number; sport: number }> = [];
    let buf = '';
    let clientPort = 0;
    const next = () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    s.on('connect', () => {
      clientPort = s.localPort ?? 0;
      next();
    });
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const m = /\r\n\r\n(\{[^}]*\})/.exec(buf);
      if (m === null) return;
      bodies.push(JSON.parse(m[1]) as { conn: number; sport: number });
      buf = buf.slice(m.index + m[0].length);
      if (bodies.length < count) next();
      else {
        s.end();
        resolve({ bodies, clientPort });
      }
    });
    s.on('error', reject);
  });
}

test('send-proxy: a server connection is reused for the same client only (its header names that client)', { skip: NODE_ENGINE ? false : 'uWS: no client port, so every client of one address shares a header' }, async () => {
  const be = await keepAliveProxyBackend();
  const port = await freePort();
  const g = await startGatehouse(cfg(port, be.port, 'http', 'send-proxy-v2'), [port], { ext: '.cfg' });
  try {
    const a = await keepAliveRequests(port, 3);
    const b = await keepAliveRequests(port, 2);
    // client a: one server connection for its three requests, carrying a's port
    assert.deepEqual(new Set(a.bodies.map((x) => x.conn)).size, 1);
    for (const x of a.bodies) assert.equal(x.sport, a.clientPort);
    // client b: never a's connection (idle in the pool by then), its own header
    for (const x of b.bodies) {
      assert.notEqual(x.conn, a.bodies[0].conn);
      assert.equal(x.sport, b.clientPort);
    }
    assert.equal(be.conns(), 2);
  } finally {
    await g.stop();
    await be.close();
  }
});

/** A server that records the first bytes of every connection (health checks here) and closes it. */
async function firstBytesServer(): Promise<{ port: number; seen: Buffer[]; close(): Promise<void> }> {
  const seen: Buffer[] = [];
  const srv = net.createServer((s) => {
    s.once('data', (d: Buffer) => {
      seen.push(d);
      s.destroy();
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, seen, close: () => new Promise((r) => { srv.close(() => r()); }) };
}

/**
 * The first PROXY header of a health check: the one without client addresses (v2 LOCAL), or whose
 * destination is the server itself (v1); the start-up probe's relayed connection names the bind.
 */
async function checkHeaders(start: (port: number, srv: number, opt: string) => Promise<Proc>, opt: string): Promise<{ first: Buffer; srvPort: number }> {
  const be = await firstBytesServer();
  const port = await freePort();
  const p = await start(port, be.port, opt);
  const isCheck = (b: Buffer) => {
    const d = decodeProxyHeader(b);
    return d.status === PP_DONE && d.header !== null && (d.header.local || d.header.dstPort === be.port);
  };
  try {
    for (let i = 0; i < 50 && !be.seen.some(isCheck); i++) await new Promise((r) => setTimeout(r, 100));
    const first = be.seen.find(isCheck);
    assert.ok(first !== undefined, 'no check connection came');
    return { first, srvPort: be.port };
  } finally {
    await p.stop();
    await be.close();
  }
}

test('health checks of a send-proxy server: v2 LOCAL, v1 with the check connection\'s own ends, as HAProxy 2.6', async () => {
  const ghStart = (port: number, srv: number, opt: string) => startGatehouse(cfg(port, srv, 'tcp', `${opt} check inter 200`), [port], { ext: '.cfg' });
  const v2 = await checkHeaders(ghStart, 'send-proxy-v2');
  assert.equal(v2.first.toString('hex'), '0d0a0d0a000d0a515549540a20000000');
  const v1 = await checkHeaders(ghStart, 'send-proxy');
  const d = decodeProxyHeader(v1.first);
  assert.equal(d.status, PP_DONE);
  assert.equal(d.header!.family, 'TCP4');
  assert.equal(d.header!.dstPort, v1.srvPort);
  assert.ok(d.header!.srcPort > 0);
  if (bin !== null) {
    const hStart = (port: number, srv: number, opt: string) => startHaproxy(bin, cfg(port, srv, 'tcp', `${opt} check inter 200`), [port]);
    assert.equal((await checkHeaders(hStart, 'send-proxy-v2')).first.toString('hex'), v2.first.toString('hex'));
    const h1 = await checkHeaders(hStart, 'send-proxy');
    const hd = decodeProxyHeader(h1.first);
    assert.equal(hd.header!.family, 'TCP4');
    assert.equal(hd.header!.dstPort, h1.srvPort);
    // apart from the (ephemeral) source port, the same line
    assert.equal(h1.first.toString('latin1').replace(/ \d+ (\d+)\r\n$/, ' P $1'), v1.first.toString('latin1').replace(/ \d+ (\d+)\r\n$/, ' P $1').replace(String(v1.srvPort), String(h1.srvPort)));
  }
});

test('send-proxy with ssl: the header goes first, then the TLS handshake (traffic and checks)', async () => {
  const pki = makePki();
  const ctx = tls.createSecureContext({ key: fs.readFileSync(pki.serverKey), cert: fs.readFileSync(pki.serverCert) });
  let checks = 0;
  const srv = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const r = decodeProxyHeader(buf);
      if (r.status === PP_INCOMPLETE) return;
      s.removeListener('data', onData);
      if (r.status !== PP_DONE || r.header === null) return void s.destroy();
      const h = r.header;
      if (h.local) checks++;
      s.pause();
      s.unshift(buf.subarray(r.length));
      const t = new tls.TLSSocket(s, { isServer: true, secureContext: ctx });
      t.on('error', () => t.destroy());
      t.on('data', () => {
        const body = JSON.stringify({ src: h.srcAddress, dport: h.dstPort });
        t.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      });
    };
    s.on('data', onData);
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = await freePort();
  const srvPort = (srv.address() as net.AddressInfo).port;
  const g = await startGatehouse(cfg(port, srvPort, 'http', `ssl ca-file ${pki.ca} send-proxy-v2 check inter 200`), [port], { ext: '.cfg' });
  try {
    const r = await exchange(port, true);
    assert.deepEqual(r.got, { src: '127.0.0.1', dport: port } as unknown as Got);
    for (let i = 0; i < 30 && checks < 2; i++) await new Promise((res) => setTimeout(res, 100));
    assert.ok(checks >= 2, `checks with a LOCAL header: ${checks}`);
    assert.doesNotMatch(g.output(), /is DOWN/);
  } finally {
    await g.stop();
    await new Promise((r) => srv.close(r));
  }
});
