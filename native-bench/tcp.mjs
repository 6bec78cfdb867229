#!/usr/bin/env node
// native-bench TCP (issue 15): gatehouse and HAProxy 2.6 `mode tcp` on the same haproxy.cfg
// (nbthread 1); if gatehouse refuses the cfg, the run says so and goes on with HAProxy alone:
//   node native-bench/tcp.mjs
// Backends: two TCP echo servers (Node, one process each) on 127.0.0.1, balance roundrobin.
// Measures, alternating the proxies round by round after a warm-up:
//   conn   connections/s: TCP_CONN_CLIENTS loops of connect, 1 byte out, its echo back, close
//   echo   1 MB echo throughput: TCP_ECHO_CONNS connections, each sending 1 MB and reading the
//          1 MB echo back, again and again (MB/s counted once, on the way back)
// Writes results/tcp.md and results/tcp.json (TCP_SAVE=0: print only). Everything runs on
// 127.0.0.1; every process started is stopped by PID at the end, on error, Ctrl-C, or at
// TCP_MAX_SECONDS. The clients run in this process: on a 2-core machine they compete with the
// proxy for CPU, so compare proxies within one run, not across machines.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  setLogTag, log, sleep, median, ensureTools, launch, watchdog, runMain, pickPorts, machine, workDir, machineLines, save,
  GATEHOUSE_CLI, cpuTicks,
} from './bench-lib.mjs';

setLogTag('bench-tcp');
const E = process.env;
const SECONDS = Number(E.TCP_SECONDS || 5);
const WARMUP = Number(E.TCP_WARMUP || 1);
const ROUNDS = Math.max(1, Number(E.TCP_ROUNDS || 3));
const CONN_CLIENTS = Number(E.TCP_CONN_CLIENTS || 32);
const ECHO_CONNS = Number(E.TCP_ECHO_CONNS || 8);
const ECHO_BYTES = Number(E.TCP_ECHO_BYTES || 1024 * 1024);
const MAX_SECONDS = Number(E.TCP_MAX_SECONDS || 300);
if (E.TCP_SAVE === '0') E.BENCH_SAVE = '0'; // save() reads BENCH_SAVE

const ECHO_JS = `
const net = require('net');
net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s); })
  .listen(Number(process.argv[1]), '127.0.0.1');
`;

function cfg({ port, b1, b2 }) {
  return `global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe_tcp
  bind 127.0.0.1:${port}
  default_backend be_echo
backend be_echo
  balance roundrobin
  server e1 127.0.0.1:${b1}
  server e2 127.0.0.1:${b2}
`;
}

async function waitPort(port, child, what, ms = 15000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child?.exitInfo) throw new Error(`${what} exited (${JSON.stringify(child.exitInfo)})`);
    const ok = await new Promise((r) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} not listening on 127.0.0.1:${port}`);
}

/** Connection rate: each client loops connect -> 1 byte -> echo -> close until the deadline. */
async function connRate(port, seconds) {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const one = () => new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    s.on('connect', () => s.write('x'));
    s.once('data', () => { done++; s.destroy(); resolve(); });
    s.on('error', () => { errors++; s.destroy(); resolve(); });
  });
  const loop = async () => { while (Date.now() < until) await one(); };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONN_CLIENTS }, loop));
  return { perSec: done / ((Date.now() - t0) / 1000), errors };
}

/** 1 MB echo: each connection sends ECHO_BYTES and reads them back, repeatedly, until the deadline. */
async function echoThroughput(port, seconds) {
  const until = Date.now() + seconds * 1000;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let bytes = 0;
  let errors = 0;
  const conn = () => new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    let back = 0;
    const send = () => {
      let sent = 0;
      const pump = () => {
        while (sent < ECHO_BYTES) {
          const n = Math.min(chunk.length, ECHO_BYTES - sent);
          sent += n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
        }
      };
      pump();
    };
    s.on('connect', send);
    s.on('data', (b) => {
      back += b.length;
      bytes += b.length;
      if (back >= ECHO_BYTES) {
        back -= ECHO_BYTES;
        if (Date.now() < until) send();
        else { s.destroy(); resolve(); }
      }
    });
    s.on('error', () => { errors++; s.destroy(); resolve(); });
  });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: ECHO_CONNS }, conn));
  return { mbPerSec: bytes / 1048576 / ((Date.now() - t0) / 1000), errors };
}

async function main() {
  watchdog(MAX_SECONDS);
  ensureTools({ haproxy: 'haproxy' });
  const tmp = workDir('gatehouse-bench-tcp-');
  const [b1, b2, hp, gp] = await pickPorts(4);
  for (const p of [b1, b2]) {
    const c = launch(`echo:${p}`, process.execPath, ['-e', ECHO_JS, String(p)]);
    await waitPort(p, c, `echo backend ${p}`);
  }
  const proxies = [];
  const hcfg = path.join(tmp, 'haproxy.cfg');
  fs.writeFileSync(hcfg, cfg({ port: hp, b1, b2 }));
  const h = launch('haproxy', 'haproxy', ['-db', '-f', hcfg], { logFile: path.join(tmp, 'haproxy.log') });
  try {
    await waitPort(hp, h, 'haproxy');
  } catch (e) {
    throw new Error(`${e.message}: ${fs.readFileSync(path.join(tmp, 'haproxy.log'), 'utf8').trim().split('\n').slice(-3).join(' | ')}`);
  }
  proxies.push({ name: 'haproxy', port: hp, child: h });

  const gcfg = path.join(tmp, 'gatehouse.cfg');
  fs.writeFileSync(gcfg, cfg({ port: gp, b1, b2 }));
  let gatehouseNote = '';
  try {
    execFileSync(process.execPath, [GATEHOUSE_CLI, '-c', '-f', gcfg], { stdio: 'pipe' });
    const g = launch('gatehouse', process.execPath, [GATEHOUSE_CLI, '-f', gcfg], { logFile: path.join(tmp, 'gatehouse.log') });
    try {
      await waitPort(gp, g, 'gatehouse', 5000);
      proxies.unshift({ name: 'gatehouse', port: gp, child: g });
    } catch (e) {
      const out = fs.existsSync(path.join(tmp, 'gatehouse.log')) ? fs.readFileSync(path.join(tmp, 'gatehouse.log'), 'utf8') : '';
      gatehouseNote = (/mode tcp is not served yet[^\n]*/.exec(out) || [e.message])[0];
    }
  } catch (e) {
    gatehouseNote = `gatehouse -c refused the cfg: ${String(e.stderr || e.message).split('\n')[0]}`;
  }
  if (gatehouseNote) log(`gatehouse skipped: ${gatehouseNote}`);

  for (const p of proxies) {
    await connRate(p.port, WARMUP);
    await echoThroughput(p.port, WARMUP);
  }
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of proxies) {
      const t0 = cpuTicks([p.child.pid]);
      const conn = await connRate(p.port, SECONDS);
      const echo = await echoThroughput(p.port, SECONDS);
      const t1 = cpuTicks([p.child.pid]);
      rounds.push({ round: r, proxy: p.name, conn, echo, proxyTicks: t1 - t0 });
      log(`round ${r + 1} ${p.name}: ${conn.perSec.toFixed(0)} conn/s, ${echo.mbPerSec.toFixed(0)} MB/s echo (errors ${conn.errors}/${echo.errors})`);
      await sleep(500);
    }
  }
  const rows = proxies.map((p) => {
    const mine = rounds.filter((x) => x.proxy === p.name);
    return {
      proxy: p.name,
      connPerSec: median(mine.map((x) => x.conn.perSec)),
      echoMBps: median(mine.map((x) => x.echo.mbPerSec)),
      errors: mine.reduce((n, x) => n + x.conn.errors + x.echo.errors, 0),
    };
  });
  const m = machine();
  const md = [
    '# native-bench TCP (mode tcp, nbthread 1, two echo backends)',
    '',
    ...machineLines(m),
    `- ${ROUNDS} rounds of ${SECONDS}s per measure, medians; conn: ${CONN_CLIENTS} client loops, 1 byte each way; echo: ${ECHO_CONNS} connections x ${ECHO_BYTES} bytes`,
    gatehouseNote ? `- gatehouse not measured: ${gatehouseNote}` : '',
    '',
    '| proxy | connections/s | 1 MB echo MB/s | errors |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.proxy} | ${r.connPerSec.toFixed(0)} | ${r.echoMBps.toFixed(0)} | ${r.errors} |`),
    '',
  ].filter((l, i, a) => l !== '' || a[i - 1] !== '').join('\n');
  save('tcp', { machine: m, rounds, rows, gatehouseNote, cfg: cfg({ port: 0, b1: 0, b2: 0 }) }, md);
}

runMain(main);
