// `-sf PID...` with node-engine or mode tcp binds: the old process holds those ports without
// SO_REUSEPORT (shared-listeners.ts), so the new one cannot bind beside it. As HAProxy's new
// process does, ask the old ones to release their listeners (SIGTTOU: they keep serving open
// connections), bind, and give them back their listeners (SIGTTIN) if the start fails.
// uWS binds need none of this (SO_REUSEPORT): the old process is paused only on EADDRINUSE.

import type { Config } from '../config/model';
import { SharedListeners } from './shared-listeners';

/** How long the old processes get to close their listening sockets. */
const RELEASE_WAIT_MS = 5000;

export interface Takeover {
  listeners: SharedListeners;
  /** the old processes were paused (SIGTTOU) to free the ports */
  paused: boolean;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already: nothing holds its ports
    }
  }
}

const busy = (e: unknown): boolean => /EADDRINUSE/.test((e as Error).message);

/** Binds the shared sockets of `config`, pausing `pids` first when they hold a port. */
export async function bindTakingOver(config: Config, pids: number[]): Promise<Takeover> {
  try {
    return { listeners: SharedListeners.open(config, null), paused: false };
  } catch (e) {
    if (!busy(e) || pids.length === 0) throw e;
  }
  signalAll(pids, 'SIGTTOU');
  const deadline = Date.now() + RELEASE_WAIT_MS;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      return { listeners: SharedListeners.open(config, null), paused: true };
    } catch (e) {
      if (!busy(e) || Date.now() > deadline) {
        signalAll(pids, 'SIGTTIN');
        throw e;
      }
    }
  }
}

/** The start failed after bindTakingOver paused the old processes: they listen again. */
export function giveBack(pids: number[]): void {
  signalAll(pids, 'SIGTTIN');
}
