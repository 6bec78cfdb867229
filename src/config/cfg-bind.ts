// haproxy.cfg reader: `bind` lines and their options.
import { type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { Pos, Entry, Section } from './cfg-parser-base';
import { CfgGlobal } from './cfg-global';

export class CfgBind extends CfgGlobal {
  protected bind(s: Section, w: Word[]): void {
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
    let proto: Word | null = null;
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
      if (o === 'proto') {
        // `proto h2`: HTTP/2 with prior knowledge (h2c) on this address, served by the node engine
        proto = this.arg(w, i + 1, 'a protocol: h2');
        if (!proto) return;
        i++;
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
      if (ssl === null && engine === null && acceptProxy === null && proto === null) return this.entry(a, address);
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
      if (proto !== null) {
        value.proto = proto.text;
        sub.proto = this.at(proto);
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

  protected bindOptionExtra(w: Word[], i: number): boolean {
    return this.accepted('bind', w[i], `bind option ${w[i].text}`);
  }
}
