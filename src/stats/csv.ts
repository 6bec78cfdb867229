// HAProxy-compatible CSV (`<stats uri>;csv`): header `# pxname,svname,...,` then one line per
// row, each ending with a comma like HAProxy's own output.
import { CSV_COLUMNS, type StatsRow } from './columns';
import { snapshotRows, type Snapshot } from './snapshot';

function cell(v: string | number | undefined): string {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export const CSV_HEADER = '# ' + CSV_COLUMNS.join(',') + ',\n';

export function csvLine(row: StatsRow): string {
  let out = '';
  for (const c of CSV_COLUMNS) out += cell(row[c]) + ',';
  return out + '\n';
}

export function renderCsv(s: Snapshot): string {
  let out = CSV_HEADER;
  for (const r of snapshotRows(s)) out += csvLine(r);
  return out;
}
