// mode tcp with `bind ... ssl crt`: gatehouse terminates TLS and relays the decrypted bytes to
// plain TCP servers (HAProxy's SSL offload), routes by ssl_fc_sni, takes the PROXY header of an
// accept-proxy bind before the handshake, and logs a failed handshake as HAProxy does. HAProxy
// 2.6 runs on the same haproxy.cfg and must give the same answers.
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

/** A plain TCP server that answers the first line it gets (the PROXY header of send-proxy) and closes. */
async function proxyLineServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      const eol = got.indexOf('\r\n');
      if (eol >= 0) s.end(got.slice(0, eol));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

interface TlsReply {
  text: string;
  bytes: number;
  /** the handshake completed */
  secure: boolean;
}

/** TLS to `port` (or over `socket`), send `data`, half-close, collect until the proxy closes. */
function tlsExchange(port: number, servername: string, data: Buffer | string, socket?: net.Socket): Promise<TlsReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let secure = false;
    const c = tls.connect(
      { ...(socket !== undefined ? { socket } : { port, host: '127.0.0.1' }), servername, rejectUnauthorized: false },
      () => {
        secure = true;
        c.end(data);
      },
    );
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', () => undefined);
    c.on('close', () => {
      const all = Buffer.concat(chunks);
      resolve({ text: all.subarray(0, 80).toString('latin1'), bytes: all.length, secure });
    });
  });
}

/** Plain bytes to a TLS port: what comes back before the close. */
function plainExchange(port: number, data: string): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    s.on('data', (d) => (n += d.length));
    s.on('error', () => undefined);
    s.on('close', () => resolve(n));
  });
}

const cfg = (p: { tls: number; proxied: number; a: number; b: number; pl: number }, pem: string) => `global
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    option tcplog
    log stdout format raw local0
frontend tls_in
    bind 127.0.0.1:${p.tls} ssl crt ${pem}
    tcp-request content reject if { ssl_fc_sni -i blocked.test }
    use_backend site_b if { ssl_fc_sni -i b.test }
    default_backend site_a
frontend tls_proxied
    bind 127.0.0.1:${p.proxied} ssl crt ${pem} accept-proxy
    default_backend lines
backend site_a
    server a 127.0.0.1:${p.a}
backend site_b
    server b 127.0.0.1:${p.b}
backend lines
    server pl 127.0.0.1:${p.pl} send-proxy
`;

test('mode tcp ssl bind: TLS terminated, plain bytes relayed, ssl_fc_sni routing, accept-proxy before TLS, as HAProxy 2.6', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-tcp-tls-'));
  const pem = path.join(dir, 'site.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=a.test', '-keyout', path.join(dir, 'k'), '-out', path.join(dir, 'c')], { stdio: 'ignore' });
  fs.writeFileSync(pem, fs.readFileSync(path.join(dir, 'c'), 'latin1') + fs.readFileSync(path.join(dir, 'k'), 'latin1'));
  const a = await echoServer('a');
  const b = await echoServer('b');
  const pl = await proxyLineServer();
  const [gtls, gprox, htls, hprox] = await distinctPorts(4, [a.port, b.port, pl.port]);
  const gh = await startGatehouse(cfg({ tls: gtls, proxied: gprox, a: a.port, b: b.port, pl: pl.port }, pem), [gtls, gprox], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, cfg({ tls: htls, proxied: hprox, a: a.port, b: b.port, pl: pl.port }, pem), [htls, hprox]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await a.close();
    await b.close();
    await pl.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 255;
  const run = async (tlsPort: number, proxiedPort: number) => {
    const byName = [];
    for (const name of ['a.test', 'b.test', 'blocked.test']) {
      const r = await tlsExchange(tlsPort, name, 'hello ' + name);
      byName.push(`${name}: ${r.secure ? 'secure' : 'no handshake'} ${JSON.stringify(r.text)}`);
    }
    const bulk = await tlsExchange(tlsPort, 'a.test', big);
    const plain = await plainExchange(tlsPort, 'GET / HTTP/1.0\r\n\r\n');
    // accept-proxy: the PROXY header in clear, then the ClientHello on the same connection
    const raw = net.connect(proxiedPort, '127.0.0.1');
    await new Promise<void>((r) => raw.once('connect', () => r()));
    raw.write(`PROXY TCP4 10.1.2.3 127.0.0.1 5555 ${proxiedPort}\r\n`);
    const proxied = await tlsExchange(proxiedPort, 'a.test', 'x', raw);
    return { byName, bulk: bulk.bytes, plain, proxied: proxied.text.replace(String(proxiedPort), 'PORT') };
  };
  const got = await run(gtls, gprox);
  assert.deepEqual(got.byName, [
    'a.test: secure "a:hello a.test"',
    'b.test: secure "b:hello b.test"',
    // content reject after the handshake: closed without a byte
    'blocked.test: secure ""',
  ]);
  assert.equal(got.bulk, 2 + big.length, '1 MB through TLS and back, whole');
  assert.equal(got.plain, 0, 'plain text on the TLS port: no handshake, closed without a byte');
  assert.equal(got.proxied, 'PROXY TCP4 10.1.2.3 127.0.0.1 5555 PORT', "the PROXY header's client, passed on by send-proxy");
  if (ha !== null) {
    const hgot = await run(htls, hprox);
    assert.deepEqual(got, hgot, 'the same answers as HAProxy 2.6');
  }
  // a failed handshake is a connection line; the sessions have their tcplog lines
  await waitForOutput(gh, /tls_in\/\S+: SSL handshake failure/, 1, 5000);
  await waitForOutput(gh, / tls_in site_b\/b /, 1, 5000);
  await waitForOutput(gh, / tls_proxied lines\/pl /, 1, 5000);
  assert.match(gh.output(), /^10\.1\.2\.3:5555 /m, "the tcplog line shows the PROXY header's client");
});
