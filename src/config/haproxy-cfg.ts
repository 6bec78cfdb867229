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
import { joinWords } from '../acl/words';

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
  return /^(retries|retry_on|redispatch|balance|persist|allbackups|cookie|health_check(\..*)?)$/.test(key);
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
};

const BALANCE_SIMPLE = ['roundrobin', 'static-rr', 'leastconn', 'source', 'first', 'random', 'uri'];
const BALANCE_KNOWN = [...BALANCE_SIMPLE, 'hdr(NAME)', 'url_param', 'rdp-cookie', 'hash', 'random(N)'];
const COOKIE_OPTIONS = ['rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'preserve', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife', 'dynamic', 'attr'];
/** Server options taking one argument, and their YAML key. */
const SERVER_VALUED: Record<string, string> = {
  inter: 'inter', fastinter: 'fastinter', downinter: 'downinter', rise: 'rise', fall: 'fall', weight: 'weight',
  maxconn: 'maxconn', port: 'port', addr: 'addr', observe: 'observe', 'error-limit': 'error_limit',
  'on-error': 'on_error', cookie: 'cookie',
};
const SERVER_FLAGS: Record<string, [string, boolean]> = {
  check: ['check', true], 'no-check': ['check', false], backup: ['backup', true], 'no-backup': ['backup', false],
  disabled: ['disabled', true], enabled: ['disabled', false],
};
const LOG_FORMATS = ['rfc3164', 'rfc5424', 'raw'];
const INT_KEYS = new Set(['weight', 'rise', 'fall', 'maxconn', 'port', 'retries', 'workers', 'error_limit', 'max_header_size', 'max_headers']);

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
  private readonly beNames = new Map<string, Section>();

  // Line state
  private file = '';
  private lineNo = 0;
  private current: Section | 'global' | 'skip' | null = null;

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
    for (let i = 0; i < lines.length; i++) {
      this.lineNo = i + 1;
      const cur = this.current as Section | 'global' | 'skip' | null; // (assigned by line() below)
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
      this.line(t.words);
    }
  }

  private line(w: Word[]): void {
    const kw = w[0].text;
    if ((K.SECTIONS as readonly string[]).includes(kw)) return this.sectionHeader(kw as (typeof K.SECTIONS)[number], w);
    if (K.OTHER_SECTIONS.includes(kw)) {
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
    this.proxyLine(cur, w);
  }

  private sectionHeader(kw: (typeof K.SECTIONS)[number], w: Word[]): void {
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
      case 'tune.http.maxhdr': {
        const v = this.arg(w, 1, kw === 'pidfile' ? '<file>' : kw === 'hard-stop-after' ? '<time>' : kw === 'ssl-default-bind-ciphers' ? '<ciphers>' : '<number>');
        if (!v || !this.noMore(w, 2, kw)) return;
        const key = { pidfile: 'pidfile', maxconn: 'maxconn', nbthread: 'workers', 'hard-stop-after': 'grace', 'ssl-default-bind-ciphers': 'ssl_default_bind_ciphers', 'tune.bufsize': 'max_header_size', 'tune.http.maxhdr': 'max_headers' }[kw];
        g.set(key, this.entry(v));
        return;
      }
      case 'stats':
        this.globalStats(w);
        return;
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
        if (m.text === 'http') s.set.set('mode', this.entry(m));
        else if (m.text === 'tcp' || m.text === 'health') this.error(m, `mode '${m.text}' is not supported by gatehouse yet: it proxies HTTP only`, 'http', `'${m.text}'`);
        else this.error(m, `unknown mode '${m.text}'${didYouMean(m.text, ['http', 'tcp', 'health'])}`, 'http, tcp or health', `'${m.text}'`);
        return;
      }
      case 'timeout':
        return this.timeout(s, w);
      case 'balance':
        return this.balance(s, w);
      case 'server':
        return this.server(s, w);
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
      case 'acl':
      case 'use_backend':
      case 'http-request':
      case 'http-response':
      case 'redirect':
        return this.rule(s, w);
      case 'description':
        return; // a label for the stats page of HAProxy; harmless to drop
      case 'errorfile':
        this.warn(w[0], "'errorfile' is ignored: gatehouse answers errors with its built-in pages (the same wording as HAProxy's)");
        return;
      case 'capture':
        // only what the access log shows; traffic is the same
        this.warn(w[0], "'capture' is ignored: access lines do not carry captured headers or cookies");
        return;
      case 'compression':
        this.warn(w[0], "'compression' is ignored: gatehouse passes responses as the server sent them (compress at the server)");
        return;
      case 'http-reuse':
        // gatehouse always reuses idle server connections after a clean response (HAProxy's 'always')
        if (!this.cap(s, w[0], 'BE')) return;
        this.warn(w[0], "'http-reuse' is ignored: gatehouse reuses an idle server connection whenever the previous response ended cleanly");
        return;
    }
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
    const key: RuleListKey = kw === 'http-request' ? 'http_request' : kw === 'http-response' ? 'http_response' : 'redirect';
    if (!this.arg(w, 1, kw === 'redirect' ? 'location, prefix or scheme' : '<action>')) return;
    s.ruleLists[key].push({ value: joinWords(w.slice(1).map((x) => x.text)), pos });
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
    for (let i = 2; i < w.length; i++) {
      const o = w[i].text;
      if (o === 'name' && i + 1 < w.length) {
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
      this.error(w[i], `bind option '${o}' is not supported by gatehouse yet${tls}`);
      return;
    }
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
      if (ssl === null) return this.entry(a, address);
      const value: Record<string, unknown> = { address, ssl: true, crt: crts.length === 1 ? crts[0].text : crts.map((c) => c.text) };
      const sub: Record<string, Pos> = { address: this.at(a), ssl: this.at(ssl), crt: this.at(crts[0]) };
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
      // The arity of an unsupported option is unknown, so the rest of the line cannot be read.
      if (K.SERVER_OPTIONS.includes(o)) this.error(w[i], `server option '${o}' is not supported by gatehouse yet`);
      else this.error(w[i], `unknown server option '${o}'${didYouMean(o, K.SERVER_OPTIONS)}`, '', `'${o}'`);
      return;
    }
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
    }
    const why = K.OPTIONS_IGNORED[o];
    if (why !== undefined) {
      if (why) this.warn(n, `'option ${o}' is ignored: ${why}`);
      return;
    }
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
      const list = p.ruleLists[key];
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
    for (const p of this.proxies) {
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
      if (p.hasBE) this.httpCheckWithoutHttpchk(p);
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
 * buildModel. Throws ConfigError (errors first, then warnings) when a line cannot be understood.
 */
export function parseHaproxyCfg(
  inputs: { file: string; text: string }[],
  env: Record<string, string | undefined> = process.env,
): { doc: unknown; src: SourceMap; warnings: ConfigIssue[] } {
  const p = new CfgParser(env);
  for (const { file, text } of inputs) p.parseFile(file, text);
  const doc = p.errors.length ? null : p.buildDoc();
  if (p.errors.length) throw new ConfigError([...p.errors, ...p.warnings]);
  const positions = p.positions;
  const src: SourceMap = {
    file: inputs[0]?.file ?? '(none)',
    locate(path) {
      const pos = positions.get(pathKey(path));
      return pos ? { file: pos.file, line: pos.line, col: pos.col } : null;
    },
  };
  return { doc, src, warnings: p.warnings };
}
