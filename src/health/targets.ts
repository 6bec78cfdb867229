// Resolves, from the validated config, what the health thread must do for each server:
// where to connect, what to send, how to judge, how often. Per-server overrides win over the
// backend's health_check (HAProxy's `server ... inter/rise/fall/port/addr`).
import type { BackendConfig, Config, ServerConfig } from '../config/model';
import { ServerIndex, dynamicAddress } from '../shared/state';
import type { HttpExpect } from './http-check-reply';
import type { Intervals, RiseFall } from './rise-fall';
import { buildPlan, type TcpCheckPlan } from './tcp-check';
import { checkConnOf, type CheckConn } from './check-connect';

export interface CheckTarget extends RiseFall, Intervals {
  /** global server index in the SharedArrayBuffer */
  index: number;
  backend: number;
  backendName: string;
  serverName: string;
  backup: boolean;
  kind: 'tcp' | 'http';
  host: string;
  /** the host is the address DNS gives the server (src/dns/), read before each probe */
  dynamic: boolean;
  port: number;
  timeoutMs: number;
  /** the bytes of the HTTP probe request; null for tcp */
  request: Buffer | null;
  expect: HttpExpect;
  /** tcp-check sequence or protocol check (backend tcp_check, when the check is not HTTP); null otherwise */
  tcpCheck: TcpCheckPlan | null;
  observe: 'none' | 'layer4' | 'layer7';
  errorLimit: number;
  onError: ServerConfig['onError'];
  /** TLS / PROXY header of the check's connections (check-connect.ts); null: plain TCP */
  conn: CheckConn | null;
}

export interface ServerSlot {
  index: number;
  backup: boolean;
}

// A bad number must not stall or spin the scheduler: fall back to HAProxy's defaults.
function positive(v: number | null | undefined, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

/** Header text with CR/LF removed: a config value must not be able to split the request. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]/g, ' ');
}

export function buildHttpRequest(backend: BackendConfig, server: ServerConfig): Buffer {
  const hc = backend.healthCheck;
  const method = oneLine(hc.method || 'GET');
  const uri = oneLine(hc.uri || '/');
  const lines = [`${method} ${uri} ${hc.version}`];
  const userHost = hc.headers.some((h) => h.name.toLowerCase() === 'host');
  if (!userHost) lines.push(`Host: ${oneLine(hc.host ?? server.address)}`);
  for (const h of hc.headers) {
    const name = oneLine(h.name).replace(/[: ]/g, '');
    if (!name || name.toLowerCase() === 'connection') continue;
    lines.push(`${name}: ${oneLine(h.value)}`);
  }
  // One probe per connection, like HAProxy with http-check expect: nothing to pool or drain.
  lines.push('Connection: close');
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

function target(config: Config, bi: number, si: number, idx: ServerIndex): CheckTarget {
  const b = config.backends[bi];
  const s = b.servers[si];
  const hc = b.healthCheck;
  const inter = positive(s.inter ?? hc.inter, 2000);
  return {
    index: idx.server(bi, si),
    backend: bi,
    backendName: b.name,
    serverName: s.name,
    backup: s.backup,
    kind: hc.type === 'http' ? 'http' : 'tcp',
    host: s.checkAddr ?? s.host,
    dynamic: s.checkAddr === null && dynamicAddress(s),
    port: s.checkPort ?? s.port,
    timeoutMs: positive(b.timeouts.check, inter),
    request: hc.type === 'http' ? buildHttpRequest(b, s) : null,
    tcpCheck: hc.type !== 'http' && b.tcpCheck ? buildPlan(b.tcpCheck) : null,
    expect: {
      expectStatus: hc.expectStatus.length > 0 ? hc.expectStatus : [[200, 399]],
      expectString: hc.expectString,
    },
    inter,
    fastinter: positive(s.fastinter ?? hc.fastinter, inter),
    downinter: positive(s.downinter ?? hc.downinter, inter),
    rise: positive(s.rise ?? hc.rise, 2),
    fall: positive(s.fall ?? hc.fall, 3),
    observe: s.observe,
    errorLimit: positive(s.errorLimit, 10),
    onError: s.onError,
    conn: checkConnOf(b.name, s),
  };
}

/** Every server with `check: true`, in global index order. */
export function checkTargets(config: Config): CheckTarget[] {
  const idx = new ServerIndex(config);
  const out: CheckTarget[] = [];
  config.backends.forEach((b, bi) =>
    b.servers.forEach((s, si) => {
      if (s.check) out.push(target(config, bi, si, idx));
    }),
  );
  return out;
}

/** All servers of each backend (checked or not), to count what is left after a change. */
export function backendSlots(config: Config): ServerSlot[][] {
  const idx = new ServerIndex(config);
  return config.backends.map((b, bi) => b.servers.map((s, si) => ({ index: idx.server(bi, si), backup: s.backup })));
}
