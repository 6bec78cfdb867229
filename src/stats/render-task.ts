// Rendering a Snapshot into one of the stats outputs. The same function runs inline in the
// primary (small configurations) and, as the piscina task of `render-pool.ts`, on the pool's
// thread (large ones). In the pool the snapshot arrives structured-cloned (plain data) and the
// merged latency histograms, which only the Prometheus output reads, arrive packed
// (`packHistograms`) in one transferred Float64Array and are rebuilt here bucket for bucket.
import type { Histogram } from 'hdr-histogram-js';
import { renderCsv } from './csv';
import { newHistogram } from './histograms';
import { renderHtml, type PageOptions } from './html';
import { renderJson } from './json';
import { renderPrometheus } from './prometheus';
import type { Snapshot } from './snapshot';

export type RenderKind = 'html' | 'csv' | 'json' | 'prometheus';

export interface RenderRequest {
  kind: RenderKind;
  snap: Snapshot;
  hideVersion: boolean;
  /** html only */
  page?: PageOptions;
  /** pool only (prometheus): the snapshot's histograms, see packHistograms; its `hist` fields are null */
  hists?: Float64Array;
}

/** Every `hist` slot of a snapshot, in a fixed order: frontends, backends, then their servers. */
export function histogramSlots(s: Snapshot): { get: () => Histogram | null; set: (h: Histogram | null) => void }[] {
  const out: { get: () => Histogram | null; set: (h: Histogram | null) => void }[] = [];
  for (const f of s.frontends) out.push({ get: () => f.hist, set: (h) => (f.hist = h) });
  for (const b of s.backends) out.push({ get: () => b.hist, set: (h) => (b.hist = h) });
  for (const b of s.backends) for (const sv of b.servers) out.push({ get: () => sv.hist, set: (h) => (sv.hist = h) });
  return out;
}

/**
 * Histograms as [n, (index, count) x n] per slot (n = 0: none). Only the used index range is
 * scanned; the bucket layout is newHistogram()'s everywhere, so indexes are portable.
 */
export function packHistograms(hists: readonly (Histogram | null)[]): Float64Array {
  const parts: number[] = [];
  for (const h of hists) {
    if (!h || h.totalCount === 0) {
      parts.push(0);
      continue;
    }
    const jh = h as Histogram & { countsArrayIndex(v: number): number; getCountAtIndex(i: number): number; countsArrayLength: number };
    const at = parts.length;
    parts.push(0);
    let n = 0;
    const from = h.minNonZeroValue > h.maxValue ? 0 : Math.max(0, jh.countsArrayIndex(h.minNonZeroValue));
    const to = Math.min(jh.countsArrayIndex(h.maxValue), jh.countsArrayLength - 1);
    // index 0 (recorded zeros) is not covered by minNonZeroValue
    const zeros = jh.getCountAtIndex(0);
    if (zeros !== 0 && from > 0) {
      parts.push(0, zeros);
      n++;
    }
    for (let i = from; i <= to; i++) {
      const c = jh.getCountAtIndex(i);
      if (c === 0) continue;
      parts.push(i, c);
      n++;
    }
    parts[at] = n;
  }
  return Float64Array.from(parts);
}

export function unpackHistograms(buf: Float64Array, slots: number): (Histogram | null)[] {
  const out: (Histogram | null)[] = [];
  let p = 0;
  for (let k = 0; k < slots; k++) {
    const n = buf[p++] ?? 0;
    if (n === 0) {
      out.push(null);
      continue;
    }
    const h = newHistogram() as Histogram & { valueFromIndex(i: number): number };
    for (let j = 0; j < n; j++, p += 2) h.recordValueWithCount(h.valueFromIndex(buf[p]), buf[p + 1]);
    out.push(h);
  }
  return out;
}

export function render(req: RenderRequest): string {
  const s = req.snap;
  switch (req.kind) {
    case 'csv':
      return renderCsv(s);
    case 'json':
      return renderJson(s, req.hideVersion);
    case 'prometheus': {
      if (req.hists) {
        const slots = histogramSlots(s);
        unpackHistograms(req.hists, slots.length).forEach((h, i) => slots[i].set(h));
      }
      return renderPrometheus(s, req.hideVersion);
    }
    case 'html':
      if (!req.page) throw new Error('html render without page options');
      return renderHtml(s, req.page);
  }
}

/** The piscina task (the pool's `filename` is this module's compiled file). */
export default function renderTask(req: RenderRequest): string {
  return render(req);
}
