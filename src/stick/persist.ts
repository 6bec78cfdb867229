// `stick on|match|store-request` (HAProxy's stickiness through a stick table): a request whose
// key is in the table goes to the server stored there (server_id, HAProxy's 1-based position of
// the server in its backend), and the server a request went to is stored under its key.
// Built once per worker; the request path calls match() before the balancer and store() once
// a server is chosen.
import type { Config } from '../config/model';
import { AclScope, CCond, CFormat } from '../acl/compile';
import { evalCondition, evalFormat } from '../acl/eval';
import type { RequestView } from '../acl/view';
import { KeyBuf, keyFromIp, keyFromText } from './keys';
import { openTables, tableNamed } from './registry';
import type { StickTable } from './table';
import { DT_SERVER_ID } from './types';

class CStickRule {
  constructor(
    readonly match: boolean,
    readonly store: boolean,
    readonly table: StickTable,
    readonly key: CFormat,
    readonly src: boolean,
    readonly cond: CCond | null,
  ) {}
}

const keyBuf = new KeyBuf();

function key(r: CStickRule, req: RequestView): boolean {
  const t = r.table;
  if (r.src) {
    const ip = req.srcAddress();
    return ip !== null && keyFromIp(t.cfg.type, ip, keyBuf);
  }
  const s = evalFormat(r.key, req, null);
  if (s === '') return false;
  if (keyFromText(t.cfg.type, s, t.cfg.keyLen, keyBuf)) return true;
  t.countBadKey();
  return false;
}

/** One backend's stick rules. */
export class StickPersistence {
  private readonly rules: CStickRule[];

  constructor(rules: CStickRule[]) {
    this.rules = rules;
  }

  /**
   * The server (index in its backend) the first matching `stick on|match` rule's entry names,
   * or -1 (no rule, no entry, no server_id stored). The caller checks the server is usable
   * and balances as usual otherwise (HAProxy then ignores the stored server).
   */
  match(req: RequestView, serverCount: number): number {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      if (!r.match || (r.cond !== null && !evalCondition(r.cond, req, null)) || !key(r, req)) continue;
      const id = r.table.readKey(keyBuf.bytes, keyBuf.len, DT_SERVER_ID);
      if (id === id && id >= 1 && id <= serverCount) return id - 1;
      return -1; // HAProxy stops at the first matching rule
    }
    return -1;
  }

  /** Stores `server` (index in its backend) under the key of every `stick on|store-request` rule that applies. */
  store(req: RequestView, server: number): void {
    for (const r of this.rules) {
      if (!r.store || (r.cond !== null && !evalCondition(r.cond, req, null)) || !key(r, req)) continue;
      const t = r.table;
      const idx = t.get(keyBuf.bytes, keyBuf.len, true);
      if (idx >= 0) t.set(idx, t.generation(idx), DT_SERVER_ID, server + 1);
    }
  }
}

/** Per backend (index as config.backends): its stick rules, or null. */
export function compileStickPersistence(config: Config): (StickPersistence | null)[] {
  if (config.stick === undefined) return config.backends.map(() => null);
  if (config.stick.tables.some((t) => tableNamed(t.name) === undefined)) openTables(config);
  return config.backends.map((b) => {
    if (b.stickRules === undefined || b.stickRules.length === 0) return null;
    const scope = new AclScope(b.rules?.acls ?? []);
    return new StickPersistence(b.stickRules.map((r) => {
      const t = tableNamed(r.table);
      if (t === undefined) throw new Error(`internal: stick rule names no open table '${r.table}'`);
      const k = r.key[0];
      const src = r.key.length === 1 && k.kind === 'fetch' && k.fetch === 'src' && k.conv.length === 0 && (t.cfg.type === 'ip' || t.cfg.type === 'ipv6');
      return new CStickRule(r.kind !== 'store-request', r.kind !== 'match', t, new CFormat(r.key), src, r.cond === null ? null : scope.condition(r.cond, 'req'));
    }));
  });
}
