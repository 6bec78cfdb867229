// The live dashboard end to end: real gatehouse (2 workers), real backends, real traffic, the
// stats page in headless Chromium driven over the DevTools protocol. Checks that the charts fill
// from the 1 s history, that the history and the latency export count exactly what the backends
// served, that a server disabled through the runtime API shows in its sparkline, and that the
// screenshot's chart areas are drawn (PNG decoded here, pixels counted inside the boxes the page
// reports).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HistogramLogReader } from 'hdr-histogram-js';
import { freePort, request, sleep, startBackend, startGatehouse, tmpFile, type Backend, type Proc } from './helpers/net';
import { Browser, CHROMIUM, countPixels, decodePng, near, over, type Box } from './stats-dashboard-browser';

const skip = !CHROMIUM && process.env.CI !== 'true' ? 'chromium is not installed (apt-get install chromium); required when CI=true' : false;
const AUTH = { authorization: 'Basic ' + Buffer.from('admin:s3cret').toString('base64') };
const URI = '/haproxy?stats';

interface Series {
  type: string;
  proxy: string;
  name: string;
  req: number[];
  err5: number[];
  scur: number[];
  qcur: number[];
  p50: (number | null)[];
  p99: (number | null)[];
  status: number[];
}
interface HistoryJson {
  t: number[];
  last: number;
  status_codes: Record<string, number>;
  series: Series[];
}

const sum = (a: number[]) => a.reduce((t, x) => t + x, 0);

describe('live dashboard in headless Chromium', { skip }, () => {
  let gh: Proc;
  let browser: Browser;
  let fePort: number;
  let statsPort: number;
  let sock: string;
  const backends: Backend[] = [];
  let fiveHundreds = 0;
  let sent = 0;
  const shot = path.join(process.env.GATEHOUSE_SCREENSHOT_DIR ?? os.tmpdir(), 'gatehouse-dashboard.png');

  const history = async (since?: number): Promise<HistoryJson> => {
    const r = await request(statsPort, { path: `${URI};history${since ? `;since=${since}` : ''}`, headers: AUTH });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    return JSON.parse(r.body.toString()) as HistoryJson;
  };
  const series = (h: HistoryJson, proxy: string, name: string) => {
    const s = h.series.find((x) => x.proxy === proxy && x.name === name);
    assert.ok(s, `series ${proxy}/${name}`);
    return s;
  };

  /** `n` requests on `conc` keep-alive connections through gatehouse */
  async function traffic(n: number, conc: number): Promise<void> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
    let next = 0;
    const one = async () => {
      while (next < n) {
        next++;
        const r = await request(fePort, { path: '/x', agent });
        assert.ok(r.status === 200 || r.status === 500, `status ${r.status}`);
        sent++;
      }
    };
    await Promise.all(Array.from({ length: conc }, one));
    agent.destroy();
  }

  before(async () => {
    // s1 answers every 10th request with a 500; s3 takes 30 ms
    let s1n = 0;
    backends.push(
      await startBackend('s1', (req, res) => {
        req.resume();
        if (++s1n % 10 === 0) {
          fiveHundreds++;
          res.statusCode = 500;
        }
        res.end('s1');
      }),
      await startBackend('s2'),
      await startBackend('s3', (req, res) => {
        req.resume();
        setTimeout(() => res.end('s3'), 30);
      }),
      await startBackend('s4'),
    );
    fePort = await freePort();
    statsPort = await freePort();
    sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-dash-')), 'admin.sock');
    const yaml = `global:
  workers: 2
  stats_socket: [{ path: "${sock}", level: admin }]
defaults:
  timeout: { connect: 1s, client: 5s, server: 5s }
  retries: 0
frontends:
  fe: { bind: ["127.0.0.1:${fePort}"], default_backend: app }
backends:
  app:
    health_check: { type: tcp, inter: 200ms, rise: 1, fall: 1 }
    servers:
${backends.map((b) => `      - { name: ${b.name}, address: "127.0.0.1:${b.port}"${b.name === 's4' ? ', check: true' : ''} }`).join('\n')}
listen:
  stats:
    bind: ["127.0.0.1:${statsPort}"]
    stats: { enable: true, uri: "${URI}", auth: ["admin:s3cret"], refresh: 2s, admin: true }
`;
    gh = await startGatehouse(yaml, [fePort, statsPort]);
    browser = await Browser.launch(1400, 1000);
    await browser.authorize('admin', 's3cret');
    await browser.navigate(`http://127.0.0.1:${statsPort}${URI}`);
  });

  after(async () => {
    await browser?.close();
    await gh?.stop();
    for (const b of backends) await b.close();
    if (sock) fs.rmSync(path.dirname(sock), { recursive: true, force: true });
  });

  test('the page loads with a chart per proxy and a sparkline per row, and polls the history', async () => {
    const shape = await browser.eval<{ sections: number; charts: number; rows: number; sparks: number; noscriptRefresh: boolean }>(`({
      sections: document.querySelectorAll('section.proxy').length,
      charts: document.querySelectorAll('section.proxy canvas.pxchart').length,
      rows: document.querySelectorAll('table.stats tbody tr').length,
      sparks: document.querySelectorAll('table.stats tbody tr canvas.spark').length,
      noscriptRefresh: !!document.querySelector('noscript') && document.querySelector('noscript').textContent.includes('refresh'),
    })`);
    assert.equal(shape.sections, 3, 'fe, app, stats');
    assert.equal(shape.charts, shape.sections);
    assert.equal(shape.sparks, shape.rows);
    assert.ok(shape.noscriptRefresh, 'the meta refresh is only for pages without scripts');
    await browser.waitFor('window.gatehouseDashboard && window.gatehouseDashboard.state.polls >= 2');
    assert.equal(await browser.eval<number>('window.gatehouseDashboard.state.errors'), 0);
  });

  test('charts fill from real traffic; the history counts what the backends served', async () => {
    const t0 = (await history()).last;
    await traffic(600, 6);
    // the seconds that saw the traffic are closed one tick later
    await sleep(2300);
    const h = await history(t0 - 1);
    const fe = series(h, 'fe', 'FRONTEND');
    assert.equal(sum(fe.req), sent, 'requests in the fe series = requests sent');
    for (const b of backends) assert.equal(sum(series(h, 'app', b.name).req), b.hits, `${b.name}: its series counts the requests it served`);
    assert.equal(sum(series(h, 'app', 's1').err5), fiveHundreds, '5xx of s1');
    assert.equal(sum(series(h, 'app', 'BACKEND').err5), fiveHundreds, '5xx of the backend');
    // per-second latency of the 30 ms server (Ta: a bit above the server's own delay)
    const p50 = series(h, 'app', 's3').p50.filter((v): v is number => v !== null);
    assert.ok(p50.length > 0 && p50.every((v) => v >= 30 && v < 1000), `s3 p50 per second: ${p50}`);
    // s1 answers at once: its seconds are faster than s3's (each row its own percentiles)
    const p50s1 = series(h, 'app', 's1').p50.filter((v): v is number => v !== null);
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    assert.ok(p50s1.length > 0 && median(p50s1) < median(p50), `s1 p50 per second: ${p50s1}, s3: ${p50}`);
    // the page drew them, without a reload
    await browser.waitFor(`Number(document.querySelector('#px-fe canvas.pxchart').getAttribute('data-traffic')) > 0`);
    for (const b of backends)
      await browser.waitFor(`Number(document.querySelector('tr[data-server="${b.name}"] canvas.spark').getAttribute('data-traffic')) > 0`);
    const pageSum = await browser.eval<number>(`window.gatehouseDashboard.history.s['fe\\u0000FRONTEND'].req.reduce((t, x) => t + (x || 0), 0)`);
    assert.equal(pageSum, sent, 'the page holds the same series');
    assert.equal(await browser.eval<number>('performance.getEntriesByType("navigation").length'), 1, 'no reload');
  });

  test('latency export: merged histogram as a percentile table, an HdrHistogram log and hgrm', async () => {
    const s3 = backends[2];
    const j = JSON.parse((await request(statsPort, { path: `${URI};latency;px=app;sv=s3;from=-600`, headers: AUTH })).body.toString()) as {
      count: number;
      percentiles: [number, number][];
      per_second: [number, number, number, number, number, number][];
    };
    assert.equal(j.count, s3.hits, 'every request s3 served, merged across both workers');
    const p50 = j.percentiles.find(([p]) => p === 50)![1];
    assert.ok(p50 >= 30 && p50 < 200, `p50 ${p50}`);
    assert.equal(sum(j.per_second.map((r) => r[1])), s3.hits);
    const hlog = (await request(statsPort, { path: `${URI};latency;px=app;sv=s3;from=-600;format=hlog`, headers: AUTH })).body.toString();
    assert.match(hlog, /^#\[Histogram log format version 1\.3\]$/m);
    const reader = new HistogramLogReader(hlog);
    let total = 0;
    let lines = 0;
    for (let hh = reader.nextIntervalHistogram(); hh !== null; hh = reader.nextIntervalHistogram()) {
      total += hh.totalCount;
      lines++;
    }
    assert.equal(total, s3.hits, 'the log read back by HdrHistogram holds every request');
    assert.equal(lines, j.per_second.length, 'one interval a second with traffic');
    const hgrm = (await request(statsPort, { path: `${URI};latency;px=app;sv=s3;format=hgrm`, headers: AUTH })).body.toString();
    assert.match(hgrm, new RegExp(`Total count\\s*=\\s*${s3.hits}\\]`));
    const bad = await request(statsPort, { path: `${URI};latency;px=app`, headers: AUTH });
    assert.equal(bad.status, 400);
    const noAuth = await request(statsPort, { path: `${URI};history` });
    assert.equal(noAuth.status, 401, 'the history is behind the same auth');
  });

  test('a server disabled through the runtime API shows in its sparkline and in the series', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect(sock);
      let out = '';
      c.on('data', (d) => (out += d));
      c.on('end', () => resolve(out));
      c.on('error', reject);
      c.end('disable server app/s2\n');
    });
    assert.equal(answer.trim(), '');
    await browser.waitFor(`Number(document.querySelector('tr[data-server="s2"] canvas.spark').getAttribute('data-maint')) >= 2`);
    assert.equal(await browser.eval<string>(`document.querySelector('tr[data-server="s1"] canvas.spark').getAttribute('data-maint')`), '0');
    const h = await history();
    const st = series(h, 'app', 's2').status;
    assert.equal(st[st.length - 1], h.status_codes.MAINT);
    assert.ok(st.includes(h.status_codes.NOCHECK), 'in service (no check) before');
  });

  test('a server whose health check fails shows DOWN in its sparkline and in the series', async () => {
    await backends[3].close();
    await browser.waitFor(`Number(document.querySelector('tr[data-server="s4"] canvas.spark').getAttribute('data-down')) >= 2`);
    const h = await history();
    const st = series(h, 'app', 's4').status;
    assert.equal(st[st.length - 1], h.status_codes.DOWN);
    assert.ok(st.includes(h.status_codes.UP), 'UP before');
    assert.equal(series(h, 'app', 'BACKEND').status.at(-1), h.status_codes.UP, 'the backend still has s1 and s3');
  });

  test('screenshot: the chart areas are drawn', async () => {
    await browser.eval(`document.querySelector('#px-app canvas.pxchart').scrollIntoView({ block: 'center' })`);
    await sleep(1200); // one more draw after the scroll
    const boxes = await browser.eval<Record<string, Box>>(`(() => {
      const r = (sel) => { const b = document.querySelector(sel).getBoundingClientRect(); return { x: b.x, y: b.y, width: b.width, height: b.height }; };
      return { chart: r('#px-app canvas.pxchart'), s1: r('tr[data-server="s1"] canvas.spark'), s2: r('tr[data-server="s2"] canvas.spark'), s4: r('tr[data-server="s4"] canvas.spark') };
    })()`);
    const png = await browser.screenshot();
    fs.writeFileSync(shot, png);
    const img = decodePng(png);
    assert.equal(img.width, 1400);
    const chart = boxes.chart;
    assert.ok(chart.width > 600 && chart.height > 100 && chart.y >= 0 && chart.y + chart.height <= img.height, JSON.stringify(chart));
    // the chart's own background is #fbfcfd (white-ish): anything else was drawn
    const drawn = countPixels(img, chart, (r, g, b) => !(r > 240 && g > 240 && b > 240));
    const reqArea = countPixels(img, chart, near('#4a7fb5', 30));
    const latency = countPixels(img, chart, (r, g, b) => near('#e08020', 40)(r, g, b) || near('#2a9a3a', 40)(r, g, b));
    const area = chart.width * chart.height;
    assert.ok(drawn > area * 0.01, `drawn pixels in the chart: ${drawn} of ${area}`);
    assert.ok(reqArea > 50, `requests/s area pixels: ${reqArea}`);
    assert.ok(latency > 10, `latency line pixels: ${latency}`);
    // s2's sparkline has the MAINT band (#c07820), s1's none
    const maint = near('#c07820', 10);
    // 1 px inside: s2's row right below s1's is MAINT-coloured itself
    const inset = (b: Box): Box => ({ x: b.x + 1, y: b.y + 1, width: b.width - 2, height: b.height - 2 });
    boxes.s1 = inset(boxes.s1);
    boxes.s2 = inset(boxes.s2);
    boxes.s4 = inset(boxes.s4);
    assert.ok(countPixels(img, boxes.s2, maint) > 0, 'MAINT band in s2 sparkline');
    assert.equal(countPixels(img, boxes.s1, maint), 0, 'no MAINT band in s1 sparkline');
    assert.ok(countPixels(img, boxes.s1, over('#1f4e79')) > 0, 'requests drawn in s1 sparkline');
    // s4's sparkline has the DOWN band (#ff9090), s1's none
    const down = near('#ff9090', 10);
    assert.ok(countPixels(img, boxes.s4, down) > 0, 'DOWN band in s4 sparkline');
    assert.equal(countPixels(img, boxes.s1, down), 0, 'no DOWN band in s1 sparkline');
    assert.deepEqual(browser.console.filter((l) => l.startsWith('exception')), []);
  });
});
