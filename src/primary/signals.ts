// What each signal does to the primary, as HAProxy's operators (and its init scripts) send them.
// Node's own defaults are wrong for a server: SIGUSR1 opens the V8 inspector on 127.0.0.1:9229
// (code execution for any local user), SIGUSR2 and SIGQUIT end the process at once with every
// request in flight, and SIGTTOU/SIGTTIN stop (freeze) it.
//
// Handlers are installed before the first worker starts. Until the primary is ready to act,
// signals are kept and replayed in order once it is (a stop replaces everything before it), so
// no signal during startup kills the process or is lost.

import type { Snapshot } from '../stats/snapshot';

export type SignalAction = 'stop' | 'reload' | 'pause' | 'resume' | 'status';

export const SIGNAL_ACTIONS: ReadonlyArray<readonly [NodeJS.Signals, SignalAction]> = [
  ['SIGTERM', 'stop'],
  ['SIGINT', 'stop'],
  // HAProxy's soft-stop (what `haproxy -sf` sends to the old process)
  ['SIGUSR1', 'stop'],
  ['SIGHUP', 'reload'],
  // HAProxy's master-worker reload (Debian's haproxy.service: ExecReload=kill -USR2 $MAINPID)
  ['SIGUSR2', 'reload'],
  // HAProxy: unbind the listeners / bind them again; open connections are served meanwhile
  ['SIGTTOU', 'pause'],
  ['SIGTTIN', 'resume'],
  // HAProxy dumps its memory pools; gatehouse logs its frontends' and servers' states
  ['SIGQUIT', 'status'],
];

export type SignalHandler = (action: SignalAction, signal: NodeJS.Signals) => void;

export class SignalRouter {
  private handler: SignalHandler | null = null;
  private early: Array<readonly [SignalAction, NodeJS.Signals]> = [];
  private readonly listeners: Array<readonly [NodeJS.Signals, () => void]> = [];

  /** Take over every signal in SIGNAL_ACTIONS; until attach(), they are kept. */
  install(): void {
    for (const [signal, action] of SIGNAL_ACTIONS) {
      const listener = () => this.route(action, signal);
      this.listeners.push([signal, listener]);
      process.on(signal, listener);
    }
  }

  private route(action: SignalAction, signal: NodeJS.Signals): void {
    if (this.handler !== null) this.handler(action, signal);
    else if (action === 'stop') this.early = [[action, signal]];
    else if (this.early.length === 0 || this.early[0][0] !== 'stop') this.early.push([action, signal]);
  }

  /** Act on signals from now on, starting with those that came before. */
  attach(handler: SignalHandler): void {
    this.handler = handler;
    const early = this.early;
    this.early = [];
    for (const [action, signal] of early) handler(action, signal);
  }

  /** Give the signals back their default actions (startup failed: the process is ending). */
  uninstall(): void {
    for (const [signal, listener] of this.listeners) process.off(signal, listener);
    this.listeners.length = 0;
    this.handler = null;
  }
}

/**
 * SIGQUIT's report: one line per frontend and per backend, with every server's state and the
 * requests it has in flight, read from the same snapshot as the stats page.
 */
export function statusLines(snap: Snapshot): string[] {
  const lines: string[] = [];
  lines.push(`status: pid ${snap.pid}, ${snap.workers} worker(s), up ${snap.uptimeSec} s`);
  for (const f of snap.frontends) {
    lines.push(`status: frontend ${f.name}: ${f.row.status ?? ''}, ${f.row.scur ?? 0} in flight, ${f.row.stot ?? 0} total`);
  }
  for (const b of snap.backends) {
    const usable = b.servers.filter((s) => s.usable).length;
    const servers = b.servers.map((s) => `${s.name} ${s.status} (${s.row.scur ?? 0} in flight)`).join(', ');
    lines.push(`status: backend ${b.name}: ${b.status}, ${usable}/${b.servers.length} server(s) usable${servers === '' ? '' : ': ' + servers}`);
  }
  return lines;
}
