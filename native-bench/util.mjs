// Pure helpers shared by bench.mjs and bench-lib.mjs (tls.mjs, acl-cost.mjs). No side effects
// at import: each script installs its own process tracking and signal handling.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const E = process.env;
export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..');
export const RESULTS = path.join(HERE, 'results');
export const LUA = path.join(HERE, 'wrk-report.lua');
export const GATEHOUSE_CLI = E.GATEHOUSE_CLI || path.join(ROOT, 'dist', 'cli.js');
export const PROXY_CPUS = E.BENCH_PROXY_CPUS || ''; // e.g. "0": taskset for the proxies
export const LOAD_CPUS = E.BENCH_LOAD_CPUS || ''; // e.g. "1": taskset for wrk and the clients
// HAProxy tuning lines of haproxy.cfg.tmpl that have no gatehouse meaning
export const HAPROXY_ONLY = /^(\s*)((?:no strict-limits|tune\.pool-(?:low|high)-fd-ratio|http-reuse)\b.*)$/gm;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(d));
  if (!m) throw new Error(`bad duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] || 's'];
}
export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}
export function fill(template, vars) {
  return template.replace(/\{\{(\w+)\}\}/g, (_, k) => {
    if (!(k in vars)) throw new Error(`template variable ${k} not set`);
    return String(vars[k]);
  });
}
export const tmpl = (name) => fs.readFileSync(path.join(HERE, 'configs', name), 'utf8');
export function which(cmd) {
  for (const d of (E.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(d, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}
export function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return (String(r.stdout || '') + String(r.stderr || '')).trim().split('\n')[0].trim();
}
// the telling lines of a failed command's output
export function errorGist(text) {
  const lines = String(text).split('\n').map((l) => l.trim()).filter(Boolean);
  const telling = lines.filter((l) => /error|invalid|unknown|expected|not /i.test(l) && !/^at /.test(l));
  return (telling.length ? telling : lines).slice(0, 2).join(' / ').slice(0, 240);
}
export function nofileLimit() {
  const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? 1048576 : Number(m[1]);
}
export const CLK_TCK = Number(firstLine('getconf', ['CLK_TCK'])) || 100;

// ---------------------------------------------------------------- /proc readings
/** Fields of /proc/PID/stat from #3 (state) on (the command name may hold spaces). */
export function statFields(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ');
}
/** User and system clock ticks of `pids` apart: where a proxy's CPU goes (its own code or the kernel's TCP). */
export function cpuSplit(pids) {
  let user = 0, sys = 0;
  for (const p of pids) {
    try { const f = statFields(p); user += Number(f[11]); sys += Number(f[12]); } catch { /* gone */ }
  }
  return { user, sys };
}
/** CPU clock ticks (user + system) of `pids`. */
export function cpuTicks(pids) {
  const { user, sys } = cpuSplit(pids);
  return user + sys;
}
