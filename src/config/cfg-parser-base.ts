// haproxy.cfg reader, shared part: the model of sections and entries, keyword tables, and the
// parser base class holding the reader state and issue reporting (haproxy-cfg.ts is the core).
import { type ConfigIssue } from './errors';
import { type Word } from './cfg-tokenize';
import { acceptedReason, type AcceptedKind } from './cfg-accepted';
import { PeersBlock } from './stick-cfg';
import type { ResolversBlock } from './resolvers-cfg';

export type Kind = 'defaults' | 'frontend' | 'backend' | 'listen';
export type Path = (string | number)[];

export interface Pos {
  file: string;
  line: number;
  col: number;
}

/** One setting: its value as the YAML document will hold it, and where it was written. */
export interface Entry {
  value: unknown;
  pos: Pos;
  /** positions of list items (value is an array) */
  items?: Pos[];
  /** positions of the keys of an object value */
  sub?: Record<string, Pos>;
  /** bind entries: positions of the `crt` values (when several) */
  crtItems?: Pos[];
}

export type LogItem = { global: true; pos: Pos } | { global: false; value: Record<string, string>; pos: Pos; sub: Record<string, Pos> };

export interface ServerDef {
  name: string;
  address: string;
  pos: Pos;
  namePos: Pos;
  addrPos: Pos;
  opts: Map<string, Entry>;
}

/** A defaults, frontend, backend or listen section; a proxy starts as a copy of its defaults. */
export class Section {
  readonly set: Map<string, Entry>;
  readonly defaultServer: Map<string, Entry>;
  /** null: never set (HAProxy then logs nothing for this proxy) */
  logs: LogItem[] | null;
  readonly binds: Entry[] = [];
  readonly servers: ServerDef[] = [];
  /** acl lines by name (criterion text, re-quoted), in order; not inherited (HAProxy) */
  readonly acls = new Map<string, { text: string; pos: Pos }[]>();
  /** monitor-uri (answered by the first request rule); inherited from defaults, as in HAProxy */
  monitorUri: { uri: string; pos: Pos } | null;
  /** http-after-response lines, appended to the http-response rules at the end */
  readonly afterResponse: { value: unknown; pos: Pos; sub?: Record<string, Pos> }[] = [];
  /** `errorfiles NAME [codes]` lines, resolved once every http-errors section is read */
  readonly errorfilesRefs: { name: string; pos: Pos; codes: string[] }[] = [];
  /** use_backend / http-request / http-response / redirect lines, as YAML items */
  readonly ruleLists: Record<RuleListKey, { value: unknown; pos: Pos; sub?: Record<string, Pos> }[]> = {
    use_backend: [], http_request: [], http_response: [], redirect: [],
  };

  constructor(
    readonly kind: Kind,
    readonly name: string,
    readonly pos: Pos,
    readonly parent: Section | null,
  ) {
    this.set = new Map(parent?.set);
    this.defaultServer = new Map(parent?.defaultServer);
    this.logs = parent?.logs ? [...parent.logs] : null;
    this.monitorUri = parent?.monitorUri ?? null;
  }

  get hasFE(): boolean {
    return this.kind !== 'backend';
  }
  get hasBE(): boolean {
    return this.kind !== 'frontend';
  }
  get label(): string {
    return this.kind === 'defaults' && !this.name ? 'defaults section' : `${this.kind} '${this.name}'`;
  }
}

export type RuleListKey = 'use_backend' | 'http_request' | 'http_response' | 'redirect';

/** YAML keys (dotted) that only the backend side of the model reads. */
export function backendSide(key: string): boolean {
  return /^(retries|retry_on|redispatch|balance|hash_type|persist|allbackups|cookie|health_check(\..*)?)$/.test(key);
}
/** YAML keys that only the frontend side reads (a defaults section's stats go to frontends and listens only; a backend has stats only from its own lines). */
export function frontendSide(key: string): boolean {
  return /^(httplog|log_format|dontlognull|maxconn|default_backend|stats(\..*)?)$/.test(key);
}

export const TIMEOUT_YAML: Record<string, { key: string; cap: 'FE' | 'BE' | 'ALL' }> = {
  connect: { key: 'connect', cap: 'BE' },
  client: { key: 'client', cap: 'FE' },
  server: { key: 'server', cap: 'BE' },
  'http-request': { key: 'http_request', cap: 'ALL' },
  'http-keep-alive': { key: 'http_keep_alive', cap: 'ALL' },
  check: { key: 'check', cap: 'BE' },
  queue: { key: 'queue', cap: 'BE' },
  tunnel: { key: 'tunnel', cap: 'BE' },
  'client-fin': { key: 'client_fin', cap: 'FE' },
  'server-fin': { key: 'server_fin', cap: 'BE' },
};

export const BALANCE_SIMPLE = ['roundrobin', 'static-rr', 'leastconn', 'source', 'first', 'random', 'uri'];
export const BALANCE_KNOWN = [...BALANCE_SIMPLE, 'hdr(NAME)', 'url_param', 'rdp-cookie', 'hash', 'random(N)'];
export const COOKIE_OPTIONS = ['rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'preserve', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife', 'dynamic', 'attr'];
/** Server options taking one argument, and their YAML key. */
export const SERVER_VALUED: Record<string, string> = {
  inter: 'inter', fastinter: 'fastinter', downinter: 'downinter', rise: 'rise', fall: 'fall', weight: 'weight',
  maxconn: 'maxconn', port: 'port', addr: 'addr', observe: 'observe', 'error-limit': 'error_limit',
  'on-error': 'on_error', cookie: 'cookie', slowstart: 'slowstart',
  'agent-port': 'agent_port', 'agent-addr': 'agent_addr', 'agent-inter': 'agent_inter', 'agent-send': 'agent_send',
  resolvers: 'resolvers', 'init-addr': 'init_addr', 'resolve-prefer': 'resolve_prefer',
  verify: 'verify', 'ca-file': 'ca_file', crt: 'crt', sni: 'sni', 'ssl-min-ver': 'ssl_min_ver', 'ssl-max-ver': 'ssl_max_ver',
  ciphers: 'ciphers', alpn: 'alpn', verifyhost: 'verifyhost', 'check-sni': 'check_sni',
};
export const SERVER_FLAGS: Record<string, [string, boolean | string]> = {
  ssl: ['ssl', true], 'no-ssl': ['ssl', false], 'ssl-reuse': ['ssl_reuse', true], 'no-ssl-reuse': ['ssl_reuse', false],
  'no-tls-tickets': ['ssl_reuse', false],
  'no-verifyhost': ['verifyhost', false], 'send-proxy': ['send_proxy', 'v1'], 'send-proxy-v2': ['send_proxy', 'v2'],
  'no-send-proxy': ['send_proxy', false], 'no-send-proxy-v2': ['send_proxy', false], 'check-ssl': ['check_ssl', true],
  'no-check-ssl': ['check_ssl', false], 'check-send-proxy': ['check_send_proxy', true],
  check: ['check', true], 'no-check': ['check', false], backup: ['backup', true], 'no-backup': ['backup', false],
  disabled: ['disabled', true], enabled: ['disabled', false],
  'agent-check': ['agent_check', true], 'no-agent-check': ['agent_check', false],
};
export const LOG_FORMATS = ['rfc3164', 'rfc5424', 'raw'];
export const INT_KEYS = new Set(['weight', 'rise', 'fall', 'maxconn', 'port', 'retries', 'workers', 'error_limit', 'max_header_size', 'max_headers', 'max_accept', 'h2_max_concurrent_streams', 'h2_initial_window_size', 'h2_header_table_size']);

/** HAProxy's monitor-uri answer body, byte for byte (checked against haproxy 2.6). */
export const MONITOR_PAGE = '<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n';

export const FE_EXPLAIN = 'a frontend only accepts connections and hands requests to a backend; this belongs in a backend or listen section';
export const BE_EXPLAIN = 'a backend does not accept connections itself; this belongs in a frontend or listen section';

/** Bare numbers in these HAProxy settings are seconds, not milliseconds: made explicit for the YAML. */
export function seconds(text: string): string {
  return /^\d+$/.test(text) ? `${text}s` : text;
}

export function unsupported(kw: string): string {
  return `keyword '${kw}' is not supported by gatehouse yet`;
}


export function pathKey(path: readonly (string | number)[]): string {
  return JSON.stringify(path);
}

/**
 * `http-check expect rstatus REGEX` as status ranges ("200-299,302"): the regex is tried on every
 * status 100-599, which is exact for any pattern. Returns '' when nothing matches, or { error }.
 */
export function statusRangesOf(pattern: string): string | { error: string } {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    return { error: (e as Error).message };
  }
  const parts: string[] = [];
  let lo = -1;
  for (let code = 100; code <= 600; code++) {
    const ok = code < 600 && re.test(String(code));
    if (ok && lo < 0) lo = code;
    if (!ok && lo >= 0) {
      parts.push(lo === code - 1 ? String(lo) : `${lo}-${code - 1}`);
      lo = -1;
    }
  }
  return parts.join(',');
}

export class CfgParserBase {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  readonly positions = new Map<string, Pos>();
  protected readonly env: Record<string, string | undefined>;
  protected readonly global = new Map<string, Entry>();
  protected globalLogs: LogItem[] = [];
  /** `stats socket` lines of the global section, in order */
  protected statsSockets: Entry[] = [];
  protected readonly proxies: Section[] = [];
  protected readonly namedDefaults = new Map<string, Section>();
  protected lastDefaults: Section | null = null;
  protected readonly feNames = new Map<string, Section>();
  /** http-errors sections: name -> error_pages entries */
  protected readonly httpErrorSections = new Map<string, Map<string, Entry>>();
  /** the http-errors section being read, or null */
  protected httpErrors: Map<string, Entry> | null = null;
  protected readonly beNames = new Map<string, Section>();
  // Line state
  protected file = '';
  protected lineNo = 0;
  protected current: Section | PeersBlock | ResolversBlock | 'global' | 'skip' | null = null;
  /** `peers` sections (src/config/stick-cfg.ts) */
  protected readonly peersBlocks: PeersBlock[] = [];
  /** `resolvers` sections (src/config/resolvers-cfg.ts) */
  protected readonly resolversBlocks: ResolversBlock[] = [];
  constructor(env: Record<string, string | undefined>) {
    this.env = { ...env };
  }

  protected at(w: Word): Pos {
    return { file: this.file, line: this.lineNo, col: w.col };
  }

  protected issue(severity: 'error' | 'warning', pos: Pos, message: string, expected = '', found = ''): void {
    const i: ConfigIssue = { severity, file: pos.file, line: pos.line, col: pos.col, path: '', expected, found, message };
    (severity === 'error' ? this.errors : this.warnings).push(i);
  }

  protected error(w: Word, message: string, expected = '', found = ''): void {
    this.issue('error', this.at(w), message, expected, found);
  }

  protected warn(w: Word, message: string): void {
    this.issue('warning', this.at(w), message);
  }

  /** The argument after `w[i]`, or an error naming what was expected. */
  protected arg(w: Word[], i: number, what: string): Word | null {
    if (i < w.length) return w[i];
    const last = w[w.length - 1];
    this.issue('error', { file: this.file, line: this.lineNo, col: last.col + last.text.length }, `'${w.slice(0, i).map((x) => x.text).join(' ')}' expects ${what}`, what, 'nothing');
    return null;
  }

  protected noMore(w: Word[], from: number, kw: string): boolean {
    if (w.length <= from) return true;
    this.error(w[from], `too many arguments for '${kw}'`, '', `'${w[from].text}'`);
    return false;
  }

  protected entry(w: Word, value: unknown = w.text): Entry {
    return { value, pos: this.at(w) };
  }

  /**
   * HAProxy's capability check: a keyword for the other side of the proxy is ignored with a
   * warning (or refused when `fatal`). Returns whether the keyword applies here.
   */
  protected cap(s: Section, w: Word, need: 'FE' | 'BE', fatal = false, explain?: string, label = w.text): boolean {
    if (s.kind === 'defaults' || (need === 'FE' ? s.hasFE : s.hasBE)) return true;
    const side = need === 'FE' ? 'frontend' : 'backend';
    const why = explain ?? (need === 'BE' ? FE_EXPLAIN : BE_EXPLAIN);
    const msg = `'${label}' ${fatal ? 'not allowed' : 'ignored'} because ${s.kind} '${s.name}' has no ${side} capability (${why})`;
    if (fatal) this.error(w, msg);
    else this.warn(w, msg);
    return false;
  }

  /** An accepted-and-ignored keyword (cfg-accepted.ts): warns with its reason and returns true. */
  protected accepted(kind: AcceptedKind, w: Word, label = w.text): boolean {
    const why = acceptedReason(kind, w.text);
    if (why === undefined) return false;
    if (why) this.warn(w, `'${label}' is ignored: ${why}`);
    return true;
  }

  /** errorfile CODE FILE / errorloc[302|303] CODE URL -> error_pages.CODE (read by the validator) */
  protected errorPage(s: Section | null, w: Word[], into?: Map<string, Entry>): void {
    const kw = w[0].text;
    const code = this.arg(w, 1, kw === 'errorfile' ? '<code> <file>' : '<code> <url>');
    const target = code && this.arg(w, 2, kw === 'errorfile' ? '<file>' : '<url>');
    if (!code || !target || !this.noMore(w, 3, kw)) return;
    if (!/^\d{3}$/.test(code.text)) {
      this.error(code, `'${kw}' expects an HTTP status code, found '${code.text}'`);
      return;
    }
    const value = kw === 'errorfile' ? { file: target.text } : { location: target.text, code: kw === 'errorloc303' ? 303 : 302 };
    const e: Entry = { value, pos: this.at(code), sub: kw === 'errorfile' ? { file: this.at(target) } : { location: this.at(target) } };
    (into ?? s!.set).set(`error_pages.${code.text}`, e);
  }
}
