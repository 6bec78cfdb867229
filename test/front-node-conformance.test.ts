// The two suites in ../shared/conformance replayed against the node:net front engine, with an
// echo handler like the server behind HAProxy in that data (200 for every complete request).
// Per case: the same outcome class as HAProxy 2.6, or an error status where HAProxy forwarded
// something llhttp's strict mode (or the h1spec suite) rejects; an incomplete request gets
// nothing until `timeout http-request` (or `timeout client` for a body) and then 408; and the
// handler never sees more requests than the client gets answers.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO } from './helpers/net';
import { type EchoServer, startEchoServer } from './helpers/front-node-echo';

interface Case {
  id: string;
  name: string;
  request_b64: string;
  suite_expects?: { status_ranges: number[][]; timeout_ok: boolean };
  llhttp_strict?: { completes: number; error: string | null };
  haproxy_2_6: { outcome: string; statuses: number[]; end: string; requests_reaching_server: number };
}

// ../shared sits beside the checkout (a worktree under wt/ has it one level further up)
const DIR = [path.resolve(REPO, '..', 'shared', 'conformance'), path.resolve(REPO, '..', '..', 'shared', 'conformance')].find((d) =>
  fs.existsSync(path.join(d, 'h1spec.json')),
) ?? path.resolve(REPO, '..', 'shared', 'conformance');
const SUITES = ['h1spec.json', 'llhttp-requests.json'];
const HTTP_REQUEST_MS = 400;
const CLIENT_MS = 700;
const OBSERVE_MS = 1600;

interface Seen {
  statuses: number[];
  /** ms after connect at which each status line's read arrived */
  times: number[];
  firstByteMs: number;
  closed: boolean;
  clientPort: number;
}

function replay(port: number, data: Buffer): Promise<Seen> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const arrivals: Array<[number, number]> = []; // [offset in out, ms]
    let first = -1;
    let closed = false;
    let clientPort = 0;
    s.on('connect', () => {
      clientPort = s.localPort ?? 0;
      s.write(data);
    });
    s.on('data', (d) => {
      if (first < 0) first = Date.now() - t0;
      arrivals.push([out.length, Date.now() - t0]);
      out += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
    });
    setTimeout(() => {
      s.destroy();
      const found = [...out.matchAll(/HTTP\/1\.1 (\d{3}) /g)];
      const statuses = found.map((m) => Number(m[1]));
      const times = found.map((m) => {
        let t = -1;
        for (const [off, ms] of arrivals) if (off <= (m.index ?? 0)) t = ms;
        return t;
      });
      resolve({ statuses, times, firstByteMs: first, closed, clientPort });
    }, OBSERVE_MS);
  });
}

let echo: EchoServer;
before(async () => {
  echo = await startEchoServer({ timeoutHttpRequest: HTTP_REQUEST_MS, timeoutHttpKeepAlive: 5000, timeoutClient: CLIENT_MS });
});
after(async () => {
  await echo.close();
});

for (const suite of SUITES) {
  test(`conformance replay: ${suite}`, async () => {
    const cases = JSON.parse(fs.readFileSync(path.join(DIR, suite), 'utf8')) as Case[];
    assert.ok(cases.length > 20);
    const seen = await Promise.all(cases.map((c) => replay(echo.port, Buffer.from(c.request_b64, 'base64'))));
    const failures: string[] = [];
    const table: string[] = [];
    cases.forEach((c, i) => {
      const s = seen[i];
      const hap = c.haproxy_2_6;
      const per = echo.byClientPort.get(s.clientPort) ?? { dispatched: 0, answered: 0 };
      const finals = s.statuses.filter((x) => x >= 200);
      const why: string[] = [];
      if (per.dispatched > finals.length) why.push(`${per.dispatched} dispatched, ${finals.length} answers`);
      if (hap.outcome === 'hang') {
        // nothing before the timeout; then 408 (or nothing)
        const soonest = Math.min(HTTP_REQUEST_MS, CLIENT_MS) - 60;
        if (s.firstByteMs >= 0 && s.firstByteMs < soonest) why.push(`answered after ${s.firstByteMs} ms, before the timeout`);
        if (s.statuses.some((x) => x !== 408 && x !== 100)) why.push(`statuses ${s.statuses.join(',')} (408 expected)`);
        if (per.answered > 0) why.push('the handler answered an incomplete request');
      } else if (hap.outcome === 'answered') {
        if (finals.length === 0) why.push('no answer');
        const hapErrors = hap.statuses.some((x) => x >= 400);
        // a 408 after the timeout is the answer to bytes left incomplete after the requests
        // HAProxy answered (HAProxy's 10 s timeout was beyond its observation window)
        const soonest = Math.min(HTTP_REQUEST_MS, CLIENT_MS) - 60;
        const ourErrors = finals.filter((x, k) => x >= 400 && !(x === 408 && s.times[s.statuses.indexOf(x, k)] >= soonest && k === finals.length - 1));
        if (ourErrors.length > 0 && !hapErrors) {
          const strictRejects = c.llhttp_strict !== undefined && c.llhttp_strict.error !== null;
          const suiteAllows =
            c.suite_expects !== undefined && ourErrors.every((x) => c.suite_expects!.status_ranges.some(([lo, hi]) => x >= lo && x <= hi));
          if (!strictRejects && !suiteAllows) why.push(`error ${ourErrors.join(',')} where HAProxy forwarded and the request is valid`);
        }
        if (!hapErrors && ourErrors.length === 0 && finals.length < hap.statuses.filter((x) => x >= 200).length) {
          why.push(`fewer answers than HAProxy (${finals.length} vs ${hap.statuses.length})`);
        }
      } else {
        why.push(`unexpected HAProxy outcome ${hap.outcome}`);
      }
      table.push(`${c.id.padEnd(28)} haproxy ${hap.outcome} [${hap.statuses}] | node-engine [${s.statuses}] first ${s.firstByteMs} ms, reached ${per.dispatched}${why.length ? '  FAIL: ' + why.join('; ') : ''}`);
      if (why.length) failures.push(`${c.id} (${c.name}): ${why.join('; ')}`);
    });
    if (process.env.CONFORMANCE_TABLE) console.log(table.join('\n'));
    assert.deepEqual(failures, []);
  });
}
