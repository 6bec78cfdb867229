// A frontend with a plain and an ssl bind (the usual "bind :80 / bind :443 ssl crt ..." with a
// redirect to https): gatehouse runs the ssl binds as a twin frontend NAME~ with the same rules,
// so ssl_fc and X-Forwarded-Proto are right on each side. Compared with HAProxy 2.6 on the same
// configuration: same statuses, redirects and what the server receives.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyCfg } from '../src/config/haproxy-cfg';
import { buildModel } from '../src/config/validate';
import { freePort, request, startBackend, startGatehouse, type Backend } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';

let dir = '';
let be: Backend;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-mixed-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  fs.writeFileSync(path.join(dir, 'site.pem'), fs.readFileSync(path.join(dir, 'c.pem'), 'utf8') + fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'));
  be = await startBackend('app', (req, res) => {
    req.resume();
    res.end(`app tls=${req.headers['x-tls']} xfp=${req.headers['x-forwarded-proto'] ?? '-'}`);
  });
});
after(async () => {
  await be?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cfg(plain: number, tls: number): string {
  return `defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend web
  bind 127.0.0.1:${plain}
  bind 127.0.0.1:${tls} ssl crt ${dir}/site.pem
  http-request set-header X-TLS %[ssl_fc]
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  redirect scheme https code 301 if !{ ssl_fc } { path_beg /secure }
  default_backend app
backend app
  server s1 127.0.0.1:${be.port}
`;
}

function tlsGet(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: p, rejectUnauthorized: false, agent: false, headers: { host: 'example.com' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(`${res.statusCode} ${res.headers.location ?? ''} ${body}`));
      })
      .on('error', reject);
  });
}

async function run(plain: number, tls: number): Promise<string[]> {
  const out: string[] = [];
  for (const p of ['/', '/secure/x']) {
    const r = await request(plain, { path: p, headers: { host: 'example.com' } });
    out.push(`plain ${r.status} ${r.headers.location ?? ''} ${r.body.toString()}`);
    out.push(`tls ${await tlsGet(tls, p)}`);
  }
  return out;
}

test('the ssl binds of a mixed frontend run as its twin NAME~ with the same rules', () => {
  const text = cfg(8080, 8443);
  const parsed = parseHaproxyCfg([{ file: 'm.cfg', text }], {});
  const { config, warnings } = buildModel(parsed.doc, parsed.src);
  assert.deepEqual(config.frontends.map((f) => [f.name, f.binds.map((b) => `${b.port}${b.ssl ? ' ssl' : ''}`), f.defaultBackend]), [
    ['web', ['8080'], 'app'],
    ['web~', ['8443 ssl'], 'app'],
  ]);
  assert.equal(config.frontends[1].rules, config.frontends[0].rules);
  assert.ok(warnings.some((w) => /its ssl binds run as frontend "web~"/.test(w.message)));
});

test('a mixed frontend answers as HAProxy 2.6 does on both sides', { skip: haproxyBinary() ? false : 'haproxy is not installed' }, async () => {
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
    assert.match(expected[2], /^plain 301 https:\/\/example\.com\/secure\/x/);
    assert.match(expected[1], /tls=1 xfp=https/);
  } finally {
    await gh.stop();
  }
});
