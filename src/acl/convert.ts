// Sample converters (HAProxy 2.6 configuration manual, 7.3.1) for `%[fetch,conv,...]`,
// set-var expressions, ACL criteria with converters and dynamic use_backend names.
// parseConverter runs at load time (a map file is read then, as HAProxy reads it at start-up)
// and yields plain, structured-cloneable model data; CConv is the per-worker compiled form
// (Maps, RegExps) that applyChain runs per request without closures.
//
// Samples are strings here; a missing sample is null (a map lookup that misses without a default
// value gives null, as HAProxy's converter fails the sample).
import * as fs from 'node:fs';
import type { SampleConv } from '../config/model';
import { didYouMean } from '../config/suggest';
import { ipInNet, isIpText, parseIpv4Pattern, parseIpv6Pattern, type IpNet } from './ip';
import { RuleSyntaxError } from './words';
import { fullHash, genHash, type HashFunction } from '../balancing/hash-fns';

function fail(message: string): never {
  throw new RuleSyntaxError(message);
}

const MAP_MATCHES = ['str', 'beg', 'sub', 'dir', 'dom', 'end', 'reg', 'int', 'ip'] as const;
type MapMatch = (typeof MAP_MATCHES)[number];

export const CONVERTER_NAMES = [
  'lower', 'upper', 'map', ...MAP_MATCHES.map((m) => `map_${m}`), 'regsub', 'field', 'word', 'length', 'url_dec',
  'base64', 'hex', 'concat', 'ltrim', 'rtrim', 'djb2', 'sdbm', 'wt6', 'crc32',
];
/** HAProxy converters gatehouse does not evaluate: "not supported" rather than "unknown". */
const KNOWN_UNSUPPORTED = [
  'add', 'and', 'b64dec', 'bool', 'bytes', 'cpl', 'crc32c', 'debug', 'digest', 'div', 'even', 'hmac', 'http_date',
  'in_table', 'ipmask', 'json', 'json_query', 'language', 'ltime', 'mod', 'mul', 'neg', 'not', 'odd', 'or', 'protobuf',
  'sha1', 'sha2', 'strcmp', 'sub', 'secure_memcmp', 'table_http_req_rate', 'ungrpc', 'unset-var', 'url_enc',
  'utime', 'xor', 'xxh32', 'xxh64', 'set-var', 'host_only', 'port_only', 'aes_gcm_dec', 'be2dec', 'be2hex', 'fix_is_valid',
  'fix_tag_value', 'mqtt_field_value', 'mqtt_is_valid', 'nbsrv', 'svarint', 'varint', 'cut_crlf',
  'iif', 'jwt_header_query', 'jwt_payload_query', 'jwt_verify', 'ms_ltime', 'ms_utime', 'us_ltime', 'us_utime', 'x509_v_err_str',
];

/** Reads map files; tests may replace it. */
let readText: (path: string) => string = (p) => fs.readFileSync(p, 'utf8');
export function setMapReader(r: (path: string) => string): void {
  readText = r;
}

/**
 * A map file as HAProxy reads it: one `key value` per line, the value being the rest of the line
 * after the whitespace that ends the key; '#' starts a comment line; blank lines are skipped.
 * Returned flat: [key, value, key, value, ...] in file order.
 */
export function readMapFile(file: string): string[] {
  let text: string;
  try {
    text = readText(file);
  } catch (e) {
    fail(`cannot read map file '${file}': ${(e as Error).message}`);
  }
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').replace(/^[ \t]+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)[ \t]*(.*?)[ \t]*$/.exec(line)!;
    out.push(m[1], m[2]);
  }
  return out;
}

function intArg(v: string | undefined, what: string, conv: string): number {
  if (v === undefined || !/^-?\d+$/.test(v)) fail(`'${conv}' expects ${what}, found '${v ?? 'nothing'}'`);
  return Number(v);
}

/** `name(args)` of one converter -> the model (map files are read here). */
export function parseConverter(name: string, args: string[]): SampleConv {
  const n = name === 'map' ? 'map_str' : name;
  if (n.startsWith('map_')) {
    const match = n.slice(4);
    if (!(MAP_MATCHES as readonly string[]).includes(match)) {
      fail(/^map_\w+_\w+$/.test(n) ? `'${name}' (a map with a non-string output type) is not supported by gatehouse yet` : `unknown converter '${name}'${didYouMean(name, CONVERTER_NAMES)}`);
    }
    if (args.length < 1 || args.length > 2 || args[0] === '') fail(`'${name}' expects a map file and an optional default value`);
    const entries = readMapFile(args[0]);
    if (match === 'reg') for (let i = 0; i < entries.length; i += 2) checkRegex(entries[i], name);
    if (match === 'ip') for (let i = 0; i < entries.length; i += 2) if (!ipNet(entries[i])) fail(`'${entries[i]}' in map file '${args[0]}' is not an IP address or network`);
    return { name: n, args, map: entries };
  }
  switch (n) {
    case 'lower':
    case 'upper':
    case 'length':
    case 'base64':
    case 'hex':
    case 'djb2':
    case 'sdbm':
    case 'wt6':
    case 'crc32':
      if (args.length > (n === 'djb2' || n === 'sdbm' || n === 'wt6' || n === 'crc32' ? 1 : 0)) fail(`'${n}' takes no argument here`);
      if (args.length === 1 && args[0] !== '0' && args[0] !== '1') fail(`'${n}' takes 0 or 1 (avalanche)`);
      return { name: n, args };
    case 'url_dec':
      if (args.length > 1) fail("'url_dec' takes at most one argument");
      return { name: n, args };
    case 'ltrim':
    case 'rtrim':
      if (args.length !== 1) fail(`'${n}' expects the characters to remove`);
      return { name: n, args };
    case 'regsub': {
      if (args.length < 2 || args.length > 3) fail("'regsub' expects a regex, a replacement and optional flags (i, g)");
      if (args[2] !== undefined && !/^[ig]*$/.test(args[2])) fail(`'regsub' flags are i and g, found '${args[2]}'`);
      checkRegex(args[0], 'regsub');
      return { name: n, args };
    }
    case 'field':
    case 'word': {
      if (args.length < 2 || args.length > 3) fail(`'${n}' expects an index, delimiters and an optional count`);
      const idx = intArg(args[0], 'an index (1 = the first, negative counts from the end)', n);
      if (idx === 0) fail(`'${n}' index 0 does not exist: the first is 1`);
      if (args[1] === '') fail(`'${n}' expects at least one delimiter`);
      if (args[2] !== undefined) intArg(args[2], 'a count', n);
      return { name: n, args };
    }
    case 'concat':
      if (args.length > 3) fail("'concat' expects [start],[variable],[end]");
      if (args[1] !== undefined && args[1] !== '' && !VAR_NAME_RE.test(args[1])) fail(`'${args[1]}' is not a variable name (scope.name, scope one of proc, sess, txn, req, res)`);
      return { name: n, args };
  }
  if (KNOWN_UNSUPPORTED.includes(name)) fail(`converter '${name}' is not supported by gatehouse yet`);
  fail(`unknown converter '${name}'${didYouMean(name, CONVERTER_NAMES)}`);
}

/** A variable name with its scope, as HAProxy requires: proc.x, sess.x, txn.x, req.x, res.x. */
export const VAR_NAME_RE = /^(proc|sess|txn|req|res)\.[A-Za-z0-9._]+$/;

function checkRegex(re: string, conv: string): void {
  try {
    new RegExp(re);
  } catch (e) {
    fail(`invalid regular expression '${re}' in '${conv}': ${(e as Error).message}`);
  }
}

function ipNet(text: string): IpNet | null {
  try {
    return text.includes(':') ? parseIpv6Pattern(text) : parseIpv4Pattern(text);
  } catch {
    return null;
  }
}

// ---- compiled ----

const C_LOWER = 1;
const C_UPPER = 2;
const C_MAP = 3;
const C_REGSUB = 4;
const C_FIELD = 5;
const C_WORD = 6;
const C_LENGTH = 7;
const C_URL_DEC = 8;
const C_BASE64 = 9;
const C_HEX = 10;
const C_CONCAT = 11;
const C_LTRIM = 12;
const C_RTRIM = 13;
const C_HASH = 14;

/** Reads a variable for concat(); set by eval.ts (it owns the request's variables). */
export type VarReader = (name: string) => string | null;

/** One compiled converter (one class, so applyChain stays monomorphic). */
export class CConv {
  kind = 0;
  // map
  mapMatch: MapMatch = 'str';
  mapKeys: string[] = [];
  mapValues: string[] = [];
  mapExact: Map<string, string> | null = null;
  mapRes: RegExp[] = [];
  mapNets: IpNet[] = [];
  mapDefault: string | null = null;
  // regsub
  re: RegExp | null = null;
  replacement = '';
  // field / word
  index = 1;
  delims = '';
  count = 1;
  // concat
  prefix = '';
  varName = '';
  suffix = '';
  // trim
  chars = '';
  // url_dec: '+' is a space
  form = false;
  // hash
  hash = '';
  avalanche = false;

  constructor(c: SampleConv) {
    const a = c.args;
    switch (c.name) {
      case 'lower':
        this.kind = C_LOWER;
        break;
      case 'upper':
        this.kind = C_UPPER;
        break;
      case 'regsub':
        this.kind = C_REGSUB;
        this.re = new RegExp(a[0], (a[2] ?? '').includes('i') ? ((a[2] ?? '').includes('g') ? 'gi' : 'i') : (a[2] ?? '').includes('g') ? 'g' : '');
        // HAProxy's replacement refers to groups as \1..\9; JS as $1..$9 ($ itself must be doubled)
        this.replacement = a[1].replace(/\$/g, '$$$$').replace(/\\([0-9])/g, '$$$1');
        break;
      case 'field':
      case 'word':
        this.kind = c.name === 'field' ? C_FIELD : C_WORD;
        this.index = Number(a[0]);
        this.delims = a[1];
        this.count = a[2] === undefined ? 1 : Number(a[2]);
        break;
      case 'length':
        this.kind = C_LENGTH;
        break;
      case 'url_dec':
        this.kind = C_URL_DEC;
        this.form = a[0] !== undefined && a[0] !== '0';
        break;
      case 'base64':
        this.kind = C_BASE64;
        break;
      case 'hex':
        this.kind = C_HEX;
        break;
      case 'concat':
        this.kind = C_CONCAT;
        this.prefix = a[0] ?? '';
        this.varName = a[1] ?? '';
        this.suffix = a[2] ?? '';
        break;
      case 'ltrim':
      case 'rtrim':
        this.kind = c.name === 'ltrim' ? C_LTRIM : C_RTRIM;
        this.chars = a[0];
        break;
      case 'djb2':
      case 'sdbm':
      case 'wt6':
      case 'crc32':
        this.kind = C_HASH;
        this.hash = c.name;
        this.avalanche = a[0] === '1';
        break;
      default: {
        this.kind = C_MAP;
        this.mapMatch = c.name.slice(4) as MapMatch;
        const e = c.map ?? [];
        for (let i = 0; i < e.length; i += 2) {
          this.mapKeys.push(e[i]);
          this.mapValues.push(e[i + 1]);
        }
        this.mapDefault = a[1] ?? null;
        if (this.mapMatch === 'str' || this.mapMatch === 'int') {
          // the first line wins for a duplicated key (HAProxy keeps the first)
          this.mapExact = new Map();
          for (let i = 0; i < this.mapKeys.length; i++) {
            const k = this.mapMatch === 'int' ? String(parseInt(this.mapKeys[i], 10)) : this.mapKeys[i];
            if (!this.mapExact.has(k)) this.mapExact.set(k, this.mapValues[i]);
          }
        } else if (this.mapMatch === 'reg') {
          this.mapRes = this.mapKeys.map((k) => new RegExp(k));
        } else if (this.mapMatch === 'ip') {
          this.mapNets = this.mapKeys.map((k) => ipNet(k)!);
        }
      }
    }
  }
}

export function compileChain(convs: readonly SampleConv[]): CConv[] {
  return convs.map((c) => new CConv(c));
}

/** Runs the converters over `v`; null = no sample (it stays null once a converter fails). */
export function applyChain(chain: readonly CConv[], v: string | null, readVar: VarReader): string | null {
  for (let i = 0; i < chain.length && v !== null; i++) v = applyOne(chain[i], v, readVar);
  return v;
}

/** HAProxy's lower/upper change ASCII letters only (C locale): other characters stay as they are. */
const NON_ASCII = /[^\x00-\x7f]/;

function applyOne(c: CConv, v: string, readVar: VarReader): string | null {
  switch (c.kind) {
    case C_LOWER:
      return NON_ASCII.test(v) ? v.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : v.toLowerCase();
    case C_UPPER:
      return NON_ASCII.test(v) ? v.replace(/[a-z]+/g, (m) => m.toUpperCase()) : v.toUpperCase();
    case C_MAP:
      return mapLookup(c, v);
    case C_REGSUB:
      c.re!.lastIndex = 0;
      return v.replace(c.re!, c.replacement);
    case C_FIELD:
      return field(v, c.index, c.delims, c.count, false);
    case C_WORD:
      return field(v, c.index, c.delims, c.count, true);
    case C_LENGTH:
      return String(v.length);
    case C_URL_DEC:
      return urlDecode(c.form ? v.replace(/\+/g, ' ') : v);
    case C_BASE64:
      return Buffer.from(v, 'latin1').toString('base64');
    case C_HEX:
      return Buffer.from(v, 'latin1').toString('hex').toUpperCase();
    case C_CONCAT:
      return v + c.prefix + (c.varName === '' ? '' : readVar(c.varName) ?? '') + c.suffix;
    case C_LTRIM: {
      let i = 0;
      while (i < v.length && c.chars.includes(v[i])) i++;
      return v.slice(i);
    }
    case C_RTRIM: {
      let j = v.length;
      while (j > 0 && c.chars.includes(v[j - 1])) j--;
      return v.slice(0, j);
    }
    case C_HASH:
      return String(hashBytes(c.hash, v, c.avalanche));
  }
  return v;
}

/** Prefix length of a network (IPv4 nets keep only their mask). */
function prefixLen(n: IpNet): number {
  if (n.v6) return n.bits;
  let m = n.v4mask >>> 0;
  let bits = 0;
  while (m & 0x80000000) {
    bits++;
    m = (m << 1) >>> 0;
  }
  return bits;
}

function mapLookup(c: CConv, v: string): string | null {
  const keys = c.mapKeys;
  let hit = -1;
  switch (c.mapMatch) {
    case 'str':
      return c.mapExact!.get(v) ?? c.mapDefault;
    case 'int': {
      const n = parseInt(v, 10);
      return (n === n ? c.mapExact!.get(String(n)) : undefined) ?? c.mapDefault;
    }
    case 'beg':
      for (let i = 0; i < keys.length && hit < 0; i++) if (v.startsWith(keys[i])) hit = i;
      break;
    case 'end':
      for (let i = 0; i < keys.length && hit < 0; i++) if (v.endsWith(keys[i])) hit = i;
      break;
    case 'sub':
      for (let i = 0; i < keys.length && hit < 0; i++) if (v.includes(keys[i])) hit = i;
      break;
    case 'dir':
    case 'dom':
      for (let i = 0; i < keys.length && hit < 0; i++) if (delimited(v, keys[i], c.mapMatch === 'dom' ? '.' : '/')) hit = i;
      break;
    case 'reg':
      for (let i = 0; i < keys.length && hit < 0; i++) if (c.mapRes[i].test(v)) hit = i;
      break;
    case 'ip': {
      // longest prefix wins (HAProxy keeps networks in a prefix tree)
      if (!isIpText(v)) return c.mapDefault;
      let best = -1;
      for (let i = 0; i < keys.length; i++) if (ipInNet(v, c.mapNets[i]) && (best < 0 || prefixLen(c.mapNets[i]) > prefixLen(c.mapNets[best]))) best = i;
      hit = best;
      break;
    }
  }
  return hit >= 0 ? c.mapValues[hit] : c.mapDefault;
}

/** `pattern` appears in `s` as a whole run of delimited words (HAProxy's dir/dom matching). */
function delimited(s: string, pattern: string, d: string): boolean {
  let p = pattern;
  while (p.startsWith(d)) p = p.slice(1);
  while (p.endsWith(d)) p = p.slice(0, -1);
  if (p === '') return false;
  let from = 0;
  for (;;) {
    const at = s.indexOf(p, from);
    if (at < 0) return false;
    const end = at + p.length;
    if ((at === 0 || s[at - 1] === d) && (end === s.length || s[end] === d)) return true;
    from = at + 1;
  }
}

/**
 * field()/word(): 1-based index (negative from the end), `count` items (0 = to the end). The
 * result is the text from the first item's start to the last one's end, separators included, as
 * HAProxy returns it. Two scans over the string, no arrays: it runs per request.
 */
function field(v: string, index: number, delims: string, count: number, words: boolean): string | null {
  const n = countItems(v, delims, words);
  let first = index > 0 ? index - 1 : n + index - (count > 1 ? count - 1 : 0);
  if (index < 0 && count === 0) first = 0;
  if (first < 0 || first >= n) return words && n === 0 ? null : '';
  const last = (count === 0 ? (index > 0 ? n : n + index + 1) : Math.min(n, first + count)) - 1;
  // offsets of item `first`'s start and item `last`'s end
  let item = 0;
  let from = -1;
  let i = 0;
  const len = v.length;
  while (i <= len) {
    if (words) while (i < len && delims.indexOf(v[i]) >= 0) i++;
    const startAt = i;
    while (i < len && delims.indexOf(v[i]) < 0) i++;
    if (item === first) {
      from = startAt;
      // count 0: everything from this item to the end of the input (HAProxy, checked)
      if (count === 0 && index > 0) return v.slice(from);
    }
    if (item === last) return v.slice(from, i);
    item++;
    i++; // past the delimiter
  }
  return from < 0 ? '' : v.slice(from);
}

function countItems(v: string, delims: string, words: boolean): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < v.length; i++) {
    const d = delims.indexOf(v[i]) >= 0;
    if (words) {
      if (!d && !inWord) n++;
      inWord = !d;
    } else if (d) n++;
  }
  return words ? n : n + 1;
}

function urlDecode(v: string): string | null {
  try {
    return decodeURIComponent(v);
  } catch {
    return null; // HAProxy fails the sample on a bad %-escape
  }
}

function hashBytes(name: string, s: string, avalanche: boolean): number {
  const h = genHash(name as HashFunction, s);
  return avalanche ? fullHash(h) : h;
}
