// `http-request set-src EXPR` (corpus file 35 uses `set-src hdr(x-forwarded-for)`) side by side
// with HAProxy 2.6 on the same haproxy.cfg: the new source reaches `src` in later rules and
// ACLs, X-Forwarded-For (option forwardfor) and the log's %ci; a value that is not an IP address
// leaves the source as it was; hdr() gives the last of comma-separated values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, request, startBackend, startGatehouse } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';

const cfg = (port: number, srv: number) => `global
  nbthread 1
  log stdout format raw local0
defaults
  mode http
  log global
  log-format "ci=%ci st=%ST"
  option forwardfor
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  http-request set-src hdr(x-forwarded-for)
  http-request set-header X-Src %[src]
  http-request deny deny_status 403 if { src 10.0.0.0/8 }
  default_backend be
backend be
  server s 127.0.0.1:${srv}
`;

const CASES = ['1.2.3.4', 'junk', '1.2.3.4, 5.6.7.8', '10.1.1.1', '2001:db8::7', null];

async function observe(start: (port: number, srv: number) => Promise<{ stop(): Promise<unknown>; output(): string }>) {
  const srv = await startBackend('s', (req, res) => {
    req.resume();
    res.end(JSON.stringify({ xff: req.headers['x-forwarded-for'], src: req.headers['x-src'] }));
  });
  const port = await freePort();
  const p = await start(port, srv.port);
  try {
    const out: string[] = [];
    for (const xff of CASES) {
      const r = await request(port, { headers: xff === null ? {} : { 'x-forwarded-for': xff } });
      out.push(`${r.status} ${r.status === 200 ? r.body.toString() : ''}`);
    }
    // the log lines come in order, one per request
    for (let i = 0; i < 50 && (p.output().match(/^ci=/gm) ?? []).length < CASES.length; i++) await new Promise((r) => setTimeout(r, 100));
    // the last lines: HAProxy also logs the start-up probe's empty connection (a 400)
    out.push(...(p.output().match(/^ci=\S+ st=\d+/gm) ?? []).slice(-CASES.length));
    return out;
  } finally {
    await p.stop();
    await srv.close();
  }
}

const bin = haproxyBinary();

test('http-request set-src behaves as HAProxy 2.6 (src, ACLs, X-Forwarded-For, %ci)', { skip: bin === null ? 'haproxy not installed' : false }, async () => {
  const h = await observe((port, srv) => startHaproxy(bin!, cfg(port, srv), [port]));
  const g = await observe((port, srv) => startGatehouse(cfg(port, srv), [port], { ext: '.cfg' }));
  // what HAProxy did, spelled out: the first four are the rule's effects, the rest the log
  assert.equal(h[0], '200 {"xff":"1.2.3.4, 1.2.3.4","src":"1.2.3.4"}');
  assert.equal(h[1], '200 {"xff":"junk, 127.0.0.1","src":"127.0.0.1"}');
  assert.equal(h[3].slice(0, 3), '403');
  assert.deepEqual(g, h);
});
