// The stick-table actions of http-request/http-response rules: track-sc0/1/2, sc-inc-gpc0/1,
// sc-set-gpt0 (HAProxy 2.6 manual 4.2, http-request). Words -> the model (src/stick/model.ts).
import type { AclCondition, HttpRule } from '../config/model';
import { parseFormat, type RuleSide } from '../acl/parse';
import { RuleSyntaxError } from '../acl/words';

export const STICK_REQUEST_ACTIONS = ['track-sc0', 'track-sc1', 'track-sc2', 'sc-inc-gpc0', 'sc-inc-gpc1', 'sc-set-gpt0'];
export const STICK_RESPONSE_ACTIONS = ['sc-inc-gpc0', 'sc-inc-gpc1', 'sc-set-gpt0'];

function fail(message: string): never {
  throw new RuleSyntaxError(message);
}

/** `sc-inc-gpc0(1)` -> `sc-inc-gpc0` (the counter number is read by parseStickAction). */
export function stickActionName(word: string | undefined): string | undefined {
  if (word === undefined) return undefined;
  const m = /^(sc-inc-gpc[01]|sc-set-gpt0)\(.*\)$/.exec(word);
  return m === null ? word : m[1];
}

function counterOf(word: string, action: string): number {
  const m = /^[a-z0-9-]+\(([0-2])\)$/.exec(word);
  if (m === null) fail(`'${action}' expects a sticky counter number: ${action}(0), ${action}(1) or ${action}(2)`);
  return Number(m[1]);
}

/** A stick action, or null when `word` is another action. */
export function parseStickAction(word: string, args: string[], cond: AclCondition | null, side: RuleSide): HttpRule | null {
  const action = stickActionName(word)!;
  if (/^track-sc[0-2]$/.test(action)) {
    if (side !== 'req') fail(`'http-response ${action}' is not supported by gatehouse yet (track in http-request)`);
    const key = args[0];
    if (key === undefined) fail(`'${action}' expects a key, such as 'src' or 'req.hdr(x-api-key)'`);
    let table = '';
    let i = 1;
    if (args[i] === 'table') {
      const t = args[i + 1];
      if (t === undefined || !/^[A-Za-z0-9_.:/-]+$/.test(t)) fail(`'${action} ${key} table' expects a table name`);
      table = t;
      i += 2;
    }
    if (args.length > i) fail(`unexpected '${args[i]}' after '${action} ${key}' (a condition starts with 'if' or 'unless')`);
    if (key.includes('%[')) fail(`'${action}' takes a sample expression such as 'src', not a log-format string`);
    return { action: 'track-sc', slot: Number(action.slice(-1)), key: parseFormat(`%[${key}]`, side), table, cond };
  }
  if (action === 'sc-inc-gpc0' || action === 'sc-inc-gpc1') {
    const slot = counterOf(word, action);
    if (args.length > 0) fail(`unexpected '${args[0]}' after '${word}' (a condition starts with 'if' or 'unless')`);
    return { action: 'sc-inc-gpc', slot, counter: action === 'sc-inc-gpc0' ? 0 : 1, cond };
  }
  if (action === 'sc-set-gpt0') {
    const slot = counterOf(word, action);
    const v = args[0];
    if (v === undefined) fail(`'${word}' expects an integer or a sample expression`);
    if (args.length > 1) fail(`unexpected '${args[1]}' after '${word} ${v}' (a condition starts with 'if' or 'unless')`);
    const value = /^-?\d+$/.test(v) ? [{ kind: 'lit' as const, text: v }] : parseFormat(`%[${v}]`, side);
    return { action: 'sc-set-gpt0', slot, value, cond };
  }
  return null;
}
