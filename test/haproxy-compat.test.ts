// Issue 5 acceptance: the tutorial haproxy.cfg, verbatim except 127.0.0.1 addresses, run as a
// daemon (-D -p) in front of two real backends: roundrobin with SERVERID cookies (insert indirect
// nocache), pinning, indirect stripping, the stats page with auth and CSV, `-c` pointing at a
// typo with a did-you-mean, SIGTERM stop, and the `convert` output starting and behaving the same.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { promisify } from 'node:util';
import { CLI, request, runCli, tmpFile, type Backend, type Reply } from './helpers/net';
import {
  distinctPorts,
  isOurDaemon,
  killIfOurs,
  parseSeen,
  startDaemon,
  stopDaemon,
  tutorialCfg,
  webBackend,
  type Daemon,
  type TutorialPorts,
} from './helpers/haproxy';

const execFileP = promisify(execFile);

// HAProxy adds `Cache-control: private` (nocache) only to responses a shared cache could store;
// HAProxy 2.6 also requires a validator or freshness information (see differential.test.ts,
// which measures it). Last-Modified makes the backend's answer cacheable by that rule.
const CACHEABLE = '/?h=Last-Modified:Mon,%2001%20Jan%202024%2000:00:00%20GMT';

/** What one answer told us: who served it, the Set-Cookie and Cache-Control it carried. */
interface Obs {
  server: string;
  setCookie: string[] | null;
  cacheControl: string | null;
  backendCookie: string | null;
}

function observe(r: Reply): Obs {
  assert.equal(r.status, 200, `status ${r.status}: ${r.body.toString()}`);
  const seen = parseSeen(r.body);
  return {
    server: seen.server,
    setCookie: (r.headers['set-cookie'] as string[] | undefined) ?? null,
    cacheControl: (r.headers['cache-control'] as string | undefined) ?? null,
    backendCookie: seen.cookie,
  };
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const basic = (userPass: string) => 'Basic ' + Buffer.from(userPass).toString('base64');

describe('issue 5 tutorial haproxy.cfg as a gatehouse daemon', () => {
  let web1: Backend, web2: Backend;
  let ports: TutorialPorts;
  let cfgPath: string;
  let cfgText: string;
  let d: Daemon;
  let firstRun: Obs[] = [];
  const daemons: Daemon[] = [];
  let web2Closed = false;

  before(async () => {
    web1 = await webBackend('web1');
    web2 = await webBackend('web2');
    const [front, stats] = await distinctPorts(2, [web1.port, web2.port]);
    ports = { front, stats, web1: web1.port, web2: web2.port };
    cfgText = tutorialCfg(ports);
    cfgPath = tmpFile('haproxy.cfg', cfgText);
    d = await startDaemon(cfgPath);
    daemons.push(d);
  });

  after(async () => {
    for (const x of daemons) killIfOurs(x);
    await web1.close();
    if (!web2Closed) await web2.close();
  });

  test('-D returns 0 once listening and the pidfile names the live daemon', async () => {
    assert.equal(d.code, 0, `gatehouse -D exited ${d.code}:\n${d.output}`);
    assert.ok(d.pid !== null, `no pid in ${d.pidfile}`);
    assert.ok(isOurDaemon(d), `pid ${d.pid} from the pidfile is not a running gatehouse`);
    // "once listening": both listeners accept right away, without retrying.
    assert.ok(await connects(ports.front), 'frontend http_in does not accept');
    assert.ok(await connects(ports.stats), 'listen stats does not accept');
  });

  test(
    "'log /dev/log' with no /dev/log only warns (the warning reaches the -D caller)",
    { skip: fs.existsSync('/dev/log') ? '/dev/log exists on this machine' : false },
    () => {
      assert.equal(d.code, 0);
      assert.match(d.output, /\/dev\/log/, `no warning about /dev/log in:\n${d.output}`);
    },
  );

  test('requests alternate web1/web2, each answer inserting its SERVERID cookie with Cache-Control: private', async () => {
    const obs: Obs[] = [];
    for (let i = 0; i < 6; i++) obs.push(observe(await request(ports.front, { path: CACHEABLE })));
    firstRun = obs;
    const servers = obs.map((o) => o.server);
    assert.deepEqual(new Set(servers), new Set(['web1', 'web2']));
    for (let i = 1; i < servers.length; i++) assert.notEqual(servers[i], servers[i - 1], `no alternation: ${servers}`);
    for (const o of obs) {
      assert.deepEqual(o.setCookie, [`SERVERID=${o.server}; path=/`]);
      assert.equal(o.cacheControl, 'private');
      assert.equal(o.backendCookie, null);
    }
  });

  test('SERVERID=web2 pins the client to web2 for 10 requests; never re-sent; the backend never sees it', async () => {
    for (let i = 0; i < 10; i++) {
      const o = observe(await request(ports.front, { path: CACHEABLE, headers: { cookie: 'lang=en; SERVERID=web2; theme=dark' } }));
      assert.equal(o.server, 'web2', `request ${i} went to ${o.server}`);
      assert.equal(o.setCookie, null, `request ${i} was sent the cookie again`);
      assert.equal(o.backendCookie, 'lang=en; theme=dark');
    }
    // the cookie alone: the Cookie header is dropped entirely
    const only = observe(await request(ports.front, { headers: { cookie: 'SERVERID=web2' } }));
    assert.equal(only.server, 'web2');
    assert.equal(only.backendCookie, null);
  });

  test('a forged SERVERID is balanced and replaced by a real cookie, never an error', async () => {
    const servers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const o = observe(await request(ports.front, { headers: { cookie: 'SERVERID=web9; x=1' } }));
      servers.push(o.server);
      assert.deepEqual(o.setCookie, [`SERVERID=${o.server}; path=/`]);
      assert.equal(o.backendCookie, 'x=1');
    }
    assert.deepEqual(new Set(servers), new Set(['web1', 'web2']));
  });

  test('the stats page at /haproxy?stats needs admin:password; ;csv lists http_back web1/web2', async () => {
    for (const headers of [{}, { authorization: basic('admin:wrong') }, { authorization: basic('nobody:password') }]) {
      const r = await request(ports.stats, { path: '/haproxy?stats', headers });
      assert.equal(r.status, 401, `with ${JSON.stringify(headers)}`);
      assert.match(String(r.headers['www-authenticate']), /^Basic realm=/);
    }
    const page = await request(ports.stats, { path: '/haproxy?stats', headers: { authorization: basic('admin:password') } });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.body.toString(), /http_back/);

    const csv = await request(ports.stats, { path: '/haproxy?stats;csv', headers: { authorization: basic('admin:password') } });
    assert.equal(csv.status, 200);
    const lines = csv.body.toString().trim().split('\n');
    assert.match(lines[0], /^# pxname,svname,/);
    const cols = lines[0].slice(2).split(',');
    const rows = lines.slice(1).map((l) => l.split(','));
    const status = cols.indexOf('status');
    const find = (px: string, sv: string) => rows.find((r) => r[0] === px && r[1] === sv);
    for (const sv of ['web1', 'web2']) {
      const row = find('http_back', sv);
      assert.ok(row, `no http_back,${sv} row in:\n${lines.join('\n')}`);
      assert.match(row![status], /^UP/);
    }
    assert.ok(find('http_back', 'BACKEND'));
    assert.ok(find('http_in', 'FRONTEND'));
    const noAuth = await request(ports.stats, { path: '/haproxy?stats;csv' });
    assert.equal(noAuth.status, 401);
  });

  test('-c: valid file exits 0; a typo exits 1 naming file:line with a did-you-mean', async () => {
    const ok = runCli(['-c', '-f', cfgPath]);
    assert.equal(await ok.exited, 0, ok.output());
    assert.match(ok.output(), /Configuration file is valid/);

    const typoText = cfgText.replace('    balance roundrobin', '    balanse roundrobin');
    assert.notEqual(typoText, cfgText);
    const typoLine = typoText.split('\n').findIndex((l) => l.includes('balanse')) + 1;
    const typoPath = tmpFile('haproxy.cfg', typoText);
    const bad = runCli(['-c', '-f', typoPath]);
    assert.equal(await bad.exited, 1, bad.output());
    const out = bad.output();
    assert.ok(out.includes(`${typoPath}:${typoLine}`), `no ${typoPath}:${typoLine} in:\n${out}`);
    assert.match(out, /balanse/);
    assert.match(out, /did you mean "?balance"?/);
  });

  test('SIGTERM stops the daemon', async () => {
    assert.ok(d.pid !== null);
    assert.ok(await stopDaemon(d), `pid ${d.pid} still running 15 s after SIGTERM`);
    assert.equal(await connects(ports.front), false, 'the frontend still accepts after the stop');
  });

  test(
    'a SIGTERM stop removes the pidfile',
    {},
    () => {
      assert.equal(fs.existsSync(d.pidfile), false, `${d.pidfile} is still there`);
    },
  );

  test('convert: the YAML starts (daemon) and behaves the same: alternation and cookies', async () => {
    killIfOurs(d); // the YAML binds the same ports
    const { stdout } = await execFileP(process.execPath, [CLI, 'convert', cfgPath]);
    assert.match(stdout, /^backends:/m);
    const yamlPath = tmpFile('converted.yaml', stdout);
    const y = await startDaemon(yamlPath);
    daemons.push(y);
    try {
      assert.equal(y.code, 0, y.output);
      assert.ok(isOurDaemon(y), `pid ${y.pid} is not a running gatehouse`);
      const obs: Obs[] = [];
      for (let i = 0; i < firstRun.length; i++) obs.push(observe(await request(ports.front, { path: CACHEABLE })));
      assert.ok(firstRun.length > 0);
      assert.deepEqual(obs, firstRun, 'the converted YAML answers differently from the haproxy.cfg');
      const pinned = observe(await request(ports.front, { headers: { cookie: 'a=1; SERVERID=web1' } }));
      assert.deepEqual(pinned, { server: 'web1', setCookie: null, cacheControl: null, backendCookie: 'a=1' });
      const stats = await request(ports.stats, { path: '/haproxy?stats;csv', headers: { authorization: basic('admin:password') } });
      assert.equal(stats.status, 200);
    } finally {
      await stopDaemon(y);
    }
  });

  test(
    'the daemon keeps running when a checked server goes down, and re-pins its clients elsewhere',
    {},
    async () => {
      const y = await startDaemon(tmpFile('haproxy.cfg', cfgText));
      daemons.push(y);
      try {
        assert.equal(y.code, 0, y.output);
        await web2.close();
        web2Closed = true;
        // default inter 2s, fall 3: wait (bounded) until the stats say web2 is down, or the daemon is gone
        let down = false;
        for (let i = 0; i < 60 && !down && isOurDaemon(y); i++) {
          await new Promise((r) => setTimeout(r, 250));
          const csv = await request(ports.stats, { path: '/haproxy?stats;csv', headers: { authorization: basic('admin:password') } }).catch(() => null);
          if (csv && /^http_back,web2,(?:[^,]*,){15}DOWN/m.test(csv.body.toString())) down = true;
        }
        assert.ok(isOurDaemon(y), 'gatehouse died while web2 went down');
        assert.ok(down, 'web2 never reported DOWN');
        const r = observe(await request(ports.front, { headers: { cookie: 'SERVERID=web2' } }));
        assert.equal(r.server, 'web1');
        assert.deepEqual(r.setCookie, ['SERVERID=web1; path=/']);
      } finally {
        await stopDaemon(y);
      }
    },
  );
});
