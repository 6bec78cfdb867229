// TLS towards one server (`server ... ssl`): one secure context per server and worker, built
// once from its ca-file / crt / ciphers / versions, and the last session the server gave us,
// offered again on the next connection (HAProxy's ssl-reuse) unless `no-ssl-reuse`.
// A certificate that fails verification ends the connection like a refused connect: the owner
// answers 503 (SC); there is never a fallback to plain TCP.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ServerTls } from '../config/model';

/** Told about a handshake that failed once TCP was up (a bad certificate, a wrong protocol). */
export type TlsFailureReport = (text: string) => void;

export class ServerTlsDialer {
  private readonly context: tls.SecureContext;
  private session: Buffer | undefined = undefined;
  private readonly checkIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined;

  constructor(
    readonly cfg: ServerTls,
    /** "backend/server", for log lines */
    readonly label: string,
    private readonly report: TlsFailureReport | null,
  ) {
    const o: tls.SecureContextOptions = {};
    if (cfg.caFile !== null) o.ca = fs.readFileSync(cfg.caFile);
    if (cfg.crt !== null) {
      const pem = fs.readFileSync(cfg.crt);
      o.cert = pem;
      o.key = pem;
    }
    if (cfg.ciphers !== null) o.ciphers = cfg.ciphers;
    if (cfg.minVer !== null) o.minVersion = cfg.minVer as tls.SecureVersion;
    if (cfg.maxVer !== null) o.maxVersion = cfg.maxVer as tls.SecureVersion;
    this.context = tls.createSecureContext(o);
    // HAProxy checks the certificate's name only against verifyhost or the SNI it sent; Node's
    // default would check the connect address, which HAProxy never does.
    const name = cfg.verifyHost;
    this.checkIdentity = typeof name === 'string' ? (_h, cert) => tls.checkServerIdentity(name, cert) : () => undefined;
  }

  /**
   * A TLS connection to host:port. `raw`: a TCP socket already connecting (a PROXY header
   * written on it first) or null to connect here. `sni`: the name to send, or null.
   */
  connect(host: string, port: number, sni: string | null, raw: net.Socket | null): tls.TLSSocket {
    const o: tls.ConnectionOptions = {
      secureContext: this.context,
      rejectUnauthorized: this.cfg.verify === 'required',
      checkServerIdentity: this.checkIdentity,
    };
    if (this.cfg.reuse && this.session !== undefined) o.session = this.session;
    if (this.cfg.alpn !== null) o.ALPNProtocols = this.cfg.alpn;
    // Node refuses an IP address as SNI (RFC 6066 forbids it)
    if (sni !== null && sni !== '' && net.isIP(sni) === 0) o.servername = sni;
    if (raw !== null) o.socket = raw;
    else {
      o.host = host;
      o.port = port;
    }
    const s = tls.connect(o);
    s.setNoDelay(true);
    if (this.cfg.reuse) s.on('session', (session: Buffer) => (this.session = session));
    let tcpUp = false;
    let secure = false;
    (raw ?? s).once('connect', () => (tcpUp = true));
    s.once('secureConnect', () => (secure = true));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (secure || !tcpUp) return;
      // a session the server no longer accepts must not be offered again
      this.session = undefined;
      if (this.report !== null) this.report(`Server ${this.label}: TLS handshake failed: ${describeTlsError(e)}`);
    });
    return s;
  }
}

/** "unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)" */
export function describeTlsError(e: NodeJS.ErrnoException): string {
  const msg = e.message.replace(/^error:[0-9A-Fa-f]+:[^:]*:[^:]*:/, '');
  return e.code !== undefined && !msg.includes(e.code) ? `${msg} (${e.code})` : msg;
}
