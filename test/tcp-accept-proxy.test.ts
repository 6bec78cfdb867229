// accept-proxy on a mode tcp bind, against HAProxy 2.6 on the same haproxy.cfg: the PROXY header
// (v1 and v2) is read before the session and not relayed; the client address it carries is what
// content rules, stick tables and log lines see (%ci %cp %fi %fp), while connection rules see
// the peer, as in HAProxy; anything else than a header closes the connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeProxyHeader, encodeProxyV2, PP_DONE, PP_INCOMPLETE } from '../src/net/proxy-protocol';
import { loadConfig } from '../src/config/load';
import { sleep, startGatehouse, tmpFile } from './helpers/net';
import { runtimeCommand as cli, waitForSocket } from './helpers/runtime-api';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { echoServer } from './helpers/tcp';

/** Send `data` and half-close; everything received until the proxy closes. */
function exchange(port: number, data: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.end(data));
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

const cfg = (port: number, server: number, sock: string) => `global
    stats socket ${sock} level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    log stdout format raw local0
frontend fe
    bind 127.0.0.1:${port} accept-proxy
    log-format "LF %ci:%cp %fi:%fp %ts %B %U"
    stick-table type ip size 1k expire 60s store conn_cnt,sess_cnt
    tcp-request connection reject if !{ src 127.0.0.1 }
    tcp-request session track-sc0 src
    tcp-request session reject if { src 192.0.2.99 }
    tcp-request content reject if { src 192.0.2.66 }
    default_backend be
backend be
    server s1 127.0.0.1:${server}
`;

test('accept-proxy on a tcp bind: v1 and v2 headers read, their address used, garbage refused, as HAProxy 2.6', async (t) => {
  const echo = await echoServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-tcpap-'));
  const [gp, hp] = await distinctPorts(2, [echo.port]);
  const gh = await startGatehouse(cfg(gp, echo.port, path.join(dir, 'gh.sock')), [gp], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, cfg(hp, echo.port, path.join(dir, 'ha.sock')), [hp]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await echo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const v2 = encodeProxyV2({ srcAddress: '192.0.2.8', srcPort: 6666, dstAddress: '198.51.100.2', dstPort: 8443 });
  const run = async (port: number, sock: string, out: () => string) => {
    await waitForSocket(sock);
    await sleep(300);
    await cli(sock, 'clear table fe');
    const got = [
      await exchange(port, Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nhello')),
      await exchange(port, Buffer.concat([v2, Buffer.from('v2 data')])),
      await exchange(port, Buffer.from('PROXY TCP4 192.0.2.66 198.51.100.1 5556 443\r\nnope')),
      await exchange(port, Buffer.from('GET / HTTP/1.0\r\n\r\n')),
      await exchange(port, Buffer.from('PROXY TCP4 192.0.2.99 198.51.100.1 5557 443\r\nsession')),
    ];
    await sleep(300);
    // (workers log in their own order)
    const lines = out().split('\n').filter((l) => l.startsWith('LF ') && !l.startsWith('LF 127.0.0.1:')).sort();
    const dses = (await cli(sock, 'show stat')).split('\n').find((l) => l.startsWith('fe,FRONTEND,'));
    const table = (await cli(sock, 'show table fe')).replace(/^0x[0-9a-f]+: /gm, '').replace(/ exp=\d+/g, '').split('\n').sort().join('\n');
    return { got, lines, table, dses };
  };
  const g = await run(gp, path.join(dir, 'gh.sock'), () => gh.output());
  assert.deepEqual(g.got, ['s1:hello', 's1:v2 data', '', '', ''], 'the header is not relayed; a content reject, garbage and a session reject get nothing');
  assert.deepEqual(g.lines, [
    'LF 192.0.2.66:5556 198.51.100.1:443 PR 0 4',
    'LF 192.0.2.7:5555 198.51.100.1:443 -- 8 5',
    'LF 192.0.2.8:6666 198.51.100.2:8443 -- 10 7',
  ]);
  // tracked by a session rule: the header's address; a session rule's reject is no session
  assert.match(g.table, /key=192\.0\.2\.7 use=0 conn_cnt=1 sess_cnt=1/);
  assert.match(g.table, /key=192\.0\.2\.8 use=0 conn_cnt=1 sess_cnt=1/);
  assert.match(g.table, /key=192\.0\.2\.66 use=0 conn_cnt=1 sess_cnt=1/);
  assert.match(g.table, /key=192\.0\.2\.99 use=0 conn_cnt=1 sess_cnt=0/);
  const col = (row: string | undefined, name: string) => (row ?? '').split(',')[['pxname', 'svname', 'qcur', 'qmax', 'scur', 'smax', 'slim', 'stot', 'bin', 'bout', 'dreq'].indexOf(name)];
  assert.equal(col(g.dses, 'stot'), '3', 'sessions: the three valid headers not refused by a session rule (garbage and the start-up probe are none)');
  assert.equal(col(g.dses, 'dreq'), '1');
  if (ha !== null) {
    const h = await run(hp, path.join(dir, 'ha.sock'), () => ha.output());
    assert.deepEqual(h.got, g.got);
    assert.deepEqual(h.lines, g.lines);
    assert.equal(g.table.replace(/use=\d+/g, 'use=N'), h.table.replace(/use=\d+/g, 'use=N'));
    // dcon, dses and the rest of the frontend row's counters of the same traffic
    const pick = (row: string | undefined) => { const v = (row ?? '').split(','); return [7, 8, 9, 10, 12, 81, 82].map((i) => v[i]); };
    assert.deepEqual(pick(g.dses), pick(h.dses), 'stot bin bout dreq ereq dcon dses');
  } else {
    t.diagnostic('haproxy not installed: checked against the expected values only');
  }
});

test('accept-proxy on a mode tcp bind needs no engine setting (tcp binds run on node:net)', () => {
  const m = loadConfig([tmpFile('tcpap.cfg', 'defaults\n  mode tcp\nfrontend fe\n  bind 127.0.0.1:1 accept-proxy\n  default_backend be\nbackend be\n  server s 127.0.0.1:2\n')]).config;
  assert.equal(m.frontends[0].binds[0].acceptProxy, true);
});

/** A server that reads the PROXY header a proxy sends first and, at the client's FIN, answers with it (v1 as text, v2 as hex) and the data after it. */
async function headerServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    s.on('data', (d) => (buf = Buffer.concat([buf, d])));
    // everything the client sent came (its FIN is relayed): answer
    s.on('end', () => {
      const r = decodeProxyHeader(buf);
      if (r.status === PP_INCOMPLETE) return void s.end('incomplete');
      s.end(r.status === PP_DONE ? (r.header!.version === 1 ? buf.subarray(0, r.length).toString('latin1') : buf.subarray(0, r.length).toString('hex')) + '|' + buf.subarray(r.length).toString('latin1') : 'no header');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const sendCfg = (p: { v1: number; ap: number }, server: number) => `defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe_v1
    bind 127.0.0.1:${p.v1}
    default_backend be_v1
frontend fe_ap
    bind 127.0.0.1:${p.ap} accept-proxy
    default_backend be_v2
backend be_v1
    server s1 127.0.0.1:${server} send-proxy
backend be_v2
    server s1 127.0.0.1:${server} send-proxy-v2
`;

test('send-proxy / send-proxy-v2 on servers of a tcp backend: the same header as HAProxy 2.6 sends', async (t) => {
  const hs = await headerServer();
  const [g1, g2, h1, h2] = await distinctPorts(4, [hs.port]);
  const gh = await startGatehouse(sendCfg({ v1: g1, ap: g2 }, hs.port), [g1], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, sendCfg({ v1: h1, ap: h2 }, hs.port), [h1]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await hs.close();
  });
  const run = async (v1: number, ap: number) => {
    const plain = await new Promise<{ text: string; port: number }>((resolve) => {
      let text = '';
      const s = net.connect(v1, '127.0.0.1', () => s.end('data'));
      let port = 0;
      s.on('connect', () => (port = s.localPort ?? 0));
      s.on('data', (d) => (text += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve({ text, port }));
    });
    const chained = await exchange(ap, Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 5555 443\r\nhello'));
    return { plain, chained };
  };
  const g = await run(g1, g2);
  assert.equal(g.plain.text, `PROXY TCP4 127.0.0.1 127.0.0.1 ${g.plain.port} ${g1}\r\n|data`);
  const v2 = encodeProxyV2({ srcAddress: '192.0.2.7', srcPort: 5555, dstAddress: '198.51.100.1', dstPort: 443 }).toString('hex');
  assert.equal(g.chained, `${v2}|hello`, 'accept-proxy in, send-proxy-v2 out: the client of the incoming header');
  if (ha !== null) {
    const h = await run(h1, h2);
    assert.equal(h.plain.text, `PROXY TCP4 127.0.0.1 127.0.0.1 ${h.plain.port} ${h1}\r\n|data`);
    assert.equal(h.chained, g.chained);
  }
});

test('send-proxy on a server of an http backend is accepted (served by the HTTP pools: test/send-proxy.test.ts)', () => {
  const c = loadConfig([tmpFile('sphttp.cfg', 'frontend fe\n  mode http\n  bind 127.0.0.1:1\n  default_backend be\nbackend be\n  mode http\n  server s 127.0.0.1:2 send-proxy\n')]);
  assert.equal(c.config.backends[0].servers[0].sendProxy, 1);
});
