// Stats listener end to end over real HTTP on 127.0.0.1: counters recorded by two in-process
// workers (slabs + WorkerTelemetry), merged by PrimaryTelemetry, served as HTML, CSV, JSON and
// Prometheus; admin POSTs land in the shared state.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, request } from './helpers/net';
import { FakeWorker, backend, config, frontend, record, server, stats } from './stats-fixture';
import { LogSink } from '../src/log/sink';
import {
  ADMIN_DRAIN, ADMIN_MAINT, ADMIN_READY, S_ADMIN, S_CHECK_CODE, S_CHECK_DURATION, S_CHECK_HEALTH, S_CHECK_STATUS,
  S_HEALTH, S_WEIGHT, SharedState, checkStatusIndex,
} from '../src/shared/state';
import { PrimaryTelemetry } from '../src/stats/telemetry-primary';
import { WorkerTelemetry } from '../src/stats/telemetry-worker';

// HAProxy 2.6 management guide, 9.1: written out here independently of src/stats/columns.ts.
const HAPROXY_26_HEADER =
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,' +
  'chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,' +
  'check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,' +
  'cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,' +
  'agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,' +
  'addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,' +
  'srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,' +
  'uweight,agg_server_status,agg_server_check_status,agg_check_status,';

const URI = '/haproxy?stats';
const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
const GOOD = basic('admin', 's3cret');

// ---------- a strict Prometheus text-format (0.0.4) parser ----------
interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { name: string; type: string; help: string | null; samples: Sample[] }

function parseValue(s: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  assert.match(s, /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/, `bad value "${s}"`);
  return Number(s);
}

function parseLabels(s: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    assert.ok(m, `bad label at "${s.slice(i)}" in: ${line}`);
    i += m[0].length;
    let v = '';
    for (;;) {
      assert.ok(i < s.length, `unterminated label value in: ${line}`);
      const c = s[i++];
      if (c === '"') break;
      if (c === '\\') {
        const e = s[i++];
        assert.ok(e === '\\' || e === '"' || e === 'n', `bad escape \\${e} in: ${line}`);
        v += e === 'n' ? '\n' : e;
      } else {
        assert.notEqual(c, '\n');
        v += c;
      }
    }
    assert.ok(!(m[1] in out), `duplicate label ${m[1]} in: ${line}`);
    out[m[1]] = v;
    if (i < s.length) {
      assert.equal(s[i], ',', `expected , in: ${line}`);
      i++;
    }
  }
  return out;
}

function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'exposition must end with a newline');
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | null = null;
  const familyOf = (name: string): string => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && families.has(base) && ['histogram', 'summary'].includes(families.get(base)!.type)) {
        if (suffix === '_bucket') assert.equal(families.get(base)!.type, 'histogram', `${name} outside a histogram`);
        return base;
      }
    }
    return name;
  };
  const enter = (name: string) => {
    if (current !== name) {
      assert.ok(!closed.has(name), `family ${name} is not contiguous`);
      if (current) closed.add(current);
      current = name;
    }
  };
  for (const line of text.slice(0, -1).split('\n')) {
    assert.notEqual(line, '', 'empty line');
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!m) continue; // plain comment
      const [, kind, name, rest] = m;
      enter(name);
      let f = families.get(name);
      if (!f) families.set(name, (f = { name, type: 'untyped', help: null, samples: [] }));
      if (kind === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), `bad type ${rest}`);
        assert.equal(f.samples.length, 0, `TYPE after samples for ${name}`);
        assert.equal(f.type, 'untyped', `second TYPE for ${name}`);
        f.type = rest;
      } else {
        assert.equal(f.help, null, `second HELP for ${name}`);
        assert.doesNotMatch(rest.replace(/\\[\\n]/g, ''), /\\/, `bad escape in HELP of ${name}`);
        f.help = rest;
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    const [, name, labelText, value] = m;
    const labels = labelText ? parseLabels(labelText, line) : {};
    const fam = familyOf(name);
    enter(fam);
    let f = families.get(fam);
    if (!f) families.set(fam, (f = { name: fam, type: 'untyped', help: null, samples: [] }));
    const key = name + JSON.stringify(Object.entries(labels).sort());
    assert.ok(!series.has(key), `duplicate series ${line}`);
    series.add(key);
    const v = parseValue(value);
    if (f.type === 'counter') assert.ok(v >= 0, `negative counter ${line}`);
    if (f.type === 'histogram' && name.endsWith('_bucket')) assert.ok('le' in labels, `bucket without le: ${line}`);
    if (f.type === 'summary' && name === fam) assert.ok('quantile' in labels, `summary sample without quantile: ${line}`);
    f.samples.push({ name, labels, value: v });
  }
  // Histograms: per series, buckets ascending in le, cumulative, +Inf == _count.
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      void le;
      const k = JSON.stringify(Object.entries(rest).sort());
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(s);
    }
    for (const [k, ss] of groups) {
      const buckets = ss.filter((s) => s.name.endsWith('_bucket'));
      const count = ss.find((s) => s.name.endsWith('_count'));
      assert.ok(buckets.length > 0 && count && ss.find((s) => s.name.endsWith('_sum')), `incomplete histogram ${f.name} ${k}`);
      let prevLe = -Infinity;
      let prev = 0;
      for (const b of buckets) {
        const le = parseValue(b.labels.le);
        assert.ok(le > prevLe, `le not increasing in ${f.name}`);
        assert.ok(b.value >= prev, `bucket counts not cumulative in ${f.name}`);
        prevLe = le;
        prev = b.value;
      }
      assert.equal(prevLe, Infinity, `${f.name} lacks le="+Inf"`);
      assert.equal(prev, count!.value, `${f.name} +Inf bucket != _count`);
    }
  }
  return families;
}

function sample(fams: Map<string, Family>, fam: string, name: string, labels: Record<string, string>): number {
  const f = fams.get(fam);
  assert.ok(f, `no family ${fam}`);
  const s = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  assert.ok(s, `no sample ${name}${JSON.stringify(labels)}`);
  return s.value;
}

// ---------- CSV ----------
function parseCsv(text: string): { header: string; rows: Record<string, string>[] } {
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'CSV ends with a newline');
  const header = lines[0];
  const cols = header.slice(2).split(',');
  assert.equal(cols.pop(), '', 'header ends with a comma');
  const rows = lines.slice(1).map((l) => {
    const cells = l.split(',');
    assert.equal(cells.length, cols.length + 1, `row has ${cells.length - 1} cells, header ${cols.length}: ${l}`);
    assert.equal(cells.pop(), '');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i]]));
  });
  return { header, rows };
}

describe('stats listener', () => {
  let primary: PrimaryTelemetry;
  let state: SharedState;
  let port: number;
  let openPort: number;
  let workers: FakeWorker[];
  const cfgPromise = (async () => {
    port = await freePort();
    openPort = await freePort();
    return config(
      [
        frontend('http_in', await freePort(), { defaultBackend: 'app' }),
        frontend('stats', port, { fromListen: true, stats: stats() }),
        // no auth: pages are public, admin must stay off even though admin: true
        frontend('open_stats', openPort, { stats: stats({ auth: [], refresh: 0, prometheus: null }) }),
      ],
      [
        backend('app', [server('web1', 9001), server('web2', 9002), server('web3', 9003, { backup: true, check: false })]),
        backend('api', [server('api1', 9101), server('api2', 9102, { disabled: true })]),
      ],
    );
  })();

  before(async () => {
    const cfg = await cfgPromise;
    state = SharedState.create(cfg);
    primary = new PrimaryTelemetry(cfg, state, new LogSink([]));
    workers = [0, 1].map((id) => {
      let w: FakeWorker;
      const wt = new WorkerTelemetry(cfg, id, (msg) => setImmediate(() => assert.ok(primary.onWorkerMessage(id, msg))));
      w = new FakeWorker(cfg, wt);
      primary.addWorker(id, w.slab, (msg) => setImmediate(() => assert.ok(wt.onMessage(msg))));
      return w;
    });
    // Health as the health thread would publish it.
    state.set(0, S_CHECK_STATUS, checkStatusIndex('L7OK'));
    state.set(0, S_CHECK_CODE, 200);
    state.set(0, S_CHECK_DURATION, 3);
    state.set(0, S_CHECK_HEALTH, 4);
    state.set(1, S_CHECK_STATUS, checkStatusIndex('L7STS'));
    state.set(1, S_CHECK_CODE, 500);
    state.set(1, S_CHECK_HEALTH, 2); // one failure of fall=3: "UP 1/3"
    state.set(3, S_HEALTH, 0);
    state.set(3, S_CHECK_STATUS, checkStatusIndex('L4CON'));
    // Traffic: per worker 15 x web1 at 50 ms, 10 x web2 at 200 ms, 1 x 503 without a server.
    for (const w of workers) {
      for (let i = 0; i < 15; i++) w.request(record({ server: 0, ta: 50, bytesOut: 100, bytesIn: 10 }));
      for (let i = 0; i < 10; i++) w.request(record({ server: 1, ta: 200, bytesOut: 1000, bytesIn: 20, status: 404 }));
      w.request(record({ server: -1, ta: 1, status: 503, bytesOut: 200, bytesIn: 5, termination: 'SC' }));
    }
    await primary.startStatsServers();
  });

  after(async () => {
    await primary.stop();
  });

  test('auth matrix: page, CSV, JSON, Prometheus and admin', async () => {
    const cases: [string, string | undefined, number][] = [
      ['none', undefined, 401],
      ['wrong user', basic('root', 's3cret'), 401],
      ['wrong password', basic('admin', 's3cre'), 401],
      ['garbage', 'Basic !!!', 401],
      ['right', GOOD, 200],
    ];
    const targets: { path: string; method: string; okStatus: number }[] = [
      { path: URI, method: 'GET', okStatus: 200 },
      { path: `${URI};csv`, method: 'GET', okStatus: 200 },
      { path: `${URI};json`, method: 'GET', okStatus: 200 },
      { path: '/metrics', method: 'GET', okStatus: 200 },
      { path: URI, method: 'POST', okStatus: 303 },
      { path: '/nothing-here', method: 'GET', okStatus: 404 },
    ];
    for (const t of targets) {
      for (const [what, auth, expected] of cases) {
        const headers: Record<string, string> = {};
        if (auth) headers.authorization = auth;
        const body = t.method === 'POST' ? 'b=app&s=web3&action=ready' : undefined;
        if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
        const r = await request(port, { method: t.method, path: t.path, headers, body });
        const want = expected === 200 ? t.okStatus : expected;
        assert.equal(r.status, want, `${t.method} ${t.path} with ${what}`);
        if (want === 401) {
          assert.equal(r.headers['www-authenticate'], 'Basic realm="HAProxy Statistics"');
          const text = r.body.toString();
          for (const secret of ['web1', 'app', 'http_in', 'pxname', 'haproxy_']) assert.ok(!text.includes(secret), `401 leaks ${secret}`);
        }
      }
    }
  });

  test('CSV: HAProxy 2.6 header and the recorded counters', async () => {
    const r = await request(port, { path: `${URI};csv`, headers: { authorization: GOOD } });
    assert.equal(r.status, 200);
    const { header, rows } = parseCsv(r.body.toString());
    assert.equal(header, HAPROXY_26_HEADER);
    const names = rows.map((x) => `${x.pxname}/${x.svname}`);
    assert.deepEqual(names, [
      'http_in/FRONTEND', 'stats/FRONTEND', 'open_stats/FRONTEND',
      'app/web1', 'app/web2', 'app/web3', 'app/BACKEND', 'api/api1', 'api/api2', 'api/BACKEND',
    ]);
    const row = (px: string, sv: string) => rows.find((x) => x.pxname === px && x.svname === sv)!;
    const fe = row('http_in', 'FRONTEND');
    assert.equal(fe.stot, '52');
    assert.equal(fe.req_tot, '52');
    assert.equal(fe.hrsp_2xx, '30');
    assert.equal(fe.hrsp_4xx, '20');
    assert.equal(fe.hrsp_5xx, '2');
    assert.equal(fe.bout, String(30 * 100 + 20 * 1000 + 2 * 200));
    assert.equal(fe.bin, String(30 * 10 + 20 * 20 + 2 * 5));
    assert.equal(fe.status, 'OPEN');
    assert.equal(fe.type, '0');
    const w1 = row('app', 'web1');
    assert.equal(w1.stot, '30');
    assert.equal(w1.lbtot, '30');
    assert.equal(w1.hrsp_2xx, '30');
    assert.equal(w1.bout, '3000');
    assert.equal(w1.status, 'UP');
    assert.equal(w1.weight, '1');
    assert.equal(w1.act, '1');
    assert.equal(w1.bck, '0');
    assert.equal(w1.type, '2');
    assert.equal(w1.sid, '1');
    assert.equal(w1.check_status, 'L7OK');
    assert.equal(w1.check_code, '200');
    assert.equal(w1.check_duration, '3');
    assert.equal(w1.addr, '127.0.0.1:9001');
    assert.equal(w1.ttime, '50');
    assert.equal(row('app', 'web2').status, 'UP 1/3');
    assert.equal(row('app', 'web2').hrsp_4xx, '20');
    assert.equal(row('app', 'web3').status, 'no check');
    assert.equal(row('app', 'web3').bck, '1');
    assert.equal(row('app', 'web3').check_status, '');
    const be = row('app', 'BACKEND');
    assert.equal(be.stot, '52');
    assert.equal(be.status, 'UP');
    assert.equal(be.act, '2');
    assert.equal(be.bck, '1');
    assert.equal(be.weight, '2');
    assert.equal(be.algo, 'roundrobin');
    assert.equal(be.type, '1');
    assert.equal(row('api', 'api1').status, 'DOWN');
    assert.equal(row('api', 'api1').check_status, 'L4CON');
    assert.equal(row('api', 'api2').status, 'MAINT');
    assert.equal(row('api', 'BACKEND').status, 'DOWN');
    // iid: a listen's halves share the id; every row of one proxy has the same one.
    assert.equal(w1.iid, be.iid);
    assert.notEqual(row('api', 'BACKEND').iid, be.iid);
  });

  test('JSON: percentiles from the merged worker histograms', async () => {
    const r = await request(port, { path: `${URI};json`, headers: { authorization: GOOD } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const doc = JSON.parse(r.body.toString()) as { info: Record<string, unknown>; stats: Record<string, any>[] };
    assert.equal(doc.info.workers, 2);
    const get = (px: string, sv: string) => doc.stats.find((x) => x.pxname === px && x.svname === sv)!;
    const near = (v: number, want: number, what: string) => assert.ok(Math.abs(v - want) <= want * 0.002, `${what}: ${v} vs ${want}`);
    const w1 = get('app', 'web1').latency_ms;
    assert.equal(w1.count, 30);
    near(w1.p50, 50, 'web1 p50');
    near(w1.p999, 50, 'web1 p99.9');
    const w2 = get('app', 'web2').latency_ms;
    assert.equal(w2.count, 20);
    near(w2.p50, 200, 'web2 p50');
    // Backend: 30 at 50 ms, 20 at 200 ms, 2 at 1 ms -> p50 = 50, p90 and p99 = 200.
    const be = get('app', 'BACKEND').latency_ms;
    assert.equal(be.count, 52);
    near(be.p50, 50, 'backend p50');
    near(be.p90, 200, 'backend p90');
    near(be.p99, 200, 'backend p99');
    assert.equal(get('http_in', 'FRONTEND').latency_ms.count, 52);
    assert.equal(get('api', 'api1').latency_ms, null);
    assert.equal(get('app', 'web1').stot, 30);
  });

  test('Prometheus: strict exposition with HAProxy names and latency histograms', async () => {
    const r = await request(port, { path: '/metrics', headers: { authorization: GOOD } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const f = parseExposition(r.body.toString());
    assert.equal(sample(f, 'haproxy_frontend_http_requests_total', 'haproxy_frontend_http_requests_total', { proxy: 'http_in' }), 52);
    assert.equal(f.get('haproxy_frontend_http_requests_total')!.type, 'counter');
    assert.equal(sample(f, 'haproxy_backend_http_responses_total', 'haproxy_backend_http_responses_total', { proxy: 'app', code: '4xx' }), 20);
    assert.equal(sample(f, 'haproxy_server_http_responses_total', 'haproxy_server_http_responses_total', { proxy: 'app', server: 'web1', code: '2xx' }), 30);
    assert.equal(sample(f, 'haproxy_server_status', 'haproxy_server_status', { proxy: 'app', server: 'web1', state: 'UP' }), 1);
    assert.equal(sample(f, 'haproxy_server_status', 'haproxy_server_status', { proxy: 'api', server: 'api2', state: 'MAINT' }), 1);
    assert.equal(sample(f, 'haproxy_server_status', 'haproxy_server_status', { proxy: 'api', server: 'api1', state: 'DOWN' }), 1);
    assert.equal(sample(f, 'haproxy_server_check_status', 'haproxy_server_check_status', { proxy: 'app', server: 'web1', state: 'L7OK' }), 1);
    assert.equal(sample(f, 'haproxy_backend_active_servers', 'haproxy_backend_active_servers', { proxy: 'app' }), 2);
    assert.equal(sample(f, 'haproxy_server_total_time_average_seconds', 'haproxy_server_total_time_average_seconds', { proxy: 'app', server: 'web2' }), 0.2);
    const h = 'gatehouse_server_request_duration_seconds';
    assert.equal(f.get(h)!.type, 'histogram');
    assert.equal(sample(f, h, `${h}_bucket`, { proxy: 'app', server: 'web1', le: '0.025' }), 0);
    assert.equal(sample(f, h, `${h}_bucket`, { proxy: 'app', server: 'web1', le: '0.05' }), 30);
    assert.equal(sample(f, h, `${h}_count`, { proxy: 'app', server: 'web2' }), 20);
    assert.equal(sample(f, h, `${h}_bucket`, { proxy: 'app', server: 'web2', le: '0.1' }), 0);
    assert.equal(sample(f, h, `${h}_bucket`, { proxy: 'app', server: 'web2', le: '0.25' }), 20);
    const q = 'gatehouse_backend_request_duration_quantiles_seconds';
    assert.equal(f.get(q)!.type, 'summary');
    const p90 = sample(f, q, q, { proxy: 'app', quantile: '0.9' });
    assert.ok(Math.abs(p90 - 0.2) < 0.001, `p90 ${p90}`);
  });

  test('admin: drain, maint, weight and ready reach the shared state', async () => {
    const post = (body: string, extra: Record<string, string> = {}) =>
      request(port, { method: 'POST', path: URI, body, headers: { authorization: GOOD, 'content-type': 'application/x-www-form-urlencoded', ...extra } });
    const gen0 = state.backendGen(0);
    let r = await post('b=app&s=web1&action=drain');
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, `${URI};st=DONE`);
    assert.equal(state.get(0, S_ADMIN), ADMIN_DRAIN);
    assert.equal(state.usable(0), false);
    assert.ok(state.backendGen(0) > gen0, 'workers are told (LB_GEN bumped)');
    r = await post('b=app&s=web2&s=web3&action=maint');
    assert.equal(r.headers.location, `${URI};st=DONE`);
    assert.equal(state.get(1, S_ADMIN), ADMIN_MAINT);
    assert.equal(state.get(2, S_ADMIN), ADMIN_MAINT);
    r = await post('b=app&s=web1&action=weight&weight=7');
    assert.equal(state.get(0, S_WEIGHT), 7);
    const csv = parseCsv((await request(port, { path: `${URI};csv`, headers: { authorization: GOOD } })).body.toString()).rows;
    const find = (sv: string) => csv.find((x) => x.pxname === 'app' && x.svname === sv)!;
    assert.equal(find('web1').status, 'DRAIN');
    assert.equal(find('web1').weight, '7');
    assert.equal(find('web2').status, 'MAINT');
    assert.equal(find('BACKEND').status, 'DOWN');
    r = await post('b=app&s=web1&s=web2&s=web3&action=ready');
    assert.equal(state.get(0, S_ADMIN), ADMIN_READY);
    assert.equal(state.get(1, S_ADMIN), ADMIN_READY);
    assert.equal(state.usable(0), true);
    assert.equal((await post('b=app&s=web1&action=ready')).headers.location, `${URI};st=NONE`);
    // invalid requests change nothing
    for (const bad of ['b=app&s=web1&action=weight&weight=999', 'b=app&s=web1&action=weight&weight=-1', 'b=app&s=web1&action=explode', 'b=nope&s=web1&action=maint', 'b=app&s=ghost&action=maint']) {
      assert.equal((await post(bad)).headers.location, `${URI};st=ERRP`, bad);
    }
    assert.equal(state.get(0, S_WEIGHT), 7);
    assert.equal(state.get(0, S_ADMIN), ADMIN_READY);
    // a cross-site form post is refused even with (cached) credentials
    r = await post('b=app&s=web1&action=maint', { origin: 'http://evil.example' });
    assert.equal(r.status, 403);
    assert.equal(state.get(0, S_ADMIN), ADMIN_READY);
    r = await post('b=app&s=web1&action=weight&weight=1');
    assert.equal(state.get(0, S_WEIGHT), 1);
  });

  test('a listener without auth serves pages but refuses admin', async () => {
    const page = await request(openPort, { path: URI });
    assert.equal(page.status, 200);
    assert.ok(!page.body.toString().includes('name="action"'), 'no admin form without auth');
    const r = await request(openPort, { method: 'POST', path: URI, body: 'b=app&s=web1&action=maint', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 403);
    assert.equal(state.get(0, S_ADMIN), ADMIN_READY);
  });

  test('HTML page: a table per proxy, a row per server, latency and uptime', async () => {
    const r = await request(port, { path: URI, headers: { authorization: GOOD } });
    assert.equal(r.status, 200);
    const html = r.body.toString();
    assert.match(html, /<meta http-equiv="refresh" content="5">/);
    assert.match(html, /id="uptime" data-v="\d+"/);
    for (const s of ['web1', 'web2', 'web3', 'api1', 'api2']) assert.match(html, new RegExp(`<tr class="server [^"]*" data-server="${s}"`));
    assert.match(html, /data-server="web2" data-backend="app" data-status="UP 1\/3"/);
    assert.match(html, /data-server="web1"[^]*?<td class="p50 lat" data-v="50\.0\d*"/);
    assert.match(html, /name="action"/, 'admin form for an authenticated admin');
    assert.ok(!(await request(port, { path: `${URI};norefresh`, headers: { authorization: GOOD } })).body.toString().includes('http-equiv="refresh"'));
  });

  test('a dead worker keeps its totals; a respawned one adds to them', async () => {
    const cfg = await cfgPromise;
    primary.removeWorker(1);
    let rows = parseCsv((await request(port, { path: `${URI};csv`, headers: { authorization: GOOD } })).body.toString()).rows;
    assert.equal(rows.find((x) => x.svname === 'web1')!.stot, '30');
    let doc = JSON.parse((await request(port, { path: `${URI};json`, headers: { authorization: GOOD } })).body.toString());
    assert.equal(doc.stats.find((x: { svname: string }) => x.svname === 'web1').latency_ms.count, 30);
    // respawn: a fresh slab and fresh histograms under the same id
    const wt = new WorkerTelemetry(cfg, 1, (msg) => setImmediate(() => primary.onWorkerMessage(1, msg)));
    const w = new FakeWorker(cfg, wt);
    primary.addWorker(1, w.slab, (msg) => setImmediate(() => wt.onMessage(msg)));
    w.request(record({ server: 0, ta: 50 }));
    rows = parseCsv((await request(port, { path: `${URI};csv`, headers: { authorization: GOOD } })).body.toString()).rows;
    assert.equal(rows.find((x) => x.svname === 'web1')!.stot, '31');
    doc = JSON.parse((await request(port, { path: `${URI};json`, headers: { authorization: GOOD } })).body.toString());
    assert.equal(doc.stats.find((x: { svname: string }) => x.svname === 'web1').latency_ms.count, 31);
  });
});
