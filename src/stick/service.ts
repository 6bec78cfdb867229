// The primary's side of stick tables: opens them (the runtime API reads them), removes expired
// entries in the background, and runs the peers sections this process is part of.
import type { Config } from '../config/model';
import { openTables } from './registry';
import type { StickTable } from './table';
import { PeersRuntime } from './peers';

type Log = (level: 'info' | 'notice' | 'warning' | 'alert', text: string) => void;

const PURGE_MS = 250;
/** how often refused keys and full-table refusals are reported in the log (at most) */
const REPORT_MS = 10000;

export class StickService {
  readonly tables: Map<string, StickTable>;
  private readonly timer: NodeJS.Timeout | null;
  private readonly reporter: NodeJS.Timeout | null;
  readonly peers: PeersRuntime[] = [];
  /** per table: [bad keys, refused] already reported */
  private readonly reported = new Map<string, [number, number]>();

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
    // Workers count what they cannot store (keys of the wrong type, a full nopurge table); the
    // primary logs the increase, at most every 10 s per table, so a flood cannot flood the log.
    this.reporter = this.tables.size === 0 ? null : setInterval(() => this.report(log), REPORT_MS);
    this.reporter?.unref();
    for (const sec of config.stick?.peers ?? []) {
      if (!sec.peers.some((p) => p.local)) continue;
      this.peers.push(new PeersRuntime(sec, config.stick!.localPeer, this.tables, log));
    }
  }

  async start(): Promise<void> {
    for (const p of this.peers) await p.start();
  }

  private report(log: Log): void {
    for (const t of this.tables.values()) {
      const [bad, refused] = this.reported.get(t.name) ?? [0, 0];
      const nb = t.badKeys;
      const nr = t.refusedFull;
      if (nb > bad) log('warning', `stick table ${t.name}: ${nb - bad} sample(s) could not be a key of type ${t.cfg.type} (not tracked); ${nb} in all`);
      if (nr > refused) log('warning', `stick table ${t.name}: full (size ${t.size}, nopurge): ${nr - refused} new key(s) refused; ${nr} in all`);
      this.reported.set(t.name, [nb, nr]);
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.reporter !== null) clearInterval(this.reporter);
    for (const p of this.peers) await p.stop();
  }
}
