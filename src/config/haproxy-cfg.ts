// haproxy.cfg reader: HAProxy 2.6 syntax -> the same YAML-shaped document the YAML reader produces
// (keys of docs/DESIGN.md), plus a SourceMap that points every key path back at the cfg line that
// set it. Values stay as written (durations like "5000ms", numbers as digits): the shared
// validator (validate.ts) checks them and reports through the SourceMap, so both syntaxes give
// the same messages. What only the cfg syntax can get wrong (unknown or unsupported keywords,
// misplaced keywords, quoting) is reported here, in HAProxy's words, with file:line:col.
//
// Inheritance follows HAProxy: a proxy copies the LAST defaults section before it (or the one
// named with `from`); a new defaults section starts from scratch unless it says `from`. When every
// proxy inherits the same defaults, that section becomes the YAML `defaults`; otherwise each
// proxy is emitted fully resolved and the YAML has no `defaults`.
import { isIP } from 'node:net';
import { ConfigError, type ConfigIssue, type SourceMap } from './errors';
import { didYouMean } from './suggest';
import { tokenizeLine, type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { acceptedReason, type AcceptedKind } from './cfg-accepted';
import { ConditionStack } from './cfg-conditions';
import { joinWords } from '../acl/words';
import { PeersBlock } from './stick-cfg';
import { cfgCheckOption, cfgTcpCheckLine, cfgTcpCheckWithoutOption, cfgTcpRequestLine, TCP_CHECK_OPTIONS, type CfgSink } from './tcp-cfg';

type Kind = 'defaults' | 'frontend' | 'backend' | 'listen';
type Path = (string | number)[];

interface Pos {
  file: string;
  line: number;
  col: number;
}

/** One setting: its value as the YAML document will hold it, and where it was written. */
interface Entry {
  value: unknown;
  pos: Pos;
  /** positions of list items (value is an array) */
  items?: Pos[];
  /** positions of the keys of an object value */
  sub?: Record<string, Pos>;
  /** bind entries: positions of the `crt` values (when several) */
  crtItems?: Pos[];
}

type LogItem = { global: true; pos: Pos } | { global: false; value: Record<string, string>; pos: Pos; sub: Record<string, Pos> };

interface ServerDef {
  name: string;
  address: string;
  pos: Pos;
  namePos: Pos;
  addrPos: Pos;
  opts: Map<string, Entry>;
}

/** A defaults, frontend, backend or listen section; a proxy starts as a copy of its defaults. */
class Section {
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

type RuleListKey = 'use_backend' | 'http_request' | 'http_response' | 'redirect';

/** YAML keys (dotted) that only the backend side of the model reads. */
function backendSide(key: string): boolean {
  return /^(retries|retry_on|redispatch|balance|hash_type|persist|allbackups|cookie|health_check(\..*)?)$/.test(key);
}
/** YAML keys that only the frontend side reads (stats lives on frontends in the model). */
function frontendSide(key: string): boolean {
  return /^(httplog|log_format|dontlognull|maxconn|default_backend|stats(\..*)?)$/.test(key);
}

const TIMEOUT_YAML: Record<string, { key: string; cap: 'FE' | 'BE' | 'ALL' }> = {
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

const BALANCE_SIMPLE = ['roundrobin', 'static-rr', 'leastconn', 'source', 'first', 'random', 'uri'];
const BALANCE_KNOWN = [...BALANCE_SIMPLE, 'hdr(NAME)', 'url_param', 'rdp-cookie', 'hash', 'random(N)'];
const COOKIE_OPTIONS = ['rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'preserve', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife', 'dynamic', 'attr'];
/** Server options taking one argument, and their YAML key. */
const SERVER_VALUED: Record<string, string> = {
  inter: 'inter', fastinter: 'fastinter', downinter: 'downinter', rise: 'rise', fall: 'fall', weight: 'weight',
  maxconn: 'maxconn', port: 'port', addr: 'addr', observe: 'observe', 'error-limit': 'error_limit',
  'on-error': 'on_error', cookie: 'cookie', slowstart: 'slowstart',
  'agent-port': 'agent_port', 'agent-addr': 'agent_addr', 'agent-inter': 'agent_inter', 'agent-send': 'agent_send',
};
const SERVER_FLAGS: Record<string, [string, boolean]> = {
  check: ['check', true], 'no-check': ['check', false], backup: ['backup', true], 'no-backup': ['backup', false],
  disabled: ['disabled', true], enabled: ['disabled', false],
  'agent-check': ['agent_check', true], 'no-agent-check': ['agent_check', false],
};
const LOG_FORMATS = ['rfc3164', 'rfc5424', 'raw'];
const INT_KEYS = new Set(['weight', 'rise', 'fall', 'maxconn', 'port', 'retries', 'workers', 'error_limit', 'max_header_size', 'max_headers']);

/** HAProxy's monitor-uri answer body, byte for byte (checked against haproxy 2.6). */
const MONITOR_PAGE = '<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n';

const FE_EXPLAIN = 'a frontend only accepts connections and hands requests to a backend; this belongs in a backend or listen section';
const BE_EXPLAIN = 'a backend does not accept connections itself; this belongs in a frontend or listen section';

/** Bare numbers in these HAProxy settings are seconds, not milliseconds: made explicit for the YAML. */
function seconds(text: string): string {
  return /^\d+$/.test(text) ? `${text}s` : text;
}

function unsupported(kw: string): string {
  return `keyword '${kw}' is not supported by gatehouse yet`;
}

class CfgParser {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  readonly positions = new Map<string, Pos>();
  private readonly env: Record<string, string | undefined>;

  private readonly global = new Map<string, Entry>();
  private globalLogs: LogItem[] = [];
  /** `stats socket` lines of the global section, in order */
  private statsSockets: Entry[] = [];
  private readonly proxies: Section[] = [];
  private readonly namedDefaults = new Map<string, Section>();
  private lastDefaults: Section | null = null;
  private readonly feNames = new Map<string, Section>();
  /** http-errors sections: name -> error_pages entries */
  private readonly httpErrorSections = new Map<string, Map<string, Entry>>();
  /** the http-errors section being read, or null */
  private httpErrors: Map<string, Entry> | null = null;
  private readonly beNames = new Map<string, Section>();

  // Line state
  private file = '';
  private lineNo = 0;
  private current: Section | PeersBlock | 'global' | 'skip' | null = null;
  /** `peers` sections (src/config/stick-cfg.ts) */
  private readonly peersBlocks: PeersBlock[] = [];

  constructor(env: Record<string, string | undefined>) {
    this.env = { ...env };
  }

  private at(w: Word): Pos {
    return { file: this.file, line: this.lineNo, col: w.col };
  }
  private issue(severity: 'error' | 'warning', pos: Pos, message: string, expected = '', found = ''): void {
    const i: ConfigIssue = { severity, file: pos.file, line: pos.line, col: pos.col, path: '', expected, found, message };
    (severity === 'error' ? this.errors : this.warnings).push(i);
  }
  private error(w: Word, message: string, expected = '', found = ''): void {
    this.issue('error', this.at(w), message, expected, found);
  }
  private warn(w: Word, message: string): void {
    this.issue('warning', this.at(w), message);
  }
  /** The argument after `w[i]`, or an error naming what was expected. */
  private arg(w: Word[], i: number, what: string): Word | null {
    if (i < w.length) return w[i];
    const last = w[w.length - 1];
    this.issue('error', { file: this.file, line: this.lineNo, col: last.col + last.text.length }, `'${w.slice(0, i).map((x) => x.text).join(' ')}' expects ${what}`, what, 'nothing');
    return null;
  }
  private noMore(w: Word[], from: number, kw: string): boolean {
    if (w.length <= from) return true;
    this.error(w[from], `too many arguments for '${kw}'`, '', `'${w[from].text}'`);
    return false;
  }
  private entry(w: Word, value: unknown = w.text): Entry {
    return { value, pos: this.at(w) };
  }

  parseFile(file: string, text: string): void {
    this.file = file;
    this.current = null; // every file starts outside any section, as in HAProxy
    const lines = text.split(/\r?\n/);
    const conds = new ConditionStack(); // .if blocks do not span files (HAProxy)
    for (let i = 0; i < lines.length; i++) {
      this.lineNo = i + 1;
      const directive = /^\s*\.[a-z]/.test(lines[i]);
      if (!directive && !conds.active) continue; // inside a false .if branch: not read at all
      const cur = this.current as Section | PeersBlock | 'global' | 'skip' | null; // (assigned by line() below)
      const section = cur === null || cur === 'skip' ? '' : cur === 'global' ? 'global' : cur.name;
      const t = tokenizeLine(lines[i], { env: this.env, file, line: this.lineNo, section });
      if (t.error) {
        this.issue('error', { file, line: this.lineNo, col: t.error.col }, t.error.message);
        continue;
      }
      for (const u of t.unset) {
        this.issue('warning', { file, line: this.lineNo, col: u.col }, `environment variable "${u.name}" is not set: it expands to nothing`);
      }
      if (t.words.length === 0) continue;
      if (directive) {
        const r = conds.directive(t.words[0].text, t.words.slice(1).map((w) => w.text), this.env);
        if (r === null) continue;
        if ('error' in r) this.error(t.words[0], r.error);
        else this.issue(r.level === 'error' ? 'error' : 'warning', this.at(t.words[0]), r.text);
        continue;
      }
      this.line(t.words);
    }
    if (conds.depth > 0) this.issue('error', { file, line: lines.length, col: 1 }, "missing '.endif' at the end of the file");
  }

  private line(w: Word[]): void {
    const kw = w[0].text;
    if ((K.SECTIONS as readonly string[]).includes(kw)) return this.sectionHeader(kw as (typeof K.SECTIONS)[number], w);
    if ((K.SECTIONS as readonly string[]).includes(kw) || K.OTHER_SECTIONS.includes(kw) || kw === 'peers') this.httpErrors = null;
    if (kw === 'http-errors') {
      const n = this.arg(w, 1, '<name>');
      this.current = 'skip';
      if (!n || !this.noMore(w, 2, 'http-errors')) return;
      if (this.httpErrorSections.has(n.text)) this.error(n, `http-errors section '${n.text}' is declared twice`);
      this.httpErrors = new Map();
      this.httpErrorSections.set(n.text, this.httpErrors);
      return;
    }
    if (kw === 'peers') {
      // stick-table peers (src/config/stick-cfg.ts)
      this.current = PeersBlock.open(w, this.peersBlocks, { at: (x) => this.at(x), error: (x, m) => this.error(x, m), warn: (x, m) => this.warn(x, m) }) ?? 'skip';
      return;
    }
    if (this.httpErrors !== null && this.current === 'skip') {
      if (kw === 'errorfile') this.errorPage(null, w, this.httpErrors);
      else this.error(w[0], `unknown keyword '${kw}' in 'http-errors' section (it holds errorfile lines)`);
      return;
    }
    if (K.OTHER_SECTIONS.includes(kw)) {
      if (this.accepted('section', w[0], `${kw} section`)) {
        this.current = 'skip';
        return;
      }
      this.error(w[0], `section '${kw}' is not supported by gatehouse yet`);
      this.current = 'skip';
      return;
    }
    const cur = this.current;
    if (cur === 'skip') return;
    if (cur === null) {
      this.error(w[0], `unknown keyword '${kw}' out of section${didYouMean(kw, K.SECTIONS)}`, 'a section: global, defaults, frontend, backend or listen', `'${kw}'`);
      return;
    }
    if (cur === 'global') return this.globalLine(w);
    if (cur instanceof PeersBlock) return cur.line(w);
    this.proxyLine(cur, w);
  }

  private sectionHeader(kw: (typeof K.SECTIONS)[number], w: Word[]): void {
    this.httpErrors = null;
    if (kw === 'global') {
      this.current = 'global';
      return;
    }
    const kind = kw as Kind;
    let name = '';
    let i = 1;
    if (w.length > 1 && w[1].text !== 'from') {
      name = w[1].text;
      i = 2;
    } else if (kind !== 'defaults') {
      this.arg(w, 1, `<name> as an argument`);
      this.current = 'skip';
      return;
    }
    let parent: Section | null = kind === 'defaults' ? null : this.lastDefaults;
    if (i < w.length) {
      if (w[i].text !== 'from') {
        this.error(w[i], `unexpected '${w[i].text}' after the ${kind} name`, `'from <defaults name>' or nothing`);
      } else {
        const ref = this.arg(w, i + 1, '<defaults name>');
        if (ref) {
          const d = this.namedDefaults.get(ref.text);
          if (d) parent = d;
          else this.error(ref, `defaults section '${ref.text}' not found${didYouMean(ref.text, this.namedDefaults.keys())}`);
          this.noMore(w, i + 2, `${kind} ${name} from`);
        }
      }
    }
    const pos = this.at(name ? w[1] : w[0]);
    const s = new Section(kind, name, pos, parent);
    this.current = s;
    if (kind === 'defaults') {
      this.lastDefaults = s;
      if (name) this.namedDefaults.set(name, s);
      return;
    }
    const clash = (kind !== 'backend' ? this.feNames.get(name) : undefined) ?? (kind !== 'frontend' ? this.beNames.get(name) : undefined);
    if (clash) {
      this.error(w[1], `${kind} '${name}' has the same name as ${clash.kind} '${name}' declared at ${clash.pos.file}:${clash.pos.line}`);
      this.current = 'skip';
      return;
    }
    if (kind !== 'backend') this.feNames.set(name, s);
    if (kind !== 'frontend') this.beNames.set(name, s);
    this.proxies.push(s);
  }

  // ---- global ----

  /**
   * `stats socket PATH [mode M] [level L] [...]` (the runtime API, src/stats/cli.ts) and
   * `stats timeout T`. Socket options without a meaning here are ignored with a warning.
   */
  private globalStats(w: Word[]): void {
    const sub = w[1]?.text;
    if (sub === 'timeout') {
      const v = this.arg(w, 2, '<time>');
      if (v && this.noMore(w, 3, 'stats timeout')) this.global.set('stats_timeout', this.entry(v));
      return;
    }
    if (sub !== 'socket') {
      this.warn(w[0], `'stats ${sub ?? ''}' is ignored in the global section (gatehouse knows 'stats socket' and 'stats timeout' there)`);
      return;
    }
    const a = this.arg(w, 2, '<path> of a unix socket');
    if (!a) return;
    if (!a.text.startsWith('/')) {
      this.warn(a, `'stats socket ${a.text}' is ignored: gatehouse serves the runtime API on unix socket paths only`);
      return;
    }
    const value: Record<string, unknown> = { path: a.text };
    const sub2: Record<string, Pos> = { path: this.at(a) };
    for (let i = 3; i < w.length; i++) {
      const o = w[i].text;
      if (o === 'mode' || o === 'level') {
        const v = this.arg(w, i + 1, o === 'mode' ? 'octal permissions such as 660' : 'user, operator or admin');
        if (!v) return;
        value[o] = v.text;
        sub2[o] = this.at(v);
        i++;
        continue;
      }
      // user/group/uid/gid take a value; expose-fd takes one (listeners)
      const withValue = ['user', 'group', 'uid', 'gid', 'expose-fd', 'severity-output', 'maxconn', 'name', 'process', 'thread'].includes(o);
      this.warn(w[i], `stats socket option '${o}' is ignored`);
      if (withValue) i++;
    }
    this.statsSockets.push({ value, pos: this.at(w[0]), sub: sub2 });
  }

  private globalLine(w: Word[]): void {
    const kw = w[0].text;
    const g = this.global;
    if (kw === 'ssl-default-bind-ciphers' && w[1]?.text === 'PROFILE=SYSTEM' && this.noMore(w, 2, kw)) {
      // RHEL/Fedora's "use the system crypto policy": OpenSSL's own defaults, which are ours
      this.warn(w[1], "'ssl-default-bind-ciphers PROFILE=SYSTEM' is ignored: TLSv1.2 ciphers stay OpenSSL's defaults");
      return;
    }
    switch (kw) {
      case 'daemon':
        if (this.noMore(w, 1, kw)) g.set('daemon', this.entry(w[0], true));
        return;
      case 'pidfile':
      case 'maxconn':
      case 'nbthread':
      case 'hard-stop-after':
      case 'ssl-default-bind-ciphers':
      case 'tune.bufsize':
      case 'tune.http.maxhdr':
      case 'engine': {
        const v = this.arg(w, 1, kw === 'pidfile' ? '<file>' : kw === 'hard-stop-after' ? '<time>' : kw === 'ssl-default-bind-ciphers' ? '<ciphers>' : kw === 'engine' ? 'uws or node (gatehouse-only)' : '<number>');
        if (!v || !this.noMore(w, 2, kw)) return;
        const key = { pidfile: 'pidfile', maxconn: 'maxconn', nbthread: 'workers', 'hard-stop-after': 'grace', 'ssl-default-bind-ciphers': 'ssl_default_bind_ciphers', 'tune.bufsize': 'max_header_size', 'tune.http.maxhdr': 'max_headers', engine: 'engine' }[kw];
        g.set(key, this.entry(v));
        return;
      }
      case 'stats':
        this.globalStats(w);
        return;
      case 'localpeer': {
        const v = this.arg(w, 1, '<name>');
        if (v && this.noMore(w, 2, kw)) g.set('localpeer', this.entry(v));
        return;
      }

      case 'log': {
        if (w[1]?.text === 'global') {
          this.error(w[1], "'log global' is only meaningful in a defaults, frontend, backend or listen section");
          return;
        }
        const item = this.logLine(w);
        if (item) this.globalLogs.push(item);
        return;
      }
      case 'setenv':
      case 'presetenv': {
        const n = this.arg(w, 1, '<name> and <value>');
        const v = n && this.arg(w, 2, '<value>');
        if (!n || !v || !this.noMore(w, 3, kw)) return;
        if (kw === 'setenv' || this.env[n.text] === undefined) this.env[n.text] = v.text;
        return;
      }
      case 'unsetenv':
        for (const n of w.slice(1)) delete this.env[n.text];
        return;
      case 'resetenv': {
        const keep = new Set(w.slice(1).map((x) => x.text));
        for (const k of Object.keys(this.env)) if (!keep.has(k)) delete this.env[k];
        return;
      }
      case 'nbproc':
        this.error(w[0], "'nbproc' was removed in HAProxy 2.5 and is not supported; use 'nbthread'");
        return;
      case 'no':
        // `no strict-limits` and friends: the negated form of an ignored global setting
        if (w[1] !== undefined && K.GLOBAL_IGNORED[w[1].text] !== undefined && this.noMore(w, 2, `no ${w[1].text}`)) {
          this.warn(w[0], `'no ${w[1].text}' is ignored: ${K.GLOBAL_IGNORED[w[1].text]}`);
          return;
        }
        break;
    }
    const why = K.GLOBAL_IGNORED[kw];
    if (why !== undefined) {
      this.warn(w[0], `'${kw}' is ignored: ${why}`);
      return;
    }
    if (kw === 'lua-load' || kw === 'lua-load-per-thread' || kw === 'lua-prepend-path') {
      this.error(w[0], `'${kw}' is refused: gatehouse cannot run Lua scripts; use http-request/http-response rules (set-header, return, redirect, deny, set-var) for request logic, or run the service the script provided as a server of a backend`);
      return;
    }
    if (this.accepted('global', w[0])) return;
    if (K.GLOBAL_KEYWORDS.includes(kw) || kw.startsWith('tune.')) {
      this.error(w[0], unsupported(kw));
      return;
    }
    this.error(w[0], `unknown keyword '${kw}' in 'global' section${didYouMean(kw, K.GLOBAL_KEYWORDS)}`, '', `'${kw}'`);
  }

  /** `log <target> [len N] [format F] [sample R:S] <facility> [<level> [<minlevel>]]` */
  private logLine(w: Word[]): LogItem | null {
    const t = this.arg(w, 1, '<target> and <facility>');
    if (!t) return null;
    const target = this.logTarget(t);
    if (target === null) return null;
    const value: Record<string, string> = { target };
    const sub: Record<string, Pos> = { target: this.at(t) };
    let i = 2;
    for (;;) {
      const o = w[i]?.text;
      if (o === 'len') {
        const v = this.arg(w, i + 1, '<length>');
        if (!v) return null;
        this.warn(w[i], "'len' is ignored: gatehouse does not truncate log lines");
        i += 2;
      } else if (o === 'format') {
        const v = this.arg(w, i + 1, '<format>');
        if (!v) return null;
        if (!LOG_FORMATS.includes(v.text)) {
          this.error(v, `log format '${v.text}' is not supported by gatehouse yet`, LOG_FORMATS.join(', '), `'${v.text}'`);
          return null;
        }
        value.format = v.text;
        sub.format = this.at(v);
        i += 2;
      } else if (o === 'sample') {
        this.error(w[i], `log option 'sample' is not supported by gatehouse yet`);
        return null;
      } else {
        break;
      }
    }
    const f = this.arg(w, i, '<facility>');
    if (!f) return null;
    value.facility = f.text;
    sub.facility = this.at(f);
    if (i + 1 < w.length) {
      value.level = w[i + 1].text;
      sub.level = this.at(w[i + 1]);
    }
    if (i + 2 < w.length) this.warn(w[i + 2], 'the minimum log level is ignored: gatehouse sends every level up to the maximum');
    if (i + 3 < w.length) this.noMore(w, i + 3, 'log');
    return { global: false, value, pos: this.at(w[0]), sub };
  }

  /** HAProxy log target -> the YAML's stdout | stderr | unix:PATH | udp://HOST:PORT */
  private logTarget(t: Word): string | null {
    const s = t.text;
    if (s === 'stdout' || s === 'fd@1') return 'stdout';
    if (s === 'stderr' || s === 'fd@2') return 'stderr';
    if (s.startsWith('/')) return `unix:${s}`;
    if (s.startsWith('unix@')) return `unix:${s.slice(5)}`;
    const m = /^(udp|udp4|udp6|ipv4|ipv6)@(.*)$/.exec(s);
    const addr = m ? m[2] : s;
    if (/^[a-z0-9]+@/.test(addr)) {
      this.error(t, `log target '${s}' is not supported by gatehouse yet`, 'stdout, stderr, a unix socket path or HOST[:PORT] for syslog over UDP', `'${s}'`);
      return null;
    }
    if (isIP(addr) === 6) return `udp://[${addr}]:514`;
    if (/^\[[^\]]+\]$/.test(addr)) return `udp://${addr}:514`;
    const hp = /^(.*):(\d+)$/.exec(addr);
    if (hp) return `udp://${hp[1].includes(':') && !hp[1].startsWith('[') ? `[${hp[1]}]` : hp[1]}:${hp[2]}`;
    return `udp://${addr}:514`;
  }

  // ---- proxies ----

  /**
   * HAProxy's capability check: a keyword for the other side of the proxy is ignored with a
   * warning (or refused when `fatal`). Returns whether the keyword applies here.
   */
  private cap(s: Section, w: Word, need: 'FE' | 'BE', fatal = false, explain?: string, label = w.text): boolean {
    if (s.kind === 'defaults' || (need === 'FE' ? s.hasFE : s.hasBE)) return true;
    const side = need === 'FE' ? 'frontend' : 'backend';
    const why = explain ?? (need === 'BE' ? FE_EXPLAIN : BE_EXPLAIN);
    const msg = `'${label}' ${fatal ? 'not allowed' : 'ignored'} because ${s.kind} '${s.name}' has no ${side} capability (${why})`;
    if (fatal) this.error(w, msg);
    else this.warn(w, msg);
    return false;
  }

  private proxyLine(s: Section, w: Word[]): void {
    const kw = w[0].text;
    switch (kw) {
      case 'bind':
        return this.bind(s, w);
      case 'mode': {
        const m = this.arg(w, 1, '<mode>');
        if (!m || !this.noMore(w, 2, kw)) return;
        if (m.text === 'http' || m.text === 'tcp') s.set.set('mode', this.entry(m));
        else if (m.text === 'health') this.error(m, `mode '${m.text}' is not supported by gatehouse yet`, 'http or tcp', `'${m.text}'`);
        else this.error(m, `unknown mode '${m.text}'${didYouMean(m.text, ['http', 'tcp', 'health'])}`, 'http, tcp or health', `'${m.text}'`);
        return;
      }
      case 'timeout':
        return this.timeout(s, w);
      case 'balance':
        return this.balance(s, w);
      case 'hash-type': {
        // hash-type <map-based|consistent> [<function>] [<modifier>]: HAProxy's own hashing
        if (!this.cap(s, w[0], 'BE')) return;
        const m = this.arg(w, 1, 'map-based or consistent');
        if (!m) return;
        if (m.text !== 'map-based' && m.text !== 'consistent') {
          this.error(m, `unknown hash-type method '${m.text}'${didYouMean(m.text, ['map-based', 'consistent'])}`, 'map-based or consistent', `'${m.text}'`);
          return;
        }
        const fn = w[2];
        if (fn && !['sdbm', 'djb2', 'wt6', 'crc32', 'none'].includes(fn.text)) {
          this.error(fn, `unknown hash function '${fn.text}'`, 'sdbm, djb2, wt6 or crc32', `'${fn.text}'`);
          return;
        }
        if (fn?.text === 'none') {
          this.error(fn, "hash function 'none' (a key already hashed by a converter) is not supported by gatehouse yet");
          return;
        }
        const mod = w[3];
        if (mod && mod.text !== 'avalanche') {
          this.error(mod, `unknown hash-type modifier '${mod.text}'`, 'avalanche', `'${mod.text}'`);
          return;
        }
        if (!this.noMore(w, 4, 'hash-type')) return;
        // HAProxy: 'consistent' alone means sdbm with avalanche; a named function has none unless said
        const aval = mod !== undefined || (fn === undefined && m.text === 'consistent');
        s.set.set('hash_type', this.entry(m, [m.text, fn?.text ?? 'sdbm', ...(aval ? ['avalanche'] : [])].join(' ')));
        return;
      }
      case 'server':
        return this.server(s, w);
      case 'server-template':
        return this.serverTemplate(s, w);
      case 'default-server':
        if (!this.cap(s, w[0], 'BE')) return;
        this.serverOptions(w, 1, s.defaultServer);
        return;
      case 'option':
        return this.option(s, w, 1, true);
      case 'no':
        if (w[1]?.text === 'option') return this.option(s, w, 2, false);
        if (w[1]?.text === 'log' && this.noMore(w, 2, 'no log')) {
          s.logs = [];
          return;
        }
        this.error(w[0], "'no' must be followed by 'option' or 'log'", "'no option <name>' or 'no log'");
        return;
      case 'http-check':
        return this.httpCheck(s, w);
      case 'tcp-check':
        return cfgTcpCheckLine(this.tcpSink(s), w);
      case 'tcp-request':
        return cfgTcpRequestLine(this.tcpSink(s), w);
      case 'retries': {
        if (!this.cap(s, w[0], 'BE')) return;
        const v = this.arg(w, 1, '<number>');
        if (v && this.noMore(w, 2, kw)) s.set.set('retries', this.entry(v));
        return;
      }
      case 'retry-on': {
        // checked by the validator (retry_on), from the first keyword's position
        if (!this.cap(s, w[0], 'BE')) return;
        const v = this.arg(w, 1, '<keywords>');
        if (v) s.set.set('retry_on', this.entry(v, w.slice(1).map((x) => x.text).join(' ')));
        return;
      }
      case 'cookie':
        return this.cookie(s, w);
      case 'stats':
        return this.stats(s, w);
      case 'log':
        return this.proxyLog(s, w);
      case 'maxconn': {
        if (!this.cap(s, w[0], 'FE')) return;
        const v = this.arg(w, 1, '<number>');
        if (v && this.noMore(w, 2, kw)) s.set.set('maxconn', this.entry(v));
        return;
      }
      case 'default_backend': {
        if (!this.cap(s, w[0], 'FE')) return;
        const v = this.arg(w, 1, '<backend name>');
        if (v && this.noMore(w, 2, kw)) s.set.set('default_backend', this.entry(v));
        return;
      }
      case 'stick-table':
      case 'stick':
        return this.stickLine(s, w);
      case 'acl':
      case 'use_backend':
      case 'http-request':
      case 'http-response':
      case 'redirect':
        return this.rule(s, w);
      case 'log-format': {
        // HAProxy's log variables are rendered by src/log/custom-format.ts (the validator checks them)
        if (!this.cap(s, w[0], 'FE')) return;
        const v = this.arg(w, 1, '<format string>');
        if (!v) return;
        // unquoted formats arrive as several words: HAProxy joins them with single spaces
        s.set.set('log_format', { value: w.slice(1).map((x) => x.text).join(' '), pos: this.at(v) });
        return;
      }
      case 'http-after-response': {
        // runs after the http-response rules, on every answer; here it joins the http-response
        // list (last), so gatehouse's own answers (deny, redirect, errors) do not get it
        if (s.kind === 'defaults') return this.rule(s, w);
        if (!this.arg(w, 1, '<action>')) return;
        this.warn(w[0], "'http-after-response' runs as a last http-response rule: it applies to the server's responses, not to the answers gatehouse makes itself (deny, redirect, error pages)");
        s.afterResponse.push({ value: joinWords(w.slice(1).map((x) => x.text)), pos: this.at(w[0]) });
        return;
      }
      case 'description':
        return; // a label for the stats page of HAProxy; harmless to drop
      case 'monitor-uri':
        return this.monitorUri(s, w);
      case 'errorfile':
      case 'errorloc':
      case 'errorloc302':
      case 'errorloc303':
        return this.errorPage(s, w);
      case 'errorfiles': {
        const n = this.arg(w, 1, '<http-errors section name> [<code> ...]');
        if (!n) return;
        s.errorfilesRefs.push({ name: n.text, pos: this.at(n), codes: w.slice(2).map((c) => c.text) });
        // a section declared above applies now (proxies copy their defaults when they start)
        if (this.httpErrorSections.has(n.text)) this.resolveErrorfiles(s);
        return;
      }
      case 'capture':
        // only what the access log shows; traffic is the same
        this.warn(w[0], "'capture' is ignored: access lines do not carry captured headers or cookies");
        return;
      case 'filter': {
        // compression and trace only change what is logged or sent compressed; others (spoe,
        // bwlim, cache, fcgi-app) change traffic and are refused
        const f = this.arg(w, 1, '<filter name>');
        if (!f) return;
        if (f.text === 'compression' || f.text === 'trace') {
          this.warn(w[0], `'filter ${f.text}' is ignored: ${f.text === 'compression' ? 'gatehouse passes responses as the server sent them (compress at the server)' : 'gatehouse has no trace filter'}`);
          return;
        }
        this.error(f, `'filter ${f.text}' is not supported by gatehouse`, 'compression or trace (both ignored)', `'${f.text}'`);
        return;
      }
      case 'compression':
        this.warn(w[0], "'compression' is ignored: gatehouse passes responses as the server sent them (compress at the server)");
        return;
      case 'http-reuse':
        // gatehouse always reuses idle server connections after a clean response (HAProxy's 'always')
        if (!this.cap(s, w[0], 'BE')) return;
        this.warn(w[0], "'http-reuse' is ignored: gatehouse reuses an idle server connection whenever the previous response ended cleanly");
        return;
    }
    if (this.accepted('proxy', w[0])) return;
    const removed = K.PROXY_REMOVED[kw];
    if (removed !== undefined) {
      this.error(w[0], `'${kw}' was removed from HAProxy (use '${removed}') and is not supported`);
      return;
    }
    if (K.PROXY_KEYWORDS.includes(kw)) {
      this.error(w[0], unsupported(kw));
      return;
    }
    const section = s.kind === 'defaults' ? 'defaults' : s.kind;
    this.error(w[0], `unknown keyword '${kw}' in '${section}' section${didYouMean(kw, K.PROXY_KEYWORDS)}`, '', `'${kw}'`);
  }

  /** `stick-table ...` (YAML stick_table) and `stick on|match|store-request ...` (YAML stick, a list). */
  private stickLine(s: Section, w: Word[]): void {
    const kw = w[0].text;
    if (s.kind === 'defaults') {
      this.error(w[0], `'${kw}' is not allowed in a defaults section; put it in the frontend, backend or listen section`);
      return;
    }
    if (!this.arg(w, 1, kw === 'stick' ? 'on, match or store-request' : "'type' and 'size'")) return;
    const text = joinWords(w.slice(1).map((x) => x.text));
    if (kw === 'stick-table') {
      if (s.set.has('stick_table')) this.error(w[0], `only one 'stick-table' per ${s.kind} (HAProxy's rule)`);
      else s.set.set('stick_table', this.entry(w[0], text));
      return;
    }
    if (!this.cap(s, w[0], 'BE', true, 'stick rules pick a server; they belong in a backend or listen section')) return;
    const prev = s.set.get('stick');
    const list = prev ? (prev.value as string[]) : [];
    s.set.set('stick', { value: [...list, text], pos: prev?.pos ?? this.at(w[0]), items: [...(prev?.items ?? []), this.at(w[0])] });
  }

  /**
   * acl / use_backend / http-request / http-response / redirect: the words go to the YAML as rule
   * text (re-quoted so they split back the same); the shared validator parses them.
   */
  private rule(s: Section, w: Word[]): void {
    const kw = w[0].text;
    if (s.kind === 'defaults') {
      const why = kw === 'use_backend' || kw === 'redirect'
        ? `'${kw}' is not allowed in a defaults section`
        : `'${kw}' in a defaults section is not supported by gatehouse (HAProxy accepts it only in named defaults sections, and never shares their ACLs)`;
      this.error(w[0], `${why}; put it in the frontend, backend or listen section`);
      return;
    }
    const pos = this.at(w[0]);
    if (kw === 'acl') {
      const name = this.arg(w, 1, '<aclname> <criterion> [flags] [operator] <value> ...');
      const crit = name && this.arg(w, 2, '<criterion> [flags] [operator] <value> ...');
      if (!name || !crit) return;
      const list = s.acls.get(name.text) ?? [];
      list.push({ text: joinWords(w.slice(2).map((x) => x.text)), pos });
      s.acls.set(name.text, list);
      return;
    }
    if (kw === 'use_backend') {
      if (!this.cap(s, w[0], 'FE')) return;
      const b = this.arg(w, 1, '<backend> [{if | unless} <condition>]');
      if (!b) return;
      const c = w[2]?.text;
      if (w.length > 3 && (c === 'if' || c === 'unless')) {
        s.ruleLists.use_backend.push({ value: { backend: b.text, [c]: joinWords(w.slice(3).map((x) => x.text)) }, pos, sub: { backend: this.at(b), [c]: this.at(w[3]) } });
      } else if (w.length === 2) {
        s.ruleLists.use_backend.push({ value: { backend: b.text }, pos, sub: { backend: this.at(b) } });
      } else {
        // malformed: hand the words over so the validator says what is wrong
        s.ruleLists.use_backend.push({ value: joinWords(w.slice(1).map((x) => x.text)), pos });
      }
      return;
    }
    if (kw === 'http-request' && w[1]?.text === 'use-service') return this.useService(s, w);
    if ((kw === 'http-request' || kw === 'http-response') && w[1]?.text === 'capture') {
      // captures only feed %hr/%hs of access lines, which gatehouse prints empty
      this.warn(w[1], `'${kw} capture' is ignored: access lines carry no captures`);
      return;
    }
    if ((kw === 'http-request' || kw === 'http-response') && (w[1]?.text === 'set-header' || w[1]?.text === 'add-header') && w[2]?.text.endsWith(':')) {
      this.warn(w[2], `header name '${w[2].text}' ends with ':': it is sent as written, giving "${w[2].text.toLowerCase()}: ..." with two colons, as HAProxy does; remove the colon`);
    }
    const key: RuleListKey = kw === 'http-request' ? 'http_request' : kw === 'http-response' ? 'http_response' : 'redirect';
    if (!this.arg(w, 1, kw === 'redirect' ? 'location, prefix or scheme' : '<action>')) return;
    s.ruleLists[key].push({ value: joinWords(w.slice(1).map((x) => x.text)), pos });
  }

  /** What src/config/tcp-cfg.ts needs of this reader to turn tcp-request / tcp-check lines into YAML keys. */
  private tcpSink(s: Section): CfgSink {
    return {
      kind: s.kind,
      error: (w, m) => this.error(w, m),
      warn: (w, m) => this.warn(w, m),
      warnAt: (key, m) => {
        const e = s.set.get(key);
        if (e) this.issue('warning', e.pos, m);
      },
      cap: (w, need, label) => this.cap(s, w, need, false, undefined, label),
      set: (key, w, value) => s.set.set(key, this.entry(w, value)),
      get: (key) => s.set.get(key)?.value,
      append: (key, w, value) => {
        const e = s.set.get(key);
        const list = Array.isArray(e?.value) ? [...(e!.value as unknown[]), value] : [value];
        const items = [...(e?.items ?? []), this.at(w)];
        s.set.set(key, { value: list, pos: e?.pos ?? this.at(w), items });
      },
      delete: (key) => void s.set.delete(key),
    };
  }

  /**
   * `monitor-uri URI`: HAProxy answers a request for exactly that URI itself, 200 with its
   * "Service ready." page, before any http-request rule; here it becomes the first rule.
   */
  private monitorUri(s: Section, w: Word[]): void {
    if (!this.cap(s, w[0], 'FE')) return;
    const u = this.arg(w, 1, '<uri>');
    if (!u || !this.noMore(w, 2, 'monitor-uri')) return;
    s.monitorUri = { uri: u.text, pos: this.at(w[0]) };
  }

  /** The monitor-uri rule text, answered before every other request rule. */
  private monitorRule(uri: string): string {
    return joinWords(['return', 'status', '200', 'content-type', 'text/html', 'string', MONITOR_PAGE, 'hdr', 'cache-control', 'no-cache', 'if', '{', 'url', uri, '}']);
  }

  /**
   * `http-request use-service prometheus-exporter if { path /metrics }`: the stats listener of
   * this proxy serves the Prometheus exposition at that path (src/stats/prometheus.ts). Other
   * services need Lua or SPOE, which gatehouse does not run.
   */
  private useService(s: Section, w: Word[]): void {
    const svc = this.arg(w, 2, 'a service name such as prometheus-exporter');
    if (!svc) return;
    if (svc.text !== 'prometheus-exporter') {
      this.error(svc, `'http-request use-service ${svc.text}' is not supported by gatehouse: only the built-in prometheus-exporter service is`, 'prometheus-exporter', `'${svc.text}'`);
      return;
    }
    if (s.kind === 'defaults' || s.kind === 'backend') {
      this.error(w[0], "'http-request use-service prometheus-exporter' is supported in a frontend or listen section by gatehouse");
      return;
    }
    // the condition must name one path: if { path /x } (or path -m str, or an acl-less `if { path /x }`)
    const rest = w.slice(3).map((x) => x.text);
    const m = rest.length === 5 && rest[0] === 'if' && rest[1] === '{' && rest[2] === 'path' && rest[4] === '}' ? rest[3] : null;
    if (m === null || !m.startsWith('/')) {
      this.error(w[3] ?? svc, "gatehouse serves the prometheus-exporter at one path: write 'http-request use-service prometheus-exporter if { path /metrics }'", "if { path /PATH }", rest.length ? `'${rest.join(' ')}'` : 'no condition');
      return;
    }
    s.set.set('stats.prometheus', { value: m, pos: this.at(w[5]) });
    if (!s.set.has('stats.enable')) s.set.set('stats.enable', { value: true, pos: this.at(w[0]) });
  }

  /** errorfile CODE FILE / errorloc[302|303] CODE URL -> error_pages.CODE (read by the validator) */
  private errorPage(s: Section | null, w: Word[], into?: Map<string, Entry>): void {
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

  private bind(s: Section, w: Word[]): void {
    if (s.kind === 'defaults') {
      this.error(w[0], "'bind' not allowed in 'defaults' section (a defaults section does not listen)");
      return;
    }
    if (!this.cap(s, w[0], 'FE')) return;
    const a = this.arg(w, 1, '[addr]:port[,...] as arguments');
    if (!a) return;
    // TLS options: `ssl`, `crt FILE_OR_DIR` (repeatable), `ssl-min-ver V`, `ciphers LIST`, `alpn LIST`.
    let ssl: Word | null = null;
    const crts: Word[] = [];
    let minVer: Word | null = null;
    let ciphers: Word | null = null;
    let engine: Word | null = null;
    let acceptProxy: Word | null = null;
    let bad = false;
    for (let i = 2; i < w.length; i++) {
      const o = w[i].text;
      if (o === 'name' && i + 1 < w.length) {
        i++;
        continue;
      }
      if (o === 'accept-proxy') {
        acceptProxy = w[i];
        continue;
      }
      if (o === 'engine') {
        // gatehouse-only: which front engine serves this address (uws or node)
        engine = this.arg(w, i + 1, 'a front engine: uws or node');
        if (!engine) return;
        i++;
        continue;
      }
      if (o === 'ssl') {
        ssl = w[i];
        continue;
      }
      if (o === 'crt' || o === 'ssl-min-ver' || o === 'alpn' || o === 'ciphers') {
        const v = this.arg(
          w,
          i + 1,
          o === 'crt' ? 'a certificate file or directory' : o === 'alpn' ? 'a protocol list such as http/1.1' : o === 'ciphers' ? 'an OpenSSL cipher list' : 'a TLS version such as TLSv1.2',
        );
        if (!v) return;
        i++;
        if (o === 'crt') crts.push(v);
        else if (o === 'ssl-min-ver') minVer = v;
        else if (o === 'ciphers') ciphers = v;
        else {
          const protos = v.text.split(',');
          const other = protos.filter((x) => x !== 'http/1.1' && x !== 'http/1.0');
          if (other.length) this.warn(v, `alpn '${other.join(',')}' is ignored: gatehouse (uWebSockets.js) has no HTTP/2 and does not negotiate ALPN; clients speak HTTP/1.1`);
        }
        continue;
      }
      const tls = ['crt-list', 'ca-file', 'verify', 'ciphersuites', 'ssl-max-ver', 'curves', 'npn', 'strict-sni', 'no-sslv3', 'no-tlsv10', 'no-tlsv11', 'no-tlsv12', 'no-tlsv13', 'force-tlsv12', 'force-tlsv13', 'crl-file', 'ecdhe', 'allow-0rtt'].includes(o) ? ' (gatehouse TLS supports ssl, crt, ssl-min-ver, ciphers and alpn)' : '';
      if (this.bindOptionExtra(w, i)) {
        if (K.BIND_OPTIONS_WITH_ARG.has(o)) i++;
        continue;
      }
      this.error(w[i], `bind option '${o}' is not supported by gatehouse yet${tls}`);
      if (K.BIND_OPTIONS_WITH_ARG.has(o)) i++;
      bad = true;
    }
    if (bad) return;
    if (ssl === null && crts.length) {
      this.error(crts[0], "bind option 'crt' needs 'ssl' on the same bind line", 'ssl', 'no ssl');
      return;
    }
    if (ssl !== null && crts.length === 0) {
      this.error(ssl, "bind option 'ssl' needs a certificate: add 'crt FILE_OR_DIR'", 'crt FILE_OR_DIR', 'nothing');
      return;
    }
    if (ssl === null && minVer !== null) {
      this.error(minVer, "bind option 'ssl-min-ver' needs 'ssl' on the same bind line", 'ssl', 'no ssl');
      return;
    }
    if (ssl === null && ciphers !== null) {
      this.error(ciphers, "bind option 'ciphers' needs 'ssl' on the same bind line", 'ssl', 'no ssl');
      return;
    }
    const tlsEntry = (address: string): Entry => {
      if (ssl === null && engine === null && acceptProxy === null) return this.entry(a, address);
      const value: Record<string, unknown> = { address };
      const sub: Record<string, Pos> = { address: this.at(a) };
      if (engine !== null) {
        value.engine = engine.text;
        sub.engine = this.at(engine);
      }
      if (acceptProxy !== null) {
        value.accept_proxy = true;
        sub.accept_proxy = this.at(acceptProxy);
      }
      if (ssl === null) return { value, pos: this.at(a), sub };
      value.ssl = true;
      value.crt = crts.length === 1 ? crts[0].text : crts.map((c) => c.text);
      sub.ssl = this.at(ssl);
      sub.crt = this.at(crts[0]);
      if (minVer !== null) {
        value.ssl_min_ver = minVer.text;
        sub.ssl_min_ver = this.at(minVer);
      }
      if (ciphers !== null) {
        value.ciphers = ciphers.text;
        sub.ciphers = this.at(ciphers);
      }
      return { value, pos: this.at(a), sub, crtItems: crts.length > 1 ? crts.map((c) => this.at(c)) : undefined };
    };
    for (let text of a.text.split(',')) {
      text = text.replace(/^(ipv4|ipv6|tcp|tcp4|tcp6)@/, '');
      if (text.startsWith('/') || /^[a-z0-9]+@/.test(text)) {
        this.error(a, `bind address '${text}' is not supported by gatehouse yet (TCP addresses only)`, '[ADDR]:PORT', `'${text}'`);
        continue;
      }
      const range = /^(.*):(\d+)-(\d+)$/.exec(text);
      if (range) {
        const lo = Number(range[2]);
        const hi = Number(range[3]);
        if (hi < lo || hi - lo > 1000) {
          this.error(a, `invalid port range '${range[2]}-${range[3]}'`, 'a range of at most 1000 ports, low-high');
          continue;
        }
        for (let p = lo; p <= hi; p++) s.binds.push(tlsEntry(`${range[1]}:${p}`));
        continue;
      }
      s.binds.push(tlsEntry(text));
    }
  }

  private timeout(s: Section, w: Word[]): void {
    const n = this.arg(w, 1, '<event> <time>');
    if (!n) return;
    const t = TIMEOUT_YAML[n.text];
    if (!t) {
      if (this.accepted('timeout', n, `timeout ${n.text}`)) return;
      if (K.TIMEOUTS.includes(n.text)) this.error(n, `'timeout ${n.text}' is not supported by gatehouse yet`);
      else this.error(n, `unknown timeout '${n.text}'${didYouMean(n.text, K.TIMEOUTS)}`, `one of ${Object.keys(TIMEOUT_YAML).join(', ')}`, `'${n.text}'`);
      return;
    }
    const v = this.arg(w, 2, '<time>');
    if (!v || !this.noMore(w, 3, `timeout ${n.text}`)) return;
    if (t.cap !== 'ALL' && !this.cap(s, n, t.cap, false, undefined, `timeout ${n.text}`)) return;
    s.set.set(`timeout.${t.key}`, this.entry(v));
  }

  private balance(s: Section, w: Word[]): void {
    if (!this.cap(s, w[0], 'BE')) return;
    if (w.length === 1) {
      // HAProxy: 'balance' alone means roundrobin
      s.set.set('balance', this.entry(w[0], 'roundrobin'));
      return;
    }
    const a = this.arg(w, 1, '<algorithm>');
    if (!a) return;
    const alg = a.text;
    const simple = BALANCE_SIMPLE.includes(alg);
    const hdr = /^hdr\([^()\s]+\)$/.test(alg);
    if (simple || hdr) {
      if (w.length > 2) {
        this.error(w[2], `'balance ${alg}' option '${w[2].text}' is not supported by gatehouse yet`);
        return;
      }
      s.set.set('balance', this.entry(a));
      return;
    }
    if (['url_param', 'rdp-cookie', 'hash'].includes(alg) || /^(random|rdp-cookie|hash)\(/.test(alg)) {
      this.error(a, `'balance ${alg}' is not supported by gatehouse yet`, BALANCE_SIMPLE.concat('hdr(NAME)').join(', '));
      return;
    }
    this.error(a, `unknown balance algorithm '${alg}'${didYouMean(alg, BALANCE_KNOWN)}`, BALANCE_SIMPLE.concat('hdr(NAME)').join(', '), `'${alg}'`);
  }

  private server(s: Section, w: Word[]): void {
    if (s.kind === 'defaults') {
      this.error(w[0], "'server' not allowed in 'defaults' section (use 'default-server' there)");
      return;
    }
    if (!this.cap(s, w[0], 'BE', true, 'frontends have no servers; put servers in a backend or listen section')) return;
    const name = this.arg(w, 1, '<name> and <addr>[:<port>] as arguments');
    const addr = name && this.arg(w, 2, '<addr>[:<port>]');
    if (!name || !addr) return;
    const address = addr.text.replace(/^(ipv4|ipv6)@/, '');
    if (address.startsWith('/') || /^[a-z0-9]+@/.test(address)) {
      this.error(addr, `server address '${addr.text}' is not supported by gatehouse yet (TCP addresses only)`, 'HOST:PORT', `'${addr.text}'`);
      return;
    }
    const opts = new Map(s.defaultServer);
    this.serverOptions(w, 3, opts);
    s.servers.push({ name: name.text, address, pos: this.at(w[0]), namePos: this.at(name), addrPos: this.at(addr), opts });
  }

  /**
   * `server-template <prefix> <num>|<low>-<high> <fqdn>[:<port>] [options]`: servers prefix1..N,
   * each with the address. Names are resolved once at start-up (as HAProxy does without a
   * `resolvers` section, where every slot gets the name's first address).
   */
  private serverTemplate(s: Section, w: Word[]): void {
    if (s.kind === 'defaults') {
      this.error(w[0], "'server-template' not allowed in 'defaults' section");
      return;
    }
    if (!this.cap(s, w[0], 'BE', true, 'frontends have no servers; put servers in a backend or listen section')) return;
    const prefix = this.arg(w, 1, '<prefix> <num | range> <fqdn>[:<port>]');
    const range = prefix && this.arg(w, 2, '<num | range> <fqdn>[:<port>]');
    const addr = range && this.arg(w, 3, '<fqdn>[:<port>]');
    if (!prefix || !range || !addr) return;
    const m = /^(?:(\d+)-)?(\d+)$/.exec(range.text);
    const lo = m ? (m[1] !== undefined ? Number(m[1]) : 1) : 0;
    const hi = m ? Number(m[2]) : 0;
    if (!m || lo < 1 || hi < lo || hi - lo >= 1000) {
      this.error(range, `invalid server-template range '${range.text}'`, 'a count such as 4 or a range such as 1-4 (at most 1000 servers)', `'${range.text}'`);
      return;
    }
    const opts = new Map(s.defaultServer);
    this.serverOptions(w, 4, opts);
    for (let i = lo; i <= hi; i++) {
      s.servers.push({ name: `${prefix.text}${i}`, address: addr.text, pos: this.at(w[0]), namePos: this.at(prefix), addrPos: this.at(addr), opts });
    }
  }

  /** Server / default-server options from w[from] on, into `opts` (YAML keys). */
  private serverOptions(w: Word[], from: number, opts: Map<string, Entry>): void {
    for (let i = from; i < w.length; i++) {
      const o = w[i].text;
      const flag = SERVER_FLAGS[o];
      if (flag) {
        opts.set(flag[0], this.entry(w[i], flag[1]));
        continue;
      }
      const key = SERVER_VALUED[o];
      if (key) {
        const v = this.arg(w, i + 1, `<${o === 'addr' ? 'address' : o === 'observe' ? 'mode' : 'value'}>`);
        if (!v) return;
        opts.set(key, this.entry(v));
        i++;
        continue;
      }
      if (this.serverOptionExtra(w, i, opts)) {
        if (K.SERVER_OPTIONS_WITH_ARG.has(o)) i++;
        continue;
      }
      if (K.SERVER_OPTIONS.includes(o)) {
        this.error(w[i], `server option '${o}' is not supported by gatehouse yet`);
        // known arity: step over its argument and report the rest of the line too
        if (K.SERVER_OPTIONS_WITH_ARG.has(o)) i++;
        continue;
      }
      // An unknown option's arity is unknown, so the rest of the line cannot be read.
      this.error(w[i], `unknown server option '${o}'${didYouMean(o, K.SERVER_OPTIONS)}`, '', `'${o}'`);
      return;
    }
  }

  /** An accepted-and-ignored keyword (cfg-accepted.ts): warns with its reason and returns true. */
  private accepted(kind: AcceptedKind, w: Word, label = w.text): boolean {
    const why = acceptedReason(kind, w.text);
    if (why === undefined) return false;
    if (why) this.warn(w, `'${label}' is ignored: ${why}`);
    return true;
  }
  private serverOptionExtra(w: Word[], i: number, _opts: Map<string, Entry>): boolean {
    return this.accepted('server', w[i], `server option ${w[i].text}`);
  }
  private bindOptionExtra(w: Word[], i: number): boolean {
    return this.accepted('bind', w[i], `bind option ${w[i].text}`);
  }

  private option(s: Section, w: Word[], at: number, on: boolean): void {
    const n = this.arg(w, at, '<option name>');
    if (!n) return;
    const o = n.text;
    const rest = at + 1;
    const flag = (key: string, need: 'FE' | 'BE' | 'ALL'): void => {
      if (need !== 'ALL' && !this.cap(s, n, need, false, undefined, `option ${o}`)) return;
      if (on && !this.noMore(w, rest, `option ${o}`)) return;
      s.set.set(key, this.entry(n, on));
    };
    switch (o) {
      case 'httpchk':
        return this.optionHttpchk(s, w, n, rest, on);
      case 'forwardfor':
        if (on && w.length > rest) return this.forwardforOptions(s, w, n, rest);
        return flag('forwardfor', 'ALL');
      case 'redispatch':
        return flag('redispatch', 'BE');
      case 'httplog':
        if (on && w[rest]?.text === 'clf') {
          this.error(w[rest], "'option httplog clf' is not supported by gatehouse yet");
          return;
        }
        return flag('httplog', 'FE');
      case 'dontlognull':
        return flag('dontlognull', 'FE');
      case 'allbackups':
        return flag('allbackups', 'BE');
      case 'persist':
        return flag('persist', 'BE');
      case 'tcplog':
        return flag('tcplog', 'FE');
    }
    if (TCP_CHECK_OPTIONS.includes(o)) return cfgCheckOption(this.tcpSink(s), w, at, on);
    const why = K.OPTIONS_IGNORED[o];
    if (why !== undefined) {
      if (why) this.warn(n, `'option ${o}' is ignored: ${why}`);
      return;
    }
    if (this.accepted('option', n, `option ${o}`)) return;
    if (K.OPTIONS.includes(o)) this.error(n, `'option ${o}' is not supported by gatehouse yet`);
    else this.error(n, `unknown option '${o}'${didYouMean(o, K.OPTIONS)}`, '', `'${o}'`);
  }

  /** `option forwardfor [except <network>] [header <name>] [if-none]`: a map for the validator. */
  private forwardforOptions(s: Section, w: Word[], n: Word, rest: number): void {
    const value: Record<string, unknown> = {};
    const sub: Record<string, Pos> = {};
    for (let i = rest; i < w.length; i++) {
      const o = w[i].text;
      if (o === 'except' || o === 'header') {
        const v = this.arg(w, i + 1, o === 'except' ? '<network>' : '<name>');
        if (!v) return;
        value[o] = v.text;
        sub[o] = this.at(v);
        i++;
      } else if (o === 'if-none') {
        value.if_none = true;
        sub.if_none = this.at(w[i]);
      } else {
        this.error(w[i], `unknown 'option forwardfor' argument '${o}' (expected except <network>, header <name> or if-none)`);
        return;
      }
    }
    s.set.set('forwardfor', { value, pos: this.at(n), sub });
  }

  /** `option httpchk [<method>] [<uri>] [<version>]`; HAProxy's default request is OPTIONS / HTTP/1.0. */
  private optionHttpchk(s: Section, w: Word[], n: Word, rest: number, on: boolean): void {
    if (!this.cap(s, n, 'BE', false, undefined, 'option httpchk')) return;
    if (!on) {
      s.set.set('health_check.type', this.entry(n, 'tcp'));
      return;
    }
    const args = w.slice(rest);
    if (args.length > 3) {
      this.noMore(w, rest + 3, 'option httpchk');
      return;
    }
    const [meth, uri, ver] = args.length === 1 ? [undefined, args[0], undefined] : args;
    s.set.set('health_check.type', this.entry(n, 'http'));
    s.set.delete('tcp_check.type'); // the last check option wins
    s.set.set('health_check.method', meth ? this.entry(meth) : this.entry(n, 'OPTIONS'));
    s.set.set('health_check.uri', uri ? this.entry(uri) : this.entry(n, '/'));
    if (!ver) {
      s.set.set('health_check.version', this.entry(n, 'HTTP/1.0'));
      return;
    }
    // The old way of sending headers: "HTTP/1.1\r\nHost:\ www.example.com".
    const [version, ...lines] = ver.text.split('\r\n');
    s.set.set('health_check.version', this.entry(ver, version));
    const headers: { name: string; value: string }[] = [];
    for (const l of lines) {
      if (!l) continue;
      const c = l.indexOf(':');
      if (c < 1) {
        this.error(ver, `invalid header line '${l}' in the check version`, '"Name: value"');
        return;
      }
      const name = l.slice(0, c).trim();
      const value = l.slice(c + 1).trim();
      if (name.toLowerCase() === 'host') s.set.set('health_check.host', this.entry(ver, value));
      else headers.push({ name, value });
    }
    if (headers.length) s.set.set('health_check.headers', { value: headers, pos: this.at(ver), items: headers.map(() => this.at(ver)) });
  }

  private httpCheck(s: Section, w: Word[]): void {
    if (!this.cap(s, w[0], 'BE')) return;
    const sub = this.arg(w, 1, "'expect' or 'send'");
    if (!sub) return;
    if (sub.text === 'expect') return this.httpCheckExpect(s, w);
    if (sub.text === 'send') return this.httpCheckSend(s, w);
    if (sub.text === 'disable-on-404' && this.noMore(w, 2, 'http-check disable-on-404')) {
      this.warn(sub, "'http-check disable-on-404' is approximated: a server answering 404 to its check is taken out of rotation as DOWN (HAProxy puts it in DRAIN, still serving persistent clients)");
      return;
    }
    const known = ['comment', 'connect', 'disable-on-404', 'send-state', 'set-var', 'unset-var'];
    if (known.includes(sub.text)) this.error(sub, `'http-check ${sub.text}' is not supported by gatehouse yet`);
    else this.error(sub, `unknown 'http-check' action '${sub.text}'${didYouMean(sub.text, ['expect', 'send', ...known])}`);
  }

  private httpCheckExpect(s: Section, w: Word[]): void {
    const m = this.arg(w, 2, '<match> <pattern>');
    if (!m) return;
    if (m.text === '!') {
      this.error(m, "negated 'http-check expect' is not supported by gatehouse yet");
      return;
    }
    const p = this.arg(w, 3, '<pattern>');
    if (!p || !this.noMore(w, 4, `http-check expect ${m.text}`)) return;
    switch (m.text) {
      case 'status':
        s.set.set('health_check.expect_status', this.entry(p));
        return;
      case 'rstatus': {
        const ranges = statusRangesOf(p.text);
        if (typeof ranges !== 'string') {
          this.error(p, `invalid regular expression: ${ranges.error}`);
          return;
        }
        if (ranges === '') {
          this.error(p, `'rstatus ${p.text}' matches no HTTP status`);
          return;
        }
        s.set.set('health_check.expect_status', this.entry(p, ranges));
        return;
      }
      case 'string':
        s.set.set('health_check.expect_string', this.entry(p));
        return;
    }
    const known = ['rstring', 'hdr', 'fhdr', 'custom', 'min-recv', 'comment', 'ok-status', 'error-status', 'tout-status', 'on-success', 'on-error', 'status-code'];
    if (known.includes(m.text)) this.error(m, `'http-check expect ${m.text}' is not supported by gatehouse yet (status, rstatus and string are)`);
    else this.error(m, `unknown 'http-check expect' match '${m.text}'${didYouMean(m.text, ['status', 'rstatus', 'string', ...known])}`, 'status, rstatus or string', `'${m.text}'`);
  }

  /** `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]*` */
  private httpCheckSend(s: Section, w: Word[]): void {
    const headers: { name: string; value: string }[] = [];
    const items: Pos[] = [];
    let headerPos: Pos | null = null;
    for (let i = 2; i < w.length; i++) {
      const o = w[i].text;
      if (o === 'meth' || o === 'uri' || o === 'ver') {
        const v = this.arg(w, i + 1, `<${o}>`);
        if (!v) return;
        s.set.set(`health_check.${o === 'meth' ? 'method' : o === 'ver' ? 'version' : 'uri'}`, this.entry(v));
        i++;
      } else if (o === 'hdr') {
        const name = this.arg(w, i + 1, '<name> <value>');
        const value = name && this.arg(w, i + 2, '<value>');
        if (!name || !value) return;
        if (name.text.toLowerCase() === 'host') s.set.set('health_check.host', this.entry(value));
        else {
          headers.push({ name: name.text, value: value.text });
          items.push(this.at(name));
          headerPos ??= this.at(w[i]);
        }
        i += 2;
      } else if (['body', 'body-lf', 'uri-lf', 'comment'].includes(o)) {
        this.error(w[i], `'http-check send ${o}' is not supported by gatehouse yet`);
        return;
      } else {
        this.error(w[i], `unknown 'http-check send' option '${o}'${didYouMean(o, ['meth', 'uri', 'ver', 'hdr'])}`, 'meth, uri, ver or hdr', `'${o}'`);
        return;
      }
    }
    if (headerPos) s.set.set('health_check.headers', { value: headers, pos: headerPos, items });
  }

  /** `cookie <name> [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve] [httponly] [secure] [domain <d>] [maxidle <t>] [maxlife <t>]` */
  private cookie(s: Section, w: Word[]): void {
    if (!this.cap(s, w[0], 'BE', false, 'frontends have no servers, so there is nothing to persist to; put it in the backend')) return;
    const n = this.arg(w, 1, '<cookie name>');
    if (!n) return;
    const value: Record<string, unknown> = { name: n.text };
    const sub: Record<string, Pos> = { name: this.at(n) };
    let modeWord: Word | null = null;
    for (let i = 2; i < w.length; i++) {
      const o = w[i].text;
      switch (o) {
        case 'rewrite':
        case 'insert':
        case 'prefix':
          if (modeWord && modeWord.text !== o) {
            this.error(w[i], "cookie 'rewrite', 'insert' and 'prefix' modes are mutually exclusive", '', `'${modeWord.text}' and '${o}'`);
            return;
          }
          modeWord = w[i];
          value.mode = o;
          sub.mode = this.at(w[i]);
          break;
        case 'indirect':
        case 'nocache':
        case 'postonly':
        case 'preserve':
        case 'httponly':
        case 'secure':
          value[o] = true;
          sub[o] = this.at(w[i]);
          break;
        case 'domain':
        case 'maxidle':
        case 'maxlife': {
          const v = this.arg(w, i + 1, o === 'domain' ? '<domain>' : '<time>');
          if (!v) return;
          if (o === 'domain' && value.domain !== undefined) {
            this.error(w[i], 'gatehouse supports one cookie domain only', '', 'a second domain');
            return;
          }
          // HAProxy reads maxidle/maxlife in seconds when no unit is given.
          value[o] = o === 'domain' ? v.text : seconds(v.text);
          sub[o] = this.at(v);
          i++;
          break;
        }
        case 'dynamic':
        case 'attr':
          this.error(w[i], `cookie option '${o}' is not supported by gatehouse yet`);
          return;
        default:
          this.error(w[i], `unknown cookie option '${o}'${didYouMean(o, COOKIE_OPTIONS)}`, '', `'${o}'`);
          return;
      }
    }
    if (!modeWord) {
      this.error(n, "cookie without 'insert', 'rewrite' or 'prefix' (passive persistence) is not supported by gatehouse yet", 'insert, rewrite or prefix');
      return;
    }
    if (value.preserve && value.mode !== 'insert' && !value.indirect) {
      this.error(w[0], "cookie 'preserve' requires at least 'insert' or 'indirect'");
      return;
    }
    s.set.set('cookie', { value, pos: this.at(w[0]), sub });
  }

  private stats(s: Section, w: Word[]): void {
    const sub = this.arg(w, 1, "a stats keyword such as 'enable', 'uri' or 'auth'");
    if (!sub) return;
    if (s.kind === 'backend') {
      this.error(w[0], `'stats' in a backend is not supported by gatehouse yet: put it in the frontend or a listen section`);
      return;
    }
    const kw = sub.text;
    const one = (key: string, what: string, conv: (t: string) => string = (t) => t): void => {
      const v = this.arg(w, 2, what);
      if (v && this.noMore(w, 3, `stats ${kw}`)) s.set.set(`stats.${key}`, this.entry(v, conv(v.text)));
    };
    switch (kw) {
      case 'enable':
      case 'hide-version':
        if (this.noMore(w, 2, `stats ${kw}`)) s.set.set(kw === 'enable' ? 'stats.enable' : 'stats.hide_version', this.entry(sub, true));
        return;
      case 'uri':
        return one('uri', '<prefix>');
      case 'realm':
        return one('realm', '<realm>');
      case 'refresh':
        return one('refresh', '<delay>', seconds); // HAProxy reads a bare number as seconds here
      case 'auth': {
        const v = this.arg(w, 2, '<user>:<passwd>');
        if (!v || !this.noMore(w, 3, 'stats auth')) return;
        const prev = s.set.get('stats.auth');
        const list = prev ? [...(prev.value as string[]), v.text] : [v.text];
        const items = prev ? [...(prev.items ?? []), this.at(v)] : [this.at(v)];
        s.set.set('stats.auth', { value: list, pos: prev?.pos ?? this.at(v), items });
        return;
      }
      case 'admin': {
        const cond = this.arg(w, 2, "'if' or 'unless' followed by a condition");
        const c = cond && this.arg(w, 3, '<condition>');
        if (!cond || !c) return;
        if (cond.text !== 'if' || w.length > 4 || (c.text !== 'TRUE' && c.text !== 'LOCALHOST')) {
          this.error(cond, "only 'stats admin if TRUE' (or 'if LOCALHOST') is supported by gatehouse yet: the stats page does not evaluate ACLs");
          return;
        }
        if (c.text === 'LOCALHOST') this.warn(c, 'the LOCALHOST condition is not evaluated: every user allowed on the stats page may use the admin actions');
        s.set.set('stats.admin', this.entry(sub, true));
        return;
      }
      case 'scope':
        this.warn(sub, "'stats scope' is ignored: gatehouse's stats page shows every proxy");
        return;
      case 'show-legends':
      case 'show-node':
      case 'show-desc':
      case 'show-modules':
        // what HAProxy's page shows besides the tables; the stats themselves are unchanged
        this.warn(sub, `'stats ${kw}' is ignored: gatehouse's stats page has its own layout`);
        return;
    }
    if (K.STATS_KEYWORDS.includes(kw)) this.error(sub, `'stats ${kw}' is not supported by gatehouse yet`);
    else this.error(sub, `unknown stats keyword '${kw}'${didYouMean(kw, K.STATS_KEYWORDS)}`, '', `'${kw}'`);
  }

  private proxyLog(s: Section, w: Word[]): void {
    let item: LogItem | null;
    if (w[1]?.text === 'global') {
      if (!this.noMore(w, 2, 'log global')) return;
      item = { global: true, pos: this.at(w[0]) };
    } else {
      item = this.logLine(w);
    }
    if (!item) return;
    if (s.kind === 'backend') {
      // HAProxy logs traffic through the frontend's targets; a backend's own only see server events.
      if (!item.global) this.warn(w[0], "a backend's 'log' is ignored: gatehouse logs traffic and server events through the frontend and global log targets");
      return;
    }
    s.logs = [...(s.logs ?? []), item];
  }

  // ---- the YAML-shaped document ----

  private reg(path: Path, pos: Pos): void {
    this.positions.set(pathKey(path), pos);
  }

  /** Puts `entries` into `obj` (dotted keys become nested maps) and records their positions. */
  private emitEntries(obj: Record<string, unknown>, base: Path, entries: Iterable<[string, Entry]>): void {
    for (const [key, e] of entries) {
      const parts = key.split('.');
      let o = obj;
      for (let i = 0; i < parts.length - 1; i++) {
        o = (o[parts[i]] ??= {}) as Record<string, unknown>;
        this.positionIfAbsent([...base, ...parts.slice(0, i + 1)], e.pos);
      }
      const last = parts[parts.length - 1];
      let value = Array.isArray(e.value) ? [...e.value] : e.value !== null && typeof e.value === 'object' ? { ...(e.value as object) } : e.value;
      // Counts read better as numbers in the converted YAML (the validator takes either).
      if (typeof value === 'string' && INT_KEYS.has(last) && /^\d{1,15}$/.test(value)) value = Number(value);
      o[last] = value;
      const p = [...base, ...parts];
      this.reg(p, e.pos);
      e.items?.forEach((ip, i) => this.reg([...p, i], ip));
      if (e.sub) for (const [k, sp] of Object.entries(e.sub)) this.reg([...p, k], sp);
    }
  }
  /** acls (name -> criterion, or a list when several lines share the name) and the rule lists. */
  private emitRules(out: Record<string, unknown>, base: Path, p: Section): void {
    if (p.acls.size) {
      const acls: Record<string, string | string[]> = {};
      const ap = [...base, 'acls'];
      this.reg(ap, [...p.acls.values()][0][0].pos);
      for (const [name, lines] of p.acls) {
        acls[name] = lines.length === 1 ? lines[0].text : lines.map((l) => l.text);
        this.reg([...ap, name], lines[0].pos);
        if (lines.length > 1) lines.forEach((l, i) => this.reg([...ap, name, i], l.pos));
      }
      out.acls = acls;
    }
    for (const key of ['use_backend', 'http_request', 'http_response', 'redirect'] as const) {
      let list = key === 'http_response' ? [...p.ruleLists[key], ...p.afterResponse] : p.ruleLists[key];
      if (key === 'http_request' && p.hasFE && p.monitorUri) list = [{ value: this.monitorRule(p.monitorUri.uri), pos: p.monitorUri.pos }, ...list];
      if (!list.length) continue;
      const lp = [...base, key];
      this.reg(lp, list[0].pos);
      out[key] = list.map((item, i) => {
        this.reg([...lp, i], item.pos);
        if (item.sub) for (const [k, sp] of Object.entries(item.sub)) this.reg([...lp, i, k], sp);
        return item.value;
      });
    }
  }

  private positionIfAbsent(path: Path, pos: Pos): void {
    const k = pathKey(path);
    if (!this.positions.has(k)) this.positions.set(k, pos);
  }

  private emitLogs(base: Path, items: LogItem[]): unknown {
    this.reg(base, items[0]?.pos ?? this.positions.get(pathKey(base.slice(0, -1))) ?? { file: this.file, line: 0, col: 0 });
    if (items.length === 1 && items[0].global) return 'global';
    const out: Record<string, string>[] = [];
    for (const it of items) {
      const expanded = it.global ? this.globalLogs : [it];
      for (const e of expanded) {
        if (e.global) continue;
        const p = [...base, out.length];
        this.reg(p, it.pos);
        for (const [k, sp] of Object.entries(e.sub)) this.reg([...p, k], it.global ? it.pos : sp);
        out.push({ ...e.value });
      }
    }
    return out;
  }

  /**
   * HAProxy runs http-check rules only with `option httpchk`; without it the check stays TCP.
   * (The YAML would otherwise infer an HTTP check from the expect/send settings.)
   */
  private httpCheckWithoutHttpchk(p: Section): void {
    if (p.set.has('health_check.type')) return;
    const first = [...p.set].find(([k]) => k.startsWith('health_check.'));
    if (!first) return;
    this.issue('warning', first[1].pos, `'http-check' settings are ignored in ${p.label}: there is no 'option httpchk', so the health check stays TCP`);
    p.set.set('health_check.type', { value: 'tcp', pos: first[1].pos });
  }

  /** `errorfiles NAME [codes]`: the section's pages, for the codes not set by an errorfile line of the proxy. */
  private resolveErrorfiles(p: Section): void {
    for (const ref of p.errorfilesRefs.splice(0)) {
      const pages = this.httpErrorSections.get(ref.name);
      if (!pages) {
        this.issue('error', ref.pos, `http-errors section '${ref.name}' not found${didYouMean(ref.name, this.httpErrorSections.keys())}`);
        continue;
      }
      const codes = ref.codes.length ? ref.codes : [...pages.keys()].map((k) => k.slice('error_pages.'.length));
      for (const code of codes) {
        const e = pages.get(`error_pages.${code}`);
        if (!e) continue; // HAProxy ignores a code the section does not define
        if (!p.set.has(`error_pages.${code}`) || p.parent?.set.get(`error_pages.${code}`) === p.set.get(`error_pages.${code}`)) p.set.set(`error_pages.${code}`, e);
      }
    }
  }

  buildDoc(): Record<string, unknown> {
    const doc: Record<string, unknown> = {};
    const g: Record<string, unknown> = {};
    this.emitEntries(g, ['global'], this.global);
    if (this.globalLogs.length) g.log = this.emitLogs(['global', 'log'], this.globalLogs);
    if (this.statsSockets.length) {
      this.reg(['global', 'stats_socket'], this.statsSockets[0].pos);
      g.stats_socket = this.statsSockets.map((e, i) => {
        this.reg(['global', 'stats_socket', i], e.pos);
        for (const [k, sp] of Object.entries(e.sub ?? {})) this.reg(['global', 'stats_socket', i, k], sp);
        return e.value;
      });
    }
    if (Object.keys(g).length) doc.global = g;
    if (this.peersBlocks.length) doc.peers = PeersBlock.emit(this.peersBlocks, (path, pos) => this.reg(path, pos));

    // One defaults shared by every proxy becomes the YAML `defaults`; otherwise resolve per proxy.
    const parents = new Set(this.proxies.map((p) => p.parent));
    const shared = parents.size === 1 ? [...parents][0] : null;
    const inDefaults = (key: string): boolean => !key.startsWith('stats.');
    if (shared) {
      const d: Record<string, unknown> = {};
      this.reg(['defaults'], shared.pos);
      this.emitEntries(d, ['defaults'], [...shared.set].filter(([k]) => inDefaults(k)));
      if (Object.keys(d).length) doc.defaults = d;
    }

    const groups: Record<Exclude<Kind, 'defaults'>, string> = { frontend: 'frontends', backend: 'backends', listen: 'listen' };
    for (const p of [...this.namedDefaults.values(), ...this.proxies]) this.resolveErrorfiles(p);
    if (this.lastDefaults) this.resolveErrorfiles(this.lastDefaults);
    for (const p of this.proxies) {
      if (p.kind === 'frontend' && p.binds.length === 0) {
        // HAProxy accepts it with a warning; it receives no connection, so there is nothing to run
        this.issue('warning', p.pos, `frontend '${p.name}' has no 'bind': it accepts no connections and is left out (as in HAProxy)`);
        continue;
      }
      const group = groups[p.kind as Exclude<Kind, 'defaults'>];
      const base: Path = [group, p.name];
      this.reg(base, p.pos);
      const out: Record<string, unknown> = {};
      if (p.hasFE && p.binds.length) {
        out.bind = p.binds.map((b) => b.value);
        this.reg([...base, 'bind'], p.binds[0].pos);
        p.binds.forEach((b, i) => {
          this.reg([...base, 'bind', i], b.pos);
          if (b.sub) for (const [k, sp] of Object.entries(b.sub)) this.reg([...base, 'bind', i, k], sp);
          if (b.crtItems) b.crtItems.forEach((cp, j) => this.reg([...base, 'bind', i, 'crt', j], cp));
        });
      }
      if (p.hasBE) {
        this.httpCheckWithoutHttpchk(p);
        cfgTcpCheckWithoutOption(this.tcpSink(p), p.label);
        // HAProxy hashes source/uri/hdr with map-based sdbm unless told otherwise: make it
        // explicit, so the same key picks the same server as HAProxy (YAML keeps its own default)
        const bal = p.set.get('balance');
        if (bal && !p.set.has('hash_type') && /^(source|uri|hdr\(.*\))$/.test(String(bal.value))) {
          p.set.set('hash_type', { value: 'map-based sdbm', pos: bal.pos });
        }
      }
      const inherited = p.parent?.set;
      const entries = [...p.set].filter(([k, e]) => {
        const fromDefaults = inherited?.get(k) === e;
        if (fromDefaults && shared && inDefaults(k)) return false; // the YAML defaults carries it
        if (fromDefaults && ((!p.hasBE && backendSide(k)) || (!p.hasFE && frontendSide(k)))) return false;
        return true;
      });
      this.emitEntries(out, base, entries);
      if (p.hasFE) out.log = this.emitLogs([...base, 'log'], p.logs ?? []);
      if (p.hasBE && p.servers.length) {
        this.reg([...base, 'servers'], p.servers[0].pos);
        out.servers = p.servers.map((sv, i) => {
          const sp = [...base, 'servers', i];
          this.reg(sp, sv.pos);
          this.reg([...sp, 'name'], sv.namePos);
          this.reg([...sp, 'address'], sv.addrPos);
          const o: Record<string, unknown> = { name: sv.name, address: sv.address };
          this.emitEntries(o, sp, sv.opts);
          return o;
        });
      }
      this.emitRules(out, base, p);
      ((doc[group] ??= {}) as Record<string, unknown>)[p.name] = out;
    }
    return doc;
  }
}

function pathKey(path: readonly (string | number)[]): string {
  return JSON.stringify(path);
}

/**
 * `http-check expect rstatus REGEX` as status ranges ("200-299,302"): the regex is tried on every
 * status 100-599, which is exact for any pattern. Returns '' when nothing matches, or { error }.
 */
function statusRangesOf(pattern: string): string | { error: string } {
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

/**
 * Reads haproxy.cfg files (in order, like several `-f`) into the YAML-shaped document for
 * buildModel, without throwing: lines that could not be understood are left out of the document
 * and reported in `errors`, so a check can still run the validator over the rest and report
 * everything in one run.
 */
export function readHaproxyCfg(
  inputs: { file: string; text: string }[],
  env: Record<string, string | undefined> = process.env,
): { doc: unknown; src: SourceMap; errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const p = new CfgParser(env);
  for (const { file, text } of inputs) p.parseFile(file, text);
  const doc = p.buildDoc();
  const positions = p.positions;
  const src: SourceMap = {
    file: inputs[0]?.file ?? '(none)',
    locate(path) {
      const pos = positions.get(pathKey(path));
      return pos ? { file: pos.file, line: pos.line, col: pos.col } : null;
    },
  };
  return { doc, src, errors: p.errors, warnings: p.warnings };
}

/**
 * Reads haproxy.cfg files into the YAML-shaped document for buildModel. Throws ConfigError
 * (errors first, then warnings) when a line cannot be understood.
 */
export function parseHaproxyCfg(
  inputs: { file: string; text: string }[],
  env: Record<string, string | undefined> = process.env,
): { doc: unknown; src: SourceMap; warnings: ConfigIssue[] } {
  const r = readHaproxyCfg(inputs, env);
  if (r.errors.length) throw new ConfigError([...r.errors, ...r.warnings]);
  return { doc: r.doc, src: r.src, warnings: r.warnings };
}
