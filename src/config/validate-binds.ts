// Validator: `bind` addresses with their TLS settings, and the stats page of a frontend.
import * as nodePath from 'node:path';
import * as fs from 'node:fs';
import { type BindAddress, type BindTlsOptions, type StatsConfig } from './model';
import { readCrtList } from './crt-list';
import { DEFAULT_MAX_VER, DEFAULT_MIN_VER, versionRange, type DefaultBindOptions } from './tls-versions';
import { nodeTlsNeeds } from '../worker/engine';
import { describeValue } from './errors';
import {
  Path,
  Obj,
  STATS_KEYS,
  ENGINES,
  BIND_KEYS,
  SSL_VERSIONS,
  ALPN_NAMES,
  BindTls,
  secureContextProblem,
  DEFAULT_STATS_URI,
  DEFAULT_STATS_REALM,
  DEFAULT_PROMETHEUS_URI,
} from './validate-keys';
import { isObj, has, asList } from './validate-checker';
import { expandCrt, checkPemFile, parseHostPort } from './validate-values';
import { BuilderProxy } from './validate-proxy';

/** Global defaults of ssl binds: ssl-default-bind-ciphersuites and ssl-default-bind-options. */
export interface BindTlsDefaults {
  ciphersuites: string | null;
  options: DefaultBindOptions | null;
}

export class BuilderBinds extends BuilderProxy {
  /** `defaultCiphers`: global ssl_default_bind_ciphers, for ssl binds without their own */
  binds(
    v: unknown,
    path: Path,
    defaultCiphers: string | null = null,
    mixedOk = false,
    defaultEngine: 'uws' | 'node' = 'uws',
    tlsDefaults: BindTlsDefaults = { ciphersuites: null, options: null },
    /** global writes `engine uws` (an http section): a bind without its own engine is held to it */
    globalUws = false,
  ): BindAddress[] {
    const c = this.c;
    const out: BindAddress[] = [];
    const expected = '"ADDR:PORT" such as "*:80", "127.0.0.1:8080" or "[::]:443", or { address, ssl: true, crt: FILE_OR_DIR }';
    if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) return out;
    const seen = new Set<string>();
    asList(v).forEach((item, i) => {
      const p = Array.isArray(v) ? [...path, i] : path;
      let text: string;
      let tls: BindTls | undefined = { ssl: false, certs: [], sslMinVer: null, ciphers: null };
      let engine: 'uws' | 'node' | null = null;
      let acceptProxy = false;
      let h2 = false;
      if (isObj(item)) {
        c.keys(item, p, BIND_KEYS, 'bind');
        engine = c.oneOf(item, 'engine', p, ENGINES) ?? null;
        acceptProxy = c.bool(item, 'accept_proxy', p) ?? false;
        h2 = (c.oneOf(item, 'proto', p, ['h2']) ?? null) === 'h2';
        const a = c.str(item, 'address', p, { expected: '"ADDR:PORT"' });
        if (a === undefined) {
          if (!has(item, 'address')) c.error(p, 'missing required key "address"', '"ADDR:PORT" such as "*:443"', 'nothing');
          return;
        }
        text = a;
        tls = this.bindTls(item, p, tlsDefaults);
      } else if (typeof item === 'string') {
        text = item;
      } else {
        c.bad(p, expected, item);
        return;
      }
      const hp = parseHostPort(text.trim(), true);
      if (typeof hp === 'string') {
        c.error(isObj(item) ? [...p, 'address'] : p, `invalid bind address: ${hp}`, expected, describeValue(text));
        return;
      }
      if (tls === undefined) return;
      const key = `${hp.host}|${hp.port}`;
      if (seen.has(key)) {
        c.error(p, `duplicate bind "${text}" in the same section`);
        return;
      }
      seen.add(key);
      if (tls.ssl && tls.ciphers === null) tls.ciphers = defaultCiphers;
      const bind: BindAddress = { host: hp.host, port: hp.port, text, ...tls, engine, acceptProxy, ...(h2 ? { proto: 'h2' as const } : {}) };
      const needs = nodeTlsNeeds(bind);
      if (needs !== null && engine === 'uws') c.error([...p, 'engine'], `this ssl bind asks for ${needs}, which uWebSockets.js 20.30 cannot do: it runs on the node engine`, 'engine: node (or no engine)', '"uws"');
      if (tls.ssl && tls.sslMinVer !== null && tls.sslMinVer !== 'TLSv1.2' && tls.sslMinVer !== 'TLSv1.3' && needs === null && !acceptProxy && (engine ?? defaultEngine) === 'uws') {
        c.warn([...p, 'ssl_min_ver'], `ssl_min_ver ${tls.sslMinVer} has no effect on uWebSockets.js, which always requires TLSv1.2 or later (engine: node applies it, where OpenSSL allows)`);
      }
      // accept-proxy binds run on the node engine by themselves (src/worker/engine.ts), ssl ones
      // too (PROXY header, then TLS on the same socket); only a written `engine uws` says otherwise
      if (acceptProxy && !h2 && (engine === 'uws' || (engine === null && globalUws))) {
        c.error([...p, engine === 'uws' ? 'engine' : 'accept_proxy'], `accept-proxy needs the node engine (uWebSockets.js cannot read a PROXY header), but ${engine === 'uws' ? 'this bind says engine uws' : 'global says engine uws'}`, engine === 'uws' ? 'engine: node on this bind, or no engine' : 'engine: node on this bind', '"uws"');
      }
      if (h2 && tls.ssl) c.error([...p, 'proto'], 'proto h2 on an ssl bind: use alpn h2,http/1.1 (ALPN chooses HTTP/2 over TLS); proto h2 is HTTP/2 with prior knowledge on plain binds', 'alpn h2,http/1.1 on an ssl bind, or proto h2 on a bind without ssl', '"h2"');
      if (h2 && engine === 'uws') c.error([...p, 'engine'], 'proto h2 needs the node engine (uWebSockets.js has no HTTP/2)', 'engine: node, or no engine', '"uws"');
      out.push(bind);
    });
    // One uWS app serves all binds of a frontend, and an app is either TLS or plain: a frontend
    // (not a listen) that mixes them becomes two (see the caller); a listen cannot.
    if (!mixedOk && out.some((x) => x.ssl) && out.some((x) => !x.ssl)) {
      c.error(path, 'a listen section cannot mix ssl and plain binds: use a frontend (gatehouse runs its ssl binds as a twin frontend) or put them in separate sections', 'all binds ssl, or none', out.map((x) => `"${x.text}"${x.ssl ? ' ssl' : ''}`).join(', '));
    } else if (new Set(out.filter((x) => x.ssl && !x.acceptProxy && nodeTlsNeeds(x) === null).map((x) => x.ciphers)).size > 1) {
      // ...and an app has one TLS context (and its SNI certificates) for all its binds.
      c.error(path, 'the ssl binds of one frontend must use the same ciphers: put binds with other ciphers in another frontend', 'one cipher list', out.map((x) => `"${x.text}": ${x.ciphers ?? 'default'}`).join(', '));
    }
    return out;
  }

  /** The TLS part of a bind map: `ssl`, `crt` (files or directories), `ssl_min_ver`, `ciphers` and the node-only options. Undefined on error. */
  protected bindTls(o: Obj, p: Path, defaults: BindTlsDefaults = { ciphersuites: null, options: null }): BindTls | undefined {
    const c = this.c;
    const before = c.errors.length;
    const ssl = c.bool(o, 'ssl', p) ?? false;
    let sslMinVer = c.nullableStr(o, 'ssl_min_ver', p) ?? null;
    let sslMaxVer = c.nullableStr(o, 'ssl_max_ver', p) ?? null;
    const ciphers = this.ciphers(o, 'ciphers', p);
    if (!ssl && ciphers !== null) c.error([...p, 'ciphers'], '"ciphers" without "ssl: true"', 'ssl: true', describeValue(o.ssl ?? false));
    const certs: string[] = [];
    for (const [key, v] of [['ssl_min_ver', sslMinVer], ['ssl_max_ver', sslMaxVer]] as const) {
      if (v !== null && !SSL_VERSIONS.includes(v)) c.error([...p, key], 'invalid value', `one of ${SSL_VERSIONS.join(', ')}`, describeValue(v));
    }
    if (ssl && c.errors.length === before) {
      // global ssl-default-bind-options first, then the bind's own versions
      const d = defaults.options;
      const range = versionRange(sslMinVer ?? d?.minVer ?? null, sslMaxVer ?? d?.maxVer ?? null, sslMinVer === null && sslMaxVer === null ? d?.flags ?? [] : []);
      if (typeof range === 'string') c.error([...p, sslMinVer !== null ? 'ssl_min_ver' : 'ssl_max_ver'], range);
      else {
        // the defaults are written as null: a bind that says nothing stays one uWS can serve
        sslMinVer = range.min === DEFAULT_MIN_VER && sslMinVer === null ? null : range.min;
        sslMaxVer = range.max === DEFAULT_MAX_VER ? null : range.max;
      }
    }
    const hasCrt = has(o, 'crt') && o.crt !== null && !(Array.isArray(o.crt) && o.crt.length === 0);
    const crtList = c.nullableStr(o, 'crt_list', p, { expected: 'a crt-list file' }) ?? null;
    if (ssl && !hasCrt && crtList === null) {
      c.error(p, 'an ssl bind needs a certificate: "crt" is missing', 'crt: a PEM file (certificate chain and private key) or a directory of them', 'nothing');
    } else if (!ssl && (hasCrt || crtList !== null)) {
      c.error([...p, hasCrt ? 'crt' : 'crt_list'], `"${hasCrt ? 'crt' : 'crt_list'}" without "ssl: true": the certificate would not be used`, 'ssl: true', describeValue(o.ssl ?? false));
    } else if (!ssl && sslMinVer !== null) {
      c.error([...p, 'ssl_min_ver'], '"ssl_min_ver" without "ssl: true"', 'ssl: true', describeValue(o.ssl ?? false));
    }
    if (ssl && hasCrt) {
      asList(o.crt).forEach((f, i) => {
        const fp = Array.isArray(o.crt) ? [...p, 'crt', i] : [...p, 'crt'];
        if (typeof f !== 'string' || f === '') {
          c.bad(fp, 'a PEM file or a directory of PEM files', f);
          return;
        }
        for (const file of expandCrt(f)) {
          if (file.startsWith('!')) {
            c.error(fp, file.slice(1), 'a PEM file with the certificate chain and its private key, or a directory of *.pem files', `"${f}"`);
            continue;
          }
          const problem = checkPemFile(file);
          if (problem.error) c.error(fp, `certificate ${file}: ${problem.error}`, 'a PEM file with the certificate chain and its matching private key', `"${file}"`);
          else {
            if (problem.warning) c.warn(fp, `certificate ${file}: ${problem.warning}`);
            const abs = nodePath.resolve(file);
            if (!certs.includes(abs)) certs.push(abs);
          }
        }
      });
    }
    const opts = this.bindTlsOptions(o, p, ssl, defaults, sslMaxVer, crtList);
    if (opts !== null) for (const e of opts.crtList) if (!certs.includes(e.file)) certs.push(e.file);
    if (c.errors.length !== before) return undefined;
    return ssl && opts !== null ? { ssl, certs, sslMinVer, ciphers, tlsOpts: opts } : { ssl, certs, sslMinVer, ciphers };
  }

  /** The node-engine TLS options of a bind map (null without ssl; errors for options given without ssl). */
  private bindTlsOptions(o: Obj, p: Path, ssl: boolean, defaults: BindTlsDefaults, sslMaxVer: string | null, crtListFile: string | null): BindTlsOptions | null {
    const c = this.c;
    const present = ['ssl_max_ver', 'ciphersuites', 'curves', 'strict_sni', 'alpn', 'verify', 'ca_file', 'crl_file', 'no_tls_tickets', 'prefer_client_ciphers'].filter((k) => has(o, k) && o[k] !== null);
    if (!ssl) {
      for (const k of present) c.error([...p, k], `"${k}" without "ssl: true"`, 'ssl: true', describeValue(o.ssl ?? false));
      return null;
    }
    const ciphersuites = c.nullableStr(o, 'ciphersuites', p, { expected: 'TLSv1.3 suites such as TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256' }) ?? defaults.ciphersuites;
    if (ciphersuites !== null && ciphersuites !== undefined) {
      // node:tls takes TLSv1.3 suites in its `ciphers` option: names that start with TLS_
      const notSuite = ciphersuites.split(':').find((x) => !x.startsWith('TLS_'));
      const problem = notSuite !== undefined ? `'${notSuite}' is not a TLSv1.3 suite (those are named TLS_...)` : secureContextProblem({ ciphers: ciphersuites });
      if (problem !== null) c.error([...p, 'ciphersuites'], `invalid TLSv1.3 cipher suites: ${problem}`, 'TLSv1.3 suites such as TLS_AES_128_GCM_SHA256', describeValue(ciphersuites));
    }
    const curves = c.nullableStr(o, 'curves', p, { expected: 'ECDHE groups such as X25519:P-256' }) ?? null;
    if (curves !== null) {
      const problem = secureContextProblem({ ecdhCurve: curves });
      if (problem !== null) c.error([...p, 'curves'], `invalid curves: ${problem}`, 'ECDHE groups such as X25519:P-256', describeValue(curves));
    }
    let alpn: string[] | null = null;
    if (has(o, 'alpn') && o.alpn !== null) {
      const list = typeof o.alpn === 'string' ? o.alpn.split(',') : Array.isArray(o.alpn) ? o.alpn : null;
      if (list === null || list.length === 0 || list.some((x) => typeof x !== 'string' || x === '')) c.bad([...p, 'alpn'], 'a protocol list such as "h2,http/1.1"', o.alpn);
      else {
        const unknown = (list as string[]).filter((x) => !ALPN_NAMES.includes(x));
        if (unknown.length > 0) c.error([...p, 'alpn'], `unknown ALPN protocol ${unknown.map((x) => `'${x}'`).join(', ')}`, `protocols among ${ALPN_NAMES.join(', ')}`, describeValue(o.alpn));
        else alpn = list as string[];
      }
    }
    const verify = c.oneOf(o, 'verify', p, ['none', 'optional', 'required'] as const) ?? 'none';
    const errorsBeforeCa = c.errors.length;
    const caFile = this.tlsFile(o, 'ca_file', p, 'ca');
    const caBad = c.errors.length !== errorsBeforeCa;
    const crlFile = this.tlsFile(o, 'crl_file', p, 'crl');
    if (verify !== 'none' && caFile === null && !caBad) {
      c.error([...p, 'verify'], `verify ${verify} needs a CA file to check client certificates against`, 'ca_file: a PEM file of CA certificates', 'no ca_file');
    }
    if (crlFile !== null && caFile === null) c.error([...p, 'crl_file'], 'crl_file without ca_file', 'ca_file too', 'no ca_file');
    const crtList = crtListFile === null ? [] : this.crtList(crtListFile, [...p, 'crt_list']);
    return {
      sslMaxVer,
      ciphersuites: ciphersuites ?? null,
      curves,
      strictSni: c.bool(o, 'strict_sni', p) ?? false,
      alpn,
      verify,
      caFile,
      crlFile,
      tlsTickets: !((c.bool(o, 'no_tls_tickets', p) ?? false) || defaults.options?.noTlsTickets === true),
      crtList,
      ...((c.bool(o, 'prefer_client_ciphers', p) ?? false) || defaults.options?.preferClientCiphers === true ? { preferClientCiphers: true } : {}),
    };
  }

  /** A CA or CRL PEM file: readable, and OpenSSL takes it. Absolute path, or null. */
  private tlsFile(o: Obj, key: string, p: Path, kind: 'ca' | 'crl'): string | null {
    const c = this.c;
    const f = c.nullableStr(o, key, p, { expected: kind === 'ca' ? 'a PEM file of CA certificates' : 'a PEM certificate revocation list' }) ?? null;
    if (f === null) return null;
    let text: string;
    try {
      text = fs.readFileSync(f, 'latin1');
    } catch (e) {
      c.error([...p, key], `${f}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'a readable PEM file', describeValue(f));
      return null;
    }
    const problem = secureContextProblem(kind === 'ca' ? { ca: text } : { crl: text });
    if (problem !== null || !text.includes(kind === 'ca' ? '-----BEGIN CERTIFICATE-----' : '-----BEGIN X509 CRL-----')) {
      c.error([...p, key], `${f}: not a ${kind === 'ca' ? 'PEM CA certificate file' : 'PEM CRL'}${problem !== null ? ` (${problem})` : ''}`, kind === 'ca' ? 'PEM CERTIFICATE blocks' : 'a PEM X509 CRL block', describeValue(f));
      return null;
    }
    return nodePath.resolve(f);
  }

  /** A crt-list file's entries; each bad line is an error naming the list file and line. */
  private crtList(file: string, p: Path): BindTlsOptions['crtList'] {
    const c = this.c;
    const r = readCrtList(file);
    for (const e of r.errors) c.error(p, `crt-list ${e}`, 'lines "cert.pem [sni filters]"', describeValue(file));
    for (const w of r.warnings) c.warn(p, `crt-list ${w}`);
    return r.entries;
  }

  stats(v: unknown, path: Path): StatsConfig | null {
    const c = this.c;
    if (v === null || v === false) return null;
    const o = v === true ? {} : c.map(v, path, 'a stats map { enable, uri, auth, ... } or true', false);
    if (!o) return null;
    c.keys(o, path, STATS_KEYS, 'stats');
    const enable = c.bool(o, 'enable', path) ?? true; // like HAProxy, `stats uri` alone enables stats
    const uri = c.str(o, 'uri', path, { re: /^\/[\x21-\x7e]*$/, expected: 'a path starting with "/" without spaces' });
    const auth: { user: string; password: string }[] = [];
    if (has(o, 'auth') && o.auth !== null) {
      asList(o.auth).forEach((a, i) => {
        const p = Array.isArray(o.auth) ? [...path, 'auth', i] : [...path, 'auth'];
        const colon = typeof a === 'string' ? a.indexOf(':') : -1;
        if (typeof a !== 'string' || colon < 1) {
          c.bad(p, '"USER:PASSWORD"', a);
          return;
        }
        auth.push({ user: a.slice(0, colon), password: a.slice(colon + 1) });
      });
    }
    let prometheus: string | null = null;
    if (has(o, 'prometheus')) {
      const pv = o.prometheus;
      if (pv === true) prometheus = DEFAULT_PROMETHEUS_URI;
      else if (pv === false || pv === null) prometheus = null;
      else prometheus = c.str(o, 'prometheus', path, { re: /^\/[\x21-\x7e]*$/, expected: 'true, false or a path starting with "/"' }) ?? null;
    }
    const admin = c.bool(o, 'admin', path) ?? false;
    if (enable && admin && auth.length === 0 && !(has(o, 'auth') && o.auth !== null)) {
      c.warn([...path, 'admin'], 'admin actions are enabled without auth: anyone who reaches the stats page can change servers');
    }
    const stats: StatsConfig = {
      enable,
      uri: uri ?? DEFAULT_STATS_URI,
      auth,
      realm: c.str(o, 'realm', path) ?? DEFAULT_STATS_REALM,
      refresh: c.duration(o, 'refresh', path) ?? 0,
      hideVersion: c.bool(o, 'hide_version', path) ?? false,
      admin,
      prometheus,
    };
    // Consumers test `stats !== null`; a disabled block is the same as none.
    return enable ? stats : null;
  }
}
