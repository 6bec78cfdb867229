// Incremental HTTP/1.x request parser for the node:net front engine, held to what HAProxy 2.6
// accepts (measured: ../shared/conformance/ and probes of haproxy 2.6.12) and refusing what
// llhttp's strict mode calls malformed when HAProxy would forward it anyway.
//
// RequestHeadParser works a line at a time: execute() consumes only complete lines (LF, with an
// optional CR before it) and says how far it got, so the caller keeps the unconsumed tail and
// feeds it again with the next read; each line is examined once. Header names and values are
// latin1 strings, so every byte 0x80-0xff reaches the proxy as the same code unit.
// ChunkedDecoder is a byte-level state machine for chunked bodies (sizes, extensions, trailers)
// that hands data out as views of the caller's buffer.
//
// What is accepted, as HAProxy 2.6 does: any method token; origin-form, absolute-form, '*', and
// authority-form for CONNECT; runs of SP/HTAB between the request-line parts; empty lines before
// a request; bare LF as a line end; obs-fold (the CR/LF become spaces, as HAProxy rewrites them);
// chunk extensions (not interpreted) and SP/HTAB after a chunk size; trailers. HTTP/1.x with
// x >= 2 is treated as 1.1 (HAProxy's reading).
// What is refused (status): a malformed request line, header name or value, CR not followed by
// LF, a control byte in a value, '#' or bytes outside 0x21-0x7e in the target, HTTP/0.9 or a
// major version other than 1, the PRI method (an HTTP/2 preface) (400); Content-Length with
// Transfer-Encoding, more than one Content-Length, a value that is not 1*DIGIT (400) or beyond
// 2^53-1 (413); a transfer coding list that does not end in one "chunked" (400) or has other
// codings before it (501); Transfer-Encoding in HTTP/1.0 (400); no Host in HTTP/1.1, more than
// one Host, an absolute-form authority that differs from Host or carries userinfo (400); a
// request line longer than the head limit (414); a head larger than maxHeadSize or with
// maxHeaders fields or more (431, HAProxy answers 400 for both); a bad chunk size or missing
// CRLF after chunk data (400).
// (ChunkedDecoder is in chunked-decoder.ts, the byte classes in src/shared/http-chars.ts.)
import { ParserLimits, DEFAULT_LIMITS, TCHAR, VCHAR, URICHAR, SP, HT, CR, LF } from '../shared/http-chars';
import { checkTransferEncoding } from '../proxy/request-validate';
import { sameIgnoreCase, sameLower } from '../shared/ascii';
export { DEFAULT_LIMITS, type ParserLimits } from '../shared/http-chars';
export { CHUNKS_DONE, CHUNKS_ERROR, CHUNKS_MORE, ChunkedDecoder, type ChunkSink } from './chunked-decoder';

/** Outcome of RequestHeadParser.execute(). */
export const HEAD_INCOMPLETE = 0;
export const HEAD_DONE = 1;
export const HEAD_ERROR = 2;

const PH_START = 0; // before the request line: empty lines are skipped
const PH_HEADERS = 1;

export class RequestHeadParser {
  // ---- results, valid after HEAD_DONE ----
  method = '';
  target = '';
  versionMinor: 0 | 1 = 1;
  /** flat [name, value, ...] as received (latin1) */
  headers: string[] = [];
  contentLength = -1;
  chunked = false;
  keepAlive = true;
  expectContinue = false;
  /** Connection lists "upgrade" and an Upgrade field is present */
  upgrade = false;
  // ---- error, valid after HEAD_ERROR ----
  errorStatus = 0;
  /** short reason for logs */
  errorReason = '';

  private phase = PH_START;
  /** bytes of the head consumed so far (request line on) */
  private headBytes = 0;
  private absoluteForm = false;
  private hostIdx = -1;
  private hostCount = 0;
  private clIdx = -1;
  private clCount = 0;
  private teIdx: number[] | null = null;
  private connClose = false;
  private connKeepAlive = false;
  private connUpgrade = false;
  private hasUpgrade = false;
  private expectIdx = -1;

  constructor(readonly limits: ParserLimits = DEFAULT_LIMITS) {}

  /** Ready for the next request on the connection. */
  reset(): void {
    this.method = '';
    this.target = '';
    this.versionMinor = 1;
    this.headers = [];
    this.contentLength = -1;
    this.chunked = false;
    this.keepAlive = true;
    this.expectContinue = false;
    this.upgrade = false;
    this.errorStatus = 0;
    this.errorReason = '';
    this.phase = PH_START;
    this.headBytes = 0;
    this.absoluteForm = false;
    this.hostIdx = -1;
    this.hostCount = 0;
    this.clIdx = -1;
    this.clCount = 0;
    this.teIdx = null;
    this.connIdx = null;
    this.connClose = false;
    this.connKeepAlive = false;
    this.connUpgrade = false;
    this.hasUpgrade = false;
    this.expectIdx = -1;
  }

  /** True once a byte of a request line was seen (an idle keep-alive connection has none). */
  get started(): boolean {
    return this.phase !== PH_START || this.headBytes > 0;
  }

  /** HEAD_* after execute() */
  status = HEAD_INCOMPLETE;

  /**
   * Parses complete lines of buf[pos, buf.length). Returns the offset after the last consumed
   * byte; `status` (HEAD_*) says whether the head is complete, needs more bytes (keep
   * buf[returned..] and call again with it in front of the next read), or is refused.
   */
  execute(buf: Buffer, pos: number): number {
    const end = buf.length;
    const limits = this.limits;
    while (pos < end) {
      if (this.phase === PH_START) {
        // empty lines before a request are ignored (RFC 9112 2.2, HAProxy too)
        const c = buf[pos];
        if (c === LF) {
          pos++;
          continue;
        }
        if (c === CR) {
          if (pos + 1 >= end) break;
          if (buf[pos + 1] !== LF) return this.fail(400, 'CR without LF before the request', pos);
          pos += 2;
          continue;
        }
      }
      let lf = buf.indexOf(LF, pos);
      if (lf < 0) {
        // incomplete line: refuse early what can already be refused
        const partial = end - pos;
        if (this.headBytes + partial >= limits.maxHeadSize) {
          return this.phase === PH_START
            ? this.fail(414, 'request line too long', pos)
            : this.fail(431, 'request head too large', pos);
        }
        if (this.phase === PH_START ? !this.requestLinePrefixOk(buf, pos, end) : !headerPrefixOk(buf, pos, end)) {
          return this.fail(400, this.phase === PH_START ? 'invalid request line' : 'invalid header', pos);
        }
        break;
      }
      const lineLen = lf + 1 - pos;
      if (this.headBytes + lineLen > limits.maxHeadSize) {
        return this.phase === PH_START
          ? this.fail(414, 'request line too long', pos)
          : this.fail(431, 'request head too large', pos);
      }
      this.headBytes += lineLen;
      let e = lf;
      if (e > pos && buf[e - 1] === CR) e--;
      if (this.phase === PH_START) {
        if (!this.requestLine(buf, pos, e)) return this.fail(this.errorStatus || 400, this.errorReason || 'invalid request line', pos);
        this.phase = PH_HEADERS;
        pos = lf + 1;
        continue;
      }
      if (e === pos) {
        // the empty line: the head is complete
        pos = lf + 1;
        if (!this.finish()) return this.fail(this.errorStatus, this.errorReason, pos);
        this.status = HEAD_DONE;
        return pos;
      }
      // obs-fold needs the next line's first byte: a field whose line is followed by SP/HTAB
      // goes on. HAProxy turns the CR LF into spaces; the value keeps the continuation's
      // leading whitespace.
      if (!this.headerLine(buf, pos, e, lf)) return this.fail(this.errorStatus || 400, this.errorReason || 'invalid header', pos);
      pos = lf + 1;
    }
    this.status = HEAD_INCOMPLETE;
    return pos;
  }

  private fail(status: number, reason: string, pos: number): number {
    this.errorStatus = status;
    this.errorReason = reason;
    this.status = HEAD_ERROR;
    return pos;
  }

  /** An incomplete request line: false when its bytes so far cannot start a valid one. */
  private requestLinePrefixOk(buf: Buffer, s: number, e: number): boolean {
    let i = s;
    while (i < e && TCHAR[buf[i]]) i++;
    if (i === e) return true;
    if (i === s || (buf[i] !== SP && buf[i] !== HT)) return false;
    while (i < e && (buf[i] === SP || buf[i] === HT)) i++;
    while (i < e && URICHAR[buf[i]]) i++;
    if (i === e) return true;
    if (buf[i] !== SP && buf[i] !== HT) return false;
    while (i < e && (buf[i] === SP || buf[i] === HT)) i++;
    // "HTTP/" digit "." digit, then CR
    const v = 'HTTP/0.0\r';
    for (let k = 0; i < e; k++, i++) {
      if (k >= v.length) return false;
      const c = buf[i];
      const want = v.charCodeAt(k);
      if (want === 48 ? c < 48 || c > 57 : c !== want) return false;
    }
    return true;
  }

  private requestLine(buf: Buffer, s: number, e: number): boolean {
    // method
    let i = s;
    while (i < e && TCHAR[buf[i]]) i++;
    if (i === s || i === e || (buf[i] !== SP && buf[i] !== HT)) return this.bad(400, 'invalid method');
    const ms = s;
    const me = i;
    while (i < e && (buf[i] === SP || buf[i] === HT)) i++;
    // target
    const ts = i;
    while (i < e && URICHAR[buf[i]]) i++;
    const te = i;
    if (te === ts || i === e || (buf[i] !== SP && buf[i] !== HT)) {
      // HTTP/0.9 (no version) included: HAProxy refuses it unless accept-invalid-http-request
      return this.bad(400, te === ts ? 'invalid request target' : 'no HTTP version');
    }
    while (i < e && (buf[i] === SP || buf[i] === HT)) i++;
    // version: exactly HTTP/d.d, nothing after it
    if (
      e - i !== 8 ||
      buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47 ||
      buf[i + 5] < 48 || buf[i + 5] > 57 || buf[i + 6] !== 46 || buf[i + 7] < 48 || buf[i + 7] > 57
    ) {
      return this.bad(400, 'invalid HTTP version');
    }
    const major = buf[i + 5] - 48;
    const minor = buf[i + 7] - 48;
    if (major !== 1) return this.bad(400, 'unsupported HTTP version');
    this.versionMinor = minor === 0 ? 0 : 1;
    this.method = buf.toString('latin1', ms, me);
    if (me - ms === 3 && this.method === 'PRI') return this.bad(400, 'HTTP/2 preface on HTTP/1');
    this.target = buf.toString('latin1', ts, te);
    const t0 = buf[ts];
    if (t0 === 47 /* / */) return true;
    if (t0 === 42 /* * */ && te - ts === 1) return true;
    if (me - ms === 7 && this.method === 'CONNECT') return true; // authority-form
    // absolute-form: scheme "://" authority [path-abempty] [ "?" query ]
    const sep = this.target.indexOf('://');
    if (sep <= 0) return this.bad(400, 'invalid request target');
    for (let k = 0; k < sep; k++) {
      const c = this.target.charCodeAt(k);
      const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
      if (!alpha && (k === 0 || !((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46))) return this.bad(400, 'invalid URI scheme');
    }
    this.absoluteForm = true;
    return true;
  }

  private bad(status: number, reason: string): boolean {
    this.errorStatus = status;
    this.errorReason = reason;
    return false;
  }

  /** One field line buf[s, e) (without CR LF); `lf` is the offset of its LF. */
  private headerLine(buf: Buffer, s: number, e: number, lf: number): boolean {
    const h = this.headers;
    const c0 = buf[s];
    if (c0 === SP || c0 === HT) {
      // obs-fold: continues the previous field
      if (h.length === 0) return this.bad(400, 'whitespace before the first header');
      for (let i = s; i < e; i++) if (!VCHAR[buf[i]]) return this.bad(400, 'invalid header value byte');
      let ve = e;
      while (ve > s && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
      // the CR LF ending the previous line become spaces, as HAProxy rewrites them in place
      if (ve > s) {
        const prev = h[h.length - 1];
        const cont = buf.toString('latin1', s, ve);
        h[h.length - 1] = prev.length === 0 ? cont.replace(/^[ \t]+/, '') : prev + (buf[lf - 1] === CR ? '  ' : ' ') + cont;
      }
      return true;
    }
    let i = s;
    while (i < e && TCHAR[buf[i]]) i++;
    if (i === s || i === e || buf[i] !== 58 /* : */) return this.bad(400, 'invalid header name');
    if ((h.length >> 1) + 1 >= this.limits.maxHeaders) return this.bad(431, 'too many headers');
    const ne = i;
    i++;
    while (i < e && (buf[i] === SP || buf[i] === HT)) i++;
    const vs = i;
    for (; i < e; i++) if (!VCHAR[buf[i]]) return this.bad(400, 'invalid header value byte');
    let ve = e;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    const name = buf.toString('latin1', s, ne);
    const idx = h.length;
    h.push(name, buf.toString('latin1', vs, ve));
    this.noteField(name, idx);
    return true;
  }

  /** Remembers where the fields that frame or route the request are. */
  private noteField(name: string, idx: number): void {
    switch (name.length) {
      case 4:
        if (sameLower(name, 'host')) {
          this.hostIdx = idx;
          this.hostCount++;
        }
        return;
      case 6:
        if (sameLower(name, 'expect')) this.expectIdx = idx;
        return;
      case 7:
        if (sameLower(name, 'upgrade')) this.hasUpgrade = true;
        return;
      case 10:
        if (sameLower(name, 'connection')) this.connectionIdx(idx);
        return;
      case 14:
        if (sameLower(name, 'content-length')) {
          this.clIdx = idx;
          this.clCount++;
        }
        return;
      case 17:
        if (sameLower(name, 'transfer-encoding')) {
          if (this.teIdx === null) this.teIdx = [idx];
          else this.teIdx.push(idx);
        }
        return;
      default:
        return;
    }
  }

  private connIdx: number[] | null = null;
  private connectionIdx(idx: number): void {
    if (this.connIdx === null) this.connIdx = [idx];
    else this.connIdx.push(idx);
  }

  /** End of head: framing, Host and connection semantics. */
  private finish(): boolean {
    const h = this.headers;
    // values may have grown by obs-fold after noteField(): read them now
    if (this.connIdx !== null) {
      for (const idx of this.connIdx) this.connectionTokens(h[idx + 1]);
      this.connIdx = null;
    }
    if (this.hostCount > 1) return this.bad(400, 'more than one Host');
    if (this.hostCount === 0 && this.versionMinor === 1) return this.bad(400, 'no Host in HTTP/1.1');
    if (this.absoluteForm) {
      const t = this.target;
      const as = t.indexOf('://') + 3;
      let ae = as;
      while (ae < t.length) {
        const c = t.charCodeAt(ae);
        if (c === 47 || c === 63) break;
        ae++;
      }
      const authority = t.slice(as, ae);
      if (authority.length === 0 || authority.indexOf('@') >= 0) return this.bad(400, 'invalid authority');
      if (this.hostIdx >= 0 && !sameIgnoreCase(authority, h[this.hostIdx + 1])) return this.bad(400, 'authority and Host differ');
    }
    if (this.teIdx !== null) {
      if (this.clCount > 0) return this.bad(400, 'Content-Length with Transfer-Encoding');
      if (this.versionMinor === 0) return this.bad(400, 'Transfer-Encoding in HTTP/1.0');
      let te = '';
      for (const idx of this.teIdx) te = te.length === 0 ? h[idx + 1] : te + ',' + h[idx + 1];
      const st = checkTransferEncoding(te);
      if (st !== 0) return this.bad(st, st === 501 ? 'transfer coding not implemented' : 'invalid Transfer-Encoding');
      this.chunked = true;
    } else if (this.clCount > 0) {
      if (this.clCount > 1) return this.bad(400, 'more than one Content-Length');
      const n = parseContentLength(h[this.clIdx + 1]);
      if (n < 0) return this.bad(n === -2 ? 413 : 400, 'invalid Content-Length');
      this.contentLength = n;
    }
    if (this.expectIdx >= 0 && this.versionMinor === 1 && sameIgnoreCase(h[this.expectIdx + 1], '100-continue')) {
      this.expectContinue = true;
    }
    this.keepAlive = this.versionMinor === 1 ? !this.connClose : this.connKeepAlive && !this.connClose;
    this.upgrade = this.connUpgrade && this.hasUpgrade;
    return true;
  }

  private connectionTokens(v: string): void {
    let i = 0;
    const n = v.length;
    while (i < n) {
      let s = i;
      let e = v.indexOf(',', i);
      if (e < 0) e = n;
      i = e + 1;
      while (s < e && (v.charCodeAt(s) === 32 || v.charCodeAt(s) === 9)) s++;
      while (e > s && (v.charCodeAt(e - 1) === 32 || v.charCodeAt(e - 1) === 9)) e--;
      const len = e - s;
      if (len === 5 && sameIgnoreCase(v.slice(s, e), 'close')) this.connClose = true;
      else if (len === 10 && sameIgnoreCase(v.slice(s, e), 'keep-alive')) this.connKeepAlive = true;
      else if (len === 7 && sameIgnoreCase(v.slice(s, e), 'upgrade')) this.connUpgrade = true;
    }
  }
}

/** An incomplete field line: false when its bytes so far cannot start a valid one (HAProxy
 * refuses byte by byte, so a CR followed by anything but LF gets its 400 at once). */
function headerPrefixOk(buf: Buffer, s: number, e: number): boolean {
  let i = s;
  // a CR may only be the last byte so far (its LF still to come)
  const last = buf[e - 1] === CR ? e - 1 : e;
  if (buf[i] === SP || buf[i] === HT) {
    for (; i < last; i++) if (!VCHAR[buf[i]]) return false;
    return true;
  }
  while (i < last && TCHAR[buf[i]]) i++;
  if (i === last) return last === e || i > s || last === s;
  if (i === s || buf[i] !== 58) return false;
  for (i++; i < last; i++) if (!VCHAR[buf[i]]) return false;
  return true;
}

/** 1*DIGIT; -1 when malformed, -2 when beyond 2^53-1. */
export function parseContentLength(v: string): number {
  const n = v.length;
  if (n === 0) return -1;
  let value = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    value = value * 10 + (c - 48);
  }
  return value > Number.MAX_SAFE_INTEGER ? -2 : value;
}
