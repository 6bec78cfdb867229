#!/usr/bin/env node
// native-bench HTTP/2 (issue 16): h2load over h2c (`bind ... proto h2`, prior knowledge) through
// gatehouse and through HAProxy 2.6 on the same haproxy.cfg (nbthread 1), to the same nginx
// backend (HTTP/1.1, `/` answers 16 bytes):
//   node native-bench/h2.mjs          (make bench-h2)
//   H2_TLS=1 node native-bench/h2.mjs (make bench-h2-tls: over TLS, ALPN h2; results/h2-tls.*)
// Each side: H2_ROUNDS rounds of `h2load -D H2_SECONDS -c H2_CONNS -m H2_STREAMS` after a
// warm-up, alternating the proxies; reports requests/s (median) and the proxy's CPU time per
// request (its own process's user+sys ticks over the requests h2load counted, in microseconds).
// Writes results/h2.md and results/h2.json (H2_SAVE=0: print only). Every process started is
// stopped by PID at the end, on error, Ctrl-C, or at H2_MAX_SECONDS. h2load runs on this same
// machine: compare the proxies within one run, not across machines.
import fs from 'node:fs';
import path from 'node:path';
import http2 from 'node:http2';
import { execFileSync } from 'node:child_process';
import {
  setLogTag, log, sleep, median, ensureTools, launch, watchdog, runMain, pickPorts, machine, workDir, machineLines, save,
  startBackends, startProxy, cpuTicks, CLK_TCK,
} from './bench-lib.mjs';

setLogTag('bench-h2');
const E = process.env;
const SECONDS = Number(E.H2_SECONDS || 5);
const WARMUP = Number(E.H2_WARMUP || 1);
const ROUNDS = Math.max(1, Number(E.H2_ROUNDS || 3));
const CONNS = Number(E.H2_CONNS || 10);
const STREAMS = Number(E.H2_STREAMS || 10);
const MAX_SECONDS = Number(E.H2_MAX_SECONDS || 300);
if (E.H2_SAVE === '0') E.BENCH_SAVE = '0'; // save() reads BENCH_SAVE
// H2_TLS=1: HTTP/2 over TLS, ALPN h2 (`bind ... ssl crt FILE alpn h2,http/1.1`) instead of h2c
const TLS = E.H2_TLS === '1';

function cfg({ port, backend, pem }) {
  return `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe_h2
  bind 127.0.0.1:${port} ${pem ? `ssl crt ${pem} alpn h2,http/1.1` : 'proto h2'}
  default_backend be_app
backend be_app
  server s1 127.0.0.1:${backend}
`;
}

/** Until `port` answers an h2c GET / with 200 (the proxy is up and reaches the backend). */
async function waitH2(port, child, what, ms = 15000) {
  const until = Date.now() + ms;
  let last = '';
  while (Date.now() < until) {
    if (child.exitInfo) throw new Error(`${what} exited (${JSON.stringify(child.exitInfo)})`);
    const status = await new Promise((resolve) => {
      const c = http2.connect(`${TLS ? 'https' : 'http'}://127.0.0.1:${port}`, { rejectUnauthorized: false });
      const done = (v) => { c.destroy(); resolve(v); };
      c.on('error', (e) => done(e.message));
      const r = c.request({ ':path': '/' });
      r.on('response', (h) => done(h[':status']));
      r.on('error', (e) => done(e.message));
      r.setTimeout(2000, () => done('timeout'));
    });
    if (status === 200) return;
    last = String(status);
    await sleep(200);
  }
  throw new Error(`${what} not answering 200 over ${TLS ? 'h2 (TLS)' : 'h2c'} on 127.0.0.1:${port} (${last})`);
}

/** One h2load run: requests/s, requests done, failures (h2load's own summary lines). */
function h2load(port, seconds) {
  const args = ['-D', String(seconds), '-c', String(CONNS), '-m', String(STREAMS), '-t', '1', `${TLS ? 'https' : 'http'}://127.0.0.1:${port}/`];
  const out = execFileSync('h2load', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000, maxBuffer: 16 * 1024 * 1024 });
  const rps = /finished in [^,]+, ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (!rps || !req) throw new Error(`h2load output not understood:\n${out}`);
  return { perSec: Number(rps[1]), done: Number(req[3]), succeeded: Number(req[4]), failed: Number(req[5]) + Number(req[6]) + Number(req[7]) };
}

async function main() {
  watchdog(MAX_SECONDS);
  ensureTools({ haproxy: 'haproxy', nginx: 'nginx', h2load: 'h2load' });
  const tmp = workDir('gatehouse-bench-h2-');
  const [bp, hp, gp] = await pickPorts(3);
  await startBackends(tmp, [bp]);
  let pem = null;
  if (TLS) {
    // a throw-away P-256 certificate (HAProxy's combined PEM), the same file for both proxies
    pem = path.join(tmp, 'site.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', pem + '.key', '-out', pem], { stdio: 'ignore' });
    fs.appendFileSync(pem, fs.readFileSync(pem + '.key'));
  }
  const proxies = [];
  for (const [name, port] of [['gatehouse', gp], ['haproxy', hp]]) {
    const file = path.join(tmp, `${name}.cfg`);
    fs.writeFileSync(file, cfg({ port, backend: bp, pem }));
    const p = startProxy(name, file, path.join(tmp, `${name}.log`));
    await waitH2(port, p.child, name);
    proxies.push({ name, port, child: p.child, note: p.note });
  }
  for (const p of proxies) h2load(p.port, WARMUP);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of proxies) {
      const t0 = cpuTicks([p.child.pid]);
      const x = h2load(p.port, SECONDS);
      const t1 = cpuTicks([p.child.pid]);
      const cpuUsPerReq = x.done > 0 ? ((t1 - t0) / CLK_TCK) * 1e6 / x.done : null;
      rounds.push({ round: r, proxy: p.name, ...x, cpuUsPerReq });
      log(`round ${r + 1} ${p.name}: ${x.perSec.toFixed(0)} req/s, ${cpuUsPerReq?.toFixed(1)} us CPU/request, ${x.failed} failed`);
      await sleep(300);
    }
  }
  const rows = proxies.map((p) => {
    const mine = rounds.filter((x) => x.proxy === p.name);
    return {
      proxy: p.name,
      perSec: median(mine.map((x) => x.perSec)),
      cpuUsPerReq: median(mine.map((x) => x.cpuUsPerReq)),
      failed: mine.reduce((n, x) => n + x.failed, 0),
      note: p.note,
    };
  });
  const m = machine();
  const md = [
    TLS
      ? '# native-bench HTTP/2 over TLS (ALPN h2, `bind ... ssl crt FILE alpn h2,http/1.1`, P-256 certificate, nbthread 1, one nginx backend over HTTP/1.1)'
      : '# native-bench HTTP/2 (h2c prior knowledge, `bind ... proto h2`, nbthread 1, one nginx backend over HTTP/1.1)',
    '',
    ...machineLines(m),
    `- h2load -c ${CONNS} -m ${STREAMS} -t 1, ${ROUNDS} rounds of ${SECONDS}s per proxy (medians), after ${WARMUP}s of warm-up`,
    '',
    '| proxy | requests/s | CPU µs / request | failed |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.proxy} | ${r.perSec.toFixed(0)} | ${r.cpuUsPerReq == null ? '-' : r.cpuUsPerReq.toFixed(1)} | ${r.failed} |`),
    '',
  ].join('\n');
  save(TLS ? 'h2-tls' : 'h2', { machine: m, rounds, rows, cfg: cfg({ port: 0, backend: 0, pem: TLS ? 'site.pem' : null }) }, md);
}

runMain(main);
