// The rule engine (src/rules): configs in haproxy.cfg syntax go through the real reader and
// validator, then RoutingTable + evalRequest/evalResponse are checked request by request:
// deny/allow/return, redirects (HAProxy's Location building and headers), header edits on the
// flat header array, set-path, use_backend order, backend and listen rules, response rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Config } from '../src/config/model';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ACT_DENY, ACT_FORWARD, ACT_REDIRECT, ACT_RETURN, Decision, HDR_ALL, HDR_LAZY, HDR_NONE, RoutingTable, evalRequest, evalResponse } from '../src/rules/engine';
import { fillRequestView } from '../src/rules/uws';
import { RequestView, ResponseView } from '../src/acl/view';
import { cfgModel } from './helpers/config';

function config(body: string, extra = ''): Config {
  const text = `defaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:8080\n${body}\n${extra}\nbackend web\n    server w 127.0.0.1:9001\nbackend api\n    server a 127.0.0.1:9002\n`;
  return cfgModel(text);
}

interface Req {
  method?: string;
  path?: string;
  query?: string | null;
  headers?: [string, string][];
  src?: string;
}

const view = new RequestView();
const out = new Decision();

function run(table: RoutingTable, r: Req, fe = 0): Decision {
  view.reset();
  view.method = r.method ?? 'GET';
  view.path = r.path ?? '/';
  view.query = r.query ?? null;
  for (const [n, v] of r.headers ?? [['host', 'example.com']]) view.addHeader(n, v);
  view.srcIp = r.src ?? '203.0.113.5';
  evalRequest(table, fe, view, out);
  return out;
}

/** The request's headers after edits, deleted ones left out. */
function headers(): [string, string][] {
  const o: [string, string][] = [];
  for (let i = 0; i < view.headersLen; i += 2) if (view.headers[i] !== '') o.push([view.headers[i], view.headers[i + 1]]);
  return o;
}
function answerHeaders(d: Decision): string[] {
  return d.headers.slice(0, d.headersLen);
}

test('a frontend without rules has nothing to evaluate: one boolean check', () => {
  const t = new RoutingTable(config('    default_backend web'));
  assert.equal(t.frontends[0], null);
  assert.equal(t.requestRules[0], false);
  assert.equal(t.responseRules(0, 0), false);
  const d = run(t, {});
  assert.equal(d.action, ACT_FORWARD);
  assert.equal(d.backend, 0);
});

test('deny: HAProxy 403 page by default, deny_status picks another page, custom payload', () => {
  const t = new RoutingTable(config(`    default_backend web
    http-request deny if { path /a }
    http-request deny deny_status 429 if { path /b }
    http-request deny status 404 content-type text/plain string nope hdr X-Why %[path] if { path /c }`));
  let d = run(t, { path: '/a' });
  assert.equal(d.action, ACT_DENY);
  assert.equal(d.status, 403);
  assert.equal(d.reason, 'Forbidden');
  assert.deepEqual(answerHeaders(d), ['content-type', 'text/html', 'cache-control', 'no-cache']);
  assert.equal(d.body, '<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n');
  d = run(t, { path: '/b' });
  assert.equal(d.status, 429);
  assert.match(d.body, /429 Too Many Requests/);
  d = run(t, { path: '/c' });
  assert.deepEqual([d.action, d.status, d.reason, d.body], [ACT_DENY, 404, 'Not Found', 'nope']);
  assert.deepEqual(answerHeaders(d), ['content-type', 'text/plain', 'x-why', '/c']);
  assert.equal(run(t, { path: '/d' }).action, ACT_FORWARD);
});

test('allow stops the http-request rules of its section; return answers with status and payload', () => {
  const t = new RoutingTable(config(`    default_backend web
    http-request allow if { src 10.0.0.0/8 }
    http-request return status 200 content-type application/json lf-string "{\\"ip\\":\\"%[src]\\"}" if { path /whoami }
    http-request return status 204 if { path /empty }
    http-request deny`));
  assert.equal(run(t, { path: '/x', src: '10.1.1.1' }).action, ACT_FORWARD);
  assert.equal(run(t, { path: '/x', src: '192.0.2.1' }).action, ACT_DENY);
  let d = run(t, { path: '/whoami', src: '192.0.2.1' });
  assert.deepEqual([d.action, d.status, d.reason, d.body], [ACT_RETURN, 200, 'OK', '{"ip":"192.0.2.1"}']);
  assert.deepEqual(answerHeaders(d), ['content-type', 'application/json']);
  d = run(t, { path: '/empty' });
  assert.deepEqual([d.action, d.status, d.reason, d.body, d.headersLen], [ACT_RETURN, 204, 'No Content', '', 0]);
});

test('redirects: location, prefix, scheme, codes, drop-query, append-slash, cookies, ignore-empty', () => {
  const t = new RoutingTable(config(`    default_backend web
    http-request redirect scheme https code 301 if { path /s/a /s }
    http-request redirect prefix https://new.example.com if { path_beg /p }
    http-request redirect prefix / drop-query append-slash code 301 if { path_beg /slash }
    http-request redirect location /login set-cookie SEEN=1 code 303 if { path /l }
    http-request redirect location / clear-cookie USERID= code 307 if { path /logout }
    http-request redirect location https://%[hdr(host)]/x%[path] code 308 if { path_beg /lf }
    http-request redirect location %[url_param(to)] ignore-empty if { path /go }`));
  let d = run(t, { path: '/s/a', query: 'q=1', headers: [['host', 'ex.com']] });
  assert.deepEqual([d.action, d.status, d.reason], [ACT_REDIRECT, 301, 'Moved Permanently']);
  assert.deepEqual(answerHeaders(d), ['location', 'https://ex.com/s/a?q=1'], 'no cache-control on 301 (HAProxy)');
  d = run(t, { path: '/s', headers: [] });
  assert.deepEqual(answerHeaders(d), ['location', 'https:///s'], 'no Host: empty host, as HAProxy');
  d = run(t, { path: '/p/x', query: 'a=b' });
  assert.deepEqual(answerHeaders(d), ['location', 'https://new.example.com/p/x?a=b', 'cache-control', 'no-cache']);
  assert.equal(d.status, 302);
  d = run(t, { path: '/slash/a', query: 'b=1' });
  assert.deepEqual(answerHeaders(d), ['location', '/slash/a/']);
  d = run(t, { path: '/l' });
  assert.deepEqual(answerHeaders(d), ['location', '/login', 'cache-control', 'no-cache', 'set-cookie', 'SEEN=1; path=/;']);
  d = run(t, { path: '/logout' });
  assert.deepEqual(answerHeaders(d), ['location', '/', 'cache-control', 'no-cache', 'set-cookie', 'USERID=; path=/; Max-Age=0;']);
  assert.equal(d.reason, 'Temporary Redirect');
  d = run(t, { path: '/lf/y', headers: [['host', 'h.io']] });
  assert.deepEqual(answerHeaders(d), ['location', 'https://h.io/x/lf/y']);
  assert.equal(run(t, { path: '/go', query: 'to=/there' }).status, 302);
  assert.equal(run(t, { path: '/go', query: 'x=1' }).action, ACT_FORWARD, 'ignore-empty skips the rule');
});

test('standalone redirect rules run after every http-request rule; their location is literal', () => {
  const t = new RoutingTable(config(`    default_backend web
    redirect location /moved%[path] if { path /old }
    http-request set-header X-Seen 1
    http-request deny if { path /old } { hdr(x-block) -m found }`));
  let d = run(t, { path: '/old' });
  assert.equal(d.action, ACT_REDIRECT);
  assert.deepEqual(answerHeaders(d), ['location', '/moved%[path]', 'cache-control', 'no-cache']);
  assert.deepEqual(headers(), [['host', 'example.com'], ['x-seen', '1']], 'http-request rules ran first');
  d = run(t, { path: '/old', headers: [['x-block', '1']] });
  assert.equal(d.action, ACT_DENY);
});

test('header edits: set replaces every occurrence, add appends, del (with -m), replace-header with groups', () => {
  const t = new RoutingTable(config(`    default_backend web
    http-request set-header X-Forwarded-Proto http
    http-request add-header X-Trace %[method]-%[path]
    http-request del-header X-Secret
    http-request del-header x-debug- -m beg
    http-request replace-header Cookie ^sid=([^;]*)(.*)$ sess=\\1\\2
    http-request set-header X-Orig-Host %[hdr(host)] if { hdr(host) -m found }
    http-request add-header X-Count %[hdr_cnt(x-trace)]`));
  const d = run(t, {
    path: '/p',
    headers: [['host', 'ex.com'], ['x-forwarded-proto', 'https'], ['x-secret', 's'], ['x-debug-a', '1'], ['X-Debug-B', '2'], ['cookie', 'sid=42; lang=en'], ['x-forwarded-proto', 'again']],
  });
  assert.equal(d.action, ACT_FORWARD);
  assert.equal(d.headersChanged, true);
  assert.deepEqual(headers(), [
    ['host', 'ex.com'], ['cookie', 'sess=42; lang=en'], ['x-forwarded-proto', 'http'], ['x-trace', 'GET-/p'], ['x-orig-host', 'ex.com'], ['x-count', '1'],
  ]);
});

test('set-header computes its value before removing the old header', () => {
  const t = new RoutingTable(config(`    default_backend web
    http-request set-header X-Path %[hdr(x-path)],%[path]`));
  run(t, { path: '/p', headers: [['x-path', '/orig']] });
  assert.deepEqual(headers(), [['x-path', '/orig,/p']]);
  assert.equal(out.headersChanged, true);
});

test('set-path keeps the query and later rules see the new path', () => {
  const t = new RoutingTable(config(`    default_backend web
    http-request set-path /v2%[path] if { path_beg /api }
    use_backend api if { path_beg /v2/api }`));
  const d = run(t, { path: '/api/users', query: 'x=1' });
  assert.equal(d.pathChanged, true);
  assert.equal(view.path, '/v2/api/users');
  assert.equal(view.query, 'x=1');
  assert.equal(view.url(), '/v2/api/users?x=1');
  assert.equal(d.backend, 1, 'use_backend saw the rewritten path');
  assert.equal(run(t, { path: '/other' }).pathChanged, false);
});

test('use_backend: first match wins, unless, default_backend otherwise, -1 without one', () => {
  const t = new RoutingTable(config(`    acl is_api hdr(host) -i api.example.com
    acl is_static path_beg /static
    use_backend api if is_api
    use_backend web if is_static
    use_backend api unless { method GET HEAD }
    default_backend web`));
  assert.equal(run(t, { headers: [['host', 'API.example.com']] }).backend, 1);
  assert.equal(run(t, { path: '/static/x', headers: [['host', 'api.example.com']] }).backend, 1, 'first match wins');
  assert.equal(run(t, { path: '/static/x' }).backend, 0);
  assert.equal(run(t, { method: 'POST' }).backend, 1);
  assert.equal(run(t, { method: 'GET' }).backend, 0);
  const t2 = new RoutingTable(config('    use_backend api if { path_beg /api }'));
  assert.equal(run(t2, { path: '/api' }).backend, 1);
  assert.equal(run(t2, { path: '/x' }).backend, -1);
});

test("the chosen backend's http-request rules run after switching; a listen's rules run once", () => {
  const text = `defaults
    mode http
frontend fe
    bind 127.0.0.1:8080
    http-request add-header X-Fe 1
    use_backend api if { path_beg /api }
    use_backend both if { path_beg /both }
    default_backend web
backend web
    server w 127.0.0.1:9001
backend api
    acl admin path_beg /api/admin
    http-request deny if admin
    http-request add-header X-Be api
    http-response set-header X-Served-By api
    server a 127.0.0.1:9002
listen both
    bind 127.0.0.1:8081
    http-request add-header X-Listen 1
    server b 127.0.0.1:9003
`;
  const t = new RoutingTable(cfgModel(text));
  assert.equal(run(t, { path: '/api/x' }).backend, 1);
  assert.deepEqual(headers(), [['host', 'example.com'], ['x-fe', '1'], ['x-be', 'api']]);
  assert.equal(run(t, { path: '/api/admin' }).action, ACT_DENY);
  run(t, { path: '/' });
  assert.deepEqual(headers(), [['host', 'example.com'], ['x-fe', '1']]);
  // a frontend switching to the listen runs the listen's rules as backend rules
  run(t, { path: '/both' });
  assert.deepEqual(headers(), [['host', 'example.com'], ['x-fe', '1'], ['x-listen', '1']]);
  // requests arriving on the listen run its rules once
  assert.equal(t.requestRules[1], true);
  assert.equal(run(t, {}, 1).backend, 2);
  assert.deepEqual(headers(), [['host', 'example.com'], ['x-listen', '1']]);
  assert.equal(t.responseRules(0, 1), true);
  assert.equal(t.responseRules(0, 0), false);
});

test('response rules: backend first then frontend, conditions on status and response headers, deny = 502', () => {
  const text = `defaults
    mode http
frontend fe
    bind 127.0.0.1:8080
    http-response set-header X-Frame-Options DENY
    http-response del-header Server
    http-response add-header X-Order fe
    http-response deny if { status 500 } { path_beg /private }
    http-response set-header X-Json yes if { res.hdr(content-type) -m sub json }
    default_backend web
backend web
    acl js hdr(content-type) -m sub javascript
    http-response add-header X-Order be
    http-response set-header Cache-Control max-age=60 if js
    server w 127.0.0.1:9001
`;
  const t = new RoutingTable(cfgModel(text));
  const res = new ResponseView();
  const respond = (status: number, hs: [string, string][], path = '/'): [string, string][] => {
    view.reset();
    view.path = path;
    res.reset();
    res.status = status;
    for (const [n, v] of hs) res.addHeader(n, v);
    evalResponse(t, 0, 0, view, res, out);
    const o: [string, string][] = [];
    for (let i = 0; i < res.headersLen; i += 2) if (res.headers[i] !== '') o.push([res.headers[i], res.headers[i + 1]]);
    return o;
  };
  assert.deepEqual(respond(200, [['Server', 'nginx'], ['Content-Type', 'text/javascript'], ['X-Frame-Options', 'SAMEORIGIN']]), [
    ['Content-Type', 'text/javascript'], ['x-order', 'be'], ['cache-control', 'max-age=60'], ['x-frame-options', 'DENY'], ['x-order', 'fe'],
  ]);
  assert.equal(out.action, ACT_FORWARD);
  assert.equal(out.headersChanged, true);
  assert.deepEqual(respond(200, [['Content-Type', 'application/json']]).map((h) => h[0]), ['Content-Type', 'x-order', 'x-frame-options', 'x-order', 'x-json']);
  respond(500, [], '/private/x');
  assert.deepEqual([out.action, out.status, out.reason], [ACT_DENY, 502, 'Bad Gateway']);
  assert.match(out.body, /502 Bad Gateway/);
  respond(500, [], '/public');
  assert.equal(out.action, ACT_FORWARD);
});

test('evaluation of the common routing path allocates nothing per request', async () => {
  const t = new RoutingTable(config(`    acl is_api hdr(host) -i api.example.com
    acl is_static path_beg /static /assets
    acl local src 127.0.0.0/8 ::1
    http-request deny if { path_beg /admin } !local
    use_backend api if is_api
    use_backend web if is_static METH_GET
    default_backend web`));
  const hs: [string, string][] = [['host', 'www.example.com'], ['user-agent', 'x'], ['accept', '*/*']];
  const step = (): void => {
    view.reset();
    view.method = 'GET';
    view.path = '/assets/app.js';
    view.srcIp = '10.0.0.1';
    for (let i = 0; i < hs.length; i++) view.addHeader(hs[i][0], hs[i][1]); // no iterator: the loop itself must not allocate
    evalRequest(t, 0, view, out);
  };
  // warm up (JIT, caches): long enough for TurboFan to finish the inlined engine first, or the
  // interpreted loop's own allocations could be counted
  for (let i = 0; i < 200_000; i++) step();
  // Count garbage collections over 1M requests: allocating even one small object per request
  // triggers more than a dozen scavenges here; the engine itself triggers none.
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < 1_000_000; i++) step();
  await new Promise((r) => setTimeout(r, 50)); // gc entries are delivered asynchronously
  obs.disconnect();
  assert.equal(out.backend, 0);
  assert.ok(gcs <= 2, `${gcs} garbage collections during 1M evaluations`);
});

/** A uWS request as fillRequestView reads it; invalid (throws) after the handler, like uWS. */
class FakeReq {
  valid = true;
  forEachCalls = 0;
  getHeaderCalls: string[] = [];
  constructor(
    readonly hs: [string, string][],
    readonly url = '/',
    readonly query: string | undefined = undefined,
    readonly method = 'GET',
  ) {}
  private check(): void {
    if (!this.valid) throw new Error('Invalid access of discarded uWS.HttpRequest');
  }
  getCaseSensitiveMethod(): string {
    return this.method;
  }
  getUrl(): string {
    return this.url;
  }
  getQuery(): string | undefined {
    return this.query;
  }
  getHeader(name: string): string {
    this.check();
    this.getHeaderCalls.push(name);
    return this.hs.find(([n]) => n === name)?.[1] ?? ''; // uWS: the first occurrence, '' when absent
  }
  forEach(cb: (k: string, v: string) => void): void {
    this.check();
    this.forEachCalls++;
    for (const [n, v] of this.hs) cb(n, v);
  }
}

class FakeRes {
  bin = 0;
  text = 0;
  getRemoteAddress(): ArrayBuffer {
    this.bin++;
    return new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]).buffer;
  }
  getRemoteAddressAsText(): ArrayBuffer {
    this.text++;
    return new TextEncoder().encode('0000:0000:0000:0000:0000:ffff:7f00:0001').buffer;
  }
}

/** One request through fillRequestView + evalRequest, as the worker does it. */
function handle(t: RoutingTable, req: FakeReq, res = new FakeRes()): Decision {
  fillRequestView(view, req as unknown as HttpRequest, res as unknown as HttpResponse, 8080, false, t.requestHeaders[0]);
  evalRequest(t, 0, view, out);
  req.valid = false; // the uWS handler returned
  return out;
}

test('header plans: none, lazy with the names rules read, every header when rules edit them or response rules may run', () => {
  const plan = (body: string, extra = ''): [number, string[] | null] => {
    const p = new RoutingTable(config(body, extra)).requestHeaders[0];
    return [p.mode, p.names === null ? null : [...p.names].sort()];
  };
  assert.deepEqual(plan('    use_backend api if { path_beg /api }\n    default_backend web'), [HDR_NONE, null]);
  assert.deepEqual(plan('    acl a hdr(host) -i a.com\n    acl u hdr_sub(user-agent) -i bot\n    use_backend api if a || u\n    default_backend web'), [HDR_LAZY, ['host', 'user-agent']]);
  assert.deepEqual(plan('    use_backend api if HTTP_CONTENT\n    default_backend web'), [HDR_LAZY, ['content-length']]);
  assert.deepEqual(plan('    use_backend api if { hdr_cnt gt 20 }\n    default_backend web'), [HDR_LAZY, null], 'hdr_cnt without a name: every header');
  assert.deepEqual(plan('    http-request redirect scheme https if { path /x }\n    default_backend web'), [HDR_LAZY, ['host']]);
  assert.deepEqual(plan('    http-request return status 200 content-type text/plain lf-string %[hdr(x-id)] if { path /x }\n    default_backend web'), [HDR_LAZY, ['x-id']]);
  assert.deepEqual(plan('    http-request set-header X-A 1\n    default_backend web'), [HDR_ALL, null]);
  assert.deepEqual(plan('    use_backend api if { hdr(host) a }\n    http-response set-header X-A 1\n    default_backend web'), [HDR_ALL, null]);
  // a backend's http-request rules read the same view
  assert.deepEqual(plan('    default_backend web', 'backend other\n    http-request deny if { hdr(x-bad) -m found }\n'), [HDR_LAZY, ['x-bad']]);
});

test('lazy headers: host by getHeader alone, other headers in one pass that sees every occurrence', () => {
  const t = new RoutingTable(config(`    acl host_api hdr(host) -i api.example.com
    acl host_adm hdr_beg(host) -i admin.
    acl two hdr(x-a) two
    acl cnt hdr_cnt(x-a) eq 2
    use_backend api if host_api
    use_backend api if host_adm
    use_backend api if { path_beg /two } two
    use_backend api if { path_beg /cnt } cnt
    default_backend web`));
  assert.equal(t.requestHeaders[0].mode, HDR_LAZY);
  // decided on Host: one getHeader, no pass over the headers
  let req = new FakeReq([['host', 'API.Example.com'], ['x-a', 'one'], ['user-agent', 'x']]);
  assert.equal(handle(t, req).backend, 1);
  assert.deepEqual([req.getHeaderCalls, req.forEachCalls], [['host'], 0]);
  req = new FakeReq([['host', 'www.example.com'], ['x-a', 'one']]);
  assert.equal(handle(t, req).backend, 0);
  assert.deepEqual([req.getHeaderCalls, req.forEachCalls], [['host'], 0], 'Host read once for two ACLs');
  // a header that appears twice: getHeader would give only the first; the pass sees both
  req = new FakeReq([['host', 'www.example.com'], ['x-a', 'one'], ['x-b', 'z'], ['x-a', 'two']], '/two');
  assert.equal(handle(t, req).backend, 1, 'the second x-a matches');
  assert.equal(req.forEachCalls, 1);
  assert.deepEqual(headers(), [['host', 'www.example.com'], ['x-a', 'one'], ['x-a', 'two']], 'only the names rules read are kept');
  req = new FakeReq([['host', 'www.example.com'], ['x-a', 'one'], ['x-a', 'two']], '/cnt');
  assert.equal(handle(t, req).backend, 1, 'hdr_cnt counts both');
  req = new FakeReq([['host', 'www.example.com'], ['x-a', 'one']], '/cnt');
  assert.equal(handle(t, req).backend, 0);
  // an empty Host is present (uWS's getHeader gives '' for absent and empty): the pass decides
  const found = new RoutingTable(config(`    use_backend api if { hdr(host) -m found }
    default_backend web`));
  req = new FakeReq([['host', '']]);
  assert.equal(handle(found, req).backend, 1);
  assert.deepEqual([req.getHeaderCalls, req.forEachCalls], [['host'], 1]);
  req = new FakeReq([['x-other', '1']]);
  assert.equal(handle(found, req).backend, 0);
  // nothing reads the request after evalRequest: a late read would throw (FakeReq.valid)
  assert.doesNotThrow(() => view.loadHeaders());
});

test('lazy client address: read in binary form only when a src test runs, once per request', () => {
  const t = new RoutingTable(config(`    acl office src 10.0.0.0/8 127.0.0.2/32
    acl local src 127.0.0.0/8
    use_backend api if { path_beg /admin } office
    use_backend api if { path_beg /local } local
    use_backend api if { path_beg /both } office || { path_beg /both } local
    default_backend web`));
  let res = new FakeRes();
  assert.equal(handle(t, new FakeReq([['host', 'x']], '/'), res).backend, 0);
  assert.deepEqual([res.bin, res.text], [0, 0], 'no src test ran');
  assert.equal(view.srcIp, '', 'the worker reads the text itself when it needs it');
  res = new FakeRes();
  assert.equal(handle(t, new FakeReq([['host', 'x']], '/local'), res).backend, 1, '::ffff:127.0.0.1 is in 127.0.0.0/8');
  assert.deepEqual([res.bin, res.text], [1, 0]);
  res = new FakeRes();
  assert.equal(handle(t, new FakeReq([['host', 'x']], '/both'), res).backend, 1);
  assert.deepEqual([res.bin, res.text], [1, 0], 'two ACLs, one read');
  const fmt = new RoutingTable(config(`    http-request return status 200 content-type text/plain lf-string "%[src]" if { path /ip }
    default_backend web`));
  res = new FakeRes();
  const d = handle(fmt, new FakeReq([['host', 'x']], '/ip'), res);
  assert.equal(d.body, '127.0.0.1', 'an IPv4-mapped client is written as IPv4 (uWS text would be 0000:...:ffff:7f00:0001)');
  assert.deepEqual([res.bin, res.text], [1, 0], 'made from the bytes, not uWS text');
  assert.equal(view.srcIp, d.body);
});

test('fillRequestView with every header (header edits) still reads them all up front', () => {
  const t = new RoutingTable(config(`    http-request set-header X-Seen 1 if !{ hdr(x-seen) -m found }
    http-request deny if { hdr(x-seen) 1 } { hdr(x-a) two }
    default_backend web`));
  assert.equal(t.requestHeaders[0].mode, HDR_ALL);
  const req = new FakeReq([['host', 'x'], ['x-a', 'one'], ['x-a', 'two']]);
  const d = handle(t, req);
  assert.equal(d.action, ACT_DENY, 'the ACL on x-seen is evaluated again after set-header');
  assert.deepEqual([req.forEachCalls, req.getHeaderCalls.length], [1, 0]);
  assert.deepEqual(headers(), [['host', 'x'], ['x-a', 'one'], ['x-a', 'two'], ['x-seen', '1']]);
});
