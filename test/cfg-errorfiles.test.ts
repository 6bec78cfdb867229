// Custom error pages: errorfile, errorloc/errorloc303, http-errors sections and errorfiles, read
// into the model, looked up by ErrorPageTable (backend first, then frontend), and sent by deny
// rules exactly as HAProxy 2.6 sends them, and return ... file / errorfile payloads (compared
// with a real haproxy on the same files).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyCfg } from '../src/config/haproxy-cfg';
import { buildModel } from '../src/config/validate';
import { ErrorPageTable } from '../src/rules/error-table';
import { freePort, request, startGatehouse } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-errorfiles-'));
  fs.writeFileSync(path.join(dir, '403.http'), 'HTTP/1.0 403 Forbidden\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nX-Custom: yes\r\n\r\n<h1>custom 403</h1>\n');
  fs.writeFileSync(path.join(dir, '503.http'), 'HTTP/1.0 503 Service Unavailable\nContent-Type: text/plain\n\nbe down\n');
  fs.writeFileSync(path.join(dir, 'api-404.http'), 'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{"error":"not found"}');
  fs.writeFileSync(path.join(dir, 'bad.http'), 'not an http response\n');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function cfg(port: number, port2: number): string {
  return `http-errors api
  errorfile 404 ${dir}/api-404.http
  errorfile 503 ${dir}/503.http

defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
  errorfile 403 ${dir}/403.http

frontend fe
  bind 127.0.0.1:${port}
  errorfiles api 404
  http-request return status 200 content-type text/plain file ${dir}/api-404.http if { path /file }
  http-request return errorfile ${dir}/403.http if { path /ef }
  http-request deny if { path /forbidden }
  http-request deny deny_status 404 if { path /missing }
  http-request deny deny_status 503 if { path /busy }
  default_backend be

frontend fe2
  bind 127.0.0.1:${port2}
  errorloc303 403 https://example.com/denied
  http-request deny
  default_backend be

backend be
  errorfiles api
  server s 127.0.0.1:1
`;
}

test('errorfile / errorloc / errorfiles land in the model, backend pages before frontend pages', () => {
  const text = cfg(1000, 1001);
  const parsed = parseHaproxyCfg([{ file: 'e.cfg', text }], {});
  const { config } = buildModel(parsed.doc, parsed.src);
  const fe = config.frontends.find((f) => f.name === 'fe')!;
  assert.deepEqual(Object.keys(fe.errorPages!).sort(), ['403', '404']);
  assert.equal(fe.errorPages!['403'].body, '<h1>custom 403</h1>\n');
  assert.deepEqual(fe.errorPages!['403'].headers, ['cache-control', 'no-cache', 'content-type', 'text/html', 'x-custom', 'yes']);
  const fe2 = config.frontends.find((f) => f.name === 'fe2')!;
  assert.deepEqual(fe2.errorPages!['403'], { status: 303, reason: 'See Other', headers: ['cache-control', 'no-cache', 'location', 'https://example.com/denied'], body: '' });
  const table = new ErrorPageTable(config);
  const be = config.backends.findIndex((b) => b.name === 'be');
  assert.equal(table.errorPage(0, be, 503)?.body, 'be down\n', "the backend's 503");
  assert.equal(table.errorPage(0, -1, 503), null, 'no page for 503 on the frontend');
  assert.equal(table.errorPage(0, be, 403)?.body, '<h1>custom 403</h1>\n', 'from the defaults, inherited by the backend');
  assert.equal(table.errorPage(0, -1, 502), null);
});

test('a bad errorfile, an unknown http-errors section and a status without pages are errors at their line', () => {
  const text = `defaults
  mode http
  errorfile 503 ${dir}/bad.http
  errorfile 302 ${dir}/503.http
  errorfile 404 ${dir}/nope.http
frontend fe
  bind :80
  errorfiles nowhere
  default_backend be
backend be
  server s 127.0.0.1:1
`;
  const f = path.join(dir, 'bad.cfg');
  fs.writeFileSync(f, text);
  assert.throws(
    () => {
      const parsed = parseHaproxyCfg([{ file: f, text }], {});
      buildModel(parsed.doc, parsed.src);
    },
    (e: Error) => /bad\.cfg:8:14: error: http-errors section 'nowhere' not found/.test(e.message),
  );
});

test('deny answers with the errorfile / errorloc pages as HAProxy 2.6 does', { skip: haproxyBinary() ? false : 'haproxy is not installed' }, async () => {
  const run = async (port: number, port2: number): Promise<string[]> => {
    const out: string[] = [];
    // /down reaches backend be, whose only server refuses: its 503 is the backend's errorfile
    for (const [p, u] of [[port, '/forbidden'], [port, '/missing'], [port, '/busy'], [port2, '/x'], [port, '/file'], [port, '/ef'], [port, '/down']] as const) {
      const r = await request(p, { path: u });
      out.push(`${r.status} ${r.statusMessage} ct=${r.headers['content-type'] ?? ''} loc=${r.headers.location ?? ''} x=${r.headers['x-custom'] ?? ''} ${r.body.toString()}`);
    }
    return out;
  };
  const [a, b] = [await freePort(), await freePort()];
  const ha = await startHaproxy(haproxyBinary()!, cfg(a, b), [a, b]);
  let expected: string[];
  try {
    expected = await run(a, b);
  } finally {
    await ha.stop();
  }
  const [c, d] = [await freePort(), await freePort()];
  const gh = await startGatehouse(cfg(c, d), [c, d], { ext: '.cfg' });
  try {
    assert.deepEqual(await run(c, d), expected);
    assert.match(expected[0], /^403 Forbidden ct=text\/html .*x=yes <h1>custom 403<\/h1>/);
    assert.match(expected[6], /^503 Service Unavailable ct=text\/plain .* be down/);
  } finally {
    await gh.stop();
  }
});
