// PROXY protocol on the node:net front engine (accept-proxy) and the codec in
// src/net/proxy-protocol.ts: v1/v2 headers set the client address and port, a bad header closes
// the connection without a byte (HAProxy's behaviour), and real HAProxy 2.6 with send-proxy /
// send-proxy-v2 in front of the engine hands over the client it saw.
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sleep } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { type EchoServer, startEchoServer } from './helpers/front-node-echo';
import {
  decodeProxyHeader,
  encodeProxyV1,
  encodeProxyV2,
  PP_DONE,
  PP_ERROR,
  PP_INCOMPLETE,
} from '../src/net/proxy-protocol';

function send(port: number, parts: Buffer[], gapMs = 0, waitMs = 300): Promise<{ out: string; closed: boolean; localPort: number }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let closed = false;
    let localPort = 0;
    s.on('connect', async () => {
      localPort = s.localPort ?? 0;
      for (const p of parts) {
        s.write(p);
        if (gapMs) await sleep(gapMs);
      }
      setTimeout(() => {
        s.destroy();
        resolve({ out, closed, localPort });
      }, waitMs);
    });
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => (closed = true));
  });
}

const REQ = Buffer.from('GET /pp HTTP/1.1\r\nHost: a\r\n\r\n');

describe('PROXY protocol', () => {
  let echo: EchoServer;
  before(async () => {
    echo = await startEchoServer({ acceptProxy: true, timeoutHttpRequest: 500 });
  });
  after(async () => {
    await echo.close();
  });

  test('v1 TCP4 and TCP6: the client address and port come from the header', async () => {
    let r = await send(echo.port, [Buffer.from('PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n'), REQ]);
    assert.match(r.out, /^HTTP\/1\.1 200 OK/);
    assert.equal(echo.last!.remoteAddress, '203.0.113.7');
    assert.equal(echo.last!.remotePort, 51234);
    r = await send(echo.port, [Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 4000 80\r\n'), REQ]);
    assert.match(r.out, /^HTTP\/1\.1 200 OK/);
    assert.equal(echo.last!.remoteAddress, '2001:db8::7');
    assert.equal(echo.last!.remotePort, 4000);
  });

  test('v1 UNKNOWN and v2 LOCAL keep the connection\'s own address', async () => {
    let r = await send(echo.port, [Buffer.from('PROXY UNKNOWN\r\n'), REQ]);
    assert.match(r.out, /^HTTP\/1\.1 200 OK/);
    assert.equal(echo.last!.remoteAddress, '127.0.0.1');
    assert.equal(echo.last!.remotePort, r.localPort);
    r = await send(echo.port, [encodeProxyV2(null), REQ]);
    assert.match(r.out, /^HTTP\/1\.1 200 OK/);
    assert.equal(echo.last!.remotePort, r.localPort);
  });

  test('v2 TCP4 with a TLV and TCP6, each sent one byte per read', async () => {
    const v4 = encodeProxyV2({ srcAddress: '192.0.2.10', srcPort: 1234, dstAddress: '192.0.2.1', dstPort: 80 }, [{ type: 0x05, value: Buffer.from('id-1') }]);
    const bytes = [...Buffer.concat([v4, REQ])].map((b) => Buffer.from([b]));
    let r = await send(echo.port, bytes, 1, 300);
    assert.match(r.out, /^HTTP\/1\.1 200 OK/);
    assert.equal(echo.last!.remoteAddress, '192.0.2.10');
    assert.equal(echo.last!.remotePort, 1234);
    const v6 = encodeProxyV2({ srcAddress: '2001:db8::a:b', srcPort: 65535, dstAddress: '::1', dstPort: 8443 });
    r = await send(echo.port, [v6, REQ]);
    assert.match(r.out, /^HTTP\/1\.1 200 OK/);
    assert.equal(echo.last!.remoteAddress, '2001:db8::a:b');
    assert.equal(echo.last!.remotePort, 65535);
  });

  test('a missing or bad header closes the connection without a byte, the request never dispatched', async () => {
    const d0 = echo.dispatched;
    for (const bad of [REQ, Buffer.from('PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n'), Buffer.from('PROXY TCP4 1.2.3.4 1.2.3.5 1 99999\r\n'), Buffer.from('PROXY ' + 'x'.repeat(120))]) {
      const r = await send(echo.port, [bad, REQ]);
      assert.equal(r.out, '');
      assert.ok(r.closed, bad.toString('latin1').slice(0, 30));
    }
    // a header that never completes: closed at timeout http-request, without 408
    const slow = await send(echo.port, [Buffer.from('PROXY TCP4 ')], 0, 800);
    assert.equal(slow.out, '');
    assert.ok(slow.closed);
    assert.equal(echo.dispatched, d0);
  });

  test('codec: v1/v2 round trips, incomplete and invalid input', () => {
    const a = { srcAddress: '10.1.2.3', srcPort: 5, dstAddress: '10.1.2.4', dstPort: 6 };
    for (const enc of [encodeProxyV1(a), encodeProxyV2(a)]) {
      const d = decodeProxyHeader(Buffer.concat([enc, Buffer.from('rest')]));
      assert.equal(d.status, PP_DONE);
      assert.equal(d.length, enc.length);
      assert.deepEqual([d.header!.srcAddress, d.header!.srcPort, d.header!.dstAddress, d.header!.dstPort], ['10.1.2.3', 5, '10.1.2.4', 6]);
      for (let i = 1; i < enc.length; i++) assert.equal(decodeProxyHeader(enc.subarray(0, i)).status, PP_INCOMPLETE);
    }
    const six = { srcAddress: '::ffff:1.2.3.4', srcPort: 1, dstAddress: 'fe80::1:2', dstPort: 2 };
    const d6 = decodeProxyHeader(encodeProxyV2(six));
    assert.equal(d6.header!.family, 'TCP6');
    assert.equal(d6.header!.srcAddress, '::ffff:102:304');
    assert.equal(d6.header!.dstAddress, 'fe80::1:2');
    assert.equal(encodeProxyV1({ ...six, srcAddress: '1.2.3.4' }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(decodeProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')).status, PP_ERROR);
    const badVersion = encodeProxyV2(a);
    badVersion[12] = 0x11;
    assert.equal(decodeProxyHeader(badVersion).status, PP_ERROR);
  });

  const bin = haproxyBinary();
  test('HAProxy 2.6 send-proxy and send-proxy-v2 in front of the engine', { skip: bin === null ? 'haproxy not installed' : false }, async () => {
    const [p1, p2] = await distinctPorts(2);
    const cfg = `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend v1
    bind 127.0.0.1:${p1}
    default_backend b1
frontend v2
    bind 127.0.0.1:${p2}
    default_backend b2
backend b1
    server e 127.0.0.1:${echo.port} send-proxy
backend b2
    server e 127.0.0.1:${echo.port} send-proxy-v2
`;
    const hap = await startHaproxy(bin!, cfg, [p1, p2]);
    try {
      for (const port of [p1, p2]) {
        const r = await send(port, [REQ], 0, 400);
        assert.match(r.out, /^HTTP\/1\.1 200 OK/, hap.output());
        assert.equal(echo.last!.remoteAddress, '127.0.0.1');
        assert.equal(echo.last!.remotePort, r.localPort, 'the port HAProxy saw the client on');
      }
    } finally {
      await hap.stop();
    }
  });
});
