// Validation of the content-routing keys of a frontend/backend/listen: `acls`, `use_backend`,
// `http_request`, `http_response`, `redirect`. Values are HAProxy rule text (strings), split with
// the cfg tokenizer and parsed by src/acl and src/rules into the model; every problem is reported
// at its key path (which the haproxy.cfg reader maps back to the cfg line).
import type { AclCondition, AclDefinition, AclTest, HttpRule, ProxyRules, UseBackendRule } from './model';
import { describeValue } from './errors';
import { didYouMean } from './suggest';
import { parseAclTests, parseCondition, parseFormat, type RuleSide } from '../acl/parse';
import { fetchSide, PREDEFINED_ACLS, PREDEFINED_UNSUPPORTED } from '../acl/fetches';
import { RuleSyntaxError, splitWords } from '../acl/words';
import { parseHttpRule, parseRedirectRule, parseUseBackend } from '../rules/parse';

type Path = (string | number)[];
type Obj = Record<string, unknown>;

export const RULE_KEYS = ['acls', 'use_backend', 'http_request', 'http_response', 'redirect'] as const;

export interface RuleReporter {
  error(path: Path, message: string, expected?: string, found?: string): void;
  warn(path: Path, message: string): void;
}

/** A use_backend target to check once every backend is known. */
export interface BackendRef {
  name: string;
  path: Path;
}

const ACL_NAME_RE = /^[A-Za-z0-9_.:-]+$/;
const RULES_EXPECTED = 'a list of rules in haproxy.cfg syntax, e.g. ["deny if !local"]';

function has(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** The rule strings of a list key (a single string stands for a list of one). */
function ruleStrings(c: RuleReporter, v: unknown, path: Path): { text: string; path: Path }[] {
  if (v === null || v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  const out: { text: string; path: Path }[] = [];
  list.forEach((item, i) => {
    const p = Array.isArray(v) ? [...path, i] : path;
    if (typeof item !== 'string' || item.trim() === '') c.error(p, 'invalid rule', RULES_EXPECTED, describeValue(item));
    else out.push({ text: item, path: p });
  });
  return out;
}

function words(text: string): string[] {
  return splitWords(text);
}

/** Reads the routing keys of one section; undefined when it has none. */
export function readRules(
  c: RuleReporter,
  o: Obj,
  path: Path,
  kind: 'frontend' | 'backend' | 'listen',
  backendRefs: BackendRef[],
  readFile?: (file: string) => string,
): ProxyRules | undefined {
  if (!RULE_KEYS.some((k) => has(o, k))) return undefined;
  const guard = <T>(p: Path, f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof RuleSyntaxError)) throw e;
      c.error(p, e.message);
      return undefined;
    }
  };

  // acls: { name: "criterion ..." | ["criterion ...", ...] } or ["name criterion ...", ...]
  const acls = new Map<string, AclTest[]>();
  const aclPaths = new Map<string, Path>();
  const addAcl = (name: string, text: string, p: Path): void => {
    if (!ACL_NAME_RE.test(name)) {
      c.error(p, `invalid ACL name "${name}"`, "letters, digits, '-', '_', '.', ':'", `"${name}"`);
      return;
    }
    if (has(PREDEFINED_ACLS, name) || PREDEFINED_UNSUPPORTED.includes(name)) {
      c.warn(p, `ACL "${name}" hides HAProxy's predefined ACL of that name`);
    }
    const tests = guard(p, () => parseAclTests(words(text), { side: 'any', readFile }));
    if (!tests) return;
    acls.set(name, [...(acls.get(name) ?? []), ...tests]);
    if (!aclPaths.has(name)) aclPaths.set(name, p);
  };
  if (has(o, 'acls')) {
    const v = o.acls;
    const ap = [...path, 'acls'];
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        const w = typeof item === 'string' ? guard([...ap, i], () => words(item)) : undefined;
        if (typeof item !== 'string') c.error([...ap, i], 'invalid ACL', '"NAME CRITERION [FLAGS] VALUE..."', describeValue(item));
        else if (w && w.length < 2) c.error([...ap, i], 'an ACL line needs a name and a criterion', '"NAME CRITERION [FLAGS] VALUE..."', describeValue(item));
        else if (w) addAcl(w[0], item.slice(item.indexOf(w[0]) + w[0].length), [...ap, i]);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const [name, def] of Object.entries(v as Obj)) {
        const dp = [...ap, name];
        const lines = Array.isArray(def) ? def : [def];
        lines.forEach((line, i) => {
          const lp = Array.isArray(def) ? [...dp, i] : dp;
          if (typeof line !== 'string' || line.trim() === '') c.error(lp, 'invalid ACL', '"CRITERION [FLAGS] VALUE..." such as "path_beg /api"', describeValue(line));
          else addAcl(name, line, lp);
        });
      }
    } else if (v !== null && v !== undefined) {
      c.error(ap, 'invalid value', 'a map of ACL names to criteria, e.g. { is_api: "path_beg /api" }', describeValue(v));
    }
  }
  const aclDefs: AclDefinition[] = [...acls].map(([name, tests]) => ({ name, tests }));

  /** Names must exist (own ACLs first, then predefined) and fit the rule's direction. */
  const checkCond = (cond: AclCondition | null, p: Path, side: RuleSide): boolean => {
    if (cond === null) return true;
    let ok = true;
    for (const group of cond.or) {
      for (const term of group) {
        if (term.name === null) continue;
        const own = acls.get(term.name);
        if (own === undefined && !has(PREDEFINED_ACLS, term.name)) {
          ok = false;
          if (PREDEFINED_UNSUPPORTED.includes(term.name)) c.error(p, `predefined ACL "${term.name}" is not supported by gatehouse yet`);
          else if (aclPaths.has(term.name)) continue; // defined, but its definition had an error (reported)
          else c.error(p, `ACL "${term.name}" is not defined${didYouMean(term.name, [...acls.keys(), ...Object.keys(PREDEFINED_ACLS)])}`, 'an ACL declared in this section (acls) or a predefined one such as LOCALHOST, METH_GET, TRUE', `"${term.name}"`);
          continue;
        }
        const tests = own ?? [];
        const needs = own === undefined ? (term.name === 'HTTP_CONTENT' ? 'req' : 'any') : tests.map((t) => fetchSide(t.fetch)).find((s) => s !== 'any' && s !== side) ?? 'any';
        if (needs !== 'any' && needs !== side) {
          ok = false;
          c.error(p, side === 'req'
            ? `ACL "${term.name}" reads the response, so it cannot be used in request rules or use_backend`
            : `ACL "${term.name}" reads request headers, which http-response rules do not see`);
        }
      }
    }
    return ok;
  };

  const useBackend: UseBackendRule[] = [];
  if (has(o, 'use_backend')) {
    const up = [...path, 'use_backend'];
    if (kind === 'backend') {
      c.warn(up, '"use_backend" has no effect in a backend (it applies to frontends and listen sections); ignored');
    } else {
      const v = o.use_backend;
      const list = v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];
      list.forEach((item, i) => {
        const p = Array.isArray(v) ? [...up, i] : up;
        let rule: UseBackendRule | undefined;
        let condPath = p;
        let namePath = p;
        if (typeof item === 'string') {
          rule = guard(p, () => parseUseBackend(words(item), { side: 'req', readFile }));
        } else if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
          const m = item as Obj;
          for (const k of Object.keys(m)) {
            if (!['backend', 'if', 'unless'].includes(k)) c.error([...p, k], `unknown key "${k}" in a use_backend rule${didYouMean(k, ['backend', 'if', 'unless'])}`, 'backend, and if or unless');
          }
          namePath = [...p, 'backend'];
          if (typeof m.backend !== 'string' || !(/^[A-Za-z0-9_.:-]+$/.test(m.backend) || m.backend.includes('%['))) {
            c.error(has(m, 'backend') ? namePath : p, has(m, 'backend') ? 'invalid backend name' : 'missing required key "backend"', 'a backend name', has(m, 'backend') ? describeValue(m.backend) : 'nothing');
            return;
          }
          if (has(m, 'if') && has(m, 'unless')) {
            c.error(p, 'a use_backend rule takes "if" or "unless", not both');
            return;
          }
          const ck = has(m, 'if') ? 'if' : has(m, 'unless') ? 'unless' : null;
          let cond: AclCondition | null = null;
          if (ck !== null) {
            condPath = [...p, ck];
            const text = m[ck];
            if (typeof text !== 'string' || text.trim() === '') {
              c.error(condPath, 'invalid condition', 'a condition such as "is_api" or "{ path_beg /api } !local"', describeValue(text));
              return;
            }
            const parsed = guard(condPath, () => parseCondition([ck, ...words(text)], { side: 'req', readFile }));
            if (parsed === undefined) return;
            cond = parsed;
          }
          if (m.backend.includes('%[')) {
            const name = m.backend;
            const format = guard(namePath, () => parseFormat(name, 'req'));
            if (format === undefined) return;
            rule = { backend: name, format, cond };
          } else {
            rule = { backend: m.backend, cond };
          }
        } else {
          c.error(p, 'invalid use_backend rule', '"BACKEND [if|unless CONDITION]" or { backend: NAME, if: CONDITION }', describeValue(item));
          return;
        }
        if (!rule || !checkCond(rule.cond, condPath, 'req')) return;
        useBackend.push(rule);
        if (!rule.format) backendRefs.push({ name: rule.backend, path: namePath });
      });
    }
  }

  const httpRules = (key: 'http_request' | 'http_response' | 'redirect', side: RuleSide): HttpRule[] => {
    const out: HttpRule[] = [];
    for (const { text, path: p } of ruleStrings(c, o[key], [...path, key])) {
      const rule = guard(p, () => {
        const w = words(text);
        return key === 'redirect' ? parseRedirectRule(w, { side, readFile }) : parseHttpRule(w, { side, readFile });
      });
      if (rule && checkCond(rule.cond, p, side)) out.push(rule);
    }
    return out;
  };
  return {
    acls: aclDefs,
    httpRequest: httpRules('http_request', 'req'),
    redirects: httpRules('redirect', 'req'),
    useBackend,
    httpResponse: httpRules('http_response', 'res'),
  };
}
