// YAML reader + shared validator: text in, exact model or exact errors out (pure, in-process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { parseYaml } from '../src/config/yaml';
import { buildModel } from '../src/config/validate';
import { ConfigError, type ConfigIssue, formatIssue } from '../src/config/errors';
import type { Config, LogTarget } from '../src/config/model';

const FILE = 'test.yaml';

function build(text: string): { config: Config; warnings: ConfigIssue[] } {
  const { doc, src } = parseYaml(text, FILE);
  return buildModel(doc, src);
}

/** The errors (not warnings) a config produces; fails the test if it is accepted. */
function errorsOf(text: string): ConfigIssue[] {
  try {
    build(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.issues.filter((i) => i.severity === 'error');
  }
  assert.fail('configuration was accepted but should have been rejected');
}

function one(text: string, path: string): ConfigIssue {
  const errs = errorsOf(text);
  const hit = errs.find((e) => e.path === path);
  assert.ok(hit, `no error at ${path}; got:\n${errs.map(formatIssue).join('\n')}`);
  return hit;
}

const FULL = `
global:
  workers: 2
  daemon: true
  pidfile: /run/gatehouse.pid
  maxconn: 5000
  max_header_size: 32768
  grace: 3s
  log:
    - { target: stdout, facility: local0 }
    - { target: "udp://127.0.0.1:514", facility: local1, level: info, format: rfc5424 }
defaults:
  mode: http
  timeout: { connect: 4s, client: 30s, server: 31s, http_request: 10s, http_keep_alive: 10s, check: 1500ms, queue: 6s, tunnel: 1h }
  retries: 2
  redispatch: true
  forwardfor: true
  httplog: true
  log: global
frontends:
  http_in:
    bind: ["*:80", "[::]:8443"]
    default_backend: http_back
    maxconn: 1000
    log_format: json
    dontlognull: true
backends:
  http_back:
    balance: hdr(X-User)
    persist: true
    allbackups: true
    health_check:
      type: http
      method: HEAD
      uri: /health?full=1
      version: HTTP/1.1
      host: example.test
      headers: { X-Probe: gatehouse }
      expect_status: "200-299,304"
      expect_string: OK
      inter: 3s
      fastinter: 1s
      rise: 4
      fall: 5
    cookie: { name: SERVERID, mode: prefix, indirect: true, nocache: true, httponly: true, domain: example.test, maxidle: 30m }
    servers:
      - { name: web1, address: "192.168.1.10:80", check: true, cookie: w1, weight: 10 }
      - name: web2
        address: "backend.example:8080"
        backup: true
        maxconn: 50
        inter: 500ms
        rise: 1
        port: 9000
        addr: 10.0.0.2
        observe: layer7
        error_limit: 5
        on_error: mark-down
        disabled: true
listen:
  stats:
    bind: ":8080"
    stats: { uri: "/haproxy?stats", auth: ["admin:pa:ss"], refresh: 5s, admin: true, prometheus: true }
`;

test('http_request and http_keep_alive other than uWS\'s fixed 10s are kept but warned about', () => {
  const cfg = FULL.replace('http_request: 10s, http_keep_alive: 10s,', 'http_request: 5s, http_keep_alive: 2s,');
  assert.notEqual(cfg, FULL);
  const { config, warnings } = build(cfg);
  assert.equal(config.frontends[0].timeouts.httpRequest, 5000);
  assert.equal(config.frontends[0].timeouts.httpKeepAlive, 2000);
  const texts = warnings.map((w) => w.message);
  assert.equal(texts.filter((t) => /timeout http_request 5000ms is not applied/.test(t)).length, 1, texts.join('\n'));
  assert.equal(texts.filter((t) => /timeout http_keep_alive 2000ms is not applied/.test(t)).length, 1, texts.join('\n'));
});

test('no such warning when every bind runs on the node engine (it applies both timers)', () => {
  const yaml = (engine: string) => `global: { engine: ${engine} }
defaults: { timeout: { http_request: 5s, http_keep_alive: 2s } }
frontends:
  fe: { bind: ["127.0.0.1:8080"], default_backend: be }
backends:
  be: { servers: [{ name: s, address: "127.0.0.1:9000" }] }
`;
  const timers = (engine: string) => build(yaml(engine)).warnings.filter((w) => /is not applied on uWS binds/.test(w.message)).length;
  assert.equal(timers('uws'), 2);
  assert.equal(timers('node'), 0);
});

test('a complete valid config maps to the exact model', () => {
  const { config, warnings } = build(FULL);
  assert.deepEqual(warnings, []);
  const timeouts = { connect: 4000, client: 30000, server: 31000, httpRequest: 10000, httpKeepAlive: 10000, check: 1500, queue: 6000, tunnel: 3_600_000 };
  const logs: LogTarget[] = [
    { target: 'stdout', facility: 'local0', level: 'debug', format: 'rfc3164' },
    { target: 'udp://127.0.0.1:514', facility: 'local1', level: 'info', format: 'rfc5424' },
  ];
  const expected: Config = {
    sources: [FILE],
    global: { workers: 2, daemon: true, pidfile: '/run/gatehouse.pid', maxconn: 5000, maxconnSet: true, logs, maxHeaderSize: 32768, maxHeaders: 101, maxAccept: -1, maxUri: 32768, gracePeriod: 3000, sslDefaultBindCiphers: null, statsSockets: [], statsTimeout: 10000, engine: 'uws' },
    frontends: [
      {
        name: 'http_in', fromListen: false,
        binds: [{ host: '0.0.0.0', port: 80, text: '*:80', ssl: false, certs: [], sslMinVer: null, ciphers: null, engine: null, acceptProxy: false }, { host: '::', port: 8443, text: '[::]:8443', ssl: false, certs: [], sslMinVer: null, ciphers: null, engine: null, acceptProxy: false }],
        defaultBackend: 'http_back', mode: 'http', timeouts, maxconn: 1000, forwardfor: true, httplog: true,
        logFormat: 'json', dontlognull: true, logs, stats: null,
      },
      {
        name: 'stats', fromListen: true, binds: [{ host: '0.0.0.0', port: 8080, text: ':8080', ssl: false, certs: [], sslMinVer: null, ciphers: null, engine: null, acceptProxy: false }],
        defaultBackend: null, mode: 'http', timeouts, maxconn: 5000, forwardfor: true, httplog: true,
        logFormat: 'httplog', dontlognull: false, logs,
        stats: {
          enable: true, uri: '/haproxy?stats', auth: [{ user: 'admin', password: 'pa:ss' }], realm: 'HAProxy Statistics',
          refresh: 5000, hideVersion: false, admin: true, prometheus: '/metrics',
        },
      },
    ],
    backends: [
      {
        name: 'http_back', fromListen: false, mode: 'http', balance: 'hdr', balanceHeader: 'x-user', timeouts,
        retries: 2, retryOn: 1, redispatch: true, forwardfor: true, persist: true, allbackups: true,
        healthCheck: {
          type: 'http', method: 'HEAD', uri: '/health?full=1', version: 'HTTP/1.1', host: 'example.test',
          headers: [{ name: 'X-Probe', value: 'gatehouse' }], expectStatus: [[200, 299], [304, 304]], expectString: 'OK',
          inter: 3000, fastinter: 1000, downinter: 3000, rise: 4, fall: 5,
        },
        cookie: {
          name: 'SERVERID', mode: 'prefix', indirect: true, nocache: true, postonly: false, preserve: false,
          httponly: true, secure: false, domain: 'example.test', maxidle: 1_800_000, maxlife: 0,
        },
        servers: [
          {
            name: 'web1', host: '192.168.1.10', port: 80, address: '192.168.1.10:80', weight: 10, check: true, backup: false,
            maxconn: 0, cookie: 'w1', inter: null, fastinter: null, downinter: null, rise: null, fall: null, checkPort: null,
            checkAddr: null, observe: 'none', errorLimit: 10, onError: 'fail-check', disabled: false,
          },
          {
            // fastinter stays explicit at the backend (1s) so only downinter follows the server's inter.
            name: 'web2', host: 'backend.example', port: 8080, address: 'backend.example:8080', weight: 1, check: false,
            backup: true, maxconn: 50, cookie: null, inter: 500, fastinter: null, downinter: 500, rise: 1, fall: null,
            checkPort: 9000, checkAddr: '10.0.0.2', observe: 'layer7', errorLimit: 5, onError: 'mark-down', disabled: true,
          },
        ],
      },
      {
        name: 'stats', fromListen: true, mode: 'http', balance: 'roundrobin', balanceHeader: null, timeouts,
        retries: 2, retryOn: 1, redispatch: true, forwardfor: true, persist: false, allbackups: false,
        healthCheck: { type: 'tcp', method: 'GET', uri: '/', version: 'HTTP/1.0', host: null, headers: [], expectStatus: [[200, 399]], expectString: null, inter: 2000, fastinter: 2000, downinter: 2000, rise: 2, fall: 3 },
        cookie: null, servers: [],
      },
    ],
  };
  assert.deepEqual(config, expected);
  // The model is plain data: it must survive structured cloning to worker threads.
  assert.deepEqual(structuredClone(config), expected);
});

test('a minimal config gets HAProxy defaults', () => {
  const { config, warnings } = build(`
frontends:
  fe: { bind: ["127.0.0.1:8000"], default_backend: be }
backends:
  be:
    servers: [{ name: s1, address: "127.0.0.1:9000" }]
`);
  assert.deepEqual(warnings, []);
  assert.equal(config.global.workers, os.availableParallelism());
  assert.equal(config.global.maxconn, 20000);
  assert.equal(config.global.maxHeaderSize, 16384);
  assert.equal(config.global.gracePeriod, 10000);
  assert.deepEqual(config.global.logs, []);
  const be = config.backends[0];
  assert.equal(be.balance, 'roundrobin');
  assert.equal(be.retries, 3);
  assert.equal(be.redispatch, false);
  assert.equal(be.healthCheck.type, 'tcp');
  assert.equal(be.healthCheck.inter, 2000);
  assert.equal(be.healthCheck.rise, 2);
  assert.equal(be.healthCheck.fall, 3);
  assert.equal(be.servers[0].weight, 1);
  assert.equal(config.frontends[0].timeouts.client, 50000);
  assert.equal(config.frontends[0].maxconn, 20000);
});

test('workers: auto is the CPU count', () => {
  const { config } = build(`
global: { workers: auto }
listen:
  l: { bind: "*:81", servers: [{ name: s, address: "127.0.0.1:1" }] }
`);
  assert.equal(config.global.workers, os.availableParallelism());
});

test('errors carry file, line, column and key path', () => {
  const text = [
    'frontends:', //                                   1
    '  fe:', //                                        2
    '    bind: ["*:80"]', //                           3
    '    default_backend: be', //                      4
    'backends:', //                                    5
    '  be:', //                                        6
    '    servers:', //                                 7
    '      - name: s1', //                             8
    '        address: "10.0.0.1:70000"', //            9
    '        weight: 257', //                          10
  ].join('\n');
  const addr = one(text, 'backends.be.servers[0].address');
  assert.deepEqual([addr.file, addr.line, addr.col], [FILE, 9, 18]);
  assert.equal(addr.found, 'string "10.0.0.1:70000"');
  assert.match(addr.message, /port 70000 is out of range/);
  const weight = one(text, 'backends.be.servers[0].weight');
  assert.deepEqual([weight.line, weight.col], [10, 17]);
  assert.equal(weight.expected, 'an integer from 0 to 256');
  assert.equal(weight.found, 'number 257');
  assert.equal(
    formatIssue(weight),
    'test.yaml:10:17: error: backends.be.servers[0].weight: out of range (expected an integer from 0 to 256, found number 257)',
  );
});

test('unknown keys are errors with a did-you-mean, pointing at the key', () => {
  const text = `
globl:
  workers: 2
defaults:
  timeout: { http-request: 5s, conect: 1s }
frontends:
  fe:
    bnd: ["*:80"]
    bind: ["*:80"]
    default_backend: be
backends:
  be:
    servers: [{ name: s1, adress: "127.0.0.1:80" }]
`;
  const top = one(text, 'globl');
  assert.match(top.message, /unknown key "globl".*did you mean "global"\?/);
  assert.deepEqual([top.line, top.col], [2, 1]);
  assert.match(one(text, 'defaults.timeout.http-request').message, /did you mean "http_request"/);
  assert.match(one(text, 'defaults.timeout.conect').message, /did you mean "connect"/);
  const bnd = one(text, 'frontends.fe.bnd');
  assert.match(bnd.message, /did you mean "bind"/);
  assert.deepEqual([bnd.line, bnd.col], [8, 5]);
  assert.match(one(text, 'backends.be.servers[0].adress').message, /did you mean "address"/);
  // ... and the server missing its address is reported too.
  assert.match(one(text, 'backends.be.servers[0]').message, /missing required key "address"/);
  // A far-off word gets no suggestion.
  assert.doesNotMatch(one('zzzzzzzz: 1\nlisten: { l: { bind: "*:1" } }', 'zzzzzzzz').message, /did you mean/);
});

test('keys in the wrong kind of section say where they belong', () => {
  const e = one(`
frontends:
  fe: { bind: "*:80", servers: [] }
`, 'frontends.fe.servers');
  assert.match(e.message, /not allowed in a frontend; it belongs in backends and listen sections/);
  const { warnings } = build(`
frontends:
  fe: { bind: "*:80", default_backend: be, balance: leastconn }
backends:
  be: { servers: [{ name: s, address: "127.0.0.1:1" }], dontlognull: true }
`);
  assert.deepEqual(warnings.map((w) => w.path), ['frontends.fe.balance', 'backends.be.dontlognull']);
});

test('bad durations, ports, weights and references are rejected', () => {
  const text = `
global: { grace: 1.5s, workers: 0 }
defaults:
  timeout: { connect: 5 sec, client: 0, server: -1, queue: 25d }
frontends:
  fe: { bind: ["*:0", "1.2.3.4", "*:http"], default_backend: http_bak }
  fe2: { bind: "*:81", default_backend: fe }
backends:
  http_back:
    balance: roundrobbin
    servers:
      - { name: s1, address: "h:80", weight: -1, port: 65536, rise: 0 }
      - { name: "bad name", address: "*:80" }
`;
  const errs = errorsOf(text);
  const byPath = new Map(errs.map((e) => [e.path, e]));
  assert.match(byPath.get('global.grace')!.message, /invalid duration/);
  assert.match(byPath.get('global.workers')!.message, /out of range/);
  assert.equal(byPath.get('defaults.timeout.connect')!.found, 'string "5 sec"');
  assert.match(byPath.get('defaults.timeout.client')!.message, /too short/);
  assert.ok(byPath.has('defaults.timeout.server'));
  assert.match(byPath.get('defaults.timeout.queue')!.message, /invalid duration/); // over 2^31-1 ms
  assert.match(byPath.get('frontends.fe.bind[0]')!.message, /port 0 is out of range/);
  assert.match(byPath.get('frontends.fe.bind[1]')!.message, /port is missing/);
  assert.match(byPath.get('frontends.fe.bind[2]')!.message, /"http" is not a port number/);
  const ref = byPath.get('frontends.fe.default_backend')!;
  assert.match(ref.message, /names no backend; did you mean "http_back"\?/);
  assert.equal(ref.found, '"http_bak"');
  assert.match(byPath.get('frontends.fe2.default_backend')!.message, /"fe" is a frontend/);
  assert.match(byPath.get('backends.http_back.balance')!.message, /did you mean "roundrobin"/);
  assert.ok(byPath.has('backends.http_back.servers[0].weight'));
  assert.ok(byPath.has('backends.http_back.servers[0].port'));
  assert.ok(byPath.has('backends.http_back.servers[0].rise'));
  assert.ok(byPath.has('backends.http_back.servers[1].name'));
  assert.match(byPath.get('backends.http_back.servers[1].address')!.message, /needs a host/);
});

test('several errors are reported together, in source order', () => {
  const errs = errorsOf(`
backends:
  be:
    retries: many
    servers: [{ name: s1, address: "127.0.0.1:1", check: yes }]
frontends:
  fe: { bind: "*:80", default_backend: nope, maxconn: 0 }
`);
  assert.deepEqual(errs.map((e) => e.path), [
    'backends.be.retries',
    'backends.be.servers[0].check',
    'frontends.fe.default_backend',
    'frontends.fe.maxconn',
  ]);
  const lines = errs.map((e) => e.line);
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
  assert.match(errs[1].message, /without quotes/);
});

test('defaults are inherited key by key and overridden by each section', () => {
  const { config } = build(`
global:
  log: [{ target: stderr }]
defaults:
  timeout: { connect: 1s, server: 20s }
  retries: 5
  balance: leastconn
  forwardfor: true
  health_check: { uri: /ping, inter: 4s }
  cookie: SRV
  maxconn: 300
  log: [{ target: "file:/tmp/gh.log" }]
frontends:
  a: { bind: "*:81", default_backend: x }
  b: { bind: "*:82", default_backend: y, forwardfor: false, timeout: { client: 7s }, maxconn: 10, log: global }
backends:
  x: { servers: [{ name: s, address: "127.0.0.1:1", cookie: s }] }
  y:
    timeout: { server: 2s }
    retries: 0
    balance: source
    cookie: false
    health_check: { inter: 1s, expect_status: [200, "204"] }
    servers: [{ name: s, address: "127.0.0.1:1", inter: 300ms }]
`);
  const [a, b] = config.frontends;
  const [x, y] = config.backends;
  assert.deepEqual([a.timeouts.connect, a.timeouts.client, a.timeouts.server], [1000, 50000, 20000]);
  assert.deepEqual([b.timeouts.connect, b.timeouts.client, b.timeouts.server], [1000, 7000, 20000]);
  assert.deepEqual([a.forwardfor, b.forwardfor], [true, false]);
  assert.deepEqual([a.maxconn, b.maxconn], [300, 10]);
  assert.deepEqual(a.logs.map((l) => l.target), ['file:/tmp/gh.log']);
  assert.deepEqual(b.logs.map((l) => l.target), ['stderr']);
  assert.deepEqual([x.retries, x.balance, x.timeouts.server], [5, 'leastconn', 20000]);
  assert.deepEqual([y.retries, y.balance, y.timeouts.server, y.timeouts.connect], [0, 'source', 2000, 1000]);
  assert.equal(x.cookie?.name, 'SRV');
  assert.equal(y.cookie, null);
  // health_check merges per key; a uri alone makes it an HTTP check.
  assert.deepEqual([x.healthCheck.type, x.healthCheck.uri, x.healthCheck.inter, x.healthCheck.fastinter], ['http', '/ping', 4000, 4000]);
  assert.deepEqual([y.healthCheck.type, y.healthCheck.uri, y.healthCheck.inter], ['http', '/ping', 1000]);
  assert.deepEqual(y.healthCheck.expectStatus, [[200, 200], [204, 204]]);
  // A server's own inter also sets its fastinter/downinter when the backend leaves them to inter.
  assert.deepEqual([y.servers[0].inter, y.servers[0].fastinter, y.servers[0].downinter], [300, 300, 300]);
});

test('a listen section yields a frontend and a backend of the same name', () => {
  const { config, warnings } = build(`
defaults: { default_backend: app }
listen:
  web:
    bind: ["*:80"]
    balance: first
    servers: [{ name: s1, address: "127.0.0.1:81" }]
  stats:
    bind: "*:8404"
    stats: true
  relay:
    bind: "*:8080"
backends:
  app: { servers: [{ name: s1, address: "127.0.0.1:82" }] }
`);
  assert.deepEqual(warnings, []);
  const fe = Object.fromEntries(config.frontends.map((f) => [f.name, f]));
  const be = Object.fromEntries(config.backends.map((b) => [b.name, b]));
  assert.deepEqual(Object.keys(fe).sort(), ['relay', 'stats', 'web']);
  assert.deepEqual(Object.keys(be).sort(), ['app', 'relay', 'stats', 'web']);
  assert.ok(fe.web.fromListen && be.web.fromListen && !be.app.fromListen);
  assert.equal(fe.web.defaultBackend, 'web'); // its own servers beat the inherited default_backend
  assert.equal(be.web.balance, 'first');
  assert.equal(fe.stats.defaultBackend, 'app'); // no servers: the inherited default_backend
  assert.equal(fe.stats.stats?.uri, '/haproxy?stats');
  assert.equal(fe.relay.defaultBackend, 'app');
});

test('listen names clash with frontends and backends; frontend and backend may share a name', () => {
  const e = one(`
frontends:
  www: { bind: "*:80", default_backend: www }
backends:
  www: { servers: [{ name: s, address: "127.0.0.1:1" }] }
listen:
  www: { bind: "*:81" }
`, 'listen.www');
  assert.match(e.message, /duplicate name "www": already used by frontend frontends\.www/);
  const { config } = build(`
frontends:
  www: { bind: "*:80", default_backend: www }
backends:
  www: { servers: [{ name: s, address: "127.0.0.1:1" }] }
`);
  assert.equal(config.frontends[0].defaultBackend, 'www');
});

test('bind forms and overlapping binds', () => {
  const { config } = build(`
frontends:
  fe: { bind: ["*:80", ":::80", ":81", "[::1]:82", "127.0.0.1:83", "localhost:84"] }
`);
  assert.deepEqual(
    config.frontends[0].binds.map((b) => [b.host, b.port]),
    [['0.0.0.0', 80], ['::', 80], ['0.0.0.0', 81], ['::1', 82], ['127.0.0.1', 83], ['localhost', 84]],
  );
  const errs = errorsOf(`
frontends:
  a: { bind: ["127.0.0.1:80", "*:90"] }
  b: { bind: ["*:80", "127.0.0.1:91"] }
  c: { bind: ["127.0.0.1:91", "127.0.0.2:92", "127.0.0.2:92"] }
`);
  assert.deepEqual(errs.map((e) => e.path), ['frontends.b.bind[0]', 'frontends.c.bind[0]', 'frontends.c.bind[2]']);
  assert.match(errs[0].message, /overlaps bind "127\.0\.0\.1:80" of frontend "a"/);
  assert.match(errs[2].message, /duplicate bind/);
});

test('frontends need a bind; a config needs a frontend', () => {
  assert.match(one('frontends:\n  fe: { default_backend: be }\nbackends:\n  be: {}\n', 'frontends.fe').message, /at least one bind/);
  assert.match(one('frontends:\n  fe: { bind: [] }\n', 'frontends.fe.bind').message, /at least one bind/);
  const errs = errorsOf('backends:\n  be: { servers: [{ name: s, address: "127.0.0.1:1" }] }\n');
  assert.match(errs[0].message, /no frontend or listen section/);
  assert.match(errorsOf('')[0].message, /empty/);
  assert.match(errorsOf('- a\n- b\n')[0].expected, /a map/);
});

test('warnings for configs that run but answer 503', () => {
  const { warnings } = build(`
frontends:
  fe: { bind: "*:80" }
  fe2: { bind: "*:81", default_backend: empty }
backends:
  empty: {}
`);
  assert.deepEqual(warnings.map((w) => [w.severity, w.path]), [['warning', 'frontends.fe'], ['warning', 'backends.empty']]);
  assert.match(formatIssue(warnings[0]), /^test\.yaml:3:3: warning: frontends\.fe: .*503/);
});

test('YAML syntax errors and duplicate keys are ConfigErrors with positions', () => {
  const bad = (text: string): ConfigIssue => {
    try {
      parseYaml(text, FILE);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.issues[0];
    }
    assert.fail('parse succeeded');
  };
  const dup = bad('backends:\n  be: {}\n  be: {}\n');
  assert.deepEqual([dup.line, dup.col], [3, 3]);
  assert.match(dup.message, /unique/);
  const flow = bad('frontends:\n  fe: { bind: ["*:80" }\n');
  assert.equal(flow.line, 2);
  assert.match(flow.message, /^YAML syntax/);
  assert.match(bad('a: *nope\n').message, /alias/i);
  assert.match(bad('? [a, b]\n: 1\n').message, /plain word/);
});

test('anchors and merge keys work and errors still locate', () => {
  const text = `
backends:
  a: &common
    balance: leastconn
    servers: [{ name: s, address: "127.0.0.1:1" }]
  b:
    <<: *common
    retries: x
listen:
  l: { bind: "*:80", default_backend: a }
`;
  const e = one(text, 'backends.b.retries');
  assert.equal(e.line, 8);
  const fixed = build(text.replace('retries: x', 'retries: 1'));
  assert.equal(fixed.config.backends[1].balance, 'leastconn');
  assert.equal(fixed.config.backends[1].servers.length, 1);
});

test('health check details: expect_status forms, type tcp warnings, headers as list', () => {
  const { config, warnings } = build(`
listen:
  l:
    bind: "*:80"
    health_check:
      type: tcp
      uri: /x
    servers: [{ name: s, address: "127.0.0.1:1" }]
backends:
  b:
    health_check: { expect_status: 200, headers: [{ name: Host, value: a.test }], version: "1.1" }
    servers: [{ name: s, address: "127.0.0.1:1" }]
`);
  assert.deepEqual(warnings.map((w) => w.path), ['listen.l.health_check.uri']);
  const b = config.backends.find((x) => x.name === 'b')!;
  assert.deepEqual(b.healthCheck.expectStatus, [[200, 200]]);
  assert.deepEqual(b.healthCheck.headers, [{ name: 'Host', value: 'a.test' }]);
  assert.equal(b.healthCheck.version, 'HTTP/1.1');
  for (const bad of ['"600"', '"399-200"', '"2xx"', '[]']) {
    const e = one(`listen:\n  l: { bind: "*:80", health_check: { expect_status: ${bad} }, servers: [{ name: s, address: "127.0.0.1:1" }] }\n`, 'listen.l.health_check.expect_status');
    assert.equal(e.severity, 'error');
  }
});

test('log targets are checked; HAProxy spellings are accepted as written', () => {
  const text = (targets: string) => `global:\n  log: ${targets}\nlisten:\n  l: { bind: "*:80" }\n`;
  const ok = ['stdout', 'stderr', 'file:/tmp/x.log', 'unix:/dev/log', '/dev/log', 'udp://10.0.0.1:514', 'udp://logs.example', '10.0.0.1', '10.0.0.1:514', 'logs.example:514', '[::1]:514'];
  const { config } = build(text(JSON.stringify(ok.map((target) => ({ target })))));
  assert.deepEqual(config.global.logs.map((l) => l.target), ok);
  const errs = errorsOf(text('[{ target: stdot }, { target: stdout, facility: local9 }, "udp://h:99999", { target: "logs.example" }, { facility: local0 }]'));
  assert.deepEqual(errs.map((e) => e.path), ['global.log[0].target', 'global.log[1].facility', 'global.log[2]', 'global.log[3].target', 'global.log[4]']);
  assert.match(errs[0].message, /did you mean "stdout"/);
  assert.match(errs[1].message, /did you mean "local0"|did you mean "local1"/);
  assert.match(errs[2].message, /port 99999/);
  assert.match(errs[4].message, /missing required key "target"/);
});

test('stats: disabled block is null, admin without auth warns', () => {
  const { config, warnings } = build(`
listen:
  s1: { bind: "*:80", stats: { enable: false, uri: /s } }
  s2: { bind: "*:81", stats: { admin: true, hide_version: true, realm: Gate } }
`);
  assert.equal(config.frontends[0].stats, null);
  assert.deepEqual(config.frontends[1].stats, {
    enable: true, uri: '/haproxy?stats', auth: [], realm: 'Gate', refresh: 0, hideVersion: true, admin: true, prometheus: null,
  });
  assert.deepEqual(warnings.map((w) => w.path), ['listen.s1', 'listen.s2.stats.admin']);
});

test('keys named like Object.prototype members are plain unknown keys', () => {
  const errs = errorsOf('__proto__: {}\nlisten:\n  l: { bind: "*:1", constructor: 1, hasOwnProperty: 2 }\nbackends:\n  __proto__: {}\n');
  assert.deepEqual(errs.map((e) => e.path), ['__proto__', 'listen.l.constructor', 'listen.l.hasOwnProperty', 'backends.__proto__']);
  assert.match(errs[1].message, /^unknown key "constructor"/);
});

test('a server cookie without a backend cookie is a warning at that server', () => {
  const { warnings } = build(`
listen:
  l:
    bind: "*:80"
    servers: [{ name: a, address: "127.0.0.1:1" }, { name: b, address: "127.0.0.1:2", cookie: b }]
`);
  assert.deepEqual(warnings.map((w) => [w.path, w.line]), [['listen.l.servers[1].cookie', 5]]);
});
