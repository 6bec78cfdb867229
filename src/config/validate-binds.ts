// Validator: `bind` addresses with their TLS settings, and the stats page of a frontend.
import * as nodePath from 'node:path';
import { type BindAddress, type StatsConfig } from './model';
import { describeValue } from './errors';
import {
  Path,
  Obj,
  STATS_KEYS,
  ENGINES,
  BIND_KEYS,
  SSL_VERSIONS,
  BindTls,
  DEFAULT_STATS_URI,
  DEFAULT_STATS_REALM,
  DEFAULT_PROMETHEUS_URI,
} from './validate-keys';
import { isObj, has, asList } from './validate-checker';
import { expandCrt, checkPemFile, parseHostPort } from './validate-values';
import { BuilderProxy } from './validate-proxy';

export class BuilderBinds extends BuilderProxy {
  /** `defaultCiphers`: global ssl_default_bind_ciphers, for ssl binds without their own */
  binds(v: unknown, path: Path, defaultCiphers: string | null = null, mixedOk = false, defaultEngine: 'uws' | 'node' = 'uws'): BindAddress[] {
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
        tls = this.bindTls(item, p);
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
      if (tls.ssl && engine === 'node') c.error([...p, 'engine'], 'TLS is not served by the node engine yet: an ssl bind runs on uWebSockets.js', 'engine: uws (or no engine) on an ssl bind', '"node"');
      if (acceptProxy && !h2 && (engine ?? defaultEngine) !== 'node') c.error([...p, 'accept_proxy'], 'accept-proxy needs the node engine on this bind (uWebSockets.js cannot read a PROXY header)', 'engine: node (on the bind or in global)', `"${engine ?? defaultEngine}"`);
      if (h2 && tls.ssl) c.error([...p, 'proto'], 'proto h2 on an ssl bind is not supported yet: HTTP/2 runs on plain binds (h2c with prior knowledge)', 'proto h2 on a bind without ssl', '"h2"');
      if (h2 && engine === 'uws') c.error([...p, 'engine'], 'proto h2 needs the node engine (uWebSockets.js has no HTTP/2)', 'engine: node, or no engine', '"uws"');
      out.push({ host: hp.host, port: hp.port, text, ...tls, engine, acceptProxy, ...(h2 ? { proto: 'h2' as const } : {}) });
    });
    // One uWS app serves all binds of a frontend, and an app is either TLS or plain: a frontend
    // (not a listen) that mixes them becomes two (see the caller); a listen cannot.
    if (!mixedOk && out.some((x) => x.ssl) && out.some((x) => !x.ssl)) {
      c.error(path, 'a listen section cannot mix ssl and plain binds: use a frontend (gatehouse runs its ssl binds as a twin frontend) or put them in separate sections', 'all binds ssl, or none', out.map((x) => `"${x.text}"${x.ssl ? ' ssl' : ''}`).join(', '));
    } else if (new Set(out.filter((x) => x.ssl).map((x) => x.ciphers)).size > 1) {
      // ...and an app has one TLS context (and its SNI certificates) for all its binds.
      c.error(path, 'the ssl binds of one frontend must use the same ciphers: put binds with other ciphers in another frontend', 'one cipher list', out.map((x) => `"${x.text}": ${x.ciphers ?? 'default'}`).join(', '));
    }
    return out;
  }

  /** The TLS part of a bind map: `ssl`, `crt` (files or directories), `ssl_min_ver`, `ciphers`. Undefined on error. */
  protected bindTls(o: Obj, p: Path): BindTls | undefined {
    const c = this.c;
    const before = c.errors.length;
    const ssl = c.bool(o, 'ssl', p) ?? false;
    const sslMinVer = c.nullableStr(o, 'ssl_min_ver', p) ?? null;
    const ciphers = this.ciphers(o, 'ciphers', p);
    if (!ssl && ciphers !== null) c.error([...p, 'ciphers'], '"ciphers" without "ssl: true"', 'ssl: true', describeValue(o.ssl ?? false));
    const certs: string[] = [];
    if (sslMinVer !== null) {
      if (!SSL_VERSIONS.includes(sslMinVer)) {
        c.error([...p, 'ssl_min_ver'], 'invalid value', `one of ${SSL_VERSIONS.join(', ')}`, describeValue(sslMinVer));
      } else if (sslMinVer === 'TLSv1.3') {
        c.error([...p, 'ssl_min_ver'], 'ssl_min_ver TLSv1.3 is not supported: uWebSockets.js 20.30 cannot raise the minimum TLS version above TLSv1.2', 'SSLv3, TLSv1.0, TLSv1.1 or TLSv1.2', '"TLSv1.3"');
      } else if (sslMinVer !== 'TLSv1.2') {
        c.warn([...p, 'ssl_min_ver'], `ssl_min_ver ${sslMinVer} has no effect: uWebSockets.js always requires TLSv1.2 or later`);
      }
    }
    const hasCrt = has(o, 'crt') && o.crt !== null && !(Array.isArray(o.crt) && o.crt.length === 0);
    if (ssl && !hasCrt) {
      c.error(p, 'an ssl bind needs a certificate: "crt" is missing', 'crt: a PEM file (certificate chain and private key) or a directory of them', 'nothing');
    } else if (!ssl && hasCrt) {
      c.error([...p, 'crt'], '"crt" without "ssl: true": the certificate would not be used', 'ssl: true', describeValue(o.ssl ?? false));
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
    return c.errors.length === before ? { ssl, certs, sslMinVer, ciphers } : undefined;
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
