// A throw-away PKI made with the openssl CLI: a test CA, a server certificate it signed (for
// backend.test and 127.0.0.1), a client certificate it signed (combined PEM, as HAProxy's crt),
// and an unrelated CA (the "wrong CA").
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from './net';

export interface TestPki {
  dir: string;
  ca: string;
  otherCa: string;
  serverKey: string;
  serverCert: string;
  /** client certificate and key in one PEM */
  client: string;
}

export function makePki(): TestPki {
  // private keys: removed when the test process exits (callers may remove it sooner)
  const dir = tmpDir('gatehouse-pki-');
  const f = (n: string) => path.join(dir, n);
  const ossl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test CA');
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=Other CA');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=backend.test');
  fs.writeFileSync(f('srv.ext'), 'subjectAltName=DNS:backend.test,IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'srv.ext');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'cli.key', '-out', 'cli.csr', '-subj', '/CN=gatehouse-client');
  ossl('x509', '-req', '-in', 'cli.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cli.crt', '-days', '2');
  fs.writeFileSync(f('client.pem'), fs.readFileSync(f('cli.crt'), 'latin1') + fs.readFileSync(f('cli.key'), 'latin1'));
  return { dir, ca: f('ca.pem'), otherCa: f('other-ca.pem'), serverKey: f('srv.key'), serverCert: f('srv.pem'), client: f('client.pem') };
}
