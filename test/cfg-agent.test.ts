// agent-check end to end: a real agent (TCP server started by the test) answers what the test
// tells it; gatehouse polls it and the traffic follows: "down" takes the server out, "up" brings
// it back, "drain" stops new requests, "ready" undoes it, "N%" scales its weight. The agent
// words are parsed as HAProxy's (unit part).
import * as net from 'node:net';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentReply } from '../src/health/agent';
import { ADMIN_DRAIN, ADMIN_MAINT, ADMIN_READY } from '../src/shared/state';
import { freePort, request, startBackend, startGatehouse, type Backend, type Proc } from './helpers/net';

test('agent replies are read as HAProxy reads them', () => {
  assert.deepEqual(parseAgentReply('75%\n'), { weightPct: 75, admin: null, up: null });
  assert.deepEqual(parseAgentReply('up, ready 50%'), { weightPct: 50, admin: ADMIN_READY, up: true });
  assert.deepEqual(parseAgentReply('drain'), { weightPct: null, admin: ADMIN_DRAIN, up: null });
  assert.deepEqual(parseAgentReply('MAINT'), { weightPct: null, admin: ADMIN_MAINT, up: null });
  assert.deepEqual(parseAgentReply('stopped #maintenance window'), { weightPct: null, admin: null, up: false });
  assert.deepEqual(parseAgentReply('fail'), { weightPct: null, admin: null, up: false });
  assert.deepEqual(parseAgentReply('hello'), { weightPct: null, admin: null, up: null });
});

let agentReply = 'up\n';
let agentSeen = '';
let agent: net.Server;
let agentPort = 0;
const backends: Backend[] = [];
let gh: Proc;
let port = 0;

before(async () => {
  agent = net.createServer((s) => {
    s.on('data', (d) => (agentSeen += d.toString()));
    s.on('error', () => {});
    setTimeout(() => s.end(agentReply), 5);
  });
  await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
  agentPort = (agent.address() as net.AddressInfo).port;
  backends.push(await startBackend('s1'), await startBackend('s2'));
  port = await freePort();
  gh = await startGatehouse(`defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
  server s1 127.0.0.1:${backends[0].port} weight 2 agent-check agent-port ${agentPort} agent-inter 100ms agent-send "hello\\n"
  server s2 127.0.0.1:${backends[1].port} weight 1
`, [port], { ext: '.cfg' });
});
after(async () => {
  await gh?.stop();
  for (const b of backends) await b.close();
  agent?.close();
});

async function spread(n = 30): Promise<Record<string, number>> {
  const c: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await request(port, { path: '/' });
    const k = r.status === 200 ? r.body.toString() : String(r.status);
    c[k] = (c[k] ?? 0) + 1;
  }
  return c;
}

/** Waits until the spread satisfies `ok` (the agent is polled every 100 ms). */
async function until(ok: (c: Record<string, number>) => boolean, what: string): Promise<Record<string, number>> {
  let last: Record<string, number> = {};
  for (let i = 0; i < 40; i++) {
    last = await spread();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: ${JSON.stringify(last)}`);
}

test('the agent takes the server down and up, drains it and scales its weight', async () => {
  await until((c) => (c.s1 ?? 0) === 20 && (c.s2 ?? 0) === 10, 'weights 2:1 with the agent saying up');
  agentReply = 'down\n';
  await until((c) => (c.s1 ?? 0) === 0 && c.s2 === 30, 'down: no traffic to s1');
  agentReply = 'up\n';
  await until((c) => (c.s1 ?? 0) === 20, 'up again');
  agentReply = 'drain\n';
  await until((c) => (c.s1 ?? 0) === 0, 'drain: no new requests');
  agentReply = 'ready\n';
  await until((c) => (c.s1 ?? 0) === 20, 'ready again');
  agentReply = '50%\n';
  await until((c) => (c.s1 ?? 0) === 15 && c.s2 === 15, '50% of weight 2 = 1: 1:1');
  assert.match(agentSeen, /hello\n/, `agent-send was sent: ${JSON.stringify(agentSeen.slice(0, 40))}`);
});
