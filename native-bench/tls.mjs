#!/usr/bin/env node
// native-bench TLS (issue 8): gatehouse vs HAProxy terminating TLS with the same certificate and
// the same haproxy.cfg (`bind 127.0.0.1:PORT ssl crt FILE`, 1 worker / nbthread 1), proxying to
// the two nginx backends of bench.mjs (16 B answer on `/`).
//   node native-bench/tls.mjs            (or `make bench-tls`)
// Measures, alternating gatehouse and HAProxy round by round after a warm-up:
//   ka     keep-alive TLS requests/s: wrk -t1 -c50 https://127.0.0.1:PORT/
//   hs     full TLS handshakes/s, one request per connection: parallel `openssl s_time -new`
//          (no session resumption; its request carries Host and Connection: close)
//   close  wrk -H 'Connection: close' over https: a new connection per request, but wrk resumes
//          the TLS session when the server issued a ticket (measured by the client check below)
// Writes results/tls.md and results/tls.json. Everything runs on 127.0.0.1; every process started
// is stopped by PID at the end, on error, Ctrl-C, or at TLS_MAX_SECONDS. See README.md.
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import {
  setLogTag, log, sleep, seconds, median, ensureTools, launch, stopChild, watchdog, runMain, cpuTicks,
  pickPorts, request, waitReady, machine, workDir, startBackends, startProxy, runWrk, fmt, kfmt, machineLines,
  save, BODY16, LOAD_CPUS, PROXY_CPUS, firstLine, CLK_TCK, hostTicks, hostBusyCores,
} from './bench-lib.mjs';

setLogTag('bench-tls');
const E = process.env;
const DURATION = E.TLS_DURATION || '10s';
const WARMUP = E.TLS_WARMUP || '3s';
const ROUNDS = Math.max(1, Number(E.TLS_ROUNDS || 3));
const PAUSE_MS = Number(E.TLS_PAUSE_MS || 1000);
const CONNS = Number(E.TLS_CONNS || 50);
const STIME_PROCS = Math.max(1, Number(E.TLS_STIME_PROCS || 8));
// what to measure per certificate type: "CERT:MODE,MODE;CERT:MODE". Keep-alive requests do not
// depend on the certificate once the connection is up, so by default ECDSA gets the handshakes only.
const PLAN = (E.TLS_PLAN || 'rsa:ka,hs,close;ecdsa:hs').split(';').map((x) => x.trim()).filter(Boolean).map((x) => {
  const [cert, modes] = x.split(':');
  return { cert: cert.trim(), modes: (modes || 'ka,hs,close').split(/[ ,]+/).filter(Boolean) };
});
const CERTS = PLAN.map((p) => p.cert);
const MODES_OF = Object.fromEntries(PLAN.map((p) => [p.cert, p.modes]));
const MODES = [...new Set(PLAN.flatMap((p) => p.modes))];
const PROXIES = (E.TLS_PROXIES || 'gatehouse,haproxy').split(/[ ,]+/).filter(Boolean);
const MAX_SECONDS = Number(E.TLS_MAX_SECONDS || 600);
for (const c of CERTS) if (!['rsa', 'ecdsa'].includes(c)) throw new Error(`TLS_PLAN: unknown certificate type ${c} (rsa, ecdsa)`);
for (const m of MODES) if (!['ka', 'hs', 'close'].includes(m)) throw new Error(`TLS_PLAN: unknown mode ${m} (ka, hs, close)`);

const CERT_TITLE = { rsa: 'RSA-2048', ecdsa: 'ECDSA P-256' };
const MODE_TITLE = {
  ka: `keep-alive requests/s (wrk -t1 -c${CONNS})`,
  hs: `full handshakes/s, 1 request each (${STIME_PROCS} x openssl s_time -new)`,
  close: `new connection per request, resumption allowed (wrk -t1 -c${CONNS}, Connection: close)`,
};
const NAME = { gatehouse: 'gatehouse', haproxy: 'HAProxy' };
// openssl s_time sends `GET <path> HTTP/1.0\r\n\r\n`: the path carries the rest of a proper
// HTTP/1.1 request head (Host, which uWS requires, and Connection: close so the proxy closes)
const STIME_PATH = '/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Pad:';

// ---------------------------------------------------------------- certificates
function makeCert(dir, type) {
  const key = path.join(dir, `${type}.key`);
  const crt = path.join(dir, `${type}.crt`);
  const newkey = type === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync('openssl', ['req', '-x509', ...newkey, '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', crt], { stdio: 'ignore' });
  const pem = path.join(dir, `${type}.pem`);
  fs.writeFileSync(pem, fs.readFileSync(crt, 'utf8') + fs.readFileSync(key, 'utf8'));
  return pem;
}

function haproxyCfg(port, pem, b1, b2) {
  return `# native-bench tls.mjs: gatehouse and HAProxy read this same file; only the bind port differs.
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
    maxconn 7000
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 60s

frontend bench_tls
    bind 127.0.0.1:${port} ssl crt ${pem}
    default_backend bench_back

backend bench_back
    balance roundrobin
    server s1 127.0.0.1:${b1}
    server s2 127.0.0.1:${b2}
`;
}

// ---------------------------------------------------------------- TLS probes
/** Handshake facts of a server, and whether it resumes a session (TLS 1.3 ticket) offered by the client. */
function tlsConnect(port, session) {
  return new Promise((resolve, reject) => {
    let ticket = null;
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, session });
    const timer = setTimeout(() => s.destroy(new Error('timeout')), 5000);
    s.on('session', (sess) => { ticket = sess; });
    let info = null;
    let body = '';
    s.on('secureConnect', () => {
      const cert = s.getPeerCertificate();
      const eph = s.getEphemeralKeyInfo();
      info = { protocol: s.getProtocol(), cipher: s.getCipher().name, reused: s.isSessionReused(), alpn: s.alpnProtocol || null,
        key: cert.asn1Curve ? `ECDSA ${cert.nistCurve || cert.asn1Curve}` : cert.bits ? `RSA-${cert.bits}` : '?', group: eph && eph.name ? eph.name : null };
      s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    s.on('data', (d) => { body += d; });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => {
      clearTimeout(timer);
      if (!info) return reject(new Error('closed before the handshake'));
      resolve({ ...info, status: Number((/^HTTP\/1\.1 (\d+)/.exec(body) || [])[1]), bodyOk: body.endsWith(BODY16), ticket });
    });
  });
}
async function probe(port) {
  const a = await tlsConnect(port);
  const b = a.ticket ? await tlsConnect(port, a.ticket) : null;
  return { protocol: a.protocol, cipher: a.cipher, key: a.key, group: a.group, alpn: a.alpn, status: a.status, body_ok: a.bodyOk,
    ticket_issued: !!a.ticket, resumes: b ? b.reused : false };
}

/**
 * What the clients do about resumption, checked against a node:https server that counts resumed
 * handshakes (isSessionReused on the server side): wrk with Connection: close, and s_time -new.
 */
async function clientCheck(pem, port) {
  const text = fs.readFileSync(pem, 'utf8');
  let full = 0, resumed = 0;
  const srv = https.createServer({ key: text, cert: text }, (req, res) => res.end(BODY16));
  srv.on('secureConnection', (s) => { if (s.isSessionReused()) resumed++; else full++; });
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  try {
    const out = {};
    await runWrk(`https://127.0.0.1:${port}/`, { conns: 4, duration: '2s', close: true });
    out.wrk_close = { full, resumed };
    full = 0; resumed = 0;
    await runStime(port, { procs: 1, secs: 1 });
    out.stime_new = { full, resumed };
    return out;
  } finally {
    srv.closeAllConnections?.();
    await new Promise((r) => srv.close(r));
  }
}

// ---------------------------------------------------------------- s_time runs
/** `procs` parallel `openssl s_time -new -time secs`, each timed from spawn to exit. */
async function runStime(port, { procs, secs, pids = [] }) {
  const cpu0 = cpuTicks(pids);
  const h0 = hostTicks();
  const runs = [];
  for (let i = 0; i < procs; i++) {
    const t0 = process.hrtime.bigint();
    const c = launch('s_time', 'openssl', ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', secs, '-www', STIME_PATH], { cpus: LOAD_CPUS, pipeStdout: true });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    const killer = setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, (secs + 15) * 1000);
    runs.push(c.exited.then((exit) => {
      clearTimeout(killer);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const m = /(\d+) connections in \d+ real seconds, (\d+) bytes read per connection/.exec(out);
      return m ? { conns: Number(m[1]), bytes_per_conn: Number(m[2]), wall } : { error: `s_time: no result (${JSON.stringify(exit)}): ${out.replace(/\*+/g, '').trim().slice(0, 200)}`, wall };
    }));
  }
  const res = await Promise.all(runs);
  const cpu_s = (cpuTicks(pids) - cpu0) / CLK_TCK;
  const host_busy_cores = hostBusyCores(h0, hostTicks());
  const ok = res.filter((r) => !r.error);
  if (!ok.length) return { error: res[0].error };
  const conns = ok.reduce((a, r) => a + r.conns, 0);
  // a connection whose answer did not come back reads (almost) nothing: status line + 16 B body
  const bad = ok.filter((r) => r.bytes_per_conn < 16 + 17).length;
  return {
    rps: ok.reduce((a, r) => a + r.conns / r.wall, 0), requests: conns, seconds: median(ok.map((r) => r.wall)),
    bytes_per_conn: median(ok.map((r) => r.bytes_per_conn)),
    errors: res.length - ok.length + bad, error_detail: { failed_processes: res.length - ok.length, processes_reading_no_answer: bad },
    cpu_s, cpu_us_per_req: conns ? cpu_s * 1e6 / conns : null, host_busy_cores,
  };
}

// ---------------------------------------------------------------- main
async function main() {
  ensureTools({ haproxy: 'haproxy', nginx: 'nginx', wrk: 'wrk', openssl: 'openssl' });
  watchdog(MAX_SECONDS);
  const t0 = Date.now();
  const mach = machine({ openssl: firstLine('openssl', ['version']) });
  const tmp = workDir('gatehouse-bench-tls-');
  const planned = PLAN.reduce((a, p) => a + p.modes.length, 0) * (PROXIES.length * (seconds(WARMUP) + ROUNDS * (seconds(DURATION) + PAUSE_MS / 1000 + 1)));
  log(`work dir ${tmp}; plan ${PLAN.map((p) => `${p.cert}: ${p.modes.join(',')}`).join('; ')}; ${ROUNDS} rounds of ${DURATION} after a ${WARMUP} warm-up; about ${Math.round(planned + 15)} s (limit ${MAX_SECONDS} s)`);
  const results = {
    date: new Date().toISOString(), machine: mach,
    settings: { duration: DURATION, warmup: WARMUP, rounds: ROUNDS, conns: CONNS, stime_procs: STIME_PROCS, plan: PLAN, proxies: PROXIES,
      proxy_cpus: PROXY_CPUS || null, load_cpus: LOAD_CPUS || null, stime_request: STIME_PATH.replace(/\r\n/g, '\\r\\n') },
    client_check: null, certs: [],
  };

  const [B1, B2, P_CHECK, ...P] = await pickPorts(3 + PROXIES.length);
  const ports = Object.fromEntries(PROXIES.map((n, i) => [n, P[i]]));
  const pems = Object.fromEntries(CERTS.map((c) => [c, makeCert(tmp, c)]));
  log(`certificates: ${CERTS.map((c) => `${CERT_TITLE[c]} ${path.basename(pems[c])}`).join(', ')} (self-signed, CN=localhost)`);

  results.client_check = await clientCheck(pems[CERTS[0]], P_CHECK);
  const cc = results.client_check;
  log(`client check against node:https: wrk Connection: close -> ${cc.wrk_close.resumed} of ${cc.wrk_close.full + cc.wrk_close.resumed} handshakes resumed; s_time -new -> ${cc.stime_new.resumed} of ${cc.stime_new.full + cc.stime_new.resumed} resumed`);

  const backends = await startBackends(tmp, [B1, B2]);
  log(`backends up on ${B1} and ${B2}`);
  try {
    for (const cert of CERTS) {
      const entry = { cert, title: CERT_TITLE[cert], proxies: {}, modes: {} };
      results.certs.push(entry);
      const dir = path.join(tmp, `cert-${cert}`);
      fs.mkdirSync(dir);
      const procs = [];
      for (const name of PROXIES) {
        const file = path.join(dir, `${name}.cfg`);
        fs.writeFileSync(file, haproxyCfg(ports[name], pems[cert], B1, B2));
        const p = { name, port: ports[name], logFile: path.join(dir, `${name}.log`) };
        try {
          const s = startProxy(name, file, p.logFile);
          Object.assign(p, s);
          await waitReady(p.port, p.child, name, { tls: true });
          const r = await request(p.port, { tls: true });
          if (r.status !== 200 || r.body.toString() !== BODY16) throw new Error(`GET / over TLS: status ${r.status}, body ${JSON.stringify(r.body.toString().slice(0, 40))}`);
          p.pids = [p.child.pid];
          p.probe = await probe(p.port);
          log(`${cert} ${name.padEnd(9)} up on ${p.port}: ${p.probe.protocol} ${p.probe.cipher} ${p.probe.group || ''} ${p.probe.key}; ticket ${p.probe.ticket_issued ? 'issued' : 'none'}, resumption ${p.probe.resumes ? 'accepted' : 'refused'}`);
        } catch (e) {
          let tail = '';
          try { tail = fs.readFileSync(p.logFile, 'utf8').trim().split('\n').slice(-3).join(' / '); } catch { /* none */ }
          p.error = `failed: ${e.message}${tail ? ` [log: ${tail.slice(0, 300)}]` : ''}`;
          log(`${name}: ${p.error}`);
          if (p.child) await stopChild(p.child);
        }
        entry.proxies[name] = { probe: p.probe || null, note: p.note || null, error: p.error || null };
        procs.push(p);
      }
      entry.haproxy_cfg = fs.readFileSync(path.join(dir, `${PROXIES[0]}.cfg`), 'utf8');
      const live = procs.filter((p) => !p.error);
      const measure = (mode, p, dur) => (mode === 'hs'
        ? runStime(p.port, { procs: STIME_PROCS, secs: Math.max(1, Math.round(seconds(dur))), pids: p.pids })
        : runWrk(`https://127.0.0.1:${p.port}/`, { conns: CONNS, duration: dur, close: mode === 'close', pids: p.pids }));
      try {
        for (const mode of MODES_OF[cert]) {
          const m = { title: MODE_TITLE[mode], proxies: {} };
          entry.modes[mode] = m;
          log(`== ${cert} ${mode}: ${MODE_TITLE[mode]}; warm-up ${WARMUP} each`);
          for (const p of live) await measure(mode, p, WARMUP);
          for (let r = 1; r <= ROUNDS; r++) {
            for (const p of live) {
              const pm = (m.proxies[p.name] ||= { rounds: [] });
              if (p.child.exitInfo) { pm.error = `exited during the run (${JSON.stringify(p.child.exitInfo)})`; continue; }
              await sleep(PAUSE_MS);
              const res = await measure(mode, p, DURATION);
              pm.rounds.push(res);
              log(`${cert} ${mode} round ${r} ${p.name.padEnd(9)} ${res.error || `${Math.round(res.rps)}/s cpu ${res.cpu_s.toFixed(2)} s = ${res.cpu_us_per_req.toFixed(0)} µs/req errors ${res.errors}${res.p99_ms != null ? ` p99 ${res.p99_ms.toFixed(2)} ms` : ''}`}`);
            }
          }
          for (const [name, pm] of Object.entries(m.proxies)) {
            const ok = pm.rounds.filter((x) => !x.error);
            if (!ok.length) continue;
            const med = (k) => median(ok.map((x) => x[k]));
            for (const x of ok) x.proxy_core_pct = x.seconds ? 100 * x.cpu_s / x.seconds : null;
            pm.summary = { proxy_core_pct: med('proxy_core_pct'), host_busy_cores: med('host_busy_cores'), rps: med('rps'), p50_ms: med('p50_ms'), p99_ms: med('p99_ms'), cpu_s: med('cpu_s'), cpu_us_per_req: med('cpu_us_per_req'),
              errors: ok.reduce((a, x) => a + x.errors, 0), requests: ok.reduce((a, x) => a + x.requests, 0), rounds_rps: ok.map((x) => Math.round(x.rps)) };
            if (name !== 'haproxy' && m.proxies.haproxy) {
              // ratio per round (runs next to each other in time), then their median
              const h = m.proxies.haproxy.rounds;
              const rr = pm.rounds.map((x, i) => (!x.error && h[i] && !h[i].error ? x.rps / h[i].rps : null)).filter((x) => x != null);
              const rc = pm.rounds.map((x, i) => (!x.error && h[i] && !h[i].error ? x.cpu_us_per_req / h[i].cpu_us_per_req : null)).filter((x) => x != null);
              pm.summary.round_ratios_rps = rr;
              pm.summary.median_round_ratio_rps = median(rr);
              pm.summary.median_round_ratio_cpu = median(rc);
            }
          }
        }
      } finally {
        for (const p of procs) if (p.child) await stopChild(p.child);
      }
      for (const p of procs) {
        try { entry.proxies[p.name].log_tail = fs.readFileSync(p.logFile, 'utf8').trim().split('\n').slice(-5); } catch { /* none */ }
      }
    }
  } finally {
    await Promise.all(backends.map((b) => stopChild(b.child)));
  }
  results.wall_seconds = (Date.now() - t0) / 1000;
  save('tls', results, render(results));
}

function render(R) {
  const L = [];
  const m = R.machine;
  const cc = R.client_check;
  L.push('# native-bench TLS: gatehouse vs HAProxy, same certificate and haproxy.cfg', '');
  L.push(`- date: ${R.date}`, ...machineLines(m));
  L.push(`- settings: ${R.settings.rounds} rounds of ${R.settings.duration} per proxy in alternation after a ${R.settings.warmup} warm-up; medians shown; 1 worker / nbthread 1; two nginx backends, 16 B answer; wall time ${Math.round(R.wall_seconds)} s` +
    `${R.settings.proxy_cpus ? `; proxies pinned to CPU ${R.settings.proxy_cpus}` : ''}${R.settings.load_cpus ? `; load pinned to CPU ${R.settings.load_cpus}` : ''}`);
  L.push(`- config: \`bind 127.0.0.1:PORT ssl crt FILE\` (combined PEM, self-signed, CN=localhost), \`default_backend\` to 2 servers, keep-alive and \`http-reuse always\`; the full file is in tls.json`);
  L.push(`- client check (against a node:https server counting resumed handshakes): wrk with \`Connection: close\` resumed ${cc.wrk_close.resumed} of ${cc.wrk_close.full + cc.wrk_close.resumed} handshakes (it keeps the TLS session across reconnects); \`openssl s_time -new\` resumed ${cc.stime_new.resumed} of ${cc.stime_new.full + cc.stime_new.resumed}`);
  for (const c of R.certs) {
    const pr = Object.entries(c.proxies).map(([n, p]) => (p.probe ? `${NAME[n]} ${p.probe.protocol} ${p.probe.cipher}${p.probe.group ? ` ${p.probe.group}` : ''}, ${p.probe.key} key, ALPN ${p.probe.alpn || 'none'}, session ticket ${p.probe.ticket_issued ? 'issued' : 'not issued'}, resumption ${p.probe.resumes ? 'accepted' : 'not accepted'}` : `${NAME[n]}: ${p.error}`));
    L.push(`- ${c.title}: ${pr.join('; ')}`);
    for (const [n, p] of Object.entries(c.proxies)) if (p.note) L.push(`- ${c.title} ${NAME[n]}: ${p.note}`);
  }
  L.push('');
  L.push('| certificate | measurement | proxy | per second | vs HAProxy | per-round ratios | p50 ms | p99 ms | CPU s/run | proxy CPU % | host cores busy | CPU µs/req | CPU/req vs HAProxy | errors | per round |');
  L.push('|---|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const c of R.certs) {
    for (const [mode, md] of Object.entries(c.modes)) {
      const base = md.proxies.haproxy?.summary;
      for (const [name, pm] of Object.entries(md.proxies)) {
        const S = pm.summary;
        if (!S) { L.push(`| ${c.title} | ${md.title} | ${NAME[name]} | - | | | | | | | | | | | ${(pm.error || pm.rounds.map((x) => x.error).join('; ')).replace(/\|/g, '/')} |`); continue; }
        const vs = name === 'haproxy' ? '1.00' : base ? fmt(S.rps / base.rps) : '-';
        const cpuVs = name === 'haproxy' ? '1.00' : base ? fmt(S.cpu_us_per_req / base.cpu_us_per_req) : '-';
        L.push(`| ${c.title} | ${md.title} | ${NAME[name]} | ${kfmt(S.rps)} | ${vs} | ${S.round_ratios_rps ? S.round_ratios_rps.map((x) => fmt(x)).join(' / ') : ''} | ${fmt(S.p50_ms)} | ${fmt(S.p99_ms)} | ${fmt(S.cpu_s)} | ${fmt(S.proxy_core_pct, 0)} | ${fmt(S.host_busy_cores, 2)} | ${fmt(S.cpu_us_per_req, 1)} | ${cpuVs} | ${S.errors} | ${S.rounds_rps.map(kfmt).join(' / ')} |`);
      }
    }
  }
  L.push('');
  L.push(`"per second" is requests/s for the wrk rows and connections/s (each one full handshake plus one 16 B request) for the s_time rows; "vs HAProxy" is the ratio of the medians, "per-round ratios" the ratio of the two runs of each round. CPU = utime+stime of the proxy process (all threads) during one run; proxy CPU % = that over the run's length (100 = one core); host cores busy = the whole machine's busy CPU from /proc/stat during the run (load generator, backends, proxy and anything else running), out of ${R.machine.nproc}. s_time gives no latency.`);
  return L.join('\n') + '\n';
}

runMain(main);
