// Stats rows of mode tcp proxies, compared with HAProxy 2.6 on the same haproxy.cfg and the same
// traffic: a fixed echo exchange through a frontend/backend pair and a listen, a connection to a
// dead server (econ), a connection refused by `tcp-request connection reject` (dcon). The CSV of
// `show stat` on both runtime APIs must agree on sessions, bytes, errors and the HTTP-only
// columns left empty; the stats page's CSV, JSON, HTML and Prometheus carry the same figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { request, sleep, startGatehouse } from './helpers/net';
import { runtimeCommand as cli } from './helpers/runtime-api';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { echoServer } from './helpers/tcp';

/** Connect, send `data` (nothing when null), half-close, read until the proxy closes: bytes received. */
function exchange(port: number, data: string | null): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const s = net.connect(port, '127.0.0.1', () => (data === null ? undefined : s.end(data)));
    s.on('data', (d) => (n += d.length));
    s.on('error', () => undefined);
    s.on('close', () => resolve(n));
  });
}

const cfg = (p: { fe: number; li: number; gone: number; deny: number; stats: number; echo: number; dead: number; sock: string }) => `global
    nbthread 2
    stats socket ${p.sock} level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:${p.fe}
    default_backend be
frontend fe_gone
    bind 127.0.0.1:${p.gone}
    default_backend gone
frontend fe_deny
    bind 127.0.0.1:${p.deny}
    tcp-request connection reject if { src 127.0.0.1 }
    default_backend be
backend be
    server s1 127.0.0.1:${p.echo}
backend gone
    retries 0
    server dead 127.0.0.1:${p.dead}
listen li
    bind 127.0.0.1:${p.li}
    server s1 127.0.0.1:${p.echo}
listen stats
    mode http
    bind 127.0.0.1:${p.stats}
    stats enable
    stats uri /stats
    http-request use-service prometheus-exporter if { path /metrics }
`;

/** CSV text -> rows by "pxname/svname", each a map column -> value. */
function parseCsv(text: string): Map<string, Map<string, string>> {
  const lines = text.trim().split('\n');
  const head = lines[0].replace(/^# /, '').split(',');
  const out = new Map<string, Map<string, string>>();
  for (const l of lines.slice(1)) {
    const v = l.split(',');
    out.set(`${v[0]}/${v[1]}`, new Map(head.map((h, i) => [h, v[i] ?? ''])));
  }
  return out;
}

/** The columns that depend on the traffic only (not on timing or on features outside mode tcp). */
const COMPARED = [
  'scur', 'stot', 'bin', 'bout', 'dreq', 'dresp', 'ereq', 'econ', 'eresp', 'wretr', 'wredis', 'lbtot',
  'hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other', 'req_tot', 'conn_tot', 'dcon',
  'cli_abrt', 'srv_abrt', 'mode', 'type', 'status', 'intercepted', 'cache_lookups', 'cache_hits',
];
const CUMULATIVE = ['stot', 'bin', 'bout', 'dreq', 'dresp', 'ereq', 'econ', 'eresp', 'wretr', 'wredis', 'lbtot', 'req_tot', 'conn_tot', 'dcon', 'cli_abrt', 'srv_abrt'];
const ROWS = ['fe/FRONTEND', 'fe_gone/FRONTEND', 'fe_deny/FRONTEND', 'be/s1', 'be/BACKEND', 'gone/dead', 'gone/BACKEND', 'li/FRONTEND', 'li/s1', 'li/BACKEND'];

test('mode tcp stats rows: the same sessions, bytes and errors as HAProxy 2.6 in show stat, and on the stats page', async (t) => {
  const echo = await echoServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-tcpstats-'));
  const ports = await distinctPorts(11, [echo.port]);
  const [dead] = ports;
  const gp = { fe: ports[1], li: ports[2], gone: ports[3], deny: ports[4], stats: ports[5], echo: echo.port, dead, sock: path.join(dir, 'gh.sock') };
  const hp = { fe: ports[6], li: ports[7], gone: ports[8], deny: ports[9], stats: ports[10], echo: echo.port, dead, sock: path.join(dir, 'ha.sock') };
  // (startGatehouse/startHaproxy probe only the ports given: not fe_deny's, whose counters are compared)
  const gh = await startGatehouse(cfg(gp), [gp.fe, gp.li, gp.stats], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, cfg(hp), [hp.fe, hp.li, hp.stats]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await echo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The exchanges, and show stat's rows with cumulative cells as what they grew by (the start-up probes are not counted). */
  const traffic = async (p: typeof gp): Promise<{ got: number[]; rows: Map<string, Map<string, string>> }> => {
    await sleep(300); // the start-up probes' sessions have ended
    const before = parseCsv(await cli(p.sock, 'show stat'));
    const got: number[] = [];
    for (let i = 0; i < 3; i++) got.push(await exchange(p.fe, 'hello' + i));
    for (let i = 0; i < 2; i++) got.push(await exchange(p.li, 'x'.repeat(1000)));
    got.push(await exchange(p.gone, null));
    got.push(await exchange(p.deny, 'no'));
    await sleep(300);
    const rows = parseCsv(await cli(p.sock, 'show stat'));
    for (const [k, row] of rows) {
      for (const col of CUMULATIVE) {
        const a = row.get(col);
        const b = before.get(k)?.get(col);
        if (a !== undefined && a !== '' && b !== undefined && b !== '') row.set(col, String(Number(a) - Number(b)));
      }
    }
    return { got, rows };
  };
  const run = await traffic(gp);
  const got = run.got;
  assert.deepEqual(got, [9, 9, 9, 1003, 1003, 0, 0]);
  const g = run.rows;
  const cell = (row: string, col: string) => g.get(row)?.get(col);
  // what the traffic makes, whatever HAProxy says
  assert.equal(cell('fe/FRONTEND', 'stot'), '3');
  assert.equal(cell('fe/FRONTEND', 'bin'), '18');
  assert.equal(cell('fe/FRONTEND', 'bout'), '27');
  assert.equal(cell('fe/FRONTEND', 'req_tot'), '0');
  assert.equal(cell('fe/FRONTEND', 'conn_tot'), '3');
  assert.equal(cell('fe/FRONTEND', 'mode'), 'tcp');
  assert.equal(cell('fe/FRONTEND', 'hrsp_2xx'), '');
  assert.equal(cell('li/BACKEND', 'bin'), '2000');
  assert.equal(cell('li/BACKEND', 'bout'), '2006');
  assert.equal(cell('gone/dead', 'econ'), '1');
  assert.equal(cell('fe_deny/FRONTEND', 'dcon'), '1');
  assert.equal(cell('fe_deny/FRONTEND', 'stot'), '0');
  assert.equal(cell('fe_deny/FRONTEND', 'conn_tot'), '1');

  if (ha !== null) {
    const hr = await traffic(hp);
    assert.deepEqual(hr.got, got);
    const h = hr.rows;
    const diffs: string[] = [];
    for (const row of ROWS) {
      for (const col of COMPARED) {
        const a = g.get(row)?.get(col);
        const b = h.get(row)?.get(col);
        if (a !== b) diffs.push(`${row} ${col}: gatehouse ${String(a)}, haproxy ${String(b)}`);
      }
    }
    assert.deepEqual(diffs, [], 'show stat columns that differ');
    t.diagnostic(`haproxy compared: fe bin ${String(h.get('fe/FRONTEND')?.get('bin'))}, dcon ${String(h.get('fe_deny/FRONTEND')?.get('dcon'))}, gone econ ${String(h.get('gone/dead')?.get('econ'))}`);
  } else {
    t.diagnostic('haproxy not installed: checked against the expected figures only');
  }

  // the stats page: its CSV is show stat's; JSON, HTML and Prometheus carry the same figures
  const csv = parseCsv((await request(gp.stats, { path: '/stats;csv' })).body.toString());
  const now = parseCsv(await cli(gp.sock, 'show stat'));
  for (const row of ROWS) for (const col of COMPARED) assert.equal(csv.get(row)?.get(col), now.get(row)?.get(col), `${row} ${col} on the stats page`);
  const json = JSON.parse((await request(gp.stats, { path: '/stats;json' })).body.toString()) as { stats: Record<string, unknown>[] };
  const feJson = json.stats.find((r) => r.pxname === 'fe' && r.svname === 'FRONTEND')!;
  assert.equal(feJson.bin, 18);
  assert.equal(feJson.mode, 'tcp');
  assert.equal(feJson.hrsp_2xx, undefined, 'HTTP columns are left out for a tcp proxy');
  const html = (await request(gp.stats, { path: '/stats' })).body.toString();
  assert.match(html, /<td class="bin" data-v="2000">/);
  const prom = (await request(gp.stats, { path: '/metrics' })).body.toString();
  assert.match(prom, /^haproxy_frontend_bytes_in_total\{proxy="fe"\} 18$/m);
  assert.match(prom, /^haproxy_backend_connection_errors_total\{proxy="gone"\} 1$/m);
  assert.match(prom, /^haproxy_frontend_denied_connections_total\{proxy="fe_deny"\} 1$/m);
  assert.doesNotMatch(prom, /http_responses_total\{proxy="fe"/);
  if (ha !== null) {
    // HAProxy's own exporter on the same traffic, where it has the same metric
    const hprom = (await request(hp.stats, { path: '/metrics' })).body.toString();
    for (const re of [/^haproxy_frontend_bytes_in_total\{proxy="fe"\} (\d+)$/m, /^haproxy_backend_connection_errors_total\{proxy="gone"\} (\d+)$/m]) {
      const hm = re.exec(hprom);
      if (hm !== null) assert.equal(re.exec(prom)?.[1], hm[1], String(re));
    }
  }
});
