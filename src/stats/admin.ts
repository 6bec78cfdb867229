// Admin actions from the stats page (POST, `stats admin`): set servers ready / drain / maint
// or change their weight. Every change goes through SharedState.setAndBump so all workers
// rebuild their selection tables at once.
import type { Config } from '../config/model';
import { ADMIN_DRAIN, ADMIN_MAINT, ADMIN_READY, S_ADMIN, S_WEIGHT, type ServerIndex, type SharedState } from '../shared/state';

/** HAProxy's result codes, shown after the redirect as `<uri>;st=CODE`. */
export type AdminResult = 'DONE' | 'PART' | 'NONE' | 'ERRP' | 'EXCD' | 'DENY';

export const ADMIN_MESSAGES: Record<AdminResult, string> = {
  DONE: 'Action processed successfully.',
  PART: 'Action not processed for every selected server.',
  NONE: 'Nothing has changed.',
  ERRP: 'Action not processed: invalid parameters.',
  EXCD: 'Action not processed: the request was too large.',
  DENY: 'Action denied.',
};

export const MAX_WEIGHT = 256;

export interface AdminForm {
  backend: string;
  servers: string[];
  action: string;
  weight: string | null;
}

/** Parses HAProxy's admin form: b=BACKEND&s=SERVER&s=...&action=ready|drain|maint|weight[&weight=N]. */
export function parseAdminForm(body: string): AdminForm {
  const p = new URLSearchParams(body);
  return { backend: p.get('b') ?? '', servers: p.getAll('s'), action: p.get('action') ?? '', weight: p.get('weight') };
}

export function applyAdmin(config: Config, index: ServerIndex, state: SharedState, form: AdminForm): { result: AdminResult; changed: string[] } {
  const bi = index.backendByName.get(form.backend);
  if (bi === undefined || form.servers.length === 0) return { result: 'ERRP', changed: [] };
  let cell: number;
  let value: number;
  switch (form.action) {
    case 'ready':
      [cell, value] = [S_ADMIN, ADMIN_READY];
      break;
    case 'drain':
      [cell, value] = [S_ADMIN, ADMIN_DRAIN];
      break;
    case 'maint':
      [cell, value] = [S_ADMIN, ADMIN_MAINT];
      break;
    case 'weight': {
      const w = form.weight !== null && /^\d+$/.test(form.weight.trim()) ? Number(form.weight.trim()) : NaN;
      if (!(w >= 0 && w <= MAX_WEIGHT)) return { result: 'ERRP', changed: [] };
      [cell, value] = [S_WEIGHT, w];
      break;
    }
    default:
      return { result: 'ERRP', changed: [] };
  }
  const servers = config.backends[bi].servers;
  const changed: string[] = [];
  let unknown = 0;
  for (const name of form.servers) {
    const local = servers.findIndex((s) => s.name === name);
    if (local < 0) {
      unknown++;
      continue;
    }
    const gi = index.server(bi, local);
    if (state.get(gi, cell) === value) continue;
    state.setAndBump(gi, bi, cell, value);
    changed.push(name);
  }
  if (unknown === form.servers.length) return { result: 'ERRP', changed };
  if (unknown > 0) return { result: 'PART', changed };
  return { result: changed.length ? 'DONE' : 'NONE', changed };
}
