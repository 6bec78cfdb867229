// The client address as text (src/shared/client-address.ts): what X-Forwarded-For, the access
// log and `src` ACLs show. Unit cases on the binary forms uWS returns, then real IPv4 and IPv6
// clients through a dual-stack bind.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import * as net from 'node:net';
import { addressText, ipv4Text, ipv6Text, type AddressSource } from '../src/shared/client-address';
import { freePort, startBackend, startGatehouse, type Backend } from './helpers/net';

function source(bytes: number[]): AddressSource {
  return { getRemoteAddress: () => new Uint8Array(bytes).buffer };
}

test('addressText: IPv4, IPv4-mapped IPv6, IPv6 and no address', () => {
  assert.equal(addressText(source([10, 1, 200, 255])), '10.1.200.255');
  assert.equal(addressText(source([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 192, 168, 0, 7])), '192.168.0.7');
  assert.equal(addressText(source([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), '2001:db8::1');
  // IPv4-compatible and 6to4 forms are IPv6 addresses, written as such
  assert.equal(addressText(source([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])), '::102:304');
  assert.equal(addressText(source([])), '');
});

test('ipv6Text writes what libc inet_ntop writes (RFC 5952), for many shapes', () => {
  const cases = ['::', '::1', '1::', '2001:db8::1', '2001:db8:0:0:1:0:0:1', '2001:0:0:1:0:0:0:1', 'fe80::1:2', '1:2:3:4:5:6:7:8', '1:0:3:4:5:6:7:8', 'abcd:ef01::', '0:0:1::', 'FFFF:0:0:0:0:0:0:0'];
  for (const c of cases) {
    // SocketAddress parses with inet_pton and prints with inet_ntop
    const libc = new net.SocketAddress({ address: c, family: 'ipv6' }).address;
    assert.equal(ipv6Text(ipv6Bytes(c)), libc, c);
  }
});

/** bytes of an IPv6 text (tests only: expands "::") */
function ipv6Bytes(s: string): Uint8Array {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const h = head === '' ? [] : head.split(':');
  const t = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    b[2 * i] = v >> 8;
    b[2 * i + 1] = v & 255;
  });
  return b;
}

test('ipv4Text: every octet boundary, and cache slots that collide give the right text', () => {
  assert.equal(ipv4Text(0), '0.0.0.0');
  assert.equal(ipv4Text(0xffffffff), '255.255.255.255');
  assert.equal(ipv4Text(0x7f000001), '127.0.0.1');
  // same cache slot (the hash ignores the top byte's xor with itself), different addresses
  const a = 0x01020304;
  const b = 0x01020304 ^ 0x40000000;
  assert.equal(ipv4Text(a), '1.2.3.4');
  assert.equal(ipv4Text(b), '65.2.3.4');
  assert.equal(ipv4Text(a), '1.2.3.4');
});

describe('X-Forwarded-For from real IPv4 and IPv6 clients on a dual-stack bind', () => {
  let backend: Backend;
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  let port: number;
  const seen: string[] = [];

  before(async () => {
    backend = await startBackend('xff', (req, res) => {
      seen.push(String(req.headers['x-forwarded-for']));
      req.resume();
      res.end('ok');
    });
    port = await freePort();
    const yaml = `global: { workers: 1 }
defaults:
  timeout: { connect: 1s, client: 5s, server: 2s }
  forwardfor: true
frontends:
  fe: { bind: ["[::]:${port}"], default_backend: be }
backends:
  be:
    servers:
      - { name: s, address: "127.0.0.1:${backend.port}" }
`;
    gh = await startGatehouse(yaml, [port]);
  });

  after(async () => {
    await gh.stop();
    await backend.close();
  });

  function get(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      http
        .get({ host, port, path: '/', agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
  }

  test('127.0.0.1 then ::1 then 127.0.0.1', async () => {
    assert.equal(await get('127.0.0.1'), 200);
    assert.equal(await get('::1'), 200);
    assert.equal(await get('127.0.0.1'), 200);
    assert.deepEqual(seen, ['127.0.0.1', '::1', '127.0.0.1']);
  });
});
