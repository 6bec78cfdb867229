// log-format for mode tcp sessions, with HAProxy's TCP log variables, against HAProxy 2.6 on the
// same haproxy.cfg and the same sessions (an echo, a refused server, a content reject): field by
// field, the values that do not depend on timing or on the client's port must be equal. The
// tcplog format written as a log-format gives the same line shape as `option tcplog`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { loadConfig } from '../src/config/load';
import { compileLogFormat, formatCustom } from '../src/log/custom-format';
import { sleep, startGatehouse, tmpFile } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';
import { echoServer } from './helpers/tcp';

function exchange(port: number, data: string | null): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const s = net.connect(port, '127.0.0.1', () => (data === null ? undefined : s.end(data)));
    s.on('data', (d) => (n += d.length));
    s.on('error', () => undefined);
    s.on('close', () => resolve(n));
  });
}

const VARS = ['ci', 'cp', 'fi', 'fp', 'ft', 'b', 's', 'Tw', 'Tc', 'Tt', 'B', 'U', 'ts', 'ac', 'fc', 'bc', 'sc', 'rc', 'sq', 'bq', 'si', 'sp'];
const FORMAT = 'LF ' + VARS.map((v) => `%${v}`).join('|');
const TCPLOG = 'TL %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq';

const cfg = (p: { fe: number; gone: number; deny: number; tl: number; echo: number; dead: number }) => `global
    nbthread 2
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    log stdout format raw local0
    log-format "${FORMAT}"
frontend fe
    bind 127.0.0.1:${p.fe}
    default_backend be
frontend fe_gone
    bind 127.0.0.1:${p.gone}
    default_backend gone
frontend fe_deny
    bind 127.0.0.1:${p.deny}
    tcp-request inspect-delay 1s
    tcp-request content reject if { req.len gt 0 }
    default_backend be
frontend fe_tl
    bind 127.0.0.1:${p.tl}
    log-format "${TCPLOG}"
    default_backend be
backend be
    server s1 127.0.0.1:${p.echo}
backend gone
    retries 0
    server dead 127.0.0.1:${p.dead}
`;

/** The log-format lines of `out` for frontend `fe`, as variable -> value. */
function lines(out: string, fe: string): Record<string, string>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('LF '))
    .map((l) => {
      const v = l.slice(3).split('|');
      return Object.fromEntries(VARS.map((k, i) => [k, v[i] ?? '<missing>']));
    })
    .filter((r) => r.ft === fe);
}

/** What may differ by nature: the client's port, our ports, times in ms (only -1 or not must agree), the process-wide gauges. */
const VARYING = new Set(['cp', 'fp', 'Tw', 'Tc', 'Tt', 'ac', 'fc']);

test('log-format with the TCP variables: the same fields as HAProxy 2.6 for the same sessions', async (t) => {
  const echo = await echoServer();
  const ports = await distinctPorts(9, [echo.port]);
  const dead = ports[0];
  const gp = { fe: ports[1], gone: ports[2], deny: ports[3], tl: ports[4], echo: echo.port, dead };
  const hp = { fe: ports[5], gone: ports[6], deny: ports[7], tl: ports[8], echo: echo.port, dead };
  const gh = await startGatehouse(cfg(gp), [gp.fe, gp.tl], { ext: '.cfg' });
  const bin = haproxyBinary();
  const ha = bin === null ? null : await startHaproxy(bin, cfg(hp), [hp.fe, hp.tl]);
  t.after(async () => {
    await gh.stop();
    await ha?.stop();
    await echo.close();
  });

  const traffic = async (p: typeof gp, out: () => string): Promise<{ fe: Record<string, string>[]; gone: Record<string, string>[]; deny: Record<string, string>[]; tl: string[] }> => {
    await sleep(300);
    const skip = { fe: lines(out(), 'fe').length, tl: out().split('\n').filter((l) => l.startsWith('TL ')).length };
    assert.equal(await exchange(p.fe, 'hello'), 8);
    assert.equal(await exchange(p.gone, null), 0);
    assert.equal(await exchange(p.deny, 'no'), 0);
    assert.equal(await exchange(p.tl, 'abc'), 6);
    for (let i = 0; i < 50 && out().split('\n').filter((l) => l.startsWith('TL ')).length <= skip.tl; i++) await sleep(100);
    await sleep(200);
    return {
      fe: lines(out(), 'fe').slice(skip.fe),
      gone: lines(out(), 'fe_gone'),
      deny: lines(out(), 'fe_deny'),
      tl: out().split('\n').filter((l) => l.startsWith('TL ')).slice(skip.tl),
    };
  };
  const g = await traffic(gp, () => gh.output());
  assert.equal(g.fe.length, 1, gh.output());
  const e = g.fe[0];
  assert.deepEqual([e.ci, e.fi, e.fp, e.ft, e.b, e.s, e.B, e.U, e.ts, e.si, e.sp], ['127.0.0.1', '127.0.0.1', String(gp.fe), 'fe', 'be', 's1', '8', '5', '--', '127.0.0.1', String(echo.port)]);
  assert.match(e.Tt, /^\d+$/);
  assert.deepEqual([g.gone[0]?.s, g.gone[0]?.ts, g.gone[0]?.Tc, g.gone[0]?.si, g.gone[0]?.sp], ['dead', 'SC', '-1', '127.0.0.1', String(dead)]);
  assert.deepEqual([g.deny[0]?.b, g.deny[0]?.s, g.deny[0]?.ts, g.deny[0]?.U], ['fe_deny', '<NOSRV>', 'PR', '2']);
  assert.equal(g.tl.length, 1);
  assert.match(g.tl[0], /^TL 127\.0\.0\.1:\d+ \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] fe_tl be\/s1 \d+\/\d+\/\d+ 6 -- \d+\/\d+\/\d+\/\d+\/0 0\/0$/);

  if (ha !== null) {
    const h = await traffic(hp, () => ha.output());
    const diffs: string[] = [];
    const compare = (what: string, a: Record<string, string> | undefined, b: Record<string, string> | undefined, fe: number) => {
      if (a === undefined || b === undefined) return diffs.push(`${what}: gatehouse ${JSON.stringify(a)}, haproxy ${JSON.stringify(b)}`);
      for (const k of VARS) {
        if (VARYING.has(k)) {
          // times: both reached the step (a number of ms) or neither (-1)
          if (k.startsWith('T') && (a[k] === '-1') !== (b[k] === '-1')) diffs.push(`${what} %${k}: gatehouse ${a[k]}, haproxy ${b[k]}`);
          continue;
        }
        if (a[k] !== b[k]) diffs.push(`${what} %${k}: gatehouse ${a[k]}, haproxy ${b[k]}`);
      }
      assert.equal(b.fp, String(fe));
    };
    compare('echo', g.fe[0], h.fe[0], hp.fe);
    compare('refused server', g.gone[0], h.gone[0], hp.gone);
    compare('content reject', g.deny[0], h.deny[0], hp.deny);
    assert.deepEqual(diffs, [], ha.output());
    // the tcplog format as a log-format: the same line but for the port, the date and the times
    const norm = (l: string | undefined) => (l ?? '').replace(/:\d+ \[[^\]]+\]/, ':P [DATE]').replace(/ \d+\/\d+\/\d+ (\d+ \S\S) \d+\/\d+\//, ' T/T/T $1 A/F/');
    assert.equal(norm(g.tl[0]), norm(h.tl[0]));
  } else {
    t.diagnostic('haproxy not installed: checked against the expected values only');
  }
});

test('log-format: TCP address variables, %Ts, and HAProxy variables gatehouse lacks are refused', () => {
  const f = compileLogFormat('%fi:%fp %bi:%bp %si:%{+X}sp %Ts %ft');
  const r = {
    clientIp: '10.0.0.1', clientPort: 1234, acceptMs: 1700000000123, frontend: 0, backend: 0, server: 0, tq: 0, tw: 0, tc: 1, tr: -1, ta: 5,
    status: 0, bytesOut: 0, bytesIn: 0, retries: 0, termination: '--', method: '', uri: '', httpVersion: '',
    addrs: { frontendIp: '127.0.0.1', frontendPort: 80, backendIp: '127.0.0.1', backendPort: 40000, serverIp: '10.1.1.1', serverPort: 443 },
  };
  const n = { frontend: 'fe', backend: 'be', server: 's1' };
  const g = { actconn: 0, feconn: 0, beconn: 0, srvConn: 0, srvQueue: 0, backendQueue: 0 };
  assert.equal(formatCustom(f, r, n, g), '127.0.0.1:80 127.0.0.1:40000 10.1.1.1:1BB 1700000000 fe');
  assert.equal(formatCustom(f, { ...r, addrs: undefined }, n, g), '-:- -:- -:- 1700000000 fe');
  for (const v of ['Tu', 'lc', 'rt', 'sslc', 'sslv']) assert.throws(() => compileLogFormat(`%${v}`), new RegExp(`'%${v}' is not supported by gatehouse yet`));
  // on an http frontend the address variables are '-': -c says so
  const m = loadConfig([tmpFile('lfhttp.cfg', 'frontend fe\n  mode http\n  bind 127.0.0.1:1\n  log-format "%ci %fi:%fp"\n  default_backend be\nbackend be\n  server s 127.0.0.1:2\n')]);
  assert.match(m.warnings.map((w) => `${w.line}: ${w.message}`).join('\n'), /4: log-format of http frontend 'fe': %fi %fp %bi %bp %si %sp are logged as '-'/);
});
