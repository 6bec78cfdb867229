// Worker side of observability: per-request latency recording into HDR histograms and
// access-log lines. Called on the request path, so: no allocation beyond what a line needs, no
// waiting. Lines for `file:` targets are written by this worker itself (as bytes, batched, one
// async O_APPEND write in flight at a time: src/log/worker-file.ts); lines for the other targets
// (stdout, stderr, syslog) are formatted as strings and batched to the primary, which writes them.
import { isMainThread } from 'node:worker_threads';
import type { Config } from '../config/model';
import { formatDefault, formatHttplog, formatJson, type LogGauges, type Names, type RequestRecord } from '../log/format';
import { compileLogFormat, formatCustom, type CompiledLogFormat } from '../log/custom-format';
import { maxLineBytes, nameBytes, writeDefault, writeHttplog, type NameBytes } from '../log/line-bytes';
import { facilityCode, priority } from '../log/syslog';
import { ACCESS_SEVERITY, parseTarget, takesAccessLines } from '../log/targets';
import { WorkerFileLog } from '../log/worker-file';
import { BACKEND_STRIDE, B_ACTIVE, B_QUEUE, G_ACTIVE_CONN, SERVER_STRIDE, S_ACTIVE, S_QUEUE, type SharedState } from '../shared/state';
import { FastRecorder, PairWriter, encodeHistogram } from './histograms';
import { TAG, isTelemetry, type HistogramReply, type LogBatch, type LogWarning, type TickReply } from './messages';

export type { RequestRecord } from '../log/format';

const LOG_OFF = 0;
const LOG_HTTP = 1;
const LOG_JSON = 2;
const LOG_DEFAULT = 3;
/** a HAProxy log-format string (src/log/custom-format.ts) */
const LOG_CUSTOM = 4;

/** Lines for the primary kept before a batch is posted without waiting for the timer. */
export const BATCH_LINES = 256;
/**
 * Longest a finished request's log line waits in the worker (file batches also leave early at
 * EAGER_BYTES, see worker-file.ts).
 */
export const BATCH_MS = 100;

const NO_BYTES = new Uint8Array(0);
const NOSRV = nameBytes('<NOSRV>');

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
  /** latencies recorded since the last call, as `row, n, (slot, count) x n` records (rows numbered from `firstRow`) */
  drainInterval(out: PairWriter, firstRow: number): void {
    for (let i = 0; i < this.hists.length; i++) {
      const h = this.hists[i];
      if (h === null || h.intervalSlots === 0) continue;
      out.push2(firstRow + i, h.intervalSlots);
      h.drainInterval(out);
    }
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
  /** per frontend: its compiled log-format (LOG_CUSTOM), else null */
  private readonly custom: (CompiledLogFormat | null)[];
  private readonly dontlognull: boolean[];
  private readonly frontendNames: string[];
  private readonly backendNames: string[];
  private readonly serverNames: string[];
  private readonly frontendBytes: Uint8Array[];
  private readonly backendBytes: Uint8Array[];
  private readonly serverBytes: Uint8Array[];
  /** the longest pre-encoded names a line can show (frontend + backend + server) */
  private readonly maxNameBytes: number;
  /** per frontend: the file targets this worker appends to, or null */
  private readonly files: (WorkerFileLog[] | null)[];
  /** every distinct file target (path, framing, priority) */
  private readonly fileLogs: WorkerFileLog[] = [];
  /** per frontend: does a target written by the primary (stdout, stderr, syslog) take its lines? */
  private readonly toPrimary: boolean[];
  /** per frontend: pending lines for the primary, joined once per batch */
  private readonly pending: string[][];
  /** lines for the primary since the last batch was posted */
  private pendingTotal = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly names: Names = { frontend: '', backend: '', server: '' };
  private readonly nameBytes: NameBytes = { frontend: NO_BYTES, backend: NO_BYTES, server: NO_BYTES };
  private readonly tickBuf = new PairWriter();
  private readonly gauges: LogGauges = { actconn: 0, feconn: 0, beconn: 0, srvConn: 0, srvQueue: 0, backendQueue: 0 };
  private readonly onTimer = () => {
    this.timer = null;
    this.flushLogs();
  };
  private readonly armTimer = () => {
    if (this.timer === null) this.timer = setTimeout(this.onTimer, BATCH_MS);
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
    this.frontendBytes = this.frontendNames.map(nameBytes);
    this.backendBytes = this.backendNames.map(nameBytes);
    this.serverBytes = this.serverNames.map(nameBytes);
    const longest = (a: Uint8Array[]) => a.reduce((m, x) => Math.max(m, x.length), 0);
    // A line without a backend shows the frontend's name in its place; without a server, <NOSRV>.
    this.maxNameBytes = longest(this.frontendBytes) * 2 + longest(this.backendBytes) + Math.max(longest(this.serverBytes), NOSRV.length);
    this.logMode = config.frontends.map((f) =>
      f.logs.length === 0 ? LOG_OFF : f.logFormatCustom ? LOG_CUSTOM : f.logFormat === 'json' ? LOG_JSON : f.httplog ? LOG_HTTP : LOG_DEFAULT,
    );
    this.custom = config.frontends.map((f) => (f.logFormatCustom ? compileLogFormat(f.logFormatCustom) : null));
    this.dontlognull = config.frontends.map((f) => f.dontlognull);
    this.pending = config.frontends.map(() => []);
    this.toPrimary = config.frontends.map(() => false);
    const byKey = new Map<string, WorkerFileLog>();
    this.files = config.frontends.map((f, fi) => {
      const list: WorkerFileLog[] = [];
      for (const t of f.logs) {
        let spec;
        try {
          spec = parseTarget(t.target);
        } catch {
          continue; // the primary's LogSink reports it
        }
        if (!takesAccessLines(t)) continue;
        if (spec.kind !== 'file') {
          this.toPrimary[fi] = true;
          continue;
        }
        const pri = priority(facilityCode(t.facility), ACCESS_SEVERITY);
        const key = spec.path + '\0' + t.format + '\0' + pri;
        let log = byKey.get(key);
        if (log === undefined) {
          log = new WorkerFileLog(spec.path!, t.format, pri, (text) => this.warn(fi, text), this.armTimer);
          byKey.set(key, log);
          this.fileLogs.push(log);
        }
        if (!list.includes(log)) list.push(log);
      }
      return list.length > 0 ? list : null;
    });
    // A frontend whose targets all refuse access lines (level below info) or failed to parse logs nothing.
    for (let f = 0; f < this.logMode.length; f++) if (this.files[f] === null && !this.toPrimary[f]) this.logMode[f] = LOG_OFF;
    // A worker thread that ends (stop, crash, or a late line after flush()) writes what is left.
    if (!isMainThread && this.fileLogs.length > 0) process.once('exit', () => this.close());
  }

  /** A warning about a server (a failed TLS handshake): to the global log targets and stderr, once per text. */
  serverWarning(text: string): void {
    this.warn(-1, text);
  }

  private warn(frontend: number, text: string): void {
    const msg: LogWarning = { gh: TAG, kind: 'logwarn', frontend, text };
    this.post(msg);
  }

  onRequestDone(r: RequestRecord): void {
    // A WebSocket tunnel (101) lasts as long as its users talk: its lifetime is not a response time.
    if (r.ta >= 0 && r.status !== 101) {
      // Microseconds: keeps resolution for sub-millisecond answers.
      const us = Math.round(r.ta * 1000);
      this.fe.record(r.frontend, us);
      if (r.backend >= 0) this.be.record(r.backend, us);
      if (r.server >= 0) this.srv.record(r.server, us);
    }
    const f = r.frontend;
    const mode = this.logMode[f];
    if (mode === LOG_OFF || (this.dontlognull[f] && isNull(r))) return;
    this.fill(r);
    const files = this.files[f];
    if (files !== null) this.writeFiles(files, mode, r);
    if (this.toPrimary[f]) {
      this.pending[f].push(this.format(mode, r));
      if (++this.pendingTotal >= BATCH_LINES) this.postPending();
    }
    if (this.timer === null) this.timer = setTimeout(this.onTimer, BATCH_MS);
  }

  /**
   * A connection-level line of frontend `f` (HAProxy's "SSL handshake failure"), as written:
   * to the targets the primary writes (worker-appended files do not take these lines).
   */
  onConnectionLine(f: number, text: string): void {
    if (this.logMode[f] === LOG_OFF || !this.toPrimary[f]) return;
    this.pending[f].push(text);
    if (++this.pendingTotal >= BATCH_LINES) this.postPending();
    if (this.timer === null) this.timer = setTimeout(this.onTimer, BATCH_MS);
  }

  /** Names and gauges of the line (shared by both kinds of output). */
  private fill(r: RequestRecord): void {
    const n = this.names;
    const nb = this.nameBytes;
    n.frontend = this.frontendNames[r.frontend];
    nb.frontend = this.frontendBytes[r.frontend];
    if (r.backend >= 0) {
      n.backend = this.backendNames[r.backend];
      nb.backend = this.backendBytes[r.backend];
    } else {
      n.backend = n.frontend;
      nb.backend = nb.frontend;
    }
    if (r.server >= 0) {
      n.server = this.serverNames[r.server];
      nb.server = this.serverBytes[r.server];
    } else {
      n.server = '<NOSRV>';
      nb.server = NOSRV;
    }
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
  }

  private writeFiles(files: WorkerFileLog[], mode: number, r: RequestRecord): void {
    let json: string | null = null;
    for (let i = 0; i < files.length; i++) {
      const log = files[i];
      if (log.dead) continue;
      if (mode === LOG_JSON || mode === LOG_CUSTOM) {
        // JSON and log-format lines are built as a string, encoded into the batch.
        json ??= mode === LOG_JSON ? formatJson(r, this.names, this.gauges) : formatCustom(this.custom[r.frontend]!, r, this.names, this.gauges);
        const p = log.begin(3 * json.length);
        log.end(p + log.buf.write(json, p));
        continue;
      }
      const p = log.begin(maxLineBytes(r) + this.maxNameBytes);
      log.end(
        mode === LOG_HTTP
          ? writeHttplog(log.buf, p, r, this.nameBytes, this.gauges)
          : writeDefault(log.buf, p, r, this.nameBytes, this.gauges),
      );
    }
  }

  private format(mode: number, r: RequestRecord): string {
    const n = this.names;
    const g = this.gauges;
    if (mode === LOG_CUSTOM) return formatCustom(this.custom[r.frontend]!, r, n, g);
    return mode === LOG_HTTP ? formatHttplog(r, n, g) : mode === LOG_JSON ? formatJson(r, n, g) : formatDefault(r, n, g);
  }

  /** Batch timer: file batches are handed to the OS (async), the rest is posted to the primary. */
  private flushLogs(): void {
    for (let i = 0; i < this.fileLogs.length; i++) this.fileLogs[i].flush();
    this.postPending();
  }

  private postPending(): void {
    if (this.pendingTotal === 0) return;
    this.pendingTotal = 0;
    for (let f = 0; f < this.pending.length; f++) {
      const lines = this.pending[f];
      if (lines.length === 0) continue;
      const msg: LogBatch = { gh: TAG, kind: 'log', frontend: f, lines: lines.length, text: lines.join('\n') + '\n' };
      lines.length = 0;
      this.post(msg);
    }
  }

  private histogramReply(id: number): HistogramReply {
    return { gh: TAG, kind: 'hist', id, frontends: this.fe.changed(), backends: this.be.changed(), servers: this.srv.changed() };
  }

  /** What the 1 s history needs from this worker: latencies since the previous tick (see TickReply). */
  private tickReply(id: number): TickReply {
    const out = this.tickBuf;
    this.fe.drainInterval(out, 0);
    this.be.drainInterval(out, this.fe.hists.length);
    this.srv.drainInterval(out, this.fe.hists.length + this.be.hists.length);
    return { gh: TAG, kind: 'tick', id, data: out.take() };
  }

  onMessage(msg: unknown): boolean {
    if (!isTelemetry(msg)) return false;
    if (msg.kind === 'hist?') this.post(this.histogramReply(msg.id));
    else if (msg.kind === 'tick?') this.post(this.tickReply(msg.id));
    return true;
  }

  /**
   * Shutdown: nothing recorded is lost. Lines for the primary and the latest histograms are
   * posted; lines for files are written synchronously (fs.writeSync: the thread is about to end).
   */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.postPending();
    for (let i = 0; i < this.fileLogs.length; i++) this.fileLogs[i].flushSync();
    const h = this.histogramReply(0);
    if (h.frontends.length + h.backends.length + h.servers.length > 0) this.post(h);
  }

  /** flush(), then close the files (lines to them are skipped afterwards). Runs when a worker thread exits. */
  close(): void {
    this.flush();
    for (let i = 0; i < this.fileLogs.length; i++) this.fileLogs[i].close();
  }

  /** Lines this worker handed to the OS for its file targets, and the write calls it took. */
  fileStats(): { lines: number; writes: number } {
    let lines = 0;
    let writes = 0;
    for (const l of this.fileLogs) {
      lines += l.linesWritten;
      writes += l.writes;
    }
    return { lines, writes };
  }
}
