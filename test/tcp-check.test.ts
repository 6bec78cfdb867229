// Health checks for TCP backends: tcp-check sequences and the protocol checks (ssl-hello,
// redis, smtp, pgsql, mysql), configured in haproxy.cfg syntax and in YAML, run against real
// scripted servers; and end to end, a gatehouse process whose health thread marks a server
// DOWN and UP again through a tcp-check sequence, as HAProxy 2.6 does on the same cfg.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config/load';
import type { TcpCheckConfig } from '../src/config/model';
import { probe } from '../src/health/probe';
import { checkTargets } from '../src/health/targets';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { freePort, sleep, startGatehouse, tmpFile, csvRow, statsCsv } from './helpers/net';

/** A TCP server that answers each connection with `script`. */
async function scripted(script: (s: net.Socket) => void): Promise<{ port: number; close(): void }> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    script(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => srv.close() };
}

/** Loads a backend section (haproxy.cfg lines) and probes its first server like the health thread. */
async function check(backendLines: string, serverPort: number, timeout = '1s') {
  const file = tmpFile('tcpcheck.cfg', `defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout check ${timeout}\nfrontend fe\n  bind 127.0.0.1:1\n  default_backend be\nbackend be\n${backendLines}\n  server s1 127.0.0.1:${serverPort} check\n`);
  const { config } = loadConfig([file]);
  const t = checkTargets(config)[0];
  return probe(t, new AbortController().signal);
}

const closers: (() => void)[] = [];
after(() => closers.forEach((c) => c()));

describe('tcp-check sequences', () => {
  it('connect, send, expect string / binary / negated rstring: L7OK "(tcp-check)"', async () => {
    const got: string[] = [];
    const s = await scripted((c) => c.on('data', (b: Buffer) => {
      got.push(b.toString('latin1'));
      if (b.toString().includes('PING')) c.write('+PONG\r\n');
      if (b.toString().includes('QUIT')) c.end('+PONG bye\r\n'); // a negated expect waits for the close
    }));
    closers.push(s.close);
    const r = await check(['  option tcp-check', '  tcp-check send PING\\r\\n', '  tcp-check expect string +PONG', '  tcp-check send-binary 51554954', '  tcp-check expect ! rstring ^-ERR', '  tcp-check expect binary 504f4e47'].join('\n'), s.port);
    assert.deepEqual({ status: r.status, info: r.info }, { status: 'L7OK', info: '(tcp-check)' });
    assert.ok(got.join('').startsWith('PING\r\n'));
  });

  it('a wrong answer is L7RSP naming the step; a missing one is L7TOUT; no server is L4CON', async () => {
    const s = await scripted((c) => c.on('data', () => c.write('-ERR nope\r\n')));
    closers.push(s.close);
    const wrong = await check('  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect min-recv 5 string +PONG', s.port);
    assert.equal(wrong.status, 'L7RSP');
    assert.match(wrong.info, /TCPCHK did not match content '\+PONG' at step 2/); // the implicit connect is not counted
    const silent = await scripted(() => undefined);
    closers.push(silent.close);
    const tout = await check('  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG', silent.port, '300ms');
    assert.equal(tout.status, 'L7TOUT');
    assert.ok(tout.durationMs >= 250, `took ${tout.durationMs}ms`);
    const dead = await freePort();
    const refused = await check('  option tcp-check\n  tcp-check expect string x', dead);
    assert.equal(refused.status, 'L4CON');
  });

  it('connect port N checks another port; a bare connect sequence is L4OK', async () => {
    const other = await scripted((c) => c.end('220 hello\r\n'));
    closers.push(other.close);
    const dead = await freePort(); // the server's own port is closed: only the check port answers
    const r = await check(`  option tcp-check\n  tcp-check connect port ${other.port}\n  tcp-check expect rstring ^220`, dead);
    assert.equal(r.status, 'L7OK');
    const bare = await check(`  option tcp-check\n  tcp-check connect port ${other.port}`, dead);
    assert.equal(bare.status, 'L4OK');
  });
});

describe('protocol checks', () => {
  it('redis-check: +PONG is L7OK, an error reply is L7STS with its text', async () => {
    const ok = await scripted((c) => c.on('data', () => c.write('+PONG\r\n')));
    const loading = await scripted((c) => c.on('data', () => c.write('-LOADING Redis is loading the dataset in memory\r\n')));
    closers.push(ok.close, loading.close);
    const a = await check('  option redis-check', ok.port);
    assert.deepEqual([a.status, a.info], ['L7OK', 'Redis server is ok']);
    const b = await check('  option redis-check', loading.port);
    assert.deepEqual([b.status, b.info], ['L7STS', '-LOADING Redis is loading the dataset in memory']);
  });

  it('smtpchk: banner, EHLO reply 250 is L7OK with its code; a 554 banner is L7STS', async () => {
    let hello = '';
    const ok = await scripted((c) => {
      c.write('220 mx.test ESMTP\r\n');
      c.on('data', (b: Buffer) => {
        if (/^EHLO/.test(b.toString())) {
          hello = b.toString();
          c.write('250-mx.test\r\n250-PIPELINING\r\n250 HELP\r\n');
        }
      });
    });
    const busy = await scripted((c) => c.end('554 no service\r\n'));
    closers.push(ok.close, busy.close);
    const a = await check('  option smtpchk EHLO check.example', ok.port);
    assert.deepEqual([a.status, a.code, a.info], ['L7OK', 250, 'HELP']);
    assert.equal(hello, 'EHLO check.example\r\n');
    const b = await check('  option smtpchk', busy.port);
    assert.deepEqual([b.status, b.code], ['L7STS', 554]);
  });

  it('pgsql-check: an authentication request is L7OK; an ErrorResponse is L7RSP with its message', async () => {
    let startup: Buffer | null = null;
    const ok = await scripted((c) => c.on('data', (b: Buffer) => {
      startup = b;
      c.write(Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4])); // md5 password request
    }));
    const err = await scripted((c) => c.on('data', () => {
      const body = Buffer.from('SFATAL\0C28000\0Mno pg_hba.conf entry for host\0\0', 'latin1');
      const h = Buffer.alloc(5);
      h[0] = 0x45;
      h.writeUInt32BE(body.length + 4, 1);
      c.end(Buffer.concat([h, body]));
    }));
    closers.push(ok.close, err.close);
    const a = await check('  option pgsql-check user haproxy', ok.port);
    assert.deepEqual([a.status, a.info], ['L7OK', 'PostgreSQL server is ok']);
    assert.ok(startup !== null);
    const sb = startup as Buffer;
    assert.equal(sb.readUInt32BE(0), sb.length);
    assert.equal(sb.readUInt32BE(4), 0x30000);
    assert.equal(sb.subarray(8).toString('latin1'), 'user\0haproxy\0\0');
    const b = await check('  option pgsql-check user haproxy', err.port);
    assert.deepEqual([b.status, b.info], ['L7RSP', 'no pg_hba.conf entry for host']);
  });

  it('mysql-check: a v10 greeting is L7OK with the version; with a user, the OK packet after the auth packet', async () => {
    const greeting = (): Buffer => {
      const payload = Buffer.concat([Buffer.from([0x0a]), Buffer.from('8.0.36\0', 'latin1'), Buffer.alloc(40, 1)]);
      return Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload]);
    };
    let authUser = '';
    const srv = await scripted((c) => {
      c.write(greeting());
      c.on('data', (b: Buffer) => {
        if (b[3] !== 1) return;
        authUser = b.subarray(4 + 32, b.indexOf(0, 4 + 32)).toString();
        if (authUser === 'haproxy') c.write(Buffer.from([7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]));
        else {
          const msg = Buffer.from(`#28000Access denied for user '${authUser}'`);
          const p = Buffer.concat([Buffer.from([0xff, 0x15, 0x04]), msg]);
          c.write(Buffer.concat([Buffer.from([p.length, 0, 0, 2]), p]));
        }
      });
    });
    closers.push(srv.close);
    const a = await check('  option mysql-check', srv.port);
    assert.deepEqual([a.status, a.info], ['L7OK', '8.0.36']);
    const b = await check('  option mysql-check user haproxy post-41', srv.port);
    assert.deepEqual([b.status, b.info, authUser], ['L7OK', '8.0.36', 'haproxy']);
    const c = await check('  option mysql-check user intruder post-41', srv.port);
    assert.deepEqual([c.status, c.info], ['L7STS', "Access denied for user 'intruder'"]);
  });

  it('ssl-hello-chk: a TLS server is L6OK, a plain-text server L6RSP', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-sslchk-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=chk', '-keyout', `${dir}/k`, '-out', `${dir}/c`], { stdio: 'ignore' });
    const t = tls.createServer({ key: fs.readFileSync(`${dir}/k`), cert: fs.readFileSync(`${dir}/c`) });
    t.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => t.listen(0, '127.0.0.1', r));
    closers.push(() => t.close(), () => fs.rmSync(dir, { recursive: true, force: true }));
    const a = await check('  option ssl-hello-chk', (t.address() as net.AddressInfo).port);
    assert.equal(a.status, 'L6OK');
    const plain = await scripted((c) => c.on('data', () => c.end('HTTP/1.0 400 Bad Request\r\n\r\n')));
    closers.push(plain.close);
    const b = await check('  option ssl-hello-chk', plain.port);
    assert.equal(b.status, 'L6RSP');
  });

  it('the YAML syntax loads the same check as haproxy.cfg', () => {
    const yaml = tmpFile('tcpcheck.yaml', `defaults: { mode: tcp }\nfrontends:\n  fe: { bind: ["127.0.0.1:1"], default_backend: be }\nbackends:\n  be:\n    tcp_check:\n      type: tcp-check\n      steps:\n        - connect: { port: 6379 }\n        - send: "PING\\r\\n"\n        - send_binary: "0d0a"\n        - expect: "! rstring ^-ERR"\n        - expect: { match: string, pattern: "+PONG", min_recv: 5 }\n    servers: [{ name: s1, address: "127.0.0.1:6379", check: true }]\n`);
    const cfg = tmpFile('tcpcheck2.cfg', 'defaults\n  mode tcp\nfrontend fe\n  bind 127.0.0.1:1\n  default_backend be\nbackend be\n  option tcp-check\n  tcp-check connect port 6379\n  tcp-check send "PING\\r\\n"\n  tcp-check send-binary 0d0a\n  tcp-check expect ! rstring ^-ERR\n  tcp-check expect min-recv 5 string +PONG\n  server s1 127.0.0.1:6379 check\n');
    const a = loadConfig([yaml]).config.backends[0].tcpCheck as TcpCheckConfig;
    const b = loadConfig([cfg]).config.backends[0].tcpCheck as TcpCheckConfig;
    assert.deepEqual(a, b);
    assert.equal(a.steps.length, 5);
    assert.deepEqual(a.steps[1], { kind: 'send', data: 'PING\r\n', binary: false, comment: null });
  });
});

describe('a tcp-check sequence marks a server DOWN and UP through the health thread', () => {
  it('gatehouse and HAProxy 2.6 agree on the same cfg', async () => {
    let healthy = true;
    const probeSrv = await scripted((c) => c.on('data', () => c.end(healthy ? '+PONG\r\n' : '-ERR down\r\n')));
    closers.push(probeSrv.close);
    const web = await scripted((c) => c.end('HTTP/1.0 200 OK\r\n\r\nok'));
    closers.push(web.close);
    const [port, stats, hport, hstats] = await distinctPorts(4);
    const cfg = (p: number, sp: number) => `global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout check 500ms\nfrontend fe\n  bind 127.0.0.1:${p}\n  default_backend be\nbackend be\n  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  server s1 127.0.0.1:${web.port} check port ${probeSrv.port} inter 200ms rise 1 fall 1\nlisten stats\n  bind 127.0.0.1:${sp}\n  stats enable\n  stats uri /stats\n`;
    const gh = await startGatehouse(cfg(port, stats), [port, stats], { ext: '.cfg' });
    closers.push(() => void gh.stop());
    const bin = haproxyBinary();
    const hp = bin ? await startHaproxy(bin, cfg(hport, hstats), [hport, hstats]) : null;
    if (hp) closers.push(() => void hp.stop());
    const statusOf = async (sp: number) => {
      const row = csvRow(await statsCsv(sp, '/stats'), 'be', 's1');
      return `${row?.status} ${row?.check_status}`;
    };
    const waitStatus = async (sp: number, want: RegExp) => {
      const t0 = Date.now();
      let last = '';
      while (Date.now() - t0 < 8000) {
        last = await statusOf(sp);
        if (want.test(last)) return last;
        await sleep(100);
      }
      assert.fail(`port ${sp}: wanted ${want}, last ${last}`);
    };
    const ports = hp ? [stats, hstats] : [stats];
    for (const sp of ports) await waitStatus(sp, /^UP L7OK$/);
    healthy = false;
    for (const sp of ports) await waitStatus(sp, /^DOWN L7RSP$/);
    healthy = true;
    for (const sp of ports) await waitStatus(sp, /^UP L7OK$/);
    const line = (out: string) => /Server be\/s1 is DOWN, reason: [^\n]*/.exec(out)?.[0].replace(/, check duration: \d+ms/, '');
    assert.match(gh.output(), /Server be\/s1 is DOWN, reason: Layer7 invalid response, info: "TCPCHK did not match content '\+PONG' at step 2"/);
    if (hp) assert.equal(line(gh.output()), line(hp.output()));
  });
});
