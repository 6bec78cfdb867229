// `<stats uri>;latency;px=PROXY;sv=NAME[;from=T][;to=T][;format=json|hlog|hgrm]`: the merged
// latency histogram (all workers) of one frontend, backend or server over a chosen stretch of
// the 1 s history. hlog is HdrHistogram's interval log (one line per second, readable by
// HistogramLogReader / HistogramLogAnalyzer), written with hdr-histogram-js's HistogramLogWriter;
// hgrm is the percentile distribution HdrHistogram's plotter reads; json a percentile table.
import { HistogramLogWriter } from 'hdr-histogram-js';
import { histMean, newHistogram } from './histograms';
import type { HistorySampler } from './history-sampler';

export interface LatencyQuery {
  proxy: string;
  name: string;
  /** unix seconds; <= 0: relative to the latest second held (-60: the last minute); null: oldest held */
  from: number | null;
  /** unix seconds, inclusive; <= 0: relative to the latest; null: latest */
  to: number | null;
  format: 'json' | 'hlog' | 'hgrm';
}

export interface ExportResult {
  status: number;
  type: string;
  body: string;
}

/** Percentiles of the JSON table (HdrHistogram's usual ladder). */
export const EXPORT_PERCENTILES = [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100];

function decode(v: string): string {
  try {
    return decodeURIComponent(v.replace(/\+/g, ' '));
  } catch {
    return v;
  }
}

/** The query from the stats URI's `;key=value` flags; an error text when it is not usable. */
export function parseLatencyQuery(flags: string[]): LatencyQuery | string {
  const kv = new Map<string, string>();
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq > 0) kv.set(f.slice(0, eq), decode(f.slice(eq + 1)));
  }
  const proxy = kv.get('px');
  const name = kv.get('sv');
  if (!proxy || !name) return 'latency export needs ;px=PROXY;sv=FRONTEND|BACKEND|SERVER';
  const time = (k: string): number | null | string => {
    const v = kv.get(k);
    if (v === undefined || v === '') return null;
    if (!/^-?\d+$/.test(v)) return `${k}: expected unix seconds or a negative offset, found "${v}"`;
    return Number(v);
  };
  const from = time('from');
  const to = time('to');
  if (typeof from === 'string') return from;
  if (typeof to === 'string') return to;
  const format = kv.get('format') ?? 'json';
  if (format !== 'json' && format !== 'hlog' && format !== 'hgrm') return `format: expected json, hlog or hgrm, found "${format}"`;
  return { proxy, name, from, to, format };
}

export function exportLatency(h: HistorySampler, q: LatencyQuery): ExportResult {
  const row = h.rowOf(q.proxy, q.name);
  if (row < 0) return { status: 404, type: 'text/plain', body: `no such proxy/row: ${q.proxy}/${q.name}\n` };
  const st = h.store;
  const last = st.last;
  const abs = (v: number | null, dflt: number) => (v === null ? dflt : v <= 0 ? last + v : v);
  const fromT = abs(q.from, 0);
  const toT = abs(q.to, last);
  // samples with fromT <= t <= toT
  const a = st.firstAfter(fromT - 1);
  const b = st.firstAfter(toT);
  const meta = { proxy: q.proxy, name: q.name, from: a < b ? st.time(a) : fromT, to: a < b ? st.time(b - 1) : toT, latency_from: st.latencyFrom };

  if (q.format === 'hlog') {
    let text = '';
    const w = new HistogramLogWriter((s) => (text += s));
    w.outputComment(`gatehouse latency (Ta) of ${q.proxy}/${q.name}, values in microseconds, interval max in milliseconds`);
    w.outputLogFormatVersion();
    w.outputStartTime(meta.from * 1000);
    w.outputLegend();
    const hist = newHistogram();
    for (let k = a; k < b; k++) {
      hist.reset();
      if (!st.addLatency(row, k, hist)) continue;
      const t = st.time(k) - meta.from;
      w.outputIntervalHistogram(hist, t, t + st.span(k), 1000);
    }
    return { status: 200, type: 'text/plain; charset=utf-8', body: text };
  }

  const merged = st.mergedLatency(row, a, b);
  if (q.format === 'hgrm') {
    // values in milliseconds, as HdrHistogram's plotter expects them scaled
    return { status: 200, type: 'text/plain; charset=utf-8', body: merged.totalCount > 0 ? merged.outputPercentileDistribution(5, 1000) : '' };
  }
  const ms = (us: number) => us / 1000;
  const perSecond: [number, number, number, number, number, number][] = [];
  const one = newHistogram();
  for (let k = a; k < b; k++) {
    one.reset();
    if (!st.addLatency(row, k, one)) continue;
    perSecond.push([st.time(k), one.totalCount, ms(one.getValueAtPercentile(50)), ms(one.getValueAtPercentile(90)), ms(one.getValueAtPercentile(99)), ms(one.maxValue)]);
  }
  const body = {
    ...meta,
    unit: 'ms',
    count: merged.totalCount,
    min: merged.totalCount > 0 ? ms(merged.minNonZeroValue) : null,
    max: merged.totalCount > 0 ? ms(merged.maxValue) : null,
    mean: merged.totalCount > 0 ? ms(histMean(merged)) : null,
    percentiles: merged.totalCount > 0 ? EXPORT_PERCENTILES.map((p) => [p, ms(merged.getValueAtPercentile(p))]) : [],
    per_second_fields: ['t', 'count', 'p50', 'p90', 'p99', 'max'],
    per_second: perSecond,
  };
  return { status: 200, type: 'application/json', body: JSON.stringify(body) + '\n' };
}
