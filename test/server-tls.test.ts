// TLS to servers (`server ... ssl`): an HTTPS backend with a test CA, verified with ca-file
// (200) or refused with the wrong CA (503 SC and a log line naming the server and the error,
// as HAProxy 2.6 answers 503 on the same cfg); verify none; a client certificate the backend
// requires (crt); SNI (str() and req.hdr(host)); TLS session resumption on a new connection;
// check-ssl marking a server up, and down with the wrong CA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { spawnSync } from 'node:child_process';
import { CLI, freePort, request, startGatehouse, tmpFile, type Proc } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';
import { waitForOutput } from './helpers/wait';
import { makePki, type TestPki } from './helpers/test-pki';

interface Seen {
  sni: string | false;
  reused: boolean;
  cn: string | null;
}

/** An HTTPS backend that answers what it saw of the TLS connection; every answer closes it. */
async function httpsBackend(pki: TestPki, requireClientCert: boolean): Promise<{ port: number; close(): Promise<void> }> {
  const s = https.createServer(
    { key: fs.readFileSync(pki.serverKey), cert: fs.readFileSync(pki.serverCert), ca: fs.readFileSync(pki.ca), requestCert: true, rejectUnauthorized: requireClientCert },
    (req, res) => {
      req.resume();
      const sock = req.socket as TLSSocket;
      const c = sock.getPeerCertificate();
      const seen: Seen = { sni: sock.servername ?? false, reused: sock.isSessionReused(), cn: c && c.subject ? String(c.subject.CN) : null };
      // a new connection per request: resumption shows on the next one
      res.setHeader('connection', 'close');
      res.end(JSON.stringify(seen));
    },
  );
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as AddressInfo).port, close: () => new Promise((r) => s.close(() => r())) };
}

const cfg = (port: number, srv: number, pki: TestPki, checks = '') => `global
  nbthread 1
  log stdout format raw local0
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  use_backend wrong if { path_beg /wrong }
  use_backend none if { path_beg /none }
  use_backend bysni if { path_beg /host }
  default_backend good
backend good
  server s1 127.0.0.1:${srv} ssl ca-file ${pki.ca} sni str(backend.test) crt ${pki.client}${checks}
backend wrong
  server s2 127.0.0.1:${srv} ssl ca-file ${pki.otherCa}${checks}
backend none
  server s3 127.0.0.1:${srv} ssl verify none crt ${pki.client}
backend bysni
  server s4 127.0.0.1:${srv} ssl verify required ca-file ${pki.ca} sni req.hdr(host) crt ${pki.client}
`;

async function exercise(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const [path, host] of [['/', ''], ['/', ''], ['/wrong', ''], ['/none', ''], ['/host', 'backend.test']]) {
    const r = await request(port, { path, headers: host ? { host } : {} });
    out.push(`${path} ${r.status} ${r.status === 200 ? r.body.toString() : ''}`);
  }
  return out;
}

const pki = makePki();
const bin = haproxyBinary();

test('TLS to servers: ca-file verified, wrong CA 503 with a log line, verify none, client certificate, SNI, resumption', async () => {
  const be = await httpsBackend(pki, true);
  const port = await freePort();
  const g = await startGatehouse(cfg(port, be.port, pki), [port], { ext: '.cfg' });
  try {
    const out = await exercise(port);
    assert.equal(out[0], '/ 200 {"sni":"backend.test","reused":false,"cn":"gatehouse-client"}');
    // the second connection resumes the first one's session
    assert.equal(out[1], '/ 200 {"sni":"backend.test","reused":true,"cn":"gatehouse-client"}');
    assert.equal(out[2], '/wrong 503 ');
    // verify none: accepted whatever the chain; no SNI configured, none sent
    assert.match(out[3], /^\/none 200 \{"sni":false,"reused":(true|false),"cn":"gatehouse-client"\}$/);
    assert.match(out[4], /^\/host 200 \{"sni":"backend.test",/);
    await waitForOutput(g, /Server wrong\/s2: TLS handshake failed: .*(CERT|certificate)/);
    await waitForOutput(g, / fe wrong\/s2 .* SC /);
  } finally {
    await g.stop();
    await be.close();
  }
});

test('a wrong CA is a 503 in HAProxy 2.6 too, on the same cfg', { skip: bin === null ? 'haproxy not installed' : false }, async () => {
  const be = await httpsBackend(pki, true);
  const port = await freePort();
  const h = await startHaproxy(bin!, cfg(port, be.port, pki), [port]);
  let hOut: string[];
  try {
    hOut = await exercise(port);
  } finally {
    await h.stop();
  }
  const port2 = await freePort();
  const g = await startGatehouse(cfg(port2, be.port, pki), [port2], { ext: '.cfg' });
  let gOut: string[];
  try {
    gOut = await exercise(port2);
  } finally {
    await g.stop();
    await be.close();
  }
  // statuses and what the backend saw (SNI, client certificate) agree; resumption is each proxy's own
  const strip = (xs: string[]) => xs.map((x) => x.replace(/"reused":(true|false),/, ''));
  assert.deepEqual(strip(gOut), strip(hOut));
});
async function checkStates(g: Proc): Promise<void> {
  await waitForOutput(g, /Server wrong\/s2 is DOWN/, 1, 15000);
}

test('check-ssl: a TLS server verified by its CA is UP, one with the wrong CA goes DOWN', async () => {
  const be = await httpsBackend(pki, false);
  const port = await freePort();
  const g = await startGatehouse(cfg(port, be.port, pki, ' check inter 200 fall 2 rise 1'), [port], { ext: '.cfg' });
  try {
    await checkStates(g);
    assert.doesNotMatch(g.output(), /Server good\/s1 is DOWN/);
    const r = await request(port, { path: '/' });
    assert.equal(r.status, 200);
    assert.equal((await request(port, { path: '/wrong' })).status, 503);
    assert.match(g.output(), /Server wrong\/s2 is DOWN, reason: Layer6 invalid response, info: "SSL handshake failure: [^"]*(CERT|certificate)/);
  } finally {
    await g.stop();
    await be.close();
  }
});

test('mode tcp: ssl to the server (verified, client certificate, SNI); the wrong CA ends the session (SC)', async () => {
  const be = await httpsBackend(pki, true);
  const port = await freePort();
  const tcpCfg = `global
  nbthread 1
  log stdout format raw local0
defaults
  mode tcp
  log global
  option tcplog
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  default_backend good
backend good
  server s1 127.0.0.1:${be.port} ssl ca-file ${pki.ca} sni str(backend.test) crt ${pki.client}
`;
  const g = await startGatehouse(tcpCfg, [port], { ext: '.cfg' });
  try {
    const r = await request(port, { path: '/' });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /^\{"sni":"backend.test","reused":false,"cn":"gatehouse-client"\}$/);
  } finally {
    await g.stop();
  }
  const port2 = await freePort();
  const g2 = await startGatehouse(tcpCfg.replaceAll(String(port), String(port2)).replace(pki.ca, pki.otherCa), [port2], { ext: '.cfg' });
  try {
    await assert.rejects(request(port2, { path: '/' }));
    await waitForOutput(g2, / fe good\/s1 .* SC /);
    assert.match(g2.output(), /Server good\/s1: TLS handshake failed/);
  } finally {
    await g2.stop();
    await be.close();
  }
});

function check(file: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, '-c', '-f', file], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('-c: a missing ca-file or crt, verify without a CA, alpn h2 and an unknown sni expression are errors at file:line', () => {
  const f = tmpFile('srvtls.cfg', `defaults
  mode http
  timeout connect 1s
  timeout client 1s
  timeout server 1s
frontend fe
  bind 127.0.0.1:1
  default_backend be
backend be
  default-server ssl verify none
  server a 127.0.0.1:2 ssl ca-file /nonexistent/ca.pem verify required
  server b 127.0.0.1:2 crt /nonexistent/client.pem
  server c 127.0.0.1:2 ssl verify required
  server d 127.0.0.1:2 alpn h2
  server e 127.0.0.1:2 sni base
  server f 127.0.0.1:2 ca-file ${pki.ca} crt ${pki.client} sni req.hdr(host) send-proxy-v2 check-sni x check
`);
  const r = check(f);
  assert.equal(r.status, 1);
  const name = f.replace(/.*\//, '');
  assert.match(r.out, new RegExp(`${name}:11:\\d+: error: .*Couldn't open the ca-file '/nonexistent/ca.pem' \\(ENOENT\\)`));
  assert.match(r.out, new RegExp(`${name}:12:\\d+: error: .*client certificate /nonexistent/client.pem: cannot read it \\(ENOENT\\)`));
  assert.match(r.out, new RegExp(`${name}:13:\\d+: error: .*verify is enabled by default but no CA file specified`));
  assert.match(r.out, new RegExp(`${name}:14:\\d+: error: .*HTTP/2 to servers is not supported`));
  assert.match(r.out, new RegExp(`${name}:15:\\d+: error: .*sni expression 'base' is not supported`));
  assert.doesNotMatch(r.out, new RegExp(`${name}:16:`));
  assert.equal((r.out.match(/error:/g) ?? []).length, 5, r.out);
});

test('YAML: the same server keys', () => {
  const f = tmpFile('srvtls.yaml', `global:
  ssl_server_verify: none
  ssl_default_server_options: ssl-min-ver TLSv1.2 no-tls-tickets
frontends:
  fe:
    bind: 127.0.0.1:1
    default_backend: be
backends:
  be:
    servers:
      - { name: a, address: 127.0.0.1:2, ssl: true, sni: str(backend.test), crt: ${pki.client}, send_proxy: v1, check: true }
      - { name: b, address: 127.0.0.1:2, ssl: true, verify: required, ca_file: /nonexistent/ca.pem }
      - { name: c, address: 127.0.0.1:2, verify: none }
`);
  const r = check(f);
  assert.equal(r.status, 1);
  assert.match(r.out, /servers\[1\]\.ca_file: Couldn't open the ca-file/);
  assert.match(r.out, /servers\[2\]\.verify: "verify" without "ssl: true"/);
  assert.equal((r.out.match(/error:/g) ?? []).length, 2, r.out);
});

test('ssl-min-ver / ssl-max-ver / ciphers reach the handshake (a TLSv1.2-only backend; min TLSv1.3 cannot connect)', async () => {
  const s = https.createServer({ key: fs.readFileSync(pki.serverKey), cert: fs.readFileSync(pki.serverCert), maxVersion: 'TLSv1.2' }, (req, res) => {
    req.resume();
    const sock = req.socket as TLSSocket;
    res.end(`${sock.getProtocol()} ${sock.getCipher().name}`);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const srv = (s.address() as AddressInfo).port;
  const port = await freePort();
  const g = await startGatehouse(`defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  use_backend v13 if { path_beg /v13 }
  default_backend v12
backend v12
  server a 127.0.0.1:${srv} ssl verify none ssl-max-ver TLSv1.2 ciphers ECDHE-RSA-AES128-GCM-SHA256
backend v13
  server b 127.0.0.1:${srv} ssl verify none ssl-min-ver TLSv1.3
`, [port], { ext: '.cfg' });
  try {
    const r = await request(port, { path: '/' });
    assert.equal(r.body.toString(), 'TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256');
    assert.equal((await request(port, { path: '/v13' })).status, 503);
  } finally {
    await g.stop();
    await new Promise((r) => s.close(r));
  }
});
