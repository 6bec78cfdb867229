// The 1 s history: interval latencies from the worker recorder are exactly the differences of
// its cumulative histograms; sparse percentiles equal hdr-histogram-js's; the store's memory is
// bounded (ring of seconds, frame budget); two workers merge into one frame per second. Costs
// are measured and printed (t.diagnostic), not asserted.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as hdr from 'hdr-histogram-js';
import { FakeWorker, backend, config, frontend, record, server } from './stats-fixture';
import { LogSink } from '../src/log/sink';
import { SharedState } from '../src/shared/state';
import { FastRecorder, PairWriter, decodeHistogram, newHistogram, slotLowest, sparsePercentile } from '../src/stats/histograms';
import { F_P50, F_P99, F_REQ, HistoryStore, NFIELDS, SERIES_BYTES_PER_ROW } from '../src/stats/history';
import { PrimaryTelemetry } from '../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../src/stats/telemetry-worker';

/** a long-tailed latency in us: mostly sub-millisecond to tens of ms, some seconds */
function latency(): number {
  const r = Math.random();
  return Math.round(r < 0.9 ? 50 + Math.random() * 20000 : r < 0.999 ? 20000 + Math.random() * 500000 : Math.random() * 40_000_000);
}

function drained(rec: FastRecorder): Map<number, number> {
  const w = new PairWriter();
  rec.drainInterval(w);
  const d = w.take();
  const m = new Map<number, number>();
  for (let i = 0; i < d.length; i += 2) m.set(d[i], (m.get(d[i]) ?? 0) + d[i + 1]);
  return m;
}

describe('1 s history', () => {
  test('interval drains are the differences of the cumulative histograms', () => {
    const rec = new FastRecorder();
    let prev = rec.toHistogram() as hdr.JsHistogram;
    for (let round = 0; round < 6; round++) {
      const n = round === 3 ? 0 : 500 + Math.floor(Math.random() * 3000);
      for (let i = 0; i < n; i++) rec.record(latency());
      const d = drained(rec);
      const cur = rec.toHistogram() as hdr.JsHistogram;
      let total = 0;
      for (let i = 0; i < cur.countsArrayLength; i++) {
        const diff = cur.getCountAtIndex(i) - (i < prev.countsArrayLength ? prev.getCountAtIndex(i) : 0);
        assert.equal(d.get(i) ?? 0, diff, `round ${round} slot ${i}`);
        total += diff;
      }
      assert.equal(total, n);
      prev = cur;
    }
  });

  test('sparse percentiles equal hdr-histogram-js getValueAtPercentile', () => {
    for (let round = 0; round < 20; round++) {
      const h = newHistogram();
      const rec = new FastRecorder();
      const n = 1 + Math.floor(Math.random() * (round < 5 ? 5 : 5000));
      for (let i = 0; i < n; i++) {
        const v = latency();
        h.recordValue(v);
        rec.record(v);
      }
      const d = [...drained(rec).entries()].sort((a, b) => a[0] - b[0]);
      const buf = [...d.map((x) => x[0]), ...d.map((x) => x[1])];
      for (const p of [0, 1, 25, 50, 90, 99, 99.9, 99.99, 100]) {
        assert.equal(sparsePercentile(buf, 0, d.length, d.length, n, p), h.getValueAtPercentile(p), `n=${n} p${p}`);
      }
      // and a slot's lowest value lands back in the same slot
      for (const [slot] of d) assert.equal((h as hdr.JsHistogram).countsArrayIndex(slotLowest(slot)), slot);
    }
  });

  test('memory is bounded: a ring of seconds, latency frames under a byte budget', () => {
    const rows = 3;
    const st = new HistoryStore(rows, 900, 10_000);
    const sample = new Float32Array(rows * NFIELDS);
    for (let t = 1; t <= 1000; t++) {
      sample[F_REQ] = t;
      const frame = Uint32Array.from([0, 1, 100, t]); // row 0: t requests in slot 100
      st.push(1_000_000 + t, 1, sample, frame);
    }
    assert.equal(st.count, 900);
    assert.equal(st.time(0), 1_000_101, 'the oldest 100 seconds are gone');
    assert.equal(st.value(0, F_REQ, 899), 1000);
    assert.equal(st.value(0, F_REQ, 0), 101);
    // 16 bytes a frame, 10,000 bytes: 625 latest frames kept
    assert.equal(st.latencyFrom, 1_000_000 + 1000 - 624);
    assert.ok(st.bytes <= SERIES_BYTES_PER_ROW * rows + 900 * 12 + 10_000, `bytes ${st.bytes}`);
    assert.equal(SERIES_BYTES_PER_ROW, 7 * 900 * 4);
    const h = st.mergedLatency(0, 0, st.count);
    let expect = 0;
    for (let t = 1000 - 624; t <= 1000; t++) expect += t;
    assert.equal(h.totalCount, expect);
    assert.equal(st.firstAfter(1_000_950), 850);
  });

  test('two workers merge into one frame a second; p50/p99 are of that second only', async () => {
    const cfg = config([frontend('fe', 1)], [backend('app', [server('a', 2), server('b', 3)])]);
    const state = SharedState.create(cfg);
    const primary = new PrimaryTelemetry(cfg, state, new LogSink([]));
    const workers = [0, 1].map((id) => {
      const wt = new WorkerTelemetry(cfg, id, (m) => setImmediate(() => primary.onWorkerMessage(id, m)));
      const w = new FakeWorker(cfg, wt);
      primary.addWorker(id, w.slab, (m) => setImmediate(() => wt.onMessage(m)));
      return w;
    });
    await primary.tick(1_000_000); // nothing yet
    // second 1: slow answers (100-199 ms) on worker 0, second 2: fast ones (1-2 ms) on both
    for (let i = 0; i < 100; i++) workers[0].request(record({ server: 0, ta: 100 + i }));
    await primary.tick(1_001_000);
    const exact = newHistogram();
    for (let i = 0; i < 300; i++) {
      const ta = 1 + (i % 100) / 100;
      workers[i % 2].request(record({ server: 1, ta }));
      exact.recordValue(Math.round(ta * 1000));
    }
    await primary.tick(1_002_000);
    const st = primary.history.store;
    assert.equal(st.count, 3);
    const a = primary.history.rowOf('app', 'a');
    const b = primary.history.rowOf('app', 'b');
    const be = primary.history.rowOf('app', 'BACKEND');
    assert.equal(st.value(a, F_REQ, 1), 100);
    assert.ok(Math.abs(st.value(a, F_P50, 1) / 1000 - 150) < 1, `a p50 ${st.value(a, F_P50, 1)}`);
    assert.ok(Number.isNaN(st.value(a, F_P50, 2)), 'no request of a in second 2: no latency, not the cumulative one');
    assert.equal(st.value(b, F_REQ, 2), 300);
    assert.equal(st.value(b, F_P50, 2), exact.getValueAtPercentile(50));
    assert.equal(st.value(b, F_P99, 2), exact.getValueAtPercentile(99));
    assert.equal(st.value(be, F_P99, 2), exact.getValueAtPercentile(99), 'backend second 2: fast answers only');
    assert.equal(st.mergedLatency(be, 0, 3).totalCount, 400);
    const json = JSON.parse(primary.historyJson(1000)) as { t: number[]; series: { name: string; req: number[]; p50: (number | null)[] }[] };
    assert.deepEqual(json.t, [1001, 1002]);
    assert.deepEqual(json.series.find((s) => s.name === 'a')!.p50[1], null);
    await primary.stop();
  });

  test('a reload can hand the history to the next generation, by name', async () => {
    const mk = (servers: string[]) => {
      const cfg = config([frontend('fe', 1)], [backend('app', servers.map((n, i) => server(n, 10 + i)))]);
      const state = SharedState.create(cfg);
      const primary = new PrimaryTelemetry(cfg, state, new LogSink([]));
      const wt = new WorkerTelemetry(cfg, 0, (m) => setImmediate(() => primary.onWorkerMessage(0, m)));
      const w = new FakeWorker(cfg, wt);
      primary.addWorker(0, w.slab, (m) => setImmediate(() => wt.onMessage(m)));
      return { primary, w };
    };
    const old = mk(['a', 'b', 'c']);
    await old.primary.tick(5_000_000);
    for (let i = 0; i < 40; i++) old.w.request(record({ server: 1, ta: 3 }));
    for (let i = 0; i < 10; i++) old.w.request(record({ server: 2, ta: 7 }));
    await old.primary.tick(5_001_000);
    // the next configuration drops a, keeps c and b (in another order), adds d
    const next = mk(['c', 'd', 'b']);
    next.primary.adoptHistory(old.primary);
    const h = next.primary.history;
    const st = h.store;
    assert.equal(st.count, 2);
    assert.equal(st.value(h.rowOf('app', 'b'), F_REQ, 1), 40);
    assert.equal(st.value(h.rowOf('app', 'c'), F_REQ, 1), 10);
    assert.ok(Number.isNaN(st.value(h.rowOf('app', 'd'), F_REQ, 1)), 'd is new: no past');
    assert.equal(st.mergedLatency(h.rowOf('app', 'b'), 0, 2).totalCount, 40);
    assert.equal(st.mergedLatency(h.rowOf('app', 'c'), 0, 2).getValueAtPercentile(50), 7 * 1000 + 3, 'frames renumbered with their rows');
    assert.equal(st.mergedLatency(h.rowOf('app', 'd'), 0, 2).totalCount, 0);
    // and it goes on from there
    for (let i = 0; i < 5; i++) next.w.request(record({ server: 1, ta: 2 }));
    await next.primary.tick(5_002_000);
    assert.equal(st.count, 3);
    assert.equal(st.value(h.rowOf('app', 'd'), F_REQ, 2), 5, 'the new generation counts from its start');
    assert.equal(st.value(h.rowOf('app', 'd'), F_P50, 2), 2000, 'exact below 2,048 us');
    await old.primary.stop();
    await next.primary.stop();
  });

  test('cost of a history second (measured, printed)', async (t) => {
    for (const n of [200, 2000]) {
      const per = 100;
      const backends = Array.from({ length: n / per }, (_, bi) =>
        backend(`be${bi}`, Array.from({ length: per }, (_, i) => server(`s${bi}_${i}`, 1 + i, { check: false }))),
      );
      const cfg = config([frontend('fe', 1)], backends);
      const state = SharedState.create(cfg);
      const primary = new PrimaryTelemetry(cfg, state, new LogSink([]));
      const workers = [0, 1].map((id) => {
        const wt = new WorkerTelemetry(cfg, id, (m) => setImmediate(() => primary.onWorkerMessage(id, m)));
        const w = new FakeWorker(cfg, wt);
        primary.addWorker(id, w.slab, (m) => setImmediate(() => wt.onMessage(m)));
        return { w, wt };
      });
      const traffic = () => {
        for (const { w } of workers)
          for (let s = 0; s < n; s++) for (let k = 0; k < 10; k++) w.request(record({ backend: Math.floor(s / per), server: s, ta: 0.2 + Math.random() * 50 }));
      };
      const tickMs: number[] = [];
      let tNow = 2_000_000_000;
      await primary.tick(tNow);
      for (let r = 0; r < 5; r++) {
        traffic();
        await primary.tick((tNow += 1000));
        tickMs.push(primary.lastTickMs);
      }
      // the alternative: differences of cumulative histograms (what `hist?` sends: encode in the worker, decode in the primary)
      traffic();
      let t0 = performance.now();
      const enc = workers.map(({ wt }) => (wt as unknown as { srv: { changed(): [number, string][] } }).srv.changed());
      const encodeMs = performance.now() - t0;
      t0 = performance.now();
      for (const list of enc) for (const [, b64] of list) decodeHistogram(b64);
      const decodeMs = performance.now() - t0;
      // worker side of the interval path: one drain of every row
      traffic();
      t0 = performance.now();
      const reply = (workers[0].wt as unknown as { tickReply(id: number): { data: Uint32Array } }).tickReply(1);
      const drainMs = performance.now() - t0;
      const json0 = performance.now();
      const body = primary.historyJson(tNow - 1500);
      const jsonMs = performance.now() - json0;
      // a full 15 minutes held: what the page loads once when it opens
      const store = primary.history.store;
      const sample = new Float32Array(store.rows * NFIELDS).map((_, i) => (i % NFIELDS === F_P50 || i % NFIELDS === F_P99 ? 1234 + (i % 97) : i % 50));
      for (let k = 0; k < 900; k++) store.push(tNow / 1000 + 1 + k, 1, sample, null);
      const full0 = performance.now();
      const fullBody = primary.historyJson(null);
      const fullMs = performance.now() - full0;
      tickMs.sort((a, b) => a - b);
      t.diagnostic(
        `${n} servers, 2 workers, 10 requests/server/worker/s: primary tick median ${tickMs[2].toFixed(1)} ms (max ${tickMs[4].toFixed(1)}); ` +
          `worker drain ${drainMs.toFixed(1)} ms (${reply.data.byteLength} bytes); ;history since 1 s: ${jsonMs.toFixed(1)} ms, ${body.length} bytes; ` +
          `full ;history (900 s): ${fullMs.toFixed(0)} ms, ${(fullBody.length / 1e6).toFixed(1)} MB; cumulative alternative: encode ${encodeMs.toFixed(0)} ms (2 workers) + decode ${decodeMs.toFixed(0)} ms; store ${(primary.history.store.bytes / 1e6).toFixed(1)} MB`,
      );
      assert.equal(primary.history.store.count, 900);
      await primary.stop();
    }
  });
});
