// The node:net engine's request and answer as the proxy core sees them (src/proxy/client.ts):
// ClientRequest over an H1Request, ClientResponse (uWS's semantics: status and headers
// first, tryEnd for a known length, write for an unknown one) over an H1Response. One of each
// per request; the engine writes framing and connection fields itself.

import type { ProxyAddresses } from '../net/proxy-protocol';
import type { H1Request, H1Response } from '../front-node/api';
import type { TlsFacts } from '../front-node/tls-facts';
import { bytesToText } from '../proxy/byte-text';
import type { ClientRequest, ClientResponse } from '../proxy/client';

const NON_ASCII = /[^\x00-\x7f]/;

export class NodeClientRequest implements ClientRequest {
  private readonly qmark: number;
  /** a value held bytes that are not UTF-8: the head must be written byte-exact (byte-text.ts) */
  rawBytes = false;

  constructor(private readonly req: H1Request) {
    this.qmark = req.target.indexOf('?');
  }

  getCaseSensitiveMethod(): string {
    return this.req.method;
  }

  getUrl(): string {
    const t = this.req.target;
    return this.qmark < 0 ? t : t.slice(0, this.qmark);
  }

  getQuery(): string | undefined {
    return this.qmark < 0 ? undefined : this.req.target.slice(this.qmark + 1);
  }

  getHeader(lowerCaseKey: string): string {
    const h = this.req.headers;
    for (let i = 0; i < h.length; i += 2) {
      const n = h[i];
      if (n.length === lowerCaseKey.length && (n === lowerCaseKey || n.toLowerCase() === lowerCaseKey)) return this.coreText(h[i + 1]);
    }
    return '';
  }

  forEach(cb: (key: string, value: string) => void): void {
    const h = this.req.headers;
    for (let i = 0; i < h.length; i += 2) cb(h[i].toLowerCase(), this.coreText(h[i + 1]));
  }

  /**
   * A header value as the core takes it: the engine gives one code unit per byte (latin1), the
   * core handles UTF-8 text (uWS hands it that), so bytes >= 0x80 are decoded here; bytes that
   * are not UTF-8 are kept as escapes and leave byte for byte (plan.rawHead).
   */
  private coreText(v: string): string {
    if (!NON_ASCII.test(v)) return v;
    const t = bytesToText(v);
    if (t.escaped) this.rawBytes = true;
    return t.text;
  }
}

export class NodeClientResponse implements ClientResponse {
  private status = 200;
  private reason = 'OK';
  private readonly headers: string[] = [];
  private closeAfter = false;
  private started = false;
  /** body bytes handed to the engine (uWS's write offset) */
  private sent = 0;
  private addr: ArrayBuffer | null = null;

  constructor(
    private readonly res: H1Response,
    private readonly req: H1Request,
  ) {}

  /** the TLS facts of the connection (ssl_* fetches), null on plain TCP */
  get ssl(): TlsFacts | null {
    return this.req.tls;
  }

  writeStatus(status: string): this {
    this.status = Number(status.slice(0, 3));
    this.reason = status.length > 4 ? status.slice(4) : '';
    return this;
  }

  writeHeader(key: string, value: string | Uint8Array): this {
    const v = typeof value === 'string' ? value : Buffer.from(value).toString('latin1');
    // the engine writes close/keep-alive itself: the core's `connection: close` is a request to close
    if (key.length === 10 && key.toLowerCase() === 'connection' && v.toLowerCase() === 'close') {
      this.closeAfter = true;
      return this;
    }
    this.headers.push(key, v);
    return this;
  }

  private head(bodyLength: number): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(this.status, this.reason, this.headers, bodyLength, this.closeAfter);
  }

  write(chunk: Uint8Array | string): boolean {
    this.head(-1);
    // the chunk may be a view of the upstream connection's read buffer, reused by its next
    // read: the engine copies what it keeps (AnswerFramer.write), as uWS does
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk instanceof Buffer ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.sent += b.length;
    return this.res.write(b);
  }

  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean] {
    this.head(totalSize);
    let ok = true;
    if (chunk.byteLength > 0) {
      this.sent += chunk.byteLength;
      // no copy here: the engine copies what it keeps (AnswerFramer.write)
      ok = this.res.write(chunk instanceof Buffer ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    if (this.sent < totalSize) return [ok, false];
    this.res.end();
    return [ok, true];
  }

  end(body?: Uint8Array | string, closeConnection?: boolean): this {
    if (closeConnection === true) this.closeAfter = true;
    const b = body === undefined ? null : typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body);
    this.head(b === null ? 0 : b.length);
    if (b !== null && b.length > 0) {
      this.sent += b.length;
      this.res.write(b);
    }
    this.res.end();
    return this;
  }

  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): this {
    if (closeConnection === true) this.closeAfter = true;
    this.head(reportedContentLength ?? -1);
    this.res.end();
    return this;
  }

  getWriteOffset(): number {
    return this.sent;
  }

  cork(cb: () => void): this {
    cb();
    return this;
  }

  onWritable(handler: (offset: number) => boolean): this {
    this.res.onWritable(() => {
      handler(this.sent);
    });
    return this;
  }

  onAborted(handler: () => void): this {
    this.res.onAborted(handler);
    return this;
  }

  onData(handler: (chunk: Uint8Array, isLast: boolean) => void): void {
    this.req.onBody(handler);
  }

  trailers(): string[] | null {
    return this.req.trailers;
  }

  pause(): void {
    this.req.pauseBody();
  }

  resume(): void {
    this.req.resumeBody();
  }

  close(): this {
    this.res.abort();
    return this;
  }

  getRemoteAddress(): ArrayBuffer {
    return (this.addr ??= addressBytes(this.req.remoteAddress));
  }

  proxyAddresses(): ProxyAddresses {
    const r = this.req;
    return { srcAddress: r.remoteAddress, srcPort: r.remotePort, dstAddress: r.localAddress, dstPort: r.localPort };
  }

  /** For a protocol switch: the engine's answer object. */
  get h1(): H1Response {
    return this.res;
  }
}

/** An address's bytes (4 for IPv4, 16 for IPv6, none if unparsable), as uWS gives them. */
function addressBytes(text: string): ArrayBuffer {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) return new Uint8Array([+v4[1], +v4[2], +v4[3], +v4[4]]).buffer;
  if (!text.includes(':')) return new ArrayBuffer(0);
  const out = new Uint8Array(16);
  let s = text;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  // a trailing dotted IPv4 (::ffff:1.2.3.4) becomes two groups
  const dot = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dot !== null) s = s.slice(0, dot.index) + ((+dot[1] << 8) | +dot[2]).toString(16) + ':' + ((+dot[3] << 8) | +dot[4]).toString(16);
  const [a, b] = s.split('::');
  const left = a === '' ? [] : a.split(':');
  const right = b === undefined || b === '' ? [] : b.split(':');
  const groups = b === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i] ?? '0', 16) || 0;
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 255;
  }
  return out.buffer;
}
