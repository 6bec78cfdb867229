// The node:net front engine's contract with the proxy core (src/proxy/): one H1Request and one
// H1Response per request; the engine owns the connection (parsing, framing, keep-alive,
// pipelining order, timeouts, error answers), the handler owns what the request means.
//
// Order and life cycle, per connection:
//  - onRequest(req, res) is called for one request at a time. A pipelined next request is held
//    (not parsed, not dispatched) until the previous answer ended, so nothing reaches the
//    handler that the client will not get an answer for.
//  - The body is read only once the handler calls req.onBody(cb); a request without a body
//    calls cb(empty, true) at once. `Expect: 100-continue` (HTTP/1.1) is answered with one
//    `100 Continue` when onBody() is called (or at resumeBody() if pauseBody() came first),
//    unless the handler already sent its own 100 with writeInterim().
//  - The answer: writeInterim()* writeHead() write()* end(). Headers are written as given
//    (latin1); the engine adds the framing and connection fields itself: content-length
//    (bodyLength >= 0 and none given), transfer-encoding: chunked (bodyLength -1, HTTP/1.1
//    client), close-delimited for an HTTP/1.0 client, connection: close / keep-alive. So the
//    handler must not pass Connection, Keep-Alive or Transfer-Encoding. HEAD, 204 and 304
//    answers carry no body whatever is written.
//  - If the answer ends before the request body was received, the connection closes after it
//    (the rest of the body is read and dropped for a short while, so the client sees the answer
//    rather than a reset).
//  - Errors the engine answers itself (the handler never sees the request): 400 malformed head
//    or framing, 408 incomplete head after `timeout http-request`, 413 Content-Length beyond
//    2^53-1, 414 request line too long, 431 head too large or too many fields, 501 transfer
//    coding other than chunked. Body errors after dispatch (bad chunk, client stalled beyond
//    `timeout client` while sending the body, or closed mid-body) abort the request:
//    res.aborted turns true, onAborted() callbacks run, and the engine answers 400/408 itself
//    when no answer had started, or cuts the connection.

import type { Socket } from 'node:net';
import type { TlsFacts } from './tls-facts';

/** One parsed request handed to the proxy. */
export interface H1Request {
  method: string;
  /** raw request-target as sent (origin-form, absolute-form, authority-form for CONNECT, '*') */
  target: string;
  /** HTTP/1.0 or 1.1 (HTTP/1.2+ is read as 1.1, as HAProxy does) */
  versionMinor: 0 | 1;
  /** flat [name, value, ...] as received, latin1 strings (bytes preserved 1:1); obs-fold unfolded */
  headers: string[];
  /** -1 if none */
  contentLength: number;
  chunked: boolean;
  /** per HTTP version + Connection header */
  keepAlive: boolean;
  expectContinue: boolean;
  /** Connection lists "upgrade" and an Upgrade field is present (see H1Response.detach) */
  upgrade: boolean;
  /** client address (from the PROXY header with accept-proxy); IPv4-mapped IPv6 written as IPv4 */
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** the connection's TLS facts (node:tls binds), null on a plain connection */
  tls: TlsFacts | null;
  /** de-chunked body; `chunk` may be a view of the read buffer: copy it if kept after the call */
  onBody(cb: (chunk: Buffer, last: boolean) => void): void;
  /** stop reading the body (bytes of the current read already past the call are held) */
  pauseBody(): void;
  resumeBody(): void;
  /** chunked trailers, flat [name, value, ...], once last=true (null when none) */
  trailers: string[] | null;
}

/** The answer, written in order even when requests were pipelined. */
export interface H1Response {
  /** 1xx (100, 103); dropped for HTTP/1.0 clients and after writeHead */
  writeInterim(status: number, reason: string, headers: string[]): void;
  /** bodyLength: bytes that write() will send, or -1 (chunked for 1.1, close-delimited for 1.0) */
  writeHead(status: number, reason: string, headers: string[], bodyLength: number, close: boolean): void;
  /** false: backpressure, wait for onWritable */
  /** `chunk` may be a view of the upstream read buffer: the engine copies what it keeps after the call */
  write(chunk: Buffer): boolean;
  onWritable(cb: () => void): void;
  /** trailers (flat [name, value, ...]) go out with a chunked answer only */
  end(trailers?: string[]): void;
  /** cut the connection (reset), e.g. the upstream died mid-body */
  abort(): void;
  /** the client went away or the request failed after dispatch; not called after abort() */
  onAborted(cb: () => void): void;
  readonly aborted: boolean;
  /**
   * For upgrades (after writeHead(101, ...)): hands the socket over. The engine forgets the
   * connection; `head` holds bytes the client sent after the request head (may be empty).
   */
  detach(): { socket: Socket; head: Buffer };
}

/** An answer the engine gave by itself (for access logs and error counters). */
export interface H1Refusal {
  /** 400, 408, 413, 414, 431, 501 */
  status: number;
  /** short text for logs, e.g. "invalid header name", "timeout http-request" */
  reason: string;
  /** the request had reached onRequest() (its body failed); else it never did */
  dispatched: boolean;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

export interface H1Handler {
  onRequest(req: H1Request, res: H1Response): void;
  /** optional: called for each answer the engine sends itself (HAProxy logs these as <BADREQ>) */
  onRefused?(info: H1Refusal): void;
}

/** Per bind: what HAProxy's tune.*, timeout * and accept-proxy set. Times in ms. */
export interface FrontOptions {
  /** request line + header lines, bytes (HAProxy: tune.bufsize - tune.maxrewrite = 15360) */
  maxHeadSize: number;
  /** a head with this many fields or more is refused (HAProxy: tune.http.maxhdr, 101) */
  maxHeaders: number;
  /** `timeout http-request`: a complete head must arrive within this */
  timeoutHttpRequest: number;
  /** `timeout http-keep-alive`: idle time allowed between requests (HAProxy falls back to http-request) */
  timeoutHttpKeepAlive: number;
  /** `timeout client`: inactivity while the client sends a body or reads an answer */
  timeoutClient: number;
  /** `accept-proxy`: a PROXY protocol v1/v2 header comes first */
  acceptProxy: boolean;
  /** how long to read and drop a request body left over after the answer before closing */
  lingerMs: number;
}

export const DEFAULT_FRONT_OPTIONS: FrontOptions = {
  maxHeadSize: 16384 - 1024,
  maxHeaders: 101,
  timeoutHttpRequest: 10000,
  timeoutHttpKeepAlive: 10000,
  timeoutClient: 50000,
  acceptProxy: false,
  lingerMs: 2000,
};
