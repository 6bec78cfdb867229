// RequestPlan (src/proxy/plan.ts) in-process: a real Config from haproxy.cfg text through the
// project's reader and validator, a real WorkerRuntime over a fresh SharedState and counters
// slab, and small ClientRequest objects standing in for the front engine's request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, PLAN_ANSWER, PLAN_FORWARD, PLAN_REJECT, RequestPlan } from '../src/proxy/plan';
import type { ClientRequest } from '../src/proxy/client';
import { ACT_DENY } from '../src/rules';
import { cfgModel } from './helpers/config';
import { ipv4Peer, serverIndex, setHealth, workerRuntime } from './helpers/runtime';

/** A request as the front engine hands it over: lower-case header names, query without '?'. */
function req(method: string, target: string, headers: [string, string][] = [['host', 'example.test']]): ClientRequest {
  const q = target.indexOf('?');
  const url = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? undefined : target.slice(q + 1);
  return {
    getCaseSensitiveMethod: () => method,
    getUrl: () => url,
    getQuery: () => query,
    getHeader: (k) => headers.find(([n]) => n === k)?.[1] ?? '',
    forEach: (cb) => {
      for (const [n, v] of headers) cb(n, v);
    },
  };
}

/** The header lines of a built head, without the request line and the blank line. */
function headLines(head: string): string[] {
  assert.ok(head.endsWith('\r\n\r\n'), `head does not end with a blank line: ${JSON.stringify(head)}`);
  return head.slice(0, -4).split('\r\n').slice(1);
}
function headerValues(head: string, name: string): string[] {
  return headLines(head)
    .filter((l) => l.slice(0, l.indexOf(':')).toLowerCase() === name)
    .map((l) => l.slice(l.indexOf(':') + 1).trim());
}

// A self-signed certificate, so the TLS frontend is a real `bind ... ssl crt` line.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-plan-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const pem = path.join(dir, 'site.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=plan.test', '-keyout', pem + '.key', '-out', pem + '.crt'], { stdio: 'ignore' });
fs.writeFileSync(pem, fs.readFileSync(pem + '.crt', 'utf8') + fs.readFileSync(pem + '.key', 'utf8'));

const MAX_HEADERS = 20;
const DENY_STATUS = 429;
const EXCEPT_NET = '10.0.0.0/8';
const COOKIE = 'SRVID';
const HASH_HEADER = 'X-User';

const config = cfgModel(`global
    tune.http.maxhdr ${MAX_HEADERS}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:8080
    option forwardfor except ${EXCEPT_NET}
    http-request deny deny_status ${DENY_STATUS} if { path_beg /admin }
    use_backend api if { path_beg /api }
    use_backend sticky if { path_beg /sticky }
    use_backend bysrc if { path_beg /src }
    use_backend byuri if { path_beg /uri }
    use_backend byhdr if { path_beg /hdr }
    default_backend web
frontend secure
    bind 127.0.0.1:8443 ssl crt ${pem}
    default_backend web
backend web
    server w1 127.0.0.1:9001
backend api
    server a1 127.0.0.1:9011
    server a2 127.0.0.1:9012
backend sticky
    cookie ${COOKIE} insert indirect nocache
    server s1 127.0.0.1:9021 cookie one
    server s2 127.0.0.1:9022 cookie two
backend bysrc
    balance source
    server h1 127.0.0.1:9031
    server h2 127.0.0.1:9032
backend byuri
    balance uri
    server h1 127.0.0.1:9041
    server h2 127.0.0.1:9042
backend byhdr
    balance hdr(${HASH_HEADER})
    server h1 127.0.0.1:9051
    server h2 127.0.0.1:9052
`);
const { rt } = workerRuntime(config);
const fe = rt.frontends.find((f) => f.cfg.name === 'fe')!;
const secure = rt.frontends.find((f) => f.cfg.name === 'secure')!;
const CLIENT = '192.0.2.7';
const peer = ipv4Peer(CLIENT);

function build(r: ClientRequest, o: { on?: typeof fe; from?: string; upgrade?: boolean } = {}): { plan: RequestPlan; outcome: number } {
  const plan = new RequestPlan();
  const outcome = plan.build(rt, o.on ?? fe, r, o.from === undefined ? peer : ipv4Peer(o.from), o.upgrade ?? false);
  return { plan, outcome };
}

test('routing: use_backend picks the backend, default_backend otherwise; method and target kept', () => {
  for (const [target, backend] of [
    ['/api/v1/items?id=7&x', 'api'],
    ['/sticky', 'sticky'],
    ['/', 'web'],
    ['/v1/api', 'web'],
  ] as const) {
    for (const method of ['GET', 'POST', 'HEAD']) {
      const { plan, outcome } = build(req(method, target));
      assert.equal(outcome, PLAN_FORWARD, `${method} ${target}`);
      assert.equal(plan.be?.cfg.name, backend, `${method} ${target}`);
      assert.equal(plan.method, method);
      assert.equal(plan.uri, target);
      assert.equal(plan.isHead, method === 'HEAD');
      assert.ok(plan.head.startsWith(`${method} ${target} HTTP/1.1\r\n`), plan.head);
    }
  }
  // a frontend without rules goes to its default backend without a decision
  const { plan } = build(req('GET', '/api/x'), { on: secure });
  assert.equal(plan.be?.cfg.name, secure.cfg.defaultBackend);
  assert.equal(plan.decision, null);
});

test('a deny rule answers with its status before any backend', () => {
  const { plan, outcome } = build(req('GET', '/admin/users'));
  assert.equal(outcome, PLAN_ANSWER);
  assert.equal(plan.decision?.action, ACT_DENY);
  assert.equal(plan.decision?.status, DENY_STATUS);
  // the same request elsewhere is forwarded
  assert.equal(build(req('GET', '/public/admin')).outcome, PLAN_FORWARD);
});

test('rejects: conflicting or invalid framing, oversized URI, too many headers, unknown codings', () => {
  const host: [string, string] = ['host', 'example.test'];
  const cases: { what: string; r: ClientRequest; status: number }[] = [
    { what: 'Content-Length with Transfer-Encoding', r: req('POST', '/', [host, ['content-length', '5'], ['transfer-encoding', 'chunked']]), status: 400 },
    { what: 'Content-Length not a number', r: req('POST', '/', [host, ['content-length', '5a']]), status: 400 },
    { what: 'Content-Length with a sign', r: req('POST', '/', [host, ['content-length', '+5']]), status: 400 },
    { what: 'two Content-Length fields', r: req('POST', '/', [host, ['content-length', '5'], ['content-length', '5']]), status: 400 },
    { what: 'Content-Length beyond 2^53-1', r: req('POST', '/', [host, ['content-length', String(Number.MAX_SAFE_INTEGER) + '0']]), status: 413 },
    { what: 'a coding other than chunked', r: req('POST', '/', [host, ['transfer-encoding', 'gzip, chunked']]), status: 501 },
    { what: 'chunked not last', r: req('POST', '/', [host, ['transfer-encoding', 'chunked, gzip']]), status: 400 },
    { what: 'two Host fields', r: req('GET', '/', [host, ['host', 'other.test']]), status: 400 },
    { what: 'a control byte in a value', r: req('GET', '/', [host, ['x-bad', 'a\x01b']]), status: 400 },
    { what: 'a fragment in the target', r: req('GET', '/page#frag'), status: 400 },
    { what: 'a URI one byte over max_uri', r: req('GET', '/' + 'u'.repeat(rt.limits.maxUri)), status: 414 },
    { what: 'one header over tune.http.maxhdr', r: req('GET', '/', Array.from({ length: MAX_HEADERS + 1 }, (_, i): [string, string] => (i === 0 ? host : [`x-h${i}`, 'v']))), status: 431 },
  ];
  for (const c of cases) {
    const { plan, outcome } = build(c.r);
    assert.equal(outcome, PLAN_REJECT, c.what);
    assert.equal(plan.bad, c.status, c.what);
  }
  // the limits' own values still pass
  const atMax = Array.from({ length: MAX_HEADERS }, (_, i): [string, string] => (i === 0 ? host : [`x-h${i}`, 'v']));
  assert.equal(build(req('GET', '/', atMax)).outcome, PLAN_FORWARD, 'exactly tune.http.maxhdr headers');
  // the URI limit follows tune.bufsize (max_uri defaults to max_header_size, as HAProxy's): the
  // longest URI that passes is what the head leaves room for (request line, Host, final CRLF)
  const room = Math.min(rt.limits.maxUri, rt.limits.maxHeaderSize - ('GET'.length + 12 + (host[0].length + host[1].length + 4) + 2));
  assert.equal(build(req('GET', '/' + 'u'.repeat(room - 1), [host])).outcome, PLAN_FORWARD, 'the longest URI the head has room for');
  const over = build(req('GET', '/' + 'u'.repeat(room), [host]));
  assert.equal(over.plan.bad, room < rt.limits.maxUri ? 431 : 414, 'one byte more');
  assert.equal(build(req('POST', '/', [host, ['content-length', String(Number.MAX_SAFE_INTEGER)]])).outcome, PLAN_FORWARD, 'Content-Length 2^53-1');
});

test('head: hop-by-hop and Connection-listed headers dropped, the rest kept in order, cookie forwarded', () => {
  const kept: [string, string][] = [
    ['host', 'example.test'],
    ['x-custom', 'v1'],
    ['accept', 'text/html'],
    ['x-forwarded-for', '203.0.113.1'],
  ];
  const dropped: [string, string][] = [
    ['connection', 'keep-alive, X-Listed'],
    ['keep-alive', 'timeout=5'],
    ['te', 'trailers'],
    ['trailer', 'x-t'],
    ['upgrade', 'h2c'],
    ['proxy-authorization', 'secret'],
    ['proxy-connection', 'keep-alive'],
    ['x-listed', 'only for this hop'],
  ];
  const cookie = 'theme=dark; lang=en';
  const headers = [kept[0], dropped[0], kept[1], dropped[1], dropped[2], kept[2], dropped[3], dropped[4], dropped[5], dropped[6], dropped[7], ['cookie', cookie] as [string, string], kept[3]];
  const { plan, outcome } = build(req('GET', '/page', headers));
  assert.equal(outcome, PLAN_FORWARD);
  assert.equal(plan.clientIp, CLIENT);
  assert.equal(plan.clientClose, false);
  assert.deepEqual(headLines(plan.head), [
    ...kept.map(([n, v]) => `${n}: ${v}`),
    `cookie: ${cookie}`,
    // HAProxy appends its own line after the client's
    `x-forwarded-for: ${CLIENT}`,
  ]);
  assert.equal(plan.bodyKind, BODY_NONE);
});

test('forwardfor except: a client inside the network gets no line; Connection: close is noted', () => {
  const inside = '10.20.30.40';
  const { plan } = build(req('GET', '/', [['host', 'h'], ['connection', 'close']]), { from: inside });
  assert.equal(plan.clientIp, inside);
  assert.deepEqual(headerValues(plan.head, 'x-forwarded-for'), []);
  assert.equal(plan.clientClose, true);
  const outside = build(req('GET', '/'), { from: '11.0.0.1' }).plan;
  assert.deepEqual(headerValues(outside.head, 'x-forwarded-for'), ['11.0.0.1']);
});

test('a TLS frontend sends its own X-Forwarded-Proto: https and drops the client\'s', () => {
  const claimed: [string, string][] = [['host', 'h'], ['x-forwarded-proto', 'http']];
  const tls = build(req('GET', '/', claimed), { on: secure }).plan;
  assert.deepEqual(headerValues(tls.head, 'x-forwarded-proto'), ['https']);
  // a plain frontend passes the client's header on and adds nothing
  const plain = build(req('GET', '/', claimed)).plan;
  assert.deepEqual(headerValues(plain.head, 'x-forwarded-proto'), ['http']);
});

test('cookie persistence: the cookie pins its server, is stripped upstream (indirect), a down server is not pinned', () => {
  const sticky = rt.backends.find((b) => b.cfg.name === 'sticky')!;
  for (const s of sticky.cfg.servers) {
    const other = 'session=abc';
    const { plan } = build(req('GET', '/sticky', [['host', 'h'], ['cookie', `${COOKIE}=${s.cookie}; ${other}`]]));
    assert.equal(plan.be, sticky);
    assert.equal(plan.persistServer, serverIndex(rt, 'sticky', s.name), `cookie ${s.cookie}`);
    assert.deepEqual(headerValues(plan.head, 'cookie'), [other]);
  }
  // no cookie, a forged one: balanced normally
  assert.equal(build(req('GET', '/sticky')).plan.persistServer, -1);
  assert.equal(build(req('GET', '/sticky', [['host', 'h'], ['cookie', `${COOKIE}=forged`]])).plan.persistServer, -1);
  // the cookie of a server that is down pins nothing
  const s2 = sticky.cfg.servers[1];
  const g = serverIndex(rt, 'sticky', s2.name);
  setHealth(rt, g, false);
  try {
    assert.equal(build(req('GET', '/sticky', [['host', 'h'], ['cookie', `${COOKIE}=${s2.cookie}`]])).plan.persistServer, -1);
  } finally {
    setHealth(rt, g, true);
  }
  // a backend without persistence forwards the Cookie header as it came and pins nothing
  const plain = build(req('GET', '/', [['host', 'h'], ['cookie', `${COOKIE}=${s2.cookie}`]])).plan;
  assert.equal(plain.persistServer, -1);
  assert.deepEqual(headerValues(plain.head, 'cookie'), [`${COOKIE}=${s2.cookie}`]);
});

test('upgrade: extensions stripped, offered protocols noted, key kept, upgrade headers sent; a body is a 400', () => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const protocols = ['chat', 'superchat, v2'];
  const headers: [string, string][] = [
    ['host', 'h'],
    ['connection', 'Upgrade'],
    ['upgrade', 'websocket'],
    ['sec-websocket-key', key],
    ['sec-websocket-version', '13'],
    ['sec-websocket-extensions', 'permessage-deflate; client_max_window_bits'],
    ['sec-websocket-protocol', protocols[0]],
    ['sec-websocket-protocol', protocols[1]],
  ];
  const { plan, outcome } = build(req('GET', '/chat', headers), { upgrade: true });
  assert.equal(outcome, PLAN_FORWARD);
  assert.equal(plan.upgrade, true);
  assert.equal(plan.wsKey, key);
  assert.equal(plan.wsOffered, protocols.join(', '));
  assert.equal(plan.bodyKind, BODY_NONE);
  assert.deepEqual(headerValues(plan.head, 'sec-websocket-extensions'), []);
  assert.deepEqual(headerValues(plan.head, 'sec-websocket-key'), [key]);
  assert.deepEqual(headerValues(plan.head, 'sec-websocket-protocol'), protocols);
  // the client's own Connection/Upgrade are hop-by-hop; the plan writes the upgrade pair once
  assert.deepEqual(headerValues(plan.head, 'connection'), ['upgrade']);
  assert.deepEqual(headerValues(plan.head, 'upgrade'), ['websocket']);
  // as a plain request (no Upgrade: websocket) the extensions are kept and no upgrade is sent
  const asHttp = build(req('GET', '/chat', headers.filter(([n]) => n !== 'upgrade'))).plan;
  assert.deepEqual(headerValues(asHttp.head, 'sec-websocket-extensions'), [headers[5][1]]);
  assert.deepEqual(headerValues(asHttp.head, 'upgrade'), []);
  // a WebSocket handshake that reaches the plain route (an engine did not take it as an upgrade)
  // is refused as HAProxy 2.6 does
  const stray = build(req('GET', '/chat', headers));
  assert.equal(stray.outcome, PLAN_REJECT);
  assert.equal(stray.plan.bad, 400);
  // an upgrade has no body
  for (const framing of [['content-length', '5'], ['transfer-encoding', 'chunked']] as [string, string][]) {
    const r = build(req('GET', '/chat', [...headers, framing]), { upgrade: true });
    assert.equal(r.outcome, PLAN_REJECT, framing[0]);
    assert.equal(r.plan.bad, 400, framing[0]);
  }
  // an empty body announced as such is no body
  assert.equal(build(req('GET', '/chat', [...headers, ['content-length', '0']]), { upgrade: true }).outcome, PLAN_FORWARD);
});

test('body framing: Content-Length forwarded as is, chunked re-announced', () => {
  const cl = build(req('POST', '/', [['host', 'h'], ['content-length', '7']])).plan;
  assert.equal(cl.bodyKind, BODY_LENGTH);
  assert.deepEqual(headerValues(cl.head, 'content-length'), ['7']);
  const chunked = build(req('POST', '/', [['host', 'h'], ['transfer-encoding', 'chunked']])).plan;
  assert.equal(chunked.bodyKind, BODY_CHUNKED);
  assert.deepEqual(headerValues(chunked.head, 'transfer-encoding'), ['chunked']);
  assert.deepEqual(headerValues(chunked.head, 'content-length'), []);
});

test('balance key: the client address for source, the URI for uri, the header for hdr, none for roundrobin', () => {
  const from = '198.51.100.20';
  const src = build(req('GET', '/src/a?b=1'), { from }).plan;
  assert.equal(src.be?.cfg.name, 'bysrc');
  assert.equal(src.key, from);
  const target = '/uri/page?x=1';
  const uri = build(req('GET', target)).plan;
  assert.equal(uri.be?.cfg.name, 'byuri');
  assert.equal(uri.key, target);
  const user = 'alice';
  const hdr = build(req('GET', '/hdr', [['host', 'h'], [HASH_HEADER.toLowerCase(), user]])).plan;
  assert.equal(hdr.be?.cfg.name, 'byhdr');
  assert.equal(hdr.key, user);
  assert.equal(build(req('GET', '/hdr')).plan.key, null, 'no header, nothing to hash');
  assert.equal(build(req('GET', '/')).plan.key, null, 'roundrobin hashes nothing');
});

test('one plan object serves request after request: nothing of the previous one remains', () => {
  const plan = new RequestPlan();
  const sticky = rt.backends.find((b) => b.cfg.name === 'sticky')!;
  const s1 = sticky.cfg.servers[0];
  assert.equal(plan.build(rt, fe, req('GET', '/sticky', [['host', 'h'], ['cookie', `${COOKIE}=${s1.cookie}`]]), peer, false), PLAN_FORWARD);
  assert.equal(plan.persistServer, serverIndex(rt, 'sticky', s1.name));
  plan.reset();
  assert.equal(plan.build(rt, fe, req('GET', '/sticky'), peer, false), PLAN_FORWARD);
  assert.equal(plan.persistServer, -1);
  assert.equal(plan.build(rt, fe, req('GET', '/chat', [['host', 'h'], ['sec-websocket-protocol', 'p']]), peer, true), PLAN_FORWARD);
  assert.equal(plan.wsOffered, 'p');
  plan.reset();
  assert.equal(plan.wsOffered, '');
  assert.equal(plan.upgrade, false);
});
