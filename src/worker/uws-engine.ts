// The uWebSockets.js front engine: one uWS App per frontend (an SSLApp with SNI certificates for
// TLS binds), listening on every bind (SO_REUSEPORT lets all workers share the ports). Each HTTP
// request goes to a recycled Exchange; WebSocket upgrades go through websocket.ts.

import type uWS from 'uWebSockets.js';
import type { BindAddress } from '../config/model';
import type { Exchange } from '../proxy/exchange';
import type { FrontEngine } from './engine';
import type { FrontendRuntime, WorkerRuntime } from './runtime';
import { createFrontendApp } from './tls';
import { requireUws } from './uws-load';
import type { WebSocketProxy } from './websocket';

/** Test-only fault injection (GATEHOUSE_TEST_HOOKS=1): GET /.gatehouse/crash-worker throws. */
const TEST_HOOKS = process.env.GATEHOUSE_TEST_HOOKS === '1';

export class UwsEngine implements FrontEngine {
  private readonly apps: uWS.TemplatedApp[] = [];
  /** the frontend of each app in `apps` (same index) */
  private readonly appFrontends: FrontendRuntime[] = [];
  /** the binds of each app this engine serves (same index) */
  private readonly appBinds: BindAddress[][] = [];
  private readonly listenSockets: uWS.us_listen_socket[] = [];

  constructor(
    private readonly rt: WorkerRuntime,
    frontends: { fe: FrontendRuntime; binds: BindAddress[] }[],
    ws: WebSocketProxy,
    private readonly exchange: () => Exchange,
  ) {
    for (const { fe, binds } of frontends) {
      // only the binds uWS serves: the frontend's node:tls binds have certificates and ciphers of their own
      const app = createFrontendApp({ ...fe.cfg, binds }, (res, req) => this.onRequest(fe, res, req), ws.behavior(fe));
      this.apps.push(app);
      this.appFrontends.push(fe);
      this.appBinds.push(binds);
    }
  }

  async listen(): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < this.apps.length; i++) {
      const app = this.apps[i];
      const fe = this.appFrontends[i];
      for (const b of this.appBinds[i]) {
        jobs.push(
          new Promise<void>((resolve, reject) => {
            app.listen(b.host, b.port, (sock) => {
              if (sock) {
                this.listenSockets.push(sock);
                resolve();
              } else {
                reject(new Error(`frontend ${fe.cfg.name}: cannot bind ${b.text} (address in use or not available)`));
              }
            });
          }),
        );
      }
    }
    await Promise.all(jobs);
  }

  closeListeners(): void {
    for (const s of this.listenSockets) requireUws().us_listen_socket_close(s);
    this.listenSockets.length = 0;
  }

  close(): void {
    // app.close() also closes keep-alive client connections; a worker that ends with open uWS
    // sockets would abort the whole process.
    for (const app of this.apps) (app as unknown as { close(): void }).close();
  }

  private onRequest(fe: FrontendRuntime, res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    if (TEST_HOOKS && req.getUrl() === '/.gatehouse/crash-worker') throw new Error('crash requested by a test hook');
    this.exchange().start(this.rt, fe, res, req);
  }
}
