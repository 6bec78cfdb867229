// slowstart: a server that comes back takes a growing share of a dynamic algorithm's traffic
// (from 1/16 of its weight to all of it over the slowstart period, as HAProxy), read from the
// shared state's change time; servers up since the start do not ramp; static algorithms ignore
// it (HAProxy). Real SharedState and balancers, in process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaproxyCfg } from '../src/config/haproxy-cfg';
import { buildModel } from '../src/config/validate';
import { S_HEALTH, S_LAST_CHANGE, ServerIndex, SharedState } from '../src/shared/state';
import { createBalancers } from '../src/balancing/index';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function load(balance: string): { state: SharedState; index: ServerIndex; pick: () => number; id: (n: number) => number } {
  const text = `defaults
  mode http
frontend fe
  bind :80
  default_backend be
backend be
  balance ${balance}
  server s1 127.0.0.1:1 slowstart 10s
  server s2 127.0.0.1:2
`;
  const parsed = parseHaproxyCfg([{ file: 's.cfg', text }], {});
  const { config } = buildModel(parsed.doc, parsed.src);
  assert.equal(config.backends[0].servers[0].slowstart, 10_000);
  const state = SharedState.create(config);
  const index = new ServerIndex(config);
  const lb = createBalancers(config, state, index)[0];
  return { state, index, pick: () => lb.pick(null, -1), id: (n) => index.server(0, n) };
}

function share(pick: () => number, server: number, n = 170): number {
  let hits = 0;
  for (let i = 0; i < n; i++) if (pick() === server) hits++;
  return hits / n;
}

// (leastconn ramps too, but with nothing in flight its picks are ties: the share shows no weight)
for (const balance of ['roundrobin', 'random']) {
  test(`slowstart ramps a returning server's share (balance ${balance})`, async () => {
    const { state, pick, id } = load(balance);
    const s1 = id(0);
    // up since the start: no ramp
    assert.ok(share(pick, s1) > 0.35, 'full share at start');
    await sleep(1100); // the change time has whole seconds: come back after the set was made
    state.setAndBump(s1, 0, S_HEALTH, 0);
    state.setAndBump(s1, 0, S_HEALTH, 1);
    const early = share(pick, s1);
    assert.ok(early < 0.25, `just back: ${early}`); // 1/16 to 3/16 of its weight: the change time has whole seconds
    // 8 s into the 10 s ramp (no bump: the ramp's own step re-reads it)
    state.set(s1, S_LAST_CHANGE, Math.floor(Date.now() / 1000) - 8);
    await sleep(300);
    const later = share(pick, s1);
    assert.ok(later > early + 0.2, `8 s later: ${later} (was ${early})`);
  });
}

test('slowstart does not change a static algorithm (HAProxy: dynamic ones only)', async () => {
  const { state, pick, id } = load('static-rr');
  const s1 = id(0);
  await sleep(1100);
  state.setAndBump(s1, 0, S_HEALTH, 0);
  state.setAndBump(s1, 0, S_HEALTH, 1);
  assert.ok(Math.abs(share(pick, s1) - 0.5) < 0.05);
});
