// The runtime API's table commands, with HAProxy 2.6's syntax, output and messages
// (src/stick_table.c): show table [NAME [data.X op V]... | NAME key K], clear table NAME
// [data.X op V]... | [key K], set table NAME key K [data.X V]...
import { KeyBuf, keyFromCli, keyText } from './keys';
import type { StickTable } from './table';
import { DATA_TYPES, STD_FRQP, type StickTableConfig } from './types';

const OPS = ['eq', 'ne', 'le', 'ge', 'lt', 'gt'];
const keyBuf = new KeyBuf();

/** HAProxy's `# table:` line. */
function header(t: StickTable): string {
  return `# table: ${t.name}, type: ${t.cfg.type}, size:${t.size}, used:${t.count}\n`;
}

/** One entry as `show table` prints it; data in HAProxy's type order, rates with their period. */
export function entryLine(t: StickTable, idx: number): string | null {
  const e = t.snapshot(idx);
  if (e === null) return null;
  const cfg: StickTableConfig = t.cfg;
  // HAProxy prints the entry's address; the slot's offset in the table's memory stands in
  let line = `0x${(0x100000 + idx * t.layout.entryBytes).toString(16)}: key=${keyText(cfg.type, e.key)} use=0 exp=${e.expireIn}`;
  for (const s of cfg.store) {
    const d = DATA_TYPES[s.id];
    line += d.std === STD_FRQP ? ` ${d.name}(${s.period})=${e.data.get(s.id)}` : ` ${d.name}=${e.data.get(s.id)}`;
  }
  return line + '\n';
}

interface Filter {
  id: number;
  op: string;
  value: number;
}

function compare(v: number, f: Filter): boolean {
  switch (f.op) {
    case 'eq':
      return v === f.value;
    case 'ne':
      return v !== f.value;
    case 'le':
      return v <= f.value;
    case 'ge':
      return v >= f.value;
    case 'lt':
      return v < f.value;
    default:
      return v > f.value;
  }
}

/** Parses `data.X op V` triplets from w[from]; an error text, or the filters. */
function filters(t: StickTable, w: string[], from: number): Filter[] | string {
  const out: Filter[] = [];
  for (let i = from, n = 1; i < w.length; i += 3, n++) {
    if (!w[i].startsWith('data.')) return `Detected extra data in filter, ${i + 1}th word of input, after '${w[i - 1]}'\n`;
    const d = DATA_TYPES.find((x) => x.name === w[i].slice(5));
    if (d === undefined) return `Filter entry #${n}: Unknown data type\n`;
    if (t.dataOff[d.id] < 0) return `Filter entry #${n}: Data type not stored in this table\n`;
    if (!OPS.includes(w[i + 1] ?? '')) return `Filter entry #${n}: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"\n`;
    if (w[i + 2] === undefined || !/^-?\d+$/.test(w[i + 2])) return `Filter entry #${n}: Require a valid integer value to compare against\n`;
    out.push({ id: d.id, op: w[i + 1], value: Number(w[i + 2]) });
  }
  return out;
}

function matches(t: StickTable, idx: number, fs: Filter[]): boolean {
  if (fs.length === 0) return true;
  const e = t.snapshot(idx);
  if (e === null) return false;
  return fs.every((f) => compare(e.data.get(f.id) ?? 0, f));
}

/**
 * Answers a table command (w[0] is show, clear or set; w[1] is 'table'), ending with the empty
 * line of every runtime API answer. `admin`: the socket's level allows changes (clear, set);
 * `operator`: it allows seeing entries (HAProxy hides them from level user).
 */
export function tableCommand(w: string[], tables: ReadonlyMap<string, StickTable>, level: 'user' | 'operator' | 'admin'): string {
  const action = w[0];
  const name = w[2];
  if (action === 'show' && name === undefined) {
    let out = '';
    for (const t of tables.values()) out += header(t);
    return out + '\n';
  }
  if (name === undefined) return action === 'set' ? 'Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n\n' : 'Required arguments: <table> "data.<store_data_type>" <operator> <value> or <table> key <key>\n\n';
  const t = tables.get(name);
  if (t === undefined) return 'No such table\n\n';
  if (action !== 'show' && level !== 'admin') return 'Permission denied\n\n';
  if (w[3] === 'key') return byKey(action, t, w, level);
  if (action === 'set') return 'Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n\n';
  if (w[3] !== undefined && !w[3].startsWith('data.')) return 'Optional argument only supports "data.<store_data_type>" <operator> <value> and key <key>\n\n';
  const fs = filters(t, w, 3);
  if (typeof fs === 'string') return fs + '\n';
  if (action === 'show') {
    let out = header(t);
    if (level === 'user') return out + '# contents not dumped due to insufficient privileges\n\n';
    const high = t.highWater;
    for (let idx = 0; idx < high; idx++) {
      if (!matches(t, idx, fs)) continue;
      const line = entryLine(t, idx);
      if (line !== null) out += line;
    }
    return out + '\n';
  }
  // clear table NAME [filters]: every matching entry goes
  if (fs.length === 0) {
    t.clear();
    return '\n';
  }
  const high = t.highWater;
  for (let idx = 0; idx < high; idx++) {
    if (!matches(t, idx, fs)) continue;
    const e = t.snapshot(idx);
    if (e !== null) t.remove(e.key, e.key.length);
  }
  return '\n';
}

function byKey(action: string, t: StickTable, w: string[], level: string): string {
  const k = w[4];
  if (k === undefined) return 'Key value expected\n\n';
  if (!keyFromCli(t.cfg.type, k, t.cfg.keyLen, keyBuf)) return 'Invalid key\n\n';
  if (action === 'show') {
    if (w.length > 5) return 'content-based lookup is only supported with the "show" and "clear" actions\n\n';
    if (level === 'user') return header(t) + '# contents not dumped due to insufficient privileges\n\n';
    // HAProxy prints the header and the entry, or nothing at all for a missing key
    const idx = t.indexOf(keyBuf.bytes, keyBuf.len);
    const line = idx >= 0 ? entryLine(t, idx) : null;
    return line === null ? '\n' : header(t) + line + '\n';
  }
  if (action === 'clear') {
    t.remove(keyBuf.bytes, keyBuf.len);
    return '\n';
  }
  // set: parse every data.X V first, so a bad one changes nothing
  const sets: [number, number][] = [];
  for (let i = 5; i < w.length; i += 2) {
    if (!w[i].startsWith('data.')) return '"data.<type>" followed by a value expected\n\n';
    const d = DATA_TYPES.find((x) => x.name === w[i].slice(5));
    if (d === undefined) return 'Unknown data type\n\n';
    if (t.dataOff[d.id] < 0) return 'Data type not stored in this table\n\n';
    const v = w[i + 1];
    if (v === undefined || !/^-?\d+$/.test(v)) return 'Require a valid integer value to store\n\n';
    sets.push([d.id, Number(v)]);
  }
  const idx = t.get(keyBuf.bytes, keyBuf.len, true);
  if (idx < 0) return 'Unable to allocate a new entry\n\n';
  const gen = t.generation(idx);
  for (const [id, v] of sets) t.set(idx, gen, id, v);
  return '\n';
}
