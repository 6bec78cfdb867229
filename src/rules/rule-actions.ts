// Rule engine, actions with side effects: stick-table tracking/counters, set-var, and header
// edits in place on the flat header array.
import { evalFormat, evalSample } from '../acl/eval';
import type { RequestView, ResponseView } from '../acl/view';
import { KeyBuf, keyFromIp, keyFromText } from '../stick/keys';
import { Trackers, trackStart } from '../stick/track';
import { DT_GPT0 } from '../stick/types';
import {
  R_SET_HEADER,
  R_ADD_HEADER,
  R_DEL_HEADER,
  R_REPLACE_HEADER,
  R_UNSET_VAR,
  R_TRACK,
  R_SC_INC,
  CRule,
} from './compiled-rule';

export const keyBuf = new KeyBuf();

/**
 * track-scN, sc-inc-gpcN, sc-set-gpt0. A slot already tracking keeps its entry (HAProxy: the
 * first track-scN of a request wins). A key that cannot be one of the table's type is counted
 * (StickTable.badKeys) and nothing is tracked; an empty sample tracks nothing, as in HAProxy.
 */
export function stickAction(r: CRule, req: RequestView, res: ResponseView | null): void {
  let tr = req.trackers;
  if (r.kind === R_TRACK) {
    if (tr === null) tr = req.trackers = new Trackers();
    if (tr.tables[r.slot] !== null) return;
    const t = r.stickTable!;
    let ok: boolean;
    if (r.keySrc) {
      const ip = req.srcAddress();
      ok = ip !== null && keyFromIp(t.cfg.type, ip, keyBuf);
    } else {
      const s = evalFormat(r.value!, req, res);
      if (s === '') return;
      ok = keyFromText(t.cfg.type, s, t.cfg.keyLen, keyBuf);
    }
    if (!ok) {
      t.countBadKey();
      return;
    }
    const idx = t.get(keyBuf.bytes, keyBuf.len, true);
    if (idx < 0) return; // full with nopurge: counted by the table
    trackStart(tr, r.slot, t, idx);
    req.touch(); // sc_* fetches read something else now
    return;
  }
  const t = tr === null ? null : tr.tables[r.slot];
  if (t === null || tr === null) return;
  const idx = tr.idx[r.slot];
  const gen = tr.gen[r.slot];
  if (r.kind === R_SC_INC) {
    t.inc(idx, gen, r.counter, t.dataOff[r.counterRate] >= 0 ? r.counterRate : -1);
  } else {
    const v = Number(evalFormat(r.value!, req, res));
    if (!Number.isInteger(v)) return;
    t.set(idx, gen, DT_GPT0, v >>> 0);
  }
  req.touch();
}

/** set-var / set-var-fmt / unset-var: a set-var whose sample is missing leaves the variable as it was (HAProxy). */
export function setVar(r: CRule, req: RequestView, res: ResponseView | null): void {
  if (r.kind === R_UNSET_VAR) req.unsetVar(r.varName);
  else {
    const v = r.varFmt ? evalFormat(r.value!, req, res) : evalSample(r.value!, req, res);
    if (v === null) return;
    req.setVar(r.varName, v);
  }
  req.touch(); // ACLs reading the variable see the new value
}

/** set/add/del/replace-header on `target`'s flat header array; true when it changed. */
export function editHeaders(r: CRule, req: RequestView, res: ResponseView | null, target: RequestView | ResponseView): boolean {
  const h = target.headers;
  const len = target.headersLen;
  switch (r.kind) {
    case R_ADD_HEADER:
      target.addHeader(r.name, evalFormat(r.value!, req, res));
      return true;
    case R_SET_HEADER: {
      const v = evalFormat(r.value!, req, res); // computed before the removal (HAProxy)
      for (let i = 0; i < len; i += 2) if (h[i] !== '' && nameEquals(h[i], r.name)) h[i] = '';
      target.addHeader(r.name, v);
      return true;
    }
    case R_DEL_HEADER: {
      let changed = false;
      for (let i = 0; i < len; i += 2) {
        const n = h[i];
        if (n !== '' && delMatches(r, n)) {
          h[i] = '';
          changed = true;
        }
      }
      return changed;
    }
    case R_REPLACE_HEADER: {
      let changed = false;
      for (let i = 0; i < len; i += 2) {
        const n = h[i];
        if (n === '' || !nameEquals(n, r.name)) continue;
        const m = r.regex!.exec(h[i + 1]);
        if (m === null) continue;
        h[i + 1] = substituteGroups(evalFormat(r.value!, req, res), m);
        changed = true;
      }
      return changed;
    }
  }
  return false;
}

export function nameEquals(n: string, lower: string): boolean {
  return n === lower || (n.length === lower.length && n.toLowerCase() === lower);
}

export function delMatches(r: CRule, n: string): boolean {
  const name = r.name;
  switch (r.nameMatch) {
    case 0:
      return nameEquals(n, name);
    case 4:
      return r.nameRe!.test(n);
  }
  const l = n.toLowerCase();
  return r.nameMatch === 1 ? l.startsWith(name) : r.nameMatch === 2 ? l.endsWith(name) : l.includes(name);
}

/** `\0`..`\9` in a replace-header result -> the regex's groups (HAProxy's exp_replace). */
export function substituteGroups(s: string, m: RegExpExecArray): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 48 && d <= 57) {
        out += m[d - 48] ?? '';
        i++;
        continue;
      }
      if (s[i + 1] === '\\') {
        out += '\\';
        i++;
        continue;
      }
    }
    out += c;
  }
  return out;
}
