// The dashboard at 200 servers: a real gatehouse (2 workers, 2 backends of 100 servers on real
// upstreams) with traffic to every server; Chromium shows every sparkline filled. The primary
// thread's CPU (its /proc task, clock ticks) per stats refresh is measured and printed, not
// asserted (the figure is in docs/observability.md).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { freePort, request, sleep, startBackend, startGatehouse, type Backend, type Proc } from './helpers/net';
import { Browser, CHROMIUM } from './stats-dashboard-browser';

const skip = !CHROMIUM && process.env.CI !== 'true' ? 'chromium is not installed (apt-get install chromium); required when CI=true' : false;
const AUTH = { authorization: 'Basic ' + Buffer.from('admin:s3cret').toString('base64') };
const URI = '/stats';
const SERVERS = 200;
const TICK_MS = 1000 / 100; // CLK_TCK is 100 on Linux

/** CPU (ms) the primary thread (the main thread: tid = pid) has used so far. */
function primaryCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
}

describe('dashboard with 200 servers', { skip }, () => {
  let gh: Proc;
  let statsPort: number;
  let fePort: number;
  let fePort1: number;
  const ups: Backend[] = [];

  before(async () => {
    ups.push(await startBackend('u1'), await startBackend('u2'));
    fePort = await freePort();
    fePort1 = await freePort();
    statsPort = await freePort();
    const servers = (b: number) =>
      Array.from({ length: SERVERS / 2 }, (_, i) => `      - { name: s${b}_${i}, address: "127.0.0.1:${ups[i % 2].port}" }`).join('\n');
    gh = await startGatehouse(
      `global: { workers: 2 }
defaults:
  timeout: { connect: 1s, client: 5s, server: 5s }
frontends:
  fe: { bind: ["127.0.0.1:${fePort}"], default_backend: b0 }
  fe1: { bind: ["127.0.0.1:${fePort1}"], default_backend: b1 }
backends:
  b0:
    servers:
${servers(0)}
  b1:
    servers:
${servers(1)}
listen:
  stats:
    bind: ["127.0.0.1:${statsPort}"]
    stats: { enable: true, uri: ${URI}, auth: ["admin:s3cret"], refresh: 5s }
`,
      [fePort, fePort1, statsPort],
    );
  });

  after(async () => {
    await gh?.stop();
    for (const u of ups) await u.close();
  });

  test('every sparkline fills; primary CPU per refresh measured', async (t) => {
    // 4 rounds of round-robin over both backends: every server gets requests
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    for (const port of [fePort, fePort1]) {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next++ < 4 * (SERVERS / 2)) assert.equal((await request(port, { path: '/', agent })).status, 200);
        }),
      );
    }
    agent.destroy();
    await sleep(2200);

    const browser = await Browser.launch(1400, 1000);
    try {
      await browser.authorize('admin', 's3cret');
      await browser.navigate(`http://127.0.0.1:${statsPort}${URI}`);
      await browser.waitFor(`document.querySelectorAll('tr.server canvas.spark[data-traffic]').length === ${SERVERS}`, 20000);
      const empty = await browser.eval<number>(`[...document.querySelectorAll('tr.server canvas.spark')].filter((c) => !(Number(c.getAttribute('data-traffic')) > 0)).length`);
      assert.equal(empty, 0, 'every server sparkline shows its traffic');
      // the page open for 10 s: 10 history polls, 2 table refreshes, 10 ticks
      const c0 = primaryCpuMs(gh.child.pid!);
      await sleep(10000);
      const open = primaryCpuMs(gh.child.pid!) - c0;
      t.diagnostic(`page open 10 s (polls every 1 s, tables every 5 s): primary ${open.toFixed(0)} ms CPU, ${(open / 10).toFixed(1)} ms a second`);
    } finally {
      await browser.close();
    }

    // each kind of request alone, 20 times
    const cost = async (path: string, n = 20) => {
      const c = primaryCpuMs(gh.child.pid!);
      let bytes = 0;
      for (let i = 0; i < n; i++) {
        const r = await request(statsPort, { path, headers: AUTH });
        assert.equal(r.status, 200);
        bytes = r.body.length;
      }
      return { ms: (primaryCpuMs(gh.child.pid!) - c) / n, bytes };
    };
    const idle0 = primaryCpuMs(gh.child.pid!);
    await sleep(5000);
    const tick = (primaryCpuMs(gh.child.pid!) - idle0) / 5;
    const last = JSON.parse((await request(statsPort, { path: `${URI};history;since=0`, headers: AUTH })).body.toString()).last as number;
    const html = await cost(`${URI};norefresh`);
    const since = await cost(`${URI};history;since=${last - 1}`);
    const full = await cost(`${URI};history`, 5);
    t.diagnostic(
      `${SERVERS} servers, primary CPU: idle second (1 tick) ${tick.toFixed(1)} ms; HTML page ${html.ms.toFixed(1)} ms (${html.bytes} bytes); ` +
        `;history since last ${since.ms.toFixed(1)} ms (${since.bytes} bytes); full ;history ${full.ms.toFixed(1)} ms (${full.bytes} bytes)`,
    );
  });
});
