// HAProxy's runtime API (`stats socket`), on a unix socket served by the primary thread: the
// subset that monitoring and deployment tools use (Ansible's haproxy module, hatop, socat
// one-liners): show info, show stat, get/set weight, enable/disable server, set server state.
// Answers follow HAProxy's wording; every answer ends with an empty line, and a connection
// serves one line (commands separated by ';') unless `prompt` made it interactive.
//
// The socket is bound under a temporary name and renamed over the path, as HAProxy does, so a
// reload or an -sf successor takes the path over while the old socket still answers.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import type { StatsSocketConfig } from '../config/model';
import type { AdminForm, AdminResult } from './admin';
import type { RenderKind } from './render-task';
import type { Snapshot } from './snapshot';
import { gatehouseVersion } from './version';
import { tableCommand } from '../stick/cli';
import { allTables } from '../stick/registry';

/** What the runtime API reads and changes (PrimaryTelemetry). */
export interface CliBackend {
  snapshot(): Promise<Snapshot>;
  render(kind: RenderKind, snap: Snapshot, hideVersion: boolean): Promise<string>;
  admin(form: AdminForm, user: string): AdminResult;
  hasBackend(name: string): boolean;
  /** current and configured weight of backend/server; null when either is unknown */
  weightOf(backend: string, server: string): { current: number; initial: number } | null;
  /** the process-wide figures of `show info` */
  info(): { maxconn: number; currConns: number; workers: number; startedSec: number };
  /** `show servers state [<backend>]` (null: no such backend) */
  serversState(backend?: string): string | null;
  /** `show resolvers [<section>]` (null: no such section) */
  showResolvers(section?: string): string | null;
}

/** Longest command line accepted (HAProxy's is tune.bufsize). */
const MAX_LINE = 16 * 1024;
const LEVELS = { user: 0, operator: 1, admin: 2 } as const;

const HELP = [
  '  help                                    : this message',
  '  prompt                                  : toggle interactive mode with prompt',
  '  quit                                    : disconnect',
  '  show info                               : report information about the running process',
  '  show stat [json]                        : report counters for each proxy and server (CSV, or JSON)',
  '  show servers state [<backend>]          : dump volatile server information (addresses, states)',
  '  show resolvers [<section>]              : dump counters from all resolvers section and associated name servers',
  '  get weight <bk>/<srv>                   : report a server\'s current weight',
  '  set weight <bk>/<srv> <weight>[%]       : change a server\'s weight',
  '  set server <bk>/<srv> state <state>     : set a server\'s administrative state (ready, drain, maint)',
  '  set server <bk>/<srv> weight <weight>   : change a server\'s weight',
  '  disable server <bk>/<srv>               : set a server in maintenance mode',
  '  enable server <bk>/<srv>                : re-enable a server that was previously in maintenance mode',
  '  show table [<table> [data.<type> <op> <value>]... | <table> key <key>] : report table usage stats or dump this table\'s contents',
  '  clear table <table> [data.<type> <op> <value>]... | [key <key>]        : remove an entry from a table',
  '  set table <table> key <key> [data.<data_type> <value>]*                : update or create a table entry\'s data',
].join('\n');

export class CliServer {
  private readonly server: net.Server;
  private readonly conns = new Set<net.Socket>();
  /** inode of the socket file we put at the path (removed at close only if still ours) */
  private ino = -1;

  constructor(
    private readonly spec: StatsSocketConfig,
    private readonly backend: CliBackend,
    private readonly idleMs: number,
    private readonly log: (text: string) => void,
  ) {
    // Half-open: `echo CMD | socat stdio SOCKET` shuts its side down right after the command,
    // and still expects the answer.
    this.server = net.createServer({ allowHalfOpen: true }, (sock) => this.serve(sock));
  }

  async listen(): Promise<void> {
    const path = this.spec.path;
    const tmp = `${path}.${process.pid}.tmp`;
    fs.rmSync(tmp, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(tmp, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    try {
      if (this.spec.mode !== null) fs.chmodSync(tmp, this.spec.mode);
      fs.renameSync(tmp, path);
      this.ino = fs.statSync(path).ino;
    } catch (e) {
      await this.close();
      throw e;
    }
    // A write to a client that went away must not reach the process as an error.
    this.server.on('error', (e) => this.log(`stats socket ${path}: ${e.message}`));
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      if (this.ino >= 0 && fs.statSync(this.spec.path).ino === this.ino) fs.unlinkSync(this.spec.path);
    } catch {
      /* already replaced or removed */
    }
    this.ino = -1;
  }

  private serve(sock: net.Socket): void {
    this.conns.add(sock);
    sock.setEncoding('utf8');
    sock.setTimeout(this.idleMs, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    let buf = '';
    let interactive = false;
    let busy = false;
    /** the client has sent everything it will send */
    let ended = false;
    const pump = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          const nl = buf.indexOf('\n');
          if (nl < 0) {
            if (buf.length > MAX_LINE) {
              sock.end('Line too long.\n\n');
              buf = '';
            } else if (ended && !sock.destroyed) sock.end();
            return;
          }
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          let out = '';
          let quit = false;
          for (const cmd of line.split(';')) {
            const words = cmd.trim().split(/\s+/).filter((x) => x !== '');
            if (words.length === 0) continue;
            if (words[0] === 'quit') {
              quit = true;
              break;
            }
            if (words[0] === 'prompt') {
              interactive = !interactive;
              continue;
            }
            out += await this.run(words);
          }
          if (sock.destroyed) return;
          if (quit || !interactive) {
            sock.end(out);
            return;
          }
          sock.write(out + '> ');
        }
      } catch (e) {
        if (!sock.destroyed) sock.end(`Internal error: ${(e as Error).message}\n\n`);
      } finally {
        busy = false;
      }
    };
    sock.on('data', (d: string) => {
      buf += d;
      void pump();
    });
    sock.on('end', () => {
      ended = true;
      // a last command without its newline still runs
      if (buf.trim() !== '') buf += '\n';
      void pump();
    });
  }

  /** One command's answer, ending with the empty line HAProxy ends every answer with. */
  private async run(w: string[]): Promise<string> {
    const [a, b] = w;
    if (a === 'help') return `${HELP}\n\n`;
    if (a === 'show' && b === 'info') return this.showInfo();
    if (a === 'show' && b === 'stat') {
      const snap = await this.backend.snapshot();
      return (await this.backend.render(w[2] === 'json' ? 'json' : 'csv', snap, false)).replace(/\n*$/, '\n\n');
    }
    if (a === 'show' && b === 'servers' && w[2] === 'state') {
      return this.backend.serversState(w[3]) ?? `Can't find backend '${w[3]}'.\n\n`;
    }
    if (a === 'show' && b === 'resolvers') {
      const out = this.backend.showResolvers(w[2]);
      return out === null ? `Can't find resolvers section '${w[2]}'.\n\n` : `${out}\n`;
    }
    if (a === 'get' && b === 'weight') {
      const target = this.target(w[2]);
      return typeof target === 'string' ? target : `${target.current} (initial ${target.initial})\n\n`;
    }
    if (a === 'set' && b === 'weight') return this.change(w[2], 'weight', w[3]);
    if (a === 'set' && b === 'server') {
      if (w[3] === 'state') {
        if (w[4] !== 'ready' && w[4] !== 'drain' && w[4] !== 'maint') return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n";
        return this.change(w[2], w[4], null);
      }
      if (w[3] === 'weight') return this.change(w[2], 'weight', w[4]);
      return "'set server <srv>' only supports 'state' and 'weight' in gatehouse.\n\n";
    }
    // stick tables (src/stick/cli.ts)
    if ((a === 'show' || a === 'clear' || a === 'set') && b === 'table') return tableCommand(w, allTables(), this.spec.level);
    if ((a === 'disable' || a === 'enable') && b === 'server') return this.change(w[2], a === 'disable' ? 'maint' : 'ready', null);
    return `Unknown command: '${w.join(' ')}'. Please enter one of the following commands only:\n${HELP}\n\n`;
  }

  private showInfo(): string {
    const i = this.backend.info();
    const up = Math.max(0, Math.floor(Date.now() / 1000) - i.startedSec);
    const uptime = `${Math.floor(up / 86400)}d ${Math.floor((up % 86400) / 3600)}h${String(Math.floor((up % 3600) / 60)).padStart(2, '0')}m${String(up % 60).padStart(2, '0')}s`;
    const fields: Array<[string, string | number]> = [
      ['Name', 'gatehouse'],
      ['Version', gatehouseVersion()],
      ['Nbthread', i.workers],
      ['Nbproc', 1],
      ['Process_num', 1],
      ['Pid', process.pid],
      ['Uptime', uptime],
      ['Uptime_sec', up],
      ['Maxconn', i.maxconn],
      ['CurrConns', i.currConns],
      ['Node', os.hostname()],
    ];
    return fields.map(([k, v]) => `${k}: ${v}`).join('\n') + '\n\n';
  }

  /** `<bk>/<srv>` resolved with its weights, or the answer that says why not. */
  private target(arg: string | undefined): { backend: string; server: string; current: number; initial: number } | string {
    const slash = arg === undefined ? -1 : arg.indexOf('/');
    if (arg === undefined || slash <= 0 || slash === arg.length - 1) return "Require 'backend/server'.\n\n";
    const backend = arg.slice(0, slash);
    const server = arg.slice(slash + 1);
    if (!this.backend.hasBackend(backend)) return 'No such backend.\n\n';
    const weight = this.backend.weightOf(backend, server);
    if (weight === null) return 'No such server.\n\n';
    return { backend, server, ...weight };
  }

  /** An admin change through the same path as the stats page's admin form. */
  private change(arg: string | undefined, action: string, weight: string | null | undefined): string {
    if (LEVELS[this.spec.level] < LEVELS.admin) return 'Permission denied\n\n';
    const target = this.target(arg);
    if (typeof target === 'string') return target;
    let value: string | null = null;
    if (action === 'weight') {
      const m = weight === undefined || weight === null ? null : /^(\d+)(%?)$/.exec(weight);
      if (m === null) return 'Require <weight>.\n\n';
      // HAProxy: a percentage is relative to the configured (initial) weight
      value = String(m[2] === '%' ? Math.floor((target.initial * Number(m[1])) / 100) : Number(m[1]));
    }
    const result = this.backend.admin({ backend: target.backend, servers: [target.server], action, weight: value }, 'stats socket');
    return result === 'ERRP' ? (action === 'weight' ? 'Weight is out of range (0-256).\n\n' : 'Invalid parameters.\n\n') : '\n';
  }
}
