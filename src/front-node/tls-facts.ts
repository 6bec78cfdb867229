// What rules, headers and logs can ask about a node:tls client connection (ssl_fc_* and ssl_c_*
// fetches), read from the TLSSocket on first use and kept for the connection's later requests.
// Texts as HAProxy gives them: DNs in OpenSSL's one-line form (/C=FR/O=Example/CN=name),
// protocol "TLSv1.3", cipher OpenSSL's name. ssl_c_serial and ssl_c_sha1 are binary in HAProxy;
// here they are their upper-case hex text (what HAProxy's `,hex` would print).
import { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';

/** OpenSSL's X509_V_ERR_* codes by the names node:tls reports (ssl_c_verify is the number). */
const VERIFY_CODES: Record<string, number> = {
  UNABLE_TO_GET_ISSUER_CERT: 2,
  UNABLE_TO_GET_CRL: 3,
  CERT_SIGNATURE_FAILURE: 7,
  CERT_NOT_YET_VALID: 9,
  CERT_HAS_EXPIRED: 10,
  DEPTH_ZERO_SELF_SIGNED_CERT: 18,
  SELF_SIGNED_CERT_IN_CHAIN: 19,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 20,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 21,
  CERT_CHAIN_TOO_LONG: 22,
  CERT_REVOKED: 23,
  INVALID_CA: 24,
  INVALID_PURPOSE: 26,
  CERT_UNTRUSTED: 27,
  CERT_REJECTED: 28,
};

/** The ssl fetches answered from a connection (src/acl/eval.ts F_SSL). */
export type SslFetch = 'ssl_fc_sni' | 'ssl_fc_protocol' | 'ssl_fc_cipher' | 'ssl_fc_alpn' | 'ssl_c_used' | 'ssl_c_verify' | 'ssl_c_s_dn' | 'ssl_c_i_dn' | 'ssl_c_serial' | 'ssl_c_sha1';
export const SSL_FETCHES: readonly SslFetch[] = ['ssl_fc_sni', 'ssl_fc_protocol', 'ssl_fc_cipher', 'ssl_fc_alpn', 'ssl_c_used', 'ssl_c_verify', 'ssl_c_s_dn', 'ssl_c_i_dn', 'ssl_c_serial', 'ssl_c_sha1'];

export class TlsFacts {
  private cert: X509Certificate | null | undefined = undefined;

  constructor(private readonly socket: tls.TLSSocket) {}

  /** The fetch's text; null when the connection has no such sample (no SNI, no client certificate). */
  text(fetch: string): string | null {
    const s = this.socket;
    switch (fetch) {
      case 'ssl_fc_sni': {
        const n = (s as tls.TLSSocket & { servername?: string | false }).servername;
        return typeof n === 'string' && n !== '' ? n : null;
      }
      case 'ssl_fc_protocol':
        return s.getProtocol();
      case 'ssl_fc_cipher':
        return s.getCipher()?.name ?? null;
      case 'ssl_fc_alpn': {
        const p = s.alpnProtocol;
        return typeof p === 'string' && p !== '' ? p : null;
      }
      case 'ssl_c_used':
        return this.peerCert() !== null ? '1' : '0';
      case 'ssl_c_verify':
        return String(this.verifyCode());
    }
    const c = this.peerCert();
    if (c === null) return null;
    switch (fetch) {
      case 'ssl_c_s_dn':
        return oneLine(c.subject);
      case 'ssl_c_i_dn':
        return oneLine(c.issuer);
      case 'ssl_c_serial':
        return c.serialNumber.toUpperCase();
      case 'ssl_c_sha1':
        return c.fingerprint.replace(/:/g, '');
    }
    return null;
  }

  /** 0 when the client certificate verified (or none was sent), else OpenSSL's X509_V_ERR code. */
  verifyCode(): number {
    if (this.socket.authorized || this.peerCert() === null) return 0;
    const e = this.socket.authorizationError as unknown;
    const name = e instanceof Error ? (e as NodeJS.ErrnoException).code ?? e.message : String(e ?? '');
    return VERIFY_CODES[name] ?? 1;
  }

  private peerCert(): X509Certificate | null {
    if (this.cert !== undefined) return this.cert;
    const raw = this.socket.getPeerX509Certificate?.();
    this.cert = raw ?? null;
    return this.cert;
  }
}

/** "C=FR\nO=Example\nCN=name" (node's form) as OpenSSL's one-line "/C=FR/O=Example/CN=name". */
function oneLine(dn: string): string {
  return dn
    .split('\n')
    .filter((x) => x !== '')
    .map((x) => '/' + x)
    .join('');
}
