// haproxy.cfg reader: `bind` lines and their options.
import { type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { Pos, Entry, Section } from './cfg-parser-base';
import { CfgGlobal } from './cfg-global';
import { isVersionFlag, versionRange, DEFAULT_MIN_VER, DEFAULT_MAX_VER } from './tls-versions';

/** bind options with a value, as the YAML bind key they become */
const TLS_VALUE_OPTIONS: Record<string, string> = {
  'crt-list': 'crt_list', 'ssl-max-ver': 'ssl_max_ver', ciphersuites: 'ciphersuites', curves: 'curves', verify: 'verify',
  'ca-file': 'ca_file', 'crl-file': 'crl_file', alpn: 'alpn',
};
/** bind flags, as the YAML bind key they set to true */
const TLS_FLAG_OPTIONS: Record<string, string> = { 'strict-sni': 'strict_sni', 'no-tls-tickets': 'no_tls_tickets', 'prefer-client-ciphers': 'prefer_client_ciphers' };

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
    /** node-engine TLS options: YAML key -> the value word (or the flag word) */
    const tlsValues = new Map<string, Word>();
    const tlsFlags = new Map<string, Word>();
    const versionFlags: Word[] = [];
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
      if (TLS_FLAG_OPTIONS[o] !== undefined) {
        tlsFlags.set(TLS_FLAG_OPTIONS[o], w[i]);
        continue;
      }
      if (isVersionFlag(o)) {
        versionFlags.push(w[i]);
        continue;
      }
      if (TLS_VALUE_OPTIONS[o] !== undefined && o !== 'alpn') {
        const v = this.arg(w, i + 1, o === 'verify' ? 'none, optional or required' : o === 'ssl-max-ver' ? 'a TLS version such as TLSv1.3' : o === 'curves' ? 'ECDHE groups such as X25519:P-256' : o === 'ciphersuites' ? 'TLSv1.3 suites such as TLS_AES_128_GCM_SHA256' : 'a file');
        if (!v) return;
        i++;
        tlsValues.set(TLS_VALUE_OPTIONS[o], v);
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
        else tlsValues.set('alpn', v);
        continue;
      }
      const tls = ['npn', 'ecdhe', 'allow-0rtt', 'ca-ignore-err', 'crt-ignore-err', 'ca-sign-file', 'generate-certificates', 'no-ca-names'].includes(o) ? ' (gatehouse TLS supports ssl, crt, crt-list, ssl-min-ver, ssl-max-ver, no-sslv3, no-tlsv1x, force-tlsv1x, ciphers, ciphersuites, curves, alpn, strict-sni, verify, ca-file, crl-file and no-tls-tickets)' : '';
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
    const tlsWords = [...tlsValues.values(), ...tlsFlags.values(), ...versionFlags];
    if (ssl === null && tlsWords.length > 0) {
      // HAProxy accepts TLS options on a plain bind and does nothing with them (no-sslv3 on a
      // "bind :::80 v4v6 no-sslv3" is common): a warning each, and they are dropped
      for (const x of tlsWords) this.warn(x, `'bind option ${x === tlsValues.get('alpn') ? 'alpn' : x.text}' is ignored: no 'ssl' on this bind line`);
      tlsValues.clear();
      tlsFlags.clear();
      versionFlags.length = 0;
    }
    if (ssl !== null && crts.length === 0 && !tlsValues.has('crt_list')) {
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
    // no-tlsv1x / force-tlsv1x: the range they leave, written as ssl_min_ver / ssl_max_ver
    let maxVer: Word | null = tlsValues.get('ssl_max_ver') ?? null;
    let minText = minVer?.text ?? null;
    let maxText = maxVer?.text ?? null;
    if (versionFlags.length > 0) {
      const r = versionRange(minText, maxText, versionFlags.map((x) => x.text));
      if (typeof r === 'string') {
        this.error(versionFlags[0], r);
        return;
      }
      if (minText !== null || r.min !== DEFAULT_MIN_VER) {
        minText = r.min;
        minVer ??= versionFlags[0];
      }
      if (maxText !== null || r.max !== DEFAULT_MAX_VER) {
        maxText = r.max;
        maxVer ??= versionFlags[0];
      }
    }
    tlsValues.delete('ssl_max_ver');
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
      if (crts.length > 0) {
        value.crt = crts.length === 1 ? crts[0].text : crts.map((c) => c.text);
        sub.crt = this.at(crts[0]);
      }
      sub.ssl = this.at(ssl);
      if (minVer !== null) {
        value.ssl_min_ver = minText;
        sub.ssl_min_ver = this.at(minVer);
      }
      if (maxVer !== null) {
        value.ssl_max_ver = maxText;
        sub.ssl_max_ver = this.at(maxVer);
      }
      for (const [k, v] of tlsValues) {
        value[k] = v.text;
        sub[k] = this.at(v);
      }
      for (const [k, v] of tlsFlags) {
        value[k] = true;
        sub[k] = this.at(v);
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
