// Content-routing configuration (acls, use_backend, http_request, http_response, redirect) in
// both syntaxes: issue 8's routing table loads to the same model from YAML and haproxy.cfg, the
// convert round trip keeps it, and mistakes are reported at their line with a did-you-mean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyCfg } from '../src/config/haproxy-cfg';
import { buildModel } from '../src/config/validate';
import { parseYaml } from '../src/config/yaml';
import { configToYaml } from '../src/config/to-yaml';
import { ConfigError, formatIssue, type ConfigIssue } from '../src/config/errors';
import type { Config } from '../src/config/model';
import { Decision, RoutingTable, evalRequest } from '../src/rules/engine';
import { RequestView } from '../src/acl/view';

const CFG = `defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend www
    bind *:8080
    acl is_api hdr(host) -i api.example.com
    acl is_static path_beg /static
    acl is_admin path_beg /admin
    acl local src 127.0.0.0/8
    http-request deny if is_admin !local
    http-request set-header X-Forwarded-Proto http
    use_backend api if is_api
    use_backend static if is_static
    default_backend web
    http-response set-header X-Content-Type-Options nosniff
    http-response del-header Server

backend api
    server api1 127.0.0.1:9001
backend static
    server static1 127.0.0.1:9002
backend web
    server web1 127.0.0.1:9003
`;

const YAML = `defaults:
  mode: http
  timeout: { connect: 5s, client: 30s, server: 30s }
frontends:
  www:
    bind: ["*:8080"]
    log: []
    acls:
      is_api: hdr(host) -i api.example.com
      is_static: path_beg /static
      is_admin: path_beg /admin
      local: src 127.0.0.0/8
    http_request:
      - deny if is_admin !local
      - set-header X-Forwarded-Proto http
    use_backend:
      - { backend: api, if: is_api }
      - { backend: static, if: is_static }
    default_backend: web
    http_response:
      - set-header X-Content-Type-Options nosniff
      - del-header Server
backends:
  api:
    servers: [{ name: api1, address: "127.0.0.1:9001" }]
  static:
    servers: [{ name: static1, address: "127.0.0.1:9002" }]
  web:
    servers: [{ name: web1, address: "127.0.0.1:9003" }]
`;

function cfg(text: string): { config: Config; warnings: ConfigIssue[] } {
  const r = parseHaproxyCfg([{ file: 'h.cfg', text }], {});
  const b = buildModel(r.doc, r.src);
  return { config: b.config, warnings: [...r.warnings, ...b.warnings] };
}
function yaml(text: string): { config: Config; warnings: ConfigIssue[] } {
  const r = parseYaml(text, 'g.yaml');
  const b = buildModel(r.doc, r.src);
  return { config: b.config, warnings: [...r.warnings, ...b.warnings] };
}
function failure(load: () => unknown): string[] {
  try {
    load();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map(formatIssue);
  }
  assert.fail('the configuration was accepted');
}
const proxies = (c: Config): unknown => ({ frontends: c.frontends, backends: c.backends });

test("issue 8's routing table: YAML and haproxy.cfg load to the same model", () => {
  const a = cfg(CFG);
  const b = yaml(YAML);
  assert.deepEqual(a.warnings, []);
  assert.deepEqual(b.warnings, []);
  assert.deepEqual(proxies(a.config), proxies(b.config));
  const rules = a.config.frontends[0].rules!;
  assert.deepEqual(rules.acls.map((x) => x.name), ['is_api', 'is_static', 'is_admin', 'local']);
  assert.deepEqual(rules.acls[0].tests, [{ fetch: 'hdr', arg: 'host', match: 'str', icase: true, op: 'eq', values: ['api.example.com'] }]);
  assert.deepEqual(rules.useBackend.map((u) => u.backend), ['api', 'static']);
  assert.deepEqual(rules.httpRequest[0], {
    action: 'deny',
    reply: { status: 403, errorPage: true, contentType: null, body: null, headers: [] },
    cond: { unless: false, or: [[{ negate: false, name: 'is_admin', tests: null }, { negate: true, name: 'local', tests: null }]] },
  });
  assert.equal(a.config.backends.every((be) => be.rules === undefined), true);
});

test('the routing table routes request by request', () => {
  const t = new RoutingTable(cfg(CFG).config);
  const v = new RequestView();
  const d = new Decision();
  const route = (host: string, path: string, src: string): string => {
    v.reset();
    v.path = path;
    v.srcIp = src;
    v.addHeader('host', host);
    evalRequest(t, 0, v, d);
    return d.action !== 0 ? String(d.status) : ['api', 'static', 'web'][d.backend];
  };
  assert.equal(route('api.example.com', '/v1/users', '203.0.113.7'), 'api');
  assert.equal(route('API.EXAMPLE.COM', '/static/x.css', '203.0.113.7'), 'api', 'use_backend rules in order');
  assert.equal(route('www.example.com', '/static/x.css', '203.0.113.7'), 'static');
  assert.equal(route('www.example.com', '/', '203.0.113.7'), 'web');
  assert.equal(route('www.example.com', '/admin/panel', '203.0.113.7'), '403');
  assert.equal(route('api.example.com', '/admin', '198.51.100.1'), '403', 'deny runs before use_backend');
  assert.equal(route('www.example.com', '/admin/panel', '127.0.0.1'), 'web');
  assert.equal(route('www.example.com', '/administrator', '127.9.9.9'), 'web');
});

test('convert: the YAML printed for a cfg with rules loads to the same model', () => {
  const text = `${CFG}
frontend edge
    bind 127.0.0.1:9443
    acl bad_ua hdr_sub(user-agent) -i "evil bot" 'sqlmap'
    acl local src 127.0.0.1 ::1
    acl local src 10.0.0.0/8
    http-request return status 200 content-type text/plain string "it's ok" if { path /health }
    http-request redirect scheme https code 301 unless { ssl_fc } || local
    http-request deny deny_status 429 if bad_ua
    http-request replace-header X-Path ^/old(.*)$ /new\\1
    http-request set-path /v2%[path] if { path_beg /api } !{ hdr(x-version) -m found }
    redirect prefix https://example.org drop-query if { path_beg /legacy }
    use_backend api if { path_beg /api } || { hdr_dom(host) -i api }
    use_backend static
    http-response add-header X-Edge "1 ; \\"quoted\\" \\$HOME"
`;
  const a = cfg(text);
  const y = configToYaml(parseHaproxyCfg([{ file: 'h.cfg', text }], {}).doc);
  const b = yaml(y);
  assert.deepEqual(proxies(b.config), proxies(a.config));
  const edge = a.config.frontends[1].rules!;
  assert.deepEqual(edge.acls.find((x) => x.name === 'bad_ua')!.tests[0].values, ['evil bot', 'sqlmap']);
  assert.equal(edge.acls.find((x) => x.name === 'local')!.tests.length, 2, 'two lines, one name');
  assert.deepEqual(edge.useBackend[1], { backend: 'static', cond: null });
  assert.equal(edge.redirects.length, 1);
  const add = edge.httpResponse[0];
  assert.ok(add.action === 'add-header');
  assert.deepEqual(add.value, [{ kind: 'lit', text: '1 ; "quoted" $HOME' }]);
  assert.match(y, /local:\n\s+- src 127\.0\.0\.1 ::1\n\s+- src 10\.0\.0\.0\/8/);
});

test('YAML: acls as a list of "NAME CRITERION" lines, a use_backend string form, unless', () => {
  const { config } = yaml(`frontends:
  fe:
    bind: ["127.0.0.1:8080"]
    acls:
      - is_api path_beg /api
      - is_api hdr(host) -i api.example.com
    use_backend:
      - "api if is_api"
      - { backend: web, unless: "{ method GET }" }
    default_backend: web
backends:
  api: { servers: [{ name: a, address: "127.0.0.1:9001" }] }
  web: { servers: [{ name: w, address: "127.0.0.1:9002" }] }
`);
  const r = config.frontends[0].rules!;
  assert.equal(r.acls.length, 1);
  assert.equal(r.acls[0].tests.length, 2);
  assert.deepEqual(r.useBackend.map((u) => [u.backend, u.cond?.unless]), [['api', false], ['web', true]]);
});

test('use_backend and rules work in a listen section; a listen with only rules needs no default', () => {
  const { config, warnings } = cfg(`listen edge
    bind 127.0.0.1:8080
    acl is_api path_beg /api
    use_backend api if is_api
    http-request return status 404 content-type text/plain string "no route"
backend api
    server a 127.0.0.1:9001
`);
  assert.deepEqual(warnings.filter((w) => /default_backend/.test(w.message)), []);
  assert.equal(config.frontends[0].rules!.useBackend[0].backend, 'api');
  assert.deepEqual(config.backends.find((b) => b.name === 'edge')!.rules!.useBackend, [], 'a backend never switches');
});

test('errors: unknown backend and ACL names with did-you-mean, at the cfg line', () => {
  const msgs = failure(() => cfg(`frontend fe
    bind :8080
    acl is_api path_beg /api
    use_backend apii if is_api
    use_backend api if is_apj
    http-request deny if !locl
    default_backend api
backend api
    server a 127.0.0.1:9001
`));
  assert.ok(msgs.some((m) => /^h\.cfg:4:17: error: .*use_backend of frontend "fe" names no backend; did you mean "api"\?/.test(m)), msgs.join('\n'));
  assert.ok(msgs.some((m) => /^h\.cfg:5:24: error: frontends\.fe\.use_backend\[1\]\.if: ACL "is_apj" is not defined; did you mean "is_api"\?/.test(m)), msgs.join('\n'));
  assert.ok(msgs.some((m) => /^h\.cfg:6:5: error: frontends\.fe\.http_request\[0\]: ACL "locl" is not defined/.test(m)), msgs.join('\n'));
});

test('errors: rule syntax, unsupported actions, misplaced keywords, direction of ACLs', () => {
  const inDefaults = failure(() => cfg(`defaults
    mode http
    http-request deny
frontend fe
    bind :8080
`));
  assert.ok(inDefaults.some((m) => m.startsWith('h.cfg:3:5:') && /'http-request' in a defaults section is not supported by gatehouse/.test(m)), inDefaults.join('\n'));
  const msgs = failure(() => cfg(`defaults
    mode http
    option forwardfor
frontend fe
    bind :8080
    acl rsp res.hdr(content-type) -m sub json
    http-request denny
    http-request tarpit
    http-request deny if { path_beg /a
    http-request redirect location
    http-request set-header
    use_backend api if rsp
    http-response set-header X-A 1 if { hdr_beg(host) a }
    acl bad path_reg ^(x
    default_backend api
backend api
    server a 127.0.0.1:9001
`));
  const want: [number, RegExp][] = [
    [7, /unknown 'http-request' action 'denny'; did you mean "deny"\?/],
    [8, /'http-request tarpit' is not supported by gatehouse yet/],
    [9, /missing '}'/],
    [10, /'redirect location' expects a value/],
    [11, /'set-header' expects a header name/],
    [12, /ACL "rsp" reads the response, so it cannot be used in request rules or use_backend/],
    [13, /reads request headers, which http-response rules do not see/],
    [14, /invalid regular expression/],
  ];
  for (const [line, re] of want) assert.ok(msgs.some((m) => m.startsWith(`h.cfg:${line}:`) && re.test(m)), `line ${line}: ${re}\n${msgs.join('\n')}`);
});

test('use_backend in a backend is ignored with a warning, as in HAProxy', () => {
  const { warnings } = cfg(`frontend fe
    bind :8080
    default_backend api
backend api
    use_backend api
    server a 127.0.0.1:9001
`);
  assert.ok(warnings.some((w) => w.line === 5 && /'use_backend' ignored because backend 'api' has no frontend capability/.test(w.message)), warnings.map(formatIssue).join('\n'));
});

test('YAML errors: position, key path, rules keys in defaults, bad use_backend items', () => {
  const msgs = failure(() => yaml(`defaults:
  http_request: ["deny"]
frontends:
  fe:
    bind: ["127.0.0.1:8080"]
    acls:
      api: path_beg
      ok: path_beg /ok
    use_backend:
      - { backend: web, iff: ok }
      - { backend: nope, if: ok }
      - 42
    http_request:
      - deny if { path /x } !ok
      - set-header X-A "unterminated
    default_backend: web
backends:
  web: { servers: [{ name: w, address: "127.0.0.1:9002" }] }
`));
  const want: [string, RegExp][] = [
    ['g.yaml:2:3: error: defaults.http_request: "http_request" is not allowed in defaults; it belongs in frontends, backends and listen sections', /./],
    ['g.yaml:7:12: error: frontends.fe.acls.api:', /needs at least one value/],
    ['g.yaml:10:30: error: frontends.fe.use_backend[0].iff:', /unknown key "iff" in a use_backend rule; did you mean "if"\?/],
    ['g.yaml:11:20: error: frontends.fe.use_backend[1].backend:', /names no backend \(expected one of web, found "nope"\)/],
    ['g.yaml:12:9: error: frontends.fe.use_backend[2]:', /invalid use_backend rule/],
    ['g.yaml:15:9: error: frontends.fe.http_request[1]:', /unmatched double quote/],
  ];
  for (const [prefix, re] of want) assert.ok(msgs.some((m) => m.startsWith(prefix) && re.test(m)), `${prefix}\n${msgs.join('\n')}`);
});

test('YAML: "$" must be escaped inside double quotes of a rule (no variables in YAML rules)', () => {
  const msgs = failure(() => yaml(`frontends:
  fe:
    bind: ["127.0.0.1:8080"]
    http_request: ['return status 200 content-type text/plain string "costs $5"']
`));
  assert.ok(msgs.some((m) => /invalid environment variable name|not expanded here/.test(m)), msgs.join('\n'));
  const { config } = yaml(`frontends:
  fe:
    bind: ["127.0.0.1:8080"]
    http_request: ["return status 200 content-type text/plain string 'costs $5'"]
`);
  const r = config.frontends[0].rules!.httpRequest[0];
  assert.ok(r.action === 'return');
  assert.deepEqual(r.reply.body, [{ kind: 'lit', text: 'costs $5' }]);
});
