// A small server on the node:net front engine that acts like the echo server behind HAProxy in
// ../shared/conformance: every request whose body arrived completely gets 200 with a short
// body naming its method, target and body size. Counts what reached it.
import type * as net from 'node:net';
import type { FrontOptions, H1Refusal, H1Request, H1Response } from '../../src/front-node/api';
import { createFrontServer } from '../../src/front-node/server';

export interface EchoServer {
  server: net.Server;
  port: number;
  /** onRequest() calls (requests the engine dispatched) */
  dispatched: number;
  /** requests answered 200 (their body was complete) */
  answered: number;
  /** requests whose client went away or failed before the answer */
  aborted: number;
  /** per client port: dispatched and answered counts */
  byClientPort: Map<number, { dispatched: number; answered: number }>;
  /** answers the engine gave by itself (onRefused) */
  refused: H1Refusal[];
  last: H1Request | null;
  lastBody: Buffer;
  close(): Promise<void>;
}

export async function startEchoServer(
  options: Partial<FrontOptions> = {},
  answer?: (req: H1Request, res: H1Response, body: Buffer, echo: EchoServer) => void,
): Promise<EchoServer> {
  const echo = { dispatched: 0, answered: 0, aborted: 0, byClientPort: new Map(), refused: [], last: null, lastBody: Buffer.alloc(0) } as unknown as EchoServer;
  const server = createFrontServer(
    {
      onRefused(info) {
        echo.refused.push(info);
      },
      onRequest(req, res) {
        echo.dispatched++;
        echo.last = req;
        let per = echo.byClientPort.get(req.remotePort);
        if (per === undefined) echo.byClientPort.set(req.remotePort, (per = { dispatched: 0, answered: 0 }));
        per.dispatched++;
        const counts = per;
        res.onAborted(() => echo.aborted++);
        const parts: Buffer[] = [];
        req.onBody((chunk, last) => {
          if (chunk.length > 0) parts.push(Buffer.from(chunk));
          if (!last) return;
          const body = Buffer.concat(parts);
          echo.lastBody = body;
          if (answer) return answer(req, res, body, echo);
          echo.answered++;
          counts.answered++;
          const text = Buffer.from(`${req.method} ${req.target} ${body.length}\n`);
          res.writeHead(200, 'OK', ['content-type', 'text/plain'], text.length, false);
          res.write(text);
          res.end();
        });
      },
    },
    options,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  echo.server = server;
  echo.port = (server.address() as net.AddressInfo).port;
  const open = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  echo.close = () =>
    new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });
  return echo;
}
