// Validator: a server's TLS (`ssl`, `verify`, `ca-file`, `crt`, `sni`, ...), PROXY protocol
// (`send-proxy`, `send-proxy-v2`) and how its health checks connect (`check-ssl`, `check-sni`,
// `check-send-proxy`). The global `ssl-server-verify` and `ssl-default-server-*` are applied here.
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as nodeTls from 'node:tls';
import type { ServerConfig, ServerSni, ServerTls } from './model';
import { describeValue } from './errors';
import type { Checker } from './validate-checker';
import { has } from './validate-checker';
import { checkPemFile } from './validate-values';
import { type Obj, type Path, SSL_VERSIONS, cipherListProblem } from './validate-keys';

/** The global settings every ssl server starts from. */
export interface ServerTlsDefaults {
  verify: 'none' | 'required';
  ciphers: string | null;
  minVer: string | null;
  maxVer: string | null;
  reuse: boolean;
}

export const DEFAULT_SERVER_TLS: ServerTlsDefaults = { verify: 'required', ciphers: null, minVer: null, maxVer: null, reuse: true };

/** The YAML keys read here (added to SERVER_KEYS). */
export const SERVER_TLS_KEYS = [
  'ssl', 'verify', 'ca_file', 'crt', 'sni', 'ssl_min_ver', 'ssl_max_ver', 'ciphers', 'alpn', 'ssl_reuse', 'verifyhost',
  'send_proxy', 'send_proxy_v2', 'check_ssl', 'check_sni', 'check_send_proxy',
] as const;

const TLS_ONLY = ['verify', 'ca_file', 'crt', 'sni', 'ssl_min_ver', 'ssl_max_ver', 'ciphers', 'alpn', 'ssl_reuse', 'verifyhost'];

/** `str(NAME)` or `req.hdr(NAME)` / `hdr(NAME)` (HAProxy sample expressions; the ones gatehouse evaluates). */
export function parseSni(text: string): ServerSni | null {
  const s = /^str\(([^()\s]+)\)$/.exec(text);
  if (s) return { kind: 'str', value: s[1] };
  const h = /^(?:req\.)?hdr\(([!#$%&'*+.^_`|~0-9A-Za-z-]+)\)$/.exec(text);
  if (h) return { kind: 'hdr', name: h[1].toLowerCase() };
  return null;
}

type Result = Pick<ServerConfig, 'tls' | 'sendProxy' | 'checkTls'>;

export function serverTls(c: Checker, o: Obj, p: Path, d: ServerTlsDefaults): Result {
  const out: Result = {};
  const ssl = c.bool(o, 'ssl', p) ?? false;
  const sp = o.send_proxy;
  if (has(o, 'send_proxy') && sp !== false && sp !== null) {
    if (sp === 'v1' || sp === true) out.sendProxy = 1;
    else if (sp === 'v2') out.sendProxy = 2;
    else c.bad([...p, 'send_proxy'], 'v1 (send-proxy), v2 (send-proxy-v2) or false', sp);
  }
  if (c.bool(o, 'send_proxy_v2', p) === true) out.sendProxy = 2; // also spelt send_proxy_v2: true (v2 wins, as in HAProxy)
  if (!ssl) {
    for (const k of TLS_ONLY) if (has(o, k) && o[k] !== null) c.error([...p, k], `"${k}" without "ssl: true": it would not be used`, 'ssl: true', describeValue(o.ssl ?? false));
  } else {
    const tls = readTls(c, o, p, d);
    if (tls) out.tls = tls;
  }
  // Health checks: HAProxy uses the server's own ssl / send-proxy when the check goes to the
  // server's own address and port (no `port` or `addr`); check-ssl / check-send-proxy force them.
  const ownTarget = !has(o, 'port') && !has(o, 'addr');
  const checkSsl = c.bool(o, 'check_ssl', p) ?? (ssl && ownTarget);
  const checkSendProxy = c.bool(o, 'check_send_proxy', p) ?? false;
  const checkSni = c.str(o, 'check_sni', p, { re: /^[A-Za-z0-9_.-]+$/, expected: 'a host name' }) ?? null;
  if (checkSni !== null && !checkSsl) c.warn([...p, 'check_sni'], '"check_sni" has no effect: health checks of this server do not use TLS (add check_ssl: true)');
  const pp = checkSendProxy ? out.sendProxy ?? 1 : ownTarget ? out.sendProxy ?? 0 : 0;
  if (checkSsl || pp !== 0) {
    // the SNI of a check: check-sni, else the server's constant sni
    const sni = checkSni ?? (out.tls?.sni?.kind === 'str' ? out.tls.sni.value : null);
    out.checkTls = { ssl: checkSsl, sni, sendProxy: pp };
  }
  if (checkSsl && !ssl) {
    // a check over TLS to a plain server still needs the server's TLS settings: HAProxy's
    // check-ssl takes the server line's ca-file / verify; here it needs ssl for them
    c.error([...p, 'check_ssl'], '"check_ssl" needs the server\'s TLS settings: add "ssl: true" (and verify / ca_file)', 'ssl: true', describeValue(o.ssl ?? false));
  }
  return out;
}

function readTls(c: Checker, o: Obj, p: Path, d: ServerTlsDefaults): ServerTls | undefined {
  const before = c.errors.length;
  const verify = c.oneOf(o, 'verify', p, ['none', 'required'] as const) ?? d.verify;
  const caFile = file(c, o, 'ca_file', p, 'ca');
  const crt = file(c, o, 'crt', p, 'crt');
  if (verify === 'required' && caFile === null && c.errors.length === before) {
    // HAProxy 2.6 refuses this too (no CA means nothing to verify against)
    c.error(
      [...p, has(o, 'verify') ? 'verify' : 'ssl'],
      "verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.",
      'ca_file: FILE, or verify: none',
      'no ca_file',
    );
  }
  let sni: ServerSni | null = null;
  const sniText = c.str(o, 'sni', p);
  if (sniText !== undefined) {
    sni = parseSni(sniText);
    if (sni === null) c.error([...p, 'sni'], `sni expression '${sniText}' is not supported by gatehouse yet`, 'str(NAME), req.hdr(NAME) or hdr(NAME)', describeValue(sniText));
  }
  const minVer = version(c, o, 'ssl_min_ver', p) ?? d.minVer;
  const maxVer = version(c, o, 'ssl_max_ver', p) ?? d.maxVer;
  if (minVer !== null && maxVer !== null && SSL_VERSIONS.indexOf(minVer) > SSL_VERSIONS.indexOf(maxVer)) {
    c.error([...p, 'ssl_max_ver'], `ssl_max_ver ${maxVer} is below ssl_min_ver ${minVer}`);
  }
  let ciphers = d.ciphers;
  const ct = c.str(o, 'ciphers', p);
  if (ct !== undefined) {
    const problem = cipherListProblem(ct);
    if (problem !== null) c.error([...p, 'ciphers'], `invalid cipher list: ${problem}`, 'an OpenSSL cipher list', describeValue(ct));
    else ciphers = ct;
  }
  let alpn: string[] | null = null;
  const at = c.str(o, 'alpn', p);
  if (at !== undefined) {
    alpn = at.split(',').filter((x) => x !== '');
    const bad = alpn.find((x) => x !== 'http/1.1');
    if (bad !== undefined) {
      c.error(
        [...p, 'alpn'],
        bad === 'h2' ? 'HTTP/2 to servers is not supported by gatehouse: it speaks HTTP/1.1 to servers' : `ALPN protocol '${bad}' is not supported towards servers`,
        'alpn http/1.1',
        describeValue(at),
      );
    }
  }
  const reuse = c.bool(o, 'ssl_reuse', p) ?? d.reuse;
  let verifyHost: string | false | null = null;
  if (has(o, 'verifyhost')) {
    const v = o.verifyhost;
    if (v === false) verifyHost = false;
    else if (typeof v === 'string' && /^[A-Za-z0-9_.*-]+$/.test(v)) verifyHost = v;
    else c.bad([...p, 'verifyhost'], 'a host name, or false (no-verifyhost)', v);
  }
  // HAProxy: without verifyhost, the name sent in SNI is the one checked
  if (verifyHost === null && sni !== null) verifyHost = sni.kind === 'str' ? sni.value : null;
  if (c.errors.length !== before) return undefined;
  return { verify, caFile, crt, sni, minVer, maxVer, ciphers, alpn, reuse, verifyHost };
}

function version(c: Checker, o: Obj, k: string, p: Path): string | null {
  const v = c.str(o, k, p);
  if (v === undefined) return null;
  if (!SSL_VERSIONS.includes(v) || v === 'SSLv3') {
    c.error([...p, k], 'invalid value', 'one of TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3', describeValue(v));
    return null;
  }
  return v;
}

/** A ca-file (certificates only) or crt (certificate and key) that exists and parses: absolute path, else null. */
function file(c: Checker, o: Obj, k: string, p: Path, kind: 'ca' | 'crt'): string | null {
  const f = c.str(o, k, p, { expected: 'a file path' });
  if (f === undefined) return null;
  if (kind === 'crt') {
    const problem = checkPemFile(f);
    if (problem.error) {
      c.error([...p, k], `client certificate ${f}: ${problem.error}`, 'a PEM file with the client certificate and its private key', describeValue(f));
      return null;
    }
    if (problem.warning) c.warn([...p, k], `client certificate ${f}: ${problem.warning}`);
    return nodePath.resolve(f);
  }
  let text: string;
  try {
    text = fs.readFileSync(f, 'latin1');
  } catch (e) {
    c.error([...p, k], `Couldn't open the ca-file '${f}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'a PEM file of CA certificates', describeValue(f));
    return null;
  }
  try {
    if (!/-----BEGIN CERTIFICATE-----/.test(text)) throw new Error('no CERTIFICATE block in the file');
    nodeTls.createSecureContext({ ca: text });
  } catch (e) {
    c.error([...p, k], `ca-file '${f}': ${(e as Error).message}`, 'a PEM file of CA certificates', describeValue(f));
    return null;
  }
  return nodePath.resolve(f);
}

/**
 * Global `ssl_server_verify` (none|required), `ssl_default_server_ciphers` and
 * `ssl_default_server_options` (HAProxy's words: ssl-min-ver V, ssl-max-ver V, no-sslv3,
 * no-tlsv10, no-tlsv11, no-ssl-reuse, no-tls-tickets).
 */
export function serverTlsDefaults(c: Checker, o: Obj, path: Path): ServerTlsDefaults {
  const d: ServerTlsDefaults = { ...DEFAULT_SERVER_TLS };
  d.verify = c.oneOf(o, 'ssl_server_verify', path, ['none', 'required'] as const) ?? 'required';
  const ct = c.str(o, 'ssl_default_server_ciphers', path);
  if (ct !== undefined) {
    const problem = cipherListProblem(ct);
    if (problem !== null) c.error([...path, 'ssl_default_server_ciphers'], `invalid cipher list: ${problem}`, 'an OpenSSL cipher list', describeValue(ct));
    else d.ciphers = ct;
  }
  const opts = c.str(o, 'ssl_default_server_options', path);
  if (opts === undefined) return d;
  const p = [...path, 'ssl_default_server_options'];
  const w = opts.split(/\s+/).filter((x) => x !== '');
  const floor = (v: string) => {
    if (d.minVer === null || SSL_VERSIONS.indexOf(v) > SSL_VERSIONS.indexOf(d.minVer)) d.minVer = v;
  };
  for (let i = 0; i < w.length; i++) {
    const x = w[i];
    if (x === 'ssl-min-ver' || x === 'ssl-max-ver') {
      const v = w[++i];
      if (v === undefined || !SSL_VERSIONS.includes(v) || v === 'SSLv3') {
        c.error(p, `'${x}' expects a TLS version`, 'TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3', describeValue(v ?? ''));
        continue;
      }
      if (x === 'ssl-min-ver') d.minVer = v;
      else d.maxVer = v;
    } else if (x === 'no-sslv3') {
      floor('TLSv1.0');
    } else if (x === 'no-tlsv10') {
      floor('TLSv1.1');
    } else if (x === 'no-tlsv11') {
      floor('TLSv1.2');
    } else if (x === 'no-ssl-reuse' || x === 'no-tls-tickets') {
      // no-tls-tickets: taken as no resumption at all (stricter than HAProxy, which may still resume by session id)
      d.reuse = false;
    } else {
      c.error(p, `ssl-default-server-options '${x}' is not supported by gatehouse yet`, 'ssl-min-ver, ssl-max-ver, no-sslv3, no-tlsv10, no-tlsv11, no-ssl-reuse, no-tls-tickets', describeValue(x));
    }
  }
  return d;
}
