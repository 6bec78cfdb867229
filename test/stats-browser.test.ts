// The dashboard in a real browser: headless Chromium renders the stats page (with auth),
// we assert on the rendered DOM and keep a screenshot to look at.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from './helpers/net';
import { FakeWorker, backend, config, frontend, record, server, stats } from './stats-fixture';
import { LogSink } from '../src/log/sink';
import { ADMIN_DRAIN, S_ADMIN, S_CHECK_CODE, S_CHECK_DURATION, S_CHECK_HEALTH, S_CHECK_STATUS, S_HEALTH, SharedState, checkStatusIndex } from '../src/shared/state';
import { PrimaryTelemetry } from '../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../src/stats/telemetry-worker';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const skip = !CHROMIUM && process.env.CI !== 'true' ? 'chromium is not installed (apt-get install chromium); required when CI=true' : false;

function chromium(args: string[]): Promise<string> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-chromium-'));
  const base = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--window-size=1400,900'];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM!, [...base, ...args], { maxBuffer: 32 * 1024 * 1024, timeout: 60000 }, (err, stdout, stderr) => {
      fs.rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe('dashboard in headless Chromium', { skip }, () => {
  let primary: PrimaryTelemetry;
  let url: string;
  const shot = path.join(process.env.GATEHOUSE_SCREENSHOT_DIR ?? os.tmpdir(), 'gatehouse-stats.png');

  before(async () => {
    const port = await freePort();
    const cfg = config(
      [frontend('http_in', await freePort()), frontend('stats', port, { fromListen: true, stats: stats({ refresh: 10000 }) })],
      [
        backend('app', [server('web1', 9001), server('web2', 9002), server('web3', 9003), server('web4', 9004, { backup: true, check: false })]),
        backend('api', [server('api1', 9101), server('api2', 9102, { disabled: true })]),
      ],
    );
    const state = SharedState.create(cfg);
    primary = new PrimaryTelemetry(cfg, state, new LogSink([]));
    const wt = new WorkerTelemetry(cfg, 0, (m) => setImmediate(() => primary.onWorkerMessage(0, m)));
    const w = new FakeWorker(cfg, wt);
    primary.addWorker(0, w.slab, (m) => setImmediate(() => wt.onMessage(m)));
    for (const [i, s] of [[0, 'L7OK'], [1, 'L7OK'], [2, 'L7STS'], [4, 'L4CON']] as const) {
      state.set(i, S_CHECK_STATUS, checkStatusIndex(s));
      state.set(i, S_CHECK_CODE, s === 'L7STS' ? 503 : s === 'L7OK' ? 200 : 0);
      state.set(i, S_CHECK_DURATION, 2 + i);
      state.set(i, S_CHECK_HEALTH, 4);
    }
    state.set(2, S_CHECK_HEALTH, 2); // web3: UP, going down
    state.setAndBump(1, 0, S_ADMIN, ADMIN_DRAIN); // web2: draining
    state.set(4, S_HEALTH, 0); // api1 DOWN
    state.set(4, S_CHECK_HEALTH, 0);
    for (let i = 0; i < 400; i++) w.request(record({ server: 0, ta: 20 + (i % 40), bytesOut: 5120 }));
    for (let i = 0; i < 100; i++) w.request(record({ server: 2, ta: 180 + (i % 50), status: i % 10 ? 200 : 500, bytesOut: 900 }));
    for (let i = 0; i < 5; i++) w.request(record({ server: -1, ta: 1, status: 503 }));
    await primary.startStatsServers();
    url = `http://admin:s3cret@127.0.0.1:${port}/haproxy?stats`;
  });

  after(async () => {
    await primary?.stop();
  });

  test('renders tables, coloured statuses and latency percentiles', async () => {
    const dom = await chromium(['--dump-dom', url]);
    assert.match(dom, /<h1>gatehouse statistics report/);
    // one section per proxy, a row per server with its status class
    for (const px of ['http_in', 'stats', 'app', 'api']) assert.match(dom, new RegExp(`<section class="proxy \\w+" id="px-${px}"`));
    const status = (s: string) => new RegExp(`<tr class="server ([\\w -]+)" data-server="${s}"`).exec(dom)?.[1];
    assert.equal(status('web1'), 'up');
    assert.equal(status('web2'), 'drain');
    assert.equal(status('web3'), 'going-down');
    assert.equal(status('web4'), 'nocheck backup');
    assert.equal(status('api1'), 'down');
    assert.equal(status('api2'), 'maint');
    // latency columns are filled from the histograms (web1: 20..59 ms)
    const p50 = /data-server="web1"[^]*?<td class="p50 lat" data-v="([\d.]+)"/.exec(dom);
    assert.ok(p50 && Number(p50[1]) >= 35 && Number(p50[1]) <= 45, `web1 p50 ${p50?.[1]}`);
    assert.match(dom, /<td class="lastchk">L7STS\/503 in 4ms<\/td>/);
    assert.match(dom, /<select name="action">/, 'admin controls for the authenticated admin');
    assert.match(dom, /id="uptime" data-v="\d+">\d+d \d+h\d{2}m\d{2}s</);
  });

  test('screenshot', async () => {
    fs.rmSync(shot, { force: true });
    await chromium([`--screenshot=${shot}`, '--hide-scrollbars', url]);
    const png = fs.readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.equal(png.readUInt32BE(16), 1400);
    assert.ok(png.length > 20000, `a rendered page, not a blank one (${png.length} bytes)`);
  });
});
