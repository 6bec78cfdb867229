// Issue 19 side by side with HAProxy 2.6 on the same haproxy.cfg: a GET whose server closes
// without answering is sent once (502), an 8-16 KB URL is forwarded, an `Upgrade: websocket`
// without its key is a 400, and a bad chunk size in the head's read is a 502.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { freePort, RawTcpServer, rawExchange, startGatehouse } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';

class Scripted extends RawTcpServer {
  hits = new Map<string, number>();
  protected onConn(sock: net.Socket): void {
    sock.on('error', () => {});
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const path = buf.slice(0, end).split(' ')[1];
        buf = buf.slice(end + 4);
        this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
        if (path === '/die') return void sock.end();
        if (path === '/badchunk') return void sock.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n');
        sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok`);
      }
    });
  }
}

const cfg = (port: number, srv: number) => `global
  nbthread 1
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
  retries 3
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server s1 127.0.0.1:${srv}
`;

async function observe(start: (port: number, srv: number) => Promise<{ stop(): Promise<unknown> }>) {
  const srv = new Scripted();
  await srv.start();
  const port = await freePort();
  const p = await start(port, srv.port);
  try {
    const status = (r: string) => Number(r.slice(9, 12));
    const die = status(await rawExchange(port, 'GET /die HTTP/1.1\r\nHost: x\r\n\r\n'));
    const long = '/' + 'u'.repeat(12000);
    const url = status(await rawExchange(port, `GET ${long} HTTP/1.1\r\nHost: x\r\n\r\n`));
    const ws = status(await rawExchange(port, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
    const chunk = status(await rawExchange(port, 'GET /badchunk HTTP/1.1\r\nHost: x\r\n\r\n'));
    return { die, dieHits: srv.hits.get('/die'), url, urlHits: srv.hits.get(long), ws, wsHits: srv.hits.get('/ws') ?? 0, chunk };
  } finally {
    await p.stop();
    await srv.close();
  }
}

const bin = haproxyBinary();

test('issue 19 items behave as HAProxy 2.6 on the same haproxy.cfg', { skip: bin === null ? 'haproxy not installed' : false }, async () => {
  const h = await observe((port, srv) => startHaproxy(bin!, cfg(port, srv), [port]));
  const g = await observe((port, srv) => startGatehouse(cfg(port, srv), [port], { ext: '.cfg' }));
  assert.deepEqual(h, { die: 502, dieHits: 1, url: 200, urlHits: 1, ws: 400, wsHits: 0, chunk: 502 });
  assert.deepEqual(g, h);
});
