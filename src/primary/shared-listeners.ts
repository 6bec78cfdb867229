// The listening sockets of node-engine binds: made once by the primary (bound, not listening:
// the primary never accepts) and listened on by every worker through its own duplicate
// (src/front-node/listener.ts). A reload hands the sockets of addresses the next configuration
// still binds to its workers, so those ports never stop accepting and nothing queued is reset
// (what uWS binds need net.ipv4.tcp_migrate_req for).

import { primaryServesBinds, type Config } from '../config/model';
import { bindSharedSocket, sharedSocketsAvailable, type SharedSocket } from '../front-node/listener';
import { bindEngine, bindKey } from '../worker/engine';
import { uwsAvailable, uwsUnavailable } from '../worker/uws-load';

export class SharedListeners {
  private readonly sockets = new Map<string, SharedSocket>();

  /** Descriptors by bind key (engine.ts bindKey), for the workers. */
  fds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.sockets) out[k] = s.fd;
    return out;
  }

  get size(): number {
    return this.sockets.size;
  }

  /**
   * The sockets `config` needs: taken over from `prev` (a reload) where the address is the
   * same, bound anew otherwise. Throws a clear error when a port cannot be bound.
   */
  static open(config: Config, prev: SharedListeners | null, errors: string[] | null = null): SharedListeners {
    const out = new SharedListeners();
    const uwsOk = uwsAvailable();
    for (const fe of config.frontends) {
      if (primaryServesBinds(fe)) continue;
      for (const b of fe.binds) {
        if (bindEngine(b, config.global, uwsOk, fe.mode) !== 'node') continue;
        const key = bindKey(b);
        if (out.sockets.has(key)) continue;
        const kept = prev?.sockets.get(key);
        if (kept !== undefined) {
          out.sockets.set(key, kept);
          continue;
        }
        if (!sharedSocketsAvailable()) throw new Error(`frontend ${fe.name}: cannot bind ${b.text} on the node engine: this Node.js (${process.version}) has no tcp_wrap binding`);
        try {
          out.sockets.set(key, bindSharedSocket(b.host, b.port));
        } catch (e) {
          const text = `frontend ${fe.name}: cannot bind ${b.text} (${(e as Error).message})`;
          // resuming (errors given): bind what can be bound, report the rest
          if (errors !== null) {
            errors.push(text);
            continue;
          }
          out.closeAll();
          throw new Error(text);
        }
      }
    }
    return out;
  }

  /** Close the sockets `next` does not keep (null: all of them). */
  closeExcept(next: SharedListeners | null): void {
    for (const [k, s] of this.sockets) {
      if (next !== null && next.sockets.get(k) === s) continue;
      s.close();
    }
    this.sockets.clear();
  }

  closeAll(): void {
    this.closeExcept(null);
  }
}

/** Why binds run on the node engine although the configuration did not ask (null: they do not). */
export function engineFallbackNotice(config: Config): string | null {
  if (uwsAvailable()) return null;
  const any = config.frontends.some((fe) => !primaryServesBinds(fe) && fe.binds.length > 0);
  if (!any) return null;
  return `every bind runs on the node engine (ssl binds on node:tls): ${uwsUnavailable() || `uWebSockets.js 20.30 has no binary for Node.js ${process.version}`}`;
}
