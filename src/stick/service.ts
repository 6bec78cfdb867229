// The primary's side of stick tables: opens them (the runtime API reads them), removes expired
// entries in the background, and runs the peers sections this process is part of.
import type { Config } from '../config/model';
import { openTables } from './registry';
import type { StickTable } from './table';
import { PeersRuntime } from './peers';

type Log = (level: 'info' | 'notice' | 'warning' | 'alert', text: string) => void;

const PURGE_MS = 250;

export class StickService {
  readonly tables: Map<string, StickTable>;
  private readonly timer: NodeJS.Timeout | null;
  readonly peers: PeersRuntime[] = [];

  constructor(config: Config, log: Log) {
    this.tables = new Map(openTables(config));
    const expiring = [...this.tables.values()].filter((t) => t.expire > 0);
    // HAProxy wakes at the first expiry; a sweep of a slice of each table every 250 ms keeps
    // the primary's event loop free (a 1m-entry table is covered every ~8 s, and a lookup of
    // an expired entry resets it anyway).
    this.timer = expiring.length === 0 ? null : setInterval(() => {
      for (const t of expiring) t.purge(Math.max(1024, Math.ceil(t.size / 32)));
    }, PURGE_MS);
    this.timer?.unref();
    for (const sec of config.stick?.peers ?? []) {
      if (!sec.peers.some((p) => p.local)) continue;
      this.peers.push(new PeersRuntime(sec, config.stick!.localPeer, this.tables, log));
    }
  }

  async start(): Promise<void> {
    for (const p of this.peers) await p.start();
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    for (const p of this.peers) await p.stop();
  }
}
