// Access logs end to end: WorkerTelemetry builds lines, PrimaryTelemetry routes the batches,
// LogSink writes them to a real file / a real UDP socket. Lines are parsed back field by field.
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { tmpDir } from './helpers/net';
import { backend, config, frontend, record, server } from './stats-fixture';
import type { LogTarget } from '../src/config/model';
import { formatDefault, formatHttplog, logDate, type LogGauges, type Names, type RequestRecord } from '../src/log/format';
import { SERVER_STRIDE, S_ACTIVE } from '../src/shared/state';
import { maxLineBytes, nameBytes, writeDefault, writeHttplog, writeNumber } from '../src/log/line-bytes';
import { LogSink } from '../src/log/sink';
import { frame3164 } from '../src/log/syslog';
import { SharedState } from '../src/shared/state';
import { PrimaryTelemetry } from '../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../src/stats/telemetry-worker';

const tmp = () => tmpDir('gatehouse-log-');
const fileTarget = (p: string): LogTarget => ({ target: `file:${p}`, facility: 'local0', level: 'info', format: 'raw' });

// %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r
const HTTPLOG =
  /^([\d.]+):(\d+) \[(\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2}\.\d{3})\] (\S+) (\S+)\/(\S+) (-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+)\/(-?\d+) (\d+) (\d+) (\S+) (\S+) (\S{4}) (\d+)\/(\d+)\/(\d+)\/(\d+)\/(\d+) (\d+)\/(\d+) "([^"]*)"$/;

async function setup(feOpts: Parameters<typeof frontend>[2], logs: LogTarget[]) {
  const cfg = config(
    [frontend('web_in', 1, { logs, ...feOpts })],
    [backend('app', [server('web1', 9001), server('web2', 9002)])],
  );
  const state = SharedState.create(cfg);
  const sink = new LogSink(cfg.global.logs);
  const primary = new PrimaryTelemetry(cfg, state, sink);
  const wt = new WorkerTelemetry(cfg, 0, (msg) => assert.ok(primary.onWorkerMessage(0, msg)), state);
  return { cfg, state, primary, sink, wt, close: async () => { wt.close(); await primary.stop(); await sink.close(); } };
}

/** stderr writes during fn (restored afterwards) */
async function captureStderr(fn: () => unknown): Promise<string> {
  const origErr = process.stderr.write.bind(process.stderr);
  const out: string[] = [];
  process.stderr.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = origErr;
  }
  return out.join('');
}

/** A worker thread running WorkerTelemetry: `body` sees wt, r (a record), workerData, parentPort. */
function telemetryThread(cfg: unknown, body: string, data: Record<string, unknown> = {}): Worker {
  return new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { WorkerTelemetry } = require(workerData.telemetry);
     const { record } = require(workerData.fixture);
     const wt = new WorkerTelemetry(workerData.cfg, workerData.id ?? 1, (m) => parentPort.postMessage(m));
     const r = record({ server: 0 });
     (async () => { ${body} })().catch((e) => { throw e; });`,
    {
      eval: true,
      workerData: {
        cfg,
        fixture: path.join(__dirname, 'stats-fixture.js'),
        telemetry: path.join(__dirname, '..', 'src', 'stats', 'telemetry-worker.js'),
        ...data,
      },
    },
  );
}

function untilExit(w: Worker, onMessage: (m: unknown) => void = () => undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    w.on('message', onMessage);
    w.on('error', reject);
    w.on('exit', resolve);
  });
}

describe('access logs', () => {
  test('httplog lines parse back field by field', async () => {
    const file = path.join(tmp(), 'access.log');
    const { wt, state, close } = await setup({}, [fileTarget(file)]);
    state.servers[1 * SERVER_STRIDE + S_ACTIVE] = 4; // web2's requests in flight, shown as %sc
    const t = Date.UTC(2024, 1, 6, 12, 14, 14, 655);
    wt.onRequestDone(record({ clientIp: '10.0.1.2', clientPort: 33317, acceptMs: t, backend: 0, server: 1, tq: 10, tw: 0, tc: 30, tr: 69, ta: 109, status: 200, bytesOut: 2750, retries: 1, method: 'GET', uri: '/index.html?a=1&b="x"', httpVersion: 'HTTP/1.1', termination: '--' }));
    wt.onRequestDone(record({ clientIp: '10.0.1.3', clientPort: 1, acceptMs: t, backend: 0, server: -1, tq: 2, tw: -1, tc: -1, tr: -1, ta: 5002, status: 503, bytesOut: 217, termination: 'sC', method: 'POST', uri: '/x', httpVersion: '1.0' }));
    wt.flush();
    await close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 2);
    const m = HTTPLOG.exec(lines[0]);
    assert.ok(m, lines[0]);
    const [, ip, port, date, fe, be, srv, TR, Tw, Tc, Tr, Ta, status, bytes, cc, cs, tsc, ac, fc, bc, sc, rc, sq, bq, req] = m;
    assert.deepEqual(
      { ip, port, date, fe, be, srv, TR, Tw, Tc, Tr, Ta, status, bytes, cc, cs, tsc, sc, rc, sq, bq, req },
      { ip: '10.0.1.2', port: '33317', date: logDate(t), fe: 'web_in', be: 'app', srv: 'web2', TR: '10', Tw: '0', Tc: '30', Tr: '69', Ta: '109',
        status: '200', bytes: '2750', cc: '-', cs: '-', tsc: '----', sc: '4', rc: '1', sq: '0', bq: '0', req: 'GET /index.html?a=1&b=#22x#22 HTTP/1.1' },
    );
    assert.ok([ac, fc, bc].every((x) => /^\d+$/.test(x)));
    // the date is local time, like HAProxy's
    const d = new Date(t);
    assert.equal(date.slice(0, 2), String(d.getDate()).padStart(2, '0'));
    assert.equal(date.slice(-3), '655');
    const n = HTTPLOG.exec(lines[1]);
    assert.ok(n, lines[1]);
    assert.equal(n[6], '<NOSRV>');
    assert.deepEqual(n.slice(7, 12), ['2', '-1', '-1', '-1', '5002']);
    assert.equal(n[12], '503');
    assert.equal(n[16], 'sC--');
    assert.equal(n[24], 'POST /x HTTP/1.0');
  });

  test('json format, dontlognull, and frontends without logs', async () => {
    const file = path.join(tmp(), 'json.log');
    const { wt, close } = await setup({ logFormat: 'json', dontlognull: true }, [fileTarget(file)]);
    wt.onRequestDone(record({ clientIp: '::1', clientPort: 5555, server: 0, status: 302, ta: 7, uri: '/a\\b"c', method: 'GET' }));
    // a connection that closed without sending a request: not logged with dontlognull
    wt.onRequestDone(record({ method: '', uri: '', bytesIn: 0, status: 400, termination: 'CR', server: -1, backend: -1 }));
    wt.flush();
    await close();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]);
    assert.equal(j.client_ip, '::1');
    assert.equal(j.client_port, 5555);
    assert.equal(j.frontend_name, 'web_in');
    assert.equal(j.backend_name, 'app');
    assert.equal(j.server_name, 'web1');
    assert.equal(j.status_code, 302);
    assert.equal(j.time_active, 7);
    assert.equal(j.http_uri, '/a\\b"c');
    assert.equal(j.termination_state, '----');

    const file2 = path.join(tmp(), 'null.log');
    const s2 = await setup({ dontlognull: false }, [fileTarget(file2)]);
    s2.wt.onRequestDone(record({ method: '', uri: '', bytesIn: 0, status: 400, termination: 'CR', server: -1, backend: -1 }));
    s2.wt.flush();
    await s2.close();
    assert.match(fs.readFileSync(file2, 'utf8'), /^\S+ \[\S+\] web_in web_in\/<NOSRV> .* "<BADREQ>"\n$/);

    // no log target: nothing is posted at all
    const posted: unknown[] = [];
    const cfg = config([frontend('quiet', 1)], [backend('app', [server('web1', 9001)])]);
    const wt3 = new WorkerTelemetry(cfg, 0, (m) => posted.push(m));
    wt3.onRequestDone(record());
    wt3.flush();
    assert.ok(posted.every((m) => (m as { kind: string }).kind !== 'log'));
  });

  test('udp syslog: RFC 3164 and 5424 framing, facility and level', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString()));
    const sink = new LogSink([
      { target: `udp://127.0.0.1:${port}`, facility: 'local3', level: 'info', format: 'rfc3164' },
      { target: `127.0.0.1:${port}`, facility: 'daemon', level: 'notice', format: 'rfc5424' },
    ]);
    const origErr = process.stderr.write.bind(process.stderr);
    const stderr: string[] = [];
    process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
    try {
      sink.write('access line one');
      sink.writeLines('batch a\nbatch b\n', 2);
      sink.event('warning', 'server app/web1 is DOWN');
    } finally {
      process.stderr.write = origErr;
    }
    const deadline = Date.now() + 5000;
    while (got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sink.close();
    sock.close();
    assert.equal(got.length, 5, got.join('\n'));
    const r3164 = /^<(\d+)>(\w{3}) ([ \d]\d) (\d{2}:\d{2}:\d{2}) (\S+) gatehouse\[(\d+)\]: (.*)$/;
    const r5424 = /^<(\d+)>1 (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) (\S+) gatehouse (\d+) - - (.*)$/;
    const old = got.filter((g) => r3164.test(g)).map((g) => r3164.exec(g)!);
    const neu = got.filter((g) => r5424.test(g)).map((g) => r5424.exec(g)!);
    // local3 = 19: info -> 158, warning -> 156; the notice-level 5424 target only takes the warning.
    assert.deepEqual(old.map((m) => [m[1], m[7]]).sort(), [['156', 'server app/web1 is DOWN'], ['158', 'access line one'], ['158', 'batch a'], ['158', 'batch b']]);
    assert.equal(old[0][6], String(process.pid));
    assert.deepEqual(neu.map((m) => [m[1], m[5]]), [[String(3 * 8 + 4), 'server app/web1 is DOWN']]);
    assert.match(stderr.join(''), /^\[WARNING\] +\(\d+\) : server app\/web1 is DOWN\n$/);
  });

  test('a missing unix socket is a warning, not a failure', async () => {
    const origErr = process.stderr.write.bind(process.stderr);
    const stderr: string[] = [];
    process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
    let sink: LogSink;
    try {
      sink = new LogSink([{ target: 'unix:/nonexistent/dev/log', facility: 'local0', level: 'info', format: 'rfc3164' }]);
      sink.write('goes nowhere');
    } finally {
      process.stderr.write = origErr;
    }
    await sink.close();
    assert.match(stderr.join(''), /\[WARNING\].*unix:\/nonexistent\/dev\/log: no such socket/);
  });

  test('a burst of 20,000 lines from a real worker thread: none lost, written by the worker in batches', async () => {
    const file = path.join(tmp(), 'burst.log');
    const logs = [fileTarget(file)];
    const cfg = config([frontend('web_in', 1, { logs })], [backend('app', [server('web1', 9001)])], logs);
    const state = SharedState.create(cfg);
    const sink = new LogSink(cfg.global.logs);
    const primary = new PrimaryTelemetry(cfg, state, sink);
    const N = 20000;
    // Lines arrive over many event-loop turns, so the asynchronous writes (one in flight,
    // the next batch coalescing meanwhile) are exercised, then flush() writes the rest.
    const worker = telemetryThread(
      cfg,
      `for (let i = 0; i < workerData.n; i++) {
         r.uri = '/seq/' + i; r.ta = i % 300; wt.onRequestDone(r);
         if (i % 500 === 0) await new Promise((res) => setImmediate(res));
       }
       wt.flush();
       // the write in flight (if any) completes on its own: then every line is counted
       await new Promise((res) => setTimeout(res, 200));
       parentPort.postMessage({ done: wt.fileStats() });`,
      { n: N },
    );
    let logBatches = 0;
    let stats: { lines: number; writes: number } | null = null;
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => {
        if (m.done) {
          stats = m.done;
          return resolve();
        }
        assert.ok(primary.onWorkerMessage(1, m));
        if (m.kind === 'log') logBatches++;
      });
      worker.on('error', reject);
    });
    await worker.terminate();
    await primary.stop();
    await sink.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, N);
    const seen = new Set(lines.map((l) => /"GET \/seq\/(\d+) HTTP\/1\.1"$/.exec(l)![1]));
    assert.equal(seen.size, N);
    // The file target is the worker's own: nothing crossed to the primary.
    assert.equal(logBatches, 0);
    assert.equal(sink.linesWritten, 0);
    assert.ok(stats);
    const { lines: written, writes } = stats as { lines: number; writes: number };
    assert.equal(written, N);
    assert.ok(writes >= 2 && writes <= N / 100, `lines were batched (${writes} writes)`);
  });

  test('targets the primary writes (udp) still get worker batches; a file beside them is not written twice', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString()));
    const file = path.join(tmp(), 'both.log');
    const { wt, sink, close } = await setup({}, [
      fileTarget(file),
      { target: `udp://127.0.0.1:${sock.address().port}`, facility: 'local0', level: 'info', format: 'raw' },
    ]);
    const N = 300; // more than one batch (256 lines), sent in two steps: one datagram per line
    // must not overflow the receiving socket's buffer
    const until = async (n: number) => {
      const deadline = Date.now() + 5000;
      while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    };
    for (let i = 0; i < 256; i++) wt.onRequestDone(record({ uri: '/u/' + i }));
    await until(256);
    for (let i = 256; i < N; i++) wt.onRequestDone(record({ uri: '/u/' + i }));
    wt.flush();
    await until(N);
    await close();
    sock.close();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, N);
    assert.equal(got.length, N);
    assert.deepEqual(new Set(got), new Set(lines));
    assert.equal(sink.linesWritten, 0); // the frontend has its own sink; the global one has no targets
  });

  test('syslog framing of file targets (rfc3164 default, rfc5424) is what the primary wrote', async () => {
    const dir = tmp();
    const f3164 = path.join(dir, '3164.log');
    const f5424 = path.join(dir, '5424.log');
    const { wt, close } = await setup({}, [
      { target: `file:${f3164}`, facility: 'local0', level: 'info', format: 'rfc3164' },
      { target: `file:${f5424}`, facility: 'local3', level: 'debug', format: 'rfc5424' },
      // a target whose level is below info takes no access lines
      { target: `file:${path.join(dir, 'notice.log')}`, facility: 'local0', level: 'notice', format: 'raw' },
    ]);
    const r = record({ clientIp: '10.0.0.9', uri: '/framed' });
    const before = Date.now();
    wt.onRequestDone(r);
    wt.flush();
    const after = Date.now();
    await close();
    const line3164 = fs.readFileSync(f3164, 'utf8');
    const bare = formatHttplog(r, { frontend: 'web_in', backend: 'app', server: 'web1' }, { actconn: 0, feconn: 0, beconn: 0, srvConn: 0, srvQueue: 0, backendQueue: 0 });
    // local0.info = 134; the stamp is taken when the batch starts (second precision)
    assert.ok([frame3164(134, bare, before) + '\n', frame3164(134, bare, after) + '\n'].includes(line3164), line3164);
    const line5424 = fs.readFileSync(f5424, 'utf8');
    const m = /^<158>1 (\S+) \S+ gatehouse (\d+) - - (.*)\n$/.exec(line5424);
    assert.ok(m, line5424);
    assert.equal(m[2], String(process.pid));
    assert.equal(m[3], bare);
    const t = Date.parse(m[1]);
    assert.ok(t >= before && t <= after, m[1]);
    assert.equal(fs.readFileSync(path.join(dir, 'notice.log'), 'utf8'), '');
  });

  test('byte-built lines equal the string formatters, character for character', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const pieces = ['a', '/', 'Z', '9', '"', '\x00', '\x1f', '\x7f', '\t', ' ', '#', '%', 'é', '\u00ff', '\u0100', '\u07ff', '\u0800', '€', '\uffff', '😀', '\ud83d', '\ude00', '\\'];
    const str = (max: number) => {
      let s = '';
      for (let i = rnd(max); i > 0; i--) s += pieces[rnd(pieces.length)];
      return s;
    };
    const nums = [0, 1, 9, 10, 99, 100, 12345, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 3, -1, -7];
    const timers = [-1, 0, 0.4, 0.5, 1.5, 2.5, 9.49, 10, 99.5, 12345.678, 2 ** 31 + 0.2];
    const pick = <T>(a: T[]) => a[rnd(a.length)];
    const buf = Buffer.alloc(1 << 16);
    for (let i = 0; i < 5000; i++) {
      const r: RequestRecord = record({
        clientIp: rnd(4) === 0 ? '::ffff:10.0.0.' + rnd(256) : '10.1.' + rnd(256) + '.' + rnd(256),
        clientPort: rnd(65536),
        acceptMs: 1_700_000_000_000 + rnd(100_000_000) * 7,
        tq: pick(timers), tw: pick(timers), tc: pick(timers), tr: pick(timers), ta: pick(timers),
        status: pick([200, 304, 400, 503, 0]),
        bytesOut: pick(nums) < 0 ? 0 : pick(nums),
        retries: rnd(4),
        termination: pick(['', '-', '--', 'sC', 'CD--', 'SHNN', 'cDxyz', 'é-']),
        method: rnd(10) === 0 ? '' : pick(['GET', 'POST', 'M"X', str(6)]),
        uri: str(40),
        httpVersion: pick(['HTTP/1.1', '1.0', 'HTTP/2', str(4)]),
      });
      const n: Names = { frontend: pick(['fe', 'web_in', 'fé']), backend: pick(['be', 'app']), server: pick(['web1', '<NOSRV>', 'srv€']) };
      const g: LogGauges = { actconn: pick(nums), feconn: pick(nums), beconn: rnd(50), srvConn: rnd(50), srvQueue: rnd(3), backendQueue: rnd(3) };
      const nb = { frontend: nameBytes(n.frontend), backend: nameBytes(n.backend), server: nameBytes(n.server) };
      const room = maxLineBytes(r) + nb.frontend.length + nb.backend.length + nb.server.length;
      const h = writeHttplog(buf, 0, r, nb, g);
      assert.ok(h <= room, `httplog ${h} bytes within ${room}`);
      assert.equal(buf.toString('utf8', 0, h), Buffer.from(formatHttplog(r, n, g)).toString('utf8'));
      assert.ok(buf.subarray(0, h).equals(Buffer.from(formatHttplog(r, n, g))), JSON.stringify(formatHttplog(r, n, g)));
      const d = writeDefault(buf, 0, r, nb, g);
      assert.ok(d <= room);
      assert.ok(buf.subarray(0, d).equals(Buffer.from(formatDefault(r, n, g))), JSON.stringify(formatDefault(r, n, g)));
    }
    for (const x of [0, -0, 5, 10, 99, 100, 999, 1000, 123456789, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, 1e21, 1.25, -3.5, NaN, Infinity]) {
      const e = writeNumber(buf, 0, x);
      assert.equal(buf.toString('latin1', 0, e), '' + x);
    }
  });

  test('two worker threads appending to one file concurrently: every line whole', async () => {
    const file = path.join(tmp(), 'shared.log');
    const logs = [{ ...fileTarget(file), format: 'rfc3164' as const }];
    const cfg = config([frontend('web_in', 1, { logs })], [backend('app', [server('web1', 9001)])]);
    const N = 15000;
    const body = `for (let i = 0; i < workerData.n; i++) {
        r.uri = '/w' + workerData.id + '/' + i + '/' + 'x'.repeat(i % 200); wt.onRequestDone(r);
        if (i % 300 === 0) await new Promise((res) => setImmediate(res));
      }
      wt.flush();`;
    const a = telemetryThread(cfg, body, { n: N, id: 1 });
    const b = telemetryThread(cfg, body, { n: N, id: 2 });
    await Promise.all([untilExit(a), untilExit(b)]);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 2 * N);
    const re = /^<134>\w{3} [ \d]\d \d{2}:\d{2}:\d{2} \S+ gatehouse\[\d+\]: [\d.]+:\d+ \[[^\]]+\] web_in app\/web1 .* "GET \/w([12])\/(\d+)\/(x*) HTTP\/1\.1"$/;
    const seen = [new Set<number>(), new Set<number>()];
    for (const l of lines) {
      const m = re.exec(l);
      assert.ok(m, l.slice(0, 300));
      assert.equal(m[3].length, Number(m[2]) % 200);
      seen[Number(m[1]) - 1].add(Number(m[2]));
    }
    assert.deepEqual(seen.map((s) => s.size), [N, N]);
  });

  test('a worker thread that exits without flush() still writes its lines (exit hook)', async () => {
    const file = path.join(tmp(), 'exit.log');
    const logs = [fileTarget(file)];
    const cfg = config([frontend('web_in', 1, { logs })], [backend('app', [server('web1', 9001)])]);
    const w = telemetryThread(cfg, `for (let i = 0; i < 1000; i++) { r.uri = '/e/' + i; wt.onRequestDone(r); } process.exit(3);`);
    assert.equal(await untilExit(w), 3);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1000);
  });

  test('a log file that cannot be opened: one warning, whichever side sees it', async () => {
    const file = path.join(tmp(), 'no', 'such', 'dir', 'x.log');
    let wt2: WorkerTelemetry | null = null;
    const stderr = await captureStderr(async () => {
      const { wt, primary, close } = await setup({}, [fileTarget(file)]);
      // a second worker reports it too
      wt2 = new WorkerTelemetry(config([frontend('web_in', 1, { logs: [fileTarget(file)] })], [backend('app', [server('web1', 9001), server('web2', 9002)])]), 1, (m) => primary.onWorkerMessage(1, m));
      wt.onRequestDone(record());
      wt2.onRequestDone(record());
      wt.flush();
      wt2.flush();
      await close();
    });
    const warnings = stderr.split('\n').filter((l) => l.includes('x.log'));
    assert.equal(warnings.length, 1, stderr);
    assert.match(warnings[0], /^\[WARNING\] +\(\d+\) : log file .*x\.log: ENOENT: no such file or directory.*; lines to it are dropped$/);
    assert.ok(wt2);
  });
});
