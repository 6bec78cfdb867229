// The two suites in ../shared/conformance replayed against the node:net front engine, with an
// echo handler like the server behind HAProxy in that data (200 for every complete request).
// Per case: the same outcome class as HAProxy 2.6, or an error status where HAProxy forwarded
// something llhttp's strict mode (or the h1spec suite) rejects; an incomplete request gets
// nothing until `timeout http-request` (or `timeout client` for a body) and then 408; and the
// handler never sees more requests than the client gets answers.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { SUITES, judge, loadCases, replay } from './helpers/conformance';
import { type EchoServer, startEchoServer } from './helpers/front-node-echo';

const HTTP_REQUEST_MS = 400;
const CLIENT_MS = 700;
const OBSERVE_MS = 1600;

let echo: EchoServer;
before(async () => {
  echo = await startEchoServer({ timeoutHttpRequest: HTTP_REQUEST_MS, timeoutHttpKeepAlive: 5000, timeoutClient: CLIENT_MS });
});
after(async () => {
  await echo.close();
});

for (const suite of SUITES) {
  test(`conformance replay: ${suite}`, async () => {
    const cases = loadCases(suite);
    assert.ok(cases.length > 20);
    const seen = await Promise.all(cases.map((c) => replay(echo.port, Buffer.from(c.request_b64, 'base64'), OBSERVE_MS)));
    const failures: string[] = [];
    const table: string[] = [];
    cases.forEach((c, i) => {
      const s = seen[i];
      const hap = c.haproxy_2_6;
      const per = echo.byClientPort.get(s.clientPort) ?? { dispatched: 0, answered: 0 };
      const why = judge(c, s, per.dispatched, { httpRequest: HTTP_REQUEST_MS, client: CLIENT_MS });
      if (hap.outcome === 'hang' && per.answered > 0) why.push('the handler answered an incomplete request');
      table.push(`${c.id.padEnd(28)} haproxy ${hap.outcome} [${hap.statuses}] | node-engine [${s.statuses}] first ${s.firstByteMs} ms, reached ${per.dispatched}${why.length ? '  FAIL: ' + why.join('; ') : ''}`);
      if (why.length) failures.push(`${c.id} (${c.name}): ${why.join('; ')}`);
    });
    if (process.env.CONFORMANCE_TABLE) console.log(table.join('\n'));
    assert.deepEqual(failures, []);
  });
}
