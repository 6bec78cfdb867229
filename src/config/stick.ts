// Stick tables, `stick` persistence rules and `peers` sections: the YAML-shaped document ->
// the model (src/stick/types.ts). Kept apart from validate.ts, which calls buildStick() once
// every proxy is read. Values are HAProxy's words (strings), in both syntaxes:
//   proxy:  stick_table: "type ip size 1m expire 10s store http_req_rate(10s)"
//           stick: ["on src", "match req.hdr(x-user) table users"]
//   top:    peers: { mypeers: { peer: ["gh1 127.0.0.1:10000", ...], table: ["t1 type ip size 1k store gpc0"] } }
//   global: localpeer: gh1
import * as os from 'node:os';
import type { AclCondition, BackendConfig, Config, FormatPart, FrontendConfig, ProxyRules } from './model';
import { describeValue } from './errors';
import { parseDuration } from './duration';
import { didYouMean } from './suggest';
import { conditionStart, parseCondition, parseFormat } from '../acl/parse';
import { RuleSyntaxError, splitWords } from '../acl/words';
import { DATA_TYPES, UNSUPPORTED_DATA_TYPES, type KeyType, type PeerConfig, type PeersSectionConfig, type StickConfig, type StickTableConfig } from '../stick/types';
import type { StickPersistRule } from '../stick/model';

type Path = (string | number)[];
type Obj = Record<string, unknown>;

export const STICK_PROXY_KEYS = ['stick_table', 'stick'] as const;
const KEY_TYPES: KeyType[] = ['ip', 'ipv6', 'integer', 'string', 'binary'];
const NAME_RE = /^[A-Za-z0-9_.:-]+$/;

export interface StickReporter {
  error(path: Path, message: string, expected?: string, found?: string): void;
  warn(path: Path, message: string): void;
}

interface ProxyLike {
  kind: 'frontend' | 'backend' | 'listen';
  name: string;
  path: Path;
  raw: Obj;
}

function has(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** `1m` -> 1048576 (HAProxy's size suffixes are powers of 1024). */
function parseSize(t: string): number | null {
  const m = /^(\d+)([kKmMgG]?)$/.exec(t);
  if (m === null) return null;
  const mult = m[2] === '' ? 1 : /k/i.test(m[2]) ? 1024 : /m/i.test(m[2]) ? 1048576 : 1073741824;
  return Number(m[1]) * mult;
}

/** The largest table gatehouse allocates (its memory is reserved up front). */
const MAX_SIZE = 16 * 1048576;

/**
 * The words after `stick-table` (or after `table NAME` in a peers section). Throws a message.
 * `peersOf`: the peers section a `table` line belongs to (its tables are shared there).
 */
export function parseStickTable(words: readonly string[], name: string, where: string, peersOf: string | null): StickTableConfig {
  let type: KeyType | null = null;
  let keyLen = 0;
  let size = -1;
  let expire = 0;
  let nopurge = false;
  let peers: string | null = peersOf;
  const store: { id: number; period: number }[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const next = (what: string): string => {
      const v = words[++i];
      if (v === undefined) throw new Error(`'${w}' expects ${what}`);
      return v;
    };
    switch (w) {
      case 'type': {
        const t = next(`a type: ${KEY_TYPES.join(', ')}`);
        if (!(KEY_TYPES as string[]).includes(t)) throw new Error(`unknown stick-table type '${t}'${didYouMean(t, KEY_TYPES)} (ip, ipv6, integer, string [len N], binary [len N])`);
        type = t as KeyType;
        keyLen = type === 'ip' || type === 'integer' ? 4 : type === 'ipv6' ? 16 : 32;
        if ((type === 'string' || type === 'binary') && words[i + 1] === 'len') {
          i++;
          const l = Number(next('a key length in bytes'));
          if (!Number.isInteger(l) || l < 1 || l > 1000) throw new Error(`'len' expects a key length between 1 and 1000, found '${words[i]}'`);
          keyLen = l;
        }
        break;
      }
      case 'size': {
        const v = next('a number of entries such as 100k or 1m');
        const n = parseSize(v);
        if (n === null || n < 1) throw new Error(`'size' expects a number of entries such as 100k or 1m, found '${v}'`);
        if (n > MAX_SIZE) throw new Error(`'size ${v}' is over gatehouse's limit of 16m entries (the table's memory is reserved when it starts)`);
        size = n;
        break;
      }
      case 'expire': {
        const v = next('a delay such as 30s');
        const ms = parseDuration(v);
        if (ms === null || ms > 0x7fffffff) throw new Error(`'expire' expects a delay such as 30s or 10m (at most 24 days), found '${v}'`);
        expire = ms;
        break;
      }
      case 'nopurge':
        nopurge = true;
        break;
      case 'peers': {
        const v = next('a peers section name');
        if (peersOf !== null) throw new Error("'peers' is not allowed in a peers section's table (it is shared there already)");
        peers = v;
        break;
      }
      case 'store': {
        const list = next('data types such as http_req_rate(10s),gpc0');
        for (const item of list.split(',')) {
          const m = /^([a-z0-9_]+)(?:\(([^)]*)\))?$/.exec(item.trim());
          if (m === null) throw new Error(`'${item}' is not a data type`);
          const info = DATA_TYPES.find((d) => d.name === m[1]);
          if (info === undefined) {
            if (UNSUPPORTED_DATA_TYPES.includes(m[1])) throw new Error(`stored data type '${m[1]}' is not supported by gatehouse yet`);
            throw new Error(`unknown stored data type '${m[1]}'${didYouMean(m[1], DATA_TYPES.map((d) => d.name))}`);
          }
          let period = 0;
          if (info.period) {
            if (m[2] === undefined) throw new Error(`data type '${m[1]}' expects a period, such as ${m[1]}(10s)`);
            const p = parseDuration(m[2]);
            if (p === null || p < 1 || p > 0x7fffffff) throw new Error(`'${m[1]}(${m[2]})': the period must be a delay such as 10s`);
            period = p;
          } else if (m[2] !== undefined) {
            throw new Error(`data type '${m[1]}' takes no argument`);
          }
          if (store.some((s) => s.id === info.id)) throw new Error(`data type '${m[1]}' is stored twice`);
          store.push({ id: info.id, period });
        }
        break;
      }
      case 'srvkey':
      case 'write-to':
        throw new Error(`stick-table option '${w}' is not supported by gatehouse yet`);
      default:
        throw new Error(`unknown stick-table option '${w}'${didYouMean(w, ['type', 'size', 'expire', 'nopurge', 'peers', 'store'])}`);
    }
  }
  if (type === null) throw new Error("a stick table needs 'type' (ip, ipv6, integer, string or binary)");
  if (size < 0) throw new Error("a stick table needs 'size' (a number of entries, such as 100k)");
  store.sort((a, b) => a.id - b.id);
  return { name, type, keyLen, size, expire, nopurge, peers, store, where };
}

/** `host:port` of a peer line. */
function peerAddress(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  const host = m[1] ?? m[2];
  return { host: host === '' || host === '*' ? '0.0.0.0' : host, port };
}

function guard<T>(c: StickReporter, p: Path, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof Error) || (e.constructor !== Error && !(e instanceof RuleSyntaxError))) throw e;
    c.error(p, e.message);
    return undefined;
  }
}

function stringList(c: StickReporter, v: unknown, p: Path, what: string): { text: string; path: Path }[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  const out: { text: string; path: Path }[] = [];
  list.forEach((item, i) => {
    const ip = Array.isArray(v) ? [...p, i] : p;
    if (typeof item !== 'string' || item.trim() === '') c.error(ip, `invalid ${what}`, 'a string in haproxy.cfg syntax', describeValue(item));
    else out.push({ text: item, path: ip });
  });
  return out;
}

/** `stick on|match|store-request <pattern> [table <name>] [if|unless <cond>]` */
function parseStickRule(words: string[], ownTable: string | null): StickPersistRule {
  const kind = words[0];
  if (kind !== 'on' && kind !== 'match' && kind !== 'store-request') {
    if (kind === 'store-response') throw new Error("'stick store-response' is not supported by gatehouse yet");
    throw new Error(`'stick' expects on, match or store-request, found '${kind ?? 'nothing'}'`);
  }
  const c = conditionStart(words, 1);
  const args = c < 0 ? words.slice(1) : words.slice(1, c);
  const cond: AclCondition | null = c < 0 ? null : parseCondition(words.slice(c), { side: 'req' });
  const pattern = args[0];
  if (pattern === undefined) throw new Error(`'stick ${kind}' expects a pattern such as 'src' or 'req.cook(SESSIONID)'`);
  let table = ownTable ?? '';
  if (args[1] === 'table') {
    if (args[2] === undefined) throw new Error(`'stick ${kind} ${pattern} table' expects a table name`);
    table = args[2];
    if (args.length > 3) throw new Error(`unexpected '${args[3]}' after 'table ${args[2]}'`);
  } else if (args.length > 1) {
    throw new Error(`unexpected '${args[1]}' after 'stick ${kind} ${pattern}' (a condition starts with 'if' or 'unless')`);
  }
  if (table === '') throw new Error(`'stick ${kind}' needs a table: this section has no stick-table (add one, or 'table NAME')`);
  const key: FormatPart[] = parseFormat(`%[${pattern}]`, 'req');
  return { kind, key, table, cond };
}

/** Every `src_*` fetch without a table, and every table name a rule uses, in a proxy's rules. */
function walkRules(rules: ProxyRules, visit: (o: Obj) => void): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    visit(v as Obj);
    for (const x of Object.values(v as Obj)) walk(x);
  };
  walk(rules);
}

/**
 * Reads `peers`, `stick_table`, `stick` and `global.localpeer`; resolves the tables rules name
 * (a track-scN or src_* without `table` uses its proxy's own). Returns undefined when the
 * configuration uses none of it.
 */
export function buildStick(
  c: StickReporter,
  top: Obj,
  proxies: readonly ProxyLike[],
  frontends: FrontendConfig[],
  backends: BackendConfig[],
): StickConfig | undefined {
  const tables: StickTableConfig[] = [];
  const byName = new Map<string, StickTableConfig>();
  const peersSections: PeersSectionConfig[] = [];
  const global = (top.global ?? {}) as Obj;
  const localPeer = typeof global.localpeer === 'string' && global.localpeer !== '' ? global.localpeer : os.hostname();
  if (has(global, 'localpeer') && (typeof global.localpeer !== 'string' || !NAME_RE.test(global.localpeer))) {
    c.error(['global', 'localpeer'], 'invalid local peer name', 'a peer name (letters, digits, . _ - :)', describeValue(global.localpeer));
  }
  const addTable = (t: StickTableConfig, p: Path): void => {
    if (byName.has(t.name)) {
      c.error(p, `stick table '${t.name}' is defined twice (also at ${byName.get(t.name)!.where})`);
      return;
    }
    byName.set(t.name, t);
    tables.push(t);
  };

  // peers sections
  const peersDoc = top.peers;
  if (peersDoc !== undefined && peersDoc !== null) {
    if (typeof peersDoc !== 'object' || Array.isArray(peersDoc)) {
      c.error(['peers'], 'invalid peers', 'a map of peers section names to { peer: [...], table: [...] }', describeValue(peersDoc));
    } else {
      for (const [name, body] of Object.entries(peersDoc as Obj)) {
        const sp: Path = ['peers', name];
        if (!NAME_RE.test(name)) c.error(sp, 'invalid peers section name', 'letters, digits, . _ - :', `"${name}"`);
        if (body === null || typeof body !== 'object' || Array.isArray(body)) {
          c.error(sp, 'invalid peers section', '{ peer: ["NAME ADDR:PORT", ...], table: ["NAME type ...", ...] }', describeValue(body));
          continue;
        }
        const b = body as Obj;
        for (const k of Object.keys(b)) if (k !== 'peer' && k !== 'table') c.error([...sp, k], `unknown key "${k}" in a peers section${didYouMean(k, ['peer', 'table'])}`, 'peer, table');
        const sec: PeersSectionConfig = { name, peers: [], tables: [] };
        for (const { text, path } of stringList(c, b.peer, [...sp, 'peer'], 'peer')) {
          const w = splitWords(text);
          const addr = w[1] === undefined ? null : peerAddress(w[1]);
          if (w.length !== 2 || !NAME_RE.test(w[0]) || addr === null) {
            c.error(path, 'invalid peer', '"NAME ADDRESS:PORT" such as "lb1 10.0.0.1:10000"', describeValue(text));
            continue;
          }
          if (sec.peers.some((x) => x.name === w[0])) {
            c.error(path, `peer '${w[0]}' is defined twice in peers section '${name}'`);
            continue;
          }
          const peer: PeerConfig = { name: w[0], host: addr.host, port: addr.port, local: w[0] === localPeer };
          sec.peers.push(peer);
        }
        if (sec.peers.length > 0 && !sec.peers.some((x) => x.local)) {
          c.warn(sp, `peers section '${name}' has no peer named '${localPeer}' (this process's name: global localpeer, else the host name): it is not started, as in HAProxy`);
        }
        for (const { text, path } of stringList(c, b.table, [...sp, 'table'], 'table')) {
          const w = splitWords(text);
          if (w.length < 1 || !NAME_RE.test(w[0])) {
            c.error(path, 'invalid table', '"NAME type ip size 1m ..."', describeValue(text));
            continue;
          }
          const t = guard(c, path, () => parseStickTable(w.slice(1), `${name}/${w[0]}`, `peers ${name}`, name));
          if (t === undefined) continue;
          addTable(t, path);
          sec.tables.push(t.name);
        }
        peersSections.push(sec);
      }
    }
  }

  // stick-table in proxies
  const own = new Map<string, string>();
  for (const p of proxies) {
    if (!has(p.raw, 'stick_table')) continue;
    const tp = [...p.path, 'stick_table'];
    const v = p.raw.stick_table;
    if (typeof v !== 'string' || v.trim() === '') {
      c.error(tp, 'invalid stick table', '"type ip size 1m expire 10s store http_req_rate(10s)"', describeValue(v));
      continue;
    }
    const t = guard(c, tp, () => parseStickTable(splitWords(v), p.name, `${p.kind} ${p.name}`, null));
    if (t === undefined) continue;
    addTable(t, tp);
    own.set(`${p.kind}:${p.name}`, t.name);
  }
  for (const t of tables) {
    if (t.peers === null) continue;
    const sec = peersSections.find((s) => s.name === t.peers);
    if (sec === undefined) {
      c.error([], `stick table '${t.name}' (${t.where}) names peers section '${t.peers}', which is not defined${didYouMean(t.peers, peersSections.map((s) => s.name))}`);
      continue;
    }
    if (!sec.tables.includes(t.name)) sec.tables.push(t.name);
  }

  // rules: resolve and check the tables they name
  const tableOf = (p: ProxyLike): string | null => own.get(`${p.kind}:${p.name}`) ?? null;
  const check = (name: string, path: Path): void => {
    if (!byName.has(name)) c.error(path, `no stick table named '${name}'${didYouMean(name, [...byName.keys()])}`, 'a proxy with a stick-table, or PEERS/TABLE of a peers section', `'${name}'`);
  };
  /** Resolves the tables of one rule (or ACL): the proxy's own when none is named. */
  const visitRule = (p: ProxyLike, mine: string | null, r: unknown, at: Path): void => {
    walkRules(r as ProxyRules, (o) => {
      if (o.action === 'track-sc' && typeof o.table === 'string') {
        if (o.table !== '') check(o.table, at);
        else if (mine === null) c.error(at, `'track-sc${String(o.slot)}' without 'table' needs a stick-table in ${p.kind} '${p.name}'`);
        else o.table = mine;
      }
      if (typeof o.fetch === 'string' && typeof o.arg === 'string' && /^(sc|src)_/.test(o.fetch)) {
        const src = o.fetch.startsWith('src_');
        const parts = o.arg === '' ? [] : o.arg.split(',');
        const tname = src ? parts[0] : parts[1];
        if (tname !== undefined) check(tname, at);
        else if (!src) return; // sc_*: the tracked entry's table
        else if (mine === null) c.error(at, `'${o.fetch}' without a table needs a stick-table in ${p.kind} '${p.name}'`);
        else o.arg = mine;
      }
    });
  };
  const resolve = (p: ProxyLike, rules: ProxyRules | undefined): void => {
    if (rules === undefined) return;
    const mine = tableOf(p);
    const lists: [unknown[], string][] = [
      [rules.httpRequest, 'http_request'], [rules.httpResponse, 'http_response'], [rules.redirects, 'redirect'], [rules.useBackend, 'use_backend'],
    ];
    for (const [list, key] of lists) list.forEach((r, i) => visitRule(p, mine, r, [...p.path, key, i]));
    for (const a of rules.acls) visitRule(p, mine, a, [...p.path, 'acls', a.name]);
  };
  const feByName = new Map(frontends.map((f) => [f.name, f]));
  const beByName = new Map(backends.map((b) => [b.name, b]));
  for (const p of proxies) {
    // a listen's backend rules are its frontend's (the same objects): resolved once
    if (p.kind !== 'backend') {
      const fe = feByName.get(p.name);
      resolve(p, fe?.rules);
      // tcp-request connection/content track-scN and sc_/src_ fetches (mode tcp)
      const t = fe?.tcpRequest;
      if (t !== undefined) for (const r of [...t.connection, ...t.session, ...t.content]) visitRule(p, tableOf(p), r, [...p.path, 'tcp_request']);
    } else resolve(p, beByName.get(p.name)?.rules);
  }

  // stick on / match / store-request (backends and listens)
  for (const p of proxies) {
    if (!has(p.raw, 'stick')) continue;
    const sp = [...p.path, 'stick'];
    if (p.kind === 'frontend') {
      c.error(sp, "'stick' rules belong in a backend or listen section (they pick a server)");
      continue;
    }
    const rules: StickPersistRule[] = [];
    for (const { text, path } of stringList(c, p.raw.stick, sp, 'stick rule')) {
      const r = guard(c, path, () => parseStickRule(splitWords(text), tableOf(p)));
      if (r === undefined) continue;
      check(r.table, path);
      // HAProxy stores server_id in every table a stick rule uses, declared or not
      const t = byName.get(r.table);
      if (t !== undefined && !t.store.some((s) => s.id === 0)) t.store.unshift({ id: 0, period: 0 });
      rules.push(r);
    }
    const be = beByName.get(p.name);
    if (be !== undefined && rules.length > 0) be.stickRules = rules;
  }

  if (tables.length === 0 && peersSections.length === 0) return undefined;
  return { tables, peers: peersSections, localPeer };
}

/** Config.stick with every SharedArrayBuffer left out (for `convert` and messages). */
export function stickWithoutBuffers(config: Config): StickConfig | undefined {
  if (config.stick === undefined) return undefined;
  return { ...config.stick, tables: config.stick.tables.map(({ buffer: _b, ...t }) => t) };
}
