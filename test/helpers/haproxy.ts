// Helpers for the HAProxy acceptance and differential tests: the issue-5 tutorial configuration
// with 127.0.0.1 addresses, real HAProxy run in the foreground (-db), gatehouse run as a daemon
// (-D -p), and backends that report what they received.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort, runCli, startBackend, tmpFile, waitForPort, type Backend, type Proc } from './net';

export interface TutorialPorts {
  front: number;
  stats: number;
  web1: number;
  web2: number;
}

/**
 * The configuration of issue 5, verbatim except the addresses: `*:80`, `*:8080` and the two
 * 192.168.1.x servers become 127.0.0.1 ports. `extra` is appended (used by the differential test
 * for its error-case proxies; identical on both sides).
 */
export function tutorialCfg(p: TutorialPorts, extra = ''): string {
  return `global
    log /dev/log    local0
    daemon

defaults
    mode http
    timeout connect 5000ms
    timeout client 50000ms
    timeout server 50000ms

frontend http_in
    bind 127.0.0.1:${p.front}
    default_backend http_back

backend http_back
    balance roundrobin
    cookie SERVERID insert indirect nocache
    option httpchk GET /health
    server web1 127.0.0.1:${p.web1} check cookie web1
    server web2 127.0.0.1:${p.web2} check cookie web2

listen stats
    bind 127.0.0.1:${p.stats}
    mode http
    stats enable
    stats uri /haproxy?stats
    stats auth admin:password
${extra}`;
}

/** What a web backend saw and who it is. */
export interface Seen {
  server: string;
  /** the Cookie header the backend received, null when there was none */
  cookie: string | null;
}

/**
 * A web backend as in the tutorial: `/health` answers 200, anything else answers JSON
 * `{server, cookie}`. The query can shape the response: `status=N`, and `h=NAME:VALUE`
 * (repeatable) adds response headers, so a test can produce cacheable or uncacheable answers.
 */
export function webBackend(name: string): Promise<Backend> {
  return startBackend(name, (req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/health') {
      res.end('ok');
      return;
    }
    const status = Number(url.searchParams.get('status') ?? 200);
    res.statusCode = status;
    for (const h of url.searchParams.getAll('h')) {
      const i = h.indexOf(':');
      res.setHeader(h.slice(0, i), h.slice(i + 1).trim());
    }
    res.setHeader('content-type', 'application/json');
    const seen: Seen = { server: name, cookie: req.headers.cookie ?? null };
    res.end(JSON.stringify(seen));
  });
}

export function parseSeen(body: Buffer): Seen {
  return JSON.parse(body.toString()) as Seen;
}

export function haproxyBinary(): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin']) {
    if (!dir) continue;
    const f = path.join(dir, 'haproxy');
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Real HAProxy in the foreground (-db: `daemon` in the file does not detach it). */
export async function startHaproxy(bin: string, cfgText: string, waitPorts: number[]): Promise<Proc & { cfgPath: string }> {
  const cfgPath = tmpFile('haproxy.cfg', cfgText);
  const child = spawn(bin, ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const p: Proc = {
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  try {
    for (const port of waitPorts) await waitForPort(port, 10000, p);
  } catch (e) {
    await p.stop('SIGKILL');
    throw new Error(`haproxy did not start: ${(e as Error).message}\n${out}`);
  }
  return Object.assign(p, { cfgPath });
}

/** `n` free ports, all different (freePort alone may hand out the same port twice). */
export async function distinctPorts(n: number, taken: Iterable<number> = []): Promise<number[]> {
  const seen = new Set<number>(taken);
  const out: number[] = [];
  for (let tries = 0; out.length < n && tries < n * 20; tries++) {
    const p = await freePort();
    if (seen.has(p)) continue;
    seen.add(p);
    out.push(p);
  }
  if (out.length < n) throw new Error('could not find distinct free ports');
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface Daemon {
  /** exit code of the `gatehouse -D` parent */
  code: number | null;
  /** what the parent printed */
  output: string;
  pidfile: string;
  /** the daemon's pid read from the pidfile, null if there was none */
  pid: number | null;
}

/** `gatehouse -f FILE -D -p PIDFILE`: waits for the parent to return. */
export async function startDaemon(configPath: string, extraArgs: string[] = []): Promise<Daemon> {
  const pidfile = path.join(path.dirname(configPath), 'gatehouse.pid');
  const p = runCli(['-f', configPath, '-D', '-p', pidfile, ...extraArgs]);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 20000);
  const code = await p.exited;
  clearTimeout(t);
  let pid: number | null = null;
  try {
    const n = Number(fs.readFileSync(pidfile, 'utf8').trim());
    if (Number.isInteger(n) && n > 0) pid = n;
  } catch {
    /* no pidfile */
  }
  return { code, output: p.output(), pidfile, pid };
}

/** The daemon is still the process we started: alive, and its command line names our pidfile. */
export function isOurDaemon(d: Daemon): boolean {
  if (d.pid === null || !alive(d.pid)) return false;
  try {
    return fs.readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').split('\0').includes(d.pidfile);
  } catch {
    return false;
  }
}

/** SIGTERM the daemon (only the pid it wrote, if still ours) and wait, bounded, for it to go away. */
export async function stopDaemon(d: Daemon, timeoutMs = 15000): Promise<boolean> {
  if (!isOurDaemon(d)) return true;
  process.kill(d.pid!, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isOurDaemon(d)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Last-resort cleanup in `after` hooks. */
export function killIfOurs(d: Daemon | null | undefined): void {
  if (d && isOurDaemon(d)) {
    try {
      process.kill(d.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** An upstream that accepts, reads the request and answers bytes that are not HTTP. */
export async function garbageBackend(): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const server = net.createServer((s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    s.once('data', () => s.end('THIS IS NOT HTTP\r\n\r\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of socks) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP upstream that answers only after `delayMs`. */
export function slowBackend(delayMs: number): Promise<Backend> {
  const timers = new Set<NodeJS.Timeout>();
  return startBackend('slow', (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    const t = setTimeout(() => {
      timers.delete(t);
      if (!res.destroyed) res.end('slow');
    }, delayMs);
    timers.add(t);
    res.on('close', () => {
      clearTimeout(t);
      timers.delete(t);
    });
  });
}
