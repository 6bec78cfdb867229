// Strict HTTP/1.x response framing, written for the proxy: one pass over the bytes of the read
// buffer, one latin1 string per head, and the header names and values as slices of it.
//
// Why not Node's llhttp binding (what this module used before): its cost is the crossings, not
// the parsing. Per response it made a JS->C++ call per read, a C++->JS callback per event, two
// strings per header built in C++, and a re-initialisation; for nginx's 16-byte answer that was
// 3.1 us in a loop against 1.2 us here (native-bench (a): about 3 us of user CPU per request).
//
// What it accepts is what llhttp 9.3 (Node 20) accepts in strict mode (kLenientNone), which the
// hostile-upstream tests and test/response-parser-diff.test.ts (this parser against llhttp on
// cut and mutated responses) hold it to. Where it departs, on purpose: a status below 100
// (llhttp hands its body on with no head), CR CR ending a status line, and RTSP/ or ICE/ status
// lines are refused; every 1xx is interim, without a body (llhttp gives statuses other than
// 100-103 one); a byte other than CR/LF after a complete response marks the connection unusable
// instead of being parsed as a response nobody asked for; a bad Content-Length is refused as
// soon as its bytes show it, even before its line ends.

import * as chars from '../shared/http-chars';

// Module-level copies: a CommonJS import is a property load on the exports object at every use,
// which showed in the byte loops' profile.
const TCHAR = chars.TCHAR;
const VCHAR = chars.VCHAR;
const HEX = chars.HEX;
const SP = 32;
const HT = 9;
const CR = 13;
const LF = 10;

/** How the response body is delimited upstream, which decides how it is framed to the client. */
export const FRAMING_NONE = 0; // no body (HEAD, 1xx, 204, 304, Content-Length: 0)
export const FRAMING_LENGTH = 1; // Content-Length
export const FRAMING_CHUNKED = 2; // Transfer-Encoding (delivered de-chunked when it ends in chunked)
export const FRAMING_CLOSE = 3; // read until the server closes
export const FRAMING_UPGRADE = 4; // 101 to an upgrade request: what follows is another protocol

export interface ResponseSink {
  /** `headers` is a flat [name, value, ...] array of byte strings (one char per byte). */
  onResponseHead(
    status: number,
    reason: string,
    headers: string[],
    framing: number,
    contentLength: number,
    keepAlive: boolean,
  ): void;
  /** A view of the caller's read buffer: copy what is kept past the call. */
  onResponseBody(chunk: Buffer): void;
  onResponseComplete(): void;
  /**
   * After a 101 head (FRAMING_UPGRADE): the bytes that followed it in the same read, which
   * belong to the new protocol (a view: copy to keep). The parser takes no more bytes.
   */
  onResponseUpgrade(rest: Buffer): void;
}

export class ResponseParseError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Head size limit, counted as Node's binding counts it for llhttp: the reason phrase, header
 * names and values (not the version, status digits, ': ' or line ends), trailers included.
 */
const MAX_HEADER_BYTES = 65536;
/** what a head may occupy in bytes whatever it counts (many empty headers): bounds `acc` */
const MAX_HEAD_BYTES = 4 * MAX_HEADER_BYTES;
/** chunk sizes: more significant hex digits than 2^64 - 1 has overflow (llhttp's limit) */
const MAX_CHUNK_DIGITS = 16;

// What the parser is doing with the bytes it is given.
const P_IDLE = 0; // no response expected: any byte means the server is out of step
const P_HEAD = 1;
const P_LENGTH = 2; // Content-Length body
const P_CHUNKED = 3;
const P_CLOSE = 4; // body until the server closes
const P_DONE = 5;
const P_UPGRADED = 6;
const P_FAILED = 7;

// Head scanner states, resumable at any byte (a head may arrive one byte per read).
const H_START = 0; // CR/LF before a status line are skipped, as llhttp does
const H_VERSION = 1; // "HTTP/d.d" matched by position
const H_STATUS = 2; // three digits
const H_AFTER_STATUS = 3;
const H_REASON = 4;
const H_LINE_LF = 5; // CR seen at the end of the status line or of a header line
const H_LINE = 6; // the start of a header line, or of the empty line
const H_NAME = 7;
const H_OWS = 8; // whitespace after the colon
const H_VALUE = 9;
const H_END_LF = 10; // CR of the empty line seen

// Chunked body states (llhttp's strict grammar, extensions included).
const C_SIZE = 0;
const C_EXT_START = 1; // just after ';'
const C_EXT_NAME = 2;
const C_EXT_VALUE_START = 3; // just after '='
const C_EXT_VALUE = 4;
const C_EXT_QUOTED = 5;
const C_EXT_QUOTED_ESC = 6;
const C_EXT_AFTER_QUOTE = 7;
const C_SIZE_LF = 8;
const C_DATA = 9;
const C_DATA_CR = 10;
const C_DATA_LF = 11;

const VERSION = 'HTTP/';

// quoted-string bytes of a chunk extension: HTAB, SP, VCHAR but '"' and '\', obs-text
const QDTEXT = new Uint8Array(256);
QDTEXT[HT] = 1;
for (let c = 0x20; c < 0x100; c++) QDTEXT[c] = c === 0x22 || c === 0x5c || c === 0x7f ? 0 : 1;

/**
 * One parser per upstream connection, reused for every response on it. A head is scanned as it
 * arrives; its bytes are copied only when it spans reads. Bodies are handed on as views of the
 * caller's buffer.
 */
export class ResponseParser {
  private sink: ResponseSink | null = null;
  private phase = P_IDLE;
  private skipBody = false;
  /** the request asked to switch protocols: a 101 ends HTTP here (undici's client-h1 does the same) */
  private upgrade = false;
  /** set once a complete (non-1xx) response has been parsed */
  complete = false;
  /** false once bytes arrived after the final response: the connection must not be reused */
  framingOk = true;
  /** HTTP minor version of the last head (1 for HTTP/1.1) */
  versionMinor = 1;

  // --- the head being scanned; positions are offsets from its first byte
  private hs = H_START;
  /** bytes of this head scanned in earlier reads (kept in `acc`) */
  private headLen = 0;
  private acc: Buffer | null = null;
  /** the status line's version match position, status digits, line starts */
  private vpos = 0;
  private major = 0;
  private minor = 0;
  private status = 0;
  private reasonStart = 0;
  private reasonEnd = 0;
  private nameStart = 0;
  private nameEnd = 0;
  private valueStart = 0;
  private valueEnd = 0; // last non-whitespace byte + 1 of the current value
  /** [nameStart, nameEnd, valueStart, valueEnd] per header */
  private marks = new Int32Array(64);
  private nMarks = 0;
  /** head bytes counted against MAX_HEADER_BYTES */
  private nread = 0;
  /** an interim response ended the connection: only CR/LF may follow */
  private interimClosed = false;
  /** P_DONE / P_IDLE: CR and LF are passed over (see execute) */
  private skipCrlf = true;
  // flags of the head (llhttp's F_*)
  private hasLength = false;
  private length = 0;
  private hasTe = false;
  private teChunked = false;
  private connClose = false;
  private connKeepAlive = false;

  // --- bodies
  private bodyLeft = -1;
  private cs = C_SIZE;
  private chunkSize = 0;
  private chunkDigits = 0;
  private chunkSignificant = 0;
  private chunkLeft = 0;
  /** scanning trailers with the head scanner (its header rules, no strings kept) */
  private trailers = false;

  /**
   * Expect the response to a new request. `isHead`: the request was HEAD (no body follows);
   * `upgrade`: it asked to switch protocols, so a 101 is its final answer.
   */
  begin(sink: ResponseSink, isHead: boolean, upgrade = false): void {
    this.sink = sink;
    this.interimClosed = false;
    this.skipBody = isHead;
    this.upgrade = upgrade;
    this.complete = false;
    this.bodyLeft = -1;
    this.trailers = false;
    this.startHead();
    this.phase = P_HEAD;
  }

  /** Deliver the rest of the current response to another sink (a client that left). */
  retarget(sink: ResponseSink): void {
    if (this.sink !== null) this.sink = sink;
  }

  /** Content-Length body bytes still to come; -1 when unknown or not in such a body. */
  get bodyRemaining(): number {
    return this.bodyLeft;
  }

  /** Feed bytes (valid only during the call); throws ResponseParseError on a malformed response. */
  execute(data: Buffer): void {
    let off = 0;
    const len = data.length;
    while (off < len) {
      switch (this.phase) {
        case P_HEAD:
          off = this.scanHead(data, off, len);
          continue;
        case P_LENGTH: {
          const n = Math.min(this.bodyLeft, len - off);
          const chunk = off === 0 && n === len ? data : data.subarray(off, off + n);
          off += n;
          this.bodyLeft -= n;
          const sink = this.sink;
          if (sink === null) return;
          sink.onResponseBody(chunk);
          if (this.bodyLeft === 0) {
            this.bodyLeft = -1;
            this.done(false);
          }
          continue;
        }
        case P_CHUNKED:
          off = this.trailers ? this.scanHead(data, off, len) : this.scanChunks(data, off, len);
          continue;
        case P_CLOSE:
          if (this.sink !== null) this.sink.onResponseBody(off === 0 ? data : data.subarray(off));
          return;
        case P_UPGRADED:
        case P_FAILED:
          return;
        default:
          // Bytes after the final response, or with no request pending: the server is out of
          // step. CR/LF between messages are passed over (llhttp does), except after a
          // Content-Length body, where llhttp stopped and the old code refused any byte.
          if (this.skipCrlf) {
            while (off < len && (data[off] === CR || data[off] === LF)) off++;
            if (off === len) return;
          }
          this.framingOk = false;
          return;
      }
    }
  }

  /** The server closed: ends a close-delimited body, or reports a truncated response. */
  finish(): void {
    switch (this.phase) {
      case P_CLOSE:
        this.done();
        return;
      case P_HEAD:
        // nothing of a head yet: a close, not a malformed response (the owner sees !complete)
        if (this.hs === H_START && this.headLen === 0) return;
        this.fail('HPE_INVALID_EOF_STATE', 'response head cut short');
        return;
      case P_CHUNKED:
        this.fail('HPE_INVALID_EOF_STATE', 'chunked body cut short');
        return;
      default:
        // a Content-Length body cut short (complete stays false), or nothing pending
        return;
    }
  }

  /** Forget the sink (the connection is going away). */
  close(): void {
    this.sink = null;
    this.acc = null;
  }

  /** `skipCrlf`: CR/LF after the response are passed over (not after a Content-Length body) */
  private done(skipCrlf = true): void {
    this.phase = P_DONE;
    this.skipCrlf = skipCrlf;
    this.complete = true;
    if (this.sink !== null) this.sink.onResponseComplete();
  }

  private fail(code: string, message: string): never {
    this.phase = P_FAILED;
    this.acc = null;
    throw new ResponseParseError(code, message);
  }

  private startHead(): void {
    this.hs = H_START;
    this.nread = 0;
    this.headLen = 0;
    this.nMarks = 0;
    this.hasLength = false;
    this.length = 0;
    this.hasTe = false;
    this.teChunked = false;
    this.connClose = false;
    this.connKeepAlive = false;
  }

  /**
   * Scans head (or trailer) bytes data[off, len). Returns where it stopped: `len` when the head
   * goes on in the next read, else just past its empty line (the head has been acted on).
   */
  private scanHead(b: Buffer, off: number, len: number): number {
    // p - base is the position of byte p within the head
    let base = off - this.headLen;
    let st = this.hs;
    let p = off;
    while (p < len) {
      const c = b[p];
      switch (st) {
        case H_START:
          if (c === CR || c === LF) {
            // not part of the head: start it after them
            p++;
            base++;
            continue;
          }
          if (this.interimClosed) this.fail('HPE_CLOSED_CONNECTION', 'data after an interim response that closes the connection');
          st = H_VERSION;
          this.vpos = 0;
          continue;
        case H_VERSION: {
          const i = this.vpos;
          if (i < 5) {
            if (c !== VERSION.charCodeAt(i)) this.fail('HPE_INVALID_CONSTANT', 'expected HTTP/');
          } else if (i === 5 || i === 7) {
            if (c < 48 || c > 57) this.fail('HPE_INVALID_VERSION', 'invalid HTTP version');
            if (i === 5) {
              this.major = c - 48;
            } else {
              const ma = this.major;
              const mi = (this.minor = c - 48);
              if (!((ma === 1 && mi <= 1) || (ma === 0 && mi === 9) || (ma === 2 && mi === 0))) this.fail('HPE_INVALID_VERSION', 'invalid HTTP version');
            }
          } else if (i === 6) {
            if (c !== 46) this.fail('HPE_INVALID_VERSION', 'expected dot in HTTP version');
          } else {
            if (c !== SP) this.fail('HPE_INVALID_VERSION', 'expected space after version');
            st = H_STATUS;
            this.status = 0;
            this.vpos = 0;
            p++;
            continue;
          }
          this.vpos = i + 1;
          p++;
          continue;
        }
        case H_STATUS:
          if (c < 48 || c > 57) this.fail('HPE_INVALID_STATUS', 'invalid status code');
          this.status = this.status * 10 + c - 48;
          if (++this.vpos === 3) st = H_AFTER_STATUS;
          p++;
          continue;
        case H_AFTER_STATUS:
          p++;
          if (c === SP) {
            st = H_REASON;
            this.reasonStart = this.reasonEnd = p - base;
          } else if (c === CR) {
            this.reasonStart = this.reasonEnd = p - 1 - base;
            st = H_LINE_LF;
          } else {
            this.fail('HPE_INVALID_STATUS', 'invalid response status');
          }
          continue;
        case H_REASON: {
          // any byte but CR and LF (llhttp's reading)
          while (p < len && b[p] !== CR && b[p] !== LF) p++;
          if (p === len) continue;
          if (b[p] === LF) this.fail('HPE_CR_EXPECTED', 'missing CR after the status line');
          this.reasonEnd = p - base;
          this.count(this.reasonEnd - this.reasonStart);
          p++;
          st = H_LINE_LF;
          continue;
        }
        case H_LINE_LF:
          if (c !== LF) this.fail('HPE_STRICT', 'expected LF after CR');
          p++;
          st = H_LINE;
          continue;
        case H_LINE:
          if (c === CR) {
            p++;
            st = H_END_LF;
            continue;
          }
          if (TCHAR[c] !== 1) {
            this.fail('HPE_INVALID_HEADER_TOKEN', c === SP || c === HT ? 'whitespace at the start of a header line (obs-fold)' : 'invalid header name');
          }
          this.nameStart = p - base;
          if (!this.trailers) {
            // fast path: the whole line is in this read and well formed (else the states below
            // take it byte by byte and say what is wrong)
            let q = p + 1;
            while (q < len && TCHAR[b[q]] === 1) q++;
            if (q < len && b[q] === 58) {
              let v = q + 1;
              while (v < len && (b[v] === SP || b[v] === HT)) v++;
              let e = v;
              while (e < len && VCHAR[b[e]] === 1) e++;
              if (e + 1 < len && b[e] === CR && b[e + 1] === LF) {
                let last = e;
                while (last > v && (b[last - 1] === SP || b[last - 1] === HT)) last--;
                this.nameEnd = q - base;
                this.count(q - p);
                this.valueStart = v - base;
                this.valueEnd = last - base;
                this.endHeader(b, base, off, e - base);
                p = e + 2;
                continue;
              }
            }
          }
          st = H_NAME;
          p++;
          continue;
        case H_NAME: {
          while (p < len && TCHAR[b[p]] === 1) p++;
          if (p === len) continue;
          if (b[p] !== 58) this.fail('HPE_INVALID_HEADER_TOKEN', 'invalid header name');
          this.nameEnd = p - base;
          this.count(this.nameEnd - this.nameStart);
          p++;
          st = H_OWS;
          continue;
        }
        case H_OWS:
          if (c === SP || c === HT) {
            p++;
            continue;
          }
          this.valueStart = this.valueEnd = p - base;
          st = H_VALUE;
          continue;
        case H_VALUE: {
          let last = this.valueEnd + base; // one past the last non-whitespace byte so far
          while (p < len) {
            const v = b[p];
            if (VCHAR[v] !== 1) break;
            p++;
            if (v !== SP && v !== HT) last = p;
          }
          this.valueEnd = last - base;
          if (p === len) continue;
          if (b[p] !== CR) this.fail(b[p] === LF ? 'HPE_CR_EXPECTED' : 'HPE_INVALID_HEADER_TOKEN', b[p] === LF ? 'missing CR after a header value' : 'invalid header value byte');
          // the raw value, trailing whitespace included (the Transfer-Encoding rules see it)
          this.endHeader(b, base, off, p - base);
          p++;
          st = H_LINE_LF;
          continue;
        }
        default: {
          // H_END_LF
          if (c !== LF) this.fail('HPE_STRICT', 'expected LF after the headers');
          p++;
          if (this.trailers) {
            this.trailers = false;
            this.done();
            return p;
          }
          this.hs = H_START;
          return this.headEnd(b, base, off, p);
        }
      }
    }
    // the head goes on in the next read: what its current span has so far counts now (as Node's
    // binding counts a span llhttp reports at the end of each read)
    const at = p - base;
    const partial = st === H_REASON ? at - this.reasonStart : st === H_NAME ? at - this.nameStart : st === H_VALUE ? at - this.valueStart : 0;
    if (this.nread + partial >= MAX_HEADER_BYTES || at > MAX_HEAD_BYTES) this.fail('HPE_HEADER_OVERFLOW', 'response head too large');
    this.hs = st;
    if (st !== H_START) this.keep(b, Math.max(off, base), len, base);
    if ((st === H_VALUE || st === H_OWS) && !this.trailers) this.checkPartialFraming(st === H_VALUE ? at : -1);
    this.headLen = len - base;
    return len;
  }

  /** Copies head bytes b[from, to) (head offsets from - base ...) into `acc`. */
  private keep(b: Buffer, from: number, to: number, base: number): void {
    const need = to - base;
    if (need > MAX_HEAD_BYTES) this.fail('HPE_HEADER_OVERFLOW', 'response head too large');
    let acc = this.acc;
    if (acc === null || acc.length < need) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, 1024, acc === null ? 0 : acc.length * 2), MAX_HEAD_BYTES + 1));
      if (acc !== null && this.headLen > 0) acc.copy(grown, 0, 0, this.headLen);
      this.acc = acc = grown;
    }
    b.copy(acc, from - base, from, to);
  }

  /** Head bytes as Node's binding counts them (MAX_HEADER_BYTES). */
  private count(n: number): void {
    this.nread += n;
    if (this.nread >= MAX_HEADER_BYTES) this.fail('HPE_HEADER_OVERFLOW', 'response head too large');
  }

  /**
   * A read ended inside a header value: a Content-Length (a duplicate, one beside
   * Transfer-Encoding, or a value already wrong) or a Transfer-Encoding after a Content-Length
   * is refused now, as llhttp refuses on the byte, instead of when its line ends.
   */
  private checkPartialFraming(at: number): void {
    // the head so far is in acc (keep() has just run), head offset 0 first
    const b = this.acc!;
    const sp = specialHeader(b, this.nameStart, this.nameEnd);
    if (sp === SPECIAL_TE && this.hasLength) this.fail('HPE_INVALID_TRANSFER_ENCODING', "Transfer-Encoding can't be present with Content-Length");
    if (sp !== SPECIAL_LENGTH) return;
    if (this.hasLength) this.fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'duplicate Content-Length');
    if (this.hasTe) this.fail('HPE_INVALID_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding");
    if (at <= this.valueStart) return; // the value has not started (-1: still in the whitespace)
    const v = contentLength(b, this.valueStart, at);
    if (v === -1) this.fail('HPE_INVALID_CONTENT_LENGTH', 'invalid Content-Length');
  }

  /** The head's bytes from `acc` and from this read (b[off, end)) as one string. */
  private joined(b: Buffer, off: number, end: number, base: number): string {
    this.keep(b, off, end, base);
    const text = latin1(this.acc!, 0, end - base);
    this.acc = null;
    return text;
  }

  /**
   * A header line ended (its value at head offset `rawEnd`): note it and its framing meaning.
   * This read's bytes start at b[off]; a line that began in an earlier one is read from `acc`.
   */
  private endHeader(b: Buffer, base: number, off: number, rawEnd: number): void {
    let hb = b;
    let hbase = base;
    if (this.nameStart + base < off) {
      this.keep(b, off, rawEnd + base, base);
      hb = this.acc!;
      hbase = 0;
    }
    if (this.trailers) {
      this.count(rawEnd - this.valueStart);
      // every chunked message has Transfer-Encoding, which llhttp does not allow beside a length
      if (nameIs(hb, this.nameStart + hbase, this.nameEnd + hbase, 'content-length')) {
        this.fail('HPE_INVALID_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding");
      }
      return;
    }
    this.count(rawEnd - this.valueStart);
    let n = this.nMarks;
    if (n + 4 > this.marks.length) {
      const grown = new Int32Array(this.marks.length * 2);
      grown.set(this.marks);
      this.marks = grown;
    }
    const m = this.marks;
    const valueStart = this.valueStart;
    m[n++] = this.nameStart;
    m[n++] = this.nameEnd;
    m[n++] = valueStart;
    m[n++] = this.valueEnd;
    this.nMarks = n;
    const sp = specialHeader(hb, this.nameStart + hbase, this.nameEnd + hbase);
    if (sp === 0) return;
    b = hb;
    const from = valueStart + hbase;
    const to = rawEnd + hbase;
    if (sp === SPECIAL_LENGTH) {
      if (this.hasLength) this.fail('HPE_UNEXPECTED_CONTENT_LENGTH', 'duplicate Content-Length');
      if (this.hasTe) this.fail('HPE_INVALID_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding");
      this.hasLength = true;
      this.length = contentLength(b, from, to);
      if (this.length < 0) this.fail('HPE_INVALID_CONTENT_LENGTH', this.length === -2 ? 'empty Content-Length' : 'invalid Content-Length');
    } else if (sp === SPECIAL_TE) {
      // an empty value sets nothing (llhttp never enters its Transfer-Encoding states)
      if (to > from) {
        if (this.hasLength) this.fail('HPE_INVALID_TRANSFER_ENCODING', "Transfer-Encoding can't be present with Content-Length");
        this.hasTe = true;
        this.teChunked = endsInChunked(b, from, to);
      }
    } else {
      const t = connectionTokens(b, from, to);
      if ((t & CONN_CLOSE) !== 0) this.connClose = true;
      if ((t & CONN_KEEP_ALIVE) !== 0) this.connKeepAlive = true;
    }
  }

  /**
   * The head ended at b[end] (just past its empty line; head offset 0 is b[base], and this read
   * began at b[off]): act on it.
   */
  private headEnd(b: Buffer, base: number, off: number, end: number): number {
    if (this.hasLength && this.hasTe) this.fail('HPE_INVALID_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding");
    const status = this.status;
    if (status < 100) this.fail('HPE_INVALID_STATUS', 'status code below 100');
    this.versionMinor = this.minor;
    if (status < 200 && status !== 101) {
      // Interim 1xx responses (100 Continue, 103 Early Hints) are not forwarded: the client side
      // answers Expect itself, and the final response follows on the same stream, unless the
      // interim one said the connection ends (llhttp then refuses anything more).
      const closes = this.major > 0 && this.minor > 0 ? this.connClose : !this.connKeepAlive;
      this.acc = null;
      this.startHead();
      if (closes) this.interimClosed = true;
      return end;
    }
    // a final head as one latin1 string; names and values become slices of it (the interim
    // heads above are dropped without one)
    const text = base >= off ? latin1(b, base, end) : this.joined(b, off, end, base);
    this.headLen = 0;
    const reason = text.slice(this.reasonStart, this.reasonEnd);
    const m = this.marks;
    const n = this.nMarks;
    const headers = new Array<string>(n >> 1);
    for (let i = 0, j = 0; i < n; i += 2, j++) headers[j] = text.slice(m[i], m[i + 1]);
    const sink = this.sink;
    if (sink === null) {
      // the owner let go of the connection while its response came in
      this.phase = P_DONE;
      return b.length;
    }
    if (status === 101) {
      if (!this.upgrade) this.fail('HPE_UNEXPECTED_101', 'switching protocols to a request that asked for no upgrade');
      this.phase = P_UPGRADED;
      this.complete = true;
      sink.onResponseHead(101, reason, headers, FRAMING_UPGRADE, -1, false);
      if (this.phase === P_UPGRADED && this.sink !== null) this.sink.onResponseUpgrade(b.subarray(end));
      return b.length;
    }
    // llhttp_should_keep_alive, as it reads when the head completes (HEAD requests not counted)
    const noBody = status === 204 || status === 304;
    const needsEof = !noBody && ((this.hasTe && !this.teChunked) || (!this.teChunked && !this.hasLength));
    const keepAlive = !needsEof && (this.major > 0 && this.minor > 0 ? !this.connClose : this.connKeepAlive);
    let framing = FRAMING_CLOSE;
    const length = this.hasLength ? this.length : -1;
    if (this.skipBody || noBody) {
      framing = FRAMING_NONE;
      this.phase = P_DONE;
    } else if (this.hasTe) {
      framing = FRAMING_CHUNKED;
      if (this.teChunked) {
        this.phase = P_CHUNKED;
        this.cs = C_SIZE;
        this.chunkSize = 0;
        this.chunkDigits = 0;
        this.chunkSignificant = 0;
      } else {
        this.phase = P_CLOSE;
      }
    } else if (this.hasLength) {
      framing = length === 0 ? FRAMING_NONE : FRAMING_LENGTH;
      if (length === 0) this.phase = P_DONE;
      else {
        this.phase = P_LENGTH;
        this.bodyLeft = length;
      }
    } else {
      this.phase = P_CLOSE;
    }
    sink.onResponseHead(status, reason, headers, framing, length, keepAlive);
    if (this.phase === P_DONE) this.done();
    return end;
  }

  /** Chunked body bytes data[off, len): data handed on, sizes and extensions checked. */
  private scanChunks(b: Buffer, off: number, len: number): number {
    let p = off;
    let cs = this.cs;
    while (p < len) {
      const c = b[p];
      switch (cs) {
        case C_SIZE: {
          const v = HEX[c];
          if (v >= 0) {
            // above 2^53 the size is not exact, but such a chunk never ends anyway
            this.chunkSize = this.chunkSize * 16 + v;
            this.chunkDigits++;
            if (this.chunkSize > 0 && ++this.chunkSignificant > MAX_CHUNK_DIGITS) this.fail('HPE_INVALID_CHUNK_SIZE', 'chunk size too large');
            p++;
            continue;
          }
          if (this.chunkDigits === 0) this.fail('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size');
          p++;
          if (c === CR) cs = C_SIZE_LF;
          else if (c === 59) cs = C_EXT_START;
          else this.fail(c === LF ? 'HPE_CR_EXPECTED' : 'HPE_INVALID_CHUNK_SIZE', 'invalid chunk size line');
          continue;
        }
        case C_EXT_START:
        case C_EXT_NAME:
          p++;
          if (TCHAR[c] === 1) cs = C_EXT_NAME;
          else if (c === 59) cs = C_EXT_START;
          else if (c === 61) cs = C_EXT_VALUE_START;
          else if (c === CR && cs === C_EXT_NAME) cs = C_SIZE_LF;
          else this.fail('HPE_STRICT', 'invalid character in chunk extensions');
          continue;
        case C_EXT_VALUE_START:
        case C_EXT_VALUE:
          p++;
          if (TCHAR[c] === 1) cs = C_EXT_VALUE;
          else if (c === 34 && cs === C_EXT_VALUE_START) cs = C_EXT_QUOTED;
          else if (c === 59) cs = C_EXT_START;
          else if (c === CR) cs = C_SIZE_LF;
          else this.fail('HPE_STRICT', 'invalid character in chunk extension value');
          continue;
        case C_EXT_QUOTED:
          p++;
          if (c === 34) cs = C_EXT_AFTER_QUOTE;
          else if (c === 92) cs = C_EXT_QUOTED_ESC;
          else if (QDTEXT[c] !== 1) this.fail('HPE_STRICT', 'invalid character in chunk extension quoted value');
          continue;
        case C_EXT_QUOTED_ESC:
          p++;
          if (c !== HT && (c < 0x20 || c === 0x7f)) this.fail('HPE_STRICT', 'invalid quoted-pair in chunk extension');
          cs = C_EXT_QUOTED;
          continue;
        case C_EXT_AFTER_QUOTE:
          p++;
          if (c === 59) cs = C_EXT_START;
          else if (c === CR) cs = C_SIZE_LF;
          else this.fail('HPE_STRICT', 'invalid character after a chunk extension quoted value');
          continue;
        case C_SIZE_LF:
          if (c !== LF) this.fail('HPE_STRICT', 'expected LF after the chunk size');
          p++;
          if (this.chunkSize === 0) {
            // the last chunk: trailer lines follow, read by the head scanner's header rules
            this.cs = C_SIZE;
            this.trailers = true;
            this.hs = H_LINE;
            this.headLen = 0;
            return p;
          }
          this.chunkLeft = this.chunkSize;
          this.chunkSize = 0;
          this.chunkDigits = 0;
          this.chunkSignificant = 0;
          cs = C_DATA;
          continue;
        case C_DATA: {
          const n = Math.min(this.chunkLeft, len - p);
          this.chunkLeft -= n;
          if (this.chunkLeft === 0) cs = C_DATA_CR;
          const sink = this.sink;
          const from = p;
          p += n;
          if (sink !== null) {
            this.cs = cs;
            sink.onResponseBody(from === 0 && p === b.length ? b : b.subarray(from, p));
            if (this.phase !== P_CHUNKED) return len;
          }
          continue;
        }
        case C_DATA_CR:
          if (c !== CR) this.fail('HPE_CR_EXPECTED', 'missing CRLF after chunk data');
          p++;
          cs = C_DATA_LF;
          continue;
        case C_DATA_LF:
          if (c !== LF) this.fail('HPE_STRICT', 'expected LF after chunk data');
          p++;
          cs = C_SIZE;
          continue;
        default:
          return p;
      }
    }
    this.cs = cs;
    return p;
  }
}

const SPECIAL_LENGTH = 1;
const SPECIAL_TE = 2;
const SPECIAL_CONNECTION = 3;

/** b[from, to) against a lower-case ASCII name, ignoring case */
function nameIs(b: Buffer, from: number, to: number, lower: string): boolean {
  if (to - from !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((b[from + i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

/** b[from, to) as a byte string (Buffer's own latin1Slice: toString without its argument checks) */
function latin1(b: Buffer, from: number, to: number): string {
  return (b as unknown as Latin1Slicer).latin1Slice(from, to);
}

/** which framing header b[from, to) names, if any */
function specialHeader(b: Buffer, from: number, to: number): number {
  switch (to - from) {
    case 14:
      return nameIs(b, from, to, 'content-length') ? SPECIAL_LENGTH : 0;
    case 17:
      return nameIs(b, from, to, 'transfer-encoding') ? SPECIAL_TE : 0;
    case 10:
      return nameIs(b, from, to, 'connection') ? SPECIAL_CONNECTION : 0;
    case 16:
      // llhttp reads Proxy-Connection as Connection
      return nameIs(b, from, to, 'proxy-connection') ? SPECIAL_CONNECTION : 0;
    default:
      return 0;
  }
}

/**
 * Content-Length: digits, then spaces only. -2 empty, -1 invalid or above 2^64 - 1 (llhttp's
 * limit; above 2^53 the value is not exact, but such a body never ends anyway).
 */
function contentLength(b: Buffer, from: number, to: number): number {
  let i = from;
  let v = 0;
  while (i < to && b[i] >= 48 && b[i] <= 57) {
    v = v * 10 + b[i] - 48;
    i++;
  }
  if (i === from) return i === to ? -2 : -1;
  const digitsEnd = i;
  while (i < to && b[i] === SP) i++;
  if (i !== to) return -1;
  if (v <= Number.MAX_SAFE_INTEGER) return v;
  // past 2^53 the sum above rounds at each step: read it as the old code did, as one number
  return fitsU64(b, from, digitsEnd) ? Number(latin1(b, from, digitsEnd)) : -1;
}

const U64_MAX = '18446744073709551615';

/** the decimal digits b[from, to) are at most 2^64 - 1 */
function fitsU64(b: Buffer, from: number, to: number): boolean {
  while (from < to && b[from] === 48) from++;
  const n = to - from;
  if (n !== U64_MAX.length) return n < U64_MAX.length;
  for (let i = 0; i < n; i++) {
    const d = b[from + i] - U64_MAX.charCodeAt(i);
    if (d !== 0) return d < 0;
  }
  return true;
}

/** the last comma-separated item is "chunked", spaces (not tabs) after it allowed: llhttp's rule */
function endsInChunked(b: Buffer, from: number, to: number): boolean {
  let e = to;
  while (e > from && b[e - 1] === SP) e--;
  if (e - from < 7 || !nameIs(b, e - 7, e, 'chunked')) return false;
  let s = e - 7;
  // before it: the value's start, or a comma and optional whitespace
  while (s > from && (b[s - 1] === SP || b[s - 1] === HT)) s--;
  return s === from || b[s - 1] === 44;
}

const CONN_CLOSE = 1;
const CONN_KEEP_ALIVE = 2;

/** Connection's "close" / "keep-alive" items (leading whitespace, trailing spaces allowed) */
function connectionTokens(b: Buffer, from: number, to: number): number {
  let flags = 0;
  let i = from;
  while (i <= to) {
    let e = i;
    while (e < to && b[e] !== 44) e++;
    let s = i;
    while (s < e && (b[s] === SP || b[s] === HT)) s++;
    let t = e;
    while (t > s && b[t - 1] === SP) t--;
    if (t - s === 5 && nameIs(b, s, t, 'close')) flags |= CONN_CLOSE;
    else if (t - s === 10 && nameIs(b, s, t, 'keep-alive')) flags |= CONN_KEEP_ALIVE;
    i = e + 1;
  }
  return flags;
}
