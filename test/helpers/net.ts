// Test helpers: real sockets on 127.0.0.1 only. Upstreams are real node:http servers the test
// starts; gatehouse runs as a real child process (node dist/cli.js).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const CLI = path.join(REPO, 'dist', 'cli.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Backend {
  name: string;
  port: number;
  server: http.Server;
  hits: number;
  close(): Promise<void>;
}

/** A real HTTP upstream. Default handler answers its own name. */
export async function startBackend(
  name: string,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse, b: Backend) => void,
  port = 0,
): Promise<Backend> {
  const b = { name, port: 0, hits: 0 } as Backend;
  const server = http.createServer((req, res) => {
    b.hits++;
    if (handler) return handler(req, res, b);
    req.resume();
    req.on('end', () => {
      res.setHeader('X-Server', name);
      res.end(name);
    });
  });
  server.keepAliveTimeout = 60000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  b.server = server;
  b.port = (server.address() as net.AddressInfo).port;
  b.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return b;
}

export interface Proc {
  child: ChildProcess;
  output(): string;
  /** resolves with the exit code */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const tmpDirs: string[] = [];
process.on('exit', () => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary folder (`prefix` + random), removed with its contents when the test process exits. */
export function tmpDir(prefix = 'gatehouse-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

/** A file in a fresh temporary folder, removed when the test process exits. */
export function tmpFile(name: string, content: string): string {
  const f = path.join(tmpDir(), name);
  fs.writeFileSync(f, content);
  return f;
}

/** Run the CLI with args; does not wait for anything. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 15000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Wait until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 10000, proc?: Proc): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc && proc.child.exitCode !== null) {
      throw new Error(`gatehouse exited (${proc.child.exitCode}) before listening:\n${proc.output()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`nothing listening on ${port} after ${timeoutMs}ms` + (proc ? `\n${proc.output()}` : ''));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Write a config file, start gatehouse on it and wait for `waitPorts` to accept. */
export async function startGatehouse(
  configText: string,
  waitPorts: number[],
  opts: { ext?: string; args?: string[] } = {},
): Promise<Proc & { configPath: string }> {
  const configPath = tmpFile('gatehouse' + (opts.ext ?? '.yaml'), configText);
  const p = runCli(['-f', configPath, ...(opts.args ?? [])]);
  try {
    for (const port of waitPorts) await waitForPort(port, 15000, p);
  } catch (e) {
    await p.stop('SIGKILL');
    throw e;
  }
  return Object.assign(p, { configPath });
}

export interface Reply {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** One HTTP request on a fresh connection (agent: false). */
export function request(
  port: number,
  opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string; agent?: http.Agent | false } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: opts.headers,
        agent: opts.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Send raw bytes, collect everything until the peer closes or `idleMs` of silence. */
export function rawExchange(port: number, data: string | Buffer, idleMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), idleMs);
    };
    s.on('connect', () => {
      s.write(data);
      arm();
    });
    s.on('data', (d) => {
      out += d.toString('latin1');
      arm();
    });
    s.on('close', () => {
      if (timer) clearTimeout(timer);
      resolve(out);
    });
    s.on('error', (e) => {
      if (out) return;
      reject(e);
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw TCP server on 127.0.0.1 for scripted peers: subclasses handle each connection. */
export abstract class RawTcpServer {
  port = 0;
  private readonly server = net.createServer((s) => {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    this.onConn(s);
  });
  private readonly sockets = new Set<net.Socket>();

  protected abstract onConn(sock: net.Socket): void;

  start(): Promise<void> {
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => {
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve();
      }),
    );
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export type CsvRow = Record<string, string>;

/** GET `<uri>;csv` from a stats listener and parse HAProxy's CSV into one record per row. */
export async function statsCsv(statsPort: number, uri: string): Promise<CsvRow[]> {
  const r = await request(statsPort, { path: uri + ';csv' });
  if (r.status !== 200) throw new Error(`stats CSV answered ${r.status}`);
  const lines = r.body.toString().split('\n').filter((l) => l !== '');
  const cols = lines[0].slice(2).split(',');
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i]]));
  });
}

export function csvRow(rows: CsvRow[], px: string, sv: string): CsvRow | undefined {
  return rows.find((r) => r.pxname === px && r.svname === sv);
}

/** A numeric CSV cell; throws when the row is missing. */
export function csvCell(rows: CsvRow[], px: string, sv: string, col: string): number {
  const r = csvRow(rows, px, sv);
  if (r === undefined) throw new Error(`no CSV row ${px}/${sv}`);
  return Number(r[col]);
}
