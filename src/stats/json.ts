// `<stats uri>;json`: the CSV rows as typed objects (HAProxy column names as keys, empty
// columns left out) plus the latency percentiles the CSV has no column for.
import { CSV_COLUMNS } from './columns';
import type { LatencySummary } from './histograms';
import type { Snapshot } from './snapshot';
import { gatehouseVersion } from './version';

type JsonRow = Record<string, string | number | LatencySummary | null>;

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function latency(l: LatencySummary | null): LatencySummary | null {
  if (!l) return null;
  return { count: l.count, p50: round3(l.p50), p90: round3(l.p90), p99: round3(l.p99), p999: round3(l.p999), max: round3(l.max), mean: round3(l.mean) };
}

export function renderJson(s: Snapshot, hideVersion: boolean): string {
  const stats: JsonRow[] = [];
  const push = (row: Record<string, string | number | undefined>, l: LatencySummary | null) => {
    const o: JsonRow = {};
    for (const c of CSV_COLUMNS) {
      const v = row[c];
      if (v !== undefined && v !== '') o[c] = v;
    }
    o.latency_ms = latency(l);
    stats.push(o);
  };
  for (const p of s.proxies) {
    if (p.frontend) push(p.frontend.row, p.frontend.latency);
    if (p.backend) {
      for (const sv of p.backend.servers) push(sv.row, sv.latency);
      push(p.backend.row, p.backend.latency);
    }
  }
  const info: Record<string, string | number> = {
    name: 'gatehouse',
    pid: s.pid,
    uptime_sec: s.uptimeSec,
    start_time_sec: s.startedSec,
    workers: s.workers,
  };
  if (!hideVersion) info.version = gatehouseVersion();
  return JSON.stringify({ info, stats }, null, 1) + '\n';
}
