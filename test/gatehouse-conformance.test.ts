// The two suites in ../shared/conformance replayed through a real gatehouse process on the node
// engine, in front of a real upstream (the node-engine echo server of front-node-echo.ts: 200 for
// every complete request), so the proxy core's own checks (request-validate.ts, plan.ts) count
// too. Per case, the rules of front-node-conformance.test.ts: HAProxy 2.6's outcome class, or an
// error status where HAProxy forwarded something llhttp's strict mode (or the h1spec suite)
// rejects; an incomplete request gets nothing until `timeout http-request` (or `timeout client`
// for a body) and then 408; and never more requests reach the server than the client gets
// answers. Requests are attributed to their case by the client port in gatehouse's access log
// (%cp, `option httplog`): a line naming a server counts as a request that reached it.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO, freePort, startGatehouse, type Proc } from './helpers/net';
import { type EchoServer, startEchoServer } from './helpers/front-node-echo';
import { waitFor } from './helpers/wait';

interface Case {
  id: string;
  name: string;
  request_b64: string;
  suite_expects?: { status_ranges: number[][]; timeout_ok: boolean };
  llhttp_strict?: { completes: number; error: string | null };
  haproxy_2_6: { outcome: string; statuses: number[]; end: string; requests_reaching_server: number };
}

const DIR = [path.resolve(REPO, '..', 'shared', 'conformance'), path.resolve(REPO, '..', '..', 'shared', 'conformance')].find((d) =>
  fs.existsSync(path.join(d, 'h1spec.json')),
) ?? path.resolve(REPO, '..', 'shared', 'conformance');
const SUITES = ['h1spec.json', 'llhttp-requests.json'];
const HTTP_REQUEST_MS = 400;
const CLIENT_MS = 700;
const OBSERVE_MS = 1800;

interface Seen {
  statuses: number[];
  times: number[];
  firstByteMs: number;
  clientPort: number;
}

function replay(port: number, data: Buffer): Promise<Seen> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const arrivals: Array<[number, number]> = [];
    let first = -1;
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
    setTimeout(() => {
      s.destroy();
      const found = [...out.matchAll(/HTTP\/1\.1 (\d{3}) /g)];
      const times = found.map((m) => {
        let t = -1;
        for (const [off, ms] of arrivals) if (off <= (m.index ?? 0)) t = ms;
        return t;
      });
      resolve({ statuses: found.map((m) => Number(m[1])), times, firstByteMs: first, clientPort });
    }, OBSERVE_MS);
  });
}

let echo: EchoServer;
let gh: Proc;
let port: number;

before(async () => {
  // the upstream is lenient where gatehouse must not be: it only counts and answers
  echo = await startEchoServer({ timeoutHttpRequest: 5000, timeoutHttpKeepAlive: 10000, timeoutClient: 5000 });
  port = await freePort();
  gh = await startGatehouse(
    `global
  nbthread 2
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 1s
  timeout client ${CLIENT_MS}ms
  timeout server 3s
  timeout http-request ${HTTP_REQUEST_MS}ms
  timeout http-keep-alive 5s
frontend fe
  bind 127.0.0.1:${port} engine node
  default_backend be
backend be
  server echo 127.0.0.1:${echo.port}
`,
    [port],
    { ext: '.cfg' },
  );
});
after(async () => {
  await gh?.stop();
  await echo?.close();
});

/** Access-log lines so far that name a server, by client port (%cp). */
function reachedByPort(): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of gh.output().matchAll(/^127\.0\.0\.1:(\d+) \[[^\]]+\] fe be\/(\S+) /gm)) {
    if (m[2] === '<NOSRV>') continue;
    const p = Number(m[1]);
    out.set(p, (out.get(p) ?? 0) + 1);
  }
  return out;
}

for (const suite of SUITES) {
  test(`conformance replay through gatehouse (node engine): ${suite}`, async () => {
    const cases = JSON.parse(fs.readFileSync(path.join(DIR, suite), 'utf8')) as Case[];
    assert.ok(cases.length > 20);
    const dispatchedBefore = echo.dispatched;
    const linesBefore = [...reachedByPort().values()].reduce((a, b) => a + b, 0);
    const seen = await Promise.all(cases.map((c) => replay(port, Buffer.from(c.request_b64, 'base64'))));
    // every request the server got is logged once its exchange ended (the client is gone by now)
    const dispatched = () => echo.dispatched - dispatchedBefore;
    await waitFor(
      () => `a log line for each of the ${dispatched()} requests the server got:\n${gh.output().slice(-3000)}`,
      () => [...reachedByPort().values()].reduce((a, b) => a + b, 0) - linesBefore >= dispatched(),
      5000,
      50,
    );
    const reached = reachedByPort();
    const failures: string[] = [];
    const table: string[] = [];
    const soonest = Math.min(HTTP_REQUEST_MS, CLIENT_MS) - 60;
    cases.forEach((c, i) => {
      const s = seen[i];
      const hap = c.haproxy_2_6;
      const toServer = reached.get(s.clientPort) ?? 0;
      const finals = s.statuses.filter((x) => x >= 200);
      const why: string[] = [];
      if (toServer > finals.length) why.push(`${toServer} reached the server, ${finals.length} answers`);
      if (hap.outcome === 'hang') {
        if (s.firstByteMs >= 0 && s.firstByteMs < soonest) why.push(`answered after ${s.firstByteMs} ms, before the timeout`);
        if (s.statuses.some((x) => x !== 408 && x !== 100)) why.push(`statuses ${s.statuses.join(',')} (408 expected)`);
      } else if (hap.outcome === 'answered') {
        if (finals.length === 0) why.push('no answer');
        const hapErrors = hap.statuses.some((x) => x >= 400);
        // a late 408 answers bytes left incomplete after the requests HAProxy answered
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
      table.push(`${c.id.padEnd(28)} haproxy ${hap.outcome} [${hap.statuses}] | gatehouse [${s.statuses}] first ${s.firstByteMs} ms, reached ${toServer}${why.length ? '  FAIL: ' + why.join('; ') : ''}`);
      if (why.length) failures.push(`${c.id} (${c.name}): ${why.join('; ')}`);
    });
    if (process.env.CONFORMANCE_TABLE) console.log(table.join('\n'));
    // every request the server got is attributed to a case. A line names a server also when the
    // head waited for a body that never came (the server saw nothing): an upper bound.
    const attributed = cases.reduce((n, _c, i) => n + (reached.get(seen[i].clientPort) ?? 0), 0);
    assert.ok(attributed >= dispatched(), `${dispatched()} requests at the server, ${attributed} log lines of these cases name it`);
    assert.deepEqual(failures, []);
  });
}
