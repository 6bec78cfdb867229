// A `file:` log target as seen from one worker thread: the worker appends its own access lines to
// the file, so no line crosses to the primary thread.
//
// - The file is opened with O_APPEND (flags 'a'). Every write() of an O_APPEND descriptor lands
//   at the end of the file as one piece, so the workers (and the primary, which writes process
//   events to the same file) never interleave inside a line: a batch holds whole lines only.
// - Lines are written as bytes into a batch buffer (line-bytes.ts: no strings built per line).
// - At most one asynchronous fs.write is in flight. Lines that arrive meanwhile go into the other
//   buffer and leave together when it completes (coalescing): under load the writes grow instead
//   of multiplying, and the event loop never waits for the disk. Nothing is dropped: a slow disk
//   costs memory (the batch buffer grows), not lines.
// - flushSync() (worker exit) writes what is pending with writeSync.
import * as fs from 'node:fs';
import { prefix3164, prefix5424 } from './syslog';

/** Batch buffer size to start with; it grows when a batch needs more. */
const INITIAL_BYTES = 64 * 1024;
/** Buffers that grew past this during a burst are not kept for reuse. */
const KEEP_MAX_BYTES = 1024 * 1024;
/**
 * A batch this large leaves at once (when no write is in flight) instead of waiting for the batch
 * timer. Large on purpose: an asynchronous write costs ~45 us of fixed overhead (thread-pool
 * hand-off) on the 2-core dev VM, ~270 ns a line in batches of 256 lines, ~60 ns at 4,096.
 */
export const EAGER_BYTES = 256 * 1024;

const EMPTY = new Uint8Array(0);

export type Framing = 'rfc3164' | 'rfc5424' | 'raw';

export class WorkerFileLog {
  /** the batch being filled; the caller writes lines into it between begin() and end() */
  buf: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private len = 0;
  /** lines in `buf` */
  lines = 0;
  private spare: Buffer | null = null;
  private fd = -1;
  /** true once the file is unusable (not opened, a write failed) or closed: lines are skipped */
  dead = false;
  private closing = false;
  /** the buffer handed to fs.write, kept referenced until the write completes */
  private inflight: Buffer | null = null;
  private inflightLen = 0;
  private inflightOff = 0;
  private inflightLines = 0;
  /** framing header of every line of the current batch (syslog formats) */
  private prefix: Uint8Array = EMPTY;
  private prefixText = '';
  /** lines and write calls handed to the OS (tests, diagnostics) */
  linesWritten = 0;
  writes = 0;

  constructor(
    readonly path: string,
    private readonly framing: Framing,
    private readonly pri: number,
    private readonly warn: (text: string) => void,
    /** lines are waiting and no write will pick them up by itself: arm the batch timer */
    private readonly onPending: () => void,
  ) {
    try {
      this.fd = fs.openSync(path, 'a');
    } catch (e) {
      this.dead = true;
      this.warn(`log file ${path}: ${(e as Error).message}; lines to it are dropped`);
    }
  }

  /**
   * Start a line of at most `maxBytes` bytes (framing header and newline excluded): makes room
   * and writes the header. Returns the position in `buf` where the line goes.
   */
  begin(maxBytes: number): number {
    if (this.lines === 0) this.refreshPrefix();
    const prefix = this.prefix;
    const need = this.len + prefix.length + maxBytes + 1;
    if (need > this.buf.length) this.grow(need);
    const p = this.len;
    if (prefix.length === 0) return p;
    this.buf.set(prefix, p);
    return p + prefix.length;
  }

  /** Finish the line begun with begin(): `p` is the position after its last byte. */
  end(p: number): void {
    this.buf[p++] = 10;
    this.len = p;
    this.lines++;
    if (p >= EAGER_BYTES) this.flush();
  }

  /**
   * The syslog header is taken once per batch (the primary used to stamp lines when it wrote
   * them; a batch leaves within the batch interval either way).
   */
  private refreshPrefix(): void {
    if (this.framing === 'raw') return;
    const text = this.framing === 'rfc3164' ? prefix3164(this.pri) : prefix5424(this.pri);
    if (text !== this.prefixText) {
      this.prefixText = text;
      this.prefix = Buffer.from(text, 'utf8');
    }
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Hand the batch to the OS (asynchronously), unless a write is already in flight. */
  flush(): void {
    if (this.len === 0 || this.inflight !== null || this.dead) return;
    const b = this.buf;
    this.inflight = b;
    this.inflightLen = this.len;
    this.inflightOff = 0;
    this.inflightLines = this.lines;
    const spare = this.spare;
    this.buf = spare !== null ? spare : Buffer.allocUnsafeSlow(INITIAL_BYTES);
    this.spare = null;
    this.len = 0;
    this.lines = 0;
    this.writes++;
    fs.write(this.fd, b, 0, this.inflightLen, null, this.onWritten);
  }

  private readonly onWritten = (err: NodeJS.ErrnoException | null, written: number): void => {
    const b = this.inflight!;
    if (err === null && written <= 0) err = new Error(`write returned ${written}`) as NodeJS.ErrnoException;
    if (err !== null) {
      this.inflight = null;
      this.fail(err);
      return;
    }
    this.inflightOff += written;
    if (this.inflightOff < this.inflightLen) {
      // A short write (rare for a regular file): send the rest of the same batch.
      this.writes++;
      fs.write(this.fd, b, this.inflightOff, this.inflightLen - this.inflightOff, null, this.onWritten);
      return;
    }
    this.linesWritten += this.inflightLines;
    this.inflight = null;
    if (b.length <= KEEP_MAX_BYTES) this.spare = b;
    if (this.closing) {
      this.closeFd();
      return;
    }
    if (this.len >= EAGER_BYTES) this.flush();
    else if (this.lines > 0) this.onPending();
  };

  private fail(err: Error): void {
    if (!this.dead) this.warn(`log file ${this.path}: ${err.message}; lines to it are dropped`);
    this.dead = true;
    this.len = 0;
    this.lines = 0;
    if (this.closing) this.closeFd();
  }

  /**
   * Write what is pending now, synchronously (worker exit). A write already in flight completes
   * on its own; lines are never written twice.
   */
  flushSync(): void {
    if (this.len === 0 || this.dead) return;
    let off = 0;
    try {
      while (off < this.len) {
        this.writes++;
        off += fs.writeSync(this.fd, this.buf, off, this.len - off);
      }
      this.linesWritten += this.lines;
      this.len = 0;
      this.lines = 0;
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** flushSync, then close the file (after the write in flight, if any, completes). */
  close(): void {
    this.flushSync();
    if (this.closing) return;
    this.closing = true;
    this.dead = true;
    if (this.inflight === null) this.closeFd();
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.fd = -1;
  }
}
