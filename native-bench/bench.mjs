#!/usr/bin/env node
// native-bench orchestrator: gatehouse (uWS and node engines) vs HAProxy vs nginx on the same two nginx backends.
// Entry point is native-bench/run.sh (installs the tools, raises ulimit -n, cleans up on exit).
// Usage: node native-bench/bench.mjs [scenario...]   (a b c c64k c1m d e f g h p i | all)
// Everything listens on 127.0.0.1, in ports picked free from 18000-18999; every process started
// here is tracked by PID (also written to $BENCH_PIDFILE for run.sh's trap) and stopped at the end.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import crypto from 'node:crypto';

import { CLK_TCK, GATEHOUSE_CLI, HAPROXY_ONLY, HERE, LOAD_CPUS, LUA, PROXY_CPUS, RESULTS, ROOT, cpuSplit, errorGist, fill, firstLine, median, nofileLimit, seconds, sleep, statFields, tmpl, which } from './util.mjs';

const E = process.env;

// ---------------------------------------------------------------- settings
const DURATION = E.BENCH_DURATION || '5s';
const WARMUP = E.BENCH_WARMUP || '2s';
const ROUNDS = Math.max(1, Number(E.BENCH_ROUNDS || 3));
const PAUSE_MS = Number(E.BENCH_PAUSE_MS || 1000);
const IDLE_CONNS_WANTED = Number(E.BENCH_IDLE_CONNS || 10000);
const DOWNLOAD_MB = Number(E.BENCH_DOWNLOAD_MB || 1024);
const MAX_SECONDS = Number(E.BENCH_MAX_SECONDS || 1800);
const PROXIES = (E.BENCH_PROXIES || 'gatehouse,gatehouse-node,haproxy,nginx').split(',').map((s) => s.trim()).filter(Boolean);
const SAVE = E.BENCH_SAVE !== '0'; // BENCH_README=1 also copies the tables into README.md
const KEEP_TMP = E.BENCH_KEEP_TMP === '1';

const wrkScenario = (o) => ({ kind: 'wrk', method: 'GET', body: 0, close: false, timeout: '5s', ...o });
const SCENARIOS = {
  a: wrkScenario({ title: '16 B GET, keep-alive, wrk -t1 -c50; 1 worker vs nbthread 1', workers: 1, path: '/', threads: 1, conns: 50 }),
  b: wrkScenario({ title: '16 B GET, keep-alive, wrk -t2 -c50; 2 workers vs nbthread 2', workers: 2, path: '/', threads: 2, conns: 50 }),
  c64k: wrkScenario({ title: '64 KB GET, keep-alive, wrk -t1 -c50; 1 worker', workers: 1, path: '/64k', threads: 1, conns: 50 }),
  c1m: wrkScenario({ title: '1 MB GET, keep-alive, wrk -t1 -c50; 1 worker', workers: 1, path: '/1m', threads: 1, conns: 50 }),
  d: wrkScenario({ title: '16 KB POST echoed, keep-alive, wrk -t1 -c50; 1 worker', workers: 1, path: '/echo', method: 'POST', body: 16384, threads: 1, conns: 50 }),
  e: wrkScenario({ title: '16 B GET, Connection: close on every request, wrk -t1 -c50; 1 worker', workers: 1, path: '/', close: true, threads: 1, conns: 50 }),
  f: wrkScenario({ title: '16 B GET, 5,000 keep-alive clients, wrk -t2 -c5000; 1 worker', workers: 1, path: '/', threads: 2, conns: 5000, timeout: '10s' }),
  // pipelining and HTTP/1.0 are what the node engine adds (issue 14): uWS.js cannot serve them,
  // so a probe before the runs marks it "cannot" in the table instead of measuring failures
  p: wrkScenario({ title: '16 B GET, keep-alive, 8 requests pipelined per write, wrk -t1 -c50 + pipeline script; 1 worker', workers: 1, path: '/', threads: 1, conns: 50, pipeline: 8 }),
  i: { kind: 'ab', title: '16 B GET over HTTP/1.0 with keep-alive, ab -k -c50; 1 worker', workers: 1, path: '/', conns: 50, method: 'GET', http10: true },
  g: { kind: 'idle', title: 'idle keep-alive connections (one GET each): resident memory per connection; 1 worker', workers: 1, path: '/' },
  h: { kind: 'download', title: 'one large download through the proxy: peak RSS (VmHWM); 1 worker', workers: 1, path: '/1g' },
};
// HAProxy tuning lines of haproxy.cfg.tmpl that have no gatehouse meaning; the second fallback
// for gatehouse is the same file without them
const ALIASES = { c: ['c64k', 'c1m'], all: Object.keys(SCENARIOS) };
// the two gatehouse variants: the same file, the second with `engine node` in global
const GATEHOUSES = { gatehouse: 'uws', 'gatehouse-node': 'node' };

function selectedScenarios() {
  const words = process.argv.slice(2).length ? process.argv.slice(2) : (E.BENCH_SCENARIOS || 'a,b').split(/[ ,]+/);
  const out = [];
  for (const w of words.filter(Boolean)) {
    const ids = ALIASES[w] || (SCENARIOS[w] ? [w] : null);
    if (!ids) throw new Error(`unknown scenario "${w}"; known: ${Object.keys(SCENARIOS).join(' ')} c all`);
    for (const id of ids) if (!out.includes(id)) out.push(id);
  }
  return out;
}

// ---------------------------------------------------------------- small utilities
const log = (...a) => console.error('[bench]', ...a);
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
const overBudget = () => elapsed() > MAX_SECONDS;

// ---------------------------------------------------------------- process tracking
const children = new Map(); // pid -> { name, child }
const PIDFILE = E.BENCH_PIDFILE || null;
function writePidfile() {
  if (!PIDFILE) return;
  const lines = [];
  for (const [pid] of children) {
    try { lines.push(`${pid} ${statFields(pid)[19]}`); } catch { /* already gone */ }
  }
  fs.writeFileSync(PIDFILE, lines.join('\n') + (lines.length ? '\n' : ''));
}
function launch(name, cmd, args, { logFile, cpus = '', env = {}, stdin = 'ignore', pipeStdout = false } = {}) {
  if (cpus) { args = ['-c', cpus, cmd, ...args]; cmd = 'taskset'; }
  const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const child = spawn(cmd, args.map(String), {
    stdio: [stdin, pipeStdout ? 'pipe' : out, out],
    env: { ...E, ...env },
  });
  if (logFile) fs.closeSync(out);
  child.exitInfo = null;
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    child.exitInfo = { code, signal };
    children.delete(child.pid);
    writePidfile();
    resolve(child.exitInfo);
  }));
  child.on('error', (e) => { child.spawnError = e; });
  if (child.pid) { children.set(child.pid, { name, child }); writePidfile(); }
  return child;
}
async function stopChild(child, graceMs = 5000) {
  if (!child || child.exitInfo || !child.pid) return;
  try { child.kill('SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
  await child.exited;
  clearTimeout(t);
}
function killAllSync() {
  for (const [, { child }] of children) { try { child.kill('SIGKILL'); } catch { /* gone */ } }
}
process.on('exit', killAllSync);
let aborting = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (aborting) return;
    aborting = true;
    log(`${sig}: stopping everything`);
    Promise.all([...children.values()].map(({ child }) => stopChild(child, 2000)))
      .finally(() => process.exit(130));
  });
}

// /proc readings; nginx has worker processes under the master we started
function pidTree(pid) {
  const out = [pid];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { if (Number(statFields(d)[1]) === pid) out.push(Number(d)); } catch { /* raced */ }
  }
  return out;
}
function memKB(pids, key) {
  let t = 0;
  for (const p of pids) {
    try {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) t += Number(m[1]);
    } catch { /* gone */ }
  }
  return t;
}

// ---------------------------------------------------------------- network helpers
function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
async function pickPorts(n) {
  const lo = Number(E.BENCH_PORT_MIN || 18000), hi = Number(E.BENCH_PORT_MAX || 18999);
  const start = lo + crypto.randomInt(hi - lo + 1);
  const got = [];
  for (let i = 0; i <= hi - lo && got.length < n; i++) {
    const p = lo + ((start - lo + i) % (hi - lo + 1));
    if (await portFree(p)) got.push(p);
  }
  if (got.length < n) throw new Error(`only ${got.length} free ports in ${lo}-${hi}`);
  return got;
}
function request(port, { method = 'GET', path: p = '/', body = null, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false,
      headers: body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body || undefined);
  });
}
async function waitReady(port, child, what, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (child.exitInfo || child.spawnError) {
      throw new Error(`${what} exited (${child.spawnError ? child.spawnError.message : JSON.stringify(child.exitInfo)})`);
    }
    try {
      const r = await request(port, { timeoutMs: 2000 });
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (e) { last = e.message; }
    await sleep(150);
  }
  throw new Error(`${what} not answering 200 on 127.0.0.1:${port} after ${timeoutMs} ms (${last})`);
}
// What each scenario fetches must come back intact through the proxy before it is measured.
async function validate(port, sc) {
  if (sc.path === '/echo') {
    const body = crypto.randomBytes(sc.body || 16384);
    const r = await request(port, { method: 'POST', path: '/echo', body });
    if (r.status !== 200 || !r.body.equals(body)) throw new Error(`POST /echo: status ${r.status}, ${r.body.length} bytes back, echo ${r.body.equals(body) ? 'ok' : 'WRONG'}`);
    return;
  }
  if (sc.path === '/1g') {
    const r = await request(port, { method: 'HEAD', path: '/1g' });
    if (r.status !== 200 || Number(r.headers['content-length']) !== DOWNLOAD_MB * 1048576) throw new Error(`HEAD /1g: status ${r.status}, length ${r.headers['content-length']}`);
    return;
  }
  const want = { '/': 16, '/64k': 65536, '/1m': 1048576 }[sc.path];
  const r = await request(port, { path: sc.path, timeoutMs: 10000 });
  if (r.status !== 200 || r.body.length !== want) throw new Error(`GET ${sc.path}: status ${r.status}, ${r.body.length} bytes (want ${want})`);
  if (sc.path === '/' && r.body.toString() !== '0123456789abcde\n') throw new Error('GET /: wrong body');
}
// One raw connection: `payload` written at once; null when `want` complete 16 B answers came
// back within timeoutMs, else what happened instead.
function rawExchange(port, payload, want, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let done = false;
    const count = () => (buf.match(/0123456789abcde\n/g) || []).length;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      const n = count();
      resolve(n >= want ? null : `${n} of ${want} answers, then ${why}${buf ? ` (first bytes: ${JSON.stringify(buf.slice(0, 40))})` : ''}`);
    };
    const t = setTimeout(() => finish(`nothing more for ${timeoutMs / 1000} s`), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d) => { buf += d; if (count() >= want) finish('done'); });
    sock.on('close', () => finish('the proxy closed the connection'));
    sock.on('error', (e) => finish(e.code || e.message));
  });
}
const probePipelining = (port) => rawExchange(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(2), 2)
  .then((why) => why && `pipelining: two GETs in one write got ${why}`);
const probeHttp10 = (port) => rawExchange(port, 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n', 1)
  .then((why) => why && `HTTP/1.0: a GET got ${why}`);

async function backendStatus(port) {
  const r = await request(port, { path: '/_status' });
  const m = /\n\s*(\d+)\s+(\d+)\s+(\d+)/.exec(r.body.toString());
  return m ? { accepts: Number(m[1]), requests: Number(m[3]) } : { accepts: NaN, requests: NaN };
}

// ---------------------------------------------------------------- environment
function machine() {
  const cpu = (/^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) || [])[1] || os.cpus()[0]?.model || '?';
  return {
    nproc: Number(firstLine('nproc', [])) || os.cpus().length,
    cpu: cpu.trim(),
    mem_gb: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    kernel: os.release(),
    loadavg_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    haproxy: firstLine('haproxy', ['-v']),
    nginx: firstLine('nginx', ['-v']).replace(/^nginx version:\s*/, ''),
    wrk: firstLine('wrk', ['-v']),
    nofile: nofileLimit(),
    clk_tck: CLK_TCK,
  };
}

// ---------------------------------------------------------------- the bench
async function main() {
  const ids = selectedScenarios();
  for (const t of ['haproxy', 'nginx', 'wrk']) if (!which(t)) throw new Error(`${t} not found (run native-bench/run.sh, which installs it)`);
  const mach = machine();
  // run.sh makes the work dir (and removes it on exit); standalone runs make their own
  const tmp = E.BENCH_WORKDIR ? fs.mkdtempSync(path.join(E.BENCH_WORKDIR, 'run-')) : fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
  log(`work dir ${tmp}; scenarios ${ids.join(' ')}; ${ROUNDS} rounds of ${DURATION} after a ${WARMUP} warm-up`);
  const NOFILE = mach.nofile;
  const idleConns = Math.min(IDLE_CONNS_WANTED, NOFILE - 1000);
  const MAXCONN = Math.max(idleConns + 2000, 7000);
  const userLine = process.getuid && process.getuid() === 0 ? `user ${os.userInfo().username};` : '# running as the current (unprivileged) user';
  const workerConnections = Math.max(1024, Math.min(NOFILE - 500, 30000));
  const results = { date: new Date().toISOString(), machine: mach, settings: {
    duration: DURATION, warmup: WARMUP, rounds: ROUNDS, idle_conns: idleConns, download_mb: DOWNLOAD_MB,
    proxy_cpus: PROXY_CPUS || null, load_cpus: LOAD_CPUS || null, proxies: PROXIES,
  }, gatehouse: { mode: null, note: null }, 'gatehouse-node': { mode: null, note: null }, scenarios: [] };

  // content
  const www = path.join(tmp, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, '64k'), crypto.randomBytes(65536));
  fs.writeFileSync(path.join(www, '1m'), crypto.randomBytes(1048576));
  if (ids.includes('h')) { const fd = fs.openSync(path.join(www, '1g'), 'w'); fs.ftruncateSync(fd, DOWNLOAD_MB * 1048576); fs.closeSync(fd); }

  const [B1, B2, P_GATEHOUSE, P_HAPROXY, P_NGINX, P_FLOOR, P_GATEHOUSE_NODE] = await pickPorts(7);
  const proxyPorts = { gatehouse: P_GATEHOUSE, 'gatehouse-node': P_GATEHOUSE_NODE, haproxy: P_HAPROXY, nginx: P_NGINX, floor: P_FLOOR };
  const backendPorts = [B1, B2];

  // backends: two nginx, one worker each
  const backends = [];
  for (const [i, port] of backendPorts.entries()) {
    const dir = path.join(tmp, `backend${i + 1}`);
    fs.mkdirSync(dir);
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, fill(tmpl('nginx-backend.conf.tmpl'), { USER: userLine, DIR: dir, WWW: www, PORT: port, NOFILE, WORKER_CONNECTIONS: workerConnections }));
    const child = launch(`backend${i + 1}`, 'nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { logFile: path.join(dir, 'stderr.log'), cpus: LOAD_CPUS });
    backends.push({ port, child, dir });
  }
  for (const b of backends) {
    await waitReady(b.port, b.child, `backend nginx on ${b.port}`);
    for (const p of ['/', '/64k', '/1m', '/echo']) await validate(b.port, { path: p, body: 16384 });
  }
  log(`backends up on ${B1} and ${B2} (16 B /, /64k, /1m, POST /echo verified to echo 16 KB)`);

  // gatehouse: haproxy.cfg first, YAML equivalent as a fallback; once per engine
  for (const name of Object.keys(GATEHOUSES)) {
    if (PROXIES.includes(name) && !fs.existsSync(GATEHOUSE_CLI)) results[name].note = `not run: ${path.relative(ROOT, GATEHOUSE_CLI)} does not exist (make build)`;
  }

  const writeConfigs = (workers, dir) => {
    const vars = { WORKERS: workers, MAXCONN, B1, B2 };
    const files = {
      haproxy: path.join(dir, 'haproxy.cfg'),
      gatehouse_cfg: path.join(dir, 'gatehouse-haproxy.cfg'),
      gatehouse_stripped: path.join(dir, 'gatehouse-haproxy-stripped.cfg'),
      gatehouse_yaml: path.join(dir, 'gatehouse.yaml'),
    };
    fs.writeFileSync(files.haproxy, fill(tmpl('haproxy.cfg.tmpl'), { ...vars, PORT: P_HAPROXY }));
    fs.writeFileSync(files.gatehouse_cfg, fill(tmpl('haproxy.cfg.tmpl'), { ...vars, PORT: P_GATEHOUSE }));
    fs.writeFileSync(files.gatehouse_stripped, fill(tmpl('haproxy.cfg.tmpl'), { ...vars, PORT: P_GATEHOUSE }).replace(HAPROXY_ONLY, '$1# (removed for gatehouse) $2'));
    fs.writeFileSync(files.gatehouse_yaml, fill(tmpl('gatehouse.yaml.tmpl'), { ...vars, PORT: P_GATEHOUSE }));
    // gatehouse-node: the same three files with the node engine chosen in global (one line more)
    const nodeEngine = (text, yaml) => yaml ? text.replace(/^global:\n/m, 'global:\n  engine: node\n') : text.replace(/^global\n/m, 'global\n    # gatehouse-only: every bind on the node:net front engine\n    engine node\n');
    files.node = {
      gatehouse_cfg: path.join(dir, 'gatehouse-node-haproxy.cfg'),
      gatehouse_stripped: path.join(dir, 'gatehouse-node-haproxy-stripped.cfg'),
      gatehouse_yaml: path.join(dir, 'gatehouse-node.yaml'),
    };
    fs.writeFileSync(files.node.gatehouse_cfg, nodeEngine(fill(tmpl('haproxy.cfg.tmpl'), { ...vars, PORT: P_GATEHOUSE_NODE }), false));
    fs.writeFileSync(files.node.gatehouse_stripped, nodeEngine(fill(tmpl('haproxy.cfg.tmpl'), { ...vars, PORT: P_GATEHOUSE_NODE }), false).replace(HAPROXY_ONLY, '$1# (removed for gatehouse) $2'));
    fs.writeFileSync(files.node.gatehouse_yaml, nodeEngine(fill(tmpl('gatehouse.yaml.tmpl'), { ...vars, PORT: P_GATEHOUSE_NODE }), true));
    const ndir = path.join(dir, 'nginx-proxy');
    fs.mkdirSync(ndir, { recursive: true });
    files.nginx = path.join(ndir, 'nginx.conf');
    files.nginx_dir = ndir;
    fs.writeFileSync(files.nginx, fill(tmpl('nginx-proxy.conf.tmpl'), { ...vars, USER: userLine, DIR: ndir, PORT: P_NGINX, NOFILE, WORKER_CONNECTIONS: workerConnections }));
    return files;
  };

  function gatehouseCheck(file) {
    const r = spawnSync(process.execPath, [GATEHOUSE_CLI, '-c', '-f', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
    if (r.status === 0) return null;
    return errorGist((String(r.stderr || '') + String(r.stdout || '')).split(file).join(path.basename(file)).split(path.dirname(file) + '/').join('')) ||
      errorGist(String(r.stderr || '') + String(r.stdout || '')) || `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
  }

  async function startProxies(sc, dir) {
    const files = writeConfigs(sc.workers, dir);
    const started = [];
    for (const name of PROXIES) {
      const port = proxyPorts[name];
      const logFile = path.join(dir, `${name}.log`);
      let child;
      let note = null; // set when gatehouse falls back to YAML
      if (name === 'haproxy') {
        child = launch('haproxy', 'haproxy', ['-db', '-f', files.haproxy], { logFile, cpus: PROXY_CPUS });
      } else if (name === 'nginx') {
        child = launch('nginx-proxy', 'nginx', ['-p', files.nginx_dir, '-c', files.nginx, '-e', path.join(files.nginx_dir, 'error.log'), '-g', 'daemon off;'], { logFile, cpus: PROXY_CPUS });
      } else if (name === 'floor') {
        // floor-proxy.mjs: one thread, bodiless GETs, keep-alive clients only (see its header)
        if (sc.kind !== 'wrk' || sc.workers !== 1 || sc.method !== 'GET' || sc.close) continue;
        child = launch('floor', process.execPath, [path.join(HERE, 'floor-proxy.mjs'), P_FLOOR, B1, B2], { logFile, cpus: PROXY_CPUS });
      } else if (GATEHOUSES[name]) {
        const gh = results[name];
        const gf = name === 'gatehouse' ? files : files.node;
        let gatehouseMode;
        if (!fs.existsSync(GATEHOUSE_CLI)) { started.push({ name, port, error: gh.note }); continue; }
        let file = gf.gatehouse_cfg;
        const cfgErr = gatehouseCheck(gf.gatehouse_cfg);
        const strippedErr = cfgErr && gatehouseCheck(gf.gatehouse_stripped);
        if (cfgErr && !strippedErr) {
          file = gf.gatehouse_stripped;
          gatehouseMode = 'cfg-stripped';
          gh.cfg_error = cfgErr;
          note = `same haproxy.cfg minus the HAProxy-only tuning lines (no strict-limits, tune.pool-*-fd-ratio, http-reuse), which gatehouse rejected (${cfgErr})`;
        } else if (cfgErr) {
          const yamlErr = gatehouseCheck(gf.gatehouse_yaml);
          if (yamlErr) {
            gh.mode = null;
            gh.note = `not run: rejects haproxy.cfg (${cfgErr}) and the YAML equivalent (${yamlErr})`;
            started.push({ name, port, error: gh.note });
            continue;
          }
          file = gf.gatehouse_yaml;
          gatehouseMode = 'yaml';
          gh.cfg_error = cfgErr;
          note = `YAML fallback config: gatehouse rejected the haproxy.cfg (${cfgErr})`;
        } else gatehouseMode = 'cfg';
        gh.mode = gatehouseMode;
        gh.note = note || (name === 'gatehouse' ? 'ran on the same haproxy.cfg as HAProxy' : 'ran on the same haproxy.cfg as HAProxy plus `engine node` in global');
        // GATEHOUSE_ENGINE (the test matrix's default engine) must not turn the uWS variant into a
        // node one. BENCH_GATEHOUSE_NODE_ARGS_UWS / _NODE: node flags for one variant, e.g.
        // "--cpu-prof --cpu-prof-dir=DIR" to profile it (every thread writes its own profile)
        const nodeArgs = (E[name === 'gatehouse' ? 'BENCH_GATEHOUSE_NODE_ARGS_UWS' : 'BENCH_GATEHOUSE_NODE_ARGS_NODE'] || '').split(' ').filter(Boolean);
        child = launch(name, process.execPath, [...nodeArgs, GATEHOUSE_CLI, '-f', file], { logFile, cpus: PROXY_CPUS, env: { NODE_ENV: 'production', GATEHOUSE_ENGINE: GATEHOUSES[name] } });
      } else throw new Error(`unknown proxy ${name}`);
      // the gatehouse note goes once into the header of the report, not on every row
      started.push({ name, port, child, logFile });
    }
    for (const p of started) {
      if (p.error) continue;
      try {
        await waitReady(p.port, p.child, p.name);
        await validate(p.port, sc);
        // what uWS.js cannot serve: probed once, and marked in the table rather than measured
        const cannot = sc.pipeline ? await probePipelining(p.port) : sc.http10 ? await probeHttp10(p.port) : null;
        if (cannot) {
          p.error = `cannot: ${cannot}`;
          log(`${sc.id} ${p.name}: ${p.error}`);
          await stopChild(p.child);
          continue;
        }
        await sleep(200);
        p.pids = p.name === 'nginx' ? pidTree(p.child.pid) : [p.child.pid];
      } catch (e) {
        let tail = '';
        try { tail = fs.readFileSync(p.logFile, 'utf8').trim().split('\n').slice(-3).join(' / '); } catch { /* none */ }
        p.error = `failed: ${e.message}${tail ? ` [log: ${tail.slice(0, 300)}]` : ''}`;
        log(`${p.name}: ${p.error}`);
        await stopChild(p.child);
      }
    }
    return started;
  }

  async function runWrkOnce(p, sc, duration) {
    const args = ['-t', sc.threads, '-c', sc.conns, '-d', duration, '--timeout', sc.timeout, '--latency', '-s', LUA, `http://127.0.0.1:${p.port}${sc.path}`];
    const st0 = await Promise.all(backendPorts.map(backendStatus));
    const split0 = cpuSplit(p.pids);
    const cpu0 = split0.user + split0.sys;
    const w = launch('wrk', 'wrk', args, {
      cpus: LOAD_CPUS, pipeStdout: true,
      env: { WRK_METHOD: sc.method, WRK_BODY_SIZE: String(sc.body || 0), WRK_CLOSE: sc.close ? '1' : '0', WRK_PIPELINE: String(sc.pipeline || 1) },
    });
    let out = '';
    w.stdout.on('data', (d) => { out += d; });
    const killer = setTimeout(() => { try { w.kill('SIGKILL'); } catch { /* gone */ } }, (seconds(duration) + 20) * 1000);
    await w.exited;
    clearTimeout(killer);
    const split1 = cpuSplit(p.pids);
    const cpu1 = split1.user + split1.sys;
    const st1 = await Promise.all(backendPorts.map(backendStatus));
    const m = /^WRKJSON (.*)$/m.exec(out);
    if (!m) return { error: `wrk produced no summary (${JSON.stringify(w.exitInfo)}): ${out.slice(0, 200)}` };
    const j = JSON.parse(m[1]);
    // pipelining: wrk times a whole batch (one sample when all its answers came back), and its
    // tail percentiles came out as 0 or wild; no latency is reported for it
    if (sc.pipeline > 1) for (const q of ['p50', 'p90', 'p99', 'p999']) j.lat_us[q] = NaN;
    const errors = Object.values(j.errors).reduce((a, b) => a + b, 0);
    const cpu_s = (cpu1 - cpu0) / CLK_TCK;
    return {
      rps: j.requests / (j.duration_us / 1e6),
      requests: j.requests,
      mb_per_s: j.bytes / (j.duration_us / 1e6) / 1e6,
      p50_ms: j.lat_us.p50 / 1000, p90_ms: j.lat_us.p90 / 1000, p99_ms: j.lat_us.p99 / 1000, p999_ms: j.lat_us.p999 / 1000,
      max_ms: j.lat_us.max / 1000, mean_ms: j.lat_us.mean / 1000,
      errors, error_detail: j.errors,
      cpu_s, cpu_us_per_req: j.requests ? cpu_s * 1e6 / j.requests : null,
      user_us_per_req: j.requests ? (split1.user - split0.user) / CLK_TCK * 1e6 / j.requests : null,
      sys_us_per_req: j.requests ? (split1.sys - split0.sys) / CLK_TCK * 1e6 / j.requests : null,
      // the status fetch itself is one accepted connection on each backend
      upstream_conns: st1.reduce((a, s, i) => a + s.accepts - st0[i].accepts - 1, 0),
      backend_requests: st1.map((s, i) => s.requests - st0[i].requests - 1),
    };
  }

  // HTTP/1.0 keep-alive client: ApacheBench (wrk speaks HTTP/1.1 only). ab reports whole ms
  // percentiles and no p99.9; -n is raised so that -t ends the run.
  async function runAb(p, sc, duration) {
    const args = ['-k', '-c', sc.conns, '-t', Math.max(1, Math.round(seconds(duration))), '-n', 100000000, '-s', 10, '-q', `http://127.0.0.1:${p.port}${sc.path}`];
    const st0 = await Promise.all(backendPorts.map(backendStatus));
    const split0 = cpuSplit(p.pids);
    const cpu0 = split0.user + split0.sys;
    const w = launch('ab', 'ab', args, { cpus: LOAD_CPUS, pipeStdout: true });
    let out = '';
    w.stdout.on('data', (d) => { out += d; });
    const killer = setTimeout(() => { try { w.kill('SIGKILL'); } catch { /* gone */ } }, (seconds(duration) + 20) * 1000);
    await w.exited;
    clearTimeout(killer);
    const split1 = cpuSplit(p.pids);
    const cpu1 = split1.user + split1.sys;
    const st1 = await Promise.all(backendPorts.map(backendStatus));
    const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : null; };
    const requests = num(/^Complete requests:\s+(\d+)/m);
    const secs = num(/^Time taken for tests:\s+([\d.]+)/m);
    if (requests == null || !secs) return { error: `ab produced no summary (${JSON.stringify(w.exitInfo)}): ${out.slice(-200)}` };
    const pct = (q) => num(new RegExp(`^\\s*${q}%\\s+(\\d+)`, 'm'));
    const failed = num(/^Failed requests:\s+(\d+)/m) || 0;
    const non2xx = num(/^Non-2xx responses:\s+(\d+)/m) || 0;
    const cpu_s = (cpu1 - cpu0) / CLK_TCK;
    return {
      rps: requests / secs, requests,
      mb_per_s: (num(/^Total transferred:\s+(\d+)/m) || 0) / secs / 1e6,
      p50_ms: pct(50), p90_ms: pct(90), p99_ms: pct(99), p999_ms: null, max_ms: pct(100), mean_ms: null,
      errors: failed + non2xx, error_detail: { failed, non2xx },
      cpu_s, cpu_us_per_req: requests ? cpu_s * 1e6 / requests : null,
      user_us_per_req: requests ? (split1.user - split0.user) / CLK_TCK * 1e6 / requests : null,
      sys_us_per_req: requests ? (split1.sys - split0.sys) / CLK_TCK * 1e6 / requests : null,
      upstream_conns: st1.reduce((a, s, i) => a + s.accepts - st0[i].accepts - 1, 0),
      backend_requests: st1.map((s, i) => s.requests - st0[i].requests - 1),
    };
  }

  async function scenarioWrk(sc, procs) {
    const runWrk = sc.kind === 'ab' ? runAb : runWrkOnce;
    const live = procs.filter((p) => !p.error);
    if (!live.length) return;
    log(`${sc.id}: warm-up ${WARMUP} each`);
    for (const p of live) await runWrk(p, sc, WARMUP);
    for (let r = 1; r <= ROUNDS; r++) {
      for (const p of live) {
        if (overBudget()) { p.note = [p.note, `stopped at round ${r}: time budget BENCH_MAX_SECONDS=${MAX_SECONDS} spent`].filter(Boolean).join('; '); continue; }
        if (p.child.exitInfo) { p.error = p.error || `exited during the run (${JSON.stringify(p.child.exitInfo)})`; continue; }
        await sleep(PAUSE_MS);
        const res = await runWrk(p, sc, DURATION);
        // the shared machine's 1-minute load average after the run, next to every figure
        res.load1 = os.loadavg()[0];
        (p.rounds ||= []).push(res);
        log(`${sc.id} round ${r} ${p.name.padEnd(9)} ${res.error ? res.error : `${Math.round(res.rps)} req/s p99 ${res.p99_ms?.toFixed(2)} ms cpu ${res.cpu_s.toFixed(2)} s upstream conns ${res.upstream_conns} errors ${res.errors}`}`);
      }
    }
    for (const p of live) {
      const ok = (p.rounds || []).filter((r) => !r.error);
      if (!ok.length) continue;
      const med = (k) => median(ok.map((r) => r[k]));
      p.summary = {
        rps: med('rps'), p50_ms: med('p50_ms'), p99_ms: med('p99_ms'), p999_ms: med('p999_ms'),
        cpu_s: med('cpu_s'), cpu_us_per_req: med('cpu_us_per_req'), user_us_per_req: med('user_us_per_req'), sys_us_per_req: med('sys_us_per_req'), upstream_conns: med('upstream_conns'),
        mb_per_s: med('mb_per_s'), errors: ok.reduce((a, r) => a + r.errors, 0), requests: ok.reduce((a, r) => a + r.requests, 0),
        error_detail: ok.reduce((a, r) => { for (const [k2, v] of Object.entries(r.error_detail || {})) a[k2] = (a[k2] || 0) + v; return a; }, {}),
        rounds_rps: ok.map((r) => Math.round(r.rps)),
        load1: med('load1'),
      };
    }
  }

  // runs idle-conns.mjs: onHalf/onReady are awaited while the connections are held
  async function idleClient(p, count, onHalf, onReady) {
    const c = launch('idle-client', process.execPath, [path.join(HERE, 'idle-conns.mjs'), p.port, count, 200], { cpus: LOAD_CPUS, stdin: 'pipe', pipeStdout: true });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    const waitFor = async (tag) => {
      const until = Date.now() + 180000;
      while (!new RegExp(`^${tag} `, 'm').test(out) && !c.exitInfo && Date.now() < until) await sleep(100);
      const m = new RegExp(`^${tag} (.*)$`, 'm').exec(out);
      return m ? JSON.parse(m[1]) : null;
    };
    const half = await waitFor('HALF');
    if (half) { await onHalf(); c.stdin.write('more\n'); }
    const ready = half && await waitFor('READY');
    if (!ready) { await stopChild(c); return { error: `idle client failed: ${out.slice(0, 200)}` }; }
    await onReady();
    c.stdin.end('done\n');
    const alive = await waitFor('ALIVE');
    const killer = setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, 20000);
    await c.exited;
    clearTimeout(killer);
    return { half, ready, alive: alive ? alive.alive : null };
  }

  async function scenarioIdle(sc, procs) {
    for (const p of procs.filter((x) => !x.error)) {
      if (overBudget()) { p.note = 'skipped: time budget spent'; continue; }
      // warm-up through the same path with 1,000 connections (JIT, pools, buffers), then settle;
      // not a wrk run: its garbage would be collected during the measurement (node's RSS fell)
      await idleClient(p, 1000, async () => {}, async () => {});
      // RSS = the minimum over a few seconds of samples: a garbage-collected runtime's RSS
      // moves with its heap (node's fell below the baseline once garbage was collected); the
      // minimum is the settled footprint, and it is taken the same way for every proxy
      const settledRss = async (ms) => {
        let min = Infinity;
        for (const until = Date.now() + ms; Date.now() < until; await sleep(200)) min = Math.min(min, memKB(p.pids, 'VmRSS'));
        return min;
      };
      // windows kept short: the first connections must still be idle-open at the last sample
      // (uWS, for one, closes HTTP connections idle for 10 s); "still open at end" checks it
      const before = await settledRss(3000);
      let halfRss = null;
      let withConns = null;
      const res = await idleClient(p, idleConns,
        async () => { halfRss = await settledRss(2000); },
        async () => { withConns = await settledRss(3000); });
      if (res.error) { p.error = res.error; continue; }
      const { half, ready: r, alive } = res;
      await sleep(1000);
      const after = memKB(p.pids, 'VmRSS');
      if (alive != null && alive < r.opened) {
        p.note = `the proxy closed ${r.opened - alive} of the idle connections before the last sample, although timeout http-keep-alive is 60s: the figures undercount`;
      }
      p.summary = {
        conns: r.opened, failed: r.failed, alive_at_end: alive, open_ms: r.ms,
        rss_before_mb: before / 1024, rss_half_mb: halfRss / 1024, rss_with_conns_mb: withConns / 1024, rss_after_close_mb: after / 1024,
        kb_per_conn: r.opened ? (withConns - before) / r.opened : null,
        kb_per_conn_second_half: r.opened > half.opened ? (withConns - halfRss) / (r.opened - half.opened) : null,
      };
      log(`${sc.id} ${p.name.padEnd(9)} ${r.opened} idle conns (${r.failed} failed): RSS ${(before / 1024).toFixed(1)} -> ${(withConns / 1024).toFixed(1)} MB = ${p.summary.kb_per_conn?.toFixed(2)} KB/conn`);
    }
  }

  async function scenarioDownload(sc, procs) {
    for (const p of procs.filter((x) => !x.error)) {
      if (overBudget()) { p.note = 'skipped: time budget spent'; continue; }
      const before = memKB(p.pids, 'VmRSS');
      const hwm0 = memKB(p.pids, 'VmHWM');
      const c = launch('download-client', process.execPath, [path.join(HERE, 'download.mjs'), p.port, '/1g'], { cpus: LOAD_CPUS, pipeStdout: true });
      let out = '';
      c.stdout.on('data', (d) => { out += d; });
      let peak = before;
      const killer = setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, 300000);
      while (!c.exitInfo) { peak = Math.max(peak, memKB(p.pids, 'VmRSS')); await sleep(50); }
      clearTimeout(killer);
      const hwm1 = memKB(p.pids, 'VmHWM');
      const m = /^RESULT (.*)$/m.exec(out);
      const r = m ? JSON.parse(m[1]) : { error: `no result (${JSON.stringify(c.exitInfo)})` };
      if (r.error || r.bytes !== DOWNLOAD_MB * 1048576) { p.error = `download failed: ${r.error || `${r.bytes} bytes, status ${r.status}`}`; continue; }
      // nginx: the sum of per-process high-water marks (master + workers)
      const peakKB = Math.max(hwm1, peak);
      p.summary = {
        bytes: r.bytes, seconds: r.ms / 1000, mb_per_s: r.bytes / 1e6 / (r.ms / 1000),
        rss_before_mb: before / 1024, vmhwm_before_mb: hwm0 / 1024, peak_rss_mb: peakKB / 1024, sampled_peak_rss_mb: peak / 1024,
        growth_mb: (peakKB - before) / 1024,
      };
      log(`${sc.id} ${p.name.padEnd(9)} ${(r.bytes / 2 ** 20).toFixed(0)} MB in ${(r.ms / 1000).toFixed(1)} s; RSS ${(before / 1024).toFixed(1)} MB (VmHWM ${(hwm0 / 1024).toFixed(1)} before), peak sampled ${(peak / 1024).toFixed(1)} MB, VmHWM after ${(hwm1 / 1024).toFixed(1)} MB`);
    }
  }

  try {
    for (const id of ids) {
      const sc = { id, ...SCENARIOS[id] };
      const entry = { id, title: sc.title, kind: sc.kind, workers: sc.workers, proxies: {} };
      if (sc.kind === 'wrk') entry.wrk = `wrk -t${sc.threads} -c${sc.conns} -d${DURATION} --timeout ${sc.timeout} --latency -s wrk-report.lua${sc.method !== 'GET' ? ` (${sc.method} ${sc.body} B)` : ''}${sc.close ? ' (Connection: close)' : ''}${sc.pipeline ? ` (WRK_PIPELINE=${sc.pipeline})` : ''} http://127.0.0.1:PORT${sc.path}`;
      if (sc.kind === 'ab') entry.ab = `ab -k -c ${sc.conns} -t ${Math.round(seconds(DURATION))} -n 100000000 -s 10 http://127.0.0.1:PORT${sc.path}`;
      if (sc.kind === 'idle') entry.idle_conns = idleConns;
      if (sc.kind === 'download') entry.download_mb = DOWNLOAD_MB;
      results.scenarios.push(entry);
      if (overBudget()) { entry.note = 'skipped: time budget spent'; continue; }
      if (sc.kind === 'ab' && !which('ab')) { entry.note = 'skipped: ab not installed (Debian: apache2-utils)'; continue; }
      const dir = path.join(tmp, `scenario-${id}`);
      fs.mkdirSync(dir);
      log(`== ${id}: ${sc.title}`);
      const procs = await startProxies(sc, dir);
      try {
        if (sc.kind === 'wrk' || sc.kind === 'ab') await scenarioWrk(sc, procs);
        else if (sc.kind === 'idle') await scenarioIdle(sc, procs);
        else await scenarioDownload(sc, procs);
      } finally {
        await Promise.all(procs.map((p) => stopChild(p.child)));
      }
      for (const p of procs) {
        entry.proxies[p.name] = { summary: p.summary || null, rounds: p.rounds || undefined, error: p.error || null, note: p.note || null };
      }
      entry.haproxy_cfg = fs.readFileSync(path.join(dir, 'haproxy.cfg'), 'utf8');
    }
  } finally {
    await Promise.all(backends.map((b) => stopChild(b.child)));
  }

  saveResults(results);
  if (!KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  else log(`kept ${tmp}`);
}

// ---------------------------------------------------------------- report
function saveResults(results, { stamped = true } = {}) {
  const md = renderMarkdown(results);
  process.stdout.write('\n' + md);
  if (!SAVE) return;
  fs.mkdirSync(RESULTS, { recursive: true });
  const stamp = results.date.replace(/[:.]/g, '-');
  const json = JSON.stringify(results, null, 2) + '\n';
  for (const base of stamped ? ['latest', stamp] : ['latest']) {
    fs.writeFileSync(path.join(RESULTS, `${base}.json`), json);
    fs.writeFileSync(path.join(RESULTS, `${base}.md`), md);
  }
  log(`wrote native-bench/results/latest.{md,json}${stamped ? ` and ${stamp}.{md,json}` : ''}`);
  if (E.BENCH_README === '1') {
    // copy the tables into README.md between its markers
    const readme = path.join(HERE, 'README.md');
    const text = fs.readFileSync(readme, 'utf8');
    const body = md.replace(/^# .*\n\n/, '').replace(/^## /gm, '### ');
    const next = text.replace(/(<!-- results:start -->\n)[\s\S]*?(<!-- results:end -->)/, `$1${body}$2`);
    if (next !== text) { fs.writeFileSync(readme, next); log('updated native-bench/README.md'); }
  }
}

function renderMarkdown(R) {
  const f = (x, d = 2) => (x == null || !Number.isFinite(x) ? '-' : x.toFixed(d));
  const k = (x) => (x == null ? '-' : x >= 10000 ? `${(x / 1000).toFixed(1)}k` : String(Math.round(x)));
  const m = R.machine;
  const L = [];
  L.push('# native-bench results', '');
  L.push(`- date: ${R.date}`);
  L.push(`- machine: ${m.nproc} cores (${m.cpu}), ${m.mem_gb} GB RAM, Linux ${m.kernel}; load average at start ${m.loadavg_at_start.join(' ')}`);
  L.push(`- versions: node ${m.node}; ${m.haproxy}; nginx ${m.nginx}; ${m.wrk}`);
  L.push(`- settings: ${R.settings.rounds} rounds of ${R.settings.duration} per proxy in alternation after a ${R.settings.warmup} warm-up; medians shown; ulimit -n ${m.nofile}` +
    `${R.settings.proxy_cpus ? `; proxies pinned to CPU ${R.settings.proxy_cpus}` : ''}${R.settings.load_cpus ? `; wrk/clients/backends pinned to CPU ${R.settings.load_cpus}` : ''}`);
  // scenarios appended from another run (the JSON's later_runs), e.g. (g) and (h) run apart
  for (const x of R.later_runs || []) L.push(`- scenarios ${x.scenarios.join(', ')}: a separate run at ${x.date}, load average at start ${x.loadavg_at_start.join(' ')}`);
  L.push(`- gatehouse (uWS): ${R.gatehouse.note || 'not selected'}`);
  if (R['gatehouse-node']) L.push(`- gatehouse (node engine): ${R['gatehouse-node'].note || 'not selected'}`);
  L.push('');
  const nameOf = { gatehouse: 'gatehouse (uWS)', 'gatehouse-node': 'gatehouse (node engine)', haproxy: 'HAProxy', nginx: 'nginx', floor: 'floor (bare uWS+net+llhttp)' };
  const wrkRows = R.scenarios.filter((s) => s.kind === 'wrk' || s.kind === 'ab');
  if (wrkRows.length) {
    L.push('## Throughput and latency', '');
    L.push('| scenario | proxy | req/s | vs HAProxy | p50 ms | p99 ms | p99.9 ms | CPU s/run | CPU µs/req | user / sys µs/req | CPU/req vs HAProxy | upstream conns/run | errors | req/s per round | load avg | note |');
    L.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|---|');
    for (const s of wrkRows) {
      const base = s.proxies.haproxy?.summary?.rps;
      const baseCpu = s.proxies.haproxy?.summary?.cpu_us_per_req;
      if (s.note) L.push(`| ${s.id} | - | | | | | | | | | | | | | | ${s.note} |`);
      for (const [name, p] of Object.entries(s.proxies)) {
        const S = p.summary;
        const gmode = R[name]?.mode;
        const note = [p.error, p.note, gmode === 'yaml' ? 'YAML fallback config' : null,
          gmode === 'cfg-stripped' ? 'haproxy.cfg minus HAProxy-only lines' : null].filter(Boolean).join('; ');
        if (!S) { L.push(`| ${s.id} | ${nameOf[name]} | - | - | - | - | - | - | - | - | - | - | - | - | - | ${note.replace(/\|/g, '/')} |`); continue; }
        L.push(`| ${s.id} | ${nameOf[name]} | ${k(S.rps)} | ${base ? f(S.rps / base) : '-'} | ${f(S.p50_ms)} | ${f(S.p99_ms)} | ${f(S.p999_ms)} | ${f(S.cpu_s)} | ${f(S.cpu_us_per_req, 1)} | ${S.user_us_per_req == null ? '-' : `${f(S.user_us_per_req, 1)} / ${f(S.sys_us_per_req, 1)}`} | ${baseCpu ? f(S.cpu_us_per_req / baseCpu) : '-'} | ${S.upstream_conns ?? '-'} | ${S.errors ? `${S.errors} (${Object.entries(S.error_detail || {}).filter(([, v]) => v).map(([k2, v]) => `${k2} ${v}`).join(', ')})` : 0} | ${S.rounds_rps.map(k).join(' / ')} | ${f(S.load1, 1)} | ${note.replace(/\|/g, '/')} |`);
      }
    }
    L.push('');
    L.push('Scenarios: ' + wrkRows.map((s) => `**${s.id}** ${s.title}`).join('; ') + '.');
    L.push('CPU = utime+stime of the proxy process (nginx: master + workers) during one run; upstream conns = new connections the backends accepted during one run (0 = the proxy reused its pool); load avg = the machine\'s 1-minute load average after each run (median; 2 cores: above 2 means other work was waiting). "cannot" = the proxy failed the probe made before the runs (two pipelined GETs in one write, or one HTTP/1.0 GET), so it was not measured. Scenario p shows no latency (wrk times whole pipelined batches); scenario i uses ab, which reports whole milliseconds and no p99.9.');
    L.push('');
  }
  const g = R.scenarios.find((s) => s.kind === 'idle');
  if (g) {
    L.push(`## (g) ${g.idle_conns} idle keep-alive connections: memory`, '');
    L.push('| proxy | idle conns | RSS before MB | RSS at half MB | RSS with all MB | KB per conn | KB per conn, 2nd half | vs HAProxy (all / 2nd half) | still open at end | note |');
    L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|---|');
    const base = g.proxies.haproxy?.summary?.kb_per_conn;
    const base2 = g.proxies.haproxy?.summary?.kb_per_conn_second_half;
    for (const [name, p] of Object.entries(g.proxies)) {
      const S = p.summary;
      const note = [p.error, p.note].filter(Boolean).join('; ').replace(/\|/g, '/');
      if (!S) { L.push(`| ${nameOf[name]} | - | - | - | - | - | - | - | - | ${note} |`); continue; }
      const kb = (x) => (x != null && x <= 0 ? `${f(x)} (noise)` : f(x));
      const ratio = (x, b) => (!b || x == null ? '-' : x <= 0 ? 'noise' : f(x / b));
      L.push(`| ${nameOf[name]} | ${S.conns}${S.failed ? ` (${S.failed} failed)` : ''} | ${f(S.rss_before_mb, 1)} | ${f(S.rss_half_mb, 1)} | ${f(S.rss_with_conns_mb, 1)} | ${kb(S.kb_per_conn)} | ${kb(S.kb_per_conn_second_half)} | ${ratio(S.kb_per_conn, base)} / ${ratio(S.kb_per_conn_second_half, base2)} | ${S.alive_at_end ?? '-'} | ${note} |`);
    }
    L.push('', 'RSS is the minimum of samples over 2-3 s at each point. KB per conn = (RSS with all - RSS before) / conns; 2nd half = (RSS with all - RSS at half) / (conns / 2). A garbage-collected runtime (gatehouse) moves its RSS by a few MB with its heap, which is as large as the whole signal at 10,000 connections: compare both columns, and read values near 0 or below as noise.', '');
  }
  const h = R.scenarios.find((s) => s.kind === 'download');
  if (h) {
    L.push(`## (h) ${h.download_mb} MB download: peak memory`, '');
    L.push('| proxy | seconds | MB/s | RSS before MB | peak RSS (VmHWM) MB | growth MB | vs HAProxy (peak) | note |');
    L.push('|---|--:|--:|--:|--:|--:|--:|---|');
    const base = h.proxies.haproxy?.summary?.peak_rss_mb;
    for (const [name, p] of Object.entries(h.proxies)) {
      const S = p.summary;
      const note = [p.error, p.note].filter(Boolean).join('; ').replace(/\|/g, '/');
      if (!S) { L.push(`| ${nameOf[name]} | - | - | - | - | - | - | ${note} |`); continue; }
      L.push(`| ${nameOf[name]} | ${f(S.seconds, 1)} | ${f(S.mb_per_s, 0)} | ${f(S.rss_before_mb, 1)} | ${f(S.peak_rss_mb, 1)} | ${f(S.growth_mb, 1)} | ${base ? f(S.peak_rss_mb / base) : '-'} | ${note} |`);
    }
    L.push('');
  }
  return L.join('\n') + '\n';
}

// `node bench.mjs --render [results/latest.json]`: rewrite latest.md (and README with
// BENCH_README=1) from a JSON file, after a change to the report layout
if (process.argv[2] === '--render') {
  const file = process.argv[3] || path.join(RESULTS, 'latest.json');
  saveResults(JSON.parse(fs.readFileSync(file, 'utf8')), { stamped: false });
  process.exit(0);
}

main().catch(async (e) => {
  log(`error: ${e.stack || e.message}`);
  await Promise.all([...children.values()].map(({ child }) => stopChild(child, 2000)));
  process.exit(1);
});
