// The stick table itself (src/stick): HAProxy's freq counter arithmetic, two worker threads
// hammering the same keys of one SharedArrayBuffer (no lost update, contention measured), the
// size bound (eviction of the least recently touched, nopurge refusals), expiry, and keys of
// every type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { freqRead, freqUpdate } from '../src/stick/freq';
import { StickTable } from '../src/stick/table';
import { KeyBuf, keyFromCli, keyFromText, keyText } from '../src/stick/keys';
import { DT_GPC0, DT_HTTP_REQ_CNT, DT_HTTP_REQ_RATE, type StickTableConfig } from '../src/stick/types';

function def(o: Partial<StickTableConfig> = {}): StickTableConfig {
  return {
    name: 't', type: 'integer', keyLen: 4, size: 1024, expire: 0, nopurge: false, peers: null,
    store: [{ id: DT_GPC0, period: 0 }, { id: DT_HTTP_REQ_CNT, period: 0 }, { id: DT_HTTP_REQ_RATE, period: 1000 }],
    where: 'test', ...o,
  };
}

function intKey(n: number, kb = new KeyBuf()): KeyBuf {
  assert.ok(keyFromText('integer', String(n), 4, kb));
  return kb;
}

test('freq counter: HAProxy read_freq_ctr_period arithmetic over a sliding period', () => {
  const f = new Float64Array(3);
  const period = 1000;
  const start = 5000;
  for (let i = 0; i < 30; i++) freqUpdate(f, 0, period, start, 1);
  assert.equal(freqRead(f, 0, period, start), 30);
  // half-way through the next period: the past 30 weigh remain/period, plus 10 new events
  const t1 = f[0] + period + period / 2;
  for (let i = 0; i < 10; i++) freqUpdate(f, 0, period, t1, 1);
  const remain = f[0] + period - t1;
  assert.equal(freqRead(f, 0, period, t1), Math.floor((30 * remain + 10 * period) / period));
  // two periods of silence: nothing left
  assert.equal(freqRead(f, 0, period, f[0] + 2 * period + 1), 0);
  // the low-rate flapping correction: one past event and nothing now reads as 1
  const g = new Float64Array(3);
  freqUpdate(g, 0, period, 100, 1);
  assert.equal(freqRead(g, 0, period, g[0] + period + 10), 1);
});

test('two worker threads updating the same 64 keys lose no update; contention is measured', async () => {
  const cfg = def({ size: 4096 });
  const buf = StickTable.allocate(cfg);
  const perWorker = 200_000;
  const tableJs = path.join(__dirname, '..', 'src', 'stick', 'table.js');
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { StickTable } = require(${JSON.stringify(tableJs)});
    const t = new StickTable(workerData.cfg, workerData.buf);
    const key = new Uint8Array(4);
    const ops = [${DT_HTTP_REQ_CNT}, 1, ${DT_HTTP_REQ_RATE}, 1];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < workerData.n; i++) {
      key[3] = i & 63;
      const idx = t.get(key, 4, true);
      t.add(idx, t.generation(idx), ops, 4);
    }
    parentPort.postMessage(Number(process.hrtime.bigint() - t0) / workerData.n);
  `;
  const run = (): Promise<number> => new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { cfg, buf, n: perWorker } });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const nsPerOp = await Promise.all([run(), run()]);
  const t = new StickTable(cfg, buf);
  assert.equal(t.count, 64);
  let total = 0;
  for (let idx = 0; idx < t.highWater; idx++) {
    const e = t.snapshot(idx);
    if (e !== null) total += e.data.get(DT_HTTP_REQ_CNT)!;
  }
  assert.equal(total, 2 * perWorker, 'every increment of both threads is counted');
  const contendedPct = (100 * t.contended) / (2 * perWorker * 2);
  // reported for docs/stick-tables.md: share of lock acquisitions that had to wait
  console.log(`# stick table, 2 threads, 64 hot keys: ${nsPerOp.map((x) => x.toFixed(0)).join('/')} ns per get+add, ${t.contended} contended acquisitions (${contendedPct.toFixed(2)}%)`);
});

test('size bounds memory: the least recently touched entries go, nopurge refuses instead', () => {
  const t = new StickTable(def({ size: 100 }), StickTable.allocate(def({ size: 100 })));
  const kb = new KeyBuf();
  for (let i = 0; i < 1000; i++) assert.ok(t.get(intKey(i, kb).bytes, 4, true) >= 0);
  assert.equal(t.count, 100);
  assert.ok(t.evicted >= 900);
  // the last key written is still there; most of the first ones are gone
  assert.ok(t.indexOf(intKey(999, kb).bytes, 4) >= 0);
  let early = 0;
  for (let i = 0; i < 100; i++) if (t.indexOf(intKey(i, kb).bytes, 4) >= 0) early++;
  assert.ok(early < 10, `${early} of the first 100 keys survived`);

  const n = new StickTable(def({ size: 10, nopurge: true }), StickTable.allocate(def({ size: 10, nopurge: true })));
  for (let i = 0; i < 10; i++) assert.ok(n.get(intKey(i, kb).bytes, 4, true) >= 0);
  assert.equal(n.get(intKey(10, kb).bytes, 4, true), -1);
  assert.equal(n.refusedFull, 1);
  assert.ok(n.indexOf(intKey(0, kb).bytes, 4) >= 0, 'no local entry is lost');
});

test('expired entries are not found and are purged', async () => {
  const cfg = def({ expire: 50 });
  const t = new StickTable(cfg, StickTable.allocate(cfg));
  const kb = intKey(7);
  const idx = t.get(kb.bytes, 4, true);
  t.set(idx, t.generation(idx), DT_GPC0, 5);
  assert.equal(t.readKey(kb.bytes, 4, DT_GPC0), 5);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(t.indexOf(kb.bytes, 4), -1);
  assert.equal(t.purge(1000), 1);
  assert.equal(t.count, 0);
  // a tracker holding the old entry sees it gone
  assert.equal(t.set(idx, t.generation(idx) - 1, DT_GPC0, 1), false);
});

test('keys of every type: text in and out as show table prints them; wrong types refused', () => {
  const kb = new KeyBuf();
  assert.ok(keyFromText('ip', '10.1.2.3', 4, kb));
  assert.equal(keyText('ip', kb.bytes.slice(0, kb.len)), '10.1.2.3');
  assert.ok(!keyFromText('ip', 'abc', 4, kb));
  assert.ok(keyFromText('ipv6', '2001:db8::1', 16, kb));
  assert.equal(keyText('ipv6', kb.bytes.slice(0, 16)), '2001:db8::1');
  assert.ok(keyFromText('integer', '4294967295', 4, kb));
  assert.equal(keyText('integer', kb.bytes.slice(0, 4)), '4294967295');
  assert.ok(!keyFromText('integer', '12x', 4, kb));
  assert.ok(keyFromText('string', 'a-very-long-api-key', 8, kb));
  assert.equal(kb.len, 8, 'string keys are truncated to len');
  assert.ok(keyFromCli('binary', '0A0B', 4, kb));
  assert.equal(keyText('binary', kb.bytes.slice(0, 4)), '0A0B0000');
});
