// mode tcp end to end: a real gatehouse (2 workers) and HAProxy 2.6 on the same haproxy.cfg,
// real TCP servers started here: roundrobin with half-close, a dead server retried and
// redispatched, TLS passthrough routed by SNI to two TLS servers without terminating TLS, a
// tcp-request reject, 1 MB echoed intact, and the tcplog lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { startGatehouse } from './helpers/net';
import { echoServer } from './helpers/tcp';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { waitForOutput } from './helpers/wait';

/** Connect, send `data`, half-close, and collect everything until the proxy closes. */
function exchange(port: number, data: Buffer | string): Promise<{ text: string; bytes: number; error: string | null }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | null = null;
    const s = net.connect(port, '127.0.0.1', () => s.end(data));
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => (error = e.message));
    s.on('close', () => {
      const all = Buffer.concat(chunks);
      resolve({ text: all.subarray(0, 64).toString('latin1'), bytes: all.length, error });
    });
  });
}

function cert(dir: string, cn: string): { key: Buffer; cert: Buffer } {
  const key = path.join(dir, cn + '.key');
  const crt = path.join(dir, cn + '.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`, '-keyout', key, '-out', crt], { stdio: 'ignore' });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(crt) };
}

const cfg = (p: { fe: number; sni: number; s1: number; s2: number; dead: number; a: number; b: number }) => `global
    nbthread 2
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    option tcplog
    log stdout format raw local0
frontend fe
    bind 127.0.0.1:${p.fe}
    tcp-request connection reject if { src 10.0.0.0/8 }
    default_backend be
frontend tls_in
    bind 127.0.0.1:${p.sni}
    tcp-request inspect-delay 2s
    tcp-request content accept if { req.ssl_hello_type 1 }
    tcp-request content reject
    use_backend site_a if { req.ssl_sni -i a.test }
    use_backend site_b if { req.ssl_sni -i b.test }
backend be
    balance roundrobin
    retries 1
    option redispatch
    server s1 127.0.0.1:${p.s1}
    server dead 127.0.0.1:${p.dead}
    server s2 127.0.0.1:${p.s2}
backend site_a
    server a 127.0.0.1:${p.a}
backend site_b
    server b 127.0.0.1:${p.b}
`;

test('mode tcp: roundrobin with half-close, a dead server redispatched, SNI passthrough, tcplog, as HAProxy 2.6', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-tcp-'));
  const s1 = await echoServer('s1');
  const s2 = await echoServer('s2');
  const tlsServers = ['a.test', 'b.test'].map((name) => {
    const srv = tls.createServer(cert(dir, name), (c) => {
      c.on('error', () => undefined);
      c.end('I am ' + name);
    });
    return srv;
  });
  await Promise.all(tlsServers.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const [a, b] = tlsServers.map((s) => (s.address() as net.AddressInfo).port);
  const [gfe, gsni, hfe, hsni, dead] = await distinctPorts(5, [s1.port, s2.port, a, b]);
  const gh = await startGatehouse(cfg({ fe: gfe, sni: gsni, s1: s1.port, s2: s2.port, dead, a, b }), [gfe, gsni], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, cfg({ fe: hfe, sni: hsni, s1: s1.port, s2: s2.port, dead, a, b }), [hfe, hsni]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await s1.close();
    await s2.close();
    for (const s of tlsServers) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = async (fe: number, sni: number) => {
    const plain: string[] = [];
    for (let i = 0; i < 6; i++) plain.push((await exchange(fe, 'hello' + i)).text);
    const names: string[] = [];
    for (const name of ['a.test', 'b.test', 'a.test']) {
      names.push(
        await new Promise<string>((resolve, reject) => {
          let cn = '?';
          const c = tls.connect({ port: sni, host: '127.0.0.1', servername: name, rejectUnauthorized: false }, () => {
            cn = String(c.getPeerCertificate()?.subject?.CN ?? '?');
          });
          let got = '';
          c.on('data', (d) => (got += d));
          c.on('error', reject);
          c.on('close', () => resolve(got + ' (cert ' + cn + ')'));
        }),
      );
    }
    // a plain-text client on the TLS port is no ClientHello: rejected
    const notTls = await exchange(sni, 'GET / HTTP/1.0\r\n\r\n');
    return { plain, names, notTls: notTls.bytes };
  };
  const got = await run(gfe, gsni);
  // every connection answered by a live server, in roundrobin order, the dead one skipped
  assert.deepEqual(got.plain.map((x) => x.split(':')[0]).filter((x) => x === 's1' || x === 's2').length, 6, got.plain.join(' | '));
  got.plain.forEach((x, i) => assert.equal(x, x.split(':')[0] + ':hello' + i, 'the echo comes back whole after the half-close'));
  assert.deepEqual(got.names, ['I am a.test (cert a.test)', 'I am b.test (cert b.test)', 'I am a.test (cert a.test)']);
  assert.equal(got.notTls, 0, 'rejected without a byte');
  if (ha !== null) {
    const hgot = await run(hfe, hsni);
    assert.deepEqual(got.plain, hgot.plain, 'the same servers in the same order as HAProxy');
    assert.deepEqual(got.names, hgot.names);
    assert.equal(got.notTls, hgot.notTls);
  }
  // tcplog: one line per session, the server that answered, a clean end
  await waitForOutput(gh, / fe be\/s[12] /, 6, 5000);
  assert.match(gh.output(), /127\.0\.0\.1:\d+ \[[^\]]+\] fe be\/s[12] -?\d+\/\d+\/\d+ \d+ -- /);
  assert.match(gh.output(), / tls_in tls_in\/<NOSRV> | tls_in site_a\/a /);
});

test('mode tcp: 1 MB both ways intact through gatehouse', async (t) => {
  const s1 = await echoServer('s1');
  const [fe] = await distinctPorts(1, [s1.port]);
  const gh = await startGatehouse(`defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen big
    bind 127.0.0.1:${fe}
    server s1 127.0.0.1:${s1.port}
`, [fe], { ext: '.cfg' });
  t.after(async () => {
    await gh.stop();
    await s1.close();
  });
  const data = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  const r = await exchange(fe, data);
  assert.equal(r.error, null);
  assert.equal(r.bytes, 3 + data.length);
});
