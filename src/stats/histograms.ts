// Latency histograms (hdr-histogram-js). Workers record; the primary merges.
// Values are recorded in microseconds so sub-millisecond proxies still get resolution;
// everything shown to users is converted back to milliseconds or seconds.
import * as hdr from 'hdr-histogram-js';

/** 3 significant digits over 1 us .. 60 s, growing if a slower request shows up. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(b64: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(b64, 32, false);
}

export interface LatencySummary {
  count: number;
  /** milliseconds */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/**
 * `h.mean`, computed in one pass over the used part of the counts array. hdr-histogram-js's own
 * getter walks a RecordedValuesIterator over the whole array (~2 ms per histogram here): for a
 * stats page with 2,000 servers that alone was 4 s in the snapshot and 8 s in Prometheus.
 * Same order of additions as the getter (bucket by bucket), so the result is identical.
 */
export function histMean(h: hdr.Histogram): number {
  const total = h.totalCount;
  if (total === 0) return 0;
  if (!(h instanceof hdr.JsHistogram)) return h.mean;
  const from = h.countsArrayIndex(h.minNonZeroValue);
  const to = Math.min(h.countsArrayIndex(h.maxValue), h.countsArrayLength - 1);
  let sum = 0;
  // index 0 holds recorded zeros: they add nothing to the sum
  for (let i = Math.max(0, from); i <= to; i++) {
    const c = h.getCountAtIndex(i);
    if (c !== 0) sum += h.medianEquivalentValue(h.valueFromIndex(i)) * c;
  }
  return sum / total;
}

export function summarize(h: hdr.Histogram | null): LatencySummary | null {
  if (!h || h.totalCount === 0) return null;
  return {
    count: h.totalCount,
    p50: h.getValueAtPercentile(50) / 1000,
    p90: h.getValueAtPercentile(90) / 1000,
    p99: h.getValueAtPercentile(99) / 1000,
    p999: h.getValueAtPercentile(99.9) / 1000,
    max: h.maxValue / 1000,
    mean: histMean(h) / 1000,
  };
}

/**
 * Cumulative counts at each upper bound (microseconds), for a Prometheus histogram.
 * A recorded value counts under a bound when its bucket's lowest equivalent value is <= bound:
 * HDR buckets are narrower than 0.1 % of the value, so this is exact at the scale shown.
 */
export function cumulativeCounts(h: hdr.Histogram, boundsUs: readonly number[]): number[] {
  const out = new Array<number>(boundsUs.length).fill(0);
  if (!(h instanceof hdr.JsHistogram)) throw new Error('JS histograms only');
  const n = h.countsArrayLength;
  for (let i = 0; i < n; i++) {
    const c = h.getCountAtIndex(i);
    if (c === 0) continue;
    const v = h.lowestEquivalentValue(h.valueFromIndex(i));
    for (let b = 0; b < boundsUs.length; b++) if (v <= boundsUs[b]) out[b] += c;
  }
  return out;
}

// HDR layout for lowestDiscernibleValue 1 and 3 significant digits: 2048 sub-buckets, half
// of them (1024) per further power of two. hdr-histogram-js computes a value's slot with
// Math.log2/pow (~300 ns); the worker's hot path uses this copy of the same layout with
// Math.clz32 (~10 ns) and converts to a real HDR histogram only when the primary asks.
const SUB_HALF_MAG = 10;
const SUB_HALF = 1 << SUB_HALF_MAG;
/** values up to 2^31-1 us (~35 min); larger ones land in the last slot */
const MAX_VALUE = 0x7fffffff;
const SLOTS = (31 - SUB_HALF_MAG + 1) * SUB_HALF;

export class FastRecorder {
  readonly counts = new Int32Array(SLOTS);
  totalCount = 0;
  // Interval tracking for the primary's 1 s history (history.ts): the slots touched since the
  // last drain, each with its count before the first touch, found through a bitmap (2.8 KB).
  // The hot path pays one bit test; a drain walks only the touched slots, not all 22,528.
  private readonly marks = new Int32Array(SLOTS >>> 5);
  private touched = new Int32Array(32);
  private before = new Int32Array(32);
  private nTouched = 0;

  /** us: a non-negative integer (microseconds) */
  record(us: number): void {
    const v = us > MAX_VALUE ? MAX_VALUE : us;
    const bucket = v < 2 * SUB_HALF ? 0 : 31 - Math.clz32(v) - SUB_HALF_MAG;
    const i = (bucket << SUB_HALF_MAG) + (v >>> bucket);
    if ((this.marks[i >>> 5] & (1 << (i & 31))) === 0) this.touch(i);
    this.counts[i]++;
    this.totalCount++;
  }

  private touch(i: number): void {
    this.marks[i >>> 5] |= 1 << (i & 31);
    const n = this.nTouched;
    if (n === this.touched.length) {
      const t = new Int32Array(n * 2);
      t.set(this.touched);
      this.touched = t;
      const b = new Int32Array(n * 2);
      b.set(this.before);
      this.before = b;
    }
    this.touched[n] = i;
    this.before[n] = this.counts[i];
    this.nTouched = n + 1;
  }

  /** Anything recorded since the last drainInterval()? */
  get intervalSlots(): number {
    return this.nTouched;
  }

  /**
   * What was recorded since the last call, as (slot, count) pairs appended to `out` (slots in
   * first-touch order, not sorted); returns the number of pairs. Resets the interval.
   */
  drainInterval(out: PairWriter): number {
    const n = this.nTouched;
    for (let k = 0; k < n; k++) {
      const i = this.touched[k];
      out.push2(i, this.counts[i] - this.before[k]);
      this.marks[i >>> 5] = 0;
    }
    this.nTouched = 0;
    // a burst over many slots should not pin its arrays for good
    if (this.touched.length > 4096 && n < 1024) {
      this.touched = new Int32Array(32);
      this.before = new Int32Array(32);
    }
    return n;
  }

  /** The same data as an hdr-histogram-js histogram (lossless: same buckets). */
  toHistogram(): hdr.Histogram {
    const h = newHistogram();
    const c = this.counts;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === 0) continue;
      h.recordValueWithCount(slotLowest(i), c[i]);
    }
    return h;
  }
}

/** A growable Uint32Array (the interval frames the workers send and the primary keeps). */
export class PairWriter {
  buf: Uint32Array;
  length = 0;
  constructor(capacity = 256) {
    this.buf = new Uint32Array(capacity);
  }
  private grow(min: number): void {
    let n = this.buf.length * 2;
    while (n < min) n *= 2;
    const b = new Uint32Array(n);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }
  push(a: number): void {
    if (this.length + 1 > this.buf.length) this.grow(this.length + 1);
    this.buf[this.length++] = a;
  }
  push2(a: number, b: number): void {
    if (this.length + 2 > this.buf.length) this.grow(this.length + 2);
    this.buf[this.length++] = a;
    this.buf[this.length++] = b;
  }
  /** a copy of what was written (the writer can be reused) */
  take(): Uint32Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

/** Number of HDR slots (counts-array length) of the layout above. */
export const HDR_SLOTS = SLOTS;

/** Lowest value (us) that lands in slot `i` (hdr-histogram-js's valueFromIndex). */
export function slotLowest(i: number): number {
  const bucket = i < 2 * SUB_HALF ? 0 : (i >> SUB_HALF_MAG) - 1;
  return (i - (bucket << SUB_HALF_MAG)) * 2 ** bucket;
}

/** Highest value (us) that lands in slot `i` (hdr-histogram-js's highestEquivalentValue). */
export function slotHighest(i: number): number {
  const bucket = i < 2 * SUB_HALF ? 0 : (i >> SUB_HALF_MAG) - 1;
  return slotLowest(i) + 2 ** bucket - 1;
}

/** Math.ulp for doubles, as hdr-histogram-js uses it to round a percentile's count. */
function ulp(x: number): number {
  return Math.pow(2, Math.floor(Math.log2(x)) - 52);
}

/**
 * hdr-histogram-js's getValueAtPercentile over sparse (slot, count) pairs sorted by slot
 * (`n` slots at `buf[slotsAt..]`, their counts at `buf[countsAt..]`), without building a
 * histogram: the 1 s history asks for two percentiles of every row every second. Same rounding
 * as the library (tested against it).
 */
export function sparsePercentile(buf: ArrayLike<number>, slotsAt: number, countsAt: number, n: number, total: number, percentile: number): number {
  if (total === 0 || n === 0) return 0;
  const p = Math.min(percentile, 100);
  const fp = (p / 100) * total;
  const want = Math.max(Math.ceil(fp - ulp(fp)), 1);
  let acc = 0;
  for (let k = 0; k < n; k++) {
    acc += buf[countsAt + k];
    if (acc >= want) return p === 0 ? slotLowest(buf[slotsAt + k]) : slotHighest(buf[slotsAt + k]);
  }
  return slotHighest(buf[slotsAt + n - 1]);
}
