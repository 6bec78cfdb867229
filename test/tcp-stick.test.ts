// Stick tables in mode tcp: tcp-request connection/content track-scN, sc-inc-gpc0, sc-set-gpt0
// and an sc_conn_rate condition, run by gatehouse (2 workers) and HAProxy 2.6 on the same
// haproxy.cfg: a client opening connections past the rate is refused by both, and `show table`
// on both runtime APIs shows the same entries (conn_*, sess_*, bytes_*, gpc0, gpt0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { loadConfig } from '../src/config/load';
import { ConfigError } from '../src/config/errors';
import { sleep, startGatehouse, tmpFile } from './helpers/net';
import { runtimeCommand as cli, waitForSocket } from './helpers/runtime-api';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { echoServer } from './helpers/tcp';

/** Connect, send `data`, half-close, and collect everything until the proxy closes ('' when refused). */
function exchange(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.end(data));
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** show table lines without the entry address and the expiry countdown (they differ by nature). */
function comparable(text: string): string {
  return text.replace(/^0x[0-9a-f]+: /gm, '').replace(/ exp=\d+/g, ' exp=N').replace(/ use=\d+/g, ' use=N');
}

const cfg = (port: number, server: number, sock: string, limit: number) => `global
    nbthread 2
    stats socket ${sock} level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:${port}
    stick-table type ip size 1k expire 60s store conn_cnt,conn_cur,conn_rate(60s),sess_cnt,sess_rate(60s),bytes_in_cnt,bytes_out_cnt,gpc0,gpt0
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc_conn_rate(0) gt ${limit} }
    tcp-request content track-sc1 src table side
    tcp-request content sc-inc-gpc0(1)
    tcp-request content sc-set-gpt0(0) 7 if { sc1_get_gpc0(side) ge 1 }
    default_backend be
backend side
    stick-table type ip size 1k expire 60s store conn_cnt,conn_cur,sess_cnt,gpc0
backend be
    server s1 127.0.0.1:${server}
`;

test('mode tcp: connections past sc_conn_rate refused as by HAProxy 2.6, and the same show table', async (t) => {
  const echo = await echoServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-tcpstick-'));
  const [gp, hp] = await distinctPorts(2, [echo.port]);
  const limit = 5;
  const total = 9;
  const gsock = path.join(dir, 'gh.sock');
  const hsock = path.join(dir, 'ha.sock');
  const gh = await startGatehouse(cfg(gp, echo.port, gsock, limit), [gp], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, cfg(hp, echo.port, hsock, limit), [hp]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await echo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Forget the start-up probe's connection, run `total` exchanges, wait until every session ended. */
  const run = async (port: number, sock: string): Promise<{ got: string[]; fe: string; side: string }> => {
    await waitForSocket(sock);
    await sleep(200);
    assert.equal(await cli(sock, 'clear table fe'), '\n');
    assert.equal(await cli(sock, 'clear table side'), '\n');
    const got: string[] = [];
    for (let i = 0; i < total; i++) got.push(await exchange(port, 'hello'));
    let fe = '';
    for (let i = 0; i < 50; i++) {
      fe = await cli(sock, 'show table fe');
      if (fe.includes(' conn_cur=0 ')) break;
      await sleep(100);
    }
    return { got, fe, side: await cli(sock, 'show table side') };
  };

  const g = await run(gp, gsock);
  assert.deepEqual(g.got, [...new Array<string>(limit).fill('s1:hello'), ...new Array<string>(total - limit).fill('')]);
  // every connection tracked and counted; only the accepted ones are sessions and carry bytes
  assert.match(
    g.fe,
    new RegExp(`key=127\\.0\\.0\\.1 use=0 exp=\\d+ gpt0=7 gpc0=0 conn_cnt=${total} conn_rate\\(60000\\)=${total} conn_cur=0 sess_cnt=${limit} sess_rate\\(60000\\)=${limit} bytes_in_cnt=${limit * 5} bytes_out_cnt=${limit * 8}\\n`),
  );
  assert.match(g.side, new RegExp(`key=127\\.0\\.0\\.1 use=0 exp=\\d+ gpc0=${limit} conn_cnt=${limit} conn_cur=0 sess_cnt=0\\n`));
  if (ha !== null) {
    const h = await run(hp, hsock);
    assert.deepEqual(h.got, g.got, 'HAProxy refuses the same connections');
    assert.equal(comparable(g.fe), comparable(h.fe));
    assert.equal(comparable(g.side), comparable(h.side));
  } else {
    t.diagnostic('haproxy not installed: compared with the expected figures only');
  }
});

test('tcp-request stick actions: both syntaxes, and clear errors', () => {
  const yaml = `frontends:
  fe:
    mode: tcp
    bind: "127.0.0.1:1"
    stick_table: "type ip size 1k store conn_rate(10s),gpc0"
    tcp_request:
      - "connection track-sc0 src"
      - "connection reject if { sc_conn_rate(0) gt 10 }"
      - "content sc-inc-gpc0(0) if { src_conn_rate gt 5 }"
    default_backend: be
backends:
  be:
    mode: tcp
    servers: [{ name: s, address: "127.0.0.1:2" }]
`;
  const y = loadConfig([tmpFile('tcpstick.yaml', yaml)]).config;
  const c = loadConfig([tmpFile('tcpstick.cfg', `defaults\n  mode tcp\n  timeout client 1s\n  timeout server 1s\n  timeout connect 1s\nfrontend fe\n  bind 127.0.0.1:1\n  stick-table type ip size 1k store conn_rate(10s),gpc0\n  tcp-request connection track-sc0 src\n  tcp-request connection reject if { sc_conn_rate(0) gt 10 }\n  tcp-request content sc-inc-gpc0(0) if { src_conn_rate gt 5 }\n  default_backend be\nbackend be\n  server s 127.0.0.1:2\n`)]).config;
  for (const m of [y, c]) {
    const tr = m.frontends[0].tcpRequest!;
    assert.equal(tr.connection.length, 2);
    assert.deepEqual(tr.connection[0], { action: 'track-sc', slot: 0, key: [{ kind: 'fetch', fetch: 'src', arg: '', conv: [] }], table: 'fe', cond: null });
    assert.equal(tr.content[0].action, 'sc-inc-gpc');
    // src_conn_rate without a table: the proxy's own
    assert.match(JSON.stringify(tr.content[0].cond), /"fetch":"src_conn_rate","arg":"fe"/);
  }
  const bad = (lines: string, re: RegExp): void => {
    try {
      loadConfig([tmpFile('tcpstickbad.cfg', `defaults\n  mode tcp\nfrontend fe\n  bind 127.0.0.1:1\n${lines}  default_backend be\nbackend be\n  server s 127.0.0.1:2\n`)]);
      assert.fail('accepted');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      assert.match(e.issues.map((i) => `${i.line}: ${i.message}`).join('\n'), re);
    }
  };
  bad('  tcp-request connection track-sc0 src\n', /5: 'track-sc0' without 'table' needs a stick-table in frontend 'fe'/);
  bad('  tcp-request connection track-sc0 req.ssl_sni table fe\n  stick-table type string size 1k\n', /5: 'tcp-request connection' rules cannot use payload fetches/);
  bad('  tcp-request content sc-inc-gpc0\n', /5: 'sc-inc-gpc0' expects a sticky counter number/);
  bad('  tcp-request content track-sc0 src table nope\n', /5: no stick table named 'nope'/);
  bad('  tcp-request session reject if { req.len gt 0 }\n', /5: 'tcp-request session' rules cannot use payload fetches/);
  // session rules: both syntaxes, HAProxy's warning for a misplaced one
  const sm = loadConfig([tmpFile('tcpsess.yaml', 'frontends:\n  fe:\n    mode: tcp\n    bind: "127.0.0.1:1"\n    stick_table: "type ip size 1k store sess_cnt"\n    tcp_request: ["content accept", "session track-sc0 src"]\n    default_backend: be\nbackends:\n  be:\n    mode: tcp\n    servers: [{ name: s, address: "127.0.0.1:2" }]\n')]);
  assert.equal(sm.config.frontends[0].tcpRequest!.session[0].action, 'track-sc');
  assert.match(sm.warnings.map((w) => w.message).join('\n'), /a 'tcp-request session' rule placed after a 'tcp-request content' rule will still be processed before/);
  bad('  tcp-request content track-sc0 req.ssl_sni,lower table fe\n  stick-table type string size 1k\n', /5: 'track-sc0' keys on the payload only as one of req\.ssl_sni, req\.len, req\.ssl_hello_type without converters/);
});

/** A TLS ClientHello naming `servername`, as Node's TLS client sends it (captured from a raw socket). */
async function clientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      s.once('data', (d) => {
        resolve(d);
        s.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', servername, rejectUnauthorized: false });
      c.on('error', () => undefined);
    });
    server.on('error', reject);
  });
}

/** Send `data` without half-closing (a TLS client waits for the answer); bytes received until the proxy closes or 1 s of silence. */
function send(port: number, data: Buffer): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const s = net.connect(port, '127.0.0.1', () => s.write(data));
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(n);
    };
    let timer = setTimeout(done, 1000);
    s.on('data', (d) => {
      n += d.length;
      if (n >= data.length + 3) done();
    });
    s.on('error', () => undefined);
    s.on('close', done);
  });
}

const sniCfg = (port: number, server: number, sock: string) => `global
    stats socket ${sock} level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:${port}
    tcp-request inspect-delay 2s
    tcp-request content track-sc1 req.ssl_sni table sni
    tcp-request content reject if { sc1_conn_cnt(sni) gt 2 }
    tcp-request content accept if { req.ssl_hello_type 1 }
    default_backend be
backend sni
    stick-table type string len 32 size 1k expire 60s store conn_cnt,conn_cur
backend be
    server s1 127.0.0.1:${server}
`;

test('mode tcp: track-sc1 keyed on the SNI of the ClientHello, limits per name, as HAProxy 2.6', async (t) => {
  const echo = await echoServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-tcpsni-'));
  const [gp, hp] = await distinctPorts(2, [echo.port]);
  const gsock = path.join(dir, 'gh.sock');
  const hsock = path.join(dir, 'ha.sock');
  const gh = await startGatehouse(sniCfg(gp, echo.port, gsock), [gp], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, sniCfg(hp, echo.port, hsock), [hp]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await echo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const a = await clientHello('a.test');
  const b = await clientHello('b.test');
  const run = async (port: number, sock: string): Promise<{ got: number[]; table: string }> => {
    await waitForSocket(sock);
    const got: number[] = [];
    for (const hello of [a, a, a, b, a]) got.push(await send(port, hello));
    await sleep(200);
    return { got, table: await cli(sock, 'show table sni') };
  };
  const g = await run(gp, gsock);
  const ok = a.length + 3;
  assert.deepEqual(g.got, [ok, ok, 0, b.length + 3, 0], 'a.test refused from its third connection on, b.test has its own count');
  assert.match(g.table, /key=a\.test use=0 exp=\d+ conn_cnt=4 conn_cur=0\n/);
  assert.match(g.table, /key=b\.test use=0 exp=\d+ conn_cnt=1 conn_cur=0\n/);
  if (ha !== null) {
    const h = await run(hp, hsock);
    assert.deepEqual(h.got, g.got);
    const sorted = (x: string) => comparable(x).split('\n').sort().join('\n');
    assert.equal(sorted(g.table), sorted(h.table));
  }
});
