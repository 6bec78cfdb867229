#!/usr/bin/env node
// native-bench ACL cost (issue 8): what 20 realistic `use_backend ... if` rules cost per request.
//   node native-bench/acl-cost.mjs       (or `make bench-acl`)
// The same gatehouse build on two haproxy.cfg files and the same two nginx backends (16 B `/`):
//   A  frontend -> default_backend
//   B  the same plus 20 ACL rules (hdr(host) -i, hdr_dom/beg/end/sub, path, path_beg, path_end,
//      path_reg, path_dir, method, src CIDR, url_param/urlp, -m found), none of which matches the
//      benchmark request, so every rule is evaluated before default_backend.
// Both files have the same backends (the rules' eight backends have no server: a request that
// matches a rule gets 503, which is how the routing check proves that each rule is live).
// HAProxy runs the same two files as a reference (ACL_PROXIES=gatehouse to skip it).
// Rounds alternate A B (gatehouse), A B (HAProxy) after a warm-up; the report gives B/A for
// requests/s and CPU per request, per round and as the median. With ACL_PROFILE=auto (default)
// and a cost of 5% or more, gatehouse B runs once more under `node --cpu-prof` and the report
// lists the functions of src/acl and src/rules by CPU share. Writes results/acl.md and acl.json.
import fs from 'node:fs';
import path from 'node:path';
import {
  setLogTag, log, sleep, median, ensureTools, stopChild, watchdog, runMain, pickPorts, request, waitReady,
  machine, workDir, startBackends, startProxy, runWrk, fmt, kfmt, machineLines, save, BODY16, LOAD_CPUS,
  PROXY_CPUS, seconds,
} from './bench-lib.mjs';

setLogTag('bench-acl');
const E = process.env;
const DURATION = E.ACL_DURATION || '8s';
const WARMUP = E.ACL_WARMUP || '3s';
const ROUNDS = Math.max(1, Number(E.ACL_ROUNDS || 6));
const PAUSE_MS = Number(E.ACL_PAUSE_MS || 1000);
const CONNS = Number(E.ACL_CONNS || 50);
const PROXIES = (E.ACL_PROXIES || 'gatehouse,haproxy').split(/[ ,]+/).filter(Boolean);
const PROFILE = E.ACL_PROFILE || 'auto'; // auto | 1 | 0
const PROFILE_DURATION = E.ACL_PROFILE_DURATION || '10s';
const MAX_SECONDS = Number(E.ACL_MAX_SECONDS || 600);
// ACL_FORWARDFOR=1: `option forwardfor` in both files (gatehouse then reads the client address in A too)
const FORWARDFOR = E.ACL_FORWARDFOR === '1';
const NAME = { gatehouse: 'gatehouse', haproxy: 'HAProxy' };

// the benchmark request: a browser-like GET with a query string; it matches none of the rules
const BENCH_PATH = '/?page=2&sort=name';
const BENCH_HEADERS = { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0', Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

const ACL_RULES = String.raw`    # 20 routing rules; the benchmark request (GET /?page=2&sort=name from 127.0.0.1 with a
    # browser User-Agent) matches none of them, so all 20 are evaluated on every request
    acl host_api      hdr(host) -i api.example.com api.example.net
    acl host_static   hdr_dom(host) -i static.example.com
    acl host_admin    hdr_beg(host) -i admin.
    acl host_internal hdr_end(host) -i .internal .corp
    acl p_api         path_beg /api/ /v1/ /v2/
    acl p_assets      path_beg /static/ /assets/ /img/
    acl p_images      path_end .jpg .jpeg .png .gif .webp .svg
    acl p_scripts     path_end -i .js .css .map
    acl p_user        path_reg ^/users/[0-9]+/(profile|settings)$
    acl p_legacy      path_reg -i \.(php|aspx?|jsp)$
    acl p_admin       path_dir /admin /wp-admin
    acl p_health      path /healthz /readyz /livez
    acl m_write       method POST PUT PATCH DELETE
    acl m_options     method OPTIONS
    acl net_office    src 10.0.0.0/8 192.168.0.0/16 127.0.0.2/32
    acl net_partner   src 172.16.0.0/12 203.0.113.0/24 127.0.0.3/32
    acl q_debug       url_param(debug) -m found
    acl q_version     url_param(version) v2 v3
    acl ua_bot        hdr_sub(user-agent) -i bot crawler spider
    acl h_canary      hdr(x-canary) -m found
    use_backend be_api      if host_api
    use_backend be_static   if host_static
    use_backend be_admin    if host_admin
    use_backend be_internal if host_internal
    use_backend be_api      if p_api
    use_backend be_static   if p_assets
    use_backend be_static   if p_images || p_scripts
    use_backend be_api      if p_user
    use_backend be_legacy   if p_legacy
    use_backend be_admin    if p_admin net_office
    use_backend be_health   if p_health
    use_backend be_api      if m_write
    use_backend be_api      if m_options
    use_backend be_internal if net_office
    use_backend be_internal if net_partner
    use_backend be_debug    if q_debug
    use_backend be_api      if q_version
    use_backend be_static   if { urlp(lang) -i fr de es }
    use_backend be_legacy   if ua_bot
    use_backend be_canary   if h_canary
`;

// Requests that each match a rule (503 through B, never 503 through A), and requests that must not
// match (the benchmark request; /admin from a non-office address).
const CHECKS = [
  { what: 'hdr(host) -i', path: '/', headers: { Host: 'API.example.com' }, match: true },
  { what: 'hdr_dom(host)', path: '/', headers: { Host: 'cdn.static.example.com' }, match: true },
  { what: 'hdr_beg(host) -i', path: '/', headers: { Host: 'Admin.example.org' }, match: true },
  { what: 'hdr_end(host) -i', path: '/', headers: { Host: 'db.internal' }, match: true },
  { what: 'path_beg', path: '/api/users' , match: true },
  { what: 'path_beg (2)', path: '/assets/logo', match: true },
  { what: 'path_end', path: '/a/photo.png', match: true },
  { what: 'path_end -i', path: '/app.CSS', match: true },
  { what: 'path_reg', path: '/users/42/profile', match: true },
  { what: 'path_reg -i', path: '/index.PHP', match: true },
  { what: 'path_dir + src', path: '/admin/users', localAddress: '127.0.0.2', match: true },
  { what: 'path_dir, src not matching', path: '/admin/users', match: false },
  { what: 'path', path: '/healthz', match: true },
  { what: 'method POST', path: '/', method: 'POST', match: true },
  { what: 'method OPTIONS', path: '/', method: 'OPTIONS', match: true },
  { what: 'src CIDR list (office)', path: '/', localAddress: '127.0.0.2', match: true },
  { what: 'src CIDR list (partner)', path: '/', localAddress: '127.0.0.3', match: true },
  { what: 'url_param -m found', path: '/?x=1&debug=1', match: true },
  { what: 'url_param', path: '/?version=v2', match: true },
  { what: 'urlp -i (anonymous ACL)', path: '/?a=b&lang=FR', match: true },
  { what: 'hdr_sub(user-agent) -i', path: '/', headers: { 'User-Agent': 'Mozilla/5.0 (compatible; Googlebot/2.1)' }, match: true },
  { what: 'hdr -m found', path: '/', headers: { 'X-Canary': 'yes' }, match: true },
  { what: 'the benchmark request', path: BENCH_PATH, headers: BENCH_HEADERS, match: false, bench: true },
];

function cfg(port, b1, b2, withRules) {
  return `# native-bench acl-cost.mjs, config ${withRules ? 'B: 20 ACL rules, then default_backend' : 'A: default_backend only'}.
# gatehouse and HAProxy read the same file; only the bind port differs.
global
    nbthread 1
    maxconn 7000
    no strict-limits
    tune.pool-low-fd-ratio 80
    tune.pool-high-fd-ratio 90

defaults
    mode http
    option http-keep-alive
    http-reuse always
${FORWARDFOR ? '    option forwardfor\n' : ''}    maxconn 7000
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 60s

frontend bench_in
    bind 127.0.0.1:${port}
${withRules ? ACL_RULES : ''}    default_backend bench_back

backend bench_back
    balance roundrobin
    server s1 127.0.0.1:${b1}
    server s2 127.0.0.1:${b2}

# the rules' backends, in both files; no servers: a request routed to one is answered 503
backend be_api
backend be_static
backend be_admin
backend be_internal
backend be_legacy
backend be_health
backend be_debug
backend be_canary
`;
}

async function routingCheck(port, withRules) {
  const out = [];
  for (const c of CHECKS) {
    let status;
    let body = '';
    try {
      const r = await request(port, { method: c.method || 'GET', path: c.path, headers: c.headers || {}, localAddress: c.localAddress });
      status = r.status;
      body = r.body.toString();
    } catch (e) { status = `error: ${e.message}`; }
    const routed = status === 503;
    const expect = withRules && c.match;
    const ok = routed === expect && (!c.bench || (status === 200 && body === BODY16));
    out.push({ what: c.what, status, ok, expected: expect ? 'rule (503)' : c.bench ? 'default_backend (200, 16 B)' : 'default_backend' });
  }
  return out;
}

// ---------------------------------------------------------------- profile
/** Self and total samples per function of a .cpuprofile; (idle), (program), GC kept apart. */
function summarizeProfile(file) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfHits = new Map();
  for (const s of prof.samples) selfHits.set(s, (selfHits.get(s) || 0) + 1);
  const total = prof.samples.length;
  const key = (n) => {
    const u = n.callFrame.url || '';
    const m = /\/(?:dist|src)\/(.*)\.(?:js|ts)$/.exec(u);
    const where = m ? `src/${m[1]}` : u.startsWith('node:') ? u : u ? path.basename(u) : '';
    return `${n.callFrame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
  };
  const fns = new Map();
  const get = (k) => { if (!fns.has(k)) fns.set(k, { fn: k, self: 0, total: 0 }); return fns.get(k); };
  // inclusive: each sample counts once per distinct function on its stack
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id);
  for (const [id, hits] of selfHits) {
    const n = byId.get(id);
    get(key(n)).self += hits;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      get(k).total += hits;
    }
  }
  // line-level ticks (V8 positionTicks) of the routing code, mapped back to the .ts source
  const lines = new Map();
  for (const n of prof.nodes) {
    const u = n.callFrame.url || '';
    if (!/\/(acl|rules)\/[^/]+\.js$/.test(u) || !n.positionTicks) continue;
    for (const pt of n.positionTicks) {
      const k = `${u}:${pt.line}`;
      lines.set(k, { url: u, line: pt.line, fn: n.callFrame.functionName, ticks: (lines.get(k)?.ticks || 0) + pt.ticks });
    }
  }
  const idle = fns.get('(idle)')?.self || 0;
  const busy = total - idle;
  const list = [...fns.values()].filter((f) => !/^\((root|idle)\)/.test(f.fn));
  const pct = (x) => (busy ? 100 * x / busy : 0);
  const routing = list.filter((f) => / src\/(acl|rules)\//.test(f.fn));
  const interval_us = prof.timeDeltas?.length ? prof.timeDeltas.reduce((a, b) => a + b, 0) / prof.timeDeltas.length : null;
  return {
    fns, interval_us,
    file: path.basename(file), samples: total, idle_samples: idle, busy_samples: busy,
    routing_self_pct: pct(routing.reduce((a, f) => a + f.self, 0)),
    top_self: list.sort((a, b) => b.self - a.self).slice(0, 15).map((f) => ({ fn: f.fn, self_pct: pct(f.self), total_pct: pct(f.total) })),
    routing: routing.sort((a, b) => b.total - a.total).map((f) => ({ fn: f.fn, self_pct: pct(f.self), total_pct: pct(f.total) })),
    routing_lines: [...lines.values()].sort((a, b) => b.ticks - a.ticks).slice(0, 12).map((l) => ({ ...sourceLine(l.url, l.line), fn: l.fn, pct: pct(l.ticks) })),
  };
}

/** The .ts file and line (through the .js.map next to the file) and its text, for a dist/ line (1-based). */
function sourceLine(url, line) {
  const js = url.replace(/^file:\/\//, '');
  const out = { where: `${path.relative(path.resolve(js, '../../..'), js)}:${line}`, text: '' };
  try {
    out.text = fs.readFileSync(js, 'utf8').split('\n')[line - 1].trim();
    const map = JSON.parse(fs.readFileSync(`${js}.map`, 'utf8'));
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let src = 0, srcLine = 0;
    const groups = map.mappings.split(';');
    for (let g = 0; g < line && g < groups.length; g++) {
      let first = null;
      for (const seg of groups[g].split(',').filter(Boolean)) {
        const vals = [];
        for (let i = 0, v = 0, shift = 0; i < seg.length; i++) {
          const d = B64.indexOf(seg[i]);
          v += (d & 31) << shift;
          if (d & 32) { shift += 5; continue; }
          vals.push(v & 1 ? -(v >>> 1) : v >>> 1);
          v = 0; shift = 0;
        }
        if (vals.length >= 4) { src += vals[1]; srcLine += vals[2]; if (first === null) first = { src, srcLine }; }
      }
      if (g === line - 1 && first) {
        const file = path.resolve(path.dirname(js), map.sourceRoot || '', map.sources[first.src]);
        out.where = `${path.relative(path.resolve(path.dirname(js), '../..'), file)}:${first.srcLine + 1}`;
        out.text = fs.readFileSync(file, 'utf8').split('\n')[first.srcLine].trim();
      }
    }
  } catch { /* keep the dist line */ }
  return out;
}

async function profileGatehouse(dir, file, port, label) {
  const profDir = path.join(dir, `cpu-prof-${label}`);
  fs.mkdirSync(profDir);
  const p = startProxy('gatehouse', file, path.join(dir, `gatehouse-prof-${label}.log`), { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] });
  let requests = 0;
  let run;
  try {
    await waitReady(port, p.child, 'gatehouse --cpu-prof');
    const warm = await runWrk(`http://127.0.0.1:${port}${BENCH_PATH}`, { conns: CONNS, duration: WARMUP, headers: Object.entries(BENCH_HEADERS).map(([k, v]) => `${k}: ${v}`) });
    run = await runWrk(`http://127.0.0.1:${port}${BENCH_PATH}`, { conns: CONNS, duration: PROFILE_DURATION, headers: Object.entries(BENCH_HEADERS).map(([k, v]) => `${k}: ${v}`), pids: [p.child.pid] });
    requests = (warm.requests || 0) + (run.requests || 0) + 1;
    log(`profile ${label}: ${Math.round(run.rps || 0)} req/s, ${fmt(run.cpu_us_per_req, 1)} µs CPU/req under --cpu-prof`);
  } finally {
    await stopChild(p.child, 20000); // graceful stop: every thread writes its profile on exit
  }
  const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(profDir, f));
  if (!files.length) return { error: 'no .cpuprofile written (gatehouse did not exit cleanly?)' };
  // the worker thread is the profile with the most busy samples
  const sums = files.map(summarizeProfile).sort((a, b) => b.busy_samples - a.busy_samples);
  return { worker: sums[0], requests, rps: run?.rps ?? null, cpu_us_per_req: run?.cpu_us_per_req ?? null,
    threads: sums.map((s) => ({ file: s.file, samples: s.samples, busy_samples: s.busy_samples })) };
}

/** Per function: wall-clock sampled µs per request in A and in B (self time), largest B - A first. */
function profileDiff(a, b) {
  const us = (prof, f, k) => (f ? f[k] * prof.worker.interval_us / prof.requests : 0);
  const names = new Set([...a.worker.fns.keys(), ...b.worker.fns.keys()]);
  const rows = [];
  for (const n of names) {
    if (/^\((root|idle)\)/.test(n)) continue;
    const fa = a.worker.fns.get(n), fb = b.worker.fns.get(n);
    rows.push({ fn: n, a_us: us(a, fa, 'self'), b_us: us(b, fb, 'self'), b_total_us: us(b, fb, 'total') });
  }
  for (const r of rows) r.diff_us = r.b_us - r.a_us;
  const busy = (p) => p.worker.busy_samples * p.worker.interval_us / p.requests;
  return { a_busy_us_per_req: busy(a), b_busy_us_per_req: busy(b), top: rows.sort((x, y) => y.diff_us - x.diff_us).slice(0, 15) };
}

// ---------------------------------------------------------------- main
async function main() {
  ensureTools({ nginx: 'nginx', wrk: 'wrk', ...(PROXIES.includes('haproxy') ? { haproxy: 'haproxy' } : {}) });
  watchdog(MAX_SECONDS);
  const t0 = Date.now();
  const mach = machine();
  const tmp = workDir('gatehouse-bench-acl-');
  const planned = PROXIES.length * 2 * (seconds(WARMUP) + ROUNDS * (seconds(DURATION) + PAUSE_MS / 1000 + 0.5));
  log(`work dir ${tmp}; ${PROXIES.join(',')}; ${ROUNDS} rounds of ${DURATION} after a ${WARMUP} warm-up; about ${Math.round(planned + 10)} s plus a profile run if needed (limit ${MAX_SECONDS} s)`);
  const results = {
    date: new Date().toISOString(), machine: mach,
    settings: { duration: DURATION, warmup: WARMUP, rounds: ROUNDS, conns: CONNS, proxies: PROXIES, bench_path: BENCH_PATH, bench_headers: BENCH_HEADERS,
      proxy_cpus: PROXY_CPUS || null, load_cpus: LOAD_CPUS || null, profile: PROFILE, profile_duration: PROFILE_DURATION, forwardfor: FORWARDFOR },
    configs: {}, proxies: {}, profile: null,
  };
  const [B1, B2, P_PROF, ...P] = await pickPorts(3 + PROXIES.length * 2);
  const backends = await startBackends(tmp, [B1, B2]);
  log(`backends up on ${B1} and ${B2}`);
  const runs = []; // { proxy, variant, port, child, pids }
  try {
    let i = 0;
    for (const name of PROXIES) {
      results.proxies[name] = { A: { rounds: [] }, B: { rounds: [] } };
      for (const variant of ['A', 'B']) {
        const port = P[i++];
        const file = path.join(tmp, `${name}-${variant}.cfg`);
        fs.writeFileSync(file, cfg(port, B1, B2, variant === 'B'));
        if (!results.configs[variant]) results.configs[variant] = cfg('PORT', 'B1', 'B2', variant === 'B');
        const r = { proxy: name, variant, port, logFile: path.join(tmp, `${name}-${variant}.log`), file };
        const slot = results.proxies[name][variant];
        try {
          Object.assign(r, startProxy(name, file, r.logFile));
          if (r.note) slot.note = r.note;
          await waitReady(port, r.child, `${name} ${variant}`);
          r.pids = [r.child.pid];
          slot.routing_check = await routingCheck(port, variant === 'B');
          const bad = slot.routing_check.filter((c) => !c.ok);
          log(`${name.padEnd(9)} ${variant} up on ${port}; routing check: ${slot.routing_check.length - bad.length}/${slot.routing_check.length} as expected${bad.length ? ` (unexpected: ${bad.map((c) => `${c.what} -> ${c.status}`).join('; ')})` : ''}`);
          const benchCheck = slot.routing_check.find((c) => c.what === 'the benchmark request');
          if (!benchCheck.ok) throw new Error(`the benchmark request does not get the 16 B answer (status ${benchCheck.status})`);
        } catch (e) {
          slot.error = `failed: ${e.message}`;
          log(`${name} ${variant}: ${slot.error}`);
          if (r.child) await stopChild(r.child);
          continue;
        }
        runs.push(r);
      }
    }
    const bench = (r, dur) => runWrk(`http://127.0.0.1:${r.port}${BENCH_PATH}`, { conns: CONNS, duration: dur, pids: dur === WARMUP ? [] : r.pids, headers: Object.entries(BENCH_HEADERS).map(([k, v]) => `${k}: ${v}`) });
    log(`warm-up ${WARMUP} each`);
    for (const r of runs) await bench(r, WARMUP);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const r of runs) {
        const slot = results.proxies[r.proxy][r.variant];
        if (r.child.exitInfo) { slot.error = `exited during the run (${JSON.stringify(r.child.exitInfo)})`; continue; }
        await sleep(PAUSE_MS);
        const res = await bench(r, DURATION);
        slot.rounds.push(res);
        log(`round ${round} ${r.proxy.padEnd(9)} ${r.variant} ${res.error || `${Math.round(res.rps)} req/s, cpu ${res.cpu_s.toFixed(2)} s = ${res.cpu_us_per_req.toFixed(1)} µs/req, p99 ${res.p99_ms.toFixed(2)} ms, errors ${res.errors}`}`);
      }
    }
    for (const r of runs) await stopChild(r.child);

    for (const [name, pr] of Object.entries(results.proxies)) {
      for (const v of ['A', 'B']) {
        const ok = pr[v].rounds.filter((x) => !x.error);
        if (!ok.length) continue;
        const med = (k) => median(ok.map((x) => x[k]));
        pr[v].summary = { rps: med('rps'), p50_ms: med('p50_ms'), p99_ms: med('p99_ms'), cpu_s: med('cpu_s'), cpu_us_per_req: med('cpu_us_per_req'),
          host_busy_cores: med('host_busy_cores'), errors: ok.reduce((a, x) => a + x.errors, 0), rounds_rps: ok.map((x) => Math.round(x.rps)) };
      }
      if (pr.A.summary && pr.B.summary) {
        const pairs = pr.A.rounds.map((a, k) => [a, pr.B.rounds[k]]).filter(([a, b]) => a && b && !a.error && !b.error);
        const rps = pairs.map(([a, b]) => b.rps / a.rps);
        const cpu = pairs.map(([a, b]) => b.cpu_us_per_req / a.cpu_us_per_req);
        pr.ratio = {
          rps_per_round: rps, cpu_per_round: cpu,
          rps_median_of_rounds: median(rps), cpu_median_of_rounds: median(cpu),
          rps_of_medians: pr.B.summary.rps / pr.A.summary.rps, cpu_of_medians: pr.B.summary.cpu_us_per_req / pr.A.summary.cpu_us_per_req,
          cpu_us_added_per_req: pr.B.summary.cpu_us_per_req - pr.A.summary.cpu_us_per_req,
        };
      }
    }

    const g = results.proxies.gatehouse?.ratio;
    const costly = g && (g.rps_median_of_rounds <= 0.95 || g.cpu_median_of_rounds >= 1.05);
    if (g) log(`gatehouse B/A: req/s ${fmt(g.rps_median_of_rounds, 3)} (per round ${g.rps_per_round.map((x) => fmt(x, 3)).join(' ')}), CPU/req ${fmt(g.cpu_median_of_rounds, 3)}`);
    if (PROXIES.includes('gatehouse') && (PROFILE === '1' || (PROFILE === 'auto' && costly))) {
      log(`profiling gatehouse B under node --cpu-prof (${PROFILE === '1' ? 'ACL_PROFILE=1' : 'cost >= 5%'})`);
      const dir = path.join(tmp, 'profile');
      fs.mkdirSync(dir);
      const prof = {};
      for (const v of ['A', 'B']) {
        const file = path.join(dir, `gatehouse-${v}.cfg`);
        fs.writeFileSync(file, cfg(P_PROF, B1, B2, v === 'B'));
        prof[v] = await profileGatehouse(dir, file, P_PROF, v);
      }
      if (prof.A.error || prof.B.error) results.profile = { error: prof.A.error || prof.B.error };
      else {
        const diff = profileDiff(prof.A, prof.B);
        for (const v of ['A', 'B']) { delete prof[v].worker.fns; }
        results.profile = { worker: prof.B.worker, diff, A: { requests: prof.A.requests, rps: prof.A.rps, cpu_us_per_req: prof.A.cpu_us_per_req, worker_busy_samples: prof.A.worker.busy_samples, threads: prof.A.threads },
          B: { requests: prof.B.requests, rps: prof.B.rps, cpu_us_per_req: prof.B.cpu_us_per_req, threads: prof.B.threads } };
        log(`worker profile B: src/acl + src/rules self time ${fmt(prof.B.worker.routing_self_pct, 1)}% of busy samples; busy wall µs/req A ${fmt(diff.a_busy_us_per_req, 1)} B ${fmt(diff.b_busy_us_per_req, 1)}`);
      }
    } else if (PROFILE === 'auto') results.profile = { skipped: `cost below 5% (ACL_PROFILE=1 profiles anyway)` };
  } finally {
    for (const r of runs) await stopChild(r.child);
    await Promise.all(backends.map((b) => stopChild(b.child)));
  }
  results.wall_seconds = (Date.now() - t0) / 1000;
  save('acl', results, render(results));
}

function render(R) {
  const L = [];
  L.push('# native-bench ACL cost: 20 routing rules vs none', '');
  L.push(`- date: ${R.date}`, ...machineLines(R.machine));
  L.push(`- settings: ${R.settings.rounds} rounds of ${R.settings.duration}, alternating A and B for each proxy (gatehouse A, B, HAProxy A, B, ...), after a ${R.settings.warmup} warm-up; wrk -t1 -c${R.settings.conns}; 1 worker / nbthread 1; two nginx backends, 16 B answer; wall time ${Math.round(R.wall_seconds)} s` +
    `${R.settings.proxy_cpus ? `; proxies pinned to CPU ${R.settings.proxy_cpus}` : ''}${R.settings.load_cpus ? `; load pinned to CPU ${R.settings.load_cpus}` : ''}`);
  if (R.settings.forwardfor) L.push('- both files have `option forwardfor` (ACL_FORWARDFOR=1)');
  L.push(`- request: \`GET ${R.settings.bench_path}\` with Host, User-Agent (a browser's) and Accept; it matches none of the 20 rules`);
  L.push('- A: `frontend` -> `default_backend`; B: the same plus 19 named ACLs (hdr(host) -i, hdr_dom, hdr_beg, hdr_end, hdr_sub, path, path_beg, path_end, path_reg, path_dir, method, src CIDR lists, url_param, -m found) and 20 `use_backend ... if` lines (one with `||`, one with two ACLs, one anonymous `{ urlp(lang) -i ... }`); the files are in acl.json');
  for (const [name, pr] of Object.entries(R.proxies)) {
    for (const v of ['A', 'B']) {
      const rc = pr[v].routing_check;
      if (rc) {
        const bad = rc.filter((c) => !c.ok);
        L.push(`- routing check, ${NAME[name]} ${v}: ${rc.length - bad.length}/${rc.length} requests routed as expected${bad.length ? ` (NOT: ${bad.map((c) => `${c.what} -> ${c.status}, expected ${c.expected}`).join('; ')})` : ''}`);
      }
      if (pr[v].note) L.push(`- ${NAME[name]} ${v}: ${pr[v].note}`);
      if (pr[v].error) L.push(`- ${NAME[name]} ${v}: ${pr[v].error}`);
    }
  }
  L.push('');
  L.push('| proxy | config | req/s | p50 ms | p99 ms | CPU s/run | CPU µs/req | host cores busy | errors | req/s per round |');
  L.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const [name, pr] of Object.entries(R.proxies)) {
    for (const v of ['A', 'B']) {
      const S = pr[v].summary;
      if (!S) { L.push(`| ${NAME[name]} | ${v} | - | | | | | | | ${(pr[v].error || '').replace(/\|/g, '/')} |`); continue; }
      L.push(`| ${NAME[name]} | ${v === 'A' ? 'A (no rules)' : 'B (20 rules)'} | ${kfmt(S.rps)} | ${fmt(S.p50_ms)} | ${fmt(S.p99_ms)} | ${fmt(S.cpu_s)} | ${fmt(S.cpu_us_per_req, 1)} | ${fmt(S.host_busy_cores)} | ${S.errors} | ${S.rounds_rps.map(kfmt).join(' / ')} |`);
    }
  }
  L.push('');
  L.push('| proxy | B/A req/s (median of rounds) | per round | B/A req/s (of medians) | B/A CPU µs/req (median of rounds) | per round | CPU µs/req added | throughput cost | CPU/req cost | goal < 5% |');
  L.push('|---|--:|---|--:|--:|---|--:|--:|--:|---|');
  for (const [name, pr] of Object.entries(R.proxies)) {
    const r = pr.ratio;
    if (!r) continue;
    const tc = 1 - r.rps_median_of_rounds;
    const cc = r.cpu_median_of_rounds - 1;
    const verdict = tc < 0.05 && cc < 0.05 ? 'met' : tc >= 0.05 && cc >= 0.05 ? 'NOT met' : tc < 0.05 ? 'met by req/s, not by CPU/req' : 'met by CPU/req, not by req/s';
    L.push(`| ${NAME[name]} | ${fmt(r.rps_median_of_rounds, 3)} | ${r.rps_per_round.map((x) => fmt(x, 3)).join(' / ')} | ${fmt(r.rps_of_medians, 3)} | ${fmt(r.cpu_median_of_rounds, 3)} | ${r.cpu_per_round.map((x) => fmt(x, 3)).join(' / ')} | ${fmt(r.cpu_us_added_per_req, 1)} | ${fmt(100 * tc, 1)}% | ${fmt(100 * cc, 1)}% | ${verdict} |`);
  }
  L.push('');
  L.push('Per round, A and B of one proxy run next to each other, so their ratio is less exposed to the load of the shared machine than the ratio of the medians. Throughput cost = 1 - B/A req/s, CPU/req cost = B/A CPU per request - 1, both medians of the per-round ratios. When the machine is saturated (host cores busy = all of them), req/s depends on the CPU share each process gets and swings by 30% between rounds; CPU per request is the steadier estimate of what the rules cost (at saturation, throughput ~ 1 / CPU per request). CPU = utime+stime of the proxy process (all threads) during one run; host cores busy = whole-machine busy CPU during the run.');
  const P = R.profile;
  if (P?.worker) {
    const w = P.worker;
    L.push('', '## Profile of gatehouse B (node --cpu-prof, worker thread)', '');
    L.push(`${w.busy_samples} busy samples of ${w.samples} (the rest idle). src/acl + src/rules self time: ${fmt(w.routing_self_pct, 1)}% of the busy samples. Sampling is wall-clock per thread: time blocked in a syscall counts for the function that made it.`, '');
    L.push('| function (src/acl, src/rules) | self % | total % |', '|---|--:|--:|');
    for (const f of w.routing.slice(0, 20)) L.push(`| \`${f.fn}\` | ${fmt(f.self_pct, 2)} | ${fmt(f.total_pct, 2)} |`);
    if (w.routing_lines?.length) {
      L.push('', '| hottest lines of src/acl, src/rules | function | % of busy samples | code |', '|---|---|--:|---|');
      for (const l of w.routing_lines) L.push(`| ${l.where} | \`${l.fn}\` | ${fmt(l.pct, 2)} | \`${l.text.replace(/\|/g, '\\|').slice(0, 100)}\` |`);
    }
    const D = P.diff;
    if (D) {
      L.push('', `What B adds, function by function: gatehouse A and B each profiled for ${R.settings.profile_duration} under the same load; sampled (wall-clock) µs per request of self time. Busy µs/req of the worker thread: A ${fmt(D.a_busy_us_per_req, 1)}, B ${fmt(D.b_busy_us_per_req, 1)}; CPU µs/req of the process during those runs: A ${fmt(P.A.cpu_us_per_req, 1)}, B ${fmt(P.B.cpu_us_per_req, 1)}.`, '');
      L.push('| function | A µs/req | B µs/req | B - A | B incl. callees |', '|---|--:|--:|--:|--:|');
      for (const r of D.top) L.push(`| \`${r.fn}\` | ${fmt(r.a_us, 2)} | ${fmt(r.b_us, 2)} | ${fmt(r.diff_us, 2)} | ${fmt(r.b_total_us, 2)} |`);
    }
    L.push('', '| top functions by self time (B) | self % | total % |', '|---|--:|--:|');
    for (const f of w.top_self) L.push(`| \`${f.fn}\` | ${fmt(f.self_pct, 2)} | ${fmt(f.total_pct, 2)} |`);
  } else if (P?.error) L.push('', `Profile: ${P.error}`);
  else if (P?.skipped) L.push('', `Profile: skipped, ${P.skipped}.`);
  return L.join('\n') + '\n';
}

runMain(main);
