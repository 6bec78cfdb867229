// src/tcp/relay.ts over real sockets on 127.0.0.1: a relay front, real upstream servers, real
// clients. Bulk transfer with flat memory, half-close both ways, resets and stalls under
// HAProxy's timeouts, and the tcplog termination states.
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TcpSession } from '../src/tcp/relay';
import { formatTcplog } from '../src/tcp/tcplog';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { freePort, sleep } from './helpers/net';
import { clientExchange, echo, startFront, startUpstream, type Front, type Upstream } from './helpers/tcp';

describe('tcp relay: bulk echo', () => {
  let up: Upstream;
  let front: Front;
  before(async () => {
    up = await startUpstream(echo);
    front = await startFront(up.port);
  });
  after(async () => {
    await front.close();
    await up.close();
  });

  it('relays 1 GB both ways with backpressure, every byte in order, RSS growth bounded', async () => {
    const TOTAL = Number(process.env.TCP_BULK_BYTES ?? 1024 * 1024 * 1024);
    // 64 KB + 7: chunk boundaries never line up with the pattern, so a lost or repeated chunk shows
    const pattern = Buffer.alloc(65536 + 7);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 31 + 7) & 0xff;
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let rssMax = rss0;
    const sock = net.connect({ host: '127.0.0.1', port: front.port, allowHalfOpen: true });
    let received = 0;
    let mismatch = -1;
    const done = new Promise<void>((resolve, reject) => {
      sock.on('data', (b: Buffer) => {
        // compare against the pattern at this offset, piece by piece (memcmp, no copy)
        let off = 0;
        while (off < b.length && mismatch < 0) {
          const p = (received + off) % pattern.length;
          const n = Math.min(b.length - off, pattern.length - p);
          if (b.compare(pattern, p, p + n, off, off + n) !== 0) mismatch = received + off;
          off += n;
        }
        received += b.length;
      });
      sock.on('end', () => resolve());
      sock.on('error', reject);
    });
    const sample = setInterval(() => {
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }, 100);
    await new Promise<void>((r) => sock.on('connect', r));
    let sent = 0;
    // write with backpressure from the client side too
    while (sent < TOTAL) {
      const n = Math.min(pattern.length, TOTAL - sent);
      // slice at the pattern offset of `sent` so the byte stream is the pattern repeated
      const p = sent % pattern.length;
      const chunk = p + n <= pattern.length ? pattern.subarray(p, p + n) : Buffer.concat([pattern.subarray(p), pattern.subarray(0, n - (pattern.length - p))]);
      sent += n;
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    }
    sock.end();
    await done;
    clearInterval(sample);
    const e = await front.nextEnd();
    assert.equal(mismatch, -1, `first differing byte at ${mismatch}`);
    assert.equal(received, TOTAL);
    assert.equal(e.bytesIn, TOTAL);
    assert.equal(e.bytesOut, TOTAL);
    assert.equal(e.termination, '--');
    const growth = (rssMax - rss0) / 1048576;
    assert.ok(growth < 100, `RSS grew ${growth.toFixed(1)} MB during the transfer`);
  });
});

describe('tcp relay: half-close', () => {
  it('client FIN first: the server still answers in full after it, then "--"', async () => {
    const reply = Buffer.alloc(3 * 1024 * 1024, 0x61);
    const up = await startUpstream((s) => {
      const got: Buffer[] = [];
      s.on('data', (b: Buffer) => got.push(b));
      // answer only after the client's FIN has arrived: the relay must keep server->client open
      s.on('end', () => setTimeout(() => {
        s.write(Buffer.from(`got ${Buffer.concat(got).length}\n`));
        s.end(reply);
      }, 100));
    });
    const front = await startFront(up.port);
    const { done } = clientExchange(front.port, Buffer.alloc(100000, 0x62));
    const r = await done;
    const e = await front.nextEnd();
    await front.close();
    await up.close();
    assert.equal(r.how, 'end');
    const head = r.data.subarray(0, r.data.indexOf(10) + 1).toString();
    assert.equal(head, 'got 100000\n');
    assert.equal(r.data.length - head.length, reply.length);
    assert.equal(e.termination, '--');
    assert.equal(e.bytesIn, 100000);
    assert.equal(e.bytesOut, r.data.length);
  });

  it('server FIN first: the client keeps sending after it and the server receives it all', async () => {
    let gotAll!: (n: number) => void;
    const serverGot = new Promise<number>((r) => { gotAll = r; });
    const up = await startUpstream((s) => {
      let n = 0;
      s.on('data', (b: Buffer) => { n += b.length; });
      s.on('end', () => { gotAll(n); s.destroy(); });
      s.end('banner and bye\n'); // FIN right away, reading on
    });
    const front = await startFront(up.port);
    const sock = net.connect({ host: '127.0.0.1', port: front.port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    sock.on('data', (b: Buffer) => chunks.push(b));
    await new Promise<void>((r) => sock.on('end', r)); // the server's FIN reached us
    const big = Buffer.alloc(2 * 1024 * 1024, 0x63);
    sock.write(big);
    sock.end('tail');
    await new Promise<void>((r) => sock.on('close', r));
    const e = await front.nextEnd();
    const n = await serverGot;
    await front.close();
    await up.close();
    assert.equal(Buffer.concat(chunks).toString(), 'banner and bye\n');
    assert.equal(n, big.length + 4);
    assert.equal(e.termination, '--');
  });

  it('bytes sent before the server is attached (and a FIN) are forwarded in order', async () => {
    const up = await startUpstream(echo);
    const ends: string[] = [];
    const srv = net.createServer({ allowHalfOpen: true }, (c) => {
      const s = new TcpSession(c, { client: 5000, server: 5000, tunnel: 0, clientFin: 0, serverFin: 0 }, (e) => ends.push(e.termination));
      s.queued();
      // attach late, after the client already sent everything and its FIN
      setTimeout(() => void s.connect({ host: '127.0.0.1', port: up.port }, 1000).then((o) => o.ok && s.attach(o.socket)), 200);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { done } = clientExchange((srv.address() as net.AddressInfo).port, 'early bytes');
    const r = await done;
    await sleep(20);
    srv.close();
    await up.close();
    assert.equal(r.data.toString(), 'early bytes');
    assert.deepEqual(ends, ['--']);
  });
});

describe('tcp relay: resets and connect failures cost only their own session', () => {
  let up: Upstream;
  let front: Front;
  before(async () => {
    up = await startUpstream((s) => {
      s.on('data', (b: Buffer) => {
        if (b.toString().startsWith('RST')) s.resetAndDestroy();
        else s.write(b);
      });
      s.on('end', () => s.end());
    });
    front = await startFront(up.port);
  });
  after(async () => {
    await front.close();
    await up.close();
  });

  it('client reset -> "CD"; server reset -> "SD"; a parallel session is untouched', async () => {
    // a long-lived bystander session
    const by = net.connect({ host: '127.0.0.1', port: front.port, allowHalfOpen: true });
    await new Promise<void>((r) => by.on('connect', r));
    const byGot: Buffer[] = [];
    by.on('data', (b: Buffer) => byGot.push(b));
    by.write('one ');

    const c = net.connect({ host: '127.0.0.1', port: front.port });
    await new Promise<void>((r) => c.on('connect', r));
    c.write('hello');
    await new Promise<void>((r) => c.once('data', () => r()));
    c.resetAndDestroy();
    const e1 = await front.nextEnd();
    assert.equal(e1.termination, 'CD');
    assert.equal(e1.bytesIn, 5);

    const s = clientExchange(front.port, 'RST please', true);
    const r = await s.done;
    const e2 = await front.nextEnd();
    assert.equal(e2.termination, 'SD');
    assert.equal(r.how, 'error:ECONNRESET'); // an abort is passed on as an abort

    by.end('two');
    await new Promise<void>((r2) => by.on('close', r2));
    assert.equal(Buffer.concat(byGot).toString(), 'one two');
    const e3 = await front.nextEnd();
    assert.equal(e3.termination, '--');
  });

  it('connection refused -> "SC" and Tc -1', async () => {
    const dead = await freePort();
    const f = await startFront(dead);
    const { done } = clientExchange(f.port, 'x', true);
    const r = await done;
    const e = await f.nextEnd();
    await f.close();
    assert.equal(e.termination, 'SC');
    assert.equal(e.tc, -1);
    assert.equal(e.tw, 0);
    assert.equal(r.data.length, 0);
  });
});

describe('tcp relay: phases before data', () => {
  it('a client that leaves while queued ends "CQ"; a queue timeout is "sQ" with Tw, and no Tc', async () => {
    const ends: { termination: string; tw: number; tc: number }[] = [];
    const srv = net.createServer({ allowHalfOpen: true }, (c) => {
      const s = new TcpSession(c, { client: 5000, server: 5000, tunnel: 0, clientFin: 0, serverFin: 0 }, (e) => ends.push(e));
      s.queued();
      // the proxy core's queue timeout, here 300 ms
      setTimeout(() => s.fail('s', 'Q'), 300);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('error', () => undefined);
    await new Promise<void>((r) => c.on('connect', r));
    await sleep(50);
    c.resetAndDestroy();
    const b = clientExchange(port, 'waiting', true);
    await b.done;
    await sleep(50);
    srv.close();
    assert.deepEqual(ends.map((e) => e.termination), ['CQ', 'sQ']);
    assert.equal(ends[1].tc, -1);
    assert.ok(ends[1].tw >= 280 && ends[1].tw < 2000, `Tw ${ends[1].tw}`); // the time it queued
    assert.equal(ends[0].tw, -1); // the client left before: no queue time logged
  });
});

describe('tcp relay: timeouts', () => {
  const within = (ms: number, lo: number, hi: number) => assert.ok(ms >= lo && ms <= hi, `Tt ${ms} not in [${lo}, ${hi}]`);

  it('an idle server (timeout server) -> "sD"; an idle client (timeout client) -> "cD"', async () => {
    const up = await startUpstream(() => undefined); // never says anything
    const f1 = await startFront(up.port, { client: 5000, server: 300 });
    const a = clientExchange(f1.port, 'ping', true);
    const e1 = await f1.nextEnd();
    await a.done;
    assert.equal(e1.termination, 'sD');
    within(e1.tt, 280, 1500);
    const f2 = await startFront(up.port, { client: 300, server: 5000 });
    const b = clientExchange(f2.port, '', true);
    const e2 = await f2.nextEnd();
    await b.done;
    assert.equal(e2.termination, 'cD');
    within(e2.tt, 280, 1500);
    await f1.close();
    await f2.close();
    await up.close();
  });

  it('a client that stops reading while the server pushes -> "cD" after timeout client; the server timer does not fire', async () => {
    const up = await startUpstream((s) => {
      const chunk = Buffer.alloc(65536, 0x78);
      const push = () => {
        while (s.writable && s.write(chunk));
      };
      s.on('drain', push);
      push();
    });
    const f = await startFront(up.port, { client: 400, server: 5000 });
    const sock = net.connect({ host: '127.0.0.1', port: f.port });
    sock.on('error', () => undefined);
    sock.pause(); // never read
    const e = await f.nextEnd();
    sock.destroy();
    await f.close();
    await up.close();
    assert.equal(e.termination, 'cD');
    assert.ok(e.bytesOut > 0);
    within(e.tt, 380, 3000);
  });

  it('timeout tunnel replaces client/server once relaying', async () => {
    const up = await startUpstream(echo);
    const f = await startFront(up.port, { client: 100, server: 100, tunnel: 700 });
    const sock = net.connect({ host: '127.0.0.1', port: f.port });
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.on('connect', r));
    sock.write('a');
    await sleep(350); // idle longer than client/server, shorter than tunnel
    sock.write('b');
    const got: Buffer[] = [];
    sock.on('data', (b: Buffer) => got.push(b));
    const e = await f.nextEnd();
    await f.close();
    await up.close();
    assert.equal(Buffer.concat(got).toString().includes('b'), true);
    assert.equal(e.termination, 'cD');
    within(e.tt, 350 + 650, 350 + 2000);
  });

  it('setTimeouts: the backend chosen after accept brings its own server timeout', async () => {
    const up = await startUpstream(() => undefined);
    const ends: string[] = [];
    let tt = -1;
    const srv = net.createServer({ allowHalfOpen: true }, (c) => {
      const s = new TcpSession(c, { client: 5000, server: 5000, tunnel: 0, clientFin: 0, serverFin: 0 }, (e) => { ends.push(e.termination); tt = e.tt; });
      void s.connect({ host: '127.0.0.1', port: up.port }, 1000).then((o) => {
        if (!o.ok) return;
        s.setTimeouts({ client: 5000, server: 300, tunnel: 0, clientFin: 0, serverFin: 0 });
        s.attach(o.socket);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const a = clientExchange((srv.address() as net.AddressInfo).port, 'x', true);
    await a.done;
    srv.close();
    await up.close();
    assert.deepEqual(ends, ['sD']);
    within(tt, 280, 2000);
  });

  it('timeout server-fin: after the client FIN, an idle server is cut at server-fin, not server', async () => {
    const up = await startUpstream(() => undefined);
    const f = await startFront(up.port, { client: 5000, server: 5000, serverFin: 300 });
    const a = clientExchange(f.port, 'bye'); // sends its FIN at once
    const e = await f.nextEnd();
    await a.done;
    await f.close();
    await up.close();
    assert.equal(e.termination, 'sD');
    within(e.tt, 280, 2000);
  });

  it('timeout client-fin: after the server FIN reached the client, an idle client is cut at client-fin', async () => {
    const up = await startUpstream((s) => s.end('bye\n'));
    const f = await startFront(up.port, { client: 5000, server: 5000, clientFin: 300, tunnel: 10000 });
    const a = clientExchange(f.port, '', true, true);
    const e = await f.nextEnd();
    a.sock.destroy(); // it stayed half-open on purpose; the relay has closed its end
    const r = await a.done;
    await f.close();
    await up.close();
    assert.equal(r.data.toString(), 'bye\n');
    // the server only half-closed (its connection is still established): data phase
    assert.equal(e.termination, 'cD');
    within(e.tt, 280, 2000);
  });
});

describe('tcplog lines', () => {
  it('a session logs as HAProxy 2.6 logs the same exchange in mode tcp (option tcplog)', async () => {
    const up = await startUpstream(echo);
    const front = await startFront(up.port);
    const exchange = async (port: number): Promise<void> => {
      const r = await clientExchange(port, 'hello').done;
      assert.equal(r.data.toString(), 'hello');
    };
    await exchange(front.port);
    // (a stray connection from another process probing ports on this shared machine is not ours)
    let e = await front.nextEnd();
    while (e.bytesIn !== 5) e = await front.nextEnd();
    const ours = formatTcplog({
      clientIp: '127.0.0.1', clientPort: 40000, frontend: 'fe', backend: 'be', server: 's1', end: e,
      actconn: 1, feconn: 1, beconn: 0, srvconn: 0, retries: 0, srvQueue: 0, backendQueue: 0,
    });
    await front.close();
    // the values a test can know are compared; ports, dates and durations are masked
    const mask = (l: string) => l.replace(/:\d+ \[[^\]]+\]/, ':P [DATE]').replace(/ \d+\/\d+\/\d+ /, ' TW/TC/TT ');
    assert.equal(mask(ours), '127.0.0.1:P [DATE] fe be/s1 TW/TC/TT 5 -- 1/1/0/0/0 0/0');
    const bin = haproxyBinary();
    if (bin) {
      const [hport] = await distinctPorts(1, [up.port]);
      const hp = await startHaproxy(bin, `global\n  log stdout format raw local0\ndefaults\n  mode tcp\n  log global\n  option tcplog\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nfrontend fe\n  bind 127.0.0.1:${hport}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:${up.port}\n`, [hport]);
      try {
        // startHaproxy's own probe connection is logged too: let it end first, then find our line
        await sleep(300);
        await exchange(hport);
        const ourLine = (): string => hp.output().split('\n').find((l) => / fe be\/s1 \d+\/\d+\/\d+ 5 /.test(l)) ?? '';
        const t0 = Date.now();
        while (ourLine() === '' && Date.now() - t0 < 3000) await sleep(20);
        const line = ourLine();
        assert.equal(mask(line.trim()), mask(ours));
      } finally {
        await hp.stop();
      }
    }
    await up.close();
  });
});
