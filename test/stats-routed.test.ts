// The stats page where HAProxy users put it: in a frontend that also proxies (default_backend)
// and in a backend reached by use_backend. The workers serve those binds and send only requests
// whose path starts with the stats uri to the primary's internal stats listener (src/stats/routed.ts);
// everything else is proxied. The same cfg runs under HAProxy 2.6 and must give the same statuses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, request, startBackend, startGatehouse, type Backend, type Proc, type Reply } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';
import { cfgModel, yamlModel } from './helpers/config';
import { ConfigError } from '../src/config/errors';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makePki } from './helpers/test-pki';

const AUTH = 'Basic ' + Buffer.from('admin:admin').toString('base64');
const KEY_HEADER = 'x-gatehouse-stats-key';

/** n distinct free ports (freePort may hand out one twice). */
async function ports(n: number): Promise<number[]> {
  const out = new Set<number>();
  for (let tries = 0; out.size < n && tries < 50; tries++) out.add(await freePort());
  assert.equal(out.size, n);
  return [...out];
}

function cfgText(port: number, app: number, other: number, opts: { admin?: boolean } = {}): string {
  return `global
  maxconn 200
  nbthread 2
  log stdout format raw local0

defaults
  mode http
  log global
  option httplog
  timeout connect 2s
  timeout client 10s
  timeout server 10s

frontend main
  bind 127.0.0.1:${port}
  stats enable
  stats uri /haproxy?stats
  stats auth admin:admin
${opts.admin ? '  stats admin if TRUE\n' : ''}  # http-request rules come before the stats uri, redirect rules after it
  http-request deny if { url_beg /haproxy?stats;denied }
  redirect location /moved if { url_beg /haproxy?stats;redir } || { path /old }
  use_backend stats_be if { path_beg /admin }
  default_backend app

backend app
  server a1 127.0.0.1:${app}

backend stats_be
  stats enable
  stats uri /admin/stats
  server s1 127.0.0.1:${other}
`;
}

interface Ask {
  method?: string;
  path: string;
  auth?: boolean;
  headers?: Record<string, string>;
}

/** The same requests for both proxies; what each answers is compared, not hard-coded. */
const ASKS: Ask[] = [
  { path: '/' },
  { path: '/haproxy' }, // not the stats uri: proxied
  { path: '/haproxy?stats' }, // 401
  { path: '/haproxy?stats', auth: true },
  { path: '/haproxy?stats;csv', auth: true },
  { path: '/haproxy?statsX', auth: true }, // a prefix match, as HAProxy
  { path: '/haproxy?stats', headers: { [KEY_HEADER]: 'guess' } }, // still 401
  { path: '/haproxy?stats', auth: true, headers: { [KEY_HEADER]: 'guess' } },
  { method: 'PUT', path: '/haproxy?stats', auth: true }, // not intercepted: proxied to app
  { method: 'HEAD', path: '/haproxy?stats', auth: true },
  { path: '/haproxy?stats;denied', auth: true }, // 403: http-request deny first
  { path: '/haproxy?stats;redir', auth: true }, // 200: the stats uri before redirect rules
  { path: '/old' }, // 302: the redirect rule itself works
  { path: '/admin/stats' }, // the backend's page (no auth of its own)
  { path: '/admin/stats;csv' },
  { path: '/admin/statsfoo' },
  { path: '/admin/other' }, // routed to stats_be, not its stats uri: its server
  { path: '/app/x' },
];

async function ask(port: number, a: Ask): Promise<Reply> {
  const headers: Record<string, string> = { ...(a.headers ?? {}) };
  if (a.auth) headers.authorization = AUTH;
  return request(port, { method: a.method ?? 'GET', path: a.path, headers });
}

async function statuses(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const a of ASKS) out.push(`${a.method ?? 'GET'} ${a.path}${a.auth ? ' (auth)' : ''}${a.headers ? ' (key)' : ''}: ${(await ask(port, a)).status}`);
  return out;
}

function csvRows(body: string): string[][] {
  return body
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(','));
}

function column(body: string, name: string): number {
  return body.split('\n')[0].replace(/^# /, '').split(',').indexOf(name);
}

async function waitFor(what: () => boolean, ms: number, label: string, out: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}:\n${out()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function internalPort(output: string, name: string): number[] {
  const re = new RegExp(`${name} at 127\\.0\\.0\\.1:(\\d+)`, 'g'); // '<', '>' and ':' are plain in a RegExp
  return [...output.matchAll(re)].map((m) => Number(m[1]));
}

describe('stats page in a proxying frontend and in a backend', () => {
  let app: Backend;
  let other: Backend;
  let gh: (Proc & { configPath: string }) | null = null;
  let port = 0;

  before(async () => {
    app = await startBackend('app');
    other = await startBackend('other');
    [port] = await ports(1);
    gh = await startGatehouse(cfgText(port, app.port, other.port, { admin: true }), [port], { ext: '.cfg' });
  });

  after(async () => {
    await gh?.stop();
    await app.close();
    await other.close();
  });

  test('other paths are proxied, the stats uri is the page (auth, csv), the backend page by use_backend', async () => {
    const root = await ask(port, { path: '/' });
    assert.equal(root.status, 200);
    assert.equal(root.body.toString(), 'app');
    assert.equal((await ask(port, { path: '/haproxy' })).body.toString(), 'app');
    // HAProxy intercepts GET, HEAD and POST only: a PUT to the stats uri is proxied
    assert.equal((await ask(port, { method: 'PUT', path: '/haproxy?stats', auth: true })).body.toString(), 'app');
    const no = await ask(port, { path: '/haproxy?stats' });
    assert.equal(no.status, 401);
    assert.match(String(no.headers['www-authenticate']), /^Basic realm=/);
    const page = await ask(port, { path: '/haproxy?stats', auth: true });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body.toString(), /<html/i);
    const csv = (await ask(port, { path: '/haproxy?stats;csv', auth: true })).body.toString();
    const rows = csvRows(csv);
    assert.ok(rows.some((r) => r[0] === 'app' && r[1] === 'a1'), csv);
    assert.ok(rows.some((r) => r[0] === 'app' && r[1] === 'BACKEND'), csv);
    assert.ok(rows.some((r) => r[0] === 'stats_be' && r[1] === 's1'), csv);
    // the hidden backend that reaches the primary is no row
    assert.ok(!csv.includes('<STATS>'), csv);
    const be = await ask(port, { path: '/admin/stats;csv' });
    assert.equal(be.status, 200);
    assert.ok(csvRows(be.body.toString()).some((r) => r[0] === 'main' && r[1] === 'FRONTEND'));
    const json = await ask(port, { path: '/haproxy?stats;json', auth: true });
    assert.equal(json.status, 200);
    assert.ok(!json.body.toString().includes('<STATS>'));
    const proxied = await ask(port, { path: '/admin/other' });
    assert.equal(proxied.status, 200);
    assert.equal(proxied.body.toString(), 'other');
  });

  test('a client-sent key header is not honoured; the internal listener refuses requests without the key', async () => {
    // through the frontend: the client's copy is dropped and the worker's key used
    assert.equal((await ask(port, { path: '/haproxy?stats', headers: { [KEY_HEADER]: 'guess' } })).status, 401);
    assert.equal((await ask(port, { path: '/haproxy?stats', auth: true, headers: { [KEY_HEADER]: 'guess' } })).status, 200);
    // straight to the internal listener (its port is in the start-up notice)
    const [internal] = internalPort(gh!.output(), '<STATS>:main');
    assert.ok(internal > 0, gh!.output());
    const bare = await request(internal, { path: '/haproxy?stats', headers: { authorization: AUTH } });
    assert.equal(bare.status, 403);
    const guessed = await request(internal, { path: '/haproxy?stats', headers: { authorization: AUTH, [KEY_HEADER]: 'a'.repeat(64) } });
    assert.equal(guessed.status, 403);
  });

  test('counted on the frontend as intercepted, logged as <STATS>, admin POSTs work through the workers', async () => {
    const csv0 = (await ask(port, { path: '/haproxy?stats;csv', auth: true })).body.toString();
    const ic = column(csv0, 'intercepted');
    const fe0 = Number(csvRows(csv0).find((r) => r[0] === 'main' && r[1] === 'FRONTEND')![ic]);
    assert.ok(fe0 >= 2, String(fe0));
    for (let i = 0; i < 3; i++) assert.equal((await ask(port, { path: '/haproxy?stats;norefresh', auth: true })).status, 200);
    const csv1 = (await ask(port, { path: '/haproxy?stats;csv', auth: true })).body.toString();
    const fe1 = Number(csvRows(csv1).find((r) => r[0] === 'main' && r[1] === 'FRONTEND')![ic]);
    // three pages and this CSV request itself (counted when it started)
    assert.equal(fe1 - fe0, 4);
    // (each worker writes its own lines, in batches)
    await waitFor(() => /main <STATS>:main\/<STATS> \S+ 200 /.test(gh!.output()), 5000, 'an access line for the frontend stats page', gh!.output);
    await waitFor(() => /main <STATS>:stats_be\/<STATS> \S+ 200 /.test(gh!.output()), 5000, 'an access line for the backend stats page', gh!.output);
    // admin: put a1 in maintenance through the routed page, then back
    const post = (action: string) =>
      request(port, {
        method: 'POST',
        path: '/haproxy?stats',
        headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
        body: `b=app&s=a1&action=${action}`,
      });
    const maint = await post('maint');
    assert.equal(maint.status, 303);
    assert.equal(maint.headers.location, '/haproxy?stats;st=DONE');
    assert.equal((await ask(port, { path: '/' })).status, 503);
    const ready = await post('ready');
    assert.equal(ready.status, 303);
    assert.equal((await ask(port, { path: '/' })).status, 200);
  });

  test('a reload (SIGHUP) moves the internal listener with the generation', async () => {
    const firstPort = internalPort(gh!.output(), '<STATS>:main')[0];
    gh!.child.kill('SIGHUP');
    await waitFor(() => gh!.output().includes('configuration reloaded'), 20000, 'the reload', gh!.output);
    const all = [...new Set(internalPort(gh!.output(), '<STATS>:main'))]; // (events go to stdout and stderr)
    assert.equal(all.length, 2, gh!.output());
    assert.notEqual(all[1], firstPort);
    assert.equal((await ask(port, { path: '/haproxy?stats', auth: true })).status, 200);
    assert.equal((await ask(port, { path: '/admin/stats;csv' })).status, 200);
    assert.equal((await ask(port, { path: '/' })).body.toString(), 'app');
  });
});

test('a proxying frontend serves its stats page on ssl and proto h2 binds too (curl)', async () => {
  const pki = makePki();
  const pem = path.join(pki.dir, 'server-combined.pem');
  fs.writeFileSync(pem, fs.readFileSync(pki.serverCert, 'latin1') + fs.readFileSync(pki.serverKey, 'latin1'));
  const app = await startBackend('app');
  const [tp, hp] = await ports(2);
  const text = `global
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe_tls
  bind 127.0.0.1:${tp} ssl crt ${pem}
  stats uri /st
  stats auth admin:admin
  default_backend app
frontend fe_h2
  bind 127.0.0.1:${hp} proto h2
  stats uri /st
  default_backend app
backend app
  server a1 127.0.0.1:${app.port}
`;
  let gh: Proc | null = null;
  try {
    gh = await startGatehouse(text, [tp, hp], { ext: '.cfg' });
    // asynchronous: the app backend runs in this process
    const run = async (...a: string[]) => (await promisify(execFile)('curl', ['-s', '--max-time', '10', ...a], { encoding: 'utf8' })).stdout;
    const curl = (...a: string[]) => run('-o', '/dev/null', '-w', '%{http_code}', ...a);
    assert.equal(await curl('-k', `https://127.0.0.1:${tp}/`), '200');
    assert.equal(await curl('-k', `https://127.0.0.1:${tp}/st`), '401');
    assert.equal(await curl('-k', '-u', 'admin:admin', `https://127.0.0.1:${tp}/st;csv`), '200');
    assert.equal(await curl('--http2-prior-knowledge', `http://127.0.0.1:${hp}/`), '200');
    assert.equal(await curl('--http2-prior-knowledge', `http://127.0.0.1:${hp}/st`), '200');
    const csv = await run('--http2-prior-knowledge', `http://127.0.0.1:${hp}/st;csv`);
    assert.ok(csvRows(csv).some((r) => r[0] === 'app' && r[1] === 'a1'), csv);
  } finally {
    await gh?.stop();
    await app.close();
    fs.rmSync(pki.dir, { recursive: true, force: true });
  }
});

test('the same cfg under HAProxy 2.6 gives the same statuses', { skip: haproxyBinary() === null ? 'no haproxy binary' : false }, async () => {
  const app = await startBackend('app');
  const other = await startBackend('other');
  const [gp, hp] = await ports(2);
  let gh: Proc | null = null;
  let hx: Proc | null = null;
  try {
    gh = await startGatehouse(cfgText(gp, app.port, other.port), [gp], { ext: '.cfg' });
    hx = await startHaproxy(haproxyBinary()!, cfgText(hp, app.port, other.port), [hp]);
    const ours = await statuses(gp);
    const theirs = await statuses(hp);
    assert.deepEqual(ours, theirs);
    // the counters those requests left (the CSV request itself included): HAProxy counts a
    // frontend's stats requests as intercepted, and a backend's on that backend
    const cells = async (port: number) => {
      const csv = (await ask(port, { path: '/haproxy?stats;csv', auth: true })).body.toString();
      const row = (px: string, sv: string) => csvRows(csv).find((r) => r[0] === px && r[1] === sv)!;
      const at = (r: string[], name: string) => `${r[0]}/${r[1]} ${name}=${r[column(csv, name)]}`;
      const fe = row('main', 'FRONTEND');
      return [at(fe, 'intercepted'), at(fe, 'dreq'), at(fe, 'hrsp_2xx'), at(row('app', 'BACKEND'), 'stot'), at(row('stats_be', 'BACKEND'), 'stot'), at(row('stats_be', 's1'), 'stot')];
    };
    assert.deepEqual(await cells(gp), await cells(hp));
    // and they are what this feature is about
    assert.ok(theirs.includes('GET /haproxy?stats: 401'), theirs.join('\n'));
    assert.ok(theirs.includes('GET /admin/stats: 200'), theirs.join('\n'));
    assert.ok(theirs.includes('GET /haproxy?stats;denied (auth): 403'), theirs.join('\n'));
    assert.ok(theirs.includes('GET /haproxy?stats;redir (auth): 200'), theirs.join('\n'));
  } finally {
    await gh?.stop();
    await hx?.stop();
    await app.close();
    await other.close();
  }
});

describe('configuration', () => {
  test('haproxy.cfg: a proxying frontend routes its stats, a stats-only listen serves them itself, a backend has its own', () => {
    const c = cfgModel(cfgText(8080, 9000, 9001));
    const main = c.frontends.find((f) => f.name === 'main')!;
    assert.equal(main.statsRouted, true);
    assert.equal(c.backends.find((b) => b.name === 'stats_be')!.stats?.uri, '/admin/stats');
    const only = cfgModel('defaults\n  mode http\nlisten st\n  bind :8404\n  stats enable\n  stats uri /\n');
    assert.equal(only.frontends[0].statsRouted, undefined);
  });

  test('YAML: stats on a backend', () => {
    const c = yamlModel(`frontends:
  web:
    bind: "127.0.0.1:8080"
    default_backend: app
backends:
  app:
    stats: { enable: true, uri: /st, auth: ["a:b"] }
    servers:
      - { name: a1, address: "127.0.0.1:9000" }
`);
    assert.equal(c.backends[0].stats?.uri, '/st');
    assert.deepEqual(c.backends[0].stats?.auth, [{ user: 'a', password: 'b' }]);
  });

  test('a mode tcp backend cannot have a stats page', () => {
    assert.throws(
      () => cfgModel('backend b\n  mode tcp\n  stats enable\n  server s 127.0.0.1:9000\nfrontend f\n  mode tcp\n  bind :9999\n  default_backend b\n'),
      (e: unknown) => e instanceof ConfigError && /stats page needs mode http: backend "b" is mode tcp/.test(e.message),
    );
  });
});
