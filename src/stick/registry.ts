// The stick tables of this thread, by name. The primary allocates each table's
// SharedArrayBuffer (attachTables) and puts it in the table's configuration, which reaches the
// workers in workerData (a SharedArrayBuffer inside a structured clone is shared, not copied),
// so every thread of the process opens the same memory. A reload keeps a table's memory when
// its definition did not change, so its entries survive (HAProxy passes them to the new
// process through the local peer).
import type { Config } from '../config/model';
import { StickTable } from './table';
import type { StickTableConfig } from './types';

const tables = new Map<string, StickTable>();

/** Gives every table of `config` its memory: the previous generation's when compatible. */
export function attachTables(config: Config, previous: Config | null): void {
  const old = new Map<string, StickTableConfig>();
  for (const t of previous?.stick?.tables ?? []) old.set(t.name, t);
  for (const t of config.stick?.tables ?? []) {
    const o = old.get(t.name);
    t.buffer = o?.buffer !== undefined && StickTable.compatible(o, t) ? o.buffer : StickTable.allocate(t);
  }
}

/** Opens this thread's view of every table of `config` (workers, at start; the primary too). */
export function openTables(config: Config): Map<string, StickTable> {
  tables.clear();
  for (const t of config.stick?.tables ?? []) {
    // a config built without the primary (tests, tools) gets private memory
    t.buffer ??= StickTable.allocate(t);
    tables.set(t.name, new StickTable(t, t.buffer));
  }
  return tables;
}

/** This thread's table of that name (after openTables), or undefined. */
export function tableNamed(name: string): StickTable | undefined {
  return tables.get(name);
}

export function allTables(): Map<string, StickTable> {
  return tables;
}
