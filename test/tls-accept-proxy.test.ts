// accept-proxy on ssl binds (node engine): the PROXY v1/v2 header is read off the TCP socket,
// then TLS starts on the same socket. Clients: a raw socket that writes the header and the first
// ClientHello bytes in one write, then node:tls (HTTP/1.1 and h2 over ALPN); HAProxy 2.6 in front
// with send-proxy / send-proxy-v2 on an ssl server line; clients that send no header or garbage.
// The bind needs no `engine node`: an accept-proxy bind picks the node engine by itself.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { CLI, startBackend, startGatehouse, tmpFile, type Backend } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { waitForOutput } from './helpers/wait';
import { encodeProxyV2 } from '../src/net/proxy-protocol';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tls-pp-'));
const f = (n: string) => path.join(dir, n);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
openssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=Test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
openssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=a.test', '-addext', 'subjectAltName=DNS:a.test', '-keyout', 'a.key', '-out', 'a.crt');
fs.writeFileSync(f('a.pem'), fs.readFileSync(f('a.crt'), 'utf8') + fs.readFileSync(f('a.key'), 'utf8'));
openssl('req', ...ec, '-subj', '/CN=client1', '-keyout', 'client.key', '-out', 'client.csr');
openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'client.crt');

const HEADERS = `  http-request set-header X-Src %[src]
  http-request set-header X-SSL %[ssl_fc]
  http-request set-header X-SNI %[ssl_fc_sni]
  http-request set-header X-ALPN %[ssl_fc_alpn]
  http-request set-header X-Client-DN %[ssl_c_s_dn]
`;

/**
 * A connection to `port` whose first write is `header` followed by the first bytes the TLS
 * client writes (its ClientHello), in one write; `seen` collects every byte the server sent.
 */
function headerThen(port: number, header: Buffer, seen: Buffer[] = []): Duplex {
  const raw = net.connect(port, '127.0.0.1');
  let first = true;
  const d = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      const out = first ? Buffer.concat([header, chunk]) : chunk;
      first = false;
      raw.write(out, cb);
    },
    read() {
      raw.resume();
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.on('data', (c: Buffer) => {
    seen.push(c);
    if (!d.push(c)) raw.pause();
  });
  raw.on('end', () => d.push(null));
  raw.on('error', (e) => d.destroy(e));
  raw.on('close', () => d.destroy());
  return d;
}

const v1 = (src: string, sport: number) => Buffer.from(`PROXY TCP4 ${src} 127.0.0.1 ${sport} 443\r\n`);
const v2 = (src: string, sport: number) => encodeProxyV2({ srcAddress: src, srcPort: sport, dstAddress: '127.0.0.1', dstPort: 443 });

interface Answer {
  status: number;
  body: Record<string, string>;
  alpn: string | false;
  reused: boolean;
  session: Buffer | undefined;
}

/** An HTTP/1.1 GET over TLS after `header`; the upstream's echo of the headers it received. */
function getOverTls(port: number, header: Buffer, reqPath: string, opts: tls.ConnectionOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let session: Buffer | undefined;
    const s = tls.connect({ socket: headerThen(port, header), servername: 'a.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...opts });
    s.on('session', (b: Buffer) => (session = b));
    const timer = setTimeout(() => s.destroy(new Error('no answer within 10 s')), 10000);
    let out = '';
    s.on('secureConnect', () => s.write(`GET ${reqPath} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n`));
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('end', () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0);
      const at = out.indexOf('\r\n\r\n');
      let body: Record<string, string> = {};
      try {
        body = JSON.parse(out.slice(at + 4)) as Record<string, string>;
      } catch {
        /* not the echo */
      }
      resolve({ status, body, alpn: s.alpnProtocol ?? false, reused: s.isSessionReused(), session });
    });
  });
}

/** A connection that writes `bytes` (or nothing) and waits for the server to close it: what it sent back. */
function refused(port: number, bytes: Buffer | null, waitMs = 5000): Promise<{ closed: boolean; got: number }> {
  return new Promise((resolve) => {
    let got = 0;
    const s = net.connect(port, '127.0.0.1', () => {
      if (bytes !== null) s.write(bytes);
    });
    s.on('data', (d: Buffer) => (got += d.length));
    s.on('error', () => {});
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ closed: false, got });
    }, waitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, got });
    });
  });
}

let backend: Backend;
let tlsPort: number;
let certPort: number;
let plainPort: number;
let plainNoPp: number;
let gh: Awaited<ReturnType<typeof startGatehouse>>;

before(async () => {
  backend = await startBackend('be', (req, res) => {
    req.resume();
    req.on('end', () => res.end(JSON.stringify(req.headers)));
  });
  [tlsPort, certPort, plainPort, plainNoPp] = await distinctPorts(4, [backend.port]);
  // no `engine` anywhere: the accept-proxy binds choose the node engine themselves
  gh = await startGatehouse(
    `global
  nbthread 2
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  option forwardfor
  timeout connect 2s
  timeout client 5s
  timeout server 5s
  timeout http-request 1s
frontend tlsfe
  bind 127.0.0.1:${tlsPort} ssl crt ${f('a.pem')} alpn h2,http/1.1 accept-proxy
${HEADERS}  default_backend be
frontend certfe
  bind 127.0.0.1:${certPort} ssl crt ${f('a.pem')} verify required ca-file ${f('ca.crt')} accept-proxy
${HEADERS}  default_backend be
frontend plainfe
  bind 127.0.0.1:${plainPort} accept-proxy
  bind 127.0.0.1:${plainNoPp} engine node
${HEADERS}  default_backend be
backend be
  server s1 127.0.0.1:${backend.port}
`,
    [tlsPort, certPort, plainPort, plainNoPp],
    { ext: '.cfg' },
  );
  // once seen in a CI emulation: every port refused right after the start; say what gatehouse said
  const probe = await new Promise<string>((resolve) => {
    let out = '';
    const s = net.connect(plainNoPp, '127.0.0.1', () => s.write('GET /probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', (e) => (out += e.message));
    s.on('close', () => resolve(out.slice(0, 40)));
  });
  assert.match(probe, /^HTTP\/1\.1 200/, `gatehouse (exit code ${gh.child.exitCode}, signal ${gh.child.signalCode}) said:\n${gh.output()}`);
});

after(async () => {
  await gh?.stop();
  await backend?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a PROXY header, then TLS on the same connection', () => {
  test('v1 and v2 with the ClientHello in the same write: the header address reaches src, X-Forwarded-For and the log', async () => {
    const a = await getOverTls(tlsPort, v1('203.0.113.7', 40001), '/v1');
    assert.equal(a.status, 200);
    assert.equal(a.body['x-forwarded-for'], '203.0.113.7');
    assert.equal(a.body['x-src'], '203.0.113.7');
    assert.equal(a.body['x-ssl'], '1');
    assert.equal(a.body['x-sni'], 'a.test');
    assert.equal(a.body['x-alpn'], 'http/1.1');
    assert.equal(a.body['x-forwarded-proto'], 'https');
    const b = await getOverTls(tlsPort, v2('198.51.100.9', 40002), '/v2');
    assert.equal(b.status, 200);
    assert.equal(b.body['x-forwarded-for'], '198.51.100.9');
    assert.equal(b.body['x-src'], '198.51.100.9');
    // each worker holds its log lines up to 100 ms: the two may come in either order
    await waitForOutput(gh, /^198\.51\.100\.9:40002 .* tlsfe be\/s1 .* 200 .*"GET \/v2 HTTP\/1\.1"$/m);
    await waitForOutput(gh, /^203\.0\.113\.7:40001 .* tlsfe be\/s1 .* 200 .*"GET \/v1 HTTP\/1\.1"$/m);
  });

  test('ALPN h2 after the header: h2 streams carry the header address', async () => {
    const client = http2.connect('https://a.test', {
      createConnection: () => tls.connect({ socket: headerThen(tlsPort, v2('192.0.2.44', 40003)), servername: 'a.test', rejectUnauthorized: false, ALPNProtocols: ['h2'] }),
    });
    try {
      const get = (p: string) =>
        new Promise<Record<string, string>>((resolve, reject) => {
          const r = client.request({ ':path': p });
          let body = '';
          r.on('data', (c: Buffer) => (body += c));
          r.on('end', () => resolve(JSON.parse(body) as Record<string, string>));
          r.on('error', reject);
        });
      const [x, y] = await Promise.all([get('/h2a'), get('/h2b')]);
      for (const h of [x, y]) {
        assert.equal(h['x-forwarded-for'], '192.0.2.44');
        assert.equal(h['x-alpn'], 'h2');
      }
      await waitForOutput(gh, /^192\.0\.2\.44:40003 .* tlsfe be\/s1 .* 200 .*"GET \/h2b HTTP\/2\.0"$/m);
    } finally {
      client.close();
    }
  });

  test('session resumption and client certificates work behind the header', async () => {
    const first = await getOverTls(tlsPort, v1('203.0.113.8', 40004), '/resume1', { maxVersion: 'TLSv1.2' });
    assert.equal(first.status, 200);
    assert.ok(first.session !== undefined, 'a session to resume');
    const again = await getOverTls(tlsPort, v1('203.0.113.8', 40005), '/resume2', { maxVersion: 'TLSv1.2', session: first.session });
    assert.equal(again.status, 200);
    assert.equal(again.reused, true);
    assert.equal(again.body['x-forwarded-for'], '203.0.113.8');
    const cert = { cert: fs.readFileSync(f('client.crt')), key: fs.readFileSync(f('client.key')) };
    const c = await getOverTls(certPort, v2('203.0.113.9', 40006), '/cert', cert);
    assert.equal(c.status, 200);
    assert.equal(c.body['x-client-dn'], '/CN=client1');
    assert.equal(c.body['x-forwarded-for'], '203.0.113.9');
    // no certificate on a verify required bind: a handshake failure, logged with the header's address
    await assert.rejects(getOverTls(certPort, v1('203.0.113.10', 40007), '/nocert'));
    await waitForOutput(gh, /^203\.0\.113\.10:40007 \[[^\]]+\] certfe\/127\.0\.0\.1:\d+: SSL handshake failure/m);
  });

  test('a bad or missing header closes the connection without a byte; the next client is served', async () => {
    const hits = backend.hits;
    // garbage, an HTTP request, and a TLS ClientHello without the header
    assert.deepEqual(await refused(tlsPort, Buffer.from('hello there\r\n\r\n')), { closed: true, got: 0 });
    assert.deepEqual(await refused(tlsPort, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), { closed: true, got: 0 });
    const seen: Buffer[] = [];
    const hello = await new Promise<string>((resolve) => {
      const s = tls.connect({ socket: headerThen(tlsPort, Buffer.alloc(0), seen), servername: 'a.test', rejectUnauthorized: false });
      s.on('secureConnect', () => resolve('handshake done'));
      s.on('error', (e) => resolve(e.message));
      s.on('close', () => resolve('closed'));
    });
    assert.notEqual(hello, 'handshake done');
    assert.equal(Buffer.concat(seen).length, 0, 'no TLS alert, nothing');
    // a header that never comes: closed after timeout http-request (1 s)
    const t0 = Date.now();
    assert.deepEqual(await refused(tlsPort, Buffer.from('PROXY TCP4 1.2.3.4')), { closed: true, got: 0 });
    assert.ok(Date.now() - t0 >= 800, 'closed by the timeout');
    assert.equal(backend.hits, hits, 'nothing reached the server');
    // a good header, then no TLS: a handshake failure, logged with the header's address
    assert.deepEqual((await refused(tlsPort, Buffer.concat([v1('203.0.113.11', 40008), Buffer.from('GET / HTTP/1.1\r\n\r\n')]))).closed, true);
    await waitForOutput(gh, /^203\.0\.113\.11:40008 \[[^\]]+\] tlsfe\/127\.0\.0\.1:\d+: SSL handshake failure/m);
    const ok = await getOverTls(tlsPort, v1('203.0.113.12', 40009), '/after');
    assert.equal(ok.status, 200);
    assert.equal(ok.body['x-forwarded-for'], '203.0.113.12');
    assert.equal(gh.child.exitCode, null);
  });

  test('a plain accept-proxy bind without engine node takes the header; its frontend\'s other node bind does not expect one', async () => {
    const get = (port: number, head: string) =>
      new Promise<{ status: string; body: Record<string, string> }>((resolve) => {
        let out = '';
        const s = net.connect(port, '127.0.0.1', () => s.write(`${head}GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        s.on('data', (d: Buffer) => (out += d));
        s.on('close', () => resolve({ status: out.slice(0, 12), body: JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4) || '{}') as Record<string, string> }));
        s.on('error', () => {});
      });
    const a = await get(plainPort, v1('203.0.113.13', 40010).toString());
    assert.equal(a.status, 'HTTP/1.1 200');
    assert.equal(a.body['x-forwarded-for'], '203.0.113.13');
    assert.equal(a.body['x-ssl'], '0');
    const b = await get(plainNoPp, '');
    assert.equal(b.status, 'HTTP/1.1 200');
    assert.equal(b.body['x-forwarded-for'], '127.0.0.1');
  });
});

const haproxy = haproxyBinary();

describe('HAProxy 2.6 in front, send-proxy(-v2) to an ssl server', { skip: haproxy === null ? 'no haproxy binary' : false }, () => {
  test('curl to HAProxy: the answer comes from the backend, with the client address HAProxy saw', async () => {
    const [h2Front, h1Front] = await distinctPorts(2, [backend.port, tlsPort, certPort, plainPort]);
    const hp = await startHaproxy(
      haproxy!,
      `global
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend f2
  bind 127.0.0.1:${h2Front}
  default_backend v2h2
frontend f1
  bind 127.0.0.1:${h1Front}
  default_backend v1h1
backend v2h2
  server gh 127.0.0.1:${tlsPort} ssl verify none send-proxy-v2 alpn h2,http/1.1 sni str(a.test)
backend v1h1
  server gh 127.0.0.1:${tlsPort} ssl verify none send-proxy alpn http/1.1
`,
      [h2Front, h1Front],
    );
    try {
      for (const [port, alpn, sni] of [
        [h2Front, 'h2', 'a.test'],
        [h1Front, 'http/1.1', ''],
      ] as const) {
        // not spawnSync: the backend runs in this process
        const r = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
          execFile('curl', ['-s', '--max-time', '10', '-w', '\n%{http_code} %{local_port}', `http://127.0.0.1:${port}/via-haproxy-${port}`], (_e, stdout, stderr) => resolve({ stdout, stderr })),
        );
        const lines = r.stdout.trimEnd().split('\n');
        const [status, localPort] = (lines.pop() ?? '').split(' ');
        assert.equal(status, '200', r.stdout + r.stderr + hp.output());
        const body = JSON.parse(lines.join('\n')) as Record<string, string>;
        assert.equal(body['x-forwarded-for'], '127.0.0.1');
        assert.equal(body['x-alpn'], alpn);
        assert.equal(body['x-sni'], sni);
        // the log's client is curl's connection to HAProxy (its port), not HAProxy's to gatehouse
        await waitForOutput(gh, new RegExp(`^127\\.0\\.0\\.1:${localPort} .* tlsfe be/s1 .* 200 .*"GET /via-haproxy-${port} HTTP/${alpn === 'h2' ? '2\\.0' : '1\\.1'}"$`, 'm'));
      }
    } finally {
      await hp.stop();
    }
  });
});

describe('-c: accept-proxy binds', () => {
  function check(text: string, ext = '.cfg'): { code: number | null; out: string } {
    const r = spawnSync(process.execPath, [CLI, '-c', '-f', tmpFile('gatehouse' + ext, text)], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout + r.stderr };
  }
  const cfg = (bind: string, global = '') => `${global}defaults\n  mode http\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend fe\n  bind ${bind}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:9\n`;

  test('a plain or ssl accept-proxy bind without an engine passes and says it runs on the node engine because of accept-proxy', () => {
    let r = check(cfg('127.0.0.1:8080 accept-proxy'));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /bind 127\.0\.0\.1:8080: node:net engine \('accept-proxy': uWebSockets\.js cannot read a PROXY header\)/);
    r = check(cfg(`127.0.0.1:8443 ssl crt ${f('a.pem')} accept-proxy`));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /bind 127\.0\.0\.1:8443: node:tls engine \('accept-proxy'/);
    r = check(
      `defaults: { timeout: { connect: 1s, client: 1s, server: 1s } }\nfrontends:\n  fe:\n    bind: [{ address: "127.0.0.1:8443", ssl: true, crt: "${f('a.pem')}", accept_proxy: true }]\n    default_backend: be\nbackends:\n  be: { servers: [{ name: s1, address: "127.0.0.1:9" }] }\n`,
      '.yaml',
    );
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /node:tls engine \('accept-proxy'/);
  });

  test('engine uws written with accept-proxy, on the bind or in global, is a clear error', () => {
    let r = check(cfg('127.0.0.1:8080 engine uws accept-proxy'));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /\.cfg:7:.*accept-proxy needs the node engine \(uWebSockets\.js cannot read a PROXY header\), but this bind says engine uws/);
    r = check(cfg(`127.0.0.1:8443 ssl crt ${f('a.pem')} accept-proxy`, 'global\n  engine uws\n'));
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /accept-proxy needs the node engine .*global says engine uws/);
    // the bind's own engine node wins over global
    r = check(cfg('127.0.0.1:8080 engine node accept-proxy', 'global\n  engine uws\n'));
    assert.equal(r.code, 0, r.out);
  });
});
