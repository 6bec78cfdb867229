// lbtot (stats column 40) counts the balancer's choices, as HAProxy's cum_lbconn: not a
// request that a cookie sends to its server, not a retry on the same server; a redispatch to
// another server is a choice. Checked against HAProxy 2.6 on the same haproxy.cfg and requests.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, request, startBackend, startGatehouse, type Backend } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';

const bin = haproxyBinary();

function cfg(fe: number, st: number, a: number, b: number, closed: number): string {
  return `global
  maxconn 200
defaults
  mode http
  timeout connect 500ms
  timeout client 5s
  timeout server 5s
  retries 2
  option redispatch
frontend fe
  bind 127.0.0.1:${fe}
  use_backend dead if { path_beg /dead }
  default_backend app
backend app
  balance roundrobin
  cookie SRV insert indirect nocache
  server a 127.0.0.1:${a} cookie a
  server b 127.0.0.1:${b} cookie b
backend dead
  balance roundrobin
  server gone 127.0.0.1:${closed}
  server ok 127.0.0.1:${a}
listen stats
  bind 127.0.0.1:${st}
  stats enable
  stats uri /stats
`;
}

/** The same requests, one after another: cookie-less, with a cookie, and to a backend with a refusing server. */
async function drive(fe: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await request(fe, { path: '/' })).status);
  for (let i = 0; i < 3; i++) statuses.push((await request(fe, { path: '/', headers: { cookie: 'SRV=a' } })).status);
  for (let i = 0; i < 4; i++) statuses.push((await request(fe, { path: '/dead' })).status);
  return statuses;
}

async function lbtot(st: number): Promise<Map<string, string>> {
  const csv = (await request(st, { path: '/stats;csv' })).body.toString();
  const lines = csv.trim().split('\n');
  const cols = lines[0].replace(/^# /, '').split(',');
  const at = cols.indexOf('lbtot');
  const m = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    if (f[0] === 'app' || f[0] === 'dead') m.set(`${f[0]}/${f[1]}`, f[at]);
  }
  return m;
}

describe('lbtot against HAProxy 2.6', { skip: bin === null ? 'haproxy is not installed' : false }, () => {
  let a: Backend, b: Backend;
  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  test('cookie, retry on the same server and redispatch: the same lbtot per server and backend', { timeout: 60000 }, async () => {
    const closed = await freePort(); // nothing listens there: connections are refused
    const [gFe, gSt, hFe, hSt] = await distinctPorts(4, [closed, a.port, b.port]);
    const gh = await startGatehouse(cfg(gFe, gSt, a.port, b.port, closed), [gFe, gSt], { ext: '.cfg' });
    let ha: Awaited<ReturnType<typeof startHaproxy>> | null = null;
    try {
      ha = await startHaproxy(bin!, cfg(hFe, hSt, a.port, b.port, closed), [hFe, hSt]);
      const gStatus = await drive(gFe);
      const hStatus = await drive(hFe);
      assert.deepEqual(gStatus, hStatus, 'statuses');
      const g = await lbtot(gSt);
      const h = await lbtot(hSt);
      assert.ok(Number(h.get('app/BACKEND')) > 0 && Number(h.get('dead/BACKEND')) > 0, `HAProxy counted: ${JSON.stringify([...h])}`);
      assert.deepEqual([...g].sort(), [...h].sort());
    } finally {
      await ha?.stop();
      await gh.stop();
    }
  });
});
