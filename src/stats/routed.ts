// Stats pages of proxies that also proxy: a frontend or listen with default_backend, use_backend
// or servers, and a backend with `stats enable`. HAProxy intercepts only the requests whose path
// starts with the stats uri and proxies the rest, so those binds are the workers'. The page is
// still rendered by the primary (the data plane never renders one): each such proxy gets an
// internal listener here (127.0.0.1, ephemeral port) and the configuration handed to the workers
// gets a hidden backend per listener, one server `<STATS>` at that port, so a stats request
// takes the normal proxy path (auth, admin POSTs, every format, logs, counters).
//
// 127.0.0.1 is reachable by every local user, so the listener serves only requests carrying this
// generation's random key (STATS_KEY_HEADER, 256 bits, in the workers' configuration only);
// workers add it to the requests they send there and drop any copy a client sent. Without the
// key a local user could step around the frontend's own rules (an http-request deny on the
// stats uri, say); with it, the only way in is through a frontend.
//
// One set per generation: a reload starts new listeners (new ports, new key) with the new
// workers; the old ones close after the old workers have drained.
import { randomBytes } from 'node:crypto';
import type { BackendConfig, Config, ServerConfig, StatsConfig, Timeouts } from '../config/model';
import { DEFAULT_HEALTH_CHECK } from '../config/model';
import { DEFAULT_RETRY_ON } from '../config/retry-on';
import type { AdminForm, AdminResult } from './admin';
import type { PageOptions } from './html';
import type { ExportResult, LatencyQuery } from './latency-export';
import type { RenderKind } from './render-task';
import { StatsServer, type StatsBackend } from './server';
import type { Snapshot } from './snapshot';
import { STATS_SERVER_NAME, statsTargetName } from './routed-names';

export { STATS_SERVER_NAME, statsTargetName, isInternalBackend, isInternalName } from './routed-names';

interface Target {
  /** frontend index, or -1 for a backend's page */
  frontend: number;
  /** the proxy whose page it is */
  proxy: string;
  /** the hidden backend's name */
  name: string;
  stats: StatsConfig;
  timeouts: Timeouts;
}

function targetsOf(config: Config): Target[] {
  const out: Target[] = [];
  const taken = new Set<string>();
  const add = (proxy: string, frontend: number, stats: StatsConfig, timeouts: Timeouts, suffix: string): void => {
    let name = statsTargetName(proxy);
    if (taken.has(name)) name = statsTargetName(proxy + suffix); // a frontend and a backend may share a name
    taken.add(name);
    out.push({ frontend, proxy, name, stats, timeouts });
  };
  config.frontends.forEach((f, i) => {
    if (f.statsRouted && f.stats !== null && f.stats.enable) add(f.name, i, f.stats, f.timeouts, '(frontend)');
  });
  for (const b of config.backends) if (b.stats?.enable) add(b.name, -1, b.stats, b.timeouts, '(backend)');
  return out;
}

/** Whether the configuration has a stats page the workers route (and so internal listeners). */
export function hasRoutedStats(config: Config): boolean {
  return config.frontends.some((f) => f.statsRouted && f.stats?.enable) || config.backends.some((b) => b.stats?.enable);
}

function hiddenBackend(t: Target, port: number, key: string): BackendConfig {
  const server: ServerConfig = {
    name: STATS_SERVER_NAME,
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    weight: 1,
    check: false, // never health-checked: the primary is there as long as the generation is
    backup: false,
    maxconn: 0,
    cookie: null,
    inter: null,
    fastinter: null,
    downinter: null,
    rise: null,
    fall: null,
    checkPort: null,
    checkAddr: null,
    observe: 'none',
    errorLimit: 10,
    onError: 'fail-check',
    disabled: false,
  };
  return {
    name: t.name,
    fromListen: false,
    mode: 'http',
    balance: 'roundrobin',
    balanceHeader: null,
    timeouts: t.timeouts,
    retries: 3,
    retryOn: DEFAULT_RETRY_ON,
    redispatch: false,
    forwardfor: false,
    persist: false,
    allbackups: false,
    healthCheck: { ...DEFAULT_HEALTH_CHECK },
    cookie: null,
    servers: [server],
    internalStats: { proxy: t.proxy, key },
  };
}

/** Hands the listeners' requests to the generation's telemetry once it exists. */
class LateBackend implements StatsBackend {
  target: StatsBackend | null = null;
  private get t(): StatsBackend {
    if (this.target === null) throw new Error('stats are not ready yet');
    return this.target;
  }
  snapshot(): Promise<Snapshot> {
    return this.t.snapshot();
  }
  admin(form: AdminForm, user: string): AdminResult {
    return this.t.admin(form, user);
  }
  count(): void {
    // the workers count what they route here
  }
  render(kind: RenderKind, snap: Snapshot, hideVersion: boolean, page?: PageOptions): Promise<string> {
    return this.t.render(kind, snap, hideVersion, page);
  }
  historyJson(since: number | null): string {
    return this.t.historyJson(since);
  }
  latencyExport(q: LatencyQuery): ExportResult {
    return this.t.latencyExport(q);
  }
}

/** One generation's internal stats listeners. */
export class RoutedStats {
  private constructor(
    /** the configuration with the hidden backends (what the workers, state and stats get) */
    readonly config: Config,
    private readonly servers: StatsServer[],
    private readonly late: LateBackend,
    private readonly names: string[],
  ) {}

  /** Listen on one internal port per routed stats page; none: the configuration as it is. */
  static async open(config: Config): Promise<RoutedStats> {
    const targets = targetsOf(config);
    const late = new LateBackend();
    if (targets.length === 0) return new RoutedStats(config, [], late, []);
    const key = randomBytes(32).toString('hex');
    const servers: StatsServer[] = [];
    try {
      for (const t of targets) {
        const s = new StatsServer(t.stats, [], t.frontend, late, key);
        await s.listen();
        servers.push(s);
      }
    } catch (e) {
      await Promise.all(servers.map((s) => s.close()));
      throw e;
    }
    const hidden = targets.map((t, i) => hiddenBackend(t, servers[i].ports[0], key));
    const byFrontend = new Map(targets.filter((t) => t.frontend >= 0).map((t) => [t.frontend, t.name]));
    // backend targets are in backend order (targetsOf)
    const backendTargets = targets.filter((t) => t.frontend < 0);
    let bi = 0;
    const routed: Config = {
      ...config,
      frontends: config.frontends.map((f, i) => (byFrontend.has(i) ? { ...f, statsTarget: byFrontend.get(i) } : f)),
      backends: [
        ...config.backends.map((b) => (b.stats?.enable ? { ...b, statsTarget: backendTargets[bi++].name } : b)),
        ...hidden,
      ],
    };
    return new RoutedStats(routed, servers, late, targets.map((t) => t.name));
  }

  /** From now on the listeners answer from `stats` (the generation's telemetry). */
  attach(stats: StatsBackend): void {
    this.late.target = stats;
  }

  /** `NAME at 127.0.0.1:PORT, ...` for the start-up notice ('' when none). */
  describe(): string {
    return this.servers.map((s, i) => `${this.names[i]} at 127.0.0.1:${s.ports[0]}`).join(', ');
  }

  /** Ports in use (tests, logs). */
  get ports(): number[] {
    return this.servers.flatMap((s) => s.ports);
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
    this.servers.length = 0;
  }
}
