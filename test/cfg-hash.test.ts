// hash-type: the same key picks the same server as HAProxy 2.6. One configuration with a
// frontend per hashing set-up (map-based and consistent, each hash function, avalanche, weights,
// balance uri / hdr / source) runs in HAProxy and in gatehouse; the same requests (paths, header
// values, client addresses 127.0.0.x) must reach the same servers.
import * as http from 'node:http';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBackend, startGatehouse, type Backend } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';

const HAPROXY = haproxyBinary();
const servers: Backend[] = [];

const SETUPS: { balance: string; hashType: string | null; weights: number[] }[] = [
  { balance: 'uri', hashType: null, weights: [1, 1, 1, 1] },
  { balance: 'uri', hashType: 'map-based', weights: [1, 2, 3, 1] },
  { balance: 'uri', hashType: 'map-based djb2 avalanche', weights: [2, 2, 4, 6] },
  { balance: 'uri', hashType: 'consistent', weights: [1, 1, 1, 1] },
  { balance: 'uri', hashType: 'consistent wt6', weights: [1, 1, 1, 1] },
  { balance: 'uri', hashType: 'consistent wt6', weights: [1, 3, 1, 2] },
  { balance: 'uri', hashType: 'map-based crc32', weights: [1, 1, 1, 3] },
  { balance: 'uri', hashType: 'consistent sdbm', weights: [1, 3, 1, 2] },
  { balance: 'uri', hashType: 'consistent crc32 avalanche', weights: [1, 1, 2, 1] },
  { balance: 'uri', hashType: 'consistent sdbm avalanche', weights: [10, 20, 5, 1] },
  { balance: 'hdr(x-key)', hashType: null, weights: [1, 1, 1, 1] },
  { balance: 'hdr(x-key)', hashType: 'consistent djb2', weights: [1, 2, 1, 1] },
  { balance: 'source', hashType: null, weights: [1, 1, 1, 1] },
  { balance: 'source', hashType: 'consistent', weights: [1, 1, 1, 1] },
  { balance: 'source', hashType: 'map-based sdbm avalanche', weights: [3, 1, 1, 2] },
];

before(async () => {
  for (const name of ['s1', 's2', 's3', 's4']) servers.push(await startBackend(name));
});
after(async () => {
  for (const s of servers) await s.close();
});

function cfg(ports: number[]): string {
  let out = `defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
`;
  SETUPS.forEach((s, i) => {
    out += `
frontend fe${i}
  bind 127.0.0.1:${ports[i]}
  default_backend be${i}
backend be${i}
  balance ${s.balance}
${s.hashType ? `  hash-type ${s.hashType}\n` : ''}${servers.map((b, j) => `  server ${b.name} 127.0.0.1:${b.port} weight ${s.weights[j]}`).join('\n')}
`;
  });
  return out;
}

function get(port: number, path: string, headers: http.OutgoingHttpHeaders, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { connection: 'close', ...headers }, agent: false, localAddress }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
  });
}

async function picks(ports: number[]): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < SETUPS.length; i++) {
    const seen: string[] = [];
    for (let k = 0; k < 24; k++) {
      const key = `/item/${k * 7919}/x${k % 5}?q=${k}`;
      seen.push(await get(ports[i], key, { 'x-key': `user-${k * 31}@example.com` }, `127.0.0.${2 + k * 10}`));
    }
    out.push(seen);
  }
  return out;
}

test('hash-type map-based and consistent pick the servers HAProxy 2.6 picks', { skip: HAPROXY ? false : 'haproxy is not installed' }, async () => {
  const haPorts = await distinctPorts(SETUPS.length);
  const ha = await startHaproxy(HAPROXY!, cfg(haPorts), [haPorts[0]]);
  let expected: string[][];
  try {
    expected = await picks(haPorts);
  } finally {
    await ha.stop();
  }
  const ghPorts = await distinctPorts(SETUPS.length, haPorts);
  const gh = await startGatehouse(cfg(ghPorts), [ghPorts[0]], { ext: '.cfg' });
  try {
    const got = await picks(ghPorts);
    for (let i = 0; i < SETUPS.length; i++) {
      assert.deepEqual(got[i], expected[i], `balance ${SETUPS[i].balance} hash-type ${SETUPS[i].hashType ?? '(default)'} weights ${SETUPS[i].weights}`);
      // the keys spread: a test where every key lands on one server would prove little
      assert.ok(new Set(expected[i]).size >= 2, `${SETUPS[i].balance}: ${expected[i]}`);
    }
  } finally {
    await gh.stop();
  }
});
