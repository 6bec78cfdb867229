// Shared harness of the native-bench side scripts tls.mjs and acl-cost.mjs (the pure helpers it shares
// with bench.mjs are in util.mjs): child processes tracked by PID and stopped on
// exit, error, Ctrl-C or a watchdog; the tool check/install; free ports in 18000-18999; the two
// nginx backends of configs/nginx-backend.conf.tmpl; wrk runs with wrk-report.lua; CPU from /proc.
// Everything listens on and talks to 127.0.0.1 only.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';

import { CLK_TCK, GATEHOUSE_CLI, HAPROXY_ONLY, HERE, LOAD_CPUS, LUA, PROXY_CPUS, RESULTS, ROOT, cpuSplit, cpuTicks, errorGist, fill, firstLine, median, nofileLimit, seconds, sleep, tmpl, which } from './util.mjs';

// the pure helpers live in util.mjs (shared with bench.mjs); re-exported for the side scripts
export { CLK_TCK, GATEHOUSE_CLI, HAPROXY_ONLY, HERE, LOAD_CPUS, LUA, PROXY_CPUS, RESULTS, ROOT, cpuSplit, cpuTicks, errorGist, fill, firstLine, median, seconds, sleep, tmpl, which };
const E = process.env;

// ---------------------------------------------------------------- small utilities
let tag = 'bench';
export const setLogTag = (t) => { tag = t; };
// never throws: a closed stderr (EPIPE, e.g. piped into `head`) must not turn into an error loop
export const log = (...a) => { try { console.error(`[${tag}]`, ...a); } catch { /* stderr gone */ } };
for (const s of [process.stdout, process.stderr]) s.on('error', () => { /* EPIPE: keep going, cleanup still runs */ });

/** Debian packages for missing tools (haproxy 2.6 on bookworm), as run.sh does: apt-get, sudo when not root. */
export function ensureTools(tools) {
  if (!(E.PATH || '').split(':').includes('/usr/sbin')) E.PATH = `${E.PATH}:/usr/sbin:/sbin`;
  const missing = Object.keys(tools).filter((t) => !which(t));
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map((t) => tools[t]))];
  const sudo = process.getuid && process.getuid() !== 0 ? ['sudo'] : [];
  log(`installing ${pkgs.join(' ')} with apt-get`);
  const env = { ...E, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync(sudo[0] || 'apt-get', [...(sudo.length ? ['apt-get'] : []), 'install', '-y', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 2, 2], env });
  if (install().status !== 0) {
    spawnSync(sudo[0] || 'apt-get', [...(sudo.length ? ['apt-get'] : []), 'update'], { stdio: ['ignore', 2, 2], env });
    install();
  }
  const still = missing.filter((t) => !which(t));
  if (still.length) throw new Error(`${still.join(', ')} not found and could not be installed`);
}

// ---------------------------------------------------------------- process tracking
const children = new Map(); // pid -> { name, child }
const cleanups = []; // sync functions run at exit (temp dirs)
export const onCleanup = (fn) => cleanups.push(fn);
export function launch(name, cmd, args, { logFile, cpus = '', env = {}, pipeStdout = false } = {}) {
  if (cpus) { args = ['-c', cpus, cmd, ...args]; cmd = 'taskset'; }
  const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const child = spawn(cmd, args.map(String), { stdio: ['ignore', pipeStdout ? 'pipe' : out, out], env: { ...E, ...env } });
  if (logFile) fs.closeSync(out);
  child.exitInfo = null;
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    child.exitInfo = { code, signal };
    children.delete(child.pid);
    resolve(child.exitInfo);
  }));
  child.on('error', (e) => { child.spawnError = e; });
  if (child.pid) children.set(child.pid, { name, child });
  return child;
}
/** SIGTERM, then SIGKILL after graceMs; only this child (by its PID). */
export async function stopChild(child, graceMs = 5000) {
  if (!child || child.exitInfo || !child.pid) return;
  try { child.kill('SIGTERM'); } catch { /* gone */ }
  const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
  await child.exited;
  clearTimeout(t);
}
export const stopAll = (graceMs = 2000) => Promise.all([...children.values()].map(({ child }) => stopChild(child, graceMs)));
export const liveChildren = () => [...children.entries()].map(([pid, { name }]) => `${name}:${pid}`);
function finalSync() {
  for (const [, { child }] of children) { try { child.kill('SIGKILL'); } catch { /* gone */ } }
  for (const fn of cleanups.splice(0)) { try { fn(); } catch { /* best effort */ } }
}
process.on('exit', finalSync);
let aborting = false;
async function abort(why, code) {
  if (aborting) return;
  aborting = true;
  log(`${why}: stopping ${children.size} child process(es)`);
  await stopAll(2000);
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => abort(sig, 130));
process.on('uncaughtException', (e) => { if (!aborting) log(`error: ${e.stack || e}`); abort('uncaught exception', 1); });
process.on('unhandledRejection', (e) => { if (!aborting) log(`error: ${e?.stack || e}`); abort('unhandled rejection', 1); });
/** Kills everything and exits 3 after maxSeconds (the run's hard bound). */
export function watchdog(maxSeconds) {
  setTimeout(() => abort(`time limit of ${maxSeconds} s reached`, 3), maxSeconds * 1000).unref();
}
/** main() with the cleanup on failure. */
export function runMain(main) {
  main().then(() => stopAll()).catch(async (e) => {
    log(`error: ${e.stack || e.message}`);
    await stopAll(2000);
    process.exit(1);
  });
}

/** Whole-machine CPU ticks (busy, total) from /proc/stat: shows how loaded the shared host was. */
export function hostTicks() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}
/** Cores busy on the whole machine between two hostTicks() readings. */
export function hostBusyCores(a, b) {
  const nproc = os.cpus().length;
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) * nproc : null;
}

// ---------------------------------------------------------------- network helpers
function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
export async function pickPorts(n) {
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
/** One request to 127.0.0.1 (https: certificate not verified), a new connection each time. */
export function request(port, { tls = false, method = 'GET', path: p = '/', headers = {}, localAddress, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const mod = tls ? https : http;
    const req = mod.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers, localAddress, rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
export async function waitReady(port, child, what, { tls = false, timeoutMs = 15000 } = {}) {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (child.exitInfo || child.spawnError) throw new Error(`${what} exited (${child.spawnError ? child.spawnError.message : JSON.stringify(child.exitInfo)})`);
    try {
      const r = await request(port, { tls, timeoutMs: 2000 });
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (e) { last = e.message; }
    await sleep(150);
  }
  throw new Error(`${what} not answering 200 on 127.0.0.1:${port} after ${timeoutMs} ms (${last})`);
}
export const BODY16 = '0123456789abcde\n';

// ---------------------------------------------------------------- environment
export function machine(extra = {}) {
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
    ...extra,
  };
}

// ---------------------------------------------------------------- backends, proxies, wrk
/** The temp work dir (mktemp -d), removed at exit unless BENCH_KEEP_TMP=1. */
export function workDir(prefix) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (E.BENCH_KEEP_TMP === '1') onCleanup(() => log(`kept ${tmp}`));
  else onCleanup(() => fs.rmSync(tmp, { recursive: true, force: true }));
  return tmp;
}

/** Two nginx backends (1 worker each) from configs/nginx-backend.conf.tmpl: `/` answers 16 bytes. */
export async function startBackends(tmp, ports) {
  const www = path.join(tmp, 'www');
  fs.mkdirSync(www, { recursive: true });
  const nofile = nofileLimit();
  const userLine = process.getuid && process.getuid() === 0 ? `user ${os.userInfo().username};` : '# running as the current (unprivileged) user';
  const backends = [];
  for (const [i, port] of ports.entries()) {
    const dir = path.join(tmp, `backend${i + 1}`);
    fs.mkdirSync(dir);
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, fill(tmpl('nginx-backend.conf.tmpl'), { USER: userLine, DIR: dir, WWW: www, PORT: port, NOFILE: nofile, WORKER_CONNECTIONS: Math.max(1024, Math.min(nofile - 500, 30000)) }));
    const child = launch(`backend${i + 1}`, 'nginx', ['-p', dir, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { logFile: path.join(dir, 'stderr.log'), cpus: LOAD_CPUS });
    backends.push({ port, child, dir });
  }
  for (const b of backends) {
    await waitReady(b.port, b.child, `backend nginx on ${b.port}`);
    const r = await request(b.port);
    if (r.body.toString() !== BODY16) throw new Error(`backend ${b.port}: wrong body`);
  }
  return backends;
}

/** null when gatehouse accepts the file (`-c`), else the gist of its complaint. */
export function gatehouseCheck(file) {
  const r = spawnSync(process.execPath, [GATEHOUSE_CLI, '-c', '-f', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
  if (r.status === 0) return null;
  return errorGist(String(r.stderr || '') + String(r.stdout || '')) || `exit ${r.status}`;
}
export function haproxyCheck(file) {
  const r = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20000 });
  if (r.status === 0) return null;
  return errorGist(String(r.stderr || '') + String(r.stdout || '')) || `exit ${r.status}`;
}

/**
 * Starts one proxy on its config file: gatehouse (`node dist/cli.js -f FILE`, NODE_ENV=production)
 * or HAProxy (`haproxy -db -f FILE`). gatehouse gets the same file, or (if it rejects it) the file
 * with the HAProxy-only lines commented out, and `note` says so.
 */
export function startProxy(kind, file, logFile, { nodeArgs = [], env = {} } = {}) {
  if (kind === 'haproxy') {
    const err = haproxyCheck(file);
    if (err) throw new Error(`haproxy -c rejects ${path.basename(file)}: ${err}`);
    return { child: launch('haproxy', 'haproxy', ['-db', '-f', file], { logFile, cpus: PROXY_CPUS }), file, note: null };
  }
  if (!fs.existsSync(GATEHOUSE_CLI)) throw new Error(`${path.relative(ROOT, GATEHOUSE_CLI)} does not exist (make build)`);
  let use = file;
  let note = null;
  const err = gatehouseCheck(file);
  if (err) {
    use = file.replace(/(\.cfg)?$/, '-gatehouse.cfg');
    fs.writeFileSync(use, fs.readFileSync(file, 'utf8').replace(HAPROXY_ONLY, '$1# (removed for gatehouse) $2'));
    const err2 = gatehouseCheck(use);
    if (err2) throw new Error(`gatehouse rejects ${path.basename(file)} (${err}) and its stripped copy (${err2})`);
    note = `same file minus HAProxy-only tuning lines, which gatehouse rejected (${err})`;
  }
  const child = launch('gatehouse', process.execPath, [...nodeArgs, GATEHOUSE_CLI, '-f', use], { logFile, cpus: PROXY_CPUS, env: { NODE_ENV: 'production', ...env } });
  return { child, file: use, note };
}

/** One wrk run with wrk-report.lua; CPU of `pids` from /proc around it. */
export async function runWrk(url, { threads = 1, conns = 50, duration = '10s', timeout = '5s', headers = [], close = false, pids = [] } = {}) {
  const args = ['-t', threads, '-c', conns, '-d', duration, '--timeout', timeout, '--latency', '-s', LUA];
  for (const h of headers) args.push('-H', h);
  args.push(url);
  const cpu0 = cpuTicks(pids);
  const h0 = hostTicks();
  const w = launch('wrk', 'wrk', args, { cpus: LOAD_CPUS, pipeStdout: true, env: { WRK_METHOD: 'GET', WRK_BODY_SIZE: '0', WRK_CLOSE: close ? '1' : '0' } });
  let out = '';
  w.stdout.on('data', (d) => { out += d; });
  const killer = setTimeout(() => { try { w.kill('SIGKILL'); } catch { /* gone */ } }, (seconds(duration) + 20) * 1000);
  await w.exited;
  clearTimeout(killer);
  const cpu1 = cpuTicks(pids);
  const host_busy_cores = hostBusyCores(h0, hostTicks());
  const m = /^WRKJSON (.*)$/m.exec(out);
  if (!m) return { error: `wrk produced no summary (${JSON.stringify(w.exitInfo)}): ${out.slice(0, 200)}` };
  const j = JSON.parse(m[1]);
  const errors = Object.values(j.errors).reduce((a, b) => a + b, 0);
  const cpu_s = (cpu1 - cpu0) / CLK_TCK;
  return {
    rps: j.requests / (j.duration_us / 1e6), requests: j.requests, seconds: j.duration_us / 1e6,
    p50_ms: j.lat_us.p50 / 1000, p90_ms: j.lat_us.p90 / 1000, p99_ms: j.lat_us.p99 / 1000, p999_ms: j.lat_us.p999 / 1000,
    errors, error_detail: j.errors,
    cpu_s, cpu_us_per_req: j.requests ? cpu_s * 1e6 / j.requests : null, host_busy_cores,
  };
}

// ---------------------------------------------------------------- formatting and saving
export const fmt = (x, d = 2) => (x == null || !Number.isFinite(x) ? '-' : x.toFixed(d));
export const kfmt = (x) => (x == null || !Number.isFinite(x) ? '-' : x >= 10000 ? `${(x / 1000).toFixed(1)}k` : String(Math.round(x)));
export function machineLines(m) {
  return [
    `- machine: ${m.nproc} cores (${m.cpu}), ${m.mem_gb} GB RAM, Linux ${m.kernel}; load average at start ${m.loadavg_at_start.join(' ')}`,
    `- versions: node ${m.node}; ${m.haproxy}; nginx ${m.nginx}; ${m.wrk}${m.openssl ? `; ${m.openssl}` : ''}`,
  ];
}
/** results/NAME.md and NAME.json (unless BENCH_SAVE=0); the markdown also goes to stdout. */
export function save(name, results, md) {
  try { process.stdout.write('\n' + md); } catch { /* stdout gone */ }
  if (E.BENCH_SAVE === '0') return;
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, `${name}.json`), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS, `${name}.md`), md);
  log(`wrote native-bench/results/${name}.md and ${name}.json`);
}
