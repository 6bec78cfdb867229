// Strict HTTP/1.1 response framing, by Node's own llhttp (the fastest option measured, see
// docs/DESIGN.md; the binding is reached through shared/node-internals.ts). This is the only
// module that drives the parser, so a future hand-written one can replace it without the proxy
// noticing. One parser serves HTTP exchanges and WebSocket upgrades (upgrade mode, see begin()).

import { sameLower } from '../shared/ascii';

import { HTTPParser, type HTTPParserInstance } from '../shared/node-internals';

/** How the response body is delimited upstream, which decides how it is framed to the client. */
export const FRAMING_NONE = 0; // no body (HEAD, 1xx, 204, 304, Content-Length: 0)
export const FRAMING_LENGTH = 1; // Content-Length
export const FRAMING_CHUNKED = 2; // Transfer-Encoding: chunked (delivered de-chunked)
export const FRAMING_CLOSE = 3; // read until the server closes
export const FRAMING_UPGRADE = 4; // 101 to an upgrade request: what follows is another protocol

export interface ResponseSink {
  /** `headers` is llhttp's flat [name, value, ...] array. Return nothing. */
  onResponseHead(
    status: number,
    reason: string,
    headers: string[],
    framing: number,
    contentLength: number,
    keepAlive: boolean,
  ): void;
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

const MAX_HEAD = 65536;

/**
 * One parser per upstream connection, reused for every response on it.
 * llhttp hands header slices back through kOnHeaders when a head spans several reads; we join
 * them before kOnHeadersComplete, as Node's http client does.
 *
 * Content-Length bodies do not go through llhttp: Node's binding copies every body slice into
 * a new Buffer (a malloc per read, freed only at GC: a 1 GB download grew the worker's RSS by
 * ~35 MB). For those, kOnHeadersComplete returns 2 ("upgrade"), which makes llhttp stop right
 * after the head and report how many bytes it used; the body is then counted off here and
 * handed on as views of the caller's buffer. llhttp is re-initialised before the next response.
 */
export class ResponseParser {
  private readonly p: HTTPParserInstance;
  private sink: ResponseSink | null = null;
  private skipBody = false;
  private partialHeaders: string[] | null = null;
  private finalHeadSeen = false;
  /** set once a complete (non-1xx) response has been parsed */
  complete = false;
  /** Content-Length body bytes still to come, counted here instead of by llhttp; -1 = none */
  private bodyLeft = -1;
  /** llhttp stopped after a head (see above) and must be re-initialised for the next response */
  private stopped = false;
  /** false once bytes arrived after the final response: the connection must not be reused */
  framingOk = true;
  /** HTTP minor version of the last head (1 for HTTP/1.1) */
  versionMinor = 1;
  /** the request asked to switch protocols: a 101 ends HTTP here (undici's client-h1 does the same) */
  private upgrade = false;
  /** a 101 came: the rest of the stream is not HTTP */
  private upgraded = false;
  /** a 101 came to a request that asked for no upgrade */
  private unexpected101 = false;

  constructor() {
    this.p = new HTTPParser();
    this.p.initialize(HTTPParser.RESPONSE, {}, MAX_HEAD, HTTPParser.kLenientNone);
    this.p[HTTPParser.kOnMessageBegin] = this.onMessageBegin.bind(this);
    this.p[HTTPParser.kOnHeaders] = this.onHeaders.bind(this);
    this.p[HTTPParser.kOnHeadersComplete] = this.onHeadersComplete.bind(this);
    this.p[HTTPParser.kOnBody] = this.onBody.bind(this);
    this.p[HTTPParser.kOnMessageComplete] = this.onMessageComplete.bind(this);
    this.p[HTTPParser.kOnExecute] = noop;
  }

  /**
   * Expect the response to a new request. `isHead`: the request was HEAD (no body follows);
   * `upgrade`: it asked to switch protocols, so a 101 is its final answer.
   */
  begin(sink: ResponseSink, isHead: boolean, upgrade = false): void {
    this.upgrade = upgrade;
    if (this.stopped) {
      this.stopped = false;
      this.p.initialize(HTTPParser.RESPONSE, {}, MAX_HEAD, HTTPParser.kLenientNone);
    }
    this.bodyLeft = -1;
    this.sink = sink;
    this.skipBody = isHead;
    this.upgraded = false;
    this.unexpected101 = false;
    this.complete = false;
    this.finalHeadSeen = false;
    this.partialHeaders = null;
  }

  /** Deliver the rest of the current response to another sink (a client that left). */
  retarget(sink: ResponseSink): void {
    if (this.sink !== null) this.sink = sink;
  }

  /** Content-Length body bytes still to come; -1 when unknown or not in such a body. */
  get bodyRemaining(): number {
    return this.bodyLeft;
  }

  /** Feed bytes; throws ResponseParseError on anything llhttp rejects. */
  execute(data: Buffer): void {
    let off = 0;
    const len = data.length;
    while (off < len) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, len - off);
        const chunk = off === 0 && n === len ? data : data.subarray(off, off + n);
        off += n;
        this.bodyLeft -= n;
        const sink = this.sink;
        if (sink === null) return;
        sink.onResponseBody(chunk);
        if (this.bodyLeft === 0) {
          this.bodyLeft = -1;
          this.complete = true;
          sink.onResponseComplete();
        }
        continue;
      }
      if (this.stopped) {
        // bytes after a complete response: the server is out of step, never reuse it
        this.framingOk = false;
        return;
      }
      const r = this.run(off === 0 ? data : data.subarray(off));
      if (typeof r !== 'number') {
        const e = r as Error & { code?: string; reason?: string };
        throw new ResponseParseError(e.code ?? 'HPE_UNKNOWN', e.reason ?? e.message);
      }
      if (!this.stopped) return; // llhttp took everything
      off += r;
      if (this.upgraded) {
        if (this.sink !== null) this.sink.onResponseUpgrade(off === 0 ? data : data.subarray(off));
        return;
      }
      if (this.unexpected101) throw new ResponseParseError('HPE_UNEXPECTED_101', 'switching protocols to a request that asked for no upgrade');
    }
  }

  /** The server closed: ends a close-delimited body, or reports a truncated response. */
  finish(): void {
    // a Content-Length body cut short (complete stays false), or nothing pending after one
    if (this.stopped) return;
    const r = this.p.finish();
    if (r) {
      const e = r as Error & { code?: string; reason?: string };
      throw new ResponseParseError(e.code ?? 'HPE_UNKNOWN', e.reason ?? e.message);
    }
  }

  /**
   * Free llhttp's memory now rather than at GC. Freeing it from inside one of its own callbacks
   * (while execute() runs) kills the process without a message, so that case waits for execute
   * to return.
   */
  close(): void {
    this.sink = null;
    if (this.executing) this.closeAfterExecute = true;
    else this.p.close();
  }
  private executing = false;
  private closeAfterExecute = false;

  private run(data: Buffer): number | Error {
    this.executing = true;
    try {
      return this.p.execute(data);
    } finally {
      this.executing = false;
      if (this.closeAfterExecute) {
        this.closeAfterExecute = false;
        this.p.close();
      }
    }
  }

  private onMessageBegin(): void {
    // A message starting after the final response (or with no request pending) is a server
    // speaking out of turn: never reuse such a connection.
    if (this.complete || this.sink === null) this.framingOk = false;
  }

  private onHeaders(headers: string[]): void {
    if (this.partialHeaders === null) this.partialHeaders = headers.slice();
    else for (let i = 0; i < headers.length; i++) this.partialHeaders.push(headers[i]);
  }

  private onHeadersComplete(
    _major: number,
    minor: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    reason: string | undefined,
    _upgrade: boolean,
    keepAlive: boolean,
  ): number {
    let hs = headers;
    if (this.partialHeaders !== null) {
      hs = hs ? this.partialHeaders.concat(hs) : this.partialHeaders;
      this.partialHeaders = null;
    }
    if (hs === undefined) hs = [];
    this.versionMinor = minor;
    if (status === 101) {
      // llhttp stops after any 101 (the stream is another protocol from here); 2 says the same
      this.stopped = true;
      if (!this.upgrade || this.complete || this.sink === null) {
        this.unexpected101 = true;
        return 2;
      }
      this.upgraded = true;
      this.finalHeadSeen = true;
      this.complete = true;
      this.sink.onResponseHead(101, reason ?? '', hs, FRAMING_UPGRADE, -1, false);
      return 2;
    }
    // Interim 1xx responses (100 Continue, 103 Early Hints) are not forwarded: the client side
    // answers Expect itself, and llhttp then parses the final response on the same stream.
    if (status < 200) return 0;
    if (this.complete || this.sink === null) {
      this.framingOk = false;
      return 1;
    }
    this.finalHeadSeen = true;
    let framing = FRAMING_CLOSE;
    let length = -1;
    if (this.skipBody || status === 204 || status === 304) {
      framing = FRAMING_NONE;
      for (let i = 0; i < hs.length; i += 2) {
        if (sameLower(hs[i], 'content-length')) length = Number(hs[i + 1]);
      }
    } else {
      for (let i = 0; i < hs.length; i += 2) {
        const n = hs[i];
        if (sameLower(n, 'content-length')) {
          length = Number(hs[i + 1]);
          if (framing !== FRAMING_CHUNKED) framing = length === 0 ? FRAMING_NONE : FRAMING_LENGTH;
        } else if (sameLower(n, 'transfer-encoding')) {
          // llhttp already rejected anything but a final "chunked" in strict mode
          framing = FRAMING_CHUNKED;
          length = -1;
        }
      }
    }
    if (framing === FRAMING_LENGTH) {
      this.bodyLeft = length;
      this.stopped = true;
    }
    this.sink!.onResponseHead(status, reason ?? '', hs, framing, length, keepAlive);
    // 1 tells llhttp there is no body to read (HEAD); 2 stops it after this head
    return this.skipBody ? 1 : framing === FRAMING_LENGTH ? 2 : 0;
  }

  private onBody(chunk: Buffer): void {
    if (this.complete || this.sink === null) return;
    this.sink.onResponseBody(chunk);
  }

  private onMessageComplete(): void {
    // llhttp "completes" a head it was told to stop after: the body is still to come
    if (this.bodyLeft > 0) return;
    // Completion of an interim 1xx response, or of unsolicited data: wait for the final one.
    if (this.sink === null || this.complete || !this.finalHeadSeen) return;
    this.complete = true;
    this.sink.onResponseComplete();
  }
}

function noop(): void {}
