// node:tls server options for an ssl bind of the node engine: the certificates and SNI (crt,
// crt directories, crt-list), protocol versions, TLSv1.2 ciphers and TLSv1.3 suites, curves,
// client certificates (verify, ca-file, crl-file), session tickets and ALPN.
//
// SNI: each certificate serves the DNS names of its subjectAltName and CN (crt-list filters
// replace them); an exact name beats a wildcard, and among certificates claiming one name the
// first loaded wins (as uWS's path does, src/worker/tls.ts). The first certificate is the
// default for a client without SNI or with an unknown name; with strict-sni there is no
// default, so such a handshake fails (HAProxy refuses it too).
//
// verify optional: node:tls can only "ask, and let the handshake finish" (rejectUnauthorized
// false); a certificate that was sent and does not verify is refused right after the handshake
// (rejectUnverified), which is what HAProxy's optional does during it.
import { constants as cryptoConstants } from 'node:crypto';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import type { BindAddress } from '../config/model';
import { certServerNames } from '../worker/tls';

export interface TlsBindSetup {
  options: tls.TlsOptions;
  /** verify optional: close a connection whose client sent a certificate that does not verify */
  rejectUnverified: boolean;
  /** the configured ALPN list (null: no ALPN), h2 offered only while `h2Ready()` says so */
  alpn: string[] | null;
}

/** TLSv1.2 ciphers and TLSv1.3 suites of Node's default list, apart (node:tls takes both in `ciphers`). */
const DEFAULT_LIST = tls.DEFAULT_CIPHERS.split(':');
const DEFAULT_TLS12 = DEFAULT_LIST.filter((c) => !c.startsWith('TLS_')).join(':');
const DEFAULT_TLS13 = DEFAULT_LIST.filter((c) => c.startsWith('TLS_')).join(':');

type Version = tls.SecureVersion;

/**
 * The options for `b` (an ssl bind with its certificates checked at load). `h2Ready`: whether
 * an HTTP/2 server is there to take 'h2' connections (src/worker/alpn.ts). Throws with the
 * file name when a file cannot be read now (a worker restarted after a file went away).
 */
export function tlsBindSetup(b: BindAddress, ticketKeys: Buffer | null, h2Ready: () => boolean): TlsBindSetup {
  const t = b.tlsOpts;
  const ca = t?.caFile ? readFile(t.caFile) : undefined;
  const crl = t?.crlFile ? readFile(t.crlFile) : undefined;
  const common: tls.SecureContextOptions = {
    ciphers: `${b.ciphers ?? DEFAULT_TLS12}:${t?.ciphersuites ?? DEFAULT_TLS13}`,
    minVersion: (b.sslMinVer ?? 'TLSv1.2') as Version,
    maxVersion: (t?.sslMaxVer ?? 'TLSv1.3') as Version,
    // HAProxy's default: the server's cipher preference (prefer-client-ciphers turns it off)
    honorCipherOrder: t?.preferClientCiphers !== true,
    ...(t?.curves ? { ecdhCurve: t.curves } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(crl !== undefined ? { crl } : {}),
    // SSLv3/TLSv1.0/1.1 need OpenSSL's security level 0 (Node's default level refuses them)
    ...(b.sslMinVer !== null && b.sslMinVer !== 'TLSv1.2' && b.sslMinVer !== 'TLSv1.3' && b.ciphers === null ? { ciphers: `${DEFAULT_TLS12}:@SECLEVEL=0:${t?.ciphersuites ?? DEFAULT_TLS13}` } : {}),
  };
  const contextOf = (file: string): tls.SecureContext => {
    const pem = readFile(file);
    return tls.createSecureContext({ ...common, key: pem, cert: pem });
  };

  // certificates and the names they serve, in load order: `crt` files, then crt-list lines
  const listed = new Map((t?.crtList ?? []).map((e) => [e.file, e]));
  const exact = new Map<string, tls.SecureContext>();
  const wild = new Map<string, tls.SecureContext>();
  /** `!name` filters of crt-list lines: that certificate must not serve that name, wildcard or not */
  const denied = new Map<string, Set<tls.SecureContext>>();
  for (const file of b.certs) {
    const ctx = contextOf(file);
    const entry = listed.get(file);
    const names = entry !== undefined && entry.filters.length > 0 ? entry.filters : certServerNames(file);
    for (const n of entry?.excluded ?? []) {
      const set = denied.get(n) ?? new Set<tls.SecureContext>();
      set.add(ctx);
      denied.set(n, set);
    }
    for (const name of names) {
      const map = name.startsWith('*.') ? wild : exact;
      const key = name.startsWith('*.') ? name.slice(2) : name;
      if (!map.has(key)) map.set(key, ctx);
    }
  }
  const strict = t?.strictSni === true;
  const first = b.certs[0];
  const SNICallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    const name = servername.toLowerCase().replace(/\.$/, '');
    const no = denied.get(name);
    let ctx = exact.get(name);
    if (ctx !== undefined && no?.has(ctx) === true) ctx = undefined;
    if (ctx === undefined) {
      const dot = name.indexOf('.');
      if (dot > 0) ctx = wild.get(name.slice(dot + 1));
      if (ctx !== undefined && no?.has(ctx) === true) ctx = undefined;
    }
    if (ctx === undefined && strict) {
      cb(new Error(`strict-sni: no certificate for '${servername}'`));
      return;
    }
    cb(null, ctx);
  };

  const verify = t?.verify ?? 'none';
  const alpn = t?.alpn ?? null;
  const options: tls.TlsOptions = {
    ...common,
    // strict-sni: no default certificate, so a client without SNI fails the handshake
    ...(strict ? {} : { key: readFile(first), cert: readFile(first) }),
    SNICallback,
    requestCert: verify !== 'none',
    rejectUnauthorized: verify === 'required',
    ...(ticketKeys !== null ? { ticketKeys } : {}),
    ...(alpn !== null
      ? {
          // the client's offer against ours, in our order; h2 only when something serves it
          ALPNCallback: ({ protocols }: { protocols: string[] }): string | undefined => {
            for (const p of alpn) if (protocols.includes(p) && (p !== 'h2' || h2Ready())) return p;
            // nothing in common: OpenSSL would go on without ALPN, but undefined here is a fatal
            // alert, so an HTTP/1 client gets HTTP/1 (what it would speak without ALPN)
            if (protocols.includes('http/1.1')) return 'http/1.1';
            return protocols.includes('http/1.0') ? 'http/1.0' : undefined;
          },
        }
      : {}),
  };
  if (t !== undefined && !t.tlsTickets) {
    // SSL_OP_NO_TICKET: no tickets issued; resumption by session ID is not cached either
    options.secureOptions = (options.secureOptions ?? 0) | cryptoConstants.SSL_OP_NO_TICKET;
  }
  return { options, rejectUnverified: verify === 'optional', alpn };
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
