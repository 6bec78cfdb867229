// Model ACLs and conditions -> flat runtime structures, built once per worker at start-up:
// numeric fetch/match codes, lower-cased patterns, Sets for many exact strings, one RegExp for
// several substrings, RegExps, integer ranges and IP networks. Each named ACL is one CAcl
// shared by every condition that uses it, so its result is computed once per request (memo).
// Evaluation (eval.ts) walks these with no closures and, for the common matchers, no allocation.
import type { AclCondition, AclDefinition, AclTest, FormatPart } from '../config/model';
import { PREDEFINED_ACLS, sidedFetch } from './fetches';
import { parseIpv4Pattern, parseIpv6Pattern, type IpNet } from './ip';
import { SINGLE_HEADERS } from './view';
import { parseAclTests } from './parse';
import { splitWords } from './words';
import { isStickFetch, StickFetch } from '../stick/fetch';
import { compileChain, type CConv } from './convert';

// fetch codes
export const F_PATH = 0;
export const F_URL = 1;
export const F_QUERY = 2;
export const F_URL_PARAM = 3;
export const F_METHOD = 4;
export const F_SRC = 5;
export const F_DST_PORT = 6;
export const F_VER = 7;
export const F_SSL_FC = 8;
export const F_TRUE = 9;
export const F_FALSE = 10;
export const F_REQ_HDR = 11;
export const F_REQ_FHDR = 12;
export const F_REQ_HDR_CNT = 13;
export const F_REQ_FHDR_CNT = 14;
export const F_REQ_HDR_VAL = 15;
export const F_RES_HDR = 16;
export const F_RES_FHDR = 17;
export const F_RES_HDR_CNT = 18;
export const F_RES_FHDR_CNT = 19;
export const F_RES_HDR_VAL = 20;
export const F_STATUS = 21;
/** sc_* / src_* (src/stick/fetch.ts): CTest.stick / CFormat.stick hold the compiled fetch */
export const F_STICK = 22;
// TCP payload fetches (evaluated by src/tcp/inspect.ts)
export const F_REQ_LEN = 23;
export const F_SSL_SNI = 24;
export const F_SSL_HELLO_TYPE = 25;
export const F_SSL_VER = 26;
export const F_VAR = 27;
export const F_BASE = 28;
export const F_PATHQ = 29;
/** a TLS fact of the connection (ssl_fc_sni, ssl_c_s_dn ...): the fetch name is the test's `arg` */
export const F_SSL = 30;
/** The fetches F_SSL answers (src/front-node/tls-facts.ts). */
const SSL_FETCH_NAMES = new Set(['ssl_fc_sni', 'ssl_fc_protocol', 'ssl_fc_cipher', 'ssl_fc_alpn', 'ssl_c_used', 'ssl_c_verify', 'ssl_c_s_dn', 'ssl_c_i_dn', 'ssl_c_serial', 'ssl_c_sha1']);

const FETCH_CODES: Record<string, number> = {
  path: F_PATH, url: F_URL, query: F_QUERY, url_param: F_URL_PARAM, method: F_METHOD, src: F_SRC, dst_port: F_DST_PORT,
  'req.ver': F_VER, ssl_fc: F_SSL_FC, always_true: F_TRUE, always_false: F_FALSE, 'req.hdr': F_REQ_HDR,
  'req.fhdr': F_REQ_FHDR, 'req.hdr_cnt': F_REQ_HDR_CNT, 'req.fhdr_cnt': F_REQ_FHDR_CNT, 'req.hdr_val': F_REQ_HDR_VAL,
  'res.hdr': F_RES_HDR, 'res.fhdr': F_RES_FHDR, 'res.hdr_cnt': F_RES_HDR_CNT, 'res.fhdr_cnt': F_RES_FHDR_CNT,
  'res.hdr_val': F_RES_HDR_VAL, status: F_STATUS, 'req.len': F_REQ_LEN, 'req.ssl_sni': F_SSL_SNI,
  'req.ssl_hello_type': F_SSL_HELLO_TYPE, 'req.ssl_ver': F_SSL_VER,
  var: F_VAR, base: F_BASE, pathq: F_PATHQ,
};
for (const n of SSL_FETCH_NAMES) FETCH_CODES[n] = F_SSL;

// match codes
export const M_FOUND = 0;
export const M_BOOL = 1;
export const M_INT = 2;
export const M_IP = 3;
export const M_LEN = 4;
export const M_STR = 5;
export const M_SUB = 6;
export const M_REG = 7;
export const M_BEG = 8;
export const M_END = 9;
export const M_DIR = 10;
export const M_DOM = 11;

const MATCH_CODES: Record<string, number> = {
  found: M_FOUND, bool: M_BOOL, int: M_INT, ip: M_IP, len: M_LEN, str: M_STR, sub: M_SUB, reg: M_REG, beg: M_BEG,
  end: M_END, dir: M_DIR, dom: M_DOM,
};

/** Above this many exact-string patterns a Set beats a loop. */
const SET_THRESHOLD = 4;
/** From this many substring patterns on, one alternation RegExp beats a scan per pattern (measured: already at 2). */
const SUB_RE_THRESHOLD = 2;

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Request header fetches (their `arg` is a header name, '' = every header). */
export function readsRequestHeader(fetch: number): boolean {
  // base reads Host: with arg '' it counts as reading every header (simple and safe)
  return fetch === F_REQ_HDR || fetch === F_REQ_FHDR || fetch === F_REQ_HDR_CNT || fetch === F_REQ_FHDR_CNT || fetch === F_REQ_HDR_VAL || fetch === F_BASE;
}

/** One compiled criterion; its patterns are ORed. */
export class CTest {
  readonly fetch: number;
  /** header name (lower case) or URL parameter name */
  readonly arg: string;
  readonly match: number;
  readonly icase: boolean;
  /** the sample is compared lower-cased (ASCII) against `strs`: -i with str/sub/beg/end/dir/dom */
  readonly fold: boolean;
  /** request header fetches of host/content-length: index in SINGLE_HEADERS, else -1 */
  readonly single: number;
  /**
   * converters of the criterion (`hdr(host),lower,map_str(f)`), or [] for var(): such tests are
   * evaluated on the sample's text, where a missing sample matches nothing; null otherwise
   */
  readonly chain: CConv[] | null;
  /** string patterns (lower case when icase; dir/dom without leading/trailing delimiters) */
  readonly strs: string[] = [];
  /** exact match against many patterns */
  readonly set: Set<string> | null = null;
  /** sub against several patterns: one alternation of the escaped (lower-cased) patterns */
  readonly subRe: RegExp | null = null;
  /** end against several patterns: 1 at the code of each pattern's last character (all ASCII), else null */
  readonly endTab: Uint8Array | null = null;
  readonly res: RegExp[] = [];
  /** inclusive integer ranges: lo[i] <= v <= hi[i] */
  readonly lo: number[] = [];
  readonly hi: number[] = [];
  readonly nets: IpNet[] = [];
  /** F_STICK: the compiled sc_/src_ fetch */
  readonly stick: StickFetch | null = null;

  /** `side`: the direction of the rule using it (resolves a named ACL's neutral hdr()). */
  constructor(t: AclTest, side: 'req' | 'res') {
    this.fetch = FETCH_CODES[sidedFetch(t.fetch, side)];
    if (this.fetch === undefined && isStickFetch(t.fetch)) {
      this.fetch = F_STICK;
      this.stick = new StickFetch(t.fetch, t.arg);
    }
    if (this.fetch === undefined) throw new Error(`internal: fetch ${t.fetch} has no evaluator`);
    this.arg = this.fetch === F_SSL ? t.fetch : t.arg;
    this.match = MATCH_CODES[t.match];
    this.icase = t.icase;
    this.chain = t.conv && t.conv.length ? compileChain(t.conv) : this.fetch === F_VAR || this.fetch === F_BASE || this.fetch === F_PATHQ ? [] : null;
    const m = this.match;
    for (const v of t.values) {
      if (m === M_INT || m === M_LEN) {
        let lo = -Infinity;
        let hi = Infinity;
        const colon = v.indexOf(':');
        if (colon >= 0) {
          if (colon > 0) lo = Number(v.slice(0, colon));
          if (colon < v.length - 1) hi = Number(v.slice(colon + 1));
        } else {
          const n = Number(v);
          // operators become ranges so evaluation is one comparison pair
          if (t.op === 'eq') lo = hi = n;
          else if (t.op === 'ge') lo = n;
          else if (t.op === 'gt') lo = n + 1;
          else if (t.op === 'le') hi = n;
          else hi = n - 1;
        }
        this.lo.push(lo);
        this.hi.push(hi);
      } else if (m === M_IP) {
        const net = parseIpv4Pattern(v) ?? parseIpv6Pattern(v);
        if (net) this.nets.push(net);
      } else if (m === M_REG) {
        this.res.push(new RegExp(v, t.icase ? 'i' : ''));
      } else if (m === M_DIR || m === M_DOM) {
        // HAProxy ignores leading and trailing delimiters of the pattern
        const delim = m === M_DIR ? /^\/+|\/+$/g : /^[.:/?]+|[.:/?]+$/g;
        const p = v.replace(delim, '');
        this.strs.push(t.icase ? p.toLowerCase() : p);
      } else {
        this.strs.push(t.icase ? v.toLowerCase() : v);
      }
    }
    if (m === M_STR && this.strs.length > SET_THRESHOLD) this.set = new Set(this.strs);
    if (m === M_SUB && this.strs.length >= SUB_RE_THRESHOLD) this.subRe = new RegExp(this.strs.map(escapeRe).join('|'));
    if (m === M_END && this.strs.length >= 2 && this.strs.every((p) => p !== '' && p.charCodeAt(p.length - 1) < 128)) {
      // a sample whose last character ends no pattern is rejected with one lookup (path_end .jpg .png ... on "/")
      this.endTab = new Uint8Array(128);
      for (const p of this.strs) this.endTab[p.charCodeAt(p.length - 1)] = 1;
    }
    this.fold = t.icase && (m === M_STR || m === M_SUB || m === M_BEG || m === M_END || m === M_DIR || m === M_DOM);
    this.single = readsRequestHeader(this.fetch) ? SINGLE_HEADERS.indexOf(this.arg) : -1;
  }
}

/** An ACL (its tests ORed) with its result memoised for one request generation (RequestView.gen). */
export class CAcl {
  /** generation of `value`; -1: none */
  gen = -1;
  value = false;
  /** the only test (most ACLs have one): one pointer less to follow per evaluation */
  readonly test: CTest | null;
  constructor(readonly tests: CTest[]) {
    this.test = tests.length === 1 ? tests[0] : null;
  }
}

/** A term of a condition: an ACL, possibly negated. */
export class CTerm {
  constructor(
    readonly negate: boolean,
    readonly acl: CAcl,
  ) {}
}

/** A compiled condition: terms in one array, `ends[g]` = end index of OR-group g. */
export class CCond {
  /**
   * A condition of one term (`if acl`, `if !acl`, `if { ... }`, most of them): that term's ACL,
   * evaluated without walking the arrays. Rules run per request from cold caches (the rest of
   * the request path evicts them), so each pointer not followed is a cache miss saved.
   */
  readonly single: CAcl | null;
  readonly negate: boolean;
  constructor(
    readonly unless: boolean,
    readonly terms: CTerm[],
    readonly ends: number[],
  ) {
    const one = ends.length === 1 && terms.length === 1;
    this.single = one ? terms[0].acl : null;
    this.negate = one ? terms[0].negate : false;
  }
}

/** Compiled named ACLs of one proxy, predefined ones compiled on first use. */
export class AclScope {
  private readonly defs = new Map<string, readonly AclTest[]>();
  /** compiled per direction (a named ACL's hdr() reads request or response headers) */
  private readonly compiled = new Map<string, CAcl>();

  constructor(acls: readonly AclDefinition[]) {
    for (const a of acls) this.defs.set(a.name, a.tests);
  }

  private lookup(name: string, side: 'req' | 'res'): CAcl {
    const key = `${side}:${name}`;
    const done = this.compiled.get(key);
    if (done) return done;
    let tests: CTest[];
    const own = this.defs.get(name);
    if (own) {
      tests = own.map((t) => new CTest(t, side));
    } else {
      const def = PREDEFINED_ACLS[name];
      if (def === undefined) throw new Error(`internal: ACL '${name}' is not defined (the validator checks names)`);
      tests = parseAclTests(splitWords(def), { side }).map((t) => new CTest(t, side));
    }
    const acl = new CAcl(tests);
    this.compiled.set(key, acl);
    return acl;
  }

  condition(c: AclCondition, side: 'req' | 'res'): CCond {
    const terms: CTerm[] = [];
    const ends: number[] = [];
    for (const group of c.or) {
      for (const t of group) {
        const acl = t.tests !== null ? new CAcl(t.tests.map((x) => new CTest(x, side))) : this.lookup(t.name!, side);
        terms.push(new CTerm(t.negate, acl));
      }
      ends.push(terms.length);
    }
    return new CCond(c.unless, terms, ends);
  }
}

/** A compiled log-format string: a literal, or parts (literal strings and fetches). */
export class CFormat {
  /** the whole format when it has no fetch */
  readonly literal: string | null;
  readonly lits: string[] = [];
  /** per part: -1 literal, else a fetch code */
  readonly fetches: number[] = [];
  readonly args: string[] = [];
  /** per part: the compiled sc_/src_ fetch of an F_STICK part, else null */
  readonly stick: (StickFetch | null)[] = [];
  /** per part: its converters, null when it has none */
  readonly chains: (CConv[] | null)[] = [];

  constructor(parts: readonly FormatPart[]) {
    let allLit = true;
    for (const p of parts) {
      if (p.kind === 'lit') {
        this.lits.push(p.text);
        this.fetches.push(-1);
        this.args.push('');
        this.chains.push(null);
        this.stick.push(null);
      } else {
        allLit = false;
        this.lits.push('');
        const sticky = FETCH_CODES[p.fetch] === undefined && isStickFetch(p.fetch);
        this.stick.push(sticky ? new StickFetch(p.fetch, p.arg) : null);
        this.fetches.push(sticky ? F_STICK : FETCH_CODES[p.fetch]);
        this.args.push(FETCH_CODES[p.fetch] === F_SSL ? p.fetch : p.arg);
        this.chains.push(p.conv.length ? compileChain(p.conv) : null);
      }
    }
    this.literal = allLit ? this.lits.join('') : null;
  }
}
