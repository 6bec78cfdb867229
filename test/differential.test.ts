// Differential check against real HAProxy (issue 5): the same haproxy.cfg (the tutorial
// configuration plus a few error-case proxies; only the listening ports differ) under
// `haproxy -db -f` and under gatehouse (-D -p), in front of the same backends. The same sequence
// of requests goes to each; every assertion compares what HAProxy answered with what gatehouse
// answered, both measured here: roundrobin order, cookie persistence (Set-Cookie, pinning,
// forged cookies, indirect stripping, nocache), error statuses (redispatch, all down, garbage,
// timeout) and the stats CSV.
import { test, describe, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request, tmpFile, type Backend, type Proc, type Reply } from './helpers/net';
import {
  distinctPorts,
  garbageBackend,
  haproxyBinary,
  killIfOurs,
  parseSeen,
  slowBackend,
  startDaemon,
  startHaproxy,
  stopDaemon,
  tutorialCfg,
  webBackend,
  type Daemon,
} from './helpers/haproxy';

const HAPROXY = haproxyBinary();
const SKIP =
  HAPROXY === null && process.env.CI !== 'true'
    ? 'haproxy is not installed (apt-get install haproxy; .ci/run installs it, and in CI this test must run)'
    : false;

interface SidePorts {
  front: number;
  stats: number;
  redispatch: number;
  alldown: number;
  garbage: number;
  slow: number;
}

interface Upstreams {
  web1: number;
  web2: number;
  dead1: number;
  dead2: number;
  garbage: number;
  slow: number;
}

const SERVER_TIMEOUT_MS = 300;

/** The tutorial config plus error-case proxies; identical text for both sides but the bind ports. */
function configFor(p: SidePorts, u: Upstreams): string {
  return tutorialCfg(
    { front: p.front, stats: p.stats, web1: u.web1, web2: u.web2 },
    `
listen redispatch
    bind 127.0.0.1:${p.redispatch}
    balance roundrobin
    retries 2
    option redispatch
    timeout connect 200ms
    cookie SERVERID insert indirect nocache
    server dead 127.0.0.1:${u.dead1} cookie dead
    server live 127.0.0.1:${u.web1} cookie live

listen alldown
    bind 127.0.0.1:${p.alldown}
    balance roundrobin
    retries 2
    option redispatch
    timeout connect 200ms
    server dead1 127.0.0.1:${u.dead1}
    server dead2 127.0.0.1:${u.dead2}

listen garbage
    bind 127.0.0.1:${p.garbage}
    server bad 127.0.0.1:${u.garbage}

listen slow
    bind 127.0.0.1:${p.slow}
    timeout server ${SERVER_TIMEOUT_MS}ms
    server slow 127.0.0.1:${u.slow}
`,
  );
}

function sidePorts(ports: number[]): SidePorts {
  const [front, stats, redispatch, alldown, garbage, slow] = ports;
  return { front, stats, redispatch, alldown, garbage, slow };
}

/** One answer from the tutorial backend, as seen by the client and by the backend. */
interface Obs {
  status: number;
  server: string | null;
  setCookie: string[] | null;
  cacheControl: string[];
  backendCookie: string | null;
}

function headerValues(r: Reply, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i].toLowerCase() === name) out.push(r.rawHeaders[i + 1]);
  return out;
}

function observe(r: Reply): Obs {
  let server: string | null = null;
  let backendCookie: string | null = null;
  if (r.status < 500 && String(r.headers['content-type']).includes('json') && r.body.length > 0) {
    const seen = parseSeen(r.body);
    server = seen.server;
    backendCookie = seen.cookie;
  }
  return {
    status: r.status,
    server,
    setCookie: (r.headers['set-cookie'] as string[] | undefined) ?? null,
    cacheControl: headerValues(r, 'cache-control'),
    backendCookie,
  };
}

/** A balanced answer (a fresh cookie naming the server that answered) with the server name hidden. */
function anonymize(o: Obs): Obs {
  if (o.server !== null && o.setCookie?.length === 1 && o.setCookie[0] === `SERVERID=${o.server}; path=/`) {
    return { ...o, server: '(balanced)', setCookie: ['SERVERID=(the server that answered); path=/'] };
  }
  return o;
}

const show = (x: unknown) => JSON.stringify(x);

// Where an answer could carry an inserted cookie, the backend's response has an ETag: HAProxy 2.6
// adds nocache's `Cache-control: private` only to cacheable responses with a validator or
// freshness information (the nocache tests below compare both kinds), which would otherwise
// show up in every comparison.
const CACHEABLE = '/?h=ETag:"v1"';

describe('differential: the same haproxy.cfg under HAProxy and gatehouse', { skip: SKIP }, () => {
  let web1: Backend, web2: Backend, slow: Backend;
  let garbage: { port: number; close(): Promise<void> };
  let up: Upstreams;
  let hp: SidePorts, gp: SidePorts;
  let hap: Proc | null = null;
  let gh: Daemon | null = null;
  /** both picked the same first server for roundrobin (set by the first test) */
  let sameStart = true;

  /** The same request against each side, HAProxy first. */
  async function both<T>(fn: (p: SidePorts) => Promise<T>): Promise<{ haproxy: T; gatehouse: T }> {
    const haproxy = await fn(hp);
    const gatehouse = await fn(gp);
    return { haproxy, gatehouse };
  }

  before(async () => {
    if (HAPROXY === null) throw new Error('haproxy is not installed, and CI=true requires the differential check');
    web1 = await webBackend('web1');
    web2 = await webBackend('web2');
    slow = await slowBackend(SERVER_TIMEOUT_MS * 5);
    garbage = await garbageBackend();
    const [dead1, dead2, ...mine] = await distinctPorts(14, [web1.port, web2.port, slow.port, garbage.port]);
    up = { web1: web1.port, web2: web2.port, dead1, dead2, garbage: garbage.port, slow: slow.port };
    hp = sidePorts(mine.slice(0, 6));
    gp = sidePorts(mine.slice(6, 12));
    const hapText = configFor(hp, up);
    const ghText = configFor(gp, up);
    // the two files differ in their bind ports only
    const normalize = (t: string, p: SidePorts) => Object.values(p).reduce((s: string, port) => s.split(`:${port}\n`).join(':PORT\n'), t);
    assert.equal(normalize(hapText, hp), normalize(ghText, gp));

    hap = await startHaproxy(HAPROXY, hapText, Object.values(hp));
    gh = await startDaemon(tmpFile('haproxy.cfg', ghText));
    assert.equal(gh.code, 0, `gatehouse -D failed:\n${gh.output}`);
    assert.ok(gh.pid !== null, 'gatehouse wrote no pidfile');
  });

  after(async () => {
    if (gh && !(await stopDaemon(gh, 5000))) killIfOurs(gh);
    if (hap) await hap.stop();
    await Promise.all([web1?.close(), web2?.close(), slow?.close(), garbage?.close()]);
  });

  test('(a) roundrobin: the order of server choices over 20 fresh connections', async (t: TestContext) => {
    const seq = await both(async (p) => {
      const out: string[] = [];
      for (let i = 0; i < 20; i++) {
        const o = observe(await request(p.front));
        assert.equal(o.status, 200);
        out.push(String(o.server));
      }
      return out;
    });
    t.diagnostic(`haproxy:   ${seq.haproxy.join(' ')}`);
    t.diagnostic(`gatehouse: ${seq.gatehouse.join(' ')}`);
    sameStart = seq.haproxy[0] === seq.gatehouse[0];
    if (!sameStart) t.diagnostic(`first pick differs: haproxy ${seq.haproxy[0]}, gatehouse ${seq.gatehouse[0]}; comparing modulo rotation`);
    const rotations = seq.haproxy.map((_, k) => [...seq.haproxy.slice(k), ...seq.haproxy.slice(0, k)]);
    const k = rotations.findIndex((r) => show(r) === show(seq.gatehouse));
    assert.ok(k >= 0, `gatehouse's order is not HAProxy's (even rotated):\nhaproxy   ${seq.haproxy}\ngatehouse ${seq.gatehouse}`);
    // same number of picks per server, whatever the rotation
    const count = (s: string[]) => show([...s].sort());
    assert.equal(count(seq.gatehouse), count(seq.haproxy));
  });

  test('(a) the first roundrobin pick is the same server', () => {
    assert.ok(sameStart, 'HAProxy and gatehouse start roundrobin at different servers (see the diagnostics above)');
  });

  test('(b) first answers: the Set-Cookie each server inserts', async () => {
    const r = await both(async (p) => {
      const out: Obs[] = [];
      for (let i = 0; i < 4; i++) out.push(observe(await request(p.front, { path: CACHEABLE })));
      return out;
    });
    const norm = (a: Obs[]) => (sameStart ? a : a.map(anonymize));
    assert.deepEqual(norm(r.gatehouse), norm(r.haproxy));
    // and the pairs server -> cookie value, whatever the order
    const pairs = (a: Obs[]) => show([...new Set(a.map((o) => `${o.server}=>${o.setCookie}`))].sort());
    assert.equal(pairs(r.gatehouse), pairs(r.haproxy));
  });

  test('(b) pinning: a client with SERVERID=web2 then web1 stays there; indirect hides the cookie from the server', async () => {
    const r = await both(async (p) => {
      const out: Obs[] = [];
      for (let i = 0; i < 10; i++) out.push(observe(await request(p.front, { path: CACHEABLE, headers: { cookie: 'lang=en; SERVERID=web2; theme=dark' } })));
      for (let i = 0; i < 3; i++) out.push(observe(await request(p.front, { path: CACHEABLE, headers: { cookie: 'SERVERID=web1; lang=en' } })));
      return out;
    });
    assert.deepEqual(r.gatehouse, r.haproxy);
  });

  /** Each Cookie header once against each side (cacheable answers, see the nocache tests). */
  async function cookieDiff(variants: string[]): Promise<string[]> {
    const r = await both(async (p) => {
      const out: Record<string, Obs> = {};
      for (const cookie of variants) out[cookie] = observe(await request(p.front, { path: CACHEABLE, headers: { cookie } }));
      return out;
    });
    const mismatches: string[] = [];
    for (const v of variants) {
      const h = sameStart ? r.haproxy[v] : anonymize(r.haproxy[v]);
      const g = sameStart ? r.gatehouse[v] : anonymize(r.gatehouse[v]);
      if (show(h) !== show(g)) mismatches.push(`Cookie: ${v}\n  haproxy   ${show(h)}\n  gatehouse ${show(g)}`);
    }
    return mismatches;
  }

  test('(b) forged, empty, duplicated and look-alike cookies: server choice, Set-Cookie, what the server sees', async () => {
    const variants = [
      'SERVERID=web9',
      'SERVERID=web9; x=1',
      'SERVERID=',
      'serverid=web2',
      'SERVERID=web2',
      'a=1;SERVERID=web2',
      'a=1; SERVERID=web1; b=2',
      'SERVERID=web1; SERVERID=web2',
      'SERVERID=web9; SERVERID=web2',
      'SERVERID="web2"',
    ];
    const mismatches = await cookieDiff(variants);
    assert.deepEqual(mismatches, [], mismatches.join('\n'));
  });

  test('(b) indirect: the Cookie header the server sees, for delimiters, spaces, commas, quotes and $attributes', async () => {
    const variants = [
      'x=1; SERVERID=web2;',
      'x=1;SERVERID=web2;',
      'x=1;  SERVERID=web2  ;',
      'x=1; SERVERID=web2;;',
      'x=1;; SERVERID=web2',
      'SERVERID=web2;;x',
      'SERVERID=web2;',
      'x=1 ; SERVERID=web2 ; y=2',
      'x = 1; SERVERID = web2; y = 2',
      'x = 1; y = 2',
      'x=1 ; y=2',
      'x=1,SERVERID=web2',
      'SERVERID=web2,x=1',
      'x=1 ,SERVERID=web2, y=2',
      'x="a;b"; SERVERID=web2',
      'x="a\\";b"; SERVERID=web2; y=2',
      'x="unterminated; SERVERID=web2',
      'x=1; SERVERID; y=2',
      '$Version=1; SERVERID=web2; $Path=/; x=1',
      'a=1; SERVERID=web2; b=2; SERVERID=web1; c=3',
      'x=; SERVERID=web2; =y',
    ];
    // and 150 headers made of the same pieces, with a fixed seed
    const pieces = ['SERVERID', '=', 'web1', 'web2', ';', ',', ' ', '\t', '"', '\\', '$', 'x', 'y=2'];
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
    while (variants.length < 21 + 150) {
      let v = '';
      for (let n = 1 + Math.floor(rnd() * 10); n > 0; n--) v += pieces[Math.floor(rnd() * pieces.length)];
      v = v.trim(); // node:http trims header values on both sides anyway
      if (v !== '' && !variants.includes(v)) variants.push(v);
    }
    const mismatches = await cookieDiff(variants);
    assert.deepEqual(mismatches, [], mismatches.join('\n'));
  });

  // nocache: HAProxy adds `Cache-control: private` only when it inserts the cookie into a response
  // it considers cacheable. Each variant shapes the backend's response; both sides get the same.
  const withValidator: [string, string, string][] = [
    ['GET', '/?h=Last-Modified:Mon,%2001%20Jan%202024%2000:00:00%20GMT', 'Last-Modified'],
    ['GET', '/?h=ETag:"x"', 'ETag'],
    ['GET', '/?h=Expires:Thu,%2001%20Jan%202099%2000:00:00%20GMT', 'Expires'],
    ['GET', '/?h=Cache-Control:max-age%3D60', 'Cache-Control: max-age=60'],
    ['GET', '/?h=Cache-Control:s-maxage%3D60', 'Cache-Control: s-maxage=60'],
    ['GET', '/?h=Cache-Control:public,%20max-age%3D60', 'Cache-Control: public, max-age=60'],
    ['GET', '/?h=Cache-Control:private,%20max-age%3D60', 'Cache-Control: private, max-age=60'],
    ['GET', '/?h=Cache-Control:no-cache&h=ETag:"x"', 'Cache-Control: no-cache + ETag'],
    ['GET', '/?h=Cache-Control:max-age%3D0', 'Cache-Control: max-age=0'],
    ['GET', '/?h=Pragma:no-cache&h=ETag:"x"', 'Pragma: no-cache + ETag'],
    ['GET', '/?status=404&h=ETag:"x"', '404 + ETag'],
    ['GET', '/?status=203&h=ETag:"x"', '203 + ETag'],
    ['GET', '/?status=201&h=ETag:"x"', '201 + ETag'],
    ['GET', '/?status=302&h=ETag:"x"', '302 + ETag'],
    ['GET', '/?status=500&h=ETag:"x"', '500 + ETag'],
    ['HEAD', '/?h=ETag:"x"', 'HEAD + ETag'],
    ['OPTIONS', '/?h=ETag:"x"', 'OPTIONS + ETag'],
    ['POST', '/?h=ETag:"x"', 'POST + ETag'],
    ['DELETE', '/?h=ETag:"x"', 'DELETE + ETag'],
  ];
  // responses with neither a validator (ETag, Last-Modified) nor freshness (max-age, s-maxage, Expires)
  const withoutValidator: [string, string, string][] = [
    ['GET', '/', 'plain 200 (node:http defaults)'],
    ['GET', '/?h=Cache-Control:public', 'Cache-Control: public'],
    ['GET', '/?status=404', 'plain 404'],
  ];

  async function nocacheDiff(variants: [string, string, string][]): Promise<string[]> {
    const r = await both(async (p) => {
      const out: { inserted: boolean; cacheControl: string[]; status: number }[] = [];
      for (const [method, path] of variants) {
        const o = observe(await request(p.front, { method, path }));
        out.push({ status: o.status, inserted: (o.setCookie ?? []).some((c) => c.startsWith('SERVERID=')), cacheControl: o.cacheControl });
      }
      return out;
    });
    const mismatches: string[] = [];
    variants.forEach(([method, , label], i) => {
      if (show(r.haproxy[i]) !== show(r.gatehouse[i]))
        mismatches.push(`${method} ${label}\n  haproxy   ${show(r.haproxy[i])}\n  gatehouse ${show(r.gatehouse[i])}`);
    });
    return mismatches;
  }

  test('(b) nocache: Cache-Control: private on the same responses (cacheable ones with a validator or freshness)', async () => {
    const mismatches = await nocacheDiff(withValidator);
    assert.deepEqual(mismatches, [], mismatches.join('\n'));
  });

  test(
    '(b) nocache: responses with neither validator nor freshness information',
    {},
    async () => {
      const mismatches = await nocacheDiff(withoutValidator);
      assert.deepEqual(mismatches, [], mismatches.join('\n'));
    },
  );

  test('(c) one server down (port closed), option redispatch + retries: the same statuses and servers', async (t: TestContext) => {
    const r = await both(async (p) => {
      const out: Obs[] = [];
      for (let i = 0; i < 4; i++) out.push(observe(await request(p.redispatch, { path: CACHEABLE })));
      // a cookie naming the dead server: tried, then redispatched and re-pinned
      out.push(observe(await request(p.redispatch, { path: CACHEABLE, headers: { cookie: 'SERVERID=dead' } })));
      out.push(observe(await request(p.redispatch, { path: CACHEABLE, headers: { cookie: 'SERVERID=live' } })));
      return out;
    });
    t.diagnostic(`haproxy:   ${show(r.haproxy.map((o) => [o.status, o.server, o.setCookie]))}`);
    t.diagnostic(`gatehouse: ${show(r.gatehouse.map((o) => [o.status, o.server, o.setCookie]))}`);
    // the scenario did exercise redispatch: HAProxy itself answered every request
    assert.ok(r.haproxy.every((o) => o.status === 200), 'HAProxy did not answer 200 to all: the scenario is broken');
    assert.deepEqual(r.gatehouse, r.haproxy);
  });

  /** One request to a proxy of each side; status, body and content type. */
  async function errorCase(t: TestContext, port: (p: SidePorts) => number, expect: number) {
    const r = await both(async (p) => {
      const x = await request(port(p));
      return { status: x.status, contentType: String(x.headers['content-type']), body: x.body.toString() };
    });
    t.diagnostic(`haproxy:   ${r.haproxy.status} ${show(r.haproxy.body)}`);
    t.diagnostic(`gatehouse: ${r.gatehouse.status} ${show(r.gatehouse.body)}`);
    // guard: the scenario produced the error under HAProxy (else the comparison proves nothing)
    assert.equal(r.haproxy.status, expect, `HAProxy answered ${r.haproxy.status}: the scenario is broken`);
    assert.equal(r.gatehouse.status, r.haproxy.status);
    assert.equal(r.gatehouse.body, r.haproxy.body);
    assert.equal(r.gatehouse.contentType, r.haproxy.contentType);
  }

  test('(c) both servers down (ports closed): the same status and page', (t) => errorCase(t, (p) => p.alldown, 503));
  test('(c) a server answering garbage: the same status and page', (t) => errorCase(t, (p) => p.garbage, 502));
  test('(c) a server slower than timeout server: the same status and page', (t) => errorCase(t, (p) => p.slow, 504));

  async function statsRows() {
    const auth = 'Basic ' + Buffer.from('admin:password').toString('base64');
    return both(async (p) => {
      const x = await request(p.stats, { path: '/haproxy?stats;csv', headers: { authorization: auth } });
      assert.equal(x.status, 200);
      const lines = x.body.toString().trim().split('\n');
      const cols = lines[0].replace(/^# /, '').split(',').filter((c) => c !== '');
      const status = cols.indexOf('status');
      const rows = lines.slice(1).map((l) => l.split(','));
      return {
        cols,
        names: rows.map((f) => `${f[0]},${f[1]}`).sort(),
        statuses: rows.map((f) => `${f[0]},${f[1]},${f[status]}`).sort(),
      };
    });
  }

  test('(d) stats CSV: the same columns (gatehouse a prefix of HAProxy 2.6) and rows', async () => {
    const r = await statsRows();
    assert.deepEqual(r.gatehouse.cols, r.haproxy.cols.slice(0, r.gatehouse.cols.length));
    assert.ok(r.gatehouse.cols.includes('agg_check_status'));
    assert.deepEqual(r.gatehouse.names, r.haproxy.names);
  });

  test(
    '(d) stats CSV: the same status for every row',
    {},
    async () => {
      const r = await statsRows();
      assert.deepEqual(r.gatehouse.statuses, r.haproxy.statuses);
    },
  );
});
