// haproxy.cfg reader: the issue's tutorial config to the expected model, HAProxy's quoting rules,
// defaults inheritance, errors with file:line:col, and the convert round trip (cfg and its YAML
// load to the same model).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyCfg } from '../src/config/haproxy-cfg';
import { tokenizeLine } from '../src/config/cfg-tokenize';
import { configToYaml } from '../src/config/to-yaml';
import { buildModel } from '../src/config/validate';
import { parseYaml } from '../src/config/yaml';
import { ConfigError, formatIssue, type ConfigIssue } from '../src/config/errors';
import type { Config } from '../src/config/model';

const TUTORIAL = `global
    log /dev/log    local0
    daemon

defaults
    mode http
    timeout connect 5000ms
    timeout client 50000ms
    timeout server 50000ms

frontend http_in
    bind *:80
    default_backend http_back

backend http_back
    balance roundrobin
    cookie SERVERID insert indirect nocache
    option httpchk GET /health
    server web1 192.168.1.10:80 check cookie web1
    server web2 192.168.1.11:80 check cookie web2

listen stats
    bind *:8080
    mode http
    stats enable
    stats uri /haproxy?stats
    stats auth admin:password
`;

function load(text: string, env: Record<string, string | undefined> = {}): { config: Config; warnings: ConfigIssue[] } {
  const r = parseHaproxyCfg([{ file: 'h.cfg', text }], env);
  const built = buildModel(r.doc, r.src);
  return { config: built.config, warnings: [...r.warnings, ...built.warnings] };
}

/** The formatted issues of a config that must fail. */
function failure(text: string, env: Record<string, string | undefined> = {}): string[] {
  try {
    load(text, env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.issues.map(formatIssue);
  }
  assert.fail('the configuration was accepted');
}

function words(line: string, env: Record<string, string | undefined> = {}): string[] {
  const r = tokenizeLine(line, { env, file: 'f', line: 7, section: 'sec' });
  assert.equal(r.error, null, r.error?.message);
  return r.words.map((w) => w.text);
}

test('the tutorial configuration loads to the expected model', () => {
  const { config, warnings } = load(TUTORIAL);
  assert.deepEqual(warnings, []);
  assert.equal(config.global.daemon, true);
  assert.deepEqual(config.global.logs, [{ target: 'unix:/dev/log', facility: 'local0', level: 'debug', format: 'rfc3164' }]);
  assert.equal(config.frontends.length, 2);
  const fe = config.frontends[0];
  assert.equal(fe.name, 'http_in');
  assert.deepEqual(fe.binds, [{ host: '0.0.0.0', port: 80, text: '*:80', ssl: false, certs: [], sslMinVer: null, ciphers: null, engine: null, acceptProxy: false }]);
  assert.equal(fe.defaultBackend, 'http_back');
  assert.equal(fe.timeouts.client, 50000);
  // HAProxy logs no traffic for a proxy without `log` lines (no `log global` in defaults).
  assert.deepEqual(fe.logs, []);
  const be = config.backends[0];
  assert.equal(be.name, 'http_back');
  assert.equal(be.balance, 'roundrobin');
  assert.deepEqual([be.timeouts.connect, be.timeouts.server], [5000, 50000]);
  assert.deepEqual(be.cookie, {
    name: 'SERVERID', mode: 'insert', indirect: true, nocache: true, postonly: false, preserve: false,
    httponly: false, secure: false, domain: null, maxidle: 0, maxlife: 0,
  });
  assert.equal(be.healthCheck.type, 'http');
  assert.equal(be.healthCheck.method, 'GET');
  assert.equal(be.healthCheck.uri, '/health');
  assert.equal(be.healthCheck.version, 'HTTP/1.0');
  assert.deepEqual(
    be.servers.map((s) => [s.name, s.host, s.port, s.check, s.cookie]),
    [['web1', '192.168.1.10', 80, true, 'web1'], ['web2', '192.168.1.11', 80, true, 'web2']],
  );
  const stats = config.frontends[1];
  assert.equal(stats.name, 'stats');
  assert.equal(stats.fromListen, true);
  assert.deepEqual(stats.binds.map((b) => b.port), [8080]);
  assert.equal(stats.stats?.uri, '/haproxy?stats');
  assert.deepEqual(stats.stats?.auth, [{ user: 'admin', password: 'password' }]);
});

test('convert round trip: the cfg and its YAML give the same model', () => {
  const cfgs = [
    TUTORIAL,
    `global
  nbthread 3
  maxconn 5000
  pidfile /tmp/gh.pid
  log 127.0.0.1:514 local0 info
  log stdout format raw local1
defaults base
  mode http
  log global
  option forwardfor
  option httplog
  retries 2
  default-server inter 3s rise 3 fall 2
frontend fe
  bind :8000,127.0.0.1:8001
  maxconn 100
  default_backend be
defaults other
  timeout connect 1s
  option redispatch
backend be from base
  balance hdr(X-User)
  option httpchk HEAD /ping HTTP/1.1\\r\\nHost:\\ example.com
  http-check expect status 200-299
  cookie JSESSIONID prefix
  server a 127.0.0.1:9001 check weight 3 backup
  server b 127.0.0.1:9002 check cookie "b\\x41" maxconn 10 port 9100
listen admin
  bind 127.0.0.1:9999
  stats uri /s
  stats refresh 5
  stats admin if TRUE
  stats auth 'u:p#1'
`,
  ];
  for (const text of cfgs) {
    const cfg = parseHaproxyCfg([{ file: 'h.cfg', text }], {});
    const fromCfg = buildModel(cfg.doc, cfg.src).config;
    const yaml = configToYaml(cfg.doc);
    const y = parseYaml(yaml, 'h.yaml');
    const fromYaml = buildModel(y.doc, y.src).config;
    assert.deepEqual({ ...fromYaml, sources: [] }, { ...fromCfg, sources: [] }, yaml);
  }
});

test('quoting, escapes and environment variables follow HAProxy', () => {
  assert.deepEqual(words('stats realm Haproxy\\ Statistics  # comment'), ['stats', 'realm', 'Haproxy Statistics']);
  assert.deepEqual(words(`a "b c" 'd e' f\\#g "h#i"`), ['a', 'b c', 'd e', 'f#g', 'h#i']);
  assert.deepEqual(words(`x 'no $HOME \\ here' "\\"q\\"" \\x41`), ['x', 'no $HOME \\ here', '"q"', 'A']);
  assert.deepEqual(words('x "$A-${B}" ${A} pa$$word', { A: '1', B: '2' }), ['x', '1-2', '${A}', 'pa$$word']);
  assert.deepEqual(words('x "${NOPE-def}" "${A-def}" "\\$A"', { A: 'a' }), ['x', 'def', 'a', '$A']);
  assert.deepEqual(words('bind "${ADDRS[*]}" end', { ADDRS: ':80 :81' }), ['bind', ':80', ':81', 'end']);
  assert.deepEqual(words('x "${.LINE}" "$.FILE"'), ['x', '7', 'f']);
  assert.deepEqual(words('x "" y'), ['x', '', 'y']);
  for (const bad of ['x "open', "x 'open", 'x "$1"', 'x \\xZZ', 'x "${A"']) {
    assert.notEqual(tokenizeLine(bad, { env: {}, file: 'f', line: 1, section: '' }).error, null, bad);
  }
  // In a config: the expansion reaches the model, and an unset variable is a warning.
  const { config, warnings } = load(`frontend fe\n  bind "\${HOST}:\${PORT}"\n  bind "\${MISSING}:81"\n`, { HOST: '127.0.0.1', PORT: '8088' });
  assert.deepEqual(config.frontends[0].binds.map((b) => b.text), ['127.0.0.1:8088', ':81']);
  assert.match(warnings.map(formatIssue).join('\n'), /h\.cfg:3:9: warning: environment variable "MISSING" is not set/);
});

test('several defaults: each proxy inherits the last one before it, or the one named with from', () => {
  const { config } = load(`defaults
  timeout connect 1s
  retries 1
backend one
  server s 127.0.0.1:1
defaults named
  timeout server 7s
backend two
  server s 127.0.0.1:1
backend three from named
  timeout server 9s
  server s 127.0.0.1:1
defaults
backend four
  server s 127.0.0.1:1
frontend fe
  bind :80
  default_backend one
`);
  const byName = new Map(config.backends.map((b) => [b.name, b]));
  assert.equal(byName.get('one')?.timeouts.connect, 1000);
  assert.equal(byName.get('one')?.retries, 1);
  // A new defaults section starts from scratch: "two" has neither connect 1s nor retries 1.
  assert.equal(byName.get('two')?.timeouts.connect, 5000);
  assert.equal(byName.get('two')?.retries, 3);
  assert.equal(byName.get('two')?.timeouts.server, 7000);
  assert.equal(byName.get('three')?.timeouts.server, 9000);
  assert.equal(byName.get('four')?.timeouts.server, 50000);
});

test('default-server applies to the servers after it; defaults-section default-server is inherited', () => {
  const { config } = load(`defaults
  default-server inter 4s
backend be
  server a 127.0.0.1:1 check
  default-server rise 5 weight 7
  server b 127.0.0.1:2 check weight 2
frontend fe
  bind :80
  default_backend be
`);
  const [a, b] = config.backends[0].servers;
  assert.deepEqual([a.inter, a.rise, a.weight], [4000, null, 1]);
  assert.deepEqual([b.inter, b.rise, b.weight], [4000, 5, 2]);
});

test('errors name file:line:col with a did-you-mean; unsupported keywords say so', () => {
  const out = failure(`global
  daemon
  nbthreads 2
defaults
  mode http
frontend fe
  bind *:80
  default_backend be
backend be
  balanse roundrobin
  server s1 127.0.0.1:81 chek
  force-persist if TRUE
  option httpclose
  option forwardfr
`);
  assert.match(out[0], /^h\.cfg:3:3: error: unknown keyword 'nbthreads' in 'global' section; did you mean "nbthread"\?/);
  assert.match(out[1], /^h\.cfg:10:3: error: unknown keyword 'balanse' in 'backend' section; did you mean "balance"\?/);
  assert.match(out[2], /^h\.cfg:11:26: error: unknown server option 'chek'; did you mean "check"\?/);
  assert.match(out[3], /^h\.cfg:12:3: error: keyword 'force-persist' is not supported by gatehouse yet/);
  assert.match(out[4], /^h\.cfg:14:10: error: unknown option 'forwardfr'; did you mean "forwardfor"\?/);
  // option httpclose cannot change what gatehouse does: a warning, after the errors.
  assert.match(out[5], /^h\.cfg:13:10: warning: 'option httpclose' is ignored/);
});

test('bad values are reported by the validator at the cfg position', () => {
  const out = failure(`frontend fe
  bind *:80
  timeout client 5x
  default_backend be
backend be
  retries lots
  server s1 127.0.0.1:81 weight 999
`);
  assert.match(out[0], /^h\.cfg:3:18: error: frontends\.fe\.timeout\.client: invalid duration/);
  assert.match(out[1], /^h\.cfg:6:11: error: backends\.be\.retries: invalid value/);
  assert.match(out[2], /^h\.cfg:7:33: error: backends\.be\.servers\[0\]\.weight: out of range/);
});

test('misplaced keywords get HAProxy verdicts with an explanation', () => {
  const { warnings } = load(`frontend fe
  bind *:80
  cookie SRV insert
  timeout server 5s
  default_backend be
backend be
  server s1 127.0.0.1:81
  maxconn 10
`);
  const text = warnings.map(formatIssue).join('\n');
  assert.match(text, /h\.cfg:3:3: warning: 'cookie' ignored because frontend 'fe' has no backend capability \(frontends have no servers/);
  assert.match(text, /h\.cfg:4:11: warning: 'timeout server' ignored because frontend 'fe' has no backend capability/);
  assert.match(text, /h\.cfg:8:3: warning: 'maxconn' ignored because backend 'be' has no frontend capability/);
  const fatal = failure(`frontend fe\n  bind *:80\n  server s 127.0.0.1:1\ndefaults\n  bind :81\n`);
  assert.match(fatal[0], /h\.cfg:3:3: error: 'server' not allowed because frontend 'fe' has no backend capability/);
  assert.match(fatal[1], /h\.cfg:5:3: error: 'bind' not allowed in 'defaults' section/);
});

test('keywords map to the model: logs, checks, cookies, stats, global', () => {
  const { config } = load(`global
  nbthread 2
  hard-stop-after 30s
  pidfile /run/g.pid
  log 10.0.0.1 local1 notice
  log stderr format rfc5424 local2
  setenv BACK 127.0.0.1:9000
defaults
  log global
  log /dev/log local3 err
frontend fe
  bind :80
  option dontlognull
  no log
  log global
  default_backend be
backend be
  option httpchk
  http-check send meth GET uri /h ver HTTP/1.1 hdr Host example.org hdr X-A 1
  http-check expect rstatus ^(2|3)0[0-4]
  cookie S rewrite httponly secure domain .example.org maxidle 30 maxlife 2h
  option persist
  option allbackups
  server s1 "\${BACK}" check observe layer7 error-limit 5 on-error mark-down disabled addr 127.0.0.2 port 9001
listen l
  bind :81
  stats uri /st
  server x 127.0.0.1:9002
`);
  assert.equal(config.global.workers, 2);
  assert.equal(config.global.gracePeriod, 30000);
  assert.equal(config.global.pidfile, '/run/g.pid');
  assert.deepEqual(config.global.logs, [
    { target: 'udp://10.0.0.1:514', facility: 'local1', level: 'notice', format: 'rfc3164' },
    { target: 'stderr', facility: 'local2', level: 'debug', format: 'rfc5424' },
  ]);
  const [fe, l] = config.frontends;
  assert.equal(fe.dontlognull, true);
  assert.deepEqual(fe.logs.map((x) => x.target), ['udp://10.0.0.1:514', 'stderr']); // `no log` then `log global`
  assert.deepEqual(l.logs.map((x) => x.target), ['udp://10.0.0.1:514', 'stderr', 'unix:/dev/log']); // inherited
  const be = config.backends[0];
  assert.deepEqual([be.healthCheck.method, be.healthCheck.uri, be.healthCheck.version, be.healthCheck.host], ['GET', '/h', 'HTTP/1.1', 'example.org']);
  assert.deepEqual(be.healthCheck.headers, [{ name: 'X-A', value: '1' }]);
  assert.deepEqual(be.healthCheck.expectStatus, [[200, 204], [300, 304]]);
  assert.deepEqual(be.cookie, {
    name: 'S', mode: 'rewrite', indirect: false, nocache: false, postonly: false, preserve: false,
    httponly: true, secure: true, domain: '.example.org', maxidle: 30000, maxlife: 7200000,
  });
  assert.deepEqual([be.persist, be.allbackups], [true, true]);
  const s = be.servers[0];
  assert.deepEqual([s.host, s.port, s.observe, s.errorLimit, s.onError, s.disabled, s.checkAddr, s.checkPort], ['127.0.0.1', 9000, 'layer7', 5, 'mark-down', true, '127.0.0.2', 9001]);
  assert.equal(l.stats?.uri, '/st');
  assert.equal(config.backends[1].name, 'l');
  assert.equal(l.defaultBackend, 'l');
});

test('option httpchk defaults to OPTIONS / HTTP/1.0 like HAProxy', () => {
  const { config } = load(`backend be\n  option httpchk\n  server s 127.0.0.1:1 check\nfrontend fe\n  bind :80\n  default_backend be\n`);
  const hc = config.backends[0].healthCheck;
  assert.deepEqual([hc.type, hc.method, hc.uri, hc.version], ['http', 'OPTIONS', '/', 'HTTP/1.0']);
});

test('duplicate names, sections out of place and unsupported sections are errors', () => {
  const out = failure(`maxconn 10
frontend a
  bind :80
listen a
  bind :81
program admins
  command /bin/true
backend b
`);
  assert.match(out[0], /h\.cfg:1:1: error: unknown keyword 'maxconn' out of section/);
  assert.match(out[1], /h\.cfg:4:8: error: listen 'a' has the same name as frontend 'a' declared at h\.cfg:2/);
  assert.match(out[2], /h\.cfg:6:1: error: section 'program' is not supported by gatehouse yet/);
  assert.equal(out.length, 3); // the program body is skipped, not reported line by line
});

test("http-check rules without 'option httpchk' leave a TCP check, as in HAProxy", () => {
  const { config, warnings } = load(`backend be\n  http-check expect status 204\n  server s 127.0.0.1:1 check\nfrontend fe\n  bind :80\n  default_backend be\n`);
  assert.equal(config.backends[0].healthCheck.type, 'tcp');
  assert.match(warnings.map(formatIssue).join('\n'), /h\.cfg:2:28: warning: 'http-check' settings are ignored in backend 'be'/);
});

test('HAProxy tuning a benchmark config carries is accepted with warnings, not errors', () => {
  const text = [
    'global',
    '  no strict-limits',
    '  tune.pool-low-fd-ratio 80',
    '  tune.pool-high-fd-ratio 90',
    '  tune.http.maxhdr 64',
    'defaults',
    '  mode http',
    'frontend f',
    '  bind 127.0.0.1:18001',
    '  default_backend b',
    'backend b',
    '  http-reuse always',
    '  server s 127.0.0.1:18002',
  ].join('\n');
  const parsed = parseHaproxyCfg([{ file: 'bench.cfg', text }]);
  const warned = parsed.warnings.map((w) => `${w.line}:${w.message}`);
  for (const [line, word] of [[2, 'no strict-limits'], [3, 'tune.pool-low-fd-ratio'], [4, 'tune.pool-high-fd-ratio'], [12, 'http-reuse']] as const) {
    assert.ok(warned.some((w) => w.startsWith(`${line}:`) && w.includes(word)), `no warning for ${word} on line ${line}: ${warned.join(' | ')}`);
  }
  const { config } = buildModel(parsed.doc, parsed.src);
  assert.equal(config.global.maxHeaders, 64);
});

test('tune.maxaccept: how many connections a node-engine worker accepts per bind and wake-up', () => {
  const model = (line: string) => {
    const text = ['global', line, 'frontend f', '  mode http', '  bind 127.0.0.1:18001', '  default_backend b', 'backend b', '  server s 127.0.0.1:18002'].join('\n');
    const parsed = parseHaproxyCfg([{ file: 'm.cfg', text }]);
    assert.deepEqual(parsed.warnings.filter((w) => w.message.includes('maxaccept')), [], 'tune.maxaccept is not an ignored keyword');
    return buildModel(parsed.doc, parsed.src);
  };
  assert.equal(model('  tune.maxaccept 8').config.global.maxAccept, 8);
  // HAProxy's "no limit" is the default; what it and large values mean here: accept-burst.test.ts
  assert.equal(model('  tune.maxaccept -1').config.global.maxAccept, -1);
  assert.equal(model('  tune.maxaccept 500').config.global.maxAccept, 500);
  assert.equal(model('  nbthread 1').config.global.maxAccept, -1);
  assert.throws(() => model('  tune.maxaccept 0'), (e: unknown) => e instanceof ConfigError && /maxaccept|max_accept/.test(e.message) && /-1 \(no limit\)/.test(e.message));
});
