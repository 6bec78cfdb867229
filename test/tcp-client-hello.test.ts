// Payload fetches (src/tcp/client-hello.ts) on real ClientHellos sent by `openssl s_client`
// and captured by a test server; tcp-request content rules and use_backend by SNI
// (src/tcp/inspect.ts) routing real TLS connections to two TLS servers without terminating TLS.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { parseCondition } from '../src/acl/parse';
import { splitWords } from '../src/acl/words';
import { parseAclTests } from '../src/acl/parse';
import type { AclCondition, FrontendConfig, TcpRequestRule } from '../src/config/model';
import { NEED_MORE, NONE, dottedVersion, sslHelloType, sslSni, sslVersion } from '../src/tcp/client-hello';
import { ACCEPT, REJECT, TcpRules, TcpView, WAIT, inspectSession } from '../src/tcp/inspect';
import { TcpSession, type TcpSessionEnd } from '../src/tcp/relay';

/** Starts a server that keeps the first bytes of one connection, runs openssl s_client at it. */
async function captureHello(args: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got!: () => void;
  const enough = new Promise<void>((r) => { got = r; });
  const srv = net.createServer((s) => {
    s.on('data', (b: Buffer) => {
      chunks.push(b);
      const all = Buffer.concat(chunks);
      if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) got();
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
  const timer = setTimeout(got, 5000);
  await enough;
  clearTimeout(timer);
  child.kill();
  srv.close();
  return Buffer.concat(chunks);
}

function cond(text: string): AclCondition {
  return parseCondition(splitWords(/^(if|unless) /.test(text) ? text : `if ${text}`), { side: 'req' });
}

function rules(o: { content?: [TcpRequestRule['action'], string | null][]; delay?: number; use?: [string, string][]; acls?: [string, string][] }): TcpRules {
  const fe = {
    defaultBackend: 'dflt',
    rules: {
      acls: (o.acls ?? []).map(([name, t]) => ({ name, tests: parseAclTests(splitWords(t), { side: 'any' }) })),
      httpRequest: [], redirects: [], httpResponse: [],
      useBackend: (o.use ?? []).map(([backend, c]) => ({ backend, cond: cond(c) })),
    },
    tcpRequest: {
      inspectDelay: o.delay ?? 0,
      connection: [],
      session: [],
      content: (o.content ?? []).map(([action, c]) => ({ action, cond: c === null ? null : cond(c) })),
    },
  } as Pick<FrontendConfig, 'rules' | 'tcpRequest' | 'defaultBackend'>;
  return new TcpRules(fe);
}

describe('ClientHello fetches on openssl s_client hellos', () => {
  let hello13: Buffer;
  let hello12: Buffer;
  let noSni: Buffer;
  before(async () => {
    hello13 = await captureHello(['-servername', 'Api.Example.COM']);
    hello12 = await captureHello(['-servername', 'b.example', '-tls1_2']);
    noSni = await captureHello(['-noservername']);
  });

  it('req.ssl_sni, req.ssl_hello_type, req.ssl_ver of complete hellos', () => {
    assert.equal(sslSni(hello13), 'Api.Example.COM'); // as sent: -i compares case-insensitively
    assert.equal(sslSni(hello12), 'b.example');
    assert.equal(sslSni(noSni), null);
    assert.equal(sslHelloType(hello13), 1);
    assert.equal(sslHelloType(noSni), 1);
    // the record layer's version: OpenSSL 3 writes 3.1 on a first ClientHello, also for TLS 1.3
    assert.equal(sslVersion(hello13), hello13[1] * 65536 + hello13[2]);
    assert.equal(sslVersion(hello13), dottedVersion('3.1'));
  });

  it('every prefix of a hello is NEED_MORE, the whole of it a value (incremental)', () => {
    for (let n = 0; n < hello13.length; n++) {
      const p = hello13.subarray(0, n);
      assert.equal(sslSni(p), NEED_MORE, `sni at ${n}`);
      assert.equal(sslHelloType(p), NEED_MORE, `hello type at ${n}`);
    }
    // ssl_ver needs the record header and the record (as much as fits)
    assert.equal(sslVersion(hello13.subarray(0, 4)), NEED_MORE);
    assert.equal(sslVersion(hello13.subarray(0, hello13.length - 1)), NEED_MORE);
  });

  it('garbage and other protocols: a clear no, never an exception', () => {
    const http = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(sslSni(http), null);
    assert.equal(sslHelloType(http), NONE);
    assert.equal(sslVersion(http), NONE);
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 20000; i++) {
      // mutate a real hello: length fields and offsets go wrong in every way
      const b = Buffer.from(hello13.subarray(0, Math.floor(rnd() * (hello13.length + 1))));
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips && b.length > 0; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const sni = sslSni(b);
      assert.ok(sni === null || sni === NEED_MORE || typeof sni === 'string');
      sslHelloType(b);
      sslVersion(b);
    }
  });

  it('an SSLv2-format hello gives its version to req.ssl_ver and no SNI', () => {
    // 2-byte header, CLIENT-HELLO, version 3.1, 3 bytes of ciphers, no session id, 16-byte challenge
    const body = Buffer.from([0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x2f, ...new Array(16).fill(7)]);
    const v2 = Buffer.concat([Buffer.from([0x80 | 0, body.length]), body]);
    assert.equal(sslVersion(v2), 0x30001);
    assert.equal(sslSni(v2), null);
    assert.equal(sslVersion(v2.subarray(0, v2.length - 1)), NEED_MORE);
  });

  it('content rules: MISS while the hello is incomplete, a verdict once it is or once final', () => {
    const r = rules({ delay: 5000, content: [['reject', 'unless { req.ssl_hello_type 1 }'], ['accept', '{ req.ssl_sni -i -m end .example.com }']] });
    const v = new TcpView();
    v.reset('::ffff:127.0.0.1', 443);
    v.final = false;
    v.payload = hello13.subarray(0, 20);
    assert.equal(r.contentVerdict(v), WAIT);
    v.payload = hello13;
    assert.equal(r.contentVerdict(v), ACCEPT);
    v.payload = Buffer.from('GET / HTTP/1.0\r\n\r\n');
    assert.equal(r.contentVerdict(v), REJECT);
    // at the end of inspect-delay a partial hello is final: not a hello -> rejected
    v.payload = hello13.subarray(0, 20);
    v.final = true;
    assert.equal(r.contentVerdict(v), REJECT);
    // req.len: a non-match waits, a match decides
    const l = rules({ delay: 5000, content: [['accept', '{ req.len ge 10 }'], ['reject', null]] });
    v.final = false;
    v.payload = Buffer.from('short');
    assert.equal(l.contentVerdict(v), WAIT);
    v.payload = Buffer.from('long enough');
    assert.equal(l.contentVerdict(v), ACCEPT);
  });

  it('use_backend by SNI with src and dst_port, named ACLs, and req.ssl_ver dotted patterns', () => {
    const r = rules({
      acls: [['tls12plus', 'req.ssl_ver 3.1:'], ['local', 'src 127.0.0.0/8']],
      use: [['bk_api', 'tls12plus local { req_ssl_sni -i api.example.com }'], ['bk_b', '{ req.ssl_sni b.example } { dst_port 443 }']],
    });
    const v = new TcpView();
    v.reset('127.0.0.1', 443);
    v.payload = hello13;
    assert.equal(r.backend(v), 'bk_api');
    v.payload = hello12;
    assert.equal(r.backend(v), 'bk_b');
    v.reset('127.0.0.1', 8443);
    v.payload = hello12;
    assert.equal(r.backend(v), 'dflt');
    v.reset('10.1.2.3', 443);
    v.payload = hello13;
    assert.equal(r.backend(v), 'dflt');
  });
});

describe('TLS passthrough by SNI over real sockets', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-sni-'));
  const servers: tls.Server[] = [];
  const ports: Record<string, number> = {};
  let front: net.Server;
  const ends: TcpSessionEnd[] = [];

  function cert(cn: string): { key: Buffer; cert: Buffer } {
    const key = path.join(dir, `${cn}.key`);
    const crt = path.join(dir, `${cn}.crt`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${cn}`, '-keyout', key, '-out', crt], { stdio: 'ignore' });
    return { key: fs.readFileSync(key), cert: fs.readFileSync(crt) };
  }

  before(async () => {
    for (const name of ['a.example', 'b.example']) {
      const s = tls.createServer(cert(name), (c) => {
        c.on('error', () => undefined);
        c.end(`served by ${name} for ${(c as tls.TLSSocket & { servername?: string }).servername}\n`);
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      ports[name] = (s.address() as net.AddressInfo).port;
      servers.push(s);
    }
    const r = rules({
      delay: 3000,
      content: [['accept', '{ req.ssl_hello_type 1 }'], ['reject', null]],
      use: [['a.example', '{ req.ssl_sni -i a.example }'], ['b.example', '{ req.ssl_sni -i b.example }']],
    });
    front = net.createServer({ allowHalfOpen: true }, (c) => {
      const s = new TcpSession(c, { client: 5000, server: 5000, tunnel: 0, clientFin: 0, serverFin: 0 }, (e) => ends.push(e));
      const v = new TcpView();
      v.reset(c.remoteAddress ?? '', c.localPort ?? 0);
      inspectSession(s, r, v, (verdict) => {
        if (verdict === REJECT) return s.fail('P', 'R');
        const be = r.backend(v);
        const port = be === null ? 0 : ports[be];
        if (!port) return s.fail('P', 'R');
        void s.connect({ host: '127.0.0.1', port }, 2000).then((o) => (o.ok ? s.attach(o.socket) : o.reason !== 'aborted' && s.connectFailed(o.reason)));
      });
    });
    await new Promise<void>((r2) => front.listen(0, '127.0.0.1', r2));
  });
  after(() => {
    front.close();
    for (const s of servers) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function tlsGet(servername: string): Promise<{ text: string; cn: string }> {
    return new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: (front.address() as net.AddressInfo).port, servername, rejectUnauthorized: false }, () => undefined);
      let text = '';
      let cn = '';
      c.on('secureConnect', () => { cn = String(c.getPeerCertificate().subject?.CN ?? ''); });
      c.on('data', (b: Buffer) => { text += b.toString(); });
      c.on('end', () => resolve({ text, cn }));
      c.on('error', reject);
    });
  }

  it('each SNI name reaches its own TLS server, end to end encrypted', async () => {
    const a = await tlsGet('a.example');
    const b = await tlsGet('B.Example');
    assert.equal(a.text, 'served by a.example for a.example\n');
    assert.equal(a.cn, 'a.example');
    assert.equal(b.text, 'served by b.example for B.Example\n'); // the server sees the hello as sent
    assert.equal(b.cn, 'b.example');
  });

  it('an incomplete hello waits for inspect-delay, then is judged final', async () => {
    // a front with a short inspect-delay: 3 bytes of a hello never complete it
    const r = rules({ delay: 300, content: [['accept', '{ req.ssl_hello_type 1 }'], ['reject', null]] });
    const got: TcpSessionEnd[] = [];
    const f = net.createServer({ allowHalfOpen: true }, (c) => {
      const s = new TcpSession(c, { client: 5000, server: 5000, tunnel: 0, clientFin: 0, serverFin: 0 }, (e) => got.push(e));
      const v = new TcpView();
      v.reset(c.remoteAddress ?? '', c.localPort ?? 0);
      inspectSession(s, r, v, (verdict) => (verdict === REJECT ? s.fail('P', 'R') : s.fail('K')));
    });
    await new Promise<void>((r2) => f.listen(0, '127.0.0.1', r2));
    const c = net.connect({ host: '127.0.0.1', port: (f.address() as net.AddressInfo).port });
    c.on('error', () => undefined);
    c.write(Buffer.from([0x16, 0x03, 0x01]));
    await new Promise<void>((r2) => c.on('close', r2));
    f.close();
    assert.equal(got.length, 1);
    assert.equal(got[0].termination, 'PR');
    assert.ok(got[0].tt >= 280 && got[0].tt < 2000, `decided after ${got[0].tt} ms`);
  });

  it('a plain-text client is rejected by the content rule ("PR")', async () => {
    const c = net.connect({ host: '127.0.0.1', port: (front.address() as net.AddressInfo).port });
    c.on('error', () => undefined);
    c.write('GET / HTTP/1.0\r\n\r\n');
    await new Promise<void>((r) => c.on('close', r));
    await new Promise((r) => setTimeout(r, 100));
    // the two TLS sessions of the test before ended cleanly, this one by the rule
    assert.deepEqual(ends.map((e) => e.termination).sort(), ['--', '--', 'PR']);
  });
});
