// `mode tcp` configuration in both syntaxes, and HAProxy's mode rules compared with
// `haproxy -c` on the same files: what HAProxy refuses is refused, what it accepts is accepted.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load';
import { haproxyBinary } from './helpers/haproxy';
import { runCli, tmpFile } from './helpers/net';

const TIMEOUTS = '  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n';

/** `gatehouse -c` and `haproxy -c` on one file: exit codes and outputs. */
async function bothCheck(name: string, text: string): Promise<{ gh: number | null; ghOut: string; hp: number | null; hpOut: string }> {
  const file = tmpFile(name, text);
  const p = runCli(['-c', '-f', file]);
  const gh = await p.exited;
  const bin = haproxyBinary();
  const h = bin ? spawnSync(bin, ['-c', '-f', file], { encoding: 'utf8' }) : null;
  return { gh, ghOut: p.output(), hp: h ? h.status : null, hpOut: h ? h.stdout + h.stderr : '' };
}

describe('mode tcp: the model from haproxy.cfg and from YAML', () => {
  const cfg = `defaults\n  mode tcp\n${TIMEOUTS}  timeout client-fin 1s\n  timeout server-fin 2s\n  option tcplog\nfrontend fe\n  bind 127.0.0.1:1\n  tcp-request inspect-delay 5s\n  tcp-request connection reject if { src 10.0.0.0/8 }\n  tcp-request content accept if { req.ssl_hello_type 1 }\n  acl is_a req.ssl_sni -i a.example\n  use_backend be_a if is_a\n  default_backend be_b\nbackend be_a\n  server a 127.0.0.1:2\nbackend be_b\n  timeout tunnel 1h\n  option redis-check\n  server b 127.0.0.1:3 check\n`;
  const yaml = `defaults:\n  mode: tcp\n  timeout: { connect: 1s, client: 5s, server: 5s, client_fin: 1s, server_fin: 2s }\n  tcplog: true\nfrontends:\n  fe:\n    bind: ["127.0.0.1:1"]\n    tcp_request:\n      - inspect-delay 5s\n      - connection reject if { src 10.0.0.0/8 }\n      - content accept if { req.ssl_hello_type 1 }\n    acls: { is_a: "req.ssl_sni -i a.example" }\n    use_backend: [{ backend: be_a, if: is_a }]\n    default_backend: be_b\nbackends:\n  be_a:\n    servers: [{ name: a, address: "127.0.0.1:2" }]\n  be_b:\n    timeout: { tunnel: 1h }\n    tcp_check: { type: redis }\n    servers: [{ name: b, address: "127.0.0.1:3", check: true }]\n`;

  it('both syntaxes load to the same model', () => {
    const a = loadConfig([tmpFile('tcp-model.cfg', cfg)]).config;
    const b = loadConfig([tmpFile('tcp-model.yaml', yaml)]).config;
    const strip = (c: typeof a) => ({ frontends: c.frontends.map((f) => ({ ...f, logs: [] })), backends: c.backends });
    assert.deepEqual(strip(a), strip(b));
    const fe = a.frontends[0];
    assert.equal(fe.mode, 'tcp');
    assert.equal(fe.tcplog, true);
    assert.equal(fe.tcpRequest?.inspectDelay, 5000);
    assert.deepEqual(fe.tcpRequest?.content.map((r) => r.action), ['accept']);
    assert.deepEqual(fe.tcpRequest?.connection.map((r) => r.action), ['reject']);
    assert.equal(fe.timeouts.clientFin, 1000);
    assert.equal(a.backends[0].timeouts.serverFin, 2000);
    // a tcp backend's tunnel timeout applies only when written (HAProxy); be_b writes 1h
    assert.equal(a.backends[0].timeouts.tunnel, 0);
    assert.equal(a.backends[1].timeouts.tunnel, 3_600_000);
    assert.equal(a.backends[1].tcpCheck?.type, 'redis');
  });

  it('gatehouse convert turns the tcp cfg into YAML that loads to the same model', async () => {
    const file = tmpFile('tcp-convert.cfg', cfg);
    const p = runCli(['convert', file]);
    assert.equal(await p.exited, 0);
    const yamlText = p.output();
    assert.match(yamlText, /tcp_request:/);
    const a = loadConfig([file]).config;
    const b = loadConfig([tmpFile('tcp-convert.yaml', yamlText)]).config;
    assert.deepEqual({ ...b, sources: [] }, { ...a, sources: [] });
  });

  it('tcp-request rules on an http frontend are refused, not silently skipped', () => {
    const text = `defaults\n  mode http\n${TIMEOUTS}frontend fe\n  bind 127.0.0.1:1\n  tcp-request connection reject if { src 10.0.0.0/8 }\n  default_backend be\nbackend be\n  server s 127.0.0.1:2\n`;
    assert.throws(() => loadConfig([tmpFile('tcp-on-http.cfg', text)]), /tcp-request rules of http frontend 'fe' are not applied by gatehouse yet/);
  });

  it('bad tcp-request and tcp-check lines get clear errors', () => {
    const errorsOf = (name: string, text: string): string => {
      try {
        loadConfig([tmpFile(name, text)]);
      } catch (e) {
        return ((e as { issues?: { message: string; line: number }[] }).issues ?? []).map((i) => `${i.line}: ${i.message}`).join('\n');
      }
      return 'no error';
    };
    const req = errorsOf('tcp-bad1.cfg', `defaults\n  mode tcp\n${TIMEOUTS}frontend fe\n  bind 127.0.0.1:1\n  tcp-request content lua.x\n  tcp-request inspect-delay soon\n  tcp-request connection reject if { req.ssl_sni x }\n  default_backend be\nbackend be\n  server s 127.0.0.1:2\n`);
    assert.match(req, /8: 'tcp-request content lua\.x' is not supported by gatehouse yet/);
    assert.match(req, /9: 'tcp-request inspect-delay' expects a duration/);
    assert.match(req, /10: 'tcp-request connection' rules cannot use payload fetches/);
    const chk = errorsOf('tcp-bad2.cfg', `defaults\n  mode tcp\n${TIMEOUTS}frontend fe\n  bind 127.0.0.1:1\n  default_backend be\nbackend be\n  option tcp-check\n  tcp-check expect regex x\n  tcp-check send-binary zz\n  tcp-check expect rstring (\n  server s 127.0.0.1:2\n`);
    assert.match(chk, /11: unknown 'tcp-check expect' match 'regex'/);
    assert.match(chk, /12: 'tcp-check send-binary' expects a hexadecimal string/);
    assert.match(chk, /13: invalid regular expression '\('/);
  });
});

describe('mode rules as haproxy -c decides them', () => {
  it('an http frontend using a tcp backend is refused, by use_backend and by default_backend', async () => {
    const text = `defaults\n  mode http\n${TIMEOUTS}frontend fe\n  bind 127.0.0.1:19001\n  use_backend be_tcp if { src 10.0.0.0/8 }\n  default_backend be_tcp2\nbackend be_tcp\n  mode tcp\n  server s1 127.0.0.1:8080\nbackend be_tcp2\n  mode tcp\n  server s1 127.0.0.1:8080\n`;
    const r = await bothCheck('mix1.cfg', text);
    assert.equal(r.gh, 1);
    assert.match(r.ghOut, /http frontend 'fe' tries to use incompatible tcp backend 'be_tcp' in a 'use_backend' rule \(see 'mode'\)/);
    assert.match(r.ghOut, /http frontend 'fe' tries to use incompatible tcp backend 'be_tcp2' as its default backend \(see 'mode'\)/);
    if (r.hp !== null) {
      assert.notEqual(r.hp, 0);
      assert.match(r.hpOut, /tries to use incompatible tcp backend 'be_tcp' (\(\S+\) )?in a 'use_backend' rule/);
      assert.match(r.hpOut, /tries to use incompatible tcp backend 'be_tcp2' (\(\S+\) )?as its default backend/);
    }
  });

  it('a tcp frontend may use an http backend; HTTP-only settings of tcp proxies are warnings', async () => {
    const text = `defaults\n  mode http\n${TIMEOUTS}frontend fe\n  mode tcp\n  bind 127.0.0.1:19002\n  option httplog\n  http-request deny\n  default_backend be_http\nbackend be_http\n  server s1 127.0.0.1:8080\nbackend be_tcp\n  mode tcp\n  balance uri\n  cookie SRV insert\n  server s1 127.0.0.1:8080\n`;
    const r = await bothCheck('mix2.cfg', text);
    assert.equal(r.gh, 0, r.ghOut);
    for (const w of [
      /'option httplog' not usable with frontend 'fe' \(needs 'mode http'\)\. Falling back to 'option tcplog'\./,
      /'http-request' rules ignored for frontend 'fe' as they require HTTP mode\./,
      /cookie will be ignored for backend 'be_tcp' \(needs 'mode http'\)\./,
      /Layer 7 hash not possible for backend 'be_tcp' \(needs 'mode http'\)\. Falling back to round robin\./,
    ]) {
      assert.match(r.ghOut, w);
      if (r.hp !== null) assert.match(r.hpOut, w);
    }
    if (r.hp !== null) assert.equal(r.hp, 0);
    // HAProxy runs it (an upgrade to HTTP); gatehouse says at -c time that it will not
    assert.match(r.ghOut, /mix2\.cfg:\d+:\d+: warning: .*tcp frontend 'fe' uses http backend 'be_http': gatehouse does not serve this yet/);
    const model = loadConfig([tmpFile('mix2b.cfg', text)]).config;
    assert.equal(model.frontends[0].tcplog, true);
    assert.equal(model.frontends[0].httplog, false);
    assert.equal(model.backends[1].cookie, null);
    assert.equal(model.backends[1].balance, 'roundrobin');
  });

  it('tcp-check rules without option tcp-check are ignored with HAProxy\'s warning', async () => {
    const text = `defaults\n  mode tcp\n${TIMEOUTS}frontend fe\n  bind 127.0.0.1:19005\n  default_backend be\nbackend be\n  tcp-check send PING\\r\\n\n  tcp-check expect string +PONG\n  server s1 127.0.0.1:8080 check\n`;
    const r = await bothCheck('mix3.cfg', text);
    const w = /backend 'be' uses tcp-check rules without 'option tcp-check', so the rules are ignored\./;
    assert.equal(r.gh, 0);
    assert.match(r.ghOut, w);
    if (r.hp !== null) assert.match(r.hpOut, w);
    assert.equal(loadConfig([tmpFile('mix3b.cfg', text)]).config.backends[0].tcpCheck, undefined);
  });

  it('payload fetches in the rules of an http proxy: HAProxy\'s L6 warning, per rule line', async () => {
    const text = `defaults\n  mode http\n${TIMEOUTS}frontend fe\n  bind 127.0.0.1:19021\n  http-request deny if { req.len gt 0 }\n  use_backend be if { req.ssl_sni a }\n  default_backend be\nbackend be\n  server s1 127.0.0.1:8080\n`;
    const r = await bothCheck('l6.cfg', text);
    assert.equal(r.gh, 0);
    for (const line of [8, 9]) {
      assert.match(r.ghOut, new RegExp(`l6\\.cfg:${line}:\\d+: warning: .*Proxy 'fe': L6 sample fetches ignored on HTTP proxies`));
      if (r.hp !== null) assert.match(r.hpOut, new RegExp(`Proxy 'fe': L6 sample fetches ignored on HTTP proxies \\(declared at \\S+l6\\.cfg:${line}\\)`));
    }
  });

  it('running a tcp frontend that switches to an http backend says clearly it is not served yet', async () => {
    // mode tcp itself is served (test/tcp-e2e.test.ts); HAProxy's upgrade of a tcp stream to HTTP is not
    const file = tmpFile('notserved.cfg', `defaults\n  mode tcp\n${TIMEOUTS}frontend fe\n  bind 127.0.0.1:1\n  default_backend be\nbackend be\n  mode http\n  server s 127.0.0.1:2\n`);
    const p = runCli(['-f', file]);
    assert.equal(await p.exited, 1);
    assert.match(p.output(), /a tcp frontend using an http backend is not served yet: frontend "fe" uses backend "be"/);
  });
});
