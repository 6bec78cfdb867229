#!/usr/bin/env node
// native-bench TLS re-encryption (issue 16 item 3): gatehouse vs HAProxy on the same haproxy.cfg,
// plain HTTP clients, TLS to the server (`server ... ssl ca-file CA`, verified), 1 worker /
// nbthread 1, one nginx TLS backend (16 B answer).
//   node native-bench/tls-upstream.mjs   (or `make bench-tls-upstream`)
// Measures, alternating gatehouse and HAProxy round by round after a warm-up:
//   pooled     keep-alive requests/s, server connections kept (TLS set up once, then reused)
//   reconnect  the backend closes after every answer (nginx keepalive_timeout 0): one new TLS
//              connection to the server per request, resumed with the session of the last one
// Writes results/tls-upstream.md and .json. Everything runs on 127.0.0.1; every process started
// is stopped by PID at the end, on error, Ctrl-C, or at TLSUP_MAX_SECONDS.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  setLogTag, log, sleep, seconds, median, ensureTools, launch, stopChild, watchdog, runMain, pickPorts, request, waitReady,
  machine, workDir, startProxy, runWrk, fmt, kfmt, machineLines, save, BODY16, LOAD_CPUS, firstLine,
} from './bench-lib.mjs';

setLogTag('bench-tls-upstream');
const E = process.env;
const DURATION = E.TLSUP_DURATION || '10s';
const WARMUP = E.TLSUP_WARMUP || '3s';
const ROUNDS = Math.max(1, Number(E.TLSUP_ROUNDS || 3));
const CONNS = Number(E.TLSUP_CONNS || 50);
const MAX_SECONDS = Number(E.TLSUP_MAX_SECONDS || 400);
const PROXIES = ['gatehouse', 'haproxy'];
const NAME = { gatehouse: 'gatehouse', haproxy: 'HAProxy' };
const MODES = { pooled: '/', reconnect: '/r' };
const MODE_TITLE = {
  pooled: `keep-alive requests/s, pooled TLS server connections (wrk -t1 -c${CONNS})`,
  reconnect: `a new (resumed) TLS server connection per request (wrk -t1 -c${CONNS})`,
};

function pki(dir) {
  const o = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench CA');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=backend.test');
  fs.writeFileSync(path.join(dir, 'srv.ext'), 'subjectAltName=DNS:backend.test,IP:127.0.0.1\n');
  o('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'srv.ext');
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'srv.pem'), key: path.join(dir, 'srv.key') };
}

/** nginx with TLS on two ports: `keep` keeps connections alive, `close` closes after each answer. */
async function startTlsBackend(dir, keep, close, p) {
  const conf = path.join(dir, 'nginx.conf');
  const server = (port, ka) => `  server {
    listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_certificate ${p.cert};
    ssl_certificate_key ${p.key};
    ssl_session_cache shared:S${port}:10m;
    ssl_session_tickets on;
    keepalive_timeout ${ka};
    keepalive_requests 100000000;
    location / { default_type text/plain; return 200 "${BODY16.replace('\n', '\\n')}"; }
  }`;
  fs.writeFileSync(conf, `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/cb; proxy_temp_path ${dir}/px; fastcgi_temp_path ${dir}/fc; uwsgi_temp_path ${dir}/uw; scgi_temp_path ${dir}/sc;
${server(keep, '120s')}
${server(close, '0')}
}
`);
  const child = launch('nginx-tls', 'nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { logFile: path.join(dir, 'stderr.log'), cpus: LOAD_CPUS });
  await waitReady(keep, child, 'nginx TLS backend', { tls: true });
  return child;
}

function cfg(port, keep, close, ca) {
  return `# native-bench tls-upstream.mjs: gatehouse and HAProxy read this same file; only the bind port differs.
global
    nbthread 1
    maxconn 7000

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend bench_plain
    bind 127.0.0.1:${port}
    use_backend reconnect if { path_beg /r }
    default_backend pooled

backend pooled
    server s1 127.0.0.1:${keep} ssl verify required ca-file ${ca} sni str(backend.test)

backend reconnect
    server s1 127.0.0.1:${close} ssl verify required ca-file ${ca} sni str(backend.test)
`;
}

async function main() {
  ensureTools({ haproxy: 'haproxy', nginx: 'nginx', wrk: 'wrk', openssl: 'openssl' });
  watchdog(MAX_SECONDS);
  const t0 = Date.now();
  const tmp = workDir('gatehouse-bench-tls-upstream-');
  const results = { date: new Date().toISOString(), machine: machine({ openssl: firstLine('openssl', ['version']) }),
    settings: { duration: DURATION, warmup: WARMUP, rounds: ROUNDS, conns: CONNS }, modes: {}, proxies: {} };
  const [KEEP, CLOSE, ...P] = await pickPorts(2 + PROXIES.length);
  const p = pki(tmp);
  const backend = await startTlsBackend(tmp, KEEP, CLOSE, p);
  const procs = [];
  try {
    for (const [i, name] of PROXIES.entries()) {
      const file = path.join(tmp, `${name}.cfg`);
      fs.writeFileSync(file, cfg(P[i], KEEP, CLOSE, p.ca));
      const s = startProxy(name, file, path.join(tmp, `${name}.log`));
      const pr = { name, port: P[i], ...s };
      await waitReady(pr.port, pr.child, name);
      for (const u of Object.values(MODES)) {
        const r = await request(pr.port, { path: u });
        if (r.status !== 200 || r.body.toString() !== BODY16) throw new Error(`${name} GET ${u}: status ${r.status}`);
      }
      pr.pids = [pr.child.pid];
      results.proxies[name] = { note: s.note };
      procs.push(pr);
      log(`${name} up on ${pr.port}`);
    }
    results.cfg = cfg('PORT', KEEP, CLOSE, 'CA');
    for (const [mode, u] of Object.entries(MODES)) {
      const m = (results.modes[mode] = { title: MODE_TITLE[mode], proxies: {} });
      log(`== ${mode}: ${MODE_TITLE[mode]}; warm-up ${WARMUP} each`);
      for (const pr of procs) await runWrk(`http://127.0.0.1:${pr.port}${u}`, { conns: CONNS, duration: WARMUP, pids: pr.pids });
      for (let r = 1; r <= ROUNDS; r++) {
        for (const pr of procs) {
          await sleep(1000);
          const res = await runWrk(`http://127.0.0.1:${pr.port}${u}`, { conns: CONNS, duration: DURATION, pids: pr.pids });
          (m.proxies[pr.name] ||= { rounds: [] }).rounds.push(res);
          log(`${mode} round ${r} ${pr.name.padEnd(9)} ${res.error || `${Math.round(res.rps)}/s cpu ${res.cpu_us_per_req.toFixed(0)} µs/req errors ${res.errors} p99 ${res.p99_ms.toFixed(2)} ms`}`);
        }
      }
      for (const pm of Object.values(m.proxies)) {
        const ok = pm.rounds.filter((x) => !x.error);
        if (!ok.length) continue;
        const med = (k) => median(ok.map((x) => x[k]));
        pm.summary = { rps: med('rps'), p50_ms: med('p50_ms'), p99_ms: med('p99_ms'), cpu_us_per_req: med('cpu_us_per_req'), errors: ok.reduce((a, x) => a + x.errors, 0), rounds_rps: ok.map((x) => Math.round(x.rps)) };
      }
    }
  } finally {
    for (const pr of procs) await stopChild(pr.child);
    await stopChild(backend);
  }
  results.wall_seconds = (Date.now() - t0) / 1000;
  save('tls-upstream', results, render(results));
}

function render(R) {
  const L = ['# native-bench TLS re-encryption: gatehouse vs HAProxy, plain clients, TLS to the server', ''];
  L.push(`- date: ${R.date}`, ...machineLines(R.machine));
  L.push(`- settings: ${R.settings.rounds} rounds of ${R.settings.duration} per proxy in alternation after a ${R.settings.warmup} warm-up; medians; 1 worker / nbthread 1; one nginx TLS backend (RSA-2048, session cache and tickets), 16 B answer; \`server ... ssl verify required ca-file CA sni str(backend.test)\`; wall time ${Math.round(R.wall_seconds)} s`);
  for (const [n, p] of Object.entries(R.proxies)) if (p.note) L.push(`- ${NAME[n]}: ${p.note}`);
  L.push('', '| measurement | proxy | requests/s | vs HAProxy | p50 ms | p99 ms | CPU µs/req | CPU/req vs HAProxy | errors | per round |', '|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const md of Object.values(R.modes)) {
    const base = md.proxies.haproxy?.summary;
    for (const [n, pm] of Object.entries(md.proxies)) {
      const S = pm.summary;
      if (!S) { L.push(`| ${md.title} | ${NAME[n]} | - | | | | | | | ${pm.rounds.map((x) => x.error).join('; ').replace(/\|/g, '/')} |`); continue; }
      L.push(`| ${md.title} | ${NAME[n]} | ${kfmt(S.rps)} | ${n === 'haproxy' ? '1.00' : base ? fmt(S.rps / base.rps) : '-'} | ${fmt(S.p50_ms)} | ${fmt(S.p99_ms)} | ${fmt(S.cpu_us_per_req, 1)} | ${n === 'haproxy' ? '1.00' : base ? fmt(S.cpu_us_per_req / base.cpu_us_per_req) : '-'} | ${S.errors} | ${S.rounds_rps.map(kfmt).join(' / ')} |`);
    }
  }
  L.push('', 'CPU = utime+stime of the proxy process (all threads) during a run, per request. The machine is shared: compare the two proxies within a round, not with other runs.');
  return L.join('\n') + '\n';
}

runMain(main);
