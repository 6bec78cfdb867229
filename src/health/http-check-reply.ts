// Judges the reply to an HTTP health probe from raw bytes, incrementally. Pure: no sockets, never
// throws, bounded memory: a reply that is not HTTP is a failed check (L7RSP), not an exception.
import type { CheckStatusName } from '../shared/state';

/** HAProxy reads a check reply into one tune.chksize buffer (16 KB); we do the same. */
export const CHECK_BUFFER_SIZE = 16384;
/** HAProxy's HCHK_DESC_LEN: longest "info" kept. */
const INFO_MAX = 127;
const NOT_MATCHED = 'HTTP content check did not match';

export interface HttpExpect {
  expectStatus: [number, number][];
  expectString: string | null;
}

export interface HttpVerdict {
  status: Extract<CheckStatusName, 'L7OK' | 'L7STS' | 'L7RSP'>;
  code: number;
  info: string;
}

/** Printable ASCII only, bounded, so a hostile reply cannot inject into log lines. */
export function sanitizeInfo(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?').trim();
  return clean.length > INFO_MAX ? clean.slice(0, INFO_MAX) : clean;
}

interface StatusLine {
  code: number;
  reason: string;
}

// HAProxy accepts "HTTP/1.x NNN" followed by a space or the end of the line.
const STATUS_LINE = /^HTTP\/1\.[0-9] ([0-9]{3})(?: (.*))?$/;

function parseStatusLine(line: string): StatusLine | null {
  const m = STATUS_LINE.exec(line);
  if (!m) return null;
  return { code: Number(m[1]), reason: m[2] ?? '' };
}

function inRanges(code: number, ranges: [number, number][]): boolean {
  for (const [lo, hi] of ranges) if (code >= lo && code <= hi) return true;
  return false;
}

interface Framing {
  bodyStart: number;
  contentLength: number | null;
  chunked: boolean;
}

function headerEnd(buf: Buffer): { end: number; sepLen: number } | null {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return null;
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf, sepLen: 4 };
  return { end: lf, sepLen: 2 };
}

function parseFraming(buf: Buffer): Framing | null {
  const he = headerEnd(buf);
  if (!he) return null;
  let contentLength: number | null = null;
  let chunked = false;
  const lines = buf.toString('latin1', 0, he.end).split(/\r?\n/);
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) continue;
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    if (name === 'content-length' && /^[0-9]{1,15}$/.test(value)) contentLength = Number(value);
    else if (name === 'transfer-encoding' && /(^|,)\s*chunked\s*$/i.test(value)) chunked = true;
  }
  return { bodyStart: he.end + he.sepLen, contentLength: chunked ? null : contentLength, chunked };
}

/** Best-effort de-chunking of what we have; `complete` once the last chunk was seen. */
export function dechunk(raw: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let pos = 0;
  // Each turn consumes at least one byte, so the loop is bounded by the buffer length.
  while (pos < raw.length) {
    const eol = raw.indexOf('\n', pos);
    if (eol < 0) break;
    const sizeText = raw.toString('latin1', pos, eol).replace(/;.*$/, '').trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return { body: Buffer.concat([...parts, raw.subarray(pos)]), complete: false };
    const size = parseInt(sizeText, 16);
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    const start = eol + 1;
    const end = Math.min(start + size, raw.length);
    parts.push(raw.subarray(start, end));
    if (end < start + size) break;
    const next = raw.indexOf('\n', end);
    if (next < 0) break;
    pos = next + 1;
  }
  return { body: Buffer.concat(parts), complete: false };
}

export class HttpCheckReply {
  private buf: Buffer = Buffer.alloc(0);
  private status: StatusLine | null = null;
  private readonly needle: Buffer | null;

  constructor(private readonly expect: HttpExpect) {
    this.needle = expect.expectString !== null && expect.expectString !== '' ? Buffer.from(expect.expectString, 'utf8') : null;
  }

  /** Feed bytes; returns a verdict as soon as one is certain, otherwise null (read more). */
  push(chunk: Buffer): HttpVerdict | null {
    const room = CHECK_BUFFER_SIZE - this.buf.length;
    if (room > 0) this.buf = Buffer.concat([this.buf, room < chunk.length ? chunk.subarray(0, room) : chunk]);
    const full = this.buf.length >= CHECK_BUFFER_SIZE;
    return this.judge(full);
  }

  /** Bytes kept so far. */
  received(): number {
    return this.buf.length;
  }

  /** The peer closed (or the buffer is full): decide with what we have. */
  end(): HttpVerdict {
    return this.judge(true) ?? this.garbage();
  }

  private garbage(): HttpVerdict {
    const nl = this.buf.indexOf('\n');
    const first = this.buf.toString('latin1', 0, nl < 0 ? Math.min(this.buf.length, 256) : Math.min(nl, 256));
    // HAProxy cut_crlf(): the info is the first line without its line end.
    return { status: 'L7RSP', code: 0, info: sanitizeInfo(first.replace(/\r$/, '')) };
  }

  private judge(done: boolean): HttpVerdict | null {
    if (!this.status) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) return done ? this.garbage() : null;
      const line = this.buf.toString('latin1', 0, nl).replace(/\r$/, '');
      this.status = parseStatusLine(line);
      if (!this.status) return this.garbage();
    }
    const { code, reason } = this.status;
    if (!inRanges(code, this.expect.expectStatus)) return { status: 'L7STS', code, info: sanitizeInfo(reason) };
    // A passing check carries no info: HAProxy 2.x logs "code: 200, check duration: ..." only.
    if (!this.needle) return { status: 'L7OK', code, info: '' };

    const framing = parseFraming(this.buf);
    if (!framing) return done ? { status: 'L7RSP', code, info: NOT_MATCHED } : null;
    const raw = this.buf.subarray(framing.bodyStart);
    let body = raw;
    let complete = false;
    if (framing.chunked) {
      const d = dechunk(raw);
      body = d.body;
      complete = d.complete;
    } else if (framing.contentLength !== null) {
      body = raw.subarray(0, framing.contentLength);
      complete = raw.length >= framing.contentLength;
    }
    if (body.indexOf(this.needle) >= 0) return { status: 'L7OK', code, info: '' };
    if (complete || done) return { status: 'L7RSP', code, info: NOT_MATCHED };
    return null;
  }
}
