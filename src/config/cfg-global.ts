// haproxy.cfg reader, global section: global settings, `stats socket`, and the `log` lines
// shared by global and proxy sections.
import { isIP } from 'node:net';
import { didYouMean } from './suggest';
import { type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { CfgParserBase, Pos, LogItem, LOG_FORMATS, unsupported } from './cfg-parser-base';

export class CfgGlobal extends CfgParserBase {
  /**
   * `stats socket PATH [mode M] [level L] [...]` (the runtime API, src/stats/cli.ts) and
   * `stats timeout T`. Socket options without a meaning here are ignored with a warning.
   */
  protected globalStats(w: Word[]): void {
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

  protected globalLine(w: Word[]): void {
    const kw = w[0].text;
    const g = this.global;
    if ((kw === 'ssl-default-bind-ciphers' || kw === 'ssl-default-server-ciphers') && w[1]?.text === 'PROFILE=SYSTEM' && this.noMore(w, 2, kw)) {
      // RHEL/Fedora's "use the system crypto policy": OpenSSL's own defaults, which are ours
      this.warn(w[1], `'${kw} PROFILE=SYSTEM' is ignored: TLSv1.2 ciphers stay OpenSSL's defaults`);
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
      case 'tune.maxaccept':
      case 'tune.h2.max-concurrent-streams':
      case 'tune.h2.initial-window-size':
      case 'tune.h2.header-table-size':
      case 'engine': {
        const v = this.arg(w, 1, kw === 'pidfile' ? '<file>' : kw === 'hard-stop-after' ? '<time>' : kw === 'ssl-default-bind-ciphers' ? '<ciphers>' : kw === 'engine' ? 'uws or node (gatehouse-only)' : '<number>');
        if (!v || !this.noMore(w, 2, kw)) return;
        const key = { pidfile: 'pidfile', maxconn: 'maxconn', nbthread: 'workers', 'hard-stop-after': 'grace', 'ssl-default-bind-ciphers': 'ssl_default_bind_ciphers', 'tune.bufsize': 'max_header_size', 'tune.http.maxhdr': 'max_headers', 'tune.maxaccept': 'max_accept', 'tune.h2.max-concurrent-streams': 'h2_max_concurrent_streams', 'tune.h2.initial-window-size': 'h2_initial_window_size', 'tune.h2.header-table-size': 'h2_header_table_size', engine: 'engine' }[kw];
        g.set(key, this.entry(v));
        return;
      }
      case 'ssl-server-verify':
      case 'ssl-default-server-ciphers': {
        const v = this.arg(w, 1, kw === 'ssl-server-verify' ? 'none or required' : '<ciphers>');
        if (!v || !this.noMore(w, 2, kw)) return;
        g.set(kw === 'ssl-server-verify' ? 'ssl_server_verify' : 'ssl_default_server_ciphers', this.entry(v));
        return;
      }
      case 'ssl-default-server-options':
        if (this.arg(w, 1, '<options>')) g.set('ssl_default_server_options', this.entry(w[1], w.slice(1).map((x) => x.text).join(' ')));
        return;
      case 'ssl-default-bind-ciphersuites': {
        const v = this.arg(w, 1, '<ciphersuites>');
        if (v && this.noMore(w, 2, kw)) g.set('ssl_default_bind_ciphersuites', this.entry(v));
        return;
      }
      case 'ssl-default-bind-options': {
        // the words as written; the validator reads them (src/config/tls-versions.ts)
        const v = this.arg(w, 1, 'options such as ssl-min-ver TLSv1.2 no-tls-tickets');
        if (v) g.set('ssl_default_bind_options', this.entry(v, w.slice(1).map((x) => x.text).join(' ')));
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
  protected logLine(w: Word[]): LogItem | null {
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
  protected logTarget(t: Word): string | null {
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
}
