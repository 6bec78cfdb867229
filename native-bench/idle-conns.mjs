// native-bench scenario (g): open COUNT keep-alive connections to 127.0.0.1:PORT, send one
// `GET /` on each, read the whole response, then leave them idle. In two halves, so the
// orchestrator can also measure the slope between them: prints `HALF {...}` after the first
// half and waits for a line on stdin, then opens the rest and prints
// `READY {"opened":N,"failed":M,"ms":T}`; holds the connections until the next line (or the end
// of stdin), then prints `ALIVE {"alive":K}` (connections the proxy had not closed) and exits.
import net from 'node:net';

const [port, count = '10000', parallel = '200'] = process.argv.slice(2).map(String);
const total = Number(count);
const sockets = [];
let failed = 0;
const t0 = Date.now();

function openOne() {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: Number(port) });
    let buf = '';
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok) sockets.push(s); else { failed++; s.destroy(); }
      resolve();
    };
    const timer = setTimeout(() => finish(false), 20000);
    s.setNoDelay(true);
    s.on('connect', () => s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n'));
    s.on('data', (d) => {
      if (done) return;
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end));
      const want = m ? Number(m[1]) : 0;
      if (buf.length - end - 4 >= want) finish(/^HTTP\/1\.1 200/.test(buf));
    });
    s.on('error', () => finish(false));
    s.on('close', () => { s.closed_ = true; finish(false); });
  });
}

let next = 0;
async function openUpTo(n) {
  const lane = async () => { while (next < n) { next++; await openOne(); } };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(Number(parallel), n - next)) }, lane));
}
const lines = [];
let wake = null;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { for (const l of d.split('\n')) if (l) lines.push(l); if (wake) wake(); });
process.stdin.on('end', () => { lines.push('end'); if (wake) wake(); });
const nextLine = async () => { while (!lines.length) await new Promise((r) => { wake = r; }); return lines.shift(); };

await openUpTo(Math.floor(total / 2));
process.stdout.write(`HALF ${JSON.stringify({ opened: sockets.length, failed, ms: Date.now() - t0 })}\n`);
if ((await nextLine()) === 'end') finish();
await openUpTo(total);
process.stdout.write(`READY ${JSON.stringify({ opened: sockets.length, failed, ms: Date.now() - t0 })}\n`);
await nextLine();
finish();

function finish() {
  const alive = sockets.filter((s) => !s.closed_ && !s.destroyed).length;
  process.stdout.write(`ALIVE ${JSON.stringify({ alive })}\n`);
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGTERM', finish);
