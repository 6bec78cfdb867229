// Headless Chromium loads a page and its subresources through gatehouse over TLS, where ALPN
// picks h2 (node:tls bind, `alpn h2,http/1.1`): the browser's own Resource Timing says which
// protocol each response came over, and the HTTP/1.1 server behind gatehouse served them all.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, startBackend, startGatehouse, type Backend } from './helpers/net';
import { Browser, CHROMIUM } from './stats-dashboard-browser';

const PAGE = `<!doctype html><html><head><title>h2 page</title><link rel="stylesheet" href="/style.css"></head>
<body><h1>through gatehouse</h1>${[1, 2, 3, 4].map((i) => `<img src="/img/${i}.svg" width="10" height="10">`).join('')}
<script src="/app.js"></script></body></html>`;
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#1f4e79"/></svg>';

describe('Chromium over HTTP/2 through gatehouse', { skip: CHROMIUM === undefined ? 'chromium is not installed (apt-get install chromium)' : false }, () => {
  let backend: Backend;
  let gh: Awaited<ReturnType<typeof startGatehouse>>;
  let browser: Browser;
  let port: number;
  const seen: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-h2b-'));

  before(async () => {
    const pem = path.join(dir, 'site.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: ['ignore', 'ignore', 'pipe'] });
    fs.writeFileSync(pem, fs.readFileSync(path.join(dir, 'c.pem'), 'utf8') + fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'));
    backend = await startBackend('web', (req, res) => {
      req.resume();
      seen.push(`${req.httpVersion} ${req.url}`);
      const url = req.url ?? '/';
      if (url === '/') res.setHeader('content-type', 'text/html');
      else if (url.endsWith('.css')) res.setHeader('content-type', 'text/css');
      else if (url.endsWith('.js')) res.setHeader('content-type', 'text/javascript');
      else if (url.endsWith('.svg')) res.setHeader('content-type', 'image/svg+xml');
      res.end(url === '/' ? PAGE : url.endsWith('.css') ? 'h1{color:#1f4e79}' : url.endsWith('.js') ? 'window.loaded = true;' : SVG);
    });
    port = await freePort();
    gh = await startGatehouse(`global
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:${port} ssl crt ${pem} alpn h2,http/1.1
  http-response set-header X-Served-Proto %[ssl_fc_alpn]
  default_backend be
backend be
  server web 127.0.0.1:${backend.port}
`, [port], { ext: '.cfg' });
    browser = await Browser.launch(1000, 800, ['--ignore-certificate-errors']);
  });

  after(async () => {
    await browser?.close();
    await gh?.stop();
    await backend?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the page and its 6 subresources arrive over h2; the server got HTTP/1.1 requests', async () => {
    await browser.navigate(`https://127.0.0.1:${port}/`);
    await browser.waitFor('window.loaded === true && document.readyState === "complete"');
    const r = await browser.eval<{ nav: string; res: [string, string][]; title: string; imgs: number }>(`({
      nav: performance.getEntriesByType('navigation')[0].nextHopProtocol,
      res: performance.getEntriesByType('resource').map((e) => [new URL(e.name).pathname, e.nextHopProtocol]).filter(([p]) => p !== '/favicon.ico'),
      title: document.title,
      imgs: [...document.images].filter((i) => i.complete && i.naturalWidth === 10).length,
    })`);
    assert.equal(r.title, 'h2 page');
    assert.equal(r.nav, 'h2', 'the page came over h2');
    assert.equal(r.res.length, 6, JSON.stringify(r.res));
    for (const [p, proto] of r.res) assert.equal(proto, 'h2', `${p} over ${proto}`);
    assert.equal(r.imgs, 4, 'every image decoded');
    for (const u of ['/', '/style.css', '/app.js', '/img/1.svg', '/img/4.svg']) assert.ok(seen.includes(`1.1 ${u}`), `the server saw ${u} as HTTP/1.1: ${seen.join(', ')}`);
    assert.deepEqual(browser.console.filter((l) => l.startsWith('exception')), []);
  });
});
