// `gatehouse -c` lists every problem of a haproxy.cfg in one run (reader and validator), and the
// directives added for the corpus behave as in HAProxy: monitor-uri answers like HAProxy 2.6
// (compared with a real haproxy), use-service prometheus-exporter serves the metrics.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI, freePort, request, startBackend, startGatehouse, tmpFile } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';

function check(text: string): { code: number | null; lines: string[] } {
  const f = tmpFile('c.cfg', text);
  const r = spawnSync(process.execPath, [CLI, '-c', '-f', f], { encoding: 'utf8' });
  return { code: r.status, lines: (r.stderr ?? '').split('\n').filter((l) => l.includes(': error: ')).map((l) => l.slice(l.indexOf('c.cfg'))) };
}

test('-c reports every error of the file in one run, each at file:line:column', () => {
  const { code, lines } = check(`global
  nbproc 2
  lua-load /etc/haproxy/x.lua
defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind :8080
  default_backend nowhere
  option bogus
backend be
  timeout server ten
  server s1 127.0.0.1:80 track be/s2 socks4 127.0.0.1:1080 frobnicate
`);
  assert.equal(code, 1);
  const at = lines.map((l) => /^c\.cfg:(\d+):(\d+): error:/.exec(l)?.slice(1, 3).join(':'));
  // nbproc, lua-load, the unknown option, both unsupported server options of one line, the
  // unknown one after them, then the validator's: the bad duration and the unknown backend
  assert.deepEqual(at.slice().sort(), ['2:3', '3:3', '12:10', '15:26', '15:38', '15:60', '14:18', '11:19'].sort(), lines.join('\n'));
  assert.match(lines.find((l) => l.startsWith('c.cfg:3:3'))!, /lua-load' is refused: gatehouse cannot run Lua scripts; use http-request/);
  assert.match(lines.find((l) => l.startsWith('c.cfg:11:19'))!, /nowhere/);
});

test('accepted-and-ignored keywords are warnings with their reason, and the file is valid', () => {
  const f = tmpFile('w.cfg', `global
  unix-bind mode 0400
defaults
  mode http
  option tcplog
  timeout client-fin 10s
  timeout connect 5s
  timeout client 5s
  timeout server 5s
peers mypeers
  peer a 127.0.0.1:10000
frontend fe
  bind :8080 v4v6 no-sslv3
  default_backend be
backend be
  server s1 127.0.0.1:80 init-addr last,libc,none check
`);
  const r = spawnSync(process.execPath, [CLI, '-c', '-f', f], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const kw of ['unix-bind', 'bind option v4v6', 'bind option no-sslv3']) {
    assert.match(r.stderr, new RegExp(`warning: '${kw}' is ignored: \\S`), kw);
  }
  // init-addr is read since DNS discovery landed (docs/dns.md): last,libc,none without resolvers says nothing
  assert.doesNotMatch(r.stderr, /init.addr/);
  // served since mode tcp (option tcplog, timeout client-fin) and stick tables (peers) landed
  for (const kw of ['option tcplog', 'timeout client-fin', 'peers section']) {
    assert.doesNotMatch(r.stderr, new RegExp(`'${kw}' is ignored`), kw);
  }
});

test('monitor-uri answers exactly as HAProxy 2.6 does, before the rules', { skip: haproxyBinary() ? false : 'haproxy is not installed' }, async () => {
  const be = await startBackend('app');
  const cfg = (port: number): string => `defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  monitor-uri /healthz
  http-request deny if { path /healthz }
  default_backend be
backend be
  server app 127.0.0.1:${be.port}
`;
  const seen = async (port: number): Promise<string[]> => {
    const out: string[] = [];
    for (const path of ['/healthz', '/healthz?x=1', '/other']) {
      const r = await request(port, { path });
      out.push(`${r.status} ${r.headers['content-type'] ?? ''} ${r.headers['cache-control'] ?? ''} ${r.body.toString()}`);
    }
    return out;
  };
  try {
    const hp = await freePort();
    const ha = await startHaproxy(haproxyBinary()!, cfg(hp), [hp]);
    let expected: string[];
    try {
      expected = await seen(hp);
    } finally {
      await ha.stop();
    }
    const gp = await freePort();
    const gh = await startGatehouse(cfg(gp), [gp], { ext: '.cfg' });
    try {
      const got = await seen(gp);
      assert.deepEqual(got, expected);
      assert.match(expected[0], /^200 text\/html no-cache <html><body><h1>200 OK<\/h1>\nService ready\./);
      assert.match(expected[2], /^200 .* app$/);
    } finally {
      await gh.stop();
    }
  } finally {
    await be.close();
  }
});

test('http-request use-service prometheus-exporter serves the metrics at its path', async () => {
  const port = await freePort();
  const gh = await startGatehouse(`defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend prometheus
  bind 127.0.0.1:${port}
  http-request use-service prometheus-exporter if { path /metrics }
  no log
`, [port], { ext: '.cfg' });
  try {
    const r = await request(port, { path: '/metrics' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(r.body.toString(), /^# (HELP|TYPE) haproxy_/m);
    assert.match(r.body.toString(), /proxy="prometheus"/);
  } finally {
    await gh.stop();
  }
});
