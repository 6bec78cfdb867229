// Access logs end to end: WorkerTelemetry builds lines, PrimaryTelemetry routes the batches,
// LogSink writes them to a real file / a real UDP socket. Lines are parsed back field by field.
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { backend, config, frontend, record, server } from './stats-fixture';
import type { LogTarget } from '../src/config/model';
import { logDate } from '../src/log/format';
import { LogSink } from '../src/log/sink';
import { SharedState } from '../src/shared/state';
import { PrimaryTelemetry } from '../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../src/stats/telemetry-worker';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-log-'));
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
  return { cfg, state, primary, wt, close: async () => { await primary.stop(); await sink.close(); } };
}

describe('access logs', () => {
  test('httplog lines parse back field by field', async () => {
    const file = path.join(tmp(), 'access.log');
    const { wt, state, close } = await setup({}, [fileTarget(file)]);
    state.servers[1 * 16 + 3] = 4; // S_ACTIVE of web2, shown as %sc
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

  test('a burst of 20,000 lines from a real worker thread: none lost', async () => {
    const file = path.join(tmp(), 'burst.log');
    const logs = [fileTarget(file)];
    const cfg = config([frontend('web_in', 1, { logs })], [backend('app', [server('web1', 9001)])], logs);
    const state = SharedState.create(cfg);
    const sink = new LogSink(cfg.global.logs);
    const primary = new PrimaryTelemetry(cfg, state, sink);
    const N = 20000;
    const fixture = path.join(__dirname, 'stats-fixture.js');
    const telemetry = path.join(__dirname, '..', 'src', 'stats', 'telemetry-worker.js');
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { WorkerTelemetry } = require(workerData.telemetry);
       const { record } = require(workerData.fixture);
       const wt = new WorkerTelemetry(workerData.cfg, 1, (m) => parentPort.postMessage(m));
       const r = record({ server: 0 });
       for (let i = 0; i < workerData.n; i++) { r.uri = '/seq/' + i; r.ta = i % 300; wt.onRequestDone(r); }
       wt.flush();
       parentPort.postMessage('done');`,
      { eval: true, workerData: { cfg, n: N, fixture, telemetry } },
    );
    let batches = 0;
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => {
        if (m === 'done') return resolve();
        if (primary.onWorkerMessage(1, m)) batches++;
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
    assert.ok(batches >= N / 256, `lines were batched (${batches} messages)`);
    assert.equal(sink.linesWritten, N);
  });
});
