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
import { after, before, test } from 'node:test';
import { SUITES, judge, loadCases, replay } from './helpers/conformance';
import { type EchoServer, startEchoServer } from './helpers/front-node-echo';
import { freePort, startGatehouse, type Proc } from './helpers/net';
import { waitFor } from './helpers/wait';

const HTTP_REQUEST_MS = 400;
const CLIENT_MS = 700;
const OBSERVE_MS = 1800;

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
    const cases = loadCases(suite);
    assert.ok(cases.length > 20);
    const dispatchedBefore = echo.dispatched;
    const linesBefore = [...reachedByPort().values()].reduce((a, b) => a + b, 0);
    const seen = await Promise.all(cases.map((c) => replay(port, Buffer.from(c.request_b64, 'base64'), OBSERVE_MS)));
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
    cases.forEach((c, i) => {
      const s = seen[i];
      const hap = c.haproxy_2_6;
      const toServer = reached.get(s.clientPort) ?? 0;
      const why = judge(c, s, toServer, { httpRequest: HTTP_REQUEST_MS, client: CLIENT_MS });
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
