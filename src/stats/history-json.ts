// `<stats uri>;history[;since=T]`: the 1 s series of every frontend, backend and server as JSON,
// columns aligned on one time axis. The dashboard loads it whole once, then asks every second
// for what came after the last second it has.
import { FIELDS, F_P50, F_P99, HISTORY_SECONDS, NFIELDS, STATUS_CODES } from './history';
import type { HistorySampler } from './history-sampler';
import { isInternalName } from './routed-names';

function num(field: number, v: number): string {
  if (Number.isNaN(v)) return 'null';
  // latency: microseconds stored, milliseconds shown (3 decimals = 1 us)
  if (field === F_P50 || field === F_P99) return String(v / 1000);
  return String(v);
}

/** since: unix second; only later samples are included (null: everything held). */
export function renderHistoryJson(h: HistorySampler, since: number | null): string {
  const st = h.store;
  const from = since === null ? 0 : st.firstAfter(since);
  const n = st.count;
  const t: number[] = [];
  for (let k = from; k < n; k++) t.push(st.time(k));
  const parts: string[] = [];
  for (let r = 0; r < h.rows.length; r++) {
    const row = h.rows[r];
    if (row.type !== 'frontend' && isInternalName(row.proxy)) continue; // a hidden stats backend (routed.ts)
    let s = `{"type":"${row.type}","proxy":${JSON.stringify(row.proxy)},"name":${JSON.stringify(row.name)}`;
    for (let f = 0; f < NFIELDS; f++) {
      const vals = new Array<string>(n - from);
      for (let k = from; k < n; k++) vals[k - from] = num(f, st.value(r, f, k));
      s += `,"${FIELDS[f]}":[${vals.join(',')}]`;
    }
    parts.push(s + '}');
  }
  return (
    `{"step":1,"seconds":${HISTORY_SECONDS},"last":${st.last},"latency_from":${st.latencyFrom},` +
    `"units":{"req":"requests in the second","err5":"5xx responses in the second","scur":"sessions","qcur":"queued requests","p50":"ms","p99":"ms"},` +
    `"status_codes":${JSON.stringify(STATUS_CODES)},"t":[${t.join(',')}],"series":[${parts.join(',')}]}\n`
  );
}
