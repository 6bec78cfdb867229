// TLS termination end to end: certificates made with Debian's openssl in a temp dir, gatehouse
// as a child process, a real HTTP upstream, and real TLS clients (node:https, node:tls, curl).
// SNI selection is proven by the subject/SAN of the certificate the client received.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { freePort, runCli, startBackend, startGatehouse, tmpFile, type Backend } from './helpers/net';
import { uwsLoads } from './helpers/engine';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tls-'));

/** A self-signed combined PEM (certificate then key), as HAProxy's `crt` takes it. */
function makeCert(file: string, cn: string, sans: string[]): string {
  const key = path.join(dir, `tmp-${path.basename(file)}.key`);
  const crt = path.join(dir, `tmp-${path.basename(file)}.crt`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', `subjectAltName=${sans.map((s) => `DNS:${s}`).join(',')}`, '-keyout', key, '-out', crt,
  ], { stdio: 'ignore' });
  fs.writeFileSync(file, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
  return file;
}

interface TlsReply {
  status: number;
  body: string;
  cn: string;
  san: string;
  protocol: string | null;
}

function httpsGet(port: number, servername: string | undefined, reqPath = '/', extra: https.RequestOptions = {}): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1', port, path: reqPath, agent: false, rejectUnauthorized: false,
        // Node sends no SNI for an IP host; an explicit servername is sent as the SNI name.
        ...(servername !== undefined ? { servername, headers: { host: servername } } : {}),
        ...extra,
      },
      (res) => {
        const sock = res.socket as tls.TLSSocket;
        const cert = sock.getPeerCertificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cn: String(cert.subject?.CN ?? ''), san: cert.subjectaltname ?? '', protocol: sock.getProtocol() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Handshake only: the certificate offered for `servername`. */
function handshake(port: number, servername: string | undefined, opts: tls.ConnectionOptions = {}): Promise<{ cn: string; san: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...opts }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve({ cn: String(cert.subject?.CN ?? ''), san: cert.subjectaltname ?? '' });
    });
    s.on('error', reject);
  });
}

const defaultPem = makeCert(path.join(dir, 'default.pem'), 'default.test', ['default.test']);
const certDir = path.join(dir, 'sni');
fs.mkdirSync(certDir);
makeCert(path.join(certDir, 'a.pem'), 'a.test', ['a.test']);
makeCert(path.join(certDir, 'b.pem'), '*.b.test', ['*.b.test']);
fs.writeFileSync(path.join(certDir, 'README.txt'), 'not a certificate: ignored (only *.pem files load)');

let backend: Backend;

before(async () => {
  backend = await startBackend('be', (req, res) => {
    req.resume();
    req.on('end', () => res.end(`proto=${req.headers['x-forwarded-proto'] ?? ''} host=${req.headers.host ?? ''} url=${req.url}`));
  });
});
after(async () => {
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function yaml(port: number, extraBind = ''): string {
  return `global:
  workers: 2
defaults:
  timeout: { connect: 1s, client: 5s, server: 5s }
frontends:
  fe:
    bind:
      - { address: "127.0.0.1:${port}", ssl: true, crt: ["${defaultPem}", "${certDir}"], ssl_min_ver: TLSv1.2${extraBind} }
    default_backend: be
backends:
  be:
    servers: [{ name: s1, address: "127.0.0.1:${backend.port}" }]
`;
}

function cfg(port: number): string {
  return `global
  nbthread 2
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port} ssl crt ${defaultPem} crt ${certDir} ssl-min-ver TLSv1.2 alpn http/1.1
  default_backend be
backend be
  server s1 127.0.0.1:${backend.port}
`;
}

for (const form of ['yaml', 'haproxy.cfg'] as const) {
  describe(`TLS termination with SNI (${form})`, () => {
    let port: number;
    let gh: Awaited<ReturnType<typeof startGatehouse>>;
    before(async () => {
      port = await freePort();
      gh = await startGatehouse(form === 'yaml' ? yaml(port) : cfg(port), [port], { ext: form === 'yaml' ? '.yaml' : '.cfg' });
    });
    after(async () => {
      await gh.stop();
    });

    test('no SNI gets the default certificate and the request is proxied', async () => {
      const r = await httpsGet(port, undefined, '/x?y=1');
      assert.equal(r.status, 200);
      assert.equal(r.cn, 'default.test');
      assert.equal(r.san, 'DNS:default.test');
      assert.match(r.body, /url=\/x\?y=1/);
    });

    test('SNI a.test gets the a.test certificate', async () => {
      const r = await httpsGet(port, 'a.test');
      assert.equal(r.status, 200);
      assert.equal(r.cn, 'a.test');
      assert.equal(r.san, 'DNS:a.test');
      assert.match(r.body, /host=a\.test/);
    });

    test('SNI x.b.test gets the wildcard *.b.test certificate', async () => {
      const r = await httpsGet(port, 'x.b.test');
      assert.equal(r.status, 200);
      assert.equal(r.san, 'DNS:*.b.test');
      assert.match(r.body, /host=x\.b\.test/);
    });

    test('requests from a TLS frontend carry X-Forwarded-Proto: https', async () => {
      const r = await httpsGet(port, 'a.test');
      assert.match(r.body, /proto=https /);
      // what the client claims is replaced, not passed along beside ours
      const spoofed = await httpsGet(port, 'a.test', '/', { headers: { host: 'a.test', 'x-forwarded-proto': 'http' } });
      assert.match(spoofed.body, /proto=https /);
    });

    test('a wildcard covers one label only; unknown names get the default certificate', async () => {
      assert.equal((await handshake(port, 'y.x.b.test')).cn, 'default.test');
      assert.equal((await handshake(port, 'b.test')).cn, 'default.test');
      assert.equal((await handshake(port, 'unknown.example')).cn, 'default.test');
      // and those connections are served too
      assert.equal((await httpsGet(port, 'unknown.example')).status, 200);
    });

    test('keep-alive: several requests on one TLS connection', async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const seen = new Set<unknown>();
        for (let i = 0; i < 5; i++) {
          const r = await new Promise<string>((resolve, reject) => {
            const req = https.request({ host: '127.0.0.1', port, path: `/k${i}`, agent, servername: 'a.test', rejectUnauthorized: false }, (res) => {
              seen.add(res.socket);
              let b = '';
              res.on('data', (d) => (b += d));
              res.on('end', () => resolve(b));
            });
            req.on('error', reject);
            req.end();
          });
          assert.match(r, new RegExp(`url=/k${i}`));
        }
        assert.equal(seen.size, 1);
      } finally {
        agent.destroy();
      }
    });

    test('TLS below 1.2 is refused', async () => {
      await assert.rejects(handshake(port, 'a.test', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }));
    });

    test('curl --resolve with SNI', { skip: spawnSync('curl', ['--version']).status !== 0 ? 'no curl' : false }, async () => {
      // async: the upstream runs in this process, so a synchronous curl would starve it
      const curl = (name: string, p: string) =>
        new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
          execFile('curl', ['-sS', '-k', '-v', '--http1.1', '--resolve', `${name}:${port}:127.0.0.1`, `https://${name}:${port}${p}`], { encoding: 'utf8' }, (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
          ),
        );
      const a = await curl('a.test', '/curl');
      assert.match(a.stdout, /proto=.* host=a\.test:\d+ url=\/curl/);
      assert.match(a.stderr, /subject: CN=a\.test/);
      const b = await curl('z.b.test', '/');
      assert.match(b.stderr, /subject: CN=\*\.b\.test/);
    });
  });
}

// ---- configuration errors: never a start without TLS on a bad certificate ----

function check(text: string, ext = '.yaml'): { code: number | null; out: string } {
  const f = tmpFile('gatehouse' + ext, text);
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'cli.js'), '-c', '-f', f], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

function yamlWith(bind: string): string {
  return `frontends:
  fe:
    bind: [${bind}]
    default_backend: be
backends:
  be:
    servers: [{ name: s1, address: "127.0.0.1:9" }]
`;
}

describe('certificate validation', () => {
  const other = path.join(dir, 'other.pem');
  const mismatch = path.join(dir, 'mismatch.pem');
  const noKey = path.join(dir, 'nokey.pem');
  const garbage = path.join(dir, 'garbage.pem');
  before(() => {
    makeCert(other, 'other.test', ['other.test']);
    const certOf = (f: string) => /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(fs.readFileSync(f, 'utf8'))![0];
    const keyOf = (f: string) => /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/.exec(fs.readFileSync(f, 'utf8'))![0];
    fs.writeFileSync(mismatch, certOf(defaultPem) + keyOf(other));
    fs.writeFileSync(noKey, certOf(defaultPem));
    fs.writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n' + keyOf(other));
  });

  test('valid certificates pass -c', () => {
    const r = check(yamlWith(`{ address: "127.0.0.1:8443", ssl: true, crt: "${defaultPem}" }`));
    assert.equal(r.code, 0, r.out);
  });

  test('a key that does not match the certificate: exit 1 naming the file (YAML)', () => {
    const r = check(yamlWith(`{ address: "127.0.0.1:8443", ssl: true, crt: ["${defaultPem}", "${mismatch}"] }`));
    assert.equal(r.code, 1, r.out);
    assert.ok(r.out.includes(mismatch), r.out);
    assert.match(r.out, /private key does not match the certificate/);
  });

  test('a key that does not match the certificate: exit 1 naming the file (haproxy.cfg, with position)', () => {
    const r = check(`frontend fe\n  bind 127.0.0.1:8443 ssl crt ${mismatch}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:9\n`, '.cfg');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /\.cfg:2:\d+: error: .*does not match/);
    assert.ok(r.out.includes(mismatch), r.out);
  });

  test('missing key, unparsable certificate, missing file, empty directory', () => {
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    for (const [f, re] of [
      [noKey, /no PRIVATE KEY block/],
      [garbage, /certificate cannot be parsed/],
      [path.join(dir, 'nope.pem'), /cannot read it \(ENOENT\)/],
      [empty, /holds no \*\.pem file/],
    ] as const) {
      const r = check(yamlWith(`{ address: "127.0.0.1:8443", ssl: true, crt: "${f}" }`));
      assert.equal(r.code, 1, r.out);
      assert.ok(r.out.includes(f), r.out);
      assert.match(r.out, re);
    }
  });

  test('ssl without crt, crt without ssl, mixed ssl and plain binds, TLSv1.3 minimum', () => {
    let r = check(yamlWith(`{ address: "127.0.0.1:8443", ssl: true }`));
    assert.equal(r.code, 1);
    assert.match(r.out, /needs a certificate/);
    r = check(yamlWith(`{ address: "127.0.0.1:8443", crt: "${defaultPem}" }`));
    assert.equal(r.code, 1);
    assert.match(r.out, /"crt" without "ssl: true"/);
    // a frontend runs its ssl binds as a twin frontend (issue 17); a listen cannot mix them
    r = check(yamlWith(`"127.0.0.1:8080", { address: "127.0.0.1:8443", ssl: true, crt: "${defaultPem}" }`));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /its ssl binds run as frontend "fe~"/);
    r = check(`listen mix\n  bind 127.0.0.1:8080\n  bind 127.0.0.1:8443 ssl crt ${defaultPem}\n  server s1 127.0.0.1:9\n`, '.cfg');
    assert.equal(r.code, 1);
    assert.match(r.out, /a listen section cannot mix ssl and plain binds/);
    // a TLSv1.3 minimum is beyond uWS: the bind runs on the node engine (test/tls-node.test.ts)
    r = check(yamlWith(`{ address: "127.0.0.1:8443", ssl: true, crt: "${defaultPem}", ssl_min_ver: TLSv1.3 }`));
    assert.equal(r.code, 0, r.out);
    // (without a uWS binary for this Node.js every bind runs there, and -c gives that reason)
    assert.match(r.out, uwsLoads() ? /node:tls engine \(TLS with ssl-min-ver TLSv1\.3/ : /node:tls engine \(uWebSockets\.js has no binary for Node\.js/);
    r = check(`listen st\n  bind 127.0.0.1:8443 ssl crt ${defaultPem}\n  stats enable\n`, '.cfg');
    assert.equal(r.code, 1);
    assert.match(r.out, /stats page cannot be served on an ssl bind/);
    r = check(`frontend fe\n  bind 127.0.0.1:8443 crt ${defaultPem}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:9\n`, '.cfg');
    assert.equal(r.code, 1);
    assert.match(r.out, /'crt' needs 'ssl'/);
  });

  test('gatehouse does not start on a bad certificate', async () => {
    const port = await freePort();
    const f = tmpFile('gatehouse.yaml', yamlWith(`{ address: "127.0.0.1:${port}", ssl: true, crt: "${mismatch}" }`));
    const p = runCli(['-f', f]);
    const code = await Promise.race([p.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 10000))]);
    if (code === 'still running') await p.stop('SIGKILL');
    assert.equal(code, 1, p.output());
    assert.ok(p.output().includes(mismatch), p.output());
  });
});

describe('TLSv1.2 ciphers (bind ciphers, ssl-default-bind-ciphers)', () => {
  const allowed = 'ECDHE-RSA-AES128-GCM-SHA256';
  const refused = 'ECDHE-RSA-AES256-GCM-SHA384';

  /** The TLSv1.2 cipher negotiated when the client offers only `cipher`, or the handshake error. */
  function negotiate(port: number, cipher: string): Promise<string> {
    return new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ciphers: cipher, maxVersion: 'TLSv1.2' }, () => {
        const name = s.getCipher().name;
        s.end();
        resolve(name);
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(`refused (${e.code ?? e.message})`));
    });
  }

  for (const form of ['yaml', 'haproxy.cfg'] as const) {
    test(`only the listed ciphers are negotiated, on the default and the SNI certificates (${form})`, async () => {
      const port = await freePort();
      const text =
        form === 'yaml'
          ? yaml(port, `, ciphers: "${allowed}"`)
          : `global\n  nbthread 1\n  ssl-default-bind-ciphers ${allowed}\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n` +
            `frontend fe\n  bind 127.0.0.1:${port} ssl crt ${defaultPem} crt ${certDir}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:${backend.port}\n`;
      const gh = await startGatehouse(text, [port], { ext: form === 'yaml' ? '.yaml' : '.cfg' });
      try {
        assert.equal(await negotiate(port, allowed), allowed);
        assert.match(await negotiate(port, refused), /^refused/);
        // the SNI certificate's context has the same list
        const sni = await handshake(port, 'a.test', { ciphers: allowed, maxVersion: 'TLSv1.2' });
        assert.equal(sni.cn, 'a.test');
        // TLSv1.3 keeps uWS's suites (it cannot set them), and requests still pass
        const r = await httpsGet(port, undefined, '/c');
        assert.equal(r.status, 200);
      } finally {
        await gh.stop();
      }
    });
  }

  test('without a cipher setting both ciphers are negotiated', async () => {
    const port = await freePort();
    const gh = await startGatehouse(yaml(port), [port]);
    try {
      assert.equal(await negotiate(port, allowed), allowed);
      assert.equal(await negotiate(port, refused), refused);
    } finally {
      await gh.stop();
    }
  });

  test('a list that selects no cipher, ciphers without ssl, binds of one frontend that disagree: exit 1', () => {
    let r = check(yamlWith(`{ address: "127.0.0.1:8443", ssl: true, crt: "${defaultPem}", ciphers: "NOT-A-CIPHER" }`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /ciphers.*invalid cipher list/);
    r = check(`global\n  ssl-default-bind-ciphers NOPE\nfrontend fe\n  bind 127.0.0.1:8443 ssl crt ${defaultPem}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:9\n`, '.cfg');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /\.cfg:2:\d+: error: .*invalid cipher list/);
    r = check(yamlWith(`{ address: "127.0.0.1:8443", ciphers: "${allowed}" }`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /"ciphers" without "ssl: true"/);
    r = check(yamlWith(`{ address: "127.0.0.1:8443", ssl: true, crt: "${defaultPem}", ciphers: "${allowed}" }, { address: "127.0.0.1:8444", ssl: true, crt: "${defaultPem}" }`));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /must use the same ciphers/);
  });
});
