// Variables, sample converters, map files and `use_backend %[...]`, side by side with HAProxy
// 2.6: the same configuration runs in both, real backends echo what they received, and every
// answer must be the same (which backend, and each header the rules computed).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, request, startBackend, startGatehouse, type Backend } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';

const HAPROXY = haproxyBinary();
let dir = '';
const backends: Backend[] = [];

/** Headers the rules set; the backends send them back. */
const ECHO = ['x-host', 'x-path-be', 'x-word', 'x-word2', 'x-field3', 'x-field', 'x-field2', 'x-sub', 'x-up', 'x-len', 'x-greet', 'x-dom', 'x-reg', 'x-ip', 'x-int',
  'x-colon', 'x-djb2', 'x-sdbm', 'x-wt6', 'x-crc32', 'x-sdbm-av', 'x-b64', 'x-hex', 'x-trim', 'x-concat', 'x-base', 'x-pathq', 'x-dec', 'x-end', 'x-dir', 'x-sub2'];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-samples-'));
  const w = (name: string, text: string): void => fs.writeFileSync(path.join(dir, name), text);
  w('hosts.map', '# host -> backend\nexample.com   be_a\napi.example.com be_b\n\n  www.example.com\tbe_c\n');
  w('paths.map', '/api/v2 be_b\n/api be_a\n/static be_c\n');
  w('dom.map', 'example.com dom-example\norg dom-org\n');
  w('reg.map', '^/img/.*\\.png$ png\n\\.css$ css\n');
  w('ip.map', '127.0.0.0/8 loopback\n127.0.0.1/32 exact-one\n10.0.0.0/8 ten\n');
  w('int.map', '42 answer\n7 seven\n');
  w('end.map', '.png image\n.html page\n');
  w('dir.map', '/img images\n/v2 version2\n');
  w('sub.map', 'admin has-admin\nlogin has-login\n');
  for (const name of ['be_a', 'be_b', 'be_c']) {
    backends.push(
      await startBackend(name, (req, res) => {
        req.resume();
        const seen: Record<string, string> = { server: name };
        for (const h of ECHO) if (req.headers[h] !== undefined) seen[h] = String(req.headers[h]);
        res.setHeader('x-server', name);
        res.end(JSON.stringify(seen));
      }),
    );
  }
});
after(async () => {
  for (const b of backends) await b.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function cfg(port: number): string {
  const m = (f: string): string => path.join(dir, f);
  const [a, b, c] = backends;
  return `defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s

frontend fe
  bind 127.0.0.1:${port}
  http-request set-var(txn.host) req.hdr(host),lower,field(1,:)
  http-request set-var(txn.be) var(txn.host),map_str(${m('hosts.map')})
  http-request set-header X-Host %[var(txn.host)]
  http-request set-header X-Path-Be %[path,map_beg(${m('paths.map')},none)]
  http-request set-header X-Word %[path,word(2,/)]
  http-request set-header X-Field %[path,field(-1,/)]
  http-request set-header X-Word2 %[path,word(2,/,0)]
  http-request set-header X-Field3 %[path,field(-2,/,2)]
  http-request set-header X-Field2 %[path,field(2,/,2)]
  http-request set-header X-Sub %[path,regsub(^/static/,/assets/)]
  http-request set-header X-Up %[req.hdr(x-name),upper]
  http-request set-header X-Len %[path,length]
  http-request set-var-fmt(txn.greet) "hi-%[var(txn.host)]"
  http-request unset-var(txn.greet) if { path /unset }
  http-request set-header X-Greet %[var(txn.greet)]
  http-request set-header X-Dom %[req.hdr(host),field(1,:),map_dom(${m('dom.map')},nodom)]
  http-request set-header X-Reg %[path,map_reg(${m('reg.map')},noreg)]
  http-request set-header X-Ip %[src,map_ip(${m('ip.map')},noip)]
  http-request set-header X-Int %[req.hdr(x-num),map_int(${m('int.map')},noint)]
  http-request set-header X-End %[path,map_end(${m('end.map')},noend)]
  http-request set-header X-Dir %[path,map_dir(${m('dir.map')},nodir)]
  http-request set-header X-Sub2 %[path,map_sub(${m('sub.map')},nosub)]
  http-request set-header X-Colon: typed-with-a-colon
  http-request set-header X-Djb2 %[path,djb2]
  http-request set-header X-Sdbm %[path,sdbm]
  http-request set-header X-Wt6 %[path,wt6]
  http-request set-header X-Crc32 %[path,crc32]
  http-request set-header X-Sdbm-Av %[path,sdbm(1)]
  http-request set-header X-B64 %[req.hdr(x-name),base64]
  http-request set-header X-Hex %[req.hdr(x-name),hex]
  http-request set-header X-Trim %[path,ltrim(/),rtrim(/)]
  http-request set-header X-Concat %[path,concat(<,txn.host,>)]
  http-request set-header X-Base %[base]
  http-request set-header X-Pathq %[pathq]
  http-request set-header X-Dec %[query,url_dec]
  acl has_be var(txn.be) -m found
  acl is_png path,map_reg(${m('reg.map')}) -m str png
  use_backend be_c if is_png
  use_backend %[var(txn.be)] if has_be
  use_backend %[path,map_beg(${m('paths.map')})] if { path,map_beg(${m('paths.map')}) -m found }
  default_backend be_a

backend be_a
  http-response set-var(res.srv) res.hdr(x-server)
  http-response set-header X-Echo %[var(res.srv),upper]
  server a 127.0.0.1:${a.port}
backend be_b
  server b 127.0.0.1:${b.port}
backend be_c
  server c 127.0.0.1:${c.port}
`;
}

const REQUESTS: { path: string; headers?: Record<string, string> }[] = [
  { path: '/', headers: { host: 'Example.COM:8080', 'x-name': 'bob', 'x-num': '42' } },
  { path: '/api/v2/users/7', headers: { host: 'unknown.test' } },
  { path: '/api/x', headers: { host: 'api.example.com' } },
  { path: '/static/site.css', headers: { host: 'www.example.com', 'x-num': '0007' } },
  { path: '/img/logo.png', headers: { host: 'img.example.com' } },
  { path: '/unset', headers: { host: 'example.com', 'x-name': 'MiXed-Case_9' } },
  { path: '/a/b/c/d/?q=%41%20b&x=1', headers: { host: 'sub.example.org' } },
  { path: '/v2/admin/login.html', headers: { host: 'nope' } },
  { path: '/nothing//here//', headers: { host: 'nope' } },
];

async function answers(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const r of REQUESTS) {
    const res = await request(port, { path: r.path, headers: { connection: 'close', ...r.headers } });
    out.push(`${res.status} ${res.headers['x-echo'] ?? '-'} ${res.body.toString()}`);
  }
  return out;
}

test('set-var/var(), converters, map files and use_backend %[...] answer as HAProxy 2.6 does', { skip: HAPROXY ? false : 'haproxy is not installed' }, async () => {
  const hp = await freePort();
  const ha = await startHaproxy(HAPROXY!, cfg(hp), [hp]);
  let expected: string[];
  try {
    expected = await answers(hp);
  } finally {
    await ha.stop();
  }
  const gp = await freePort();
  const gh = await startGatehouse(cfg(gp), [gp], { ext: '.cfg' });
  try {
    const got = await answers(gp);
    for (let i = 0; i < REQUESTS.length; i++) assert.deepEqual(JSON.parse(got[i].slice(got[i].indexOf('{'))), JSON.parse(expected[i].slice(expected[i].indexOf('{'))), `${REQUESTS[i].path}: ${got[i]}\nhaproxy: ${expected[i]}`);
    assert.deepEqual(got, expected);
    // the test means something only if the rules did route and compute
    assert.ok(new Set(expected.map((e) => JSON.parse(e.slice(e.indexOf('{'))).server)).size === 3, expected.join('\n'));
  } finally {
    await gh.stop();
  }
});
