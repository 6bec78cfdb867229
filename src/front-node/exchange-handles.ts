// The request and answer handles a node-engine connection gives its handler for one exchange
// (api.ts's H1Request / H1Response). They hold no state of the wire: each call goes back to the
// connection, which ignores calls from an exchange that is over.

import type { Socket } from 'node:net';
import type { H1Request, H1Response } from './api';
import type { H1Connection } from './connection';
import type { RequestHeadParser } from './request-parser';
import type { TlsFacts } from './tls-facts';

export type BodyCallback = (chunk: Buffer, last: boolean) => void;

export class NodeRequest implements H1Request {
  readonly method: string;
  readonly target: string;
  readonly versionMinor: 0 | 1;
  readonly headers: string[];
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly keepAlive: boolean;
  readonly expectContinue: boolean;
  readonly upgrade: boolean;
  trailers: string[] | null = null;
  readonly tls: TlsFacts | null;

  constructor(
    private readonly conn: H1Connection,
    p: RequestHeadParser,
    readonly remoteAddress: string,
    readonly remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
  ) {
    this.method = p.method;
    this.target = p.target;
    this.versionMinor = p.versionMinor;
    this.headers = p.headers;
    this.contentLength = p.contentLength;
    this.chunked = p.chunked;
    this.keepAlive = p.keepAlive;
    this.expectContinue = p.expectContinue;
    this.upgrade = p.upgrade;
    this.tls = conn.tlsFacts;
  }

  onBody(cb: BodyCallback): void {
    this.conn.registerBody(this, cb);
  }

  pauseBody(): void {
    this.conn.pauseBody(this);
  }

  resumeBody(): void {
    this.conn.resumeBody(this);
  }
}

export class NodeResponse implements H1Response {
  private abortedFlag = false;
  private abortCb: (() => void) | null = null;

  constructor(private readonly conn: H1Connection) {}

  get aborted(): boolean {
    return this.abortedFlag;
  }

  /** @internal */ markAborted(notify: boolean): void {
    if (this.abortedFlag) return;
    this.abortedFlag = true;
    const cb = this.abortCb;
    this.abortCb = null;
    if (notify && cb !== null) cb();
  }

  writeInterim(status: number, reason: string, headers: string[]): void {
    this.conn.writeInterim(this, status, reason, headers);
  }

  writeHead(status: number, reason: string, headers: string[], bodyLength: number, close: boolean): void {
    this.conn.writeHead(this, status, reason, headers, bodyLength, close);
  }

  write(chunk: Buffer): boolean {
    return this.conn.write(this, chunk);
  }

  onWritable(cb: () => void): void {
    this.conn.onWritable(this, cb);
  }

  end(trailers?: string[]): void {
    this.conn.end(this, trailers);
  }

  abort(): void {
    this.conn.abort(this);
  }

  onAborted(cb: () => void): void {
    if (this.abortedFlag) return;
    this.abortCb = cb;
  }

  detach(): { socket: Socket; head: Buffer } {
    return this.conn.detach(this);
  }
}
