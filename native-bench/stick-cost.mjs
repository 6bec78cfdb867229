#!/usr/bin/env node
// native-bench stick-table cost (issue 18): what `http-request track-sc0 src` plus a rate ACL
// cost per request, gatehouse against HAProxy 2.6 on the same haproxy.cfg.
//   node native-bench/stick-cost.mjs       (or `make bench-stick`)
//   A  frontend -> default_backend
//   B  the same plus a stick table (type ip, http_req_rate(10s)), track-sc0 src and a
//      `deny deny_status 429 if { sc_http_req_rate(0) gt N }` whose limit the benchmark never
//      reaches, so every request tracks, reads the rate and is forwarded.
// Rounds alternate A B (gatehouse), A B (HAProxy) after a warm-up; the report gives B/A for
// requests/s and CPU per request (median of rounds). Writes results/stick.md and stick.json.
import fs from 'node:fs';
import path from 'node:path';
import {
  setLogTag, log, sleep, median, ensureTools, stopChild, watchdog, runMain, pickPorts, request, waitReady,
  machine, workDir, startBackends, startProxy, runWrk, fmt, machineLines, save, BODY16, seconds,
} from './bench-lib.mjs';

setLogTag('bench-stick');
const E = process.env;
const DURATION = E.STICK_DURATION || '8s';
const WARMUP = E.STICK_WARMUP || '3s';
const ROUNDS = Math.max(1, Number(E.STICK_ROUNDS || 5));
const CONNS = Number(E.STICK_CONNS || 50);
const PROXIES = (E.STICK_PROXIES || 'gatehouse,haproxy').split(/[ ,]+/).filter(Boolean);
const MAX_SECONDS = Number(E.STICK_MAX_SECONDS || 600);

const STICK_RULES = `    stick-table type ip size 100k expire 30s store http_req_rate(10s)
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100000000 }
`;

function cfg(port, b1, b2, withStick) {
  return `# native-bench stick-cost.mjs, config ${withStick ? 'B: track-sc0 src + a rate ACL' : 'A: default_backend only'}.
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
frontend bench_in
    bind 127.0.0.1:${port}
${withStick ? STICK_RULES : ''}    default_backend bench_back
backend bench_back
    balance roundrobin
    server s1 127.0.0.1:${b1}
    server s2 127.0.0.1:${b2}
`;
}

async function main() {
  ensureTools({ nginx: 'nginx', wrk: 'wrk', ...(PROXIES.includes('haproxy') ? { haproxy: 'haproxy' } : {}) });
  watchdog(MAX_SECONDS);
  const t0 = Date.now();
  const tmp = workDir('gatehouse-bench-stick-');
  const results = { date: new Date().toISOString(), machine: machine(), settings: { duration: DURATION, warmup: WARMUP, rounds: ROUNDS, conns: CONNS, proxies: PROXIES }, configs: { A: cfg('PORT', 'B1', 'B2', false), B: cfg('PORT', 'B1', 'B2', true) }, proxies: {} };
  const [B1, B2, ...P] = await pickPorts(2 + PROXIES.length * 2);
  const backends = await startBackends(tmp, [B1, B2]);
  const runs = [];
  try {
    let i = 0;
    for (const name of PROXIES) {
      results.proxies[name] = { A: { rounds: [] }, B: { rounds: [] } };
      for (const variant of ['A', 'B']) {
        const port = P[i++];
        const file = path.join(tmp, `${name}-${variant}.cfg`);
        fs.writeFileSync(file, cfg(port, B1, B2, variant === 'B'));
        const r = { proxy: name, variant, port };
        Object.assign(r, startProxy(name, file, path.join(tmp, `${name}-${variant}.log`)));
        await waitReady(port, r.child, `${name} ${variant}`);
        const check = await request(port, { path: '/' });
        if (check.status !== 200 || check.body.toString() !== BODY16) throw new Error(`${name} ${variant}: the benchmark request got ${check.status}`);
        r.pids = [r.child.pid];
        runs.push(r);
      }
    }
    const bench = (r, dur) => runWrk(`http://127.0.0.1:${r.port}/`, { conns: CONNS, duration: dur, pids: dur === WARMUP ? [] : r.pids });
    for (const r of runs) await bench(r, WARMUP);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const r of runs) {
        await sleep(500);
        const res = await bench(r, DURATION);
        results.proxies[r.proxy][r.variant].rounds.push(res);
        log(`round ${round} ${r.proxy.padEnd(9)} ${r.variant} ${res.error || `${Math.round(res.rps)} req/s, ${res.cpu_us_per_req.toFixed(1)} µs CPU/req, p99 ${res.p99_ms.toFixed(2)} ms, errors ${res.errors}`}`);
      }
    }
    for (const pr of Object.values(results.proxies)) {
      const pairs = pr.A.rounds.map((a, k) => [a, pr.B.rounds[k]]).filter(([a, b]) => a && b && !a.error && !b.error);
      for (const v of ['A', 'B']) {
        const ok = pr[v].rounds.filter((x) => !x.error);
        if (ok.length) pr[v].summary = { rps: median(ok.map((x) => x.rps)), cpu_us_per_req: median(ok.map((x) => x.cpu_us_per_req)), p99_ms: median(ok.map((x) => x.p99_ms)) };
      }
      pr.ratio = { rps: median(pairs.map(([a, b]) => b.rps / a.rps)), cpu: median(pairs.map(([a, b]) => b.cpu_us_per_req / a.cpu_us_per_req)) };
      if (pr.A.summary && pr.B.summary) pr.ratio.cpu_us_added_per_req = pr.B.summary.cpu_us_per_req - pr.A.summary.cpu_us_per_req;
    }
  } finally {
    for (const r of runs) await stopChild(r.child);
    await Promise.all(backends.map((b) => stopChild(b.child)));
  }
  results.wall_seconds = (Date.now() - t0) / 1000;
  const L = ['# native-bench stick-table cost: track-sc0 src + a rate ACL vs none', '', `- date: ${results.date}`, ...machineLines(results.machine),
    `- ${ROUNDS} rounds of ${DURATION} (wrk -t1 -c${CONNS}) after ${WARMUP} of warm-up; nbthread 1; 16 B answers from two nginx`, '',
    '| proxy | A req/s | B req/s | B/A req/s | A µs CPU/req | B µs CPU/req | added µs/req | B/A CPU |', '|---|---|---|---|---|---|---|---|'];
  for (const [name, pr] of Object.entries(results.proxies)) {
    L.push(`| ${name} | ${fmt(pr.A.summary?.rps, 0)} | ${fmt(pr.B.summary?.rps, 0)} | ${fmt(pr.ratio.rps, 3)} | ${fmt(pr.A.summary?.cpu_us_per_req, 1)} | ${fmt(pr.B.summary?.cpu_us_per_req, 1)} | ${fmt(pr.ratio.cpu_us_added_per_req, 2)} | ${fmt(pr.ratio.cpu, 3)} |`);
  }
  L.push('', 'Configs:', '', '```', results.configs.B, '```', '');
  save('stick', results, L.join('\n'));
}

runMain(main);
void seconds;
