// ACLs: parse (words -> model), compile (model -> flat matchers) and evaluation, for every fetch
// and matcher gatehouse supports, conditions (AND, ||/or, !, anonymous, unless), predefined ACLs,
// and the load-time errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAclTests, parseCondition, parseFormat } from '../src/acl/parse';
import { AclScope, CFormat } from '../src/acl/compile';
import { evalCondition, evalFormat } from '../src/acl/eval';
import { RequestView, ResponseView } from '../src/acl/view';
import { RuleSyntaxError, joinWords, splitWords } from '../src/acl/words';
import { ipInNet, parseIpv4Pattern, parseIpv6Pattern } from '../src/acl/ip';

interface Req {
  method?: string;
  path?: string;
  query?: string | null;
  version?: string;
  headers?: [string, string][];
  src?: string;
  port?: number;
  tls?: boolean;
}

function view(r: Req = {}): RequestView {
  const v = new RequestView();
  v.reset();
  v.method = r.method ?? 'GET';
  v.path = r.path ?? '/';
  v.query = r.query === undefined ? null : r.query;
  v.version = r.version ?? '1.1';
  for (const [n, val] of r.headers ?? []) v.addHeader(n, val);
  v.srcIp = r.src ?? '192.0.2.1';
  v.dstPort = r.port ?? 80;
  v.tls = r.tls ?? false;
  return v;
}

const files: Record<string, string> = {
  '/lists/nets.lst': '# office\n  10.1.0.0/16\n\n192.168.7.7\n2001:db8::/32\n',
};
const readFile = (f: string): string => {
  if (!(f in files)) throw new Error('ENOENT');
  return files[f];
};

/** Does the named ACL `acl x <text>` match? (side: the direction of the rule using it) */
function acl(text: string, r: Req = {}, res: ResponseView | null = null): boolean {
  const side = res ? 'res' : 'req';
  const scope = new AclScope([{ name: 'x', tests: parseAclTests(splitWords(text), { side: 'any', readFile }) }]);
  return evalCondition(scope.condition(parseCondition(['if', 'x'], { side }), side), view(r), res);
}

/** Evaluate a condition (`if ...`) with some named ACLs. */
function cond(text: string, acls: Record<string, string>, r: Req = {}): boolean {
  const scope = new AclScope(Object.entries(acls).map(([name, t]) => ({ name, tests: parseAclTests(splitWords(t), { side: 'any' }) })));
  return evalCondition(scope.condition(parseCondition(splitWords(text), { side: 'req' }), 'req'), view(r), null);
}

function syntaxError(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof RuleSyntaxError && re.test(e.message));
}

test('path family: exact, beg, end, sub, reg, dir, dom, len, with -i', () => {
  assert.equal(acl('path /login', { path: '/login' }), true);
  assert.equal(acl('path /login', { path: '/login/x' }), false);
  assert.equal(acl('path /login', { path: '/LOGIN' }), false);
  assert.equal(acl('path -i /login', { path: '/LOGIN' }), true);
  assert.equal(acl('path_beg /api /v2', { path: '/v2/users' }), true, 'values are ORed');
  assert.equal(acl('path_beg /api', { path: '/ap' }), false);
  assert.equal(acl('path_beg -i /API', { path: '/api/x' }), true);
  assert.equal(acl('path_end .png .jpg', { path: '/a/b.jpg' }), true);
  assert.equal(acl('path_end .png', { path: '/a/b.png/x' }), false);
  assert.equal(acl('path_sub /admin/', { path: '/x/admin/y' }), true);
  assert.equal(acl('path_sub -i ADMIN', { path: '/x/admin/y' }), true);
  assert.equal(acl('path_sub admin', { path: '/x/adm/y' }), false);
  assert.equal(acl('path_reg ^/article/[^/]*$', { path: '/article/12' }), true);
  assert.equal(acl('path_reg ^/article/[^/]*$', { path: '/article/12/x' }), false);
  assert.equal(acl('path_reg -i ^/ART', { path: '/article' }), true);
  // the manual's examples for dir; "png" does match in HAProxy 2.6 itself (checked against
  // Debian's haproxy), although the manual's text says it would not
  for (const p of ['/images', '/images/png', 'images/png', '/png/logo', 'logo/32x32.png', '32x32.png', 'png']) {
    assert.equal(acl(`path_dir ${p}`, { path: '/images/png/logo/32x32.png' }), true, p);
  }
  assert.equal(acl('path_dir 32x32', { path: '/images/png/logo/32x32.png' }), false);
  assert.equal(acl('path_dir images/png', { path: '/a/images/pngx/' }), false);
  assert.equal(acl('path_dom example', { path: '/www1.example.com:80/x' }), true);
  assert.equal(acl('path_dom dc-eu.example.com:80', { path: '/www1.dc-eu.example.com:80/x' }), true);
  assert.equal(acl('path_dom eu', { path: '/www1.dc-eu.example.com:80/blah' }), false);
  assert.equal(acl('path_dom exa', { path: '/www1.example.com/x' }), false);
  assert.equal(acl('path_len 3', { path: '/ab' }), true);
  assert.equal(acl('path_len gt 3', { path: '/ab' }), false);
  assert.equal(acl('path_len 1:2', { path: '/ab' }), false);
  assert.equal(acl('path -m beg /st', { path: '/static' }), true, '-m overrides the exact match');
});

test('url family includes the query string; query distinguishes none from empty', () => {
  assert.equal(acl('url /a?b=1', { path: '/a', query: 'b=1' }), true);
  assert.equal(acl('url /a', { path: '/a', query: 'b=1' }), false);
  assert.equal(acl('url_beg /a?b', { path: '/a', query: 'b=1' }), true);
  assert.equal(acl('url_end =1', { path: '/a', query: 'b=1' }), true);
  assert.equal(acl('url_sub ?b', { path: '/a', query: 'b=1' }), true);
  assert.equal(acl('url_reg b=[0-9]$', { path: '/a', query: 'b=1' }), true);
  assert.equal(acl('url *', { path: '*' }), true);
  assert.equal(acl('query b=1', { query: 'b=1' }), true);
  assert.equal(acl('query -m found', { query: null }), false);
  assert.equal(acl('query -m found', { query: '' }), true);
  assert.equal(acl('query -m sub debug', { query: 'x=1&debug=1' }), true);
});

test('url_param / urlp: every occurrence is checked, ";" ends a value, names are case-sensitive', () => {
  assert.equal(acl('url_param(user) alice', { query: 'user=bob&user=alice' }), true);
  assert.equal(acl('urlp(user) carol', { query: 'user=bob&user=alice' }), false);
  assert.equal(acl('urlp(user) bob', { query: 'user=bob;jsessionid=1&x=2' }), true);
  assert.equal(acl('urlp(User) bob', { query: 'user=bob' }), false);
  assert.equal(acl('urlp(user) bob', { query: 'xuser=bob' }), false);
  assert.equal(acl('urlp(id) -m found', { query: 'a=1&id=' }), true);
  assert.equal(acl('urlp(id) -m found', { query: null }), false);
  assert.equal(acl('urlp_beg(lang) en', { query: 'lang=en-GB' }), true);
  assert.equal(acl('urlp_reg(page) ^[0-9]+$', { query: 'page=12' }), true);
  assert.equal(acl('url_param(page) -m int gt 10', { query: 'page=12' }), true);
});

test('hdr family: host with -i, beg/end/sub/reg/dom, comma-split values, fhdr whole lines, cnt, val', () => {
  const h = (headers: [string, string][]): Req => ({ headers });
  assert.equal(acl('hdr(host) -i api.example.com', h([['host', 'API.Example.com']])), true);
  assert.equal(acl('hdr(host) api.example.com', h([['host', 'API.Example.com']])), false);
  assert.equal(acl('hdr(Host) -i api.example.com', h([['host', 'api.example.com']])), true, 'header names are case-insensitive');
  assert.equal(acl('req.hdr(host) -i api.example.com', h([['host', 'api.example.com']])), true);
  assert.equal(acl('hdr(host) api.example.com', h([])), false, 'missing header');
  assert.equal(acl('hdr_beg(host) -i www. img.', h([['host', 'img.example.com']])), true);
  assert.equal(acl('hdr_end(host) .example.com', h([['host', 'img.example.com']])), true);
  assert.equal(acl('hdr_end(host) .example.com', h([['host', 'example.org']])), false);
  assert.equal(acl('hdr_sub(user-agent) -i curl', h([['user-agent', 'Mozilla curl/8']])), true);
  assert.equal(acl('hdr_reg(user-agent) ^curl/[0-9]', h([['user-agent', 'curl/8.1']])), true);
  assert.equal(acl('hdr_dom(host) -i example.com', h([['host', 'www.Example.com:8080']])), true);
  assert.equal(acl('hdr_dom(host) ample.com', h([['host', 'www.example.com']])), false);
  assert.equal(acl('hdr_len(x-token) 4', h([['x-token', 'abcd']])), true);
  // hdr splits on commas and checks every value; fhdr takes whole lines
  assert.equal(acl('hdr(accept) text/html', h([['accept', 'application/json, text/html']])), true);
  assert.equal(acl('req.fhdr(accept) text/html', h([['accept', 'application/json, text/html']])), false);
  assert.equal(acl('req.fhdr(accept) -m end text/html', h([['accept', 'application/json, text/html']])), true);
  assert.equal(acl('hdr(x-a) two', h([['x-a', 'one'], ['x-a', 'two']])), true, 'every occurrence');
  assert.equal(acl('hdr(x-a) -m found', h([['x-a', '']])), true, 'present even if empty');
  assert.equal(acl('hdr(x-a) -m found', h([['x-b', '1']])), false);
  assert.equal(acl('hdr_cnt(host) gt 1', h([['host', 'a'], ['host', 'b']])), true);
  assert.equal(acl('hdr_cnt(host) gt 1', h([['host', 'a']])), false);
  assert.equal(acl('hdr_cnt(x-forwarded-for) eq 3', h([['x-forwarded-for', '1.1.1.1, 2.2.2.2'], ['x-forwarded-for', '3.3.3.3']])), true, 'counts comma-separated values');
  assert.equal(acl('req.fhdr_cnt(x-forwarded-for) eq 2', h([['x-forwarded-for', '1.1.1.1, 2.2.2.2'], ['x-forwarded-for', '3.3.3.3']])), true);
  assert.equal(acl('hdr_cnt(x-missing) eq 0', h([])), true);
  assert.equal(acl('hdr_val(content-length) gt 100', h([['content-length', '512']])), true);
  assert.equal(acl('hdr_val(content-length) lt 0', h([['content-length', '512']])), false);
  assert.equal(acl('hdr(host) -m beg -i API', h([['host', 'api.x']])), true);
  // a deleted header (name '') is invisible
  assert.equal(acl('hdr(x-a) -m found', h([['', 'gone']])), false);
});

test('method (case-insensitive), req.ver, dst_port ranges and operators, ssl_fc', () => {
  assert.equal(acl('method GET HEAD', { method: 'HEAD' }), true);
  assert.equal(acl('method get', { method: 'GET' }), true);
  assert.equal(acl('method POST', { method: 'GET' }), false);
  assert.equal(acl('req.ver 1.0', { version: '1.0' }), true);
  assert.equal(acl('dst_port 80 443', { port: 443 }), true);
  assert.equal(acl('dst_port 1024:', { port: 8080 }), true);
  assert.equal(acl('dst_port :1023', { port: 8080 }), false);
  assert.equal(acl('dst_port 8000:8100', { port: 8080 }), true);
  assert.equal(acl('dst_port ge 8080', { port: 8080 }), true);
  assert.equal(acl('dst_port gt 8080', { port: 8080 }), false);
  assert.equal(acl('dst_port le 79', { port: 80 }), false);
  assert.equal(acl('dst_port lt 81', { port: 80 }), true);
  assert.equal(acl('ssl_fc', { tls: true }), true);
  assert.equal(acl('ssl_fc', { tls: false }), false);
  assert.equal(acl('always_true'), true);
  assert.equal(acl('always_false'), false);
});

test('src: IPv4 and IPv6 with CIDR, mapped addresses, abbreviated forms, -f pattern files', () => {
  assert.equal(acl('src 127.0.0.0/8', { src: '127.3.4.5' }), true);
  assert.equal(acl('src 127.0.0.0/8', { src: '128.0.0.1' }), false);
  assert.equal(acl('src 10.0.0.1 10.0.0.2', { src: '10.0.0.2' }), true);
  assert.equal(acl('src 10.0.0.1', { src: '10.0.0.10' }), false);
  assert.equal(acl('src 192.168.1/24', { src: '192.168.1.77' }), true, 'HAProxy: 192.168.1 = 192.168.1.0');
  assert.equal(acl('src 10.0.0.0/255.0.0.0', { src: '10.9.9.9' }), true);
  assert.equal(acl('src 0.0.0.0/0', { src: '203.0.113.9' }), true);
  assert.equal(acl('src ::1', { src: '::1' }), true);
  assert.equal(acl('src 2001:db8::/32', { src: '2001:db8:1::5' }), true);
  assert.equal(acl('src 2001:db8::/32', { src: '2001:db9::5' }), false);
  assert.equal(acl('src fe80::/10', { src: 'fe80::1%eth0' }), false, 'not an address: no match, no crash');
  assert.equal(acl('src 127.0.0.0/8', { src: '::ffff:127.0.0.1' }), true, 'IPv4 pattern vs IPv4-mapped IPv6');
  assert.equal(acl('src ::ffff:10.0.0.0/104', { src: '10.1.2.3' }), true, 'IPv4 sample vs IPv6 pattern');
  assert.equal(acl('src 10.1.0.0/16', { src: '0000:0000:0000:0000:0000:ffff:0a01:0203' }), true, 'uncompressed mapped form');
  assert.equal(acl('src -f /lists/nets.lst', { src: '10.1.200.1' }), true);
  assert.equal(acl('src -f /lists/nets.lst', { src: '192.168.7.7' }), true);
  assert.equal(acl('src -f /lists/nets.lst', { src: '2001:db8:ff::1' }), true);
  assert.equal(acl('src -f /lists/nets.lst', { src: '10.2.0.1' }), false);
  assert.equal(acl('src -f /lists/nets.lst 10.2.0.0/16', { src: '10.2.0.1' }), true, 'files and inline values together');
  assert.equal(acl('src -m found', { src: '' }), false);
  assert.equal(acl('src -m beg 10.', { src: '10.2.0.1' }), true, 'string matchers see the address text');
});

test('IPv6 parser: compressed forms, embedded IPv4, invalid texts', () => {
  const n = parseIpv6Pattern('2001:db8::1')!;
  assert.equal(ipInNet('2001:0db8:0000:0000:0000:0000:0000:0001', n), true);
  assert.equal(ipInNet('2001:db8::2', n), false);
  assert.equal(ipInNet('::', parseIpv6Pattern('::/0')!), true);
  assert.equal(ipInNet('1::', parseIpv6Pattern('1::/16')!), true);
  assert.equal(ipInNet('::ffff:1.2.3.4', parseIpv6Pattern('::ffff:1.2.3.0/120')!), true);
  assert.equal(parseIpv6Pattern('1:::2'), null);
  assert.equal(parseIpv6Pattern('1:2:3:4:5:6:7:8:9'), null);
  assert.equal(parseIpv6Pattern('12345::'), null);
  assert.equal(parseIpv4Pattern('256.1.1.1'), null);
  assert.equal(parseIpv4Pattern('10'), null);
  assert.equal(ipInNet('2002:0a00:0001::', parseIpv4Pattern('10.0.0.0/8')!), true, '6to4 embeds IPv4');
});

test('response side: hdr() reads response headers, status, res.hdr_cnt; request fetches still work', () => {
  const res = new ResponseView();
  res.status = 404;
  res.addHeader('Content-Type', 'application/json; charset=utf-8');
  res.addHeader('Set-Cookie', 'a=1');
  assert.equal(acl('status 400:499', {}, res), true);
  assert.equal(acl('status 200', {}, res), false);
  assert.equal(acl('hdr(content-type) -m sub json', {}, res), true, 'a named acl with hdr() follows the rule direction');
  assert.equal(acl('res.hdr(content-type) -m beg application/', {}, res), true);
  assert.equal(acl('res.hdr_cnt(set-cookie) eq 1', {}, res), true);
  assert.equal(acl('path_beg /api', { path: '/api/x' }, res), true);
});

test('conditions: implicit AND, || and "or", negation (attached or alone), anonymous ACLs, unless', () => {
  const acls = { api: 'path_beg /api', local: 'src 127.0.0.0/8', get: 'method GET' };
  const r = (path: string, src: string, method = 'GET'): Req => ({ path, src, method });
  assert.equal(cond('if api local', acls, r('/api/x', '127.0.0.1')), true);
  assert.equal(cond('if api local', acls, r('/api/x', '10.0.0.1')), false);
  assert.equal(cond('if api !local', acls, r('/api/x', '10.0.0.1')), true);
  assert.equal(cond('if api ! local', acls, r('/api/x', '10.0.0.1')), true, 'a lone "!" negates the next term');
  assert.equal(cond('if !!api', acls, r('/api/x', '1.1.1.1')), true);
  assert.equal(cond('if api || local', acls, r('/x', '127.0.0.1')), true);
  assert.equal(cond('if api or local', acls, r('/x', '10.0.0.1')), false);
  // AND binds tighter than OR: (api local) || get
  assert.equal(cond('if api local || get', acls, r('/x', '10.0.0.1', 'GET')), true);
  assert.equal(cond('if api local || get', acls, r('/x', '10.0.0.1', 'POST')), false);
  assert.equal(cond('if { path_beg /admin } !local', acls, r('/admin', '10.0.0.1')), true);
  assert.equal(cond('if { path_beg /admin } !local', acls, r('/admin', '127.0.0.1')), false);
  assert.equal(cond('if !{ hdr(host) -i a.com } api', acls, { ...r('/api', '1.1.1.1'), headers: [['host', 'b.com']] }), true);
  assert.equal(cond('if { src 10.0.0.0/8 } || { src 192.168.0.0/16 }', acls, r('/', '192.168.1.1')), true);
  assert.equal(cond('unless local', acls, r('/', '127.0.0.1')), false);
  assert.equal(cond('unless local', acls, r('/', '10.0.0.1')), true);
  assert.equal(cond('unless api local', acls, r('/api', '10.0.0.1')), true);
});

test('several acl lines with one name are ORed, also across different criteria', () => {
  const tests = [...parseAclTests(splitWords('path_beg /static'), { side: 'any' }), ...parseAclTests(splitWords('path_end .css'), { side: 'any' })];
  const scope = new AclScope([{ name: 'static', tests }]);
  const c = scope.condition(parseCondition(['if', 'static'], { side: 'req' }), 'req');
  assert.equal(evalCondition(c, view({ path: '/static/a' }), null), true);
  assert.equal(evalCondition(c, view({ path: '/x/a.css' }), null), true);
  assert.equal(evalCondition(c, view({ path: '/x/a.js' }), null), false);
});

test('predefined ACLs: TRUE FALSE LOCALHOST METH_* HTTP_1.x HTTP_CONTENT HTTP_URL_*', () => {
  assert.equal(cond('if TRUE', {}), true);
  assert.equal(cond('if FALSE', {}), false);
  assert.equal(cond('if LOCALHOST', {}, { src: '127.0.0.1' }), true);
  assert.equal(cond('if LOCALHOST', {}, { src: '::1' }), true);
  assert.equal(cond('if LOCALHOST', {}, { src: '10.0.0.1' }), false);
  assert.equal(cond('if METH_GET', {}, { method: 'HEAD' }), true);
  assert.equal(cond('if METH_POST', {}, { method: 'GET' }), false);
  assert.equal(cond('if METH_DELETE || METH_PUT', {}, { method: 'PUT' }), true);
  assert.equal(cond('if HTTP_1.1', {}, { version: '1.1' }), true);
  assert.equal(cond('if HTTP_1.0', {}, { version: '1.1' }), false);
  assert.equal(cond('if HTTP_CONTENT', {}, { headers: [['content-length', '3']] }), true);
  assert.equal(cond('if HTTP_CONTENT', {}, { headers: [['content-length', '0']] }), false);
  assert.equal(cond('if HTTP_URL_STAR', {}, { path: '*' }), true);
  assert.equal(cond('if HTTP_URL_SLASH', {}, { path: '/a' }), true);
  assert.equal(cond('if METH_GET', { METH_GET: 'method POST' }, { method: 'POST' }), true, 'an own ACL wins over the predefined one');
});

test('load-time errors name the problem', () => {
  const p = (t: string, side: 'req' | 'res' | 'any' = 'any'): unknown => parseAclTests(splitWords(t), { side, readFile });
  syntaxError(() => p('path_begin /a'), /unknown fetch method 'path_begin'; did you mean "path_beg"/);
  syntaxError(() => p('cook(SID) -m found'), /'cook' is not supported by gatehouse yet/);
  syntaxError(() => p('path_reg ^(unclosed'), /invalid regular expression/);
  syntaxError(() => p('src 10.0.0.300'), /not an IPv4 or IPv6 address/);
  syntaxError(() => p('src localhost'), /host names in address patterns are not supported/);
  syntaxError(() => p('path -m bin 41'), /'-m bin' is not supported/);
  syntaxError(() => p('path -m foo x'), /unknown matching method 'foo'/);
  syntaxError(() => p('path_beg'), /needs at least one value/);
  syntaxError(() => p('hdr(host) -m found x'), /takes no value/);
  syntaxError(() => p('dst_port eighty'), /not an integer or a range/);
  syntaxError(() => p('path,frobnicate /a'), /unknown converter 'frobnicate'/);
  syntaxError(() => p('hdr(host,1) a'), /occurrence argument is not supported/);
  syntaxError(() => p('src -f /lists/missing.lst'), /cannot read the ACL pattern file '\/lists\/missing.lst'/);
  syntaxError(() => p('status 200', 'req'), /reads the response and is not available in request rules/);
  syntaxError(() => p('hdr_beg(host) a', 'res'), /http-response rules do not see/);
  syntaxError(() => p('src -M map.txt'), /map files/);
  const c = (t: string): unknown => parseCondition(splitWords(t), { side: 'req' });
  syntaxError(() => c('if {path_beg /a}'), /braces of anonymous ACLs must be separate words/);
  syntaxError(() => c('if { path_beg /a'), /missing '}'/);
  syntaxError(() => c('if a ||'), /ends with an operator/);
  syntaxError(() => c('if || a'), /without a condition before it/);
  syntaxError(() => c('if a !'), /'!' at the end/);
  syntaxError(() => c('when a'), /expected 'if' or 'unless'/);
});

test('flags: "--" ends flags, -i only after it applies to later -f files, -n and -u are accepted', () => {
  assert.equal(acl('path -- -i', { path: '-i' }), true);
  assert.equal(acl('path -n -u 7 /a', { path: '/a' }), true);
  files['/lists/paths.lst'] = '/Exact\n';
  const tests = parseAclTests(splitWords('path -f /lists/paths.lst -i /other'), { side: 'any', readFile });
  assert.deepEqual(tests.map((t) => [t.icase, t.values]), [[false, ['/Exact']], [true, ['/other']]]);
  assert.equal(acl('path -f /lists/paths.lst -i /other', { path: '/exact' }), false);
  assert.equal(acl('path -f /lists/paths.lst -i /other', { path: '/OTHER' }), true);
});

test('log-format strings: %[fetch], converters, %% and the rejected forms', () => {
  const f = (t: string, r: Req): string => evalFormat(new CFormat(parseFormat(t, 'req')), view(r), null);
  const r: Req = { path: '/p', query: 'a=1&a=2', headers: [['host', 'Ex.com'], ['x-f', 'a, b'], ['x-f', 'c']], src: '10.0.0.9', method: 'GET' };
  assert.equal(f('p=%[path] q=%[query] h=%[hdr(host)] u=%[url_param(a)] m=%[method] s=%[src]', r), 'p=/p q=a=1&a=2 h=Ex.com u=1 m=GET s=10.0.0.9');
  assert.equal(f('%[hdr(x-f)]|%[req.fhdr(x-f)]|%[hdr_cnt(x-f)]', r), 'c|c|3', 'hdr: the last value');
  assert.equal(f('%[hdr(host),lower]%[path,upper]', r), 'ex.com/P');
  assert.equal(f('100%% %[url]', r), '100% /p?a=1&a=2');
  assert.equal(f('x=%[hdr(nope)]', r), 'x=', 'a missing sample is empty (as HAProxy)');
  assert.equal(new CFormat(parseFormat('plain', 'req')).literal, 'plain');
  syntaxError(() => parseFormat('%ci', 'req'), /'%ci' is not supported/);
  syntaxError(() => parseFormat('%[path,sha1]', 'req'), /converter 'sha1' is not supported/);
  syntaxError(() => parseFormat('%[nope]', 'req'), /unknown fetch method 'nope'/);
  syntaxError(() => parseFormat('%[path', 'req'), /missing '\]'/);
});

test('joinWords quotes so that splitWords gives the same words back', () => {
  const cases = [['deny', 'if', '{', 'path_beg', '/a', '}'], ['set-header', 'X-A', 'a b'], ['return', 'string', "it's"], ['x', '$HOME', '#x', 'a\\1', ''], ['a\nb', 'c"d']];
  for (const w of cases) assert.deepEqual(splitWords(joinWords(w)), w);
});

/** A uWS response as the view reads it: the client address as bytes and as text, calls counted. */
class FakeAddr {
  bin = 0;
  text = 0;
  constructor(
    readonly bytes: number[],
    readonly asText: string,
  ) {}
  getRemoteAddress(): ArrayBuffer {
    this.bin++;
    return new Uint8Array(this.bytes).buffer;
  }
  getRemoteAddressAsText(): ArrayBuffer {
    this.text++;
    return new TextEncoder().encode(this.asText).buffer;
  }
}

const v4 = (a: number, b: number, c: number, d: number): number[] => [a, b, c, d];
const v6 = (...words: number[]): number[] => words.flatMap((w) => [w >> 8, w & 0xff]);

/** Does `acl x <text>` match a client whose address comes from `addr` (binary, as uWS gives it)? */
function aclFrom(text: string, addr: FakeAddr): boolean {
  const v = view();
  v.srcIp = '';
  v.addr = addr;
  const scope = new AclScope([{ name: 'x', tests: parseAclTests(splitWords(text), { side: 'any' }) }]);
  return evalCondition(scope.condition(parseCondition(['if', 'x'], { side: 'req' }), 'req'), v, null);
}

test('src from the binary address: IPv4, IPv6, IPv4-mapped IPv6 against IPv4 and IPv6 networks', () => {
  const a4 = (): FakeAddr => new FakeAddr(v4(10, 1, 2, 3), '10.1.2.3');
  assert.equal(aclFrom('src 10.0.0.0/8', a4()), true);
  assert.equal(aclFrom('src 10.1.2.3', a4()), true);
  assert.equal(aclFrom('src 10.1.2.4 192.168.0.0/16', a4()), false);
  assert.equal(aclFrom('src 0.0.0.0/0', a4()), true);
  assert.equal(aclFrom('src ::ffff:10.0.0.0/104', a4()), true, 'IPv4 client vs IPv6 pattern: as ::ffff:a.b.c.d');
  assert.equal(aclFrom('src 2001:db8::/32', a4()), false);
  assert.equal(aclFrom('src 255.255.255.255', new FakeAddr(v4(255, 255, 255, 255), '255.255.255.255')), true, 'high bit set');
  assert.equal(aclFrom('src 128.0.0.0/1', new FakeAddr(v4(200, 0, 0, 1), '200.0.0.1')), true);
  // a dual-stack socket gives IPv4 clients as ::ffff:a.b.c.d (16 bytes)
  const mapped = (): FakeAddr => new FakeAddr(v6(0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001), '0000:0000:0000:0000:0000:ffff:7f00:0001');
  assert.equal(aclFrom('src 127.0.0.0/8', mapped()), true, 'mapped IPv6 vs IPv4 CIDR');
  assert.equal(aclFrom('src 127.0.0.2/32', mapped()), false);
  assert.equal(aclFrom('src ::ffff:127.0.0.1', mapped()), true);
  assert.equal(aclFrom('src ::1', mapped()), false);
  assert.equal(aclFrom('src 10.0.0.0/8', new FakeAddr(v6(0x2002, 0x0a00, 0x0001, 0, 0, 0, 0, 1), '2002:0a00:0001:0000:0000:0000:0000:0001')), true, '6to4');
  const a6 = (): FakeAddr => new FakeAddr(v6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 5), '2001:0db8:0001:0000:0000:0000:0000:0005');
  assert.equal(aclFrom('src 2001:db8::/32', a6()), true);
  assert.equal(aclFrom('src 2001:db8:1::/48', a6()), true);
  assert.equal(aclFrom('src 2001:db8:2::/48', a6()), false);
  assert.equal(aclFrom('src 2001:db8:1::5', a6()), true);
  assert.equal(aclFrom('src 10.0.0.0/8', a6()), false, 'plain IPv6 vs IPv4 pattern');
  assert.equal(aclFrom('src ::1', new FakeAddr(v6(0, 0, 0, 0, 0, 0, 0, 1), '0000:0000:0000:0000:0000:0000:0000:0001')), true);
  assert.equal(aclFrom('src 10.0.0.0/8', new FakeAddr([], '')), false, 'no address: no match');
  // string matchers and %[src] see the text the worker logs (IPv4-mapped written as IPv4)
  assert.equal(aclFrom('src -m beg 10.1.', a4()), true);
  assert.equal(aclFrom('src -m beg 1.2.3.4', new FakeAddr(v6(0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304), '::ffff:1.2.3.4')), true);
  assert.equal(aclFrom('src -m found', a4()), true);
});

test('src: the address is read only when a src test runs, once per request, binary unless text is needed', () => {
  const scope = new AclScope([
    { name: 'office', tests: parseAclTests(splitWords('src 10.0.0.0/8 192.168.0.0/16'), { side: 'any' }) },
    { name: 'partner', tests: parseAclTests(splitWords('src 172.16.0.0/12 203.0.113.0/24'), { side: 'any' }) },
    { name: 'api', tests: parseAclTests(splitWords('path_beg /api'), { side: 'any' }) },
  ]);
  const c1 = scope.condition(parseCondition(splitWords('if api office'), { side: 'req' }), 'req');
  const c2 = scope.condition(parseCondition(splitWords('if office || partner'), { side: 'req' }), 'req');
  const addr = new FakeAddr(v4(198, 51, 100, 7), '198.51.100.7');
  const v = view({ path: '/' });
  v.srcIp = '';
  v.addr = addr;
  assert.equal(evalCondition(c1, v, null), false);
  assert.equal(addr.bin, 0, 'api fails first: the address is not read');
  assert.equal(evalCondition(c2, v, null), false);
  assert.equal(evalCondition(c2, v, null), false);
  assert.deepEqual([addr.bin, addr.text], [1, 0], 'read once, in binary form');
  assert.equal(evalFormat(new CFormat(parseFormat('ip=%[src]', 'req')), v, null), 'ip=198.51.100.7');
  assert.equal(evalFormat(new CFormat(parseFormat('%[src]', 'req')), v, null), '198.51.100.7');
  assert.deepEqual([addr.bin, addr.text], [1, 0], 'the text is made from the bytes already read: no second read');
  assert.equal(v.srcIp, '198.51.100.7', 'and kept on the view for the worker (logs, forwardfor)');
  v.reset();
  v.addr = addr;
  assert.equal(evalCondition(c2, v, null), false);
  assert.equal(addr.bin, 2, 'a new request reads it again');
});

test('-i: samples are lower-cased once (ASCII only, as HAProxy); many substrings make one RegExp', () => {
  const bots = 'hdr_sub(user-agent) -i bot crawler spider curl wget python scrapy httpclient java/ go-http libwww okhttp a.b c++ (x)';
  const ua = (s: string): Req => ({ headers: [['user-agent', s]] });
  assert.equal(acl(bots, ua('Mozilla/5.0 (compatible; Googlebot/2.1)')), true);
  assert.equal(acl(bots, ua('Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0')), false);
  assert.equal(acl(bots, ua('Java/17.0.2')), true, 'a pattern with "/"');
  assert.equal(acl(bots, ua('OkHttp/4.9')), true, 'the last pattern');
  assert.equal(acl(bots, ua('AxB')), false, '"." is literal');
  assert.equal(acl(bots, ua('xA.By')), true);
  assert.equal(acl(bots, ua('gcc C++ 12')), true, '"+" is literal');
  assert.equal(acl(bots, ua('f(X)')), true, 'parentheses are literal');
  assert.equal(acl(bots, ua('fX')), false);
  assert.equal(acl('hdr_sub(user-agent) bot crawler', ua('GoogleBot')), false, 'without -i: case-sensitive');
  assert.equal(acl('hdr_sub(user-agent) bot Crawler', ua('a Crawler')), true);
  // ASCII folding only, the same with a loop (few patterns) or a Set (many)
  assert.equal(acl('hdr(x-n) -i ä', { headers: [['x-n', 'Ä']] }), false);
  assert.equal(acl('hdr(x-n) -i ä b c d e f', { headers: [['x-n', 'Ä']] }), false);
  assert.equal(acl('hdr(x-n) -i aä b c d e f', { headers: [['x-n', 'Aä']] }), true);
  assert.equal(acl('hdr(x-n) -i aä', { headers: [['x-n', 'Aä']] }), true);
  assert.equal(acl('path_end -i .JS .css', { path: '/APP.Js' }), true);
  assert.equal(acl('path_dom -i Example', { path: '/www.EXAMPLE.com' }), true);
  assert.equal(acl('path_dir -i Images', { path: '/a/IMAGES/b' }), true);
  assert.equal(acl('path_dir -i Images', { path: '/a/IMAGESx/b' }), false);
  // comma-separated values are folded, split and trimmed
  assert.equal(acl('hdr(accept) -i TEXT/HTML', { headers: [['accept', 'application/JSON ,  Text/Html ']] }), true);
  assert.equal(acl('hdr(accept) -i -m beg APP', { headers: [['accept', 'text/html, Application/json']] }), true);
  assert.equal(acl('urlp(lang) -i fr de es', { query: 'a=b&lang=FR' }), true);
  assert.equal(acl('urlp(lang) -i fr de es', { query: 'a=b&lang=it' }), false);
});

test('a named ACL is evaluated once per request, and again after the view changes', () => {
  const scope = new AclScope([{ name: 'api', tests: parseAclTests(splitWords('path_beg /api'), { side: 'any' }) }]);
  const conds = [1, 2, 3].map(() => scope.condition(parseCondition(splitWords('if api'), { side: 'req' }), 'req'));
  const v = view({ path: '/api/x' });
  let reads = 0;
  let path = '/api/x';
  Object.defineProperty(v, 'path', { get: () => (reads++, path), set: (p: string) => (path = p), configurable: true });
  for (const c of conds) assert.equal(evalCondition(c, v, null), true);
  assert.equal(reads, 1, 'the path is read once for three conditions');
  v.path = '/web';
  v.touch(); // what the engine does after set-path or a header edit
  for (const c of conds) assert.equal(evalCondition(c, v, null), false);
  assert.equal(reads, 2);
});

test('end with several patterns: the last-character table rejects early, and never wrongly', () => {
  assert.equal(acl('path_end .jpg .jpeg .png', { path: '/' }), false);
  assert.equal(acl('path_end .jpg .jpeg .png', { path: '' }), false);
  assert.equal(acl('path_end .jpg .jpeg .png', { path: '/a.jpeg' }), true);
  assert.equal(acl('path_end .jpg .jpeg .png', { path: '/a.png' }), true);
  assert.equal(acl('path_end .jpg .jpeg .png', { path: '/a.pnG' }), false);
  assert.equal(acl('path_end -i .JS .css', { path: '/a.Js' }), true);
  assert.equal(acl('path_end .js é', { path: '/café' }), true, 'a non-ASCII last character: no table');
  assert.equal(acl('path_end .js .cé', { path: '/a.cé' }), true);
  assert.equal(acl('path_end .js .css', { path: '/a.cssé' }), false);
  assert.equal(acl('hdr_end(host) -i .internal .corp', { headers: [['host', 'DB.Internal']] }), true);
});
