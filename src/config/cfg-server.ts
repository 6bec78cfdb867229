// haproxy.cfg reader: `balance`, `server`, `server-template`, server options and `cookie`.
import { didYouMean } from './suggest';
import { type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { Pos, Entry, Section, BALANCE_SIMPLE, BALANCE_KNOWN, COOKIE_OPTIONS, SERVER_VALUED, SERVER_FLAGS, seconds } from './cfg-parser-base';
import { CfgBind } from './cfg-bind';

export class CfgServer extends CfgBind {
  protected balance(s: Section, w: Word[]): void {
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

  protected server(s: Section, w: Word[]): void {
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
   * each with the address. With `resolvers`, each slot takes one of the name's records as they
   * come and go (src/dns/); without, the name is resolved by libc when connecting.
   */
  protected serverTemplate(s: Section, w: Word[]): void {
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
  protected serverOptions(w: Word[], from: number, opts: Map<string, Entry>): void {
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

  protected serverOptionExtra(w: Word[], i: number, _opts: Map<string, Entry>): boolean {
    return this.accepted('server', w[i], `server option ${w[i].text}`);
  }

  /** `cookie <name> [rewrite|insert|prefix] [indirect] [nocache] [postonly] [preserve] [httponly] [secure] [domain <d>] [maxidle <t>] [maxlife <t>]` */
  protected cookie(s: Section, w: Word[]): void {
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
}
