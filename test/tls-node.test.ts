// TLS binds on the node engine (node:tls): what uWebSockets.js 20.30 cannot do. Certificates
// (a test CA, server and client certificates) are made with openssl in a temp dir; gatehouse
// runs as a child process in front of a real HTTP upstream that echoes what it received; the
// clients are curl and openssl s_client. One bind is compared with HAProxy 2.6 on the same cfg.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, sleep, startBackend, startGatehouse, tmpFile, type Backend } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import * as tls from 'node:tls';
import type { BindAddress } from '../src/config/model';
import { createFrontServer } from '../src/front-node/server';
import { tlsBindSetup } from '../src/front-node/tls-context';
import { getH2Serve, h2Ready, setH2Serve } from '../src/worker/alpn';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tls-node-'));
const f = (n: string) => path.join(dir, n);

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** A combined PEM (certificate then key), self-signed or signed by the test CA. */
function makeCert(name: string, subj: string, sans: string[], signed: boolean): string {
  const key = f(`${name}.key`);
  const crt = f(`${name}.crt`);
  const ext = sans.length > 0 ? ['-addext', `subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}`] : [];
  if (!signed) {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', subj, ...ext, '-keyout', key, '-out', crt]);
  } else {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subj, '-keyout', key, '-out', f(`${name}.csr`)]);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', crt]);
  }
  const pem = f(`${name}.pem`);
  fs.writeFileSync(pem, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
  return pem;
}

openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Test CA', '-keyout', f('ca.key'), '-out', f('ca.crt')]);
const aPem = makeCert('a', '/CN=a.test', ['a.test'], false);
const bPem = makeCert('b', '/CN=*.b.test', ['*.b.test'], false);
makeCert('client', '/C=FR/O=Client/CN=client1', [], true);
makeCert('stranger', '/CN=stranger', [], false);
makeCert('revoked', '/CN=revoked', [], true);
// a CRL of the test CA that revokes "revoked" (openssl ca needs a database and a config)
fs.writeFileSync(f('index.txt'), '');
fs.writeFileSync(f('crlnumber'), '01\n');
fs.writeFileSync(f('ca.cnf'), `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${f('index.txt')}\ncrlnumber = ${f('crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 2\n`);
openssl(['ca', '-config', f('ca.cnf'), '-keyfile', f('ca.key'), '-cert', f('ca.crt'), '-revoke', f('revoked.crt')]);
openssl(['ca', '-config', f('ca.cnf'), '-keyfile', f('ca.key'), '-cert', f('ca.crt'), '-gencrl', '-out', f('crl.pem')]);

interface Run {
  code: number | null;
  out: string;
}

function run(cmd: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => c.kill('SIGKILL'), 15000);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
    c.stdin.end(input);
  });
}

/** curl -k with `args`; the body (the upstream's JSON echo) and HTTP version, or the failure. */
async function curl(url: string, args: string[] = []): Promise<{ ok: boolean; status: number; version: string; body: Record<string, string>; out: string }> {
  const r = await run('curl', ['-sk', '--max-time', '10', '-w', '\n%{http_code} %{http_version}', ...args, url]);
  const lines = r.out.trimEnd().split('\n');
  const [status, version] = (lines.pop() ?? '').split(' ');
  let body: Record<string, string> = {};
  try {
    body = JSON.parse(lines.join('\n')) as Record<string, string>;
  } catch {
    /* not an echo */
  }
  return { ok: r.code === 0, status: Number(status), version: version ?? '', body, out: r.out };
}

/** openssl s_client handshake (and a request when `request`); stdout+stderr. */
function sClient(port: number, args: string[], request = ''): Promise<Run> {
  return run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...(request !== '' ? ['-ign_eof'] : []), ...args], request);
}

/** The subject CN of the certificate s_client received, '' when the handshake failed. */
function servedCn(r: Run): string {
  const m = /subject=.*?CN\s*=\s*([^\s,/]+)/.exec(r.out);
  return m ? m[1] : '';
}

function handshakeOk(r: Run): boolean {
  return /Cipher is (?!\(NONE\))/.test(r.out) && !/alert|handshake failure|:error:/i.test(r.out);
}

const HEADERS = `  http-request set-header X-Client-DN %{+Q}[ssl_c_s_dn]
  http-request set-header X-Issuer %[ssl_c_i_dn]
  http-request set-header X-Used %[ssl_c_used]
  http-request set-header X-Verify %[ssl_c_verify]
  http-request set-header X-SNI %[ssl_fc_sni]
  http-request set-header X-Proto %[ssl_fc_protocol]
  http-request set-header X-Cipher %[ssl_fc_cipher]
  http-request set-header X-ALPN %[ssl_fc_alpn]
  http-request set-header X-Sha1 %[ssl_c_sha1]
`;

let backend: Backend;

before(async () => {
  backend = await startBackend('be', (req, res) => {
    req.resume();
    req.on('end', () => res.end(JSON.stringify(req.headers)));
  });
});
after(async () => {
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('node:tls bind: TLSv1.3 only, SNI, ALPN, resumption, garbage clients', () => {
  let port: number;
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  before(async () => {
    port = await freePort();
    gh = await startGatehouse(
      `global
  nbthread 2
defaults
  mode http
  log stdout format raw local0
  option httplog
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  log global
  bind 127.0.0.1:${port} ssl crt ${aPem} crt ${bPem} alpn h2,http/1.1 ssl-min-ver TLSv1.3
${HEADERS}  default_backend be
backend be
  server s1 127.0.0.1:${backend.port}
`,
      [port],
      { ext: '.cfg' },
    );
  });
  after(async () => {
    await gh.stop();
  });

  test('curl --http1.1 over TLSv1.3; the connection facts reach the server', async () => {
    const r = await curl(`https://127.0.0.1:${port}/`, ['--http1.1']);
    assert.equal(r.status, 200, r.out);
    assert.equal(r.version, '1.1');
    assert.equal(r.body['x-proto'], 'TLSv1.3');
    assert.equal(r.body['x-alpn'], 'http/1.1');
    assert.match(r.body['x-cipher'], /^TLS_/);
    assert.equal(r.body['x-used'], '0');
    assert.equal(r.body['x-verify'], '0');
    assert.equal(r.body['x-client-dn'], '');
    assert.equal(r.body['x-forwarded-proto'], 'https');
  });

  test('one TLS port, ALPN decides: curl --http2 gets HTTP/2 (with the TLS facts), --http1.1 gets HTTP/1.1', async () => {
    const h2 = await curl(`https://127.0.0.1:${port}/`, ['--http2']);
    assert.equal(h2.status, 200, h2.out);
    assert.equal(h2.version, '2');
    assert.equal(h2.body['x-alpn'], 'h2', 'ssl_fc_alpn of an h2 stream');
    assert.equal(h2.body['x-proto'], 'TLSv1.3');
    assert.equal(h2.body['x-forwarded-proto'], 'https');
    const h1 = await curl(`https://127.0.0.1:${port}/`, ['--http1.1']);
    assert.equal(h1.status, 200, h1.out);
    assert.equal(h1.version, '1.1');
  });

  test('h2load -n 2000 -c 10 -m 10 over TLS (ALPN h2): every request succeeds', async () => {
    const r = await run('h2load', ['-n', '2000', '-c', '10', '-m', '10', `https://127.0.0.1:${port}/`]);
    assert.match(r.out, /Application protocol: h2/, r.out);
    assert.match(r.out, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/, r.out);
  });

  test('a TLSv1.2 client is refused (ssl-min-ver TLSv1.3)', async () => {
    const r = await sClient(port, ['-tls1_2']);
    assert.ok(!handshakeOk(r), r.out);
    assert.match(r.out, /protocol version|alert/i);
  });

  test('SNI picks the certificate (exact and wildcard); no SNI or an unknown name gets the first', async () => {
    assert.equal(servedCn(await sClient(port, ['-servername', 'a.test'])), 'a.test');
    assert.equal(servedCn(await sClient(port, ['-servername', 'x.b.test'])), '*.b.test');
    assert.equal(servedCn(await sClient(port, ['-noservername'])), 'a.test');
    assert.equal(servedCn(await sClient(port, ['-servername', 'other.test'])), 'a.test');
    const r = await curl(`https://x.b.test:${port}/`, ['--http1.1', '--resolve', `x.b.test:${port}:127.0.0.1`]);
    assert.equal(r.status, 200, r.out);
    assert.equal(r.body['x-sni'], 'x.b.test');
  });

  test('session resumption: a ticket from one connection resumes the next (any worker)', async () => {
    const sess = f('sess.pem');
    const req = 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n';
    const first = await sClient(port, ['-servername', 'a.test', '-sess_out', sess], req);
    assert.match(first.out, /HTTP\/1\.1 200/, first.out);
    // two workers: several tries land on both, and every one resumes
    for (let i = 0; i < 4; i++) {
      const again = await sClient(port, ['-servername', 'a.test', '-sess_in', sess], req);
      assert.match(again.out, /Reused, TLSv1\.3/, again.out);
      assert.match(again.out, /HTTP\/1\.1 200/);
    }
  });

  test('a client speaking garbage costs only its own connection, and is logged as a handshake failure', async () => {
    for (const junk of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0xff])]) {
      const closed = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(junk));
        s.on('error', () => {});
        s.resume(); // read the alert, so that the end (and close) comes
        s.on('close', () => resolve(true));
        setTimeout(() => {
          s.destroy();
          resolve(false);
        }, 5000);
      });
      assert.ok(closed, 'the garbage connection is closed');
    }
    const r = await curl(`https://127.0.0.1:${port}/`, ['--http1.1']);
    assert.equal(r.status, 200, r.out);
    await sleep(700); // log lines are batched
    assert.match(gh.output(), /127\.0\.0\.1:\d+ \[[^\]]+\] fe\/127\.0\.0\.1:\d+: SSL handshake failure/);
  });
});

describe('node:tls binds: crt-list with strict-sni, client certificates', () => {
  let sniPort: number;
  let certPort: number;
  let optPort: number;
  let crlPort: number;
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  before(async () => {
    // four different ports (freePort alone may hand out one twice)
    [sniPort, certPort, optPort, crlPort] = await distinctPorts(4);
    const list = f('list.txt');
    fs.writeFileSync(list, `# certificates by SNI\n${aPem} a.test\n\n${bPem} *.b.test !no.b.test\n`);
    gh = await startGatehouse(
      `global:
  workers: 2
defaults:
  timeout: { connect: 1s, client: 5s, server: 5s }
frontends:
  fe:
    bind:
      - { address: "127.0.0.1:${sniPort}", ssl: true, crt_list: "${list}", strict_sni: true }
      - { address: "127.0.0.1:${certPort}", ssl: true, crt: "${aPem}", verify: required, ca_file: "${f('ca.crt')}" }
      - { address: "127.0.0.1:${optPort}", ssl: true, crt: "${aPem}", verify: optional, ca_file: "${f('ca.crt')}" }
      - { address: "127.0.0.1:${crlPort}", ssl: true, crt: "${aPem}", verify: required, ca_file: "${f('ca.crt')}", crl_file: "${f('crl.pem')}" }
    http_request:
      - set-header X-Client-DN %{+Q}[ssl_c_s_dn]
      - set-header X-Issuer %[ssl_c_i_dn]
      - set-header X-Used %[ssl_c_used]
      - set-header X-Verify %[ssl_c_verify]
      - set-header X-Serial %[ssl_c_serial]
      - set-header X-Sha1 %[ssl_c_sha1]
      - set-header X-SNI %[ssl_fc_sni]
    default_backend: be
backends:
  be:
    servers: [{ name: s1, address: "127.0.0.1:${backend.port}" }]
`,
      [sniPort, certPort, optPort, crlPort],
    );
  });
  after(async () => {
    await gh.stop();
  });

  test('strict-sni: the names of the crt-list are served, an unknown name or no SNI is refused', async () => {
    assert.equal(servedCn(await sClient(sniPort, ['-servername', 'a.test'])), 'a.test');
    assert.equal(servedCn(await sClient(sniPort, ['-servername', 'x.b.test'])), '*.b.test');
    for (const args of [['-servername', 'unknown.test'], ['-servername', 'no.b.test'], ['-noservername']]) {
      const r = await sClient(sniPort, args);
      assert.ok(!handshakeOk(r), `${args.join(' ')}: ${r.out}`);
    }
    const r = await curl(`https://a.test:${sniPort}/`, ['--resolve', `a.test:${sniPort}:127.0.0.1`]);
    assert.equal(r.status, 200, r.out);
    assert.equal(r.body['x-sni'], 'a.test');
  });

  test('verify required: no client certificate, or one from another CA, is refused', async () => {
    let r = await curl(`https://127.0.0.1:${certPort}/`);
    assert.ok(!r.ok && r.status !== 200, r.out);
    r = await curl(`https://127.0.0.1:${certPort}/`, ['--cert', f('stranger.crt'), '--key', f('stranger.key')]);
    assert.ok(!r.ok && r.status !== 200, r.out);
  });

  test('verify optional: no certificate is served, a CA certificate is checked, another is refused', async () => {
    let r = await curl(`https://127.0.0.1:${optPort}/`);
    assert.equal(r.status, 200, r.out);
    assert.equal(r.body['x-used'], '0');
    r = await curl(`https://127.0.0.1:${optPort}/`, ['--cert', f('client.crt'), '--key', f('client.key')]);
    assert.equal(r.status, 200, r.out);
    assert.equal(r.body['x-used'], '1');
    assert.equal(r.body['x-client-dn'], '/C=FR/O=Client/CN=client1');
    r = await curl(`https://127.0.0.1:${optPort}/`, ['--cert', f('stranger.crt'), '--key', f('stranger.key')]);
    assert.ok(r.status !== 200, r.out);
  });

  test('crl-file: a revoked certificate is refused, another from the CA is served', async () => {
    let r = await curl(`https://127.0.0.1:${crlPort}/`, ['--cert', f('revoked.crt'), '--key', f('revoked.key')]);
    assert.ok(r.status !== 200, r.out);
    r = await curl(`https://127.0.0.1:${certPort}/`, ['--cert', f('revoked.crt'), '--key', f('revoked.key')]);
    assert.equal(r.status, 200, `without the CRL it is served: ${r.out}`);
    r = await curl(`https://127.0.0.1:${crlPort}/`, ['--cert', f('client.crt'), '--key', f('client.key')]);
    assert.equal(r.status, 200, r.out);
  });

  test('verify required: a certificate from the CA gets 200 and its facts reach the server', async () => {
    const r = await curl(`https://127.0.0.1:${certPort}/`, ['--cert', f('client.crt'), '--key', f('client.key')]);
    assert.equal(r.status, 200, r.out);
    // %{+Q}: HAProxy 2.6 does not quote a header value (compared below)
    assert.equal(r.body['x-client-dn'], '/C=FR/O=Client/CN=client1');
    assert.equal(r.body['x-issuer'], '/CN=Test CA');
    assert.equal(r.body['x-used'], '1');
    assert.equal(r.body['x-verify'], '0');
    const serial = execFileSync('openssl', ['x509', '-in', f('client.crt'), '-noout', '-serial'], { encoding: 'utf8' }).trim().replace(/^serial=/, '');
    assert.equal(r.body['x-serial'], serial.toUpperCase());
    const sha1 = execFileSync('openssl', ['x509', '-in', f('client.crt'), '-noout', '-fingerprint', '-sha1'], { encoding: 'utf8' }).trim().replace(/^.*=/, '').replace(/:/g, '');
    assert.equal(r.body['x-sha1'], sha1);
  });
});

describe('one frontend, an ssl bind on uWS and one on node:tls', () => {
  test('each serves its own certificate and both proxy', async () => {
    const [uPort, nPort] = await distinctPorts(2);
    const gh = await startGatehouse(
      `defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${uPort} ssl crt ${aPem} ciphers ECDHE-RSA-AES128-GCM-SHA256
  bind 127.0.0.1:${nPort} ssl crt ${bPem} ssl-min-ver TLSv1.3
${HEADERS}  default_backend be
backend be
  server s1 127.0.0.1:${backend.port}
`,
      [uPort, nPort],
      { ext: '.cfg' },
    );
    try {
      assert.equal(servedCn(await sClient(uPort, ['-servername', 'a.test'])), 'a.test');
      assert.equal(servedCn(await sClient(nPort, ['-servername', 'x.b.test'])), '*.b.test');
      const u = await curl(`https://127.0.0.1:${uPort}/`, ['--http1.1']);
      const n = await curl(`https://127.0.0.1:${nPort}/`, ['--http1.1']);
      assert.equal(u.status, 200, u.out);
      assert.equal(n.status, 200, n.out);
      assert.equal(n.body['x-proto'], 'TLSv1.3');
      assert.equal(u.body['x-forwarded-proto'], 'https');
    } finally {
      await gh.stop();
    }
  });
});

describe('ALPN h2 goes to the registered HTTP/2 server (src/worker/alpn.ts)', () => {
  const bind: BindAddress = {
    host: '127.0.0.1', port: 0, text: '127.0.0.1:0', ssl: true, certs: [aPem], sslMinVer: null, ciphers: null, engine: 'node', acceptProxy: false,
    tlsOpts: { sslMaxVer: null, ciphersuites: null, curves: null, strictSni: false, alpn: ['h2', 'http/1.1'], verify: 'none', caFile: null, crlFile: null, tlsTickets: true, crtList: [] },
  };

  /** a front server as the node engine builds it, its h2 connections handed to the alpn.ts hook */
  async function listen(): Promise<{ port: number; close(): void }> {
    const server = createFrontServer(
      { onRequest: (_req, res) => { res.writeHead(200, 'OK', [], 2, false); res.write(Buffer.from('h1')); res.end(); } },
      {},
      {
        setup: tlsBindSetup(bind, null, h2Ready),
        h2: (socket) => {
          const serve = getH2Serve();
          if (serve === null) return false;
          serve(socket, null as never);
          return true;
        },
        onHandshakeError: () => {},
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
  }

  function negotiate(port: number, protocols: string[]): Promise<{ alpn: string | false; first: string }> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: protocols }, () => {
        if (s.alpnProtocol !== 'h2') s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      let first = '';
      s.on('data', (d: Buffer) => {
        first += d.toString();
        s.destroy();
        resolve({ alpn: s.alpnProtocol ?? false, first });
      });
      s.on('error', reject);
    });
  }

  test('no server registered: h2 is not chosen, HTTP/1.1 serves; registered: the h2 socket reaches it', async () => {
    const srv = await listen();
    try {
      setH2Serve(null);
      let r = await negotiate(srv.port, ['h2', 'http/1.1']);
      assert.equal(r.alpn, 'http/1.1');
      assert.match(r.first, /^HTTP\/1\.1 200 OK/);
      setH2Serve((socket) => socket.end('from the h2 hook'));
      r = await negotiate(srv.port, ['h2', 'http/1.1']);
      assert.equal(r.alpn, 'h2');
      assert.equal(r.first, 'from the h2 hook');
      // an HTTP/1.1-only client still gets HTTP/1.1
      r = await negotiate(srv.port, ['http/1.1']);
      assert.equal(r.alpn, 'http/1.1');
      assert.match(r.first, /^HTTP\/1\.1 200 OK/);
    } finally {
      setH2Serve(null);
      srv.close();
    }
  });
});

describe('-c: node:tls bind errors and engine choice', () => {
  function check(text: string, ext = '.cfg'): { code: number | null; out: string } {
    const file = tmpFile('gatehouse' + ext, text);
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'cli.js'), '-c', '-f', file], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout + r.stderr };
  }
  const cfg = (bind: string) => `frontend fe\n  bind 127.0.0.1:8443 ${bind}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:9\n`;

  test('a crt-list line that does not parse names the list file and line', () => {
    const list = f('bad-list.txt');
    fs.writeFileSync(list, `${aPem} a.test\n# comment\n${bPem} [alpn h2] *.b.test\n${f('nope.pem')}\n`);
    const r = check(cfg(`ssl crt-list ${list}`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /\.cfg:2:/);
    assert.ok(r.out.includes(`${list}:3:`), r.out);
    assert.ok(r.out.includes(`${list}:4:`), r.out);
    assert.match(r.out, /cannot read it \(ENOENT\)/);
  });

  test('unknown ALPN protocol, missing or mismatched certificate, verify without a CA, ssl options without ssl', () => {
    let r = check(cfg(`ssl crt ${aPem} alpn h2,spdy/3`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /\.cfg:2:.*unknown ALPN protocol 'spdy\/3'/);
    r = check(cfg(`ssl crt ${f('missing.pem')} verify required ca-file ${f('ca.crt')}`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /\.cfg:2:.*missing\.pem.*ENOENT/);
    const mismatch = f('mismatch.pem');
    fs.writeFileSync(mismatch, fs.readFileSync(f('a.crt'), 'utf8') + fs.readFileSync(f('b.key'), 'utf8'));
    r = check(cfg(`ssl crt ${mismatch} ssl-min-ver TLSv1.3`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /does not match the certificate/);
    r = check(cfg(`ssl crt ${aPem} verify required`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /verify required needs a CA file/);
    // as HAProxy: TLS options on a plain bind do nothing (a warning here)
    r = check(cfg(`strict-sni no-sslv3`));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /\.cfg:2:.*'bind option strict-sni' is ignored: no 'ssl'/);
    r = check(cfg(`ssl crt ${aPem} no-tlsv12 no-tlsv13`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /no TLS version is left/);
  });

  test('-c says which engine each ssl bind runs on and why', () => {
    let r = check(cfg(`ssl crt ${aPem} no-sslv3 no-tlsv10 no-tlsv11`));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /bind 127\.0\.0\.1:8443: uWebSockets\.js engine/);
    r = check(cfg(`ssl crt ${aPem} force-tlsv13 no-tls-tickets curves X25519:P-256 ciphersuites TLS_AES_128_GCM_SHA256`));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /node:tls engine \(TLS with ssl-min-ver TLSv1\.3, ciphersuites, curves, no-tls-tickets: uWebSockets\.js 20\.30 cannot\)/);
    r = check(`global\n  ssl-default-bind-options ssl-min-ver TLSv1.3\n` + cfg(`ssl crt ${aPem}`));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /node:tls engine \(TLS with ssl-min-ver TLSv1\.3/);
    r = check(cfg(`ssl crt ${aPem} verify required ca-file ${f('ca.crt')} engine uws`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /asks for verify required, which uWebSockets\.js 20\.30 cannot do/);
  });
});

describe('compared with HAProxy 2.6 on the same cfg: verify required, ssl-min-ver TLSv1.3', () => {
  const bin = haproxyBinary();

  async function observe(port: number): Promise<string[]> {
    const seen: string[] = [];
    const noCert = await curl(`https://127.0.0.1:${port}/`);
    seen.push(`no cert: ${noCert.status === 200 ? 200 : 'refused'}`);
    const tls12 = await curl(`https://127.0.0.1:${port}/`, ['--tls-max', '1.2', '--cert', f('client.crt'), '--key', f('client.key')]);
    seen.push(`tls1.2: ${tls12.status === 200 ? 200 : 'refused'}`);
    const stranger = await curl(`https://127.0.0.1:${port}/`, ['--cert', f('stranger.crt'), '--key', f('stranger.key')]);
    seen.push(`stranger: ${stranger.status === 200 ? 200 : 'refused'}`);
    const good = await curl(`https://127.0.0.1:${port}/`, ['--cert', f('client.crt'), '--key', f('client.key')]);
    seen.push(`client: ${good.status} dn=${good.body['x-client-dn']} issuer=${good.body['x-issuer']} used=${good.body['x-used']} verify=${good.body['x-verify']} proto=${good.body['x-proto']}`);
    return seen;
  }

  test('the same answers to the same clients', { skip: bin === null ? 'no haproxy binary' : false }, async () => {
    const cfgFor = (port: number) => `global
  nbthread 2
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port} ssl crt ${aPem} verify required ca-file ${f('ca.crt')} ssl-min-ver TLSv1.3
${HEADERS}  default_backend be
backend be
  server s1 127.0.0.1:${backend.port}
`;
    const gPort = await freePort();
    const gh = await startGatehouse(cfgFor(gPort), [gPort], { ext: '.cfg' });
    let ours: string[];
    try {
      ours = await observe(gPort);
    } finally {
      await gh.stop();
    }
    const hPort = await freePort();
    const ha = await startHaproxy(bin!, cfgFor(hPort), [hPort]);
    let theirs: string[];
    try {
      theirs = await observe(hPort);
    } finally {
      await ha.stop();
    }
    assert.deepEqual(ours, theirs);
    assert.match(ours[3], /^client: 200 dn=\/C=FR\/O=Client\/CN=client1 /);
  });
});
