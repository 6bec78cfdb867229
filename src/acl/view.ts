// What rules see of a request and its response. The worker owns one of each per thread and
// refills them per request from strings it already has (uWS gives lower-case header names;
// upstream response names keep their case, so name comparisons fold case).
//
// Lazily, per request (src/rules/uws.ts fillRequestView sets the sources):
// - the client address: read from the uWS response (binary, 4 or 16 bytes) only when a `src`
//   test runs, parsed once into `ip`; its text only when a text matcher or a format needs it;
// - request headers (header plan LAZY): nothing is read until a rule tests a header. `host` and
//   `content-length` then come from req.getHeader() (a request with two of either is refused
//   with 400 before the rules' decision is used, so the first is the only one that counts); any
//   other header, or an empty value, makes one pass over the headers (req.forEach) that keeps
//   only the names the rules read.
import { addressText, ipv4Text, type AddressSource, type SslSource } from '../shared/client-address';
import { IpSample } from './ip';
import type { Trackers } from '../stick/track';

/** The part of a uWS HttpRequest the view reads lazily (valid only inside the uWS handler). */
export interface HeaderSource {
  getHeader(lowerCaseKey: string): string;
  forEach(cb: (key: string, value: string) => void): void;
}

/** Request headers whose second occurrence gets the request refused (400) before routing counts. */
export const SINGLE_HEADERS: readonly string[] = ['host', 'content-length'];

/**
 * Bumped whenever what a rule could see changes (a new request, a header edit, set-path, the
 * start of an evaluation): named ACL results are memoised per generation (src/acl/eval.ts). A
 * field of an object, not a `let`: past 2^30 it becomes a double stored in place, never boxed anew.
 */
const GEN = { n: 1 };
export function nextGeneration(): number {
  return ++GEN.n;
}

// req.forEach target, module-level so that the pass allocates no closure
let fillTarget: RequestView | null = null;
let fillNames: ReadonlySet<string> | null = null;
function pushAny(name: string, value: string): void {
  fillTarget!.addHeader(name, value);
}
function pushWanted(name: string, value: string): void {
  if (fillNames!.has(name)) fillTarget!.addHeader(name, value);
}

/**
 * `proc.*` variables: they outlive requests. Per worker thread (HAProxy's are per process): a
 * value set by a request on one worker is not seen by requests on another.
 */
const PROC_VARS = new Map<string, string>();

export class RequestView {
  /**
   * set-var variables of this request (txn.*, req.*, res.*; sess.* too, since uWS gives no
   * per-connection hook: a session variable lives for one request); null until the first set
   */
  private vars: Map<string, string> | null = null;

  /** as received, case-sensitive */
  method = 'GET';
  /** path without the query (uWS getUrl()); set-path rewrites it */
  path = '/';
  /** text after '?', '' for "/p?", null without '?' */
  query: string | null = null;
  /** "1.1", "1.0" */
  version = '1.1';
  /**
   * flat [name, value, name, value, ...]; entries from headersLen on are stale. A name of '' is a
   * deleted header. With a lazy header source, read them through loadHeaders() first.
   */
  headers: string[] = [];
  headersLen = 0;
  /** client address as text (IPv4 dotted or IPv6); '' = not known (yet): see srcText() */
  srcIp = '';
  /** the port the client connected to */
  dstPort = 0;
  /** the connection is TLS (ssl_fc) */
  tls = false;
  /** the TLS facts of a node:tls connection (ssl_fc_sni, ssl_c_s_dn ...), null elsewhere */
  ssl: SslSource | null = null;
  /** memo key of named ACL results (see nextGeneration) */
  gen = nextGeneration();
  /** stick counters (http-request track-scN); null until a rule of this view's requests tracks */
  trackers: Trackers | null = null;

  /** where the client address comes from when srcIp is '' (the uWS response) */
  addr: AddressSource | null = null;
  /** the parsed client address */
  readonly ip = new IpSample();
  private ipLoaded = false;

  /** lazy headers: the uWS request, null once read (or when the headers were filled eagerly) */
  private hdrSource: HeaderSource | null = null;
  /** the header names the rules read (null: every header) */
  private hdrNames: ReadonlySet<string> | null = null;
  /** getHeader() results for SINGLE_HEADERS, by index; null = not fetched */
  private readonly singles: (string | null)[] = [null, null];

  private urlCache: string | null = null;
  private urlPath = '';
  private urlQuery: string | null = null;

  /** query split into parameters once per query: per parameter, start, '=' and value end offsets */
  private paramsOf: string | null = null;
  readonly paramStart: number[] = [];
  readonly paramEq: number[] = [];
  readonly paramEnd: number[] = [];
  paramCount = 0;

  /** Forget the previous request (the header array is kept and overwritten). */
  reset(): void {
    this.method = 'GET';
    this.path = '/';
    this.query = null;
    this.version = '1.1';
    this.headersLen = 0;
    this.srcIp = '';
    this.dstPort = 0;
    this.tls = false;
    this.ssl = null;
    this.urlCache = null;
    this.addr = null;
    this.ipLoaded = false;
    this.hdrSource = null;
    this.hdrNames = null;
    this.singles[0] = null;
    this.singles[1] = null;
    if (this.vars !== null && this.vars.size !== 0) this.vars.clear();
    this.gen = nextGeneration();
    if (this.trackers !== null) this.trackers.reset();
  }

  /** A variable's value, null when it is not set. */
  getVar(name: string): string | null {
    const v = name.charCodeAt(0) === 112 /* p */ ? PROC_VARS.get(name) : this.vars?.get(name);
    return v === undefined ? null : v;
  }
  setVar(name: string, value: string): void {
    if (name.charCodeAt(0) === 112) PROC_VARS.set(name, value);
    else (this.vars ??= new Map()).set(name, value);
  }
  unsetVar(name: string): void {
    if (name.charCodeAt(0) === 112) PROC_VARS.delete(name);
    else this.vars?.delete(name);
  }

  /** Something rules can see changed (header edit, set-path): named ACL results are stale. */
  touch(): void {
    this.gen = nextGeneration();
  }

  addHeader(name: string, value: string): void {
    const h = this.headers;
    const n = this.headersLen;
    h[n] = name;
    h[n + 1] = value;
    this.headersLen = n + 2;
  }

  /**
   * Read headers from `src` on first use instead of now: only `names` (lower-case) are kept,
   * or every header when null. `src` must stay valid until detach() (the uWS handler's end).
   */
  lazyHeaders(src: HeaderSource, names: ReadonlySet<string> | null): void {
    this.headersLen = 0;
    this.hdrSource = src;
    this.hdrNames = names;
  }

  /** Every header now, from `src` (one req.forEach). */
  fillHeaders(src: HeaderSource): void {
    this.hdrSource = null;
    fillTarget = this;
    src.forEach(pushAny);
    fillTarget = null;
  }

  /** Make `headers` complete (a lazy source is read now). */
  loadHeaders(): void {
    const src = this.hdrSource;
    if (src === null) return;
    this.hdrSource = null;
    fillTarget = this;
    const names = this.hdrNames;
    if (names === null) {
      src.forEach(pushAny);
    } else {
      fillNames = names;
      src.forEach(pushWanted);
      fillNames = null;
    }
    fillTarget = null;
  }

  /**
   * The value of SINGLE_HEADERS[i] without reading every header: non-empty = the header's only
   * occurrence that matters; null = use `headers` (after loadHeaders()). Only with a lazy source.
   */
  singleHeader(i: number): string | null {
    if (this.hdrSource === null) return null;
    let v = this.singles[i];
    if (v === null) {
      v = this.hdrSource.getHeader(SINGLE_HEADERS[i]);
      this.singles[i] = v;
    }
    // '' is either absent or empty: only the full list tells
    return v === '' ? null : v;
  }

  /** The uWS request is about to become invalid: a lazy source not read by now never will be. */
  detach(): void {
    this.hdrSource = null;
  }

  /** The client address parsed, or null when there is none. */
  srcAddress(): IpSample | null {
    const ip = this.ip;
    if (this.srcIp !== '') {
      ip.loadText(this.srcIp); // cached by text
    } else if (!this.ipLoaded) {
      this.ipLoaded = true;
      if (this.addr !== null) ip.loadBytes(new Uint8Array(this.addr.getRemoteAddress()));
      else ip.clear();
    }
    return ip.family === 0 ? null : ip;
  }

  /** The client address as text ('' when unknown), read from the source once. */
  srcText(): string {
    if (this.srcIp === '' && this.addr !== null) {
      // bytes already read for a src test give the IPv4 text without another read
      const ip = this.ip;
      this.srcIp = this.ipLoaded && ip.family === 4 ? ipv4Text(ip.v4) : addressText(this.addr);
      // the same address: the bytes already parsed stand for this text too
      if (this.ipLoaded) this.ip.text = this.srcIp;
    }
    return this.srcIp;
  }

  /** path + '?' + query, built once per distinct (path, query). */
  url(): string {
    if (this.urlCache === null || this.urlPath !== this.path || this.urlQuery !== this.query) {
      this.urlPath = this.path;
      this.urlQuery = this.query;
      this.urlCache = this.query === null ? this.path : this.path + '?' + this.query;
    }
    return this.urlCache;
  }

  /**
   * Splits the query into parameters (once per query text). HAProxy's rules: a parameter starts
   * at the query's beginning or after '&', has a '=', and its value ends before '&' or ';'.
   */
  params(): number {
    const q = this.query;
    if (q === null) return 0;
    if (this.paramsOf === q) return this.paramCount;
    this.paramsOf = q;
    let n = 0;
    let from = 0;
    while (from <= q.length) {
      let amp = q.indexOf('&', from);
      if (amp < 0) amp = q.length;
      const eq = q.indexOf('=', from);
      if (eq >= 0 && eq < amp) {
        const semi = q.indexOf(';', eq + 1);
        this.paramStart[n] = from;
        this.paramEq[n] = eq;
        this.paramEnd[n] = semi >= 0 && semi < amp ? semi : amp;
        n++;
      }
      from = amp + 1;
    }
    this.paramCount = n;
    return n;
  }
}

export class ResponseView {
  status = 0;
  /** flat [name, value, ...] as received (names keep their case); '' name = deleted */
  headers: string[] = [];
  headersLen = 0;

  reset(): void {
    this.status = 0;
    this.headersLen = 0;
  }

  addHeader(name: string, value: string): void {
    const h = this.headers;
    const n = this.headersLen;
    h[n] = name;
    h[n + 1] = value;
    this.headersLen = n + 2;
  }
}
