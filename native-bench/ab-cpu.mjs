#!/usr/bin/env node
// native-bench per-request CPU (issue 20): CPU µs per request of the proxy process for
// gatehouse on the uWS engine, gatehouse on the node:net engine and HAProxy 2.6, on the same
// haproxy.cfg (nbthread 1, two nginx backends answering 16 B), in one run.
//   node native-bench/ab-cpu.mjs            (or `make bench-cpu`)
// Each measured run is bounded by a request count, not a duration: h2load --h1 -n N -c C
// (HTTP/1.1 keep-alive; ab speaks HTTP/1.0, which uWS.js does not answer). The proxy's CPU is
// utime+stime of its whole process (all worker threads) from /proc/PID/stat around the run, so
// other load on a shared machine changes requests/s much more than it changes this figure.
// Rounds alternate the proxies (uws, node, haproxy, uws, ...) after a warm-up; the table gives
// medians and ratios. CPU_BEFORE=/path/to/other/dist/cli.js adds that build as `uws-before` and
// `node-before` in the same alternation (before/after figures of one change in one run).
//   CPU_REQUESTS (100000), CPU_CONNS (50), CPU_ROUNDS (5), CPU_PROXIES, CPU_MAX_SECONDS (900)
import fs from 'node:fs';
import path from 'node:path';
import {
  setLogTag, log, sleep, median, ensureTools, stopChild, watchdog, runMain, pickPorts, request, waitReady,
  machine, workDir, startBackends, launch, cpuSplit, hostTicks, hostBusyCores, fmt, machineLines, save,
  BODY16, GATEHOUSE_CLI, CLK_TCK, LOAD_CPUS, PROXY_CPUS, haproxyCheck,
} from './bench-lib.mjs';

setLogTag('bench-cpu');
const E = process.env;
const REQUESTS = Number(E.CPU_REQUESTS || 100000);
const CONNS = Number(E.CPU_CONNS || 50);
const ROUNDS = Math.max(1, Number(E.CPU_ROUNDS || 5));
const BEFORE = E.CPU_BEFORE || '';
const MAX_SECONDS = Number(E.CPU_MAX_SECONDS || 900);
const PROXIES = (E.CPU_PROXIES || (BEFORE ? 'uws,uws-before,node,node-before,haproxy' : 'uws,node,haproxy')).split(/[ ,]+/).filter(Boolean);

function cfg(port, b1, b2, engine) {
  return `# native-bench ab-cpu.mjs
global
    nbthread 1
    maxconn ${Math.max(7000, CONNS * 3)}
${engine === 'node' ? '    engine node\n' : ''}defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend bench_in
    bind 127.0.0.1:${port}
    default_backend bench_back
backend bench_back
    balance roundrobin
    server s1 127.0.0.1:${b1}
    server s2 127.0.0.1:${b2}
`;
}

function start(name, file, logFile) {
  if (name === 'haproxy') {
    const err = haproxyCheck(file);
    if (err) throw new Error(`haproxy -c rejects ${file}: ${err}`);
    return launch('haproxy', 'haproxy', ['-db', '-f', file], { logFile, cpus: PROXY_CPUS });
  }
  const cli = name.endsWith('-before') ? BEFORE : GATEHOUSE_CLI;
  const engine = name.startsWith('node') ? 'node' : 'uws';
  const nodeArgs = (E[`CPU_NODE_ARGS_${name.toUpperCase().replace('-', '_')}`] || '').split(' ').filter(Boolean);
  return launch(name, process.execPath, [...nodeArgs, cli, '-f', file], { logFile, cpus: PROXY_CPUS, env: { NODE_ENV: 'production', GATEHOUSE_ENGINE: engine } });
}

/** One h2load run of REQUESTS requests; CPU of `pid` from /proc around it. */
async function run(port, pid, requests) {
  const c0 = cpuSplit([pid]);
  const h0 = hostTicks();
  const t0 = process.hrtime.bigint();
  const w = launch('h2load', 'h2load', ['--h1', '-n', requests, '-c', CONNS, '-t', 1, '-m', 1, `http://127.0.0.1:${port}/`], { cpus: LOAD_CPUS, pipeStdout: true });
  let out = '';
  w.stdout.on('data', (d) => { out += d; });
  const killer = setTimeout(() => { try { w.kill('SIGKILL'); } catch { /* gone */ } }, 120000);
  await w.exited;
  clearTimeout(killer);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = cpuSplit([pid]);
  const user_s = (c1.user - c0.user) / CLK_TCK;
  const sys_s = (c1.sys - c0.sys) / CLK_TCK;
  const cpu_s = user_s + sys_s;
  const m = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const st = /status codes: (\d+) 2xx/.exec(out);
  if (!m) return { error: `h2load printed no summary (${JSON.stringify(w.exitInfo)}): ${out.slice(-300)}` };
  const ok = Number(st ? st[1] : m[3]);
  return { requests: ok, failed: Number(m[4]) + Number(m[5]), seconds: secs, rps: ok / secs, cpu_s, cpu_us_per_req: ok ? cpu_s * 1e6 / ok : null, user_us_per_req: ok ? user_s * 1e6 / ok : null, sys_us_per_req: ok ? sys_s * 1e6 / ok : null, host_busy_cores: hostBusyCores(h0, hostTicks()) };
}

async function main() {
  ensureTools({ nginx: 'nginx', h2load: 'nghttp2-client', ...(PROXIES.includes('haproxy') ? { haproxy: 'haproxy' } : {}) });
  if (BEFORE && !fs.existsSync(BEFORE)) throw new Error(`CPU_BEFORE=${BEFORE} does not exist`);
  watchdog(MAX_SECONDS);
  const t0 = Date.now();
  const tmp = workDir('gatehouse-bench-cpu-');
  const results = { date: new Date().toISOString(), machine: machine(), settings: { requests: REQUESTS, conns: CONNS, rounds: ROUNDS, proxies: PROXIES, before: BEFORE || null }, config: cfg('PORT', 'B1', 'B2', 'uws'), proxies: {} };
  const [B1, B2, ...P] = await pickPorts(2 + PROXIES.length);
  const backends = await startBackends(tmp, [B1, B2]);
  const runs = [];
  try {
    for (const [i, name] of PROXIES.entries()) {
      const port = P[i];
      const file = path.join(tmp, `${name}.cfg`);
      fs.writeFileSync(file, cfg(port, B1, B2, name.startsWith('node') ? 'node' : 'uws'));
      const child = start(name, file, path.join(tmp, `${name}.log`));
      await waitReady(port, child, name);
      const check = await request(port);
      if (check.status !== 200 || check.body.toString() !== BODY16) throw new Error(`${name}: the benchmark request got ${check.status}`);
      runs.push({ name, port, child });
      results.proxies[name] = { rounds: [] };
    }
    for (const r of runs) await run(r.port, r.child.pid, Math.min(20000, REQUESTS));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const r of runs) {
        await sleep(300);
        const res = await run(r.port, r.child.pid, REQUESTS);
        results.proxies[r.name].rounds.push(res);
        log(`round ${round} ${r.name.padEnd(12)} ${res.error || `${res.cpu_us_per_req.toFixed(2)} µs CPU/req, ${Math.round(res.rps)} req/s, failed ${res.failed}, busy cores ${fmt(res.host_busy_cores, 2)}`}`);
      }
    }
  } finally {
    for (const r of runs) await stopChild(r.child);
    await Promise.all(backends.map((b) => stopChild(b.child)));
  }
  const ha = results.proxies.haproxy;
  for (const pr of Object.values(results.proxies)) {
    const ok = pr.rounds.filter((x) => !x.error);
    if (ok.length) pr.summary = { cpu_us_per_req: median(ok.map((x) => x.cpu_us_per_req)), user_us_per_req: median(ok.map((x) => x.user_us_per_req)), sys_us_per_req: median(ok.map((x) => x.sys_us_per_req)), rps: median(ok.map((x) => x.rps)), failed: ok.reduce((a, x) => a + x.failed, 0) };
  }
  // ratios per round (same round = same machine load), then the median
  const ratio = (a, b) => {
    if (!a || !b) return null;
    const xs = a.rounds.map((x, k) => [x, b.rounds[k]]).filter(([x, y]) => x && y && !x.error && !y.error).map(([x, y]) => x.cpu_us_per_req / y.cpu_us_per_req);
    return xs.length ? median(xs) : null;
  };
  results.wall_seconds = (Date.now() - t0) / 1000;
  const L = ['# native-bench per-request CPU (issue 20)', '', `- date: ${results.date}`, ...machineLines(results.machine),
    `- ${ROUNDS} rounds of h2load --h1 -n ${REQUESTS} -c ${CONNS} per proxy, in alternation; nbthread 1; 16 B answers from two nginx${BEFORE ? `; \`-before\` rows: ${BEFORE}` : ''}`, '',
    '| proxy | CPU µs/req (median) | user / sys µs/req (medians) | vs HAProxy | vs uws | req/s (median) | µs/req per round | failed |', '|---|--:|--:|--:|--:|--:|---|--:|'];
  for (const [name, pr] of Object.entries(results.proxies)) {
    pr.vs_haproxy = ratio(pr, ha);
    pr.vs_uws = ratio(pr, results.proxies.uws);
    L.push(`| ${name} | ${fmt(pr.summary?.cpu_us_per_req, 2)} | ${fmt(pr.summary?.user_us_per_req, 1)} / ${fmt(pr.summary?.sys_us_per_req, 1)} | ${fmt(pr.vs_haproxy, 3)} | ${fmt(pr.vs_uws, 3)} | ${fmt(pr.summary?.rps, 0)} | ${pr.rounds.map((x) => x.error ? 'err' : x.cpu_us_per_req.toFixed(1)).join(' ')} | ${pr.summary?.failed ?? '-'} |`);
  }
  if (BEFORE) {
    for (const e of ['uws', 'node']) {
      const x = ratio(results.proxies[e], results.proxies[`${e}-before`]);
      if (x != null) L.push('', `${e} after/before (median of per-round ratios): ${fmt(x, 3)}`);
    }
  }
  L.push('');
  save(`cpu${CONNS === 50 ? '' : `-c${CONNS}`}`, results, L.join('\n'));
}

runMain(main);
