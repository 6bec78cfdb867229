// Primary side: the latest cumulative histograms of every worker, merged on demand.
import type { Histogram } from 'hdr-histogram-js';
import { decodeHistogram, newHistogram } from './histograms';
import type { HistogramReply } from './messages';

type Kind = 'frontends' | 'backends' | 'servers';
const KINDS: Kind[] = ['frontends', 'backends', 'servers'];

type Set3 = Record<Kind, (Histogram | null)[]>;

export class HistogramStore {
  private readonly live = new Map<number, Set3>();
  private readonly retired: Set3;
  private version = 0;
  private mergedVersion = -1;
  private merged: Set3;

  constructor(private readonly sizes: Record<Kind, number>) {
    this.retired = this.empty();
    this.merged = this.empty();
  }

  private empty(): Set3 {
    return {
      frontends: new Array<Histogram | null>(this.sizes.frontends).fill(null),
      backends: new Array<Histogram | null>(this.sizes.backends).fill(null),
      servers: new Array<Histogram | null>(this.sizes.servers).fill(null),
    };
  }

  /** A worker's reply holds full cumulative histograms for the rows that changed. */
  apply(workerId: number, reply: HistogramReply): void {
    let set = this.live.get(workerId);
    if (!set) this.live.set(workerId, (set = this.empty()));
    let changed = false;
    for (const k of KINDS) {
      for (const [i, b64] of reply[k]) {
        if (i < 0 || i >= this.sizes[k]) continue;
        set[k][i] = decodeHistogram(b64);
        changed = true;
      }
    }
    // an empty reply (nothing recorded since) keeps the cached merge: re-merging 2,000 rows costs ~300 ms
    if (changed) this.version++;
  }

  /** A dead worker's latencies stay in the totals. */
  retire(workerId: number): void {
    const set = this.live.get(workerId);
    if (!set) return;
    this.live.delete(workerId);
    for (const k of KINDS) {
      set[k].forEach((h, i) => {
        if (!h) return;
        const r = (this.retired[k][i] ??= newHistogram());
        r.add(h);
      });
    }
    this.version++;
  }

  /** Merged histograms of all workers (cached until something new arrives). */
  get(): Readonly<Set3> {
    if (this.mergedVersion === this.version) return this.merged;
    const m = this.empty();
    const sources = [this.retired, ...this.live.values()];
    for (const k of KINDS) {
      for (let i = 0; i < this.sizes[k]; i++) {
        let acc: Histogram | null = null;
        for (const s of sources) {
          const h = s[k][i];
          if (!h || h.totalCount === 0) continue;
          acc ??= newHistogram();
          acc.add(h);
        }
        m[k][i] = acc;
      }
    }
    this.merged = m;
    this.mergedVersion = this.version;
    return m;
  }
}
