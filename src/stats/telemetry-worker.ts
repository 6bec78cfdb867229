// Worker side of observability: per-request latency recording into HDR histograms and
// access-log line building, batched to the primary. Called on the request path, so:
// no allocation beyond the log line itself, no I/O, no waiting.
import type { Config } from '../config/model';
import { formatDefault, formatHttplog, formatJson, type LogGauges, type Names, type RequestRecord } from '../log/format';
import { BACKEND_STRIDE, B_ACTIVE, B_QUEUE, G_ACTIVE_CONN, SERVER_STRIDE, S_ACTIVE, S_QUEUE, type SharedState } from '../shared/state';
import { FastRecorder, encodeHistogram } from './histograms';
import { TAG, isTelemetry, type HistogramReply, type LogBatch } from './messages';

export type { RequestRecord } from '../log/format';

const LOG_OFF = 0;
const LOG_HTTP = 1;
const LOG_JSON = 2;
const LOG_DEFAULT = 3;

/** Lines kept before a batch is posted without waiting for the timer. */
export const BATCH_LINES = 256;
/** Longest a finished request's log line waits in the worker. */
export const BATCH_MS = 100;

/** A request with no request line and nothing received: what `option dontlognull` skips. */
function isNull(r: RequestRecord): boolean {
  return r.method === '' && r.bytesIn === 0;
}

class HistogramRow {
  readonly hists: (FastRecorder | null)[];
  readonly sent: number[];
  constructor(n: number) {
    this.hists = new Array<FastRecorder | null>(n).fill(null);
    this.sent = new Array<number>(n).fill(0);
  }
  record(i: number, us: number): void {
    let h = this.hists[i];
    // Allocated on first use: rows that see no traffic cost no memory.
    if (h === null) h = this.hists[i] = new FastRecorder();
    h.record(us);
  }
  /** histograms that changed since the last call, as cumulative HDR histograms, encoded */
  changed(): [number, string][] {
    const out: [number, string][] = [];
    for (let i = 0; i < this.hists.length; i++) {
      const h = this.hists[i];
      if (h !== null && h.totalCount !== this.sent[i]) {
        this.sent[i] = h.totalCount;
        out.push([i, encodeHistogram(h.toHistogram())]);
      }
    }
    return out;
  }
}

export class WorkerTelemetry {
  private readonly fe: HistogramRow;
  private readonly be: HistogramRow;
  private readonly srv: HistogramRow;
  private readonly logMode: number[];
  private readonly dontlognull: boolean[];
  private readonly frontendNames: string[];
  private readonly backendNames: string[];
  private readonly serverNames: string[];
  /** per frontend: pending lines, joined once per batch (cheaper than growing one string) */
  private readonly pending: string[][];
  private pendingTotal = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly names: Names = { frontend: '', backend: '', server: '' };
  private readonly gauges: LogGauges = { actconn: 0, feconn: 0, beconn: 0, srvConn: 0, srvQueue: 0, backendQueue: 0 };
  private readonly onTimer = () => {
    this.timer = null;
    this.flushLogs();
  };

  /**
   * @param state optional: when given, log lines show live connection and queue gauges
   * (%ac/%fc/%bc/%sc, %sq/%bq); without it they show 0.
   */
  constructor(
    config: Config,
    readonly workerId: number,
    private readonly post: (msg: unknown) => void,
    private readonly state: SharedState | null = null,
  ) {
    this.fe = new HistogramRow(config.frontends.length);
    this.be = new HistogramRow(config.backends.length);
    this.serverNames = [];
    for (const b of config.backends) for (const s of b.servers) this.serverNames.push(s.name);
    this.srv = new HistogramRow(this.serverNames.length);
    this.frontendNames = config.frontends.map((f) => f.name);
    this.backendNames = config.backends.map((b) => b.name);
    this.logMode = config.frontends.map((f) =>
      f.logs.length === 0 ? LOG_OFF : f.logFormat === 'json' ? LOG_JSON : f.httplog ? LOG_HTTP : LOG_DEFAULT,
    );
    this.dontlognull = config.frontends.map((f) => f.dontlognull);
    this.pending = config.frontends.map(() => []);
  }

  onRequestDone(r: RequestRecord): void {
    if (r.ta >= 0) {
      // Microseconds: keeps resolution for sub-millisecond answers.
      const us = Math.round(r.ta * 1000);
      this.fe.record(r.frontend, us);
      if (r.backend >= 0) this.be.record(r.backend, us);
      if (r.server >= 0) this.srv.record(r.server, us);
    }
    const mode = this.logMode[r.frontend];
    if (mode === LOG_OFF || (this.dontlognull[r.frontend] && isNull(r))) return;
    const line = this.format(mode, r);
    this.pending[r.frontend].push(line);
    if (++this.pendingTotal >= BATCH_LINES) this.flushLogs();
    else if (this.timer === null) this.timer = setTimeout(this.onTimer, BATCH_MS);
  }

  private format(mode: number, r: RequestRecord): string {
    const n = this.names;
    n.frontend = this.frontendNames[r.frontend];
    n.backend = r.backend >= 0 ? this.backendNames[r.backend] : n.frontend;
    n.server = r.server >= 0 ? this.serverNames[r.server] : '<NOSRV>';
    const g = this.gauges;
    const st = this.state;
    if (st !== null) {
      g.actconn = st.global[G_ACTIVE_CONN];
      // No per-frontend gauge is shared across workers; the process-wide count stands in.
      g.feconn = g.actconn;
      g.beconn = r.backend >= 0 ? st.backends[r.backend * BACKEND_STRIDE + B_ACTIVE] : 0;
      g.backendQueue = r.backend >= 0 ? st.backends[r.backend * BACKEND_STRIDE + B_QUEUE] : 0;
      g.srvConn = r.server >= 0 ? st.servers[r.server * SERVER_STRIDE + S_ACTIVE] : 0;
      g.srvQueue = r.server >= 0 ? st.servers[r.server * SERVER_STRIDE + S_QUEUE] : 0;
    }
    return mode === LOG_HTTP ? formatHttplog(r, n, g) : mode === LOG_JSON ? formatJson(r, n, g) : formatDefault(r, n, g);
  }

  private flushLogs(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pendingTotal === 0) return;
    for (let f = 0; f < this.pending.length; f++) {
      const lines = this.pending[f];
      if (lines.length === 0) continue;
      const msg: LogBatch = { gh: TAG, kind: 'log', frontend: f, lines: lines.length, text: lines.join('\n') + '\n' };
      lines.length = 0;
      this.post(msg);
    }
    this.pendingTotal = 0;
  }

  private histogramReply(id: number): HistogramReply {
    return { gh: TAG, kind: 'hist', id, frontends: this.fe.changed(), backends: this.be.changed(), servers: this.srv.changed() };
  }

  onMessage(msg: unknown): boolean {
    if (!isTelemetry(msg)) return false;
    if (msg.kind === 'hist?') this.post(this.histogramReply(msg.id));
    return true;
  }

  /** Post pending log lines and the latest histograms (shutdown: nothing recorded is lost). */
  flush(): void {
    this.flushLogs();
    const h = this.histogramReply(0);
    if (h.frontends.length + h.backends.length + h.servers.length > 0) this.post(h);
  }
}
