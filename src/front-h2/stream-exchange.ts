// One HTTP/2 stream as the node engine's request and answer handles (front-node/api.ts's
// H1Request / H1Response), so a stream goes through the same proxy core as an HTTP/1.1
// exchange (worker/node-client.ts adapts both to the core's ClientRequest / ClientResponse).
//
// Mapping: :method and :path are the request line, :authority becomes Host (when the client
// sent no Host of its own); a body without content-length is announced to the core as chunked
// (the core re-chunks it to the HTTP/1.1 server). Backpressure both ways is node:http2's own
// flow control: pausing the stream stops WINDOW_UPDATEs to the client, and write() returns
// false until the peer's window and the socket take more.

import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { H1Request, H1Response } from '../front-node/api';
import type { TlsFacts } from '../front-node/tls-facts';

const EMPTY = Buffer.alloc(0);
const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** Response fields that mean something on one HTTP/1.1 connection only (RFC 9113 8.2.2). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/** The client side of a stream: the connection's addresses, shared by its streams. */
export interface H2Peer {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** TLS facts when ALPN chose h2 on a TLS bind; null on h2c */
  tls: TlsFacts | null;
}

export class H2Request implements H1Request {
  readonly method: string;
  readonly target: string;
  readonly versionMinor = 1 as const;
  readonly headers: string[];
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly keepAlive = true;
  readonly expectContinue: boolean;
  readonly upgrade = false;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: TlsFacts | null;
  trailers: string[] | null = null;
  private paused = false;
  private reading = false;
  private continued = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    rawHeaders: string[],
    peer: H2Peer,
  ) {
    this.remoteAddress = peer.remoteAddress;
    this.remotePort = peer.remotePort;
    this.localAddress = peer.localAddress;
    this.localPort = peer.localPort;
    this.tls = peer.tls;
    let method = '';
    let path = '';
    let authority = '';
    let host = false;
    let cl = -1;
    let expect = false;
    const h: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const n = rawHeaders[i];
      const v = rawHeaders[i + 1];
      if (n.charCodeAt(0) === 58 /* ':' */) {
        if (n === ':method') method = v;
        else if (n === ':path') path = v;
        else if (n === ':authority') authority = v;
        continue;
      }
      if (n === 'host') host = true;
      else if (n === 'content-length') cl = Number(v);
      else if (n === 'expect') expect = v.toLowerCase() === '100-continue';
      h.push(n, v);
    }
    // Host first, where an HTTP/1.1 client writes it
    if (!host && authority !== '') h.unshift('host', authority);
    const hasBody = !stream.endAfterHeaders;
    this.chunked = hasBody && cl < 0;
    if (this.chunked) h.push('transfer-encoding', 'chunked');
    this.method = method;
    // CONNECT carries its target in :authority
    this.target = method === 'CONNECT' ? authority : path;
    this.headers = h;
    this.contentLength = cl;
    this.expectContinue = expect && hasBody;
  }

  onBody(cb: (chunk: Buffer, last: boolean) => void): void {
    if (this.reading) return;
    this.reading = true;
    const s = this.stream;
    if (s.endAfterHeaders) {
      cb(EMPTY, true);
      return;
    }
    s.on('data', (chunk: Buffer) => cb(chunk, false));
    s.on('end', () => cb(EMPTY, true));
    if (this.paused) s.pause();
    else this.sendContinue();
  }

  /** `Expect: 100-continue`: a 100 when the body is first wanted, as the HTTP/1.1 side does */
  private sendContinue(): void {
    if (!this.expectContinue || this.continued) return;
    this.continued = true;
    const s = this.stream;
    if (s.headersSent || s.destroyed) return;
    try {
      s.additionalHeaders({ ':status': 100 });
    } catch {
      // the stream is closing: nothing to announce
    }
  }

  pauseBody(): void {
    this.paused = true;
    if (this.reading) this.stream.pause();
  }

  resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.reading) {
      this.stream.resume();
      this.sendContinue();
    }
  }
}

export class H2Response implements H1Response {
  private abortedFlag = false;
  private abortCb: (() => void) | null = null;
  private writableCb: (() => void) | null = null;
  private started = false;
  /** the answer went out whole (end()) or the stream was cut: the core is done with it */
  private done = false;
  /** the answer has no body (HEAD, 204, 304): END_STREAM went with the headers */
  private bodyless = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly head: boolean,
  ) {
    stream.on('drain', () => {
      const cb = this.writableCb;
      this.writableCb = null;
      if (cb !== null) cb();
    });
    // a stream the client reset, or its connection gone, before the answer was complete
    stream.on('close', () => {
      if (!this.done) this.markAborted();
    });
  }

  get aborted(): boolean {
    return this.abortedFlag;
  }

  private markAborted(): void {
    if (this.abortedFlag) return;
    this.abortedFlag = true;
    this.done = true;
    const cb = this.abortCb;
    this.abortCb = null;
    if (cb !== null) cb();
  }

  writeInterim(status: number, _reason: string, headers: string[]): void {
    if (this.started || this.done || this.stream.destroyed) return;
    const out = fieldsObject(headers);
    out[':status'] = status;
    try {
      this.stream.additionalHeaders(out);
    } catch {
      // a field node:http2 refuses (e.g. a connection-specific one): the interim answer is optional
    }
  }

  writeHead(status: number, _reason: string, headers: string[], bodyLength: number, _close: boolean): void {
    if (this.started || this.done) return;
    this.started = true;
    const s = this.stream;
    if (s.destroyed) return;
    const out = fieldsObject(headers);
    out[':status'] = status;
    // a 204 has no content-length (RFC 9110 8.6); nghttp2 clients reset a stream that has one
    if (status === 204) delete out['content-length'];
    else if (bodyLength >= 0 && out['content-length'] === undefined && status !== 304) out['content-length'] = bodyLength;
    this.bodyless = this.head || status === 204 || status === 304 || (bodyLength === 0 && status >= 200);
    try {
      s.respond(out, { endStream: this.bodyless });
    } catch {
      // headers node:http2 cannot encode: the stream is reset, the connection lives on
      this.abort();
      return;
    }
    if (this.bodyless) this.done = true;
  }

  write(chunk: Buffer): boolean {
    if (this.bodyless || this.done || this.stream.destroyed) return true;
    // a copy: the chunk may be a view of the upstream connection's read buffer, reused by its
    // next read, while the stream keeps what flow control does not let out yet
    return this.stream.write(Buffer.from(chunk));
  }

  onWritable(cb: () => void): void {
    if (this.done) return;
    this.writableCb = cb;
  }

  end(_trailers?: string[]): void {
    if (this.done) return;
    this.done = true;
    if (!this.stream.destroyed) this.stream.end();
  }

  abort(): void {
    if (this.done && this.abortedFlag) return;
    this.done = true;
    this.abortedFlag = true;
    this.abortCb = null;
    // RST_STREAM: this stream only, the connection and its other streams go on
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  onAborted(cb: () => void): void {
    if (this.abortedFlag) return;
    this.abortCb = cb;
  }

  detach(): { socket: Socket; head: Buffer } {
    // never called: an h2 request is never a WebSocket upgrade (upgrade is false)
    throw new Error('an HTTP/2 stream cannot be detached');
  }
}

/**
 * Flat [name, value, ...] as a node:http2 header object: names lower-case, hop-by-hop fields
 * dropped, repeated names (set-cookie) as arrays.
 */
function fieldsObject(headers: string[]): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (let i = 0; i < headers.length; i += 2) {
    const n = headers[i].toLowerCase();
    if (HOP_BY_HOP.has(n)) continue;
    const v = headers[i + 1];
    const prev = out[n];
    if (prev === undefined) out[n] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[n] = [String(prev), v];
  }
  return out;
}
