#!/usr/bin/env node
// Slowloris soak for gatehouse (issue 7, item 3). Plain Node ESM, no dependencies.
//
//   node native-bench/soak-slowloris.mjs            # defaults: 2000 attack connections, < 90 s
//   SOAK_CONNS=1000 SOAK_SECONDS=60 node native-bench/soak-slowloris.mjs
//
// Starts, all on 127.0.0.1 and all tracked by PID:
//   - one node:http backend (this file with --backend), forked with IPC,
//   - gatehouse (`node dist/cli.js -f soak.yaml`, 1 worker) on a free port,
//   - the attacker (this file with --attack), forked with IPC, so its event loop does not
//     distort the latency of the normal clients, which run in this (the orchestrator) process.
// Phases: baseline (normal clients only) -> attack (N slow connections held open, re-opened when
// gatehouse closes them, normal clients measured throughout) -> recovery (attack stopped).
// Prints markdown tables: normal-client latency per phase, a timeline, and what happened to the
// attack connections (who closed them, when, with which answer). See native-bench/README.md.
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLK_TCK, cpuTicks } from './util.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '..');
const envNum = (k, d) => (process.env[k] !== undefined && process.env[k] !== '' ? Number(process.env[k]) : d);


// ---------------------------------------------------------------------------------------------
// Backend: GET -> 200 "ok\n"; POST/PUT -> reads the body, answers when it ends. Never times out
// on its own (requestTimeout 0), so every close seen by the attacker is gatehouse's doing.
function runBackend() {
  const st = { requests: 0, uploadsActive: 0, uploadsPeak: 0, uploadsStarted: 0, conns: 0, connsPeak: 0, connsTotal: 0 };
  const srv = http.createServer((req, res) => {
    st.requests++;
    if (req.method === 'GET' || req.method === 'HEAD') {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
      res.end('ok\n');
      return;
    }
    st.uploadsStarted++;
    st.uploadsActive++;
    if (st.uploadsActive > st.uploadsPeak) st.uploadsPeak = st.uploadsActive;
    let n = 0;
    let done = false;
    const fin = () => { if (!done) { done = true; st.uploadsActive--; } };
    req.on('data', (d) => { n += d.length; });
    req.on('end', () => { fin(); res.writeHead(200, { 'content-length': String(String(n).length) }); res.end(String(n)); });
    req.on('close', fin);
    req.on('error', fin);
  });
  srv.requestTimeout = 0;
  srv.headersTimeout = 60000;
  srv.keepAliveTimeout = 60000;
  srv.timeout = 0;
  srv.on('connection', (s) => {
    st.conns++; st.connsTotal++;
    if (st.conns > st.connsPeak) st.connsPeak = st.conns;
    s.on('close', () => { st.conns--; });
  });
  srv.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: srv.address().port }));
  process.on('message', (m) => {
    if (m?.type === 'stats') process.send({ type: 'stats', stats: { ...st } });
    if (m?.type === 'stop') { srv.closeAllConnections?.(); srv.close(); process.exit(0); }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Attacker. Kinds:
//   head     - partial request head, TRICKLE_BYTES bytes every TRICKLE_MS (never finishes the head)
//   body     - complete head with Content-Length: 999999999 (uWS drops 10-digit lengths), then TRICKLE_BYTES body bytes every TRICKLE_MS
//   bodyslow - the same, but one byte every SLOW_MS (default longer than `timeout client`)
// Every connection records its lifetime and how it ended. With reconnect on, a closed connection
// is replaced (after RECONNECT_DELAY_MS), so the attack keeps N open as a real slowloris does.
function runAttacker() {
  const cfg = JSON.parse(process.argv[3]);
  const { port, conns, mix, trickleMs, trickleBytes, slowMs, openRate, reconnect, reconnectDelayMs } = cfg;
  const HEAD = 'GET /slowloris HTTP/1.1\r\nHost: soak\r\nUser-Agent: soak-slowloris\r\n';
  const PAD = 'X-Pad: aaaaaaaa\r\n';
  const headBytes = (off, n) => {
    let s = '';
    for (let i = off; i < off + n; i++) s += i < HEAD.length ? HEAD[i] : PAD[(i - HEAD.length) % PAD.length];
    return s;
  };
  const BODY_HEAD = 'POST /upload HTTP/1.1\r\nHost: soak\r\nUser-Agent: soak-slowloris\r\nContent-Type: application/octet-stream\r\nContent-Length: 999999999\r\n\r\n';
  const t0 = Date.now();
  let stopping = false;
  const live = new Set();
  const records = []; // { kind, openedAt, connectedAt, endedAt, how, status, sent }
  let connectFailed = 0;
  const want = {};
  let total = 0;
  for (const [k, share] of Object.entries(mix)) { want[k] = Math.round(conns * share); total += want[k]; }
  const openCount = Object.fromEntries(Object.keys(want).map((k) => [k, 0]));

  function openOne(kind) {
    if (stopping) return;
    openCount[kind]++;
    const rec = { kind, openedAt: Date.now() - t0, connectedAt: -1, answeredAt: -1, endedAt: -1, how: '', status: 0, sent: 0 };
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    live.add(s);
    let timer = null;
    let off = 0;
    const tick = () => {
      if (s.destroyed || stopping) return;
      let chunk;
      if (kind === 'head') { chunk = headBytes(off, trickleBytes); off += trickleBytes; }
      else if (kind === 'body') chunk = 'x'.repeat(trickleBytes);
      else chunk = 'x';
      rec.sent += chunk.length;
      s.write(chunk);
      timer = setTimeout(tick, kind === 'bodyslow' ? slowMs : trickleMs);
    };
    s.on('connect', () => {
      rec.connectedAt = Date.now() - t0;
      if (kind !== 'head') { s.write(BODY_HEAD); rec.sent += BODY_HEAD.length; }
      // first trickle at a random point of the interval, so the writes are spread out
      const iv = kind === 'bodyslow' ? slowMs : trickleMs;
      if (kind === 'head') tick();
      else timer = setTimeout(tick, Math.floor(Math.random() * iv));
    });
    s.on('data', (d) => {
      if (rec.status === 0) {
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(d.toString('latin1', 0, 16));
        rec.status = m ? Number(m[1]) : -1;
        rec.answeredAt = Date.now() - t0;
      }
    });
    const done = (how) => {
      if (rec.endedAt >= 0) return;
      rec.endedAt = Date.now() - t0;
      rec.how = how;
      clearTimeout(timer);
      live.delete(s);
      s.destroy();
      openCount[kind]--;
      if (rec.connectedAt < 0) connectFailed++;
      records.push(rec);
      if (!stopping && reconnect) setTimeout(() => openOne(kind), reconnectDelayMs);
    };
    s.on('end', () => done('fin'));
    s.on('error', (e) => done(rec.connectedAt < 0 ? 'connect-error:' + (e.code || e.message) : (e.code === 'ECONNRESET' ? 'rst' : 'error:' + (e.code || e.message))));
    s.on('close', () => done('close'));
    s.stopAttack = () => {
      if (rec.endedAt >= 0) return;
      rec.endedAt = Date.now() - t0;
      rec.how = 'open-at-end';
      clearTimeout(timer);
      records.push(rec);
      s.destroy();
    };
  }

  // Ramp: openRate connections per second, kinds interleaved.
  const queue = [];
  const kinds = Object.keys(want);
  for (let i = 0; queue.length < total; i++) for (const k of kinds) if (i < want[k]) queue.push(k);
  let rampDone = -1;
  const perTick = Math.max(1, Math.round(openRate / 50));
  const ramp = setInterval(() => {
    for (let i = 0; i < perTick && queue.length > 0; i++) openOne(queue.shift());
    if (queue.length === 0) { clearInterval(ramp); rampDone = Date.now() - t0; process.send({ type: 'ramped', ms: rampDone }); }
  }, 20);

  const sampler = setInterval(() => process.send({ type: 'open', t: Date.now(), open: { ...openCount }, live: live.size }), 1000);

  process.on('message', (m) => {
    if (m?.type !== 'stop') return;
    stopping = true;
    clearInterval(ramp);
    clearInterval(sampler);
    const stopAt = Date.now() - t0;
    for (const s of [...live]) s.stopAttack();
    live.clear();
    process.send({ type: 'report', t0, stopAt, rampDone, connectFailed, records }, () => process.exit(0));
  });
  process.on('disconnect', () => { for (const s of live) s.destroy(); process.exit(0); });
}

// ---------------------------------------------------------------------------------------------
// Orchestrator.
async function runOrchestrator() {
  const SOAK_SECONDS = envNum('SOAK_SECONDS', 80);
  let CONNS = envNum('SOAK_CONNS', 2000);
  const BASELINE_S = envNum('SOAK_BASELINE_SECONDS', 10);
  const RECOVERY_S = envNum('SOAK_RECOVERY_SECONDS', 5);
  const ATTACK_S = envNum('SOAK_ATTACK_SECONDS', Math.max(15, SOAK_SECONDS - BASELINE_S - RECOVERY_S - 10));
  const TRICKLE_MS = envNum('SOAK_TRICKLE_MS', 3000);
  const TRICKLE_BYTES = envNum('SOAK_TRICKLE_BYTES', 4);
  const SLOW_MS = envNum('SOAK_SLOW_MS', 8000);
  const OPEN_RATE = envNum('SOAK_OPEN_RATE', 500);
  const RECONNECT = envNum('SOAK_RECONNECT', 1) !== 0;
  const T_CLIENT = process.env.SOAK_TIMEOUT_CLIENT || '5s';
  const T_HTTPREQ = process.env.SOAK_TIMEOUT_HTTP_REQUEST || '5s';
  const LANES_KA = envNum('SOAK_PROBE_KEEPALIVE', 2);
  const LANES_FRESH = envNum('SOAK_PROBE_FRESH', 2);
  const PROBE_GAP_MS = envNum('SOAK_PROBE_GAP_MS', 10);
  const PROBE_TIMEOUT_MS = envNum('SOAK_PROBE_TIMEOUT_MS', 5000);
  const CLI = path.resolve(ROOT, process.env.GATEHOUSE_CLI || 'dist/cli.js');
  const MIX = parseMix(process.env.SOAK_MIX || 'head=50,body=35,bodyslow=15');
  const HARD_LIMIT_S = envNum('SOAK_HARD_LIMIT_SECONDS', SOAK_SECONDS + 8);

  if (!fs.existsSync(CLI)) die(`${CLI} not found: run \`make build\` first (or set GATEHOUSE_CLI)`);

  // fd limits: children are started through `sh -c 'ulimit -n <hard>'`, so the soft limit is raised
  // to the hard limit for them; the attacker needs CONNS + ~100 fds, gatehouse up to 2 * CONNS.
  const hardFds = hardNofile();
  const need = 2 * CONNS + 500;
  if (hardFds !== Infinity && hardFds < need) {
    const capped = Math.max(100, Math.floor((hardFds - 500) / 2));
    console.error(`# fd hard limit ${hardFds} is below the ${need} needed for ${CONNS} connections: using ${capped}. Raise it (e.g. \`ulimit -Hn 65536\` as root, or LimitNOFILE) for more.`);
    CONNS = capped;
  }

  const started = Date.now();
  let stopping = false;
  const children = []; // { name, proc }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-soak-'));
  let cleaned = false;
  const cleanupSync = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) { try { process.kill(c.proc.pid, 'SIGKILL'); } catch {} }
    }
    for (const p of probeSockets) p.destroy();
    if (process.env.SOAK_KEEP_TMP !== '1') fs.rmSync(tmp, { recursive: true, force: true });
  };
  const probeSockets = new Set();
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { console.error(`# ${sig}: stopping`); cleanupSync(); process.exit(130); });
  process.on('uncaughtException', (e) => { console.error('# error:', e); cleanupSync(); process.exit(1); });
  const watchdog = setTimeout(() => { console.error(`# hard time limit ${HARD_LIMIT_S}s reached: killing everything`); cleanupSync(); process.exit(3); }, HARD_LIMIT_S * 1000);
  watchdog.unref();

  const wrapArgs = (args) => ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args];

  // Backend
  const backend = fork(SELF, ['--backend'], { execPath: '/bin/sh', execArgv: wrapArgs([]).slice(0, 3), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push({ name: 'backend', proc: backend });
  const bport = (await waitMsg(backend, 'listening', 5000)).port;

  // gatehouse
  const port = await freePort();
  const yaml = [
    'global: { workers: 1, maxconn: 20000, grace: 1s }',
    'defaults:',
    `  timeout: { connect: 2s, client: ${T_CLIENT}, server: 60s, http_request: ${T_HTTPREQ}, http_keep_alive: 5s }`,
    'frontends:',
    `  soak_fe: { bind: ["127.0.0.1:${port}"], default_backend: soak_be }`,
    'backends:',
    '  soak_be:',
    '    servers:',
    `      - { name: b1, address: "127.0.0.1:${bport}" }`,
    '',
  ].join('\n');
  const cfgFile = path.join(tmp, 'soak.yaml');
  fs.writeFileSync(cfgFile, yaml);
  const ghLog = fs.openSync(path.join(tmp, 'gatehouse.log'), 'w');
  const gh = spawn('/bin/sh', wrapArgs([CLI, '-f', cfgFile]), { cwd: ROOT, stdio: ['ignore', ghLog, ghLog] });
  children.push({ name: 'gatehouse', proc: gh });
  gh.on('exit', (code, sig) => { if (!stopping) console.error(`# gatehouse exited early (code ${code}, signal ${sig}); log:\n${readTail(path.join(tmp, 'gatehouse.log'))}`); });
  await waitReady(port, 10000, gh, tmp);

  // Attacker (started now, told to begin only after the baseline: it gets its config on argv and
  // starts ramping as soon as it runs, so it is forked at the start of the attack phase).
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const header = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} cores (${os.cpus()[0]?.model?.trim() ?? '?'}), Linux ${os.release()}, load average at start ${load}`,
    node: process.version,
    fdHard: hardFds,
  };
  console.error(`# gatehouse pid ${gh.pid} on 127.0.0.1:${port}, backend pid ${backend.pid} on :${bport}; conns ${CONNS}; phases ${BASELINE_S}s / ${ATTACK_S}s / ${RECOVERY_S}s`);

  // Process sampler for gatehouse
  const ghSamples = [];
  const sampleGh = () => {
    const s = procSample(gh.pid);
    if (s) ghSamples.push({ t: Date.now(), ...s });
  };
  sampleGh();
  const samplerIv = setInterval(sampleGh, 1000);

  // Normal clients
  const lat = []; // { t, ms, ok, lane, err }
  let phase = 'baseline';
  let probesOn = true;
  const lanes = [];
  for (let i = 0; i < LANES_KA; i++) lanes.push(probeLane('keepalive', port, lat, () => probesOn, () => phase, PROBE_GAP_MS, PROBE_TIMEOUT_MS, probeSockets));
  for (let i = 0; i < LANES_FRESH; i++) lanes.push(probeLane('fresh', port, lat, () => probesOn, () => phase, PROBE_GAP_MS, PROBE_TIMEOUT_MS, probeSockets));

  const phaseTimes = { baseline: [Date.now(), 0], attack: [0, 0], recovery: [0, 0] };
  await sleep(BASELINE_S * 1000);
  const bStats0 = await askStats(backend);

  // Attack
  phase = 'attack';
  phaseTimes.baseline[1] = Date.now();
  phaseTimes.attack[0] = Date.now();
  const attackCfg = { port, conns: CONNS, mix: MIX, trickleMs: TRICKLE_MS, trickleBytes: TRICKLE_BYTES, slowMs: SLOW_MS, openRate: OPEN_RATE, reconnect: RECONNECT, reconnectDelayMs: 100 };
  const attacker = fork(SELF, ['--attack', JSON.stringify(attackCfg)], { execPath: '/bin/sh', execArgv: wrapArgs([]).slice(0, 3), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push({ name: 'attacker', proc: attacker });
  const openSamples = [];
  let rampedMs = -1;
  attacker.on('message', (m) => {
    if (m.type === 'open') openSamples.push(m);
    if (m.type === 'ramped') rampedMs = m.ms;
  });
  const backendPeak = { uploads: 0, conns: 0 };
  const bIv = setInterval(async () => {
    const s = await askStats(backend).catch(() => null);
    if (s) { backendPeak.uploads = Math.max(backendPeak.uploads, s.uploadsActive); backendPeak.conns = Math.max(backendPeak.conns, s.conns); }
  }, 1000);
  await sleep(ATTACK_S * 1000);
  clearInterval(bIv);
  const reportP = waitMsg(attacker, 'report', 15000);
  attacker.send({ type: 'stop' });
  const report = await reportP;
  phaseTimes.attack[1] = Date.now();
  const bStats1 = await askStats(backend);

  // Recovery
  phase = 'recovery';
  phaseTimes.recovery[0] = Date.now();
  await sleep(RECOVERY_S * 1000);
  phaseTimes.recovery[1] = Date.now();
  probesOn = false;
  await Promise.all(lanes);
  clearInterval(samplerIv);
  sampleGh();

  // Stop everything we started
  stopping = true;
  const bStats2 = await askStats(backend).catch(() => null);
  await stopChild(attacker, 'SIGTERM', 2000);
  await stopChild(gh, 'SIGTERM', 3000);
  backend.send({ type: 'stop' });
  await stopChild(backend, 'SIGTERM', 2000);

  // ------------------------------------------------------------------ report
  const out = [];
  const p = (s = '') => out.push(s);
  p(`- date: ${header.date}`);
  p(`- machine: ${header.machine}; node ${header.node}; fd hard limit ${header.fdHard}`);
  p(`- gatehouse: 1 worker, \`timeout client ${T_CLIENT}\`, \`timeout http_request ${T_HTTPREQ}\`, backend node:http on 127.0.0.1 (no timeouts of its own)`);
  p(`- attack: ${CONNS} connections (${Object.entries(MIX).map(([k, v]) => `${k} ${Math.round(v * 100)}%`).join(', ')}), opened at ${OPEN_RATE}/s (ramp ${rampedMs >= 0 ? (rampedMs / 1000).toFixed(1) + ' s' : 'not finished'}), ` +
    `head/body trickle ${TRICKLE_BYTES} B every ${TRICKLE_MS / 1000} s, bodyslow 1 B every ${SLOW_MS / 1000} s; ${RECONNECT ? 'a closed connection is re-opened after 100 ms' : 'no re-opening'}`);
  p(`- normal clients: ${LANES_KA} keep-alive + ${LANES_FRESH} new-connection lanes, sequential GET / with ${PROBE_GAP_MS} ms between requests, ${PROBE_TIMEOUT_MS} ms timeout each`);
  p(`- phases: baseline ${BASELINE_S} s, attack ${ATTACK_S} s, recovery ${RECOVERY_S} s; wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
  p();
  p('### Normal clients');
  p();
  p('| phase | lane | requests | req/s | p50 ms | p99 ms | max ms | errors | gatehouse fds (max) | gatehouse CPU % | gatehouse RSS MB (max) |');
  p('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const ph of ['baseline', 'attack', 'recovery']) {
    const [a, b] = phaseTimes[ph];
    const gs = ghSamples.filter((s) => s.t >= a && s.t <= b + 1000);
    const fdsMax = gs.length ? Math.max(...gs.map((s) => s.fds)) : NaN;
    const rssMax = gs.length ? Math.max(...gs.map((s) => s.rssKB)) / 1024 : NaN;
    const cpu = gs.length > 1 ? ((gs[gs.length - 1].cpuTicks - gs[0].cpuTicks) / CLK_TCK) / ((gs[gs.length - 1].t - gs[0].t) / 1000) * 100 : NaN;
    for (const lane of ['keepalive', 'fresh', 'all']) {
      const xs = lat.filter((r) => r.phase === ph && (lane === 'all' || r.lane === lane));
      const st = latStats(xs);
      const g = lane === 'all';
      p(`| ${ph} | ${lane} | ${st.n} | ${(st.n / ((b - a) / 1000)).toFixed(0)} | ${f2(st.p50)} | ${f2(st.p99)} | ${f2(st.max)} | ${st.errors}${st.errKinds} | ${g ? fdsMax : ''} | ${g ? cpu.toFixed(0) : ''} | ${g ? rssMax.toFixed(1) : ''} |`);
    }
  }
  p();
  p('### Timeline (5 s buckets from the start of the attack)');
  p();
  p('| from s | attack conns open (head / body / bodyslow) | closed by gatehouse | normal requests | p50 ms | p99 ms | max ms | errors | gatehouse fds |');
  p('|--:|---|--:|--:|--:|--:|--:|--:|--:|');
  const aStart = phaseTimes.attack[0];
  const aEnd = phaseTimes.recovery[1];
  for (let t = aStart; t < aEnd; t += 5000) {
    const os_ = openSamples.filter((s) => s.t >= t && s.t < t + 5000);
    const last = os_[os_.length - 1];
    const closed = report.records.filter((r) => r.how !== 'open-at-end' && report.t0 + r.endedAt >= t && report.t0 + r.endedAt < t + 5000).length;
    const xs = lat.filter((r) => r.t >= t && r.t < t + 5000);
    const st = latStats(xs);
    const gs = ghSamples.filter((s) => s.t >= t && s.t < t + 5000);
    const openTxt = last ? `${last.open.head ?? 0} / ${last.open.body ?? 0} / ${last.open.bodyslow ?? 0}` : (t >= phaseTimes.attack[1] ? 'stopped' : '-');
    p(`| ${((t - aStart) / 1000).toFixed(0)} | ${openTxt} | ${closed} | ${st.n} | ${f2(st.p50)} | ${f2(st.p99)} | ${f2(st.max)} | ${st.errors} | ${gs.length ? Math.max(...gs.map((s) => s.fds)) : ''} |`);
  }
  p();
  p('### Attack connections');
  p();
  p('| kind | opened | closed by gatehouse | answer before close | answer after, p50 / max s | how closed (FIN / RST / other) | lifetime of closed, min / p50 / max s | still open when the attack stopped |');
  p('|---|--:|--:|---|---|---|---|--:|');
  const kinds = Object.keys(MIX);
  for (const k of kinds) {
    const rs = report.records.filter((r) => r.kind === k);
    const closedBy = rs.filter((r) => r.how !== 'open-at-end' && r.connectedAt >= 0);
    const answers = {};
    for (const r of closedBy) { const key = r.status === 0 ? 'none' : String(r.status); answers[key] = (answers[key] || 0) + 1; }
    const fin = closedBy.filter((r) => r.how === 'fin' || r.how === 'close').length;
    const rst = closedBy.filter((r) => r.how === 'rst').length;
    const other = closedBy.length - fin - rst;
    const life = closedBy.map((r) => (r.endedAt - r.connectedAt) / 1000).sort((a, b) => a - b);
    const openEnd = rs.filter((r) => r.how === 'open-at-end').length;
    const ans = rs.filter((r) => r.answeredAt >= 0 && r.connectedAt >= 0).map((r) => (r.answeredAt - r.connectedAt) / 1000).sort((a, b) => a - b);
    p(`| ${k} | ${rs.length} | ${closedBy.length} | ${Object.entries(answers).map(([a, n]) => `${a}: ${n}`).join(', ') || '-'} | ${ans.length ? `${pct(ans, 0.5).toFixed(1)} / ${ans[ans.length - 1].toFixed(1)}` : '-'} | ${fin} / ${rst} / ${other} | ${life.length ? `${life[0].toFixed(1)} / ${pct(life, 0.5).toFixed(1)} / ${life[life.length - 1].toFixed(1)}` : '-'} | ${openEnd} |`);
  }
  if (report.connectFailed) p(`\nconnect failures: ${report.connectFailed}`);
  p();
  const edges = [0, 2, 4, 6, 8, 9, 10, 11, 12, 15, 20, 30, 60, Infinity];
  p('Lifetimes of the connections gatehouse closed (seconds from connect to close):');
  p();
  p(`| kind | ${edges.slice(0, -1).map((e, i) => (edges[i + 1] === Infinity ? `>= ${e}` : `${e}-${edges[i + 1]}`)).join(' | ')} |`);
  p(`|---|${edges.slice(0, -1).map(() => '--:').join('|')}|`);
  for (const k of kinds) {
    const life = report.records.filter((r) => r.kind === k && r.how !== 'open-at-end' && r.connectedAt >= 0).map((r) => (r.endedAt - r.connectedAt) / 1000);
    p(`| ${k} | ${edges.slice(0, -1).map((e, i) => life.filter((x) => x >= e && x < edges[i + 1]).length).join(' | ')} |`);
  }
  p();
  p(`Backend: ${bStats1.requests - bStats0.requests} requests during the attack; uploads started by attack bodies: ${bStats1.uploadsStarted - bStats0.uploadsStarted}; ` +
    `peak uploads in progress ${backendPeak.uploads}, peak backend connections ${backendPeak.conns}` + (bStats2 ? `; after the attack: ${bStats2.uploadsActive} uploads / ${bStats2.conns} connections still open` : ''));
  p();
  const base = latStats(lat.filter((r) => r.phase === 'baseline'));
  const att = latStats(lat.filter((r) => r.phase === 'attack'));
  const starved = att.n === 0 || att.errors > Math.max(1, att.n * 0.01) || att.p99 > Math.max(10 * base.p99, base.p99 + 250);
  p(`Verdict: normal clients ${starved ? '**were starved**' : 'were not starved'} (rule: starved if under attack errors > 1% or p99 > max(10x baseline p99, baseline p99 + 250 ms); baseline p99 ${f2(base.p99)} ms, attack p99 ${f2(att.p99)} ms, attack errors ${att.errors}/${att.n}).`);
  const text = out.join('\n');
  console.log(text);
  if (process.env.SOAK_JSON) fs.writeFileSync(process.env.SOAK_JSON, JSON.stringify({ header, phaseTimes, lat, ghSamples, openSamples, report, bStats0, bStats1, bStats2 }, null, 0));
  cleanupSync();
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Normal-client lane: sequential GET / on one keep-alive connection (re-opened when closed), or
// on a new connection per request (Connection: close). Latency = from the write (keep-alive) or
// the connect (fresh) to the last byte of the response.
async function probeLane(kind, port, lat, on, phaseOf, gapMs, timeoutMs, sockets) {
  let ka = null; // { s, pending }
  let n = 0;
  while (on()) {
    const ph = phaseOf();
    const t = Date.now();
    const t0 = process.hrtime.bigint();
    let err = '';
    try {
      if (kind === 'fresh') {
        const s = await connect(port, timeoutMs, sockets);
        try { await request(s, `GET /?n=${n++} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n`, timeoutMs - Number(process.hrtime.bigint() - t0) / 1e6); }
        finally { s.destroy(); sockets.delete(s); }
      } else {
        if (ka === null || ka.destroyed || ka.closedByPeer) {
          if (ka) { ka.destroy(); sockets.delete(ka); }
          ka = await connect(port, timeoutMs, sockets);
        }
        await request(ka, `GET /?n=${n++} HTTP/1.1\r\nHost: soak\r\n\r\n`, timeoutMs - Number(process.hrtime.bigint() - t0) / 1e6);
      }
    } catch (e) {
      err = e.message || String(e);
      if (ka) { ka.destroy(); sockets.delete(ka); ka = null; }
    }
    lat.push({ t, ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: !err, err, lane: kind, phase: ph });
    if (gapMs > 0) await sleep(gapMs);
  }
  if (ka) { ka.destroy(); sockets.delete(ka); }
}

function connect(port, timeoutMs, sockets) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    sockets.add(s);
    s.setNoDelay(true);
    const timer = setTimeout(() => { s.destroy(); sockets.delete(s); reject(new Error('connect-timeout')); }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); s.removeAllListeners('error'); s.on('error', () => {}); s.on('end', () => { s.closedByPeer = true; }); s.on('close', () => { s.closedByPeer = true; }); resolve(s); });
    s.once('error', (e) => { clearTimeout(timer); s.destroy(); sockets.delete(s); reject(new Error('connect-' + (e.code || 'error'))); });
  });
}

function request(s, text, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = () => { clearTimeout(timer); s.off('data', onData); s.off('close', onClose); };
    const fail = (m) => { cleanup(); reject(new Error(m)); };
    const timer = setTimeout(() => fail('timeout'), Math.max(1, timeoutMs));
    const onClose = () => fail('closed');
    const onData = (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.toString('latin1', 0, end);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!cl) { fail('no-content-length'); return; }
      if (buf.length - end - 4 < Number(cl[1])) return;
      cleanup();
      if (!m || m[1] !== '200') reject(new Error('status-' + (m ? m[1] : '?')));
      else resolve();
    };
    if (s.closedByPeer || s.destroyed) { fail('closed'); return; }
    s.on('data', onData);
    s.on('close', onClose);
    s.write(text);
  });
}

// ---------------------------------------------------------------------------------------------
// helpers
function procSample(pid) {
  try {
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { fds, rssKB, cpuTicks: cpuTicks([pid]) };
  } catch { return null; }
}
function latStats(xs) {
  const ok = xs.filter((r) => r.ok).map((r) => r.ms).sort((a, b) => a - b);
  const errs = xs.filter((r) => !r.ok);
  const kinds = {};
  for (const e of errs) kinds[e.err] = (kinds[e.err] || 0) + 1;
  return { n: xs.length, p50: pct(ok, 0.5), p99: pct(ok, 0.99), max: ok.length ? ok[ok.length - 1] : NaN, errors: errs.length, errKinds: errs.length ? ` (${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')})` : '' };
}
function pct(sorted, q) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN; }
function f2(x) { return Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(2)) : '-'; }
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
function die(m) { console.error(m); process.exit(1); }
function parseMix(s) {
  const o = {};
  for (const part of s.split(',')) {
    const [k, v] = part.split('=');
    if (!['head', 'body', 'bodyslow'].includes(k)) die(`SOAK_MIX: unknown kind ${k} (head, body, bodyslow)`);
    o[k] = Number(v);
  }
  const sum = Object.values(o).reduce((a, b) => a + b, 0);
  for (const k of Object.keys(o)) o[k] /= sum;
  return o;
}
function hardNofile() {
  try {
    const m = /Max open files\s+\S+\s+(\S+)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity;
  } catch { return Infinity; }
}
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
function waitMsg(child, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.off('message', on); reject(new Error(`no '${type}' from child ${child.pid} within ${timeoutMs} ms`)); }, timeoutMs);
    const on = (m) => { if (m?.type === type) { clearTimeout(timer); child.off('message', on); resolve(m); } };
    child.on('message', on);
  });
}
async function askStats(backend) {
  const p = waitMsg(backend, 'stats', 3000);
  backend.send({ type: 'stats' });
  return (await p).stats;
}
async function waitReady(port, timeoutMs, gh, tmp) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (gh.exitCode !== null || gh.signalCode !== null) die(`gatehouse exited: ${readTail(path.join(tmp, 'gatehouse.log'))}`);
    const ok = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode === 200)); });
      req.on('error', () => resolve(false));
      req.on('timeout', () => { req.destroy(); resolve(false); });
    });
    if (ok) return;
    await sleep(200);
  }
  die(`gatehouse did not answer 200 on 127.0.0.1:${port} within ${timeoutMs} ms: ${readTail(path.join(tmp, 'gatehouse.log'))}`);
}
function readTail(f) { try { return fs.readFileSync(f, 'utf8').split('\n').slice(-20).join('\n'); } catch { return '(no log)'; } }
async function stopChild(child, sig, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try { process.kill(child.pid, sig); } catch { return; }
  const t = await Promise.race([exited.then(() => 'exit'), sleep(graceMs).then(() => 'timeout')]);
  if (t === 'timeout' && child.exitCode === null && child.signalCode === null) {
    try { process.kill(child.pid, 'SIGKILL'); } catch {}
    await Promise.race([exited, sleep(1000)]);
  }
}

// Dispatch last, so every module-level constant above is initialised.
const mode = process.argv[2];
if (mode === '--backend') runBackend();
else if (mode === '--attack') runAttacker();
else await runOrchestrator();
