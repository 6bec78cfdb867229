// Log outputs: where framed lines go. One small class per kind of target.
// Outputs never throw on the write path: a broken target reports once through `warn` and
// then drops (logging must not take the proxy down).
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as net from 'node:net';

export interface Output {
  /** one complete message, without a trailing newline */
  write(msg: string): void;
  /** several '\n'-terminated raw lines at once (stream outputs only do this cheaply) */
  writeBlock?(text: string): void;
  close(): Promise<void>;
  reopen?(): void;
  /** datagram outputs need one message per line */
  readonly datagram: boolean;
  readonly isStderr?: boolean;
}

export type Warn = (text: string) => void;

export class StdOutput implements Output {
  readonly datagram = false;
  readonly isStderr: boolean;
  constructor(private readonly stream: NodeJS.WriteStream) {
    this.isStderr = stream === process.stderr;
  }
  write(msg: string): void {
    this.stream.write(msg + '\n');
  }
  writeBlock(text: string): void {
    this.stream.write(text);
  }
  close(): Promise<void> {
    // stdout/stderr are process-wide: only wait for what is queued to drain.
    return new Promise((resolve) => {
      if (this.stream.writableLength === 0) resolve();
      else this.stream.once('drain', () => resolve());
    });
  }
}

export class FileOutput implements Output {
  readonly datagram = false;
  private stream: fs.WriteStream | null;
  private failed = false;
  constructor(readonly path: string, private readonly warn: Warn) {
    this.stream = this.open();
  }
  private open(): fs.WriteStream | null {
    // Opened synchronously (O_APPEND), so an unusable path is reported at once, before the
    // workers, which append access lines to the same file themselves (src/log/worker-file.ts),
    // report the same error (the primary then says it only once).
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'a');
    } catch (e) {
      this.failed = true;
      this.warn(`log file ${this.path}: ${(e as Error).message}; lines to it are dropped`);
      return null;
    }
    // Appending stream: writes queue in memory when the disk is slower than the traffic,
    // so a burst costs memory, never lines.
    const s = fs.createWriteStream(this.path, { fd, flags: 'a' });
    s.on('error', (e) => {
      if (!this.failed) this.warn(`log file ${this.path}: ${e.message}; lines to it are dropped`);
      this.failed = true;
    });
    return s;
  }
  write(msg: string): void {
    if (!this.failed) this.stream!.write(msg + '\n');
  }
  writeBlock(text: string): void {
    if (!this.failed) this.stream!.write(text);
  }
  /** for log rotation (SIGHUP-style): new lines go to a freshly opened PATH */
  reopen(): void {
    const old = this.stream;
    this.failed = false;
    this.stream = this.open();
    old?.end();
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      const s = this.stream;
      if (s === null || s.destroyed) return resolve();
      s.end(() => resolve());
    });
  }
}

export class UdpOutput implements Output {
  readonly datagram = true;
  private socket: dgram.Socket | null = null;
  private address: string | null = null;
  private pending: Buffer[] | null = [];
  private inflight = 0;
  private idle: (() => void) | null = null;
  private warned = false;

  constructor(host: string, private readonly port: number, private readonly warn: Warn) {
    const literal = net.isIP(host);
    if (literal) this.ready(host, literal);
    else
      dns.lookup(host, (err, addr, family) => {
        if (err) {
          this.warn(`log target udp://${host}:${port}: ${err.message}; lines to it are dropped`);
          this.pending = null;
          this.done();
          return;
        }
        this.ready(addr, family);
      });
  }

  private ready(addr: string, family: number): void {
    this.address = addr;
    this.socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    this.socket.on('error', (e) => this.onError(e));
    this.socket.unref();
    const queued = this.pending ?? [];
    this.pending = null;
    for (const b of queued) this.send(b);
  }

  private onError(e: Error): void {
    if (!this.warned) this.warn(`log target udp://${this.address}:${this.port}: ${e.message}`);
    this.warned = true;
  }

  private readonly sent = (err: Error | null) => {
    if (err) this.onError(err);
    this.inflight--;
    this.done();
  };

  private done(): void {
    if (this.inflight === 0 && this.pending === null && this.idle) this.idle();
  }

  private send(b: Buffer): void {
    this.inflight++;
    this.socket!.send(b, this.port, this.address!, this.sent);
  }

  write(msg: string): void {
    const b = Buffer.from(msg);
    if (this.socket) this.send(b);
    else if (this.pending) this.pending.push(b);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        this.socket?.close();
        this.socket = null;
        resolve();
      };
      if (this.socket && this.inflight === 0) return finish();
      if (!this.socket && this.pending === null) return resolve();
      this.idle = finish;
      setTimeout(finish, 2000).unref();
    });
  }
}

/**
 * unix:PATH (a local syslog datagram socket such as /dev/log). Node has no AF_UNIX datagram
 * sockets, so lines are handed to util-linux `logger -u PATH --prio-prefix`, one per line,
 * each with its own <PRI>. A missing socket or a missing logger is a warning, not a failure.
 */
export class UnixOutput implements Output {
  readonly datagram = true;
  private child: ChildProcess | null = null;
  constructor(private readonly path: string, rfc5424: boolean, private readonly warn: Warn) {
    let ok = false;
    try {
      ok = fs.statSync(path).isSocket();
    } catch {
      ok = false;
    }
    if (!ok) {
      warn(`log target unix:${path}: no such socket; lines to it are dropped`);
      return;
    }
    const child = spawn('logger', ['-u', path, '--prio-prefix', '-t', 'gatehouse', rfc5424 ? '--rfc5424' : '--rfc3164'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', (e) => {
      warn(`log target unix:${path}: cannot run logger (${e.message}); lines to it are dropped`);
      this.child = null;
    });
    child.on('exit', () => {
      this.child = null;
    });
    child.stdin!.on('error', () => undefined);
    child.unref();
    this.child = child;
  }
  /** msg is expected to start with <PRI> (logger adds its own header) */
  write(msg: string): void {
    this.child?.stdin?.write(msg.replace(/\n/g, ' ') + '\n');
  }
  close(): Promise<void> {
    const c = this.child;
    if (!c) return Promise.resolve();
    return new Promise((resolve) => {
      c.once('exit', () => resolve());
      c.stdin!.end();
      setTimeout(resolve, 2000).unref();
    });
  }
}
