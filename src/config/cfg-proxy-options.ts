// haproxy.cfg reader: `option` lines (forwardfor, httpchk...), `http-check` and the tcp-cfg.ts sink.
import { didYouMean } from './suggest';
import { type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { cfgCheckOption, TCP_CHECK_OPTIONS, type CfgSink } from './tcp-cfg';
import { Pos, Section, statusRangesOf } from './cfg-parser-base';
import { CfgServer } from './cfg-server';

export class CfgProxyOptions extends CfgServer {
  protected option(s: Section, w: Word[], at: number, on: boolean): void {
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
  protected forwardforOptions(s: Section, w: Word[], n: Word, rest: number): void {
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
  protected optionHttpchk(s: Section, w: Word[], n: Word, rest: number, on: boolean): void {
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

  protected httpCheck(s: Section, w: Word[]): void {
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

  protected httpCheckExpect(s: Section, w: Word[]): void {
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
  protected httpCheckSend(s: Section, w: Word[]): void {
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

  /** What src/config/tcp-cfg.ts needs of this reader to turn tcp-request / tcp-check lines into YAML keys. */
  protected tcpSink(s: Section): CfgSink {
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
}
