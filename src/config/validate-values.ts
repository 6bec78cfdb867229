// Validator value checks that need more than a type: TLS certificate files, host:port,
// log targets, expected status ranges.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as nodePath from 'node:path';
import { didYouMean } from './suggest';
import { HOSTNAME_RE } from './validate-keys';
import { asList } from './validate-checker';

// ---- TLS certificates ----

/**
 * A `crt` argument as files: a directory stands for its *.pem files, sorted (HAProxy loads a
 * directory's certificates too). Problems come back as one entry starting with "!".
 */
export function expandCrt(f: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(f);
  } catch (e) {
    return [`!certificate ${f}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`];
  }
  if (!st.isDirectory()) return [f];
  let names: string[];
  try {
    names = fs.readdirSync(f).filter((n) => n.endsWith('.pem')).sort();
  } catch (e) {
    return [`!certificate directory ${f}: cannot list it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`];
  }
  if (names.length === 0) return [`!certificate directory ${f} holds no *.pem file`];
  return names.map((n) => nodePath.join(f, n));
}

/**
 * Checks one combined PEM (HAProxy's `crt`): readable, a CERTIFICATE and a PRIVATE KEY block,
 * and the key belongs to the (first, leaf) certificate. uWS would otherwise start a listener
 * that fails every handshake.
 */
export function checkPemFile(file: string): { error?: string; warning?: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    return { error: `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(text)) return { error: 'no CERTIFICATE block in the file' };
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) return { error: 'the private key is encrypted; gatehouse needs an unencrypted key' };
  if (!/-----BEGIN (?:RSA |EC |DSA )?PRIVATE KEY-----/.test(text)) return { error: 'no PRIVATE KEY block in the file (HAProxy-style crt files hold the certificate chain and the key)' };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(text);
  } catch (e) {
    return { error: `the certificate cannot be parsed (${(e as Error).message})` };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (e) {
    return { error: `the private key cannot be parsed (${(e as Error).message})` };
  }
  if (!cert.checkPrivateKey(key)) return { error: 'the private key does not match the certificate' };
  const to = Date.parse(cert.validTo);
  if (Number.isFinite(to) && to < Date.now()) return { warning: `the certificate expired on ${cert.validTo}` };
  return {};
}

// ---- addresses ----

export function validHost(h: string): boolean {
  return isIP(h) !== 0 || HOSTNAME_RE.test(h);
}

/**
 * "HOST:PORT", "[V6]:PORT" or "V6:PORT" (the last colon separates the port, as in HAProxy).
 * For binds, "*" and an empty host mean every IPv4 address.
 */
export function parseHostPort(text: string, forBind: boolean): { host: string; port: number } | string {
  let host: string;
  let portText: string;
  const br = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (br) {
    host = br[1];
    portText = br[2];
    if (isIP(host) !== 6) return `"${host}" is not an IPv6 address`;
  } else {
    const i = text.lastIndexOf(':');
    if (i < 0) return 'the port is missing';
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (host.includes(':') && isIP(host) !== 6) return `"${host}" is not an IPv6 address (write [ADDR]:PORT)`;
  }
  if (!/^\d{1,5}$/.test(portText)) return `"${portText}" is not a port number`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${port} is out of range 1-65535`;
  if (forBind && (host === '*' || host === '')) host = '0.0.0.0';
  else if (host === '' || host === '*') return 'a server needs a host';
  else if (!validHost(host)) return `"${host}" is not an IP address or host name`;
  return { host, port };
}

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/**
 * stdout, stderr, file:PATH, unix:PATH, udp://HOST[:PORT]; also HAProxy's own spellings, as the
 * log sink reads them: /PATH (unix socket), IP[:PORT] and HOST:PORT (UDP syslog, port 514 by default).
 */
export function logTargetProblem(t: string): string | null {
  if (t === 'stdout' || t === 'stderr') return null;
  if (/^(file|unix):./.test(t) || t.startsWith('/')) return null;
  const udp = t.startsWith('udp://') ? t.slice(6) : t;
  if (isIP(udp) !== 0 || (t !== udp && validHost(udp))) return null;
  if (udp.includes(':')) {
    const hp = parseHostPort(udp, false);
    return typeof hp === 'string' ? `invalid UDP log target: ${hp}` : null;
  }
  return `unknown log target${didYouMean(t, ['stdout', 'stderr'])}`;
}

/** "200-399", "200,204", 200, or a list of these -> inclusive ranges; a string is the problem. */
export function expectStatus(v: unknown): [number, number][] | string {
  const out: [number, number][] = [];
  const parts: unknown[] = [];
  for (const item of asList(v)) {
    if (typeof item === 'string') parts.push(...item.split(','));
    else parts.push(item);
  }
  if (parts.length === 0) return 'no status given';
  for (const part of parts) {
    let lo: number;
    let hi: number;
    if (typeof part === 'number') {
      lo = hi = part;
    } else if (typeof part === 'string') {
      const m = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(part);
      if (!m) return `"${part.trim()}" is not a status or range`;
      lo = Number(m[1]);
      hi = m[2] === undefined ? lo : Number(m[2]);
    } else {
      return 'not a status';
    }
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 100 || hi > 599 || lo > hi) {
      return `${lo === hi ? lo : `${lo}-${hi}`} is not a status range within 100-599`;
    }
    out.push([lo, hi]);
  }
  return out;
}
