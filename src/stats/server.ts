// The stats listener of one frontend (`stats: { enable: true }`), served by node:http in the
// primary thread so the data plane never renders pages. Auth comes first for every path:
// nothing, not even whether a path exists, is answered before it.
// The same server also runs as an internal listener (routed.ts): a proxying frontend's or a
// backend's stats page, reached only by the workers, which add a per-generation secret header.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { STATS_KEY_HEADER } from './stats-key';
import type { BindAddress, StatsConfig } from '../config/model';
import { parseAdminForm, type AdminForm, type AdminResult } from './admin';
import { BasicAuth, challenge } from './auth';
import type { PageOptions } from './html';
import type { RenderKind } from './render-task';
import type { Snapshot } from './snapshot';
import { parseLatencyQuery, type ExportResult, type LatencyQuery } from './latency-export';

export interface StatsBackend {
  snapshot(): Promise<Snapshot>;
  admin(form: AdminForm, user: string): AdminResult;
  /** count a request the primary answered on this frontend */
  count(frontend: number, status: number, bytesIn: number, bytesOut: number, newConnection: boolean): void;
  /** Snapshot -> page text (inline or on the render thread, see render-pool.ts) */
  render(kind: RenderKind, snap: Snapshot, hideVersion: boolean, page?: PageOptions): Promise<string>;
  /** `<uri>;history[;since=T]`: the 1 s series as JSON (history-json.ts) */
  historyJson(since: number | null): string;
  /** `<uri>;latency;px=..;sv=..`: a latency histogram export (latency-export.ts) */
  latencyExport(q: LatencyQuery): ExportResult;
}

const MAX_FORM = 16 * 1024;
const RESULTS = new Set(['DONE', 'PART', 'NONE', 'ERRP', 'EXCD', 'DENY']);


export class StatsServer {
  private readonly auth: BasicAuth;
  private readonly servers: http.Server[] = [];
  private readonly key: Buffer | null;

  /**
   * `binds`: where to listen (a stats-only frontend's binds); `internalKey`: run as the internal
   * listener instead (127.0.0.1, ephemeral port): only requests carrying the key are served,
   * and the workers count them (the frontend that received them), not this server.
   */
  constructor(
    private readonly stats: StatsConfig,
    private readonly binds: BindAddress[],
    private readonly frontendIndex: number,
    private readonly backend: StatsBackend,
    internalKey: string | null = null,
  ) {
    this.auth = new BasicAuth(this.stats.auth);
    this.key = internalKey === null ? null : Buffer.from(internalKey);
  }

  /** Ports actually bound (useful when a bind says port 0). */
  get ports(): number[] {
    return this.servers.map((s) => (s.address() as AddressInfo).port);
  }

  /** `retryMs`: keep retrying a port still held by the process being replaced (-sf). */
  async listen(retryMs = 0): Promise<void> {
    const deadline = Date.now() + retryMs;
    const internal = this.key !== null;
    const binds = internal ? [{ host: '127.0.0.1', port: 0 }] : this.binds;
    for (const b of binds) {
      const server = http.createServer((req, res) => {
        const served = internal ? this.handleInternal(req, res) : this.handle(req, res);
        served.catch((e: Error) => this.send(res, 500, 'text/plain', `internal error: ${e.message}\n`));
      });
      if (!internal) server.on('connection', () => this.backend.count(this.frontendIndex, 0, 0, 0, true));
      server.keepAliveTimeout = 5000;
      server.headersTimeout = 10000;
      server.requestTimeout = 15000;
      for (;;) {
        try {
          await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen({ host: b.host, port: b.port, exclusive: true }, () => {
              server.off('error', reject);
              resolve();
            });
          });
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      this.servers.push(server);
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
  }

  private send(res: http.ServerResponse, status: number, type: string, body: string, extra: http.OutgoingHttpHeaders = {}): void {
    if (res.headersSent) return void res.destroy();
    const buf = Buffer.from(body);
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': buf.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      ...extra,
    });
    res.end(buf);
    if (this.key === null) this.backend.count(this.frontendIndex, status, 0, buf.length, false);
  }

  /**
   * A request a worker forwarded: it must carry the key (anything else on 127.0.0.1 is refused,
   * so a local user cannot step around the frontend's rules). Workers send GET, HEAD and POST
   * only (engine.ts statsMatch); anything else would be a bug: 501.
   */
  private async handleInternal(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const got = req.headers[STATS_KEY_HEADER];
    const key = this.key!;
    const given = typeof got === 'string' ? Buffer.from(got) : null;
    if (given === null || given.length !== key.length || !timingSafeEqual(given, key)) {
      req.resume();
      return this.send(res, 403, 'text/plain', 'forbidden\n', { Connection: 'close' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
      req.resume();
      return this.send(res, 501, 'text/html', '<html><body><h1>501 Not Implemented</h1>\n.\n</body></html>\n');
    }
    return this.handle(req, res);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const user = this.auth.check(req.headers.authorization);
    if (user === null) {
      req.resume();
      return this.send(res, 401, 'text/html', '<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n', {
        'WWW-Authenticate': challenge(this.stats.realm),
      });
    }
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    const s = this.stats;
    if (s.prometheus && path === s.prometheus) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return this.notAllowed(req, res);
      const snap = await this.backend.snapshot();
      return this.send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', await this.backend.render('prometheus', snap, s.hideVersion));
    }
    if (!url.startsWith(s.uri)) {
      req.resume();
      return this.send(res, 404, 'text/html', '<html><body><h1>404 Not Found</h1></body></html>\n');
    }
    // HAProxy's flags after the stats uri: ;csv ;json ;norefresh ;st=RESULT
    const flags = url.slice(s.uri.length).split(';').slice(1);
    if (req.method === 'POST') return this.adminPost(req, res, user);
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.notAllowed(req, res);
    // the 1 s history and the latency export read the primary's history only: no snapshot
    if (flags.includes('history')) {
      const since = flags.find((f) => f.startsWith('since='))?.slice(6);
      const t = since !== undefined && /^\d+$/.test(since) ? Number(since) : null;
      return this.send(res, 200, 'application/json', this.backend.historyJson(t));
    }
    if (flags.includes('latency')) {
      const q = parseLatencyQuery(flags);
      if (typeof q === 'string') return this.send(res, 400, 'text/plain', q + '\n');
      const r = this.backend.latencyExport(q);
      return this.send(res, r.status, r.type, r.body);
    }
    const snap = await this.backend.snapshot();
    if (flags.includes('csv')) return this.send(res, 200, 'text/plain; charset=utf-8', await this.backend.render('csv', snap, s.hideVersion));
    if (flags.includes('json')) return this.send(res, 200, 'application/json', await this.backend.render('json', snap, s.hideVersion));
    const st = flags.find((f) => f.startsWith('st='))?.slice(3) ?? '';
    const html = await this.backend.render('html', snap, s.hideVersion, {
      uri: s.uri,
      refresh: flags.includes('norefresh') ? 0 : Math.round(s.refresh / 1000),
      hideVersion: s.hideVersion,
      admin: this.adminAllowed(),
      user,
      result: RESULTS.has(st) ? (st as AdminResult) : null,
    });
    return this.send(res, 200, 'text/html; charset=utf-8', html);
  }

  private adminAllowed(): boolean {
    // Admin without authentication would hand the servers to anyone who can reach the port.
    return this.stats.admin && this.auth.enabled;
  }

  private notAllowed(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    this.send(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD, POST' });
  }

  private async adminPost(req: http.IncomingMessage, res: http.ServerResponse, user: string): Promise<void> {
    if (!this.adminAllowed()) {
      req.resume();
      return this.send(res, 403, 'text/plain', 'admin actions are disabled on this listener\n');
    }
    // A browser holding the credentials must not be steered into a POST from another site.
    const origin = req.headers.origin;
    if (origin && origin !== 'null') {
      let host = '';
      try {
        host = new URL(origin).host;
      } catch {
        host = '';
      }
      if (host !== req.headers.host) {
        req.resume();
        return this.send(res, 403, 'text/plain', 'cross-origin admin request refused\n');
      }
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= MAX_FORM) chunks.push(chunk);
    }
    const result: AdminResult = size > MAX_FORM ? 'EXCD' : this.backend.admin(parseAdminForm(Buffer.concat(chunks).toString('utf8')), user);
    this.send(res, 303, 'text/plain', `${result}\n`, { Location: `${this.stats.uri};st=${result}` });
  }
}
