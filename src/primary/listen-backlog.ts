// uWebSockets.js listens with a fixed backlog of 512 and has no option to change it. HAProxy
// sizes a frontend's backlog from its maxconn; with 512, a burst of new connections (5,000
// clients connecting at once in native-bench scenario f) overflows the accept queue and those
// clients wait for SYN/ACK retransmits (1 s, 3 s ...). Linux lets listen() be called again on a
// listening socket to change its backlog, but Node can only call it on a descriptor it owns. So
// a short-lived child process gets the workers' listening sockets (duplicated by spawn's stdio)
// and calls listen(backlog) on each, then exits before its event loop runs, so it never
// accepts a connection. The primary shares the workers' descriptor table (threads of one
// process): it finds the sockets through /proc. The kernel caps the value at net.core.somaxconn.

import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { primaryServesBinds, type Config } from '../config/model';

/** uWS's own backlog: never ask for less. */
const UWS_BACKLOG = 512;

/** port -> backlog wanted: the largest maxconn of the data frontends bound to it. */
export function wantedBacklogs(config: Config): Map<number, number> {
  const out = new Map<number, number>();
  for (const fe of config.frontends) {
    if (primaryServesBinds(fe)) continue; // served by node:http in the primary
    const want = Math.max(UWS_BACKLOG, fe.maxconn);
    for (const b of fe.binds) out.set(b.port, Math.max(out.get(b.port) ?? 0, want));
  }
  return out;
}

/** Inodes of listening TCP sockets (IPv4 and IPv6) on the given ports, by port. */
async function listeningInodes(ports: ReadonlyMap<number, number>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'latin1');
    } catch {
      continue; // no IPv6 in this kernel
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i].trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      const port = parseInt(f[1].slice(f[1].lastIndexOf(':') + 1), 16);
      if (ports.has(port)) out.set(f[9], port);
    }
  }
  return out;
}

/**
 * Sockets already given their backlog (by inode). They are never handed out again: during a
 * reload the old workers close their listening sockets, and a duplicate still open in the
 * helper would keep such a socket in the SO_REUSEPORT group with nobody accepting, so the
 * connections queued on it would be reset when the helper exits.
 */
const raised = new Set<string>();

/** This process's descriptors of those sockets not raised yet, grouped by the backlog they should get. */
async function descriptorsByBacklog(ports: ReadonlyMap<number, number>): Promise<Map<number, number[]>> {
  const inodes = await listeningInodes(ports);
  for (const ino of raised) inodes.delete(ino);
  const out = new Map<number, number[]>();
  if (inodes.size === 0) return out;
  for (const name of await fsp.readdir('/proc/self/fd')) {
    let link: string;
    try {
      link = await fsp.readlink('/proc/self/fd/' + name);
    } catch {
      continue; // closed meanwhile
    }
    if (!link.startsWith('socket:[')) continue;
    const ino = link.slice(8, -1);
    const port = inodes.get(ino);
    if (port === undefined) continue;
    raised.add(ino);
    const backlog = ports.get(port)!;
    const list = out.get(backlog);
    if (list === undefined) out.set(backlog, [Number(name)]);
    else list.push(Number(name));
  }
  return out;
}

// The child: its descriptors 3, 4, ... are the sockets. listen() on an fd runs synchronously in
// net.Server; process.exit() then ends it before any accept could happen.
const CHILD = `
const net = require('net');
const backlog = Number(process.argv[1]);
const n = Number(process.argv[2]);
let ok = 0;
for (let i = 0; i < n; i++) {
  const s = new net.Server();
  s.on('error', () => {});
  // listen(handle, backlog): for an fd, net ignores options.backlog
  s.listen({ fd: 3 + i }, backlog);
  if (s.listening) ok++;
}
process.stdout.write(String(ok));
process.exit(0);
`;

function relisten(fds: number[], backlog: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, String(backlog), String(fds.length)], {
      stdio: ['ignore', 'pipe', 'pipe', ...fds],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Number(out));
      else reject(new Error(`exit ${code}: ${err.trim().split('\n')[0] ?? ''}`));
    });
  });
}

/**
 * Give every listening socket of the data frontends its backlog (frontend maxconn, at least
 * uWS's 512). Resolves with the number of sockets changed; failures are for the caller to log:
 * the sockets keep uWS's 512 and everything else works.
 */
export async function raiseListenBacklogs(config: Config): Promise<number> {
  if (process.platform !== 'linux') return 0;
  const wanted = wantedBacklogs(config);
  if (wanted.size === 0) return 0;
  let changed = 0;
  for (const [backlog, fds] of await descriptorsByBacklog(wanted)) {
    // stdio entries are per descriptor; a few hundred at most (workers x binds)
    changed += await relisten(fds, backlog);
  }
  return changed;
}
