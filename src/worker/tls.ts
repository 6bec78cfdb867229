// The uWS app of a frontend: a plain App, or an SSLApp when its binds terminate TLS.
//
// uWS facts (checked on uWebSockets.js 20.30.0):
// - key_file_name and cert_file_name may both name one HAProxy-style combined PEM (chain + key).
// - The SSLApp's own options are the default certificate (no SNI, or an unknown name).
// - addServerName(NAME, opts) adds an SNI certificate; NAME may be a wildcard "*.example.com"
//   (one label, as in RFC 6125). Each server name gets its OWN router: handlers registered on
//   the app go to the default router only, so a request on an SNI-selected certificate finds
//   no route (the connection hangs) unless the handler is also registered after
//   app.domain(NAME). uWS prints "finding NAME" / "Browsed to SNI" lines on stdout from
//   domain(); that is uWS's own debug output, once per name and worker at start.
// - No ALPN is negotiated and there is no HTTP/2: clients speak HTTP/1.1.
// - SSLApp() throws "App construction failed" on a bad file; addServerName() crashes instead.
// - The minimum protocol is TLSv1.2 (uSockets sets it); AppOptions has no way to change it.
// - ssl_ciphers is the OpenSSL cipher list of TLSv1.2 (TLSv1.3 suites keep their defaults); a
//   list that selects nothing makes SSLApp() throw "App construction failed".
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import type uWS from 'uWebSockets.js';
import { requireUws } from './uws-load';
import type { FrontendConfig } from '../config/model';
import { checkPemFile } from '../config/validate';

export type RequestHandler = (res: uWS.HttpResponse, req: uWS.HttpRequest) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type WsBehavior = uWS.WebSocketBehavior<any>;

/** True when the frontend terminates TLS (the validator forbids mixing ssl and plain binds). */
export function frontendIsTls(fe: FrontendConfig): boolean {
  return fe.binds.some((b) => b.ssl);
}

/** The certificate files of a frontend in load order (first = default), without duplicates. */
export function frontendCerts(fe: FrontendConfig): string[] {
  const out: string[] = [];
  for (const b of fe.binds) for (const f of b.certs) if (!out.includes(f)) out.push(f);
  return out;
}

/** DNS names a certificate answers for: its subjectAltName DNS entries, then its CN, lower-cased. */
export function certServerNames(file: string): string[] {
  const cert = new X509Certificate(fs.readFileSync(file));
  const names: string[] = [];
  const add = (n: string) => {
    const name = n.trim().toLowerCase().replace(/\.$/, '');
    if (name !== '' && /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name) && !names.includes(name)) names.push(name);
  };
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) add(part.slice(4).replace(/^"|"$/g, ''));
  }
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith('CN=')) add(line.slice(3));
  }
  return names;
}

/**
 * The app serving one frontend, with `handler` on every route of every certificate, and `ws`
 * (WebSocket upgrades, src/worker/websocket.ts) beside it when given. For TLS:
 * the first certificate is the default one, and every name of every certificate is added for
 * SNI (a name already claimed by an earlier certificate keeps the earlier one).
 */
export function createFrontendApp(fe: FrontendConfig, handler: RequestHandler, ws?: WsBehavior): uWS.TemplatedApp {
  // uWS gives requests with a Sec-WebSocket-Key to the ws route first; it yields the others.
  const routes = (r: uWS.TemplatedApp): uWS.TemplatedApp => (ws === undefined ? r.any('/*', handler) : r.any('/*', handler).ws('/*', ws));
  if (!frontendIsTls(fe)) return routes(requireUws().App());
  const certs = frontendCerts(fe);
  if (certs.length === 0) throw new Error(`frontend ${fe.name}: ssl bind without a certificate`);
  // Checked at load, but a restarted worker reads the files again: uWS's addServerName crashes
  // the process (SIGSEGV, checked) on a file it cannot load, so check again first.
  for (const file of certs) {
    const problem = checkPemFile(file).error;
    if (problem) throw new Error(`frontend ${fe.name}: certificate ${file}: ${problem}`);
  }
  // The validator made every ssl bind of a frontend agree on one cipher list.
  const ciphers = fe.binds[0].ciphers;
  const opts = (file: string): uWS.AppOptions =>
    ciphers === null ? { key_file_name: file, cert_file_name: file } : { key_file_name: file, cert_file_name: file, ssl_ciphers: ciphers };
  const app = requireUws().SSLApp(opts(certs[0]));
  routes(app);
  const claimed = new Set<string>();
  for (const file of certs) {
    for (const name of certServerNames(file)) {
      if (claimed.has(name)) continue;
      claimed.add(name);
      app.addServerName(name, opts(file));
      // A server name has its own router (see above).
      routes(app.domain(name));
    }
  }
  return app;
}
