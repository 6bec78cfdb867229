// The floor: the least a uWS.js + node:net + llhttp proxy can do per request, to measure how
// much of gatehouse's gap to HAProxy is the approach itself (the throwaway prototypes of
// ../shared/DESIGN.md) and how much is gatehouse's own work. One thread; GET/HEAD only (no
// request bodies); round-robin over two servers on a per-server keep-alive pool; the response
// is buffered whole, then written in one cork. No validation, no timeouts, no stats, no
// retries, no hop-by-hop handling beyond what framing needs: not a proxy to run, a yardstick.
//
// Usage: node native-bench/floor-proxy.mjs PORT BACKEND_PORT...   (bench.mjs: BENCH_PROXIES=...,floor)
import { createRequire } from 'node:module';
import net from 'node:net';

const require = createRequire(import.meta.url);
const uWS = require('uWebSockets.js');
// Node's own llhttp binding, as gatehouse's response-parser.ts uses it
const { HTTPParser } = require('_http_common');

const [port, ...backendPorts] = process.argv.slice(2).map(Number);
if (!port || backendPorts.length === 0) {
  console.error('usage: floor-proxy.mjs PORT BACKEND_PORT...');
  process.exit(2);
}
const pools = backendPorts.map(() => []);
let cursor = 0;

class Exchange {
  constructor(res) {
    this.res = res;
    this.aborted = false;
    this.status = 0;
    this.reason = '';
    this.headers = null;
    this.body = [];
    res.onAborted(() => { this.aborted = true; });
  }

  finish() {
    if (this.aborted) return;
    const res = this.res;
    res.writeStatus(`${this.status} ${this.reason}`);
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i].toLowerCase();
      // uWS writes its own framing and Date
      if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection' && k !== 'date') res.writeHeader(h[i], h[i + 1]);
    }
    res.end(this.body.length === 1 ? this.body[0] : Buffer.concat(this.body));
  }
}

class Conn {
  constructor(i) {
    this.i = i;
    this.ex = null;
    this.parser = new HTTPParser();
    this.parser.initialize(HTTPParser.RESPONSE, {});
    this.parser[HTTPParser.kOnHeadersComplete] = (_maj, _min, headers, _m, _u, status, reason) => {
      this.ex.status = status;
      this.ex.reason = reason;
      this.ex.headers = headers;
    };
    this.parser[HTTPParser.kOnBody] = (b) => { this.ex.body.push(Buffer.from(b)); };
    this.parser[HTTPParser.kOnMessageComplete] = () => {
      const ex = this.ex;
      this.ex = null;
      pools[this.i].push(this);
      ex.finish();
    };
    this.sock = net.connect({ host: '127.0.0.1', port: backendPorts[i], noDelay: true });
    this.sock.on('data', (d) => {
      const ex = this.ex;
      if (ex === null || ex.aborted) this.parser.execute(d);
      else ex.res.cork(() => this.parser.execute(d));
    });
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      const p = pools[this.i];
      const at = p.indexOf(this);
      if (at >= 0) p.splice(at, 1);
      if (this.ex !== null && !this.ex.aborted) this.ex.res.cork(() => this.ex.res.writeStatus('502 Bad Gateway').end());
    });
  }
}

uWS.App()
  .any('/*', (res, req) => {
    let head = `${req.getMethod().toUpperCase()} ${req.getUrl()}`;
    const q = req.getQuery();
    if (q) head += '?' + q;
    head += ' HTTP/1.1\r\n';
    req.forEach((k, v) => { if (k !== 'connection') head += `${k}: ${v}\r\n`; });
    head += '\r\n';
    const i = cursor++ % backendPorts.length;
    const ex = new Exchange(res);
    const conn = pools[i].pop() ?? new Conn(i);
    conn.ex = ex;
    conn.sock.write(head);
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      console.error(`floor-proxy: cannot listen on ${port}`);
      process.exit(1);
    }
  });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
