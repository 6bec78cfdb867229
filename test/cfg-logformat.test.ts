// log-format with HAProxy's variables: the same configuration in HAProxy 2.6 and gatehouse, both
// logging to a UDP syslog socket the test listens on; the access lines (after the syslog header)
// must be the same for the variables whose values do not depend on timing or byte counts.
import * as dgram from 'node:dgram';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileLogFormat } from '../src/log/custom-format';
import { freePort, request, startBackend, startGatehouse } from './helpers/net';
import { haproxyBinary, startHaproxy } from './helpers/haproxy';

const FORMAT = '%ci %{+X}ci %ft %b/%s %ST %HM %HU %HP %HQ %HV %{+Q}r %ts %tsc %rc %{+Q}HM %{+X}ST %hr|%hs %% end';

test('log-format strings compile, and bad ones name the problem', () => {
  assert.equal(compileLogFormat(FORMAT).codes.length > 10, true);
  assert.throws(() => compileLogFormat('%ci %zz'), /unknown log-format variable '%zz'/);
  assert.throws(() => compileLogFormat('%[src]'), /sample fetches/);
  assert.throws(() => compileLogFormat('%{+Z}r'), /unknown log-format modifier/);
});

async function lines(run: (logPort: number) => Promise<void>): Promise<string[]> {
  const sock = dgram.createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    await run(sock.address().port);
    await new Promise((r) => setTimeout(r, 700)); // batched lines
  } finally {
    sock.close();
  }
  // the access line: after the syslog header's "]: ", without start/stop notices
  // (HAProxy also logs the port probe of the test helper, a connection that sends nothing, as
  // <BADREQ> 400 CR; uWebSockets.js gives gatehouse no such event: left out)
  return got.map((l) => l.slice(l.indexOf(']: ') + 3).trim()).filter((l) => l.endsWith(' end') && !l.includes('<BADREQ>')).sort();
}

test('log-format lines match HAProxy 2.6', { skip: haproxyBinary() ? false : 'haproxy is not installed' }, async () => {
  const be = await startBackend('s1');
  const cfg = (port: number, logPort: number): string => `global
  log 127.0.0.1:${logPort} local0
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  log-format "${FORMAT}"
  http-request deny if { path /denied }
  default_backend be
backend be
  server s1 127.0.0.1:${be.port}
`;
  const traffic = async (port: number): Promise<void> => {
    await request(port, { path: '/a/b?x=1&y=%41' });
    await request(port, { path: '/denied' });
    await request(port, { method: 'POST', path: '/post', body: 'hello' });
  };
  try {
    const expected = await lines(async (logPort) => {
      const port = await freePort();
      const ha = await startHaproxy(haproxyBinary()!, cfg(port, logPort), [port]);
      try {
        await traffic(port);
      } finally {
        await ha.stop();
      }
    });
    const got = await lines(async (logPort) => {
      const port = await freePort();
      const gh = await startGatehouse(cfg(port, logPort), [port], { ext: '.cfg' });
      try {
        await traffic(port);
      } finally {
        await gh.stop();
      }
    });
    assert.equal(expected.length, 3, expected.join('\n'));
    assert.deepEqual(got, expected);
  } finally {
    await be.close();
  }
});
