// Mutated requests (seeded, so every run sends the same bytes) against the node:net front
// engine: bad input never throws in the engine, and no request reaches the handler without an
// answer coming back to the client (an incomplete one gets its 408 once the timeouts pass).
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, test } from 'node:test';
import { SUITES, loadCases } from './helpers/conformance';
import { type EchoServer, startEchoServer } from './helpers/front-node-echo';

// xorshift32: a fixed sequence of mutations
let seed = 0x9e3779b9;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

const SPICE = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x80, 0xff, 0x3a, 0x3b, 0x2c, 0x30, 0x7f, 0x23];

function mutate(b: Buffer): Buffer {
  const out = Buffer.from(b);
  const kind = rnd(4);
  if (kind === 0 && out.length > 1) return out.subarray(0, 1 + rnd(out.length - 1)); // truncate
  if (kind === 1) {
    for (let k = 0; k < 1 + rnd(3); k++) out[rnd(out.length)] = SPICE[rnd(SPICE.length)]; // replace
    return out;
  }
  if (kind === 2) {
    const at = rnd(out.length + 1);
    return Buffer.concat([out.subarray(0, at), Buffer.from([SPICE[rnd(SPICE.length)]]), out.subarray(at)]); // insert
  }
  const at = rnd(out.length); // duplicate a slice (pipelines, repeated fields)
  return Buffer.concat([out, out.subarray(at)]);
}

const HTTP_REQUEST_MS = 200;
const CLIENT_MS = 300;

function send(port: number, data: Buffer): Promise<{ finals: number; clientPort: number }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let clientPort = 0;
    s.on('connect', () => {
      clientPort = s.localPort ?? 0;
      // in two reads, split at a random place
      const cut = rnd(data.length + 1);
      s.write(data.subarray(0, cut));
      setTimeout(() => s.write(data.subarray(cut)), 5);
    });
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('error', () => {});
    setTimeout(() => {
      s.destroy();
      const finals = [...out.matchAll(/HTTP\/1\.1 (\d{3}) /g)].filter((m) => Number(m[1]) >= 200).length;
      resolve({ finals, clientPort });
    }, HTTP_REQUEST_MS + CLIENT_MS + 700);
  });
}

let echo: EchoServer;
const thrown: unknown[] = [];
const onError = (e: unknown) => thrown.push(e);
before(async () => {
  process.on('uncaughtException', onError);
  echo = await startEchoServer({ timeoutHttpRequest: HTTP_REQUEST_MS, timeoutHttpKeepAlive: 2000, timeoutClient: CLIENT_MS, lingerMs: 300 });
});
after(async () => {
  process.off('uncaughtException', onError);
  await echo.close();
});

test('600 mutated requests: no exception, nothing dispatched without an answer', async () => {
  const cases: Buffer[] = [];
  for (const suite of SUITES) for (const c of loadCases(suite)) cases.push(Buffer.from(c.request_b64, 'base64'));
  const inputs = Array.from({ length: 600 }, () => mutate(cases[rnd(cases.length)]));
  const bad: string[] = [];
  for (let i = 0; i < inputs.length; i += 100) {
    const batch = inputs.slice(i, i + 100);
    // requests are matched to their connection by client port, unique within a batch (all its
    // connections are open together) but reused by the kernel in a later one
    echo.byClientPort.clear();
    const seen = await Promise.all(batch.map((b) => send(echo.port, b)));
    seen.forEach((s, k) => {
      const per = echo.byClientPort.get(s.clientPort);
      if (per !== undefined && per.dispatched > s.finals) bad.push(`${JSON.stringify(batch[k].toString('latin1').slice(0, 120))}: ${per.dispatched} dispatched, ${s.finals} answers`);
    });
  }
  assert.deepEqual(thrown, []);
  assert.deepEqual(bad, []);
  assert.ok(echo.dispatched > 100, `only ${echo.dispatched} requests were valid enough to dispatch`);
});
