// Stick-table configuration in both syntaxes (src/config/stick.ts, stick-cfg.ts, the rule and
// fetch parsers) and the rules evaluated by the engine without a network: errors name their
// line, table references are resolved, and track/sc fetches/sc-inc/sc-set act on the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyCfg } from '../src/config/haproxy-cfg';
import { parseYaml } from '../src/config/yaml';
import { buildModel } from '../src/config/validate';
import { ConfigError, formatIssue } from '../src/config/errors';
import type { Config } from '../src/config/model';
import { ACT_DENY, ACT_FORWARD, Decision, RoutingTable, evalRequest } from '../src/rules/engine';
import { RequestView } from '../src/acl/view';
import { trackEnd } from '../src/stick/track';
import { compileStickPersistence } from '../src/stick/persist';
import { tableNamed } from '../src/stick/registry';
import { KeyBuf, keyFromText } from '../src/stick/keys';
import { DT_BYTES_OUT_CNT, DT_CONN_CUR, DT_GPC0, DT_GPT0, DT_HTTP_ERR_CNT, DT_HTTP_REQ_CNT } from '../src/stick/types';

function cfg(text: string): Config {
  const r = parseHaproxyCfg([{ file: 'h.cfg', text }], {});
  return buildModel(r.doc, r.src).config;
}

function failure(text: string): string[] {
  try {
    cfg(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.filter((i) => i.severity === 'error').map(formatIssue);
  }
  assert.fail('accepted');
}

const BASE = `defaults
  mode http
backend be
  server s 127.0.0.1:1
`;

test('stick-table, peers and table lines become the model; tables named PEERS/TABLE', () => {
  const c = cfg(`global
  localpeer lb1
peers mesh
  peer lb1 127.0.0.1:10000
  peer lb2 127.0.0.2:10000
  table rl type string len 20 size 10k expire 1m store http_req_rate(10s),gpc0,conn_cur
${BASE}frontend fe
  bind :80
  stick-table type ipv6 size 1m expire 30s nopurge store http_req_cnt,bytes_out_rate(1m)
  http-request track-sc0 src
  http-request track-sc1 req.hdr(x-key) table mesh/rl
  http-request deny deny_status 429 if { sc_http_req_rate(1) gt 10 } || { sc0_http_req_cnt gt 1000 } || { src_http_req_cnt ge 5000 }
  default_backend be
`);
  const s = c.stick!;
  assert.equal(s.localPeer, 'lb1');
  const rl = s.tables.find((t) => t.name === 'mesh/rl')!;
  assert.deepEqual([rl.type, rl.keyLen, rl.size, rl.expire, rl.peers], ['string', 20, 10240, 60000, 'mesh']);
  assert.deepEqual(rl.store.map((x) => x.id), [2, 6, 10], 'stored in HAProxy id order');
  const fe = s.tables.find((t) => t.name === 'fe')!;
  assert.deepEqual([fe.type, fe.size, fe.nopurge], ['ipv6', 1048576, true]);
  assert.deepEqual(s.peers[0].peers.map((p) => [p.name, p.local]), [['lb1', true], ['lb2', false]]);
  const rules = c.frontends[0].rules!.httpRequest;
  assert.equal(rules[0].action === 'track-sc' && rules[0].table, 'fe', 'track-sc without table: the proxy\'s own');
  assert.equal(rules[1].action === 'track-sc' && rules[1].table, 'mesh/rl');
});

test('the YAML form reads the same', () => {
  const y = parseYaml(`peers:
  mesh: { peer: ["a 127.0.0.1:10000"], table: ["rl type ip size 1k store gpc0"] }
global: { localpeer: a }
frontends:
  fe:
    bind: ["*:80"]
    stick_table: "type ip size 1k store http_req_rate(10s)"
    http_request: ["track-sc0 src", "deny deny_status 429 if { sc_http_req_rate(0) gt 3 }"]
    default_backend: be
backends:
  be: { servers: [{ name: s, address: "127.0.0.1:1" }], stick: ["on src table mesh/rl"] }
`, 'c.yaml');
  const c = buildModel(y.doc, y.src).config;
  assert.deepEqual(c.stick!.tables.map((t) => t.name).sort(), ['fe', 'mesh/rl']);
  assert.equal(c.backends[0].stickRules![0].table, 'mesh/rl');
});

test('bad stick configuration: clear errors at their line', () => {
  const out = failure(`${BASE}frontend fe
  bind :80
  stick-table type ip size 1k store http_req_rat(10s)
  http-request track-sc0 src table nope
  default_backend be
frontend fe2
  bind :81
  http-request track-sc1 src
  http-request deny if { src_conn_rate gt 3 }
  default_backend be
frontend fe3
  bind :82
  stick-table type ip store gpc0
  http-request sc-inc-gpc0 if TRUE
  default_backend be
`);
  const text = out.join('\n');
  assert.match(text, /h\.cfg:7:3: error: .*unknown stored data type 'http_req_rat'; did you mean "http_req_rate"\?/);
  assert.match(text, /h\.cfg:8:3: error: .*no stick table named 'nope'/);
  assert.match(text, /h\.cfg:12:3: error: .*'track-sc1' without 'table' needs a stick-table in frontend 'fe2'/);
  assert.match(text, /h\.cfg:13:3: error: .*'src_conn_rate' without a table needs a stick-table in frontend 'fe2'/);
  assert.match(text, /h\.cfg:17:3: error: .*a stick table needs 'size'/);
  assert.match(text, /h\.cfg:18:3: error: .*'sc-inc-gpc0' expects a sticky counter number/);
  assert.match(failure(`${BASE}frontend fe\n  bind :80\n  stick on src\n  default_backend be\n`).join('\n'), /h\.cfg:7:3: error: 'stick' not allowed because frontend 'fe' has no backend capability/);
  assert.match(failure(`${BASE}frontend fe\n  bind :80\n  stick-table type ip size 1k peers nowhere\n  default_backend be\n`).join('\n'), /names peers section 'nowhere', which is not defined/);
  assert.match(failure(`peers p\n  peer a 127.0.0.1:99999\n${BASE}`).join('\n'), /invalid peer/);
});

function view(src: string, headers: [string, string][] = []): RequestView {
  const v = new RequestView();
  v.reset();
  for (const [n, x] of headers) v.addHeader(n, x);
  v.srcIp = src;
  return v;
}

test('track-sc, sc fetches, sc-inc-gpc0 and sc-set-gpt0 through evalRequest; trackEnd counts the rest', () => {
  const c = cfg(`${BASE}frontend fe
  bind :80
  stick-table type ip size 100 expire 1m store http_req_cnt,http_req_rate(10s),conn_cur,gpc0,gpt0,http_err_cnt,bytes_out_cnt
  http-request track-sc0 src
  http-request sc-inc-gpc0(0) if { path_beg /login }
  http-request sc-set-gpt0(0) 7 if { path /flag }
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 3 }
  http-request deny deny_status 403 if { sc0_get_gpc0 ge 2 }
  default_backend be
`);
  const table = new RoutingTable(c);
  const out = new Decision();
  const run = (src: string, path = '/'): number => {
    const v = view(src);
    v.path = path;
    evalRequest(table, 0, v, out);
    const status = out.action === ACT_FORWARD ? 200 : out.status;
    trackEnd(v.trackers, status === 200 ? 404 : status, 10, 100);
    return out.action === ACT_DENY ? out.status : 200;
  };
  assert.deepEqual([run('10.0.0.1'), run('10.0.0.1'), run('10.0.0.1'), run('10.0.0.1')], [200, 200, 200, 429]);
  assert.equal(run('10.0.0.2', '/login'), 200);
  assert.equal(run('10.0.0.2', '/login'), 403, 'gpc0 reached 2');
  assert.equal(run('10.0.0.3', '/flag'), 200);
  const t = tableNamed('fe')!;
  const kb = new KeyBuf();
  keyFromText('ip', '10.0.0.1', 4, kb);
  assert.equal(t.readKey(kb.bytes, 4, DT_HTTP_REQ_CNT), 4);
  assert.equal(t.readKey(kb.bytes, 4, DT_CONN_CUR), 0, 'trackEnd took conn_cur back down');
  assert.equal(t.readKey(kb.bytes, 4, DT_HTTP_ERR_CNT), 4, 'a 4xx answer (404, 429) counts as an HTTP error');
  assert.equal(t.readKey(kb.bytes, 4, DT_BYTES_OUT_CNT), 400);
  keyFromText('ip', '10.0.0.2', 4, kb);
  assert.equal(t.readKey(kb.bytes, 4, DT_GPC0), 2);
  keyFromText('ip', '10.0.0.3', 4, kb);
  assert.equal(t.readKey(kb.bytes, 4, DT_GPT0), 7);
  // an IPv6 client has no key in an ip table: nothing tracked, counted, no crash
  assert.equal(run('2001:db8::1'), 200);
  assert.equal(t.badKeys, 1);
});

test('stick on / match / store-request: a key goes back to the server stored for it', () => {
  const c = cfg(`defaults
  mode http
frontend fe
  bind :80
  default_backend be
backend be
  stick-table type string len 32 size 100 expire 1m
  stick match req.hdr(x-user) if { path_beg /api }
  stick store-request req.hdr(x-user)
  stick on src table ips
  server s1 127.0.0.1:1
  server s2 127.0.0.1:2
  server s3 127.0.0.1:3
backend ips
  stick-table type ip size 100
  server x 127.0.0.1:4
`);
  assert.ok(c.stick!.tables.find((t) => t.name === 'be')!.store.some((s) => s.id === 0), 'server_id added to the table');
  const p = compileStickPersistence(c)[0]!;
  const v = view('10.0.0.9', [['x-user', 'alice']]);
  v.path = '/api/x';
  assert.equal(p.match(v, 3), -1, 'nothing stored yet');
  p.store(v, 2);
  assert.equal(p.match(v, 3), 2, 'alice goes back to s3');
  v.path = '/static';
  // the match rule does not apply outside /api: the next one (stick on src) finds the client's server
  assert.equal(p.match(v, 3), 2);
  const w = view('10.0.0.10', [['x-user', 'bob']]);
  w.path = '/api';
  assert.equal(p.match(w, 3), -1);
});
