// Chunked request bodies for the node:net front engine: ChunkedDecoder, a byte-level state
// machine (sizes, extensions, trailers) handing data out as views of the buffer it is given.
import { ParserLimits, DEFAULT_LIMITS, TCHAR, VCHAR, HEX, SP, HT, CR, LF } from '../shared/http-chars';

/** Where ChunkedDecoder hands what it decodes (the connection implements it: no closures). */
export interface ChunkSink {
  /** body bytes: a view of the caller's buffer */
  chunkData(buf: Buffer, start: number, end: number): void;
}

const CH_SIZE = 0; // hex digits
const CH_SIZE_WS = 1; // SP/HTAB after the size
const CH_EXT = 2; // ";..." up to the line end
const CH_SIZE_LF = 3; // CR seen, LF expected
const CH_DATA = 4;
const CH_DATA_CR = 5; // CRLF after the data
const CH_DATA_LF = 6;
const CH_TRAILER = 7; // trailer lines (bytes gathered until LF)
const CH_DONE = 8;

export const CHUNKS_MORE = 0;
export const CHUNKS_DONE = 1;
export const CHUNKS_ERROR = 2;

export class ChunkedDecoder {
  status = CHUNKS_MORE;
  /** trailer fields, flat [name, value, ...], once status is CHUNKS_DONE (null when none) */
  trailers: string[] | null = null;
  errorReason = '';
  private state = CH_SIZE;
  private size = 0;
  private digits = 0;
  private significant = 0;
  private remaining = 0;
  private trailerLine = '';
  private trailerBytes = 0;

  constructor(readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  reset(): void {
    this.status = CHUNKS_MORE;
    this.trailers = null;
    this.errorReason = '';
    this.state = CH_SIZE;
    this.size = 0;
    this.digits = 0;
    this.significant = 0;
    this.remaining = 0;
    this.trailerLine = '';
    this.trailerBytes = 0;
  }

  /** Decodes buf[pos, end); returns the offset it stopped at (end, or past the last CRLF). */
  execute(buf: Buffer, pos: number, end: number, sink: ChunkSink): number {
    while (pos < end) {
      switch (this.state) {
        case CH_SIZE: {
          const c = buf[pos];
          const v = HEX[c];
          if (v >= 0) {
            this.digits++;
            if (this.size > 0 || v > 0) {
              // 13 significant hex digits at most (2^52): beyond, HAProxy and llhttp refuse too
              if (++this.significant > 13) return this.error('chunk size too large', pos);
            }
            this.size = this.size * 16 + v;
            pos++;
            continue;
          }
          if (this.digits === 0) return this.error('invalid chunk size', pos);
          pos++;
          if (c === SP || c === HT) this.state = CH_SIZE_WS;
          else if (c === 59 /* ; */) this.state = CH_EXT;
          else if (c === CR) this.state = CH_SIZE_LF;
          else if (c === LF) this.sizeLineDone();
          else return this.error('invalid chunk size', pos - 1);
          continue;
        }
        case CH_SIZE_WS: {
          const c = buf[pos++];
          if (c === SP || c === HT) continue;
          if (c === 59) this.state = CH_EXT;
          else if (c === CR) this.state = CH_SIZE_LF;
          else if (c === LF) this.sizeLineDone();
          else return this.error('invalid chunk size', pos - 1);
          continue;
        }
        case CH_EXT: {
          // extensions are passed over, not interpreted; control bytes refused
          const c = buf[pos++];
          if (c === CR) this.state = CH_SIZE_LF;
          else if (c === LF) this.sizeLineDone();
          else if (!VCHAR[c]) return this.error('invalid chunk extension', pos - 1);
          continue;
        }
        case CH_SIZE_LF:
          if (buf[pos++] !== LF) return this.error('CR without LF after chunk size', pos - 1);
          this.sizeLineDone();
          continue;
        case CH_DATA: {
          const n = Math.min(this.remaining, end - pos);
          sink.chunkData(buf, pos, pos + n);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = CH_DATA_CR;
          continue;
        }
        case CH_DATA_CR: {
          const c = buf[pos++];
          if (c === CR) this.state = CH_DATA_LF;
          else if (c === LF) this.state = CH_SIZE;
          else return this.error('no CRLF after chunk data', pos - 1);
          continue;
        }
        case CH_DATA_LF:
          if (buf[pos++] !== LF) return this.error('no CRLF after chunk data', pos - 1);
          this.state = CH_SIZE;
          continue;
        case CH_TRAILER: {
          let lf = buf.indexOf(LF, pos);
          if (lf >= end) lf = -1;
          const stop = lf < 0 ? end : lf;
          this.trailerBytes += stop - pos + (lf < 0 ? 0 : 1);
          if (this.trailerBytes > this.limits.maxHeadSize) return this.error('trailers too large', pos);
          this.trailerLine += buf.toString('latin1', pos, stop);
          if (lf < 0) return end;
          pos = lf + 1;
          let line = this.trailerLine;
          this.trailerLine = '';
          if (line.length > 0 && line.charCodeAt(line.length - 1) === CR) line = line.slice(0, -1);
          if (line.length === 0) {
            this.state = CH_DONE;
            this.status = CHUNKS_DONE;
            return pos;
          }
          if (!this.trailer(line)) return this.error('invalid trailer', pos);
          continue;
        }
        default:
          return pos;
      }
    }
    return pos;
  }

  private sizeLineDone(): void {
    if (this.size === 0) {
      this.state = CH_TRAILER;
    } else {
      this.remaining = this.size;
      this.state = CH_DATA;
    }
    this.size = 0;
    this.digits = 0;
    this.significant = 0;
  }

  private trailer(line: string): boolean {
    let i = 0;
    const n = line.length;
    while (i < n && TCHAR[line.charCodeAt(i)]) i++;
    if (i === 0 || i === n || line.charCodeAt(i) !== 58) return false;
    const name = line.slice(0, i);
    i++;
    while (i < n && (line.charCodeAt(i) === SP || line.charCodeAt(i) === HT)) i++;
    let e = n;
    while (e > i && (line.charCodeAt(e - 1) === SP || line.charCodeAt(e - 1) === HT)) e--;
    for (let k = i; k < e; k++) if (!VCHAR[line.charCodeAt(k)]) return false;
    if (this.trailers === null) this.trailers = [];
    if (this.trailers.length >> 1 >= this.limits.maxHeaders) return false;
    this.trailers.push(name, line.slice(i, e));
    return true;
  }

  private error(reason: string, pos: number): number {
    this.errorReason = reason;
    this.status = CHUNKS_ERROR;
    return pos;
  }
}
