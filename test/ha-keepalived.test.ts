// Two gatehouse boxes behind keepalived (VRRP) holding a virtual address, in network
// namespaces this test creates: a LAN namespace with a bridge, boxes a and b, and a client.
// Both boxes share a stick table through peers. The client loads the VIP on fresh connections;
// box a (the master) dies (its processes killed, its link down); the VIP moves to b within
// VRRP's failover time and the client is served again, by b, which already knew the client's
// table entry. Before that, both boxes pick the same server for a persistence cookie and for a
// consistently hashed URI (the servers they share live in a fifth namespace). Needs root (ip netns) and Debian's keepalived; otherwise it skips and says why.
// `make test-ha` runs this file alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, sleep } from './helpers/net';

const TAG = `gh${process.pid % 100000}`;
const NS = { lan: `${TAG}lan`, a: `${TAG}a`, b: `${TAG}b`, c: `${TAG}c`, s: `${TAG}s` };
const IP = { a: '10.99.0.1', b: '10.99.0.2', c: '10.99.0.3', s: '10.99.0.10', vip: '10.99.0.100' };
/** the servers both boxes balance over (in namespace s), for cookie and hash persistence */
const SHARED = ['s1', 's2', 's3', 's4'];

function sh(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  return { ok: r.status === 0, err: (r.stderr || r.error?.message || '').trim() };
}

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'not root: network namespaces need CAP_NET_ADMIN (run make test-ha as root)';
  for (const bin of ['/usr/sbin/keepalived', '/usr/sbin/ip']) if (!fs.existsSync(bin)) return `${bin} is not installed (apt-get install keepalived iproute2)`;
  const probe = `${TAG}probe`;
  const r = sh(['ip', 'netns', 'add', probe]);
  if (!r.ok) return `cannot create a network namespace: ${r.err}`;
  sh(['ip', 'netns', 'del', probe]);
  return null;
}

function setupNetwork(): void {
  const run = (...a: string[]) => {
    const r = sh(a);
    if (!r.ok) throw new Error(`${a.join(' ')}: ${r.err}`);
  };
  for (const n of Object.values(NS)) run('ip', 'netns', 'add', n);
  run('ip', '-n', NS.lan, 'link', 'add', 'br0', 'type', 'bridge');
  run('ip', '-n', NS.lan, 'link', 'set', 'br0', 'up');
  for (const box of ['a', 'b', 'c', 's'] as const) {
    run('ip', '-n', NS.lan, 'link', 'add', `${box}0`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS[box]);
    run('ip', '-n', NS.lan, 'link', 'set', `${box}0`, 'master', 'br0');
    run('ip', '-n', NS.lan, 'link', 'set', `${box}0`, 'up');
    run('ip', '-n', NS[box], 'addr', 'add', `${IP[box]}/24`, 'dev', 'eth0');
    run('ip', '-n', NS[box], 'link', 'set', 'eth0', 'up');
    run('ip', '-n', NS[box], 'link', 'set', 'lo', 'up');
  }
}

function teardown(): void {
  for (const n of Object.values(NS)) sh(['ip', 'netns', 'del', n]);
}

const procs: ChildProcess[] = [];
function inNs(ns: string, args: string[], log: string): ChildProcess {
  const out = fs.openSync(log, 'a');
  const p = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', out, out] });
  procs.push(p);
  return p;
}

function gatehouseCfg(box: 'a' | 'b', dir: string): string {
  return `global
    nbthread 2
    localpeer ${box}
    stats socket ${dir}/${box}.sock level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
peers lan
    peer a ${IP.a}:10000
    peer b ${IP.b}:10000
    table clients type ip size 10k expire 5m store http_req_cnt,http_req_rate(10s)
frontend fe
    bind *:8080
    http-request track-sc0 src table lan/clients
    use_backend pinned if { path_beg /p/ }
    use_backend hashed if { path_beg /h/ }
    default_backend be
backend be
    server local 127.0.0.1:9000
backend pinned
    cookie SRV insert indirect nocache
${SHARED.map((n, i) => `    server ${n} ${IP.s}:${9001 + i} cookie ${n}`).join('\n')}
backend hashed
    balance uri
    hash-type consistent
${SHARED.map((n, i) => `    server ${n} ${IP.s}:${9001 + i}`).join('\n')}
`;
}

function keepalivedConf(box: 'a' | 'b'): string {
  return `global_defs {
  router_id ${TAG}${box}
  enable_script_security
}
vrrp_instance VI_1 {
  state ${box === 'a' ? 'MASTER' : 'BACKUP'}
  interface eth0
  virtual_router_id 51
  priority ${box === 'a' ? 150 : 100}
  advert_int 1
  virtual_ipaddress {
    ${IP.vip}/24 dev eth0
  }
}
`;
}

/** A node one-liner in a namespace: an HTTP upstream that names its box. */
const BACKEND = (box: string) => `require('http').createServer((q,s)=>{s.end('${box}')}).listen(9000,'127.0.0.1')`;

/** The shared servers: each answers with its name. */
const SERVERS = `for (const [i, n] of ${JSON.stringify(SHARED)}.entries()) require('http').createServer((q,s)=>{s.end(n)}).listen(9001 + i,'${IP.s}')`;

/**
 * From the client namespace, the same requests to each box's own address: the cookie each
 * server's first answer set, then who answers that cookie and 24 hashed URIs on a and on b.
 */
const PERSIST = `
const http = require('http');
const get = (host, path, cookie) => new Promise((ok) => {
  const r = http.get({ host, port: 8080, path, agent: false, timeout: 2000, headers: cookie ? { cookie } : {} }, (res) => {
    let b = ''; res.on('data', (d) => b += d); res.on('end', () => ok({ body: b, cookie: String(res.headers['set-cookie'] || '') }));
  });
  r.on('timeout', () => r.destroy(new Error('timeout')));
  r.on('error', (e) => ok({ body: 'ERR ' + e.message, cookie: '' }));
});
(async () => {
  const out = { cookies: {}, pinned: { a: {}, b: {} }, hashed: { a: [], b: [] } };
  for (let i = 0; i < 8; i++) { const r = await get('${IP.a}', '/p/x', ''); out.cookies[r.body] = r.cookie.split(';')[0]; }
  for (const [box, host] of [['a', '${IP.a}'], ['b', '${IP.b}']])
    for (const [srv, c] of Object.entries(out.cookies)) out.pinned[box][srv] = (await get(host, '/p/y', c)).body;
  for (const [box, host] of [['a', '${IP.a}'], ['b', '${IP.b}']])
    for (let k = 0; k < 24; k++) out.hashed[box].push((await get(host, '/h/key' + k, '')).body);
  console.log(JSON.stringify(out));
})();
`;

/** The client: one request per fresh connection to the VIP every 50 ms; prints one line per result. */
const CLIENT = `
const http = require('http');
const end = Date.now() + Number(process.argv[1]);
function one() {
  if (Date.now() > end) return;
  const t = Date.now();
  const r = http.get({ host: '${IP.vip}', port: 8080, path: '/', agent: false, timeout: 1000 }, (res) => {
    let b = ''; res.on('data', (d) => b += d); res.on('end', () => { console.log(t + ' ' + res.statusCode + ' ' + b + ' ' + Date.now()); setTimeout(one, 50); });
  });
  r.on('timeout', () => r.destroy(new Error('timeout')));
  r.on('error', (e) => { console.log(t + ' ERR ' + e.message.replace(/ /g, '_') + ' ' + Date.now()); setTimeout(one, 50); });
}
one();
`;

function cli(sock: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.end(line + '\n');
  });
}

async function until(what: string, f: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await Promise.resolve(f()).catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('keepalived failover: the master dies under load, the VIP moves, clients keep being served', { timeout: 120000 }, async (t) => {
  const why = whyNot();
  if (why !== null) {
    t.skip(why);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-ha-'));
  teardown();
  setupNetwork();
  t.after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const boxes = {} as Record<'a' | 'b', { gh: ChildProcess; ka: ChildProcess }>;
  for (const box of ['a', 'b'] as const) {
    fs.writeFileSync(path.join(dir, `${box}.cfg`), gatehouseCfg(box, dir));
    fs.writeFileSync(path.join(dir, `ka-${box}.conf`), keepalivedConf(box));
    inNs(NS[box], [process.execPath, '-e', BACKEND(box)], path.join(dir, `backend-${box}.log`));
    const gh = inNs(NS[box], [process.execPath, CLI, '-f', path.join(dir, `${box}.cfg`)], path.join(dir, `gh-${box}.log`));
    const ka = inNs(NS[box], ['/usr/sbin/keepalived', '-n', '-l', '-D', '-P', '-f', path.join(dir, `ka-${box}.conf`),
      '-p', path.join(dir, `ka-${box}.pid`), '-r', path.join(dir, `vrrp-${box}.pid`), '-c', path.join(dir, `chk-${box}.pid`)], path.join(dir, `ka-${box}.log`));
    boxes[box] = { gh, ka };
  }
  const hasVip = (box: 'a' | 'b') => spawnSync('ip', ['-n', NS[box], '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout.includes(IP.vip);
  await until('box a to hold the VIP', () => hasVip('a'), 20000);
  assert.equal(hasVip('b'), false, 'only the master holds the VIP');
  await until('both gatehouse sockets', () => fs.existsSync(path.join(dir, 'a.sock')) && fs.existsSync(path.join(dir, 'b.sock')), 20000);

  // cookie persistence and consistent hashing pick the same server on both boxes
  inNs(NS.s, [process.execPath, '-e', SERVERS], path.join(dir, 'servers.log'));
  await sleep(500);
  const persistLog = path.join(dir, 'persist.log');
  const persist = inNs(NS.c, [process.execPath, '-e', PERSIST], persistLog);
  await new Promise<void>((resolve) => persist.once('exit', () => resolve()));
  const p = JSON.parse(fs.readFileSync(persistLog, 'utf8').trim()) as {
    cookies: Record<string, string>;
    pinned: Record<'a' | 'b', Record<string, string>>;
    hashed: Record<'a' | 'b', string[]>;
  };
  assert.deepEqual(Object.keys(p.cookies).sort(), SHARED, `box a's round robin reached every server and set a cookie for each: ${JSON.stringify(p.cookies)}`);
  for (const [srv, c] of Object.entries(p.cookies)) {
    assert.equal(c, `SRV=${srv}`, 'the cookie names the server');
    assert.equal(p.pinned.a[srv], srv, `box a keeps ${c} on ${srv}`);
    assert.equal(p.pinned.b[srv], srv, `box b sends ${c} to ${srv} too`);
  }
  assert.deepEqual(p.hashed.b, p.hashed.a, 'each URI hashes to the same server on both boxes');
  assert.ok(new Set(p.hashed.a).size >= 3, `24 URIs spread over the servers: ${p.hashed.a.join(' ')}`);

  const clientLog = path.join(dir, 'client.log');
  const client = inNs(NS.c, [process.execPath, '-e', CLIENT, '14000'], clientLog);
  await sleep(4000);
  // box b learned the client's entry from box a through peers before a dies
  const learned = await cli(path.join(dir, 'b.sock'), 'show table lan/clients');
  assert.match(learned, new RegExp(`key=${IP.c.replace(/\./g, '\\.')} use=0 exp=\\d+ http_req_cnt=[1-9]`));
  const killedAt = Date.now();
  boxes.a.gh.kill('SIGKILL');
  boxes.a.ka.kill('SIGKILL');
  sh(['ip', '-n', NS.a, 'link', 'set', 'eth0', 'down']);
  await until('box b to take the VIP', () => hasVip('b'), 15000);
  await new Promise<void>((resolve) => client.once('exit', () => resolve()));

  // each line: start time, status (or ERR), body (the box) or error, end time. A request still
  // in flight when box a was killed may fail: it counts neither before nor after.
  const lines = fs.readFileSync(clientLog, 'utf8').trim().split('\n').map((l) => l.split(' '));
  const before = lines.filter((l) => Number(l[3]) < killedAt);
  const after = lines.filter((l) => Number(l[0]) >= killedAt);
  assert.ok(before.length > 20 && before.every((l) => l[1] === '200' && l[2] === 'a'), 'box a served every request before it died');
  const firstB = after.findIndex((l) => l[1] === '200' && l[2] === 'b');
  assert.ok(firstB >= 0, 'box b serves after the failover');
  const gap = Number(after[firstB][0]) - killedAt;
  const tail = after.slice(firstB);
  assert.ok(tail.length > 20 && tail.every((l) => l[1] === '200' && l[2] === 'b'), 'every request after the switch is served by b');
  t.diagnostic(`failover: ${gap} ms without service; ${before.length} requests before, ${tail.length} after on b, ${firstB} failed or timed out in between`);
  assert.ok(gap < 8000, `failover took ${gap} ms`);
  // b's table kept counting the same client (learned count + its own requests)
  const final = await cli(path.join(dir, 'b.sock'), 'show table lan/clients');
  const cnt = Number(/http_req_cnt=(\d+)/.exec(final)?.[1] ?? 0);
  assert.ok(cnt >= before.length, `b counts ${cnt} requests for the client, a had ${before.length} before dying`);
});
