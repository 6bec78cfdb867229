// The worker's clz32 recorder must produce exactly the histogram hdr-histogram-js would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FastRecorder, decodeHistogram, encodeHistogram, newHistogram } from '../src/stats/histograms';

test('FastRecorder matches hdr-histogram-js bucket for bucket', () => {
  const fast = new FastRecorder();
  const ref = newHistogram();
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const values = [0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 50_000, 200_000, 1_234_567, 59_999_999, 2 ** 31 - 1];
  for (let i = 0; i < 20000; i++) values.push(Math.floor(Math.exp(rnd() * Math.log(3e8))));
  for (const v of values) {
    fast.record(v);
    ref.recordValue(v);
  }
  const got = decodeHistogram(encodeHistogram(fast.toHistogram()));
  assert.equal(got.totalCount, ref.totalCount);
  for (const p of [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100]) {
    assert.equal(got.getValueAtPercentile(p), ref.getValueAtPercentile(p), `p${p}`);
  }
  assert.equal(got.maxValue, ref.maxValue);
});

test('values beyond 2^31 us land in the top slot instead of throwing', () => {
  const fast = new FastRecorder();
  fast.record(2 ** 40);
  const h = fast.toHistogram();
  assert.equal(h.totalCount, 1);
  assert.ok(h.maxValue >= 2 ** 31 - 2 ** 21);
});
