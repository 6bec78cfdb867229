// TCP test helpers: a relay front built on src/tcp/relay.ts (what the proxy core will do once
// listeners exist), real upstream servers, and a client that collects what it reads.
import * as net from 'node:net';
import { TcpSession, type TcpSessionEnd, type TcpTimeouts } from '../../src/tcp/relay';

export const TIMEOUTS: TcpTimeouts = { client: 5000, server: 5000, tunnel: 0, clientFin: 0, serverFin: 0 };

export interface Front {
  port: number;
  ends: TcpSessionEnd[];
  /** resolves with the next session end */
  nextEnd(): Promise<TcpSessionEnd>;
  close(): Promise<void>;
}

/** A relay on 127.0.0.1: each accepted client is relayed to serverPort. */
export async function startFront(serverPort: number, timeouts: Partial<TcpTimeouts> = {}): Promise<Front> {
  const ends: TcpSessionEnd[] = [];
  const waiters: ((e: TcpSessionEnd) => void)[] = [];
  const t = { ...TIMEOUTS, ...timeouts };
  const srv = net.createServer({ allowHalfOpen: true }, (c) => {
    const s = new TcpSession(c, t, (e) => {
      ends.push(e);
      const w = waiters.shift();
      if (w) w(e);
    });
    void s.connect({ host: '127.0.0.1', port: serverPort }, 2000).then((o) => {
      if (o.ok) s.attach(o.socket);
      else if (o.reason !== 'aborted') s.connectFailed(o.reason);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  let seen = 0;
  return {
    port: (srv.address() as net.AddressInfo).port,
    ends,
    nextEnd: () => {
      if (ends.length > seen) return Promise.resolve(ends[seen++]);
      return new Promise((r) => waiters.push((e) => { seen++; r(e); }));
    },
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

export interface Upstream {
  port: number;
  sockets: Set<net.Socket>;
  close(): Promise<void>;
}

/** A real TCP server; `onConn` scripts each connection. */
export async function startUpstream(onConn: (s: net.Socket) => void): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

/** Echo: every byte back, and a FIN back after the client's FIN. */
export function echo(s: net.Socket): void {
  s.pipe(s);
}

export interface Collected {
  data: Buffer;
  /** 'end' (FIN), 'error:<code>' or 'close' */
  how: string;
}

/**
 * Connects, writes `send` (then FIN unless keepOpen), collects everything until the socket
 * closes. After the peer's FIN it sends its own unless `stayHalfOpen`.
 */
export function clientExchange(port: number, send: Buffer | string, keepOpen = false, stayHalfOpen = false): { sock: net.Socket; done: Promise<Collected> } {
  const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let how = 'close';
  const done = new Promise<Collected>((resolve) => {
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.on('end', () => {
      how = 'end';
      if (!stayHalfOpen) sock.end();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => { how = `error:${e.code ?? e.message}`; });
    sock.on('close', () => resolve({ data: Buffer.concat(chunks), how }));
  });
  sock.on('connect', () => {
    if (send.length > 0) sock.write(send);
    if (!keepOpen) sock.end();
  });
  return { sock, done };
}

/** A TCP server that greets with "NAME:", then echoes until the client half-closes. */
export async function echoServer(name = 's1'): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    s.write(name + ':');
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
