// The file-descriptor limit against global maxconn, checked at start and at each reload (HAProxy
// does the same in its main()). Each request in progress holds a client and a server socket, so
// maxconn needs about twice as many descriptors, plus a reserve for listeners, idle pooled
// connections, health checks, logs and Node's own. Node itself already raises the soft
// RLIMIT_NOFILE to the hard limit when it starts (measured: soft 1024 / hard 20000 gives a
// Node process 20000); going beyond the hard limit needs root, and Node has no setrlimit, so
// that goes through util-linux's `prlimit` (always installed on Debian) on our own pid. What still
// does not fit lowers maxconn, with HAProxy's words when maxconn was set explicitly.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Config } from '../config/model';
import { acceptPlan } from '../front-node/accept-burst';

/** Descriptors kept aside from 2 x maxconn (listeners, pools, checks, logs, Node's own). */
export const FD_RESERVE = 128;

/**
 * Listening descriptors: each worker listens on one or more duplicates of every bind's socket
 * (node engine, mode tcp: more without the native addon, front-node/accept-burst.ts).
 */
export function listenerFds(config: Config): number {
  let binds = 0;
  for (const f of config.frontends) binds += f.binds.length;
  return binds * config.global.workers * acceptPlan(config.global.maxAccept).handles;
}

export interface FdLimits {
  soft: number;
  hard: number;
}

/** The process's RLIMIT_NOFILE from /proc/self/limits; null where there is none (not Linux). */
export function readFdLimits(): FdLimits | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (m === null) return null;
  const num = (s: string) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: num(m[1]), hard: num(m[2]) };
}

/** Set this process's RLIMIT_NOFILE (both values) with prlimit; false when that failed. */
function setFdLimit(soft: number, hard: number): boolean {
  const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`], { stdio: 'ignore', timeout: 5000 });
  return r.status === 0;
}

export interface FdFit {
  /** the limit in effect after any raise (null: unknown, nothing checked) */
  limit: number | null;
  /** maxconn as it will be enforced */
  maxconn: number;
  /** what to log as a warning, or null */
  warning: string | null;
}

/**
 * Make room for `config.global.maxconn` (raising the soft limit, or the hard one as root), or
 * lower it to what the limit allows. Changes `config.global.maxconn` in place, before the
 * workers get the config.
 */
export function fitMaxconnToFdLimit(
  config: Config,
  read: () => FdLimits | null = readFdLimits,
  raise: (soft: number, hard: number) => boolean = setFdLimit,
  isRoot = process.getuid?.() === 0,
): FdFit {
  const g = config.global;
  const limits = read();
  if (limits === null) return { limit: null, maxconn: g.maxconn, warning: null };
  const reserve = FD_RESERVE + listenerFds(config);
  const need = g.maxconn * 2 + reserve;
  let { soft, hard } = limits;
  if (need > soft) {
    // up to the hard limit anyone may go; past it only root (and the kernel's nr_open)
    const want = isRoot ? Math.max(need, hard) : Math.min(need, hard);
    if (want > soft && raise(want, Math.max(hard, want))) {
      const now = read();
      if (now !== null) ({ soft, hard } = now);
    }
  }
  if (need <= soft) return { limit: soft, maxconn: g.maxconn, warning: null };
  const fit = Math.max(1, Math.floor((soft - reserve) / 2));
  const was = g.maxconn;
  g.maxconn = fit;
  const warning = g.maxconnSet
    ? `Cannot raise FD limit to ${need}, limit is ${soft}: maxconn lowered from ${was} to ${fit} (raise 'ulimit -n' to ${need} or more to keep it)`
    : null;
  return { limit: soft, maxconn: fit, warning };
}
