// Real haproxy.cfg files from public repositories (test/corpus/haproxy-cfg/, origin in each
// header): each is checked with `haproxy -c` and `gatehouse -c`. Every file HAProxy 2.6 accepts,
// gatehouse must accept too, except files whose only errors are ones listed in WAITING below
// (printed with their reason). A few files are then run end to end by both, with real backends,
// and the servers that answer are compared.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI, REPO, request, startBackend, waitForPort, runCli, type Backend } from './helpers/net';
import { distinctPorts, haproxyBinary, startHaproxy } from './helpers/haproxy';

const CORPUS = path.join(REPO, 'test', 'corpus', 'haproxy-cfg');
const HAPROXY = haproxyBinary();

/**
 * Errors that keep a file out for a stated reason: a file counts as "waiting" only when every
 * gatehouse error it gets matches one of these. Keep this list short.
 */
const WAITING: { match: RegExp; reason: string }[] = [
  { match: /abns@|unix@/, reason: 'abstract and unix socket addresses (abns@, unix@): gatehouse binds and connects over TCP only' },
  { match: /tcp-request rules of http frontend '[^']+' are not applied by gatehouse yet/, reason: 'tcp-request rules on an http frontend (uWS has no connection hook; only mode tcp frontends run them)' },
  { match: /'lua-load/, reason: 'Lua scripts cannot run in gatehouse (refused with what to use instead, as issue 17 asks)' },
  { match: /no frontend or listen section: nothing would accept connections/, reason: 'no bind at all: an ingress controller adds them at run time through its API' },
];

/**
 * Files HAProxy accepts that gatehouse still refuses for a reason that is not waiting on other
 * work: issue 17's remaining gaps, each named. The test fails if one of them starts to pass (so
 * the list shrinks) or if any other counted file is refused.
 */
const KNOWN_GAPS: Record<string, string> = {};

let dir = '';

/** The corpus file with @CORPUS@ pointing at the test's folder of dummy certificates and pages. */
function prepared(name: string): string {
  const text = fs.readFileSync(path.join(CORPUS, name), 'utf8').replaceAll('@CORPUS@', dir);
  const out = path.join(dir, name);
  fs.writeFileSync(out, text);
  return out;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-corpus-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const cert = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
  fs.writeFileSync(path.join(dir, 'site.pem'), cert + fs.readFileSync(path.join(dir, 'k.pem'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'ca.pem'), cert);
  fs.writeFileSync(path.join(dir, 'empty.lua'), '');
  fs.writeFileSync(path.join(dir, 'web_domains.lst'), 'example.com\n');
  fs.mkdirSync(path.join(dir, 'errors'));
  for (const code of [200, 400, 403, 408, 429, 500, 502, 503, 504]) {
    fs.writeFileSync(path.join(dir, 'errors', `${code}.http`), `HTTP/1.0 ${code} Corpus\r\nContent-Type: text/plain\r\n\r\ncorpus page ${code}\n`);
  }
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Verdict {
  file: string;
  haproxy: boolean;
  gatehouse: boolean;
  errors: string[];
  waiting: string | null;
}

function check(file: string): Verdict {
  const cfg = prepared(file);
  const ha = spawnSync(HAPROXY!, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
  const gh = spawnSync(process.execPath, [CLI, '-c', '-q', '-f', cfg], { encoding: 'utf8' });
  const errors = (gh.stderr ?? '').split('\n').filter((l) => l.includes(': error: '));
  let waiting: string | null = null;
  if (gh.status !== 0 && errors.length) {
    const reasons = new Set<string>();
    let all = true;
    for (const e of errors) {
      const w = WAITING.find((x) => x.match.test(e));
      if (w) reasons.add(w.reason);
      else all = false;
    }
    if (all) waiting = [...reasons].join('; ');
  }
  return { file, haproxy: ha.status === 0, gatehouse: gh.status === 0, errors, waiting };
}

describe('haproxy.cfg corpus', { skip: HAPROXY ? false : 'haproxy is not installed' }, () => {
  test('every file HAProxy accepts, gatehouse accepts (apart from the listed waiting reasons)', () => {
    const files = fs.readdirSync(CORPUS).filter((f) => f.endsWith('.cfg')).sort();
    assert.ok(files.length >= 30, `the corpus holds ${files.length} files`);
    for (const f of files) {
      const head = fs.readFileSync(path.join(CORPUS, f), 'utf8').split('\n')[0];
      assert.match(head, /^# origin: https:\/\/github\.com\/\S+\/blob\/[0-9a-f]{40}\//, `${f} names its origin`);
    }
    const verdicts = files.map(check);
    const accepted = verdicts.filter((v) => v.haproxy);
    const waiting = accepted.filter((v) => !v.gatehouse && v.waiting);
    const counted = accepted.filter((v) => !(!v.gatehouse && v.waiting));
    const ok = counted.filter((v) => v.gatehouse);
    const lines = verdicts.map((v) => {
      const state = !v.haproxy ? 'haproxy rejects (not counted)' : v.gatehouse ? 'both accept' : v.waiting ? `waiting: ${v.waiting}` : `GATEHOUSE REJECTS: ${v.errors.slice(0, 3).join(' | ')}`;
      return `  ${v.file}: ${state}`;
    });
    console.log(`corpus: HAProxy accepts ${accepted.length} of ${files.length}; gatehouse accepts ${ok.length} of the ${counted.length} that count (${waiting.length} waiting)\n${lines.join('\n')}`);
    assert.ok(accepted.length >= 30, `HAProxy accepts ${accepted.length} files, the corpus needs at least 30`);
    const gaps = counted.filter((v) => KNOWN_GAPS[v.file] !== undefined);
    console.log(`acceptance: ${ok.length} of ${counted.length} (${Math.round((100 * ok.length) / counted.length)}%); known gaps:\n${gaps.map((v) => `  ${v.file}: ${KNOWN_GAPS[v.file]}`).join('\n')}`);
    assert.deepEqual(counted.filter((v) => !v.gatehouse && KNOWN_GAPS[v.file] === undefined).map((v) => `${v.file}: ${v.errors[0]}`), []);
    assert.deepEqual(gaps.filter((v) => v.gatehouse).map((v) => v.file), [], 'a known gap is accepted now: take it off KNOWN_GAPS');
    // A file HAProxy refuses is refused by gatehouse too (removed keywords, unknown options).
    for (const v of verdicts.filter((x) => !x.haproxy)) assert.equal(v.gatehouse, false, `${v.file}: HAProxy refuses it, gatehouse accepted it`);
  });
});

/**
 * A corpus file made runnable on this machine: every bind becomes a free 127.0.0.1 port (in
 * order), every server the address of a test backend named after it; what the test does not
 * need (global log targets, stats sockets, daemon, a maxconn of 1000 or more) is kept out.
 */
function runnable(file: string, binds: number[], servers: Map<string, Backend>): string {
  let i = 0;
  return prepared(file) && fs
    .readFileSync(path.join(dir, file), 'utf8')
    .split('\n')
    .map((l) => {
      // what this machine cannot give (a file-descriptor limit for maxconn 10000+) is left out too
      if (/^\s*(daemon|log\s+(?!global)|stats\s+socket|chroot|user|group|pidfile)\b/.test(l) || /^\s*maxconn\s+\d{4,}/.test(l)) return '';
      const b = /^(\s*bind\s+)\S+(.*)$/.exec(l);
      if (b) return `${b[1]}127.0.0.1:${binds[i++]}${b[2]}`;
      const s = /^(\s*server\s+)(\S+)\s+\S+(.*)$/.exec(l);
      if (s) {
        const be = servers.get(s[2]);
        assert.ok(be, `no test backend for server ${s[2]}`);
        return `${s[1]}${s[2]} 127.0.0.1:${be.port}${s[3]}`;
      }
      return l;
    })
    .join('\n');
}

/** Which server answers each of `n` requests to `port` (the backends answer their name). */
async function answers(port: number, n: number, headers: Record<string, string> = {}): Promise<string[]> {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const r = await request(port, { path: `/item/${k}`, headers: { connection: 'close', ...headers } });
    out.push(`${r.status} ${r.body.toString()}`);
  }
  return out;
}

/** `target`: which bind (in file order) the requests go to; `spread`: how many servers must answer */
const E2E: { file: string; servers: string[]; binds: number; target: number; requests: number; spread: number }[] = [
  { file: '24-akaivac-docker-haproxy.cfg', servers: ['s1', 's2', 's3'], binds: 1, target: 0, requests: 7, spread: 3 },
  { file: '25-alexgavalas-ws-relay-lab.cfg', servers: ['s1', 's2'], binds: 1, target: 0, requests: 5, spread: 2 },
  { file: '14-aksarav-haproxy-nodejs-redis.cfg', servers: ['server1'], binds: 1, target: 0, requests: 3, spread: 1 },
  // roundrobin over two active servers, two backups never used, httpchk, forwardfor except
  { file: '06-2600hz-kazoo-configs-haproxy.cfg', servers: ['db1.zone1.mydomain.com', 'db2.zone1.mydomain.com', 'db3.zone2.mydomain.com', 'db4.zone2.mydomain.com'], binds: 3, target: 0, requests: 6, spread: 2 },
  // a listen after a stats listen; checks every 10 ms
  { file: '40-0xff-dev-go-examples.cfg', servers: ['server1', 'server2'], binds: 2, target: 1, requests: 6, spread: 2 },
];

describe('corpus files end to end, HAProxy and gatehouse side by side', { skip: HAPROXY ? false : 'haproxy is not installed' }, () => {
  for (const c of E2E) {
    test(c.file, async () => {
      const backends = new Map<string, Backend>();
      for (const s of c.servers) backends.set(s, await startBackend(s));
      try {
        const [haPorts, ghPorts] = [await distinctPorts(c.binds), await distinctPorts(c.binds)];
        const ha = await startHaproxy(HAPROXY!, runnable(c.file, haPorts, backends), [haPorts[c.target]]);
        let haSeen: string[];
        try {
          haSeen = await answers(haPorts[c.target], c.requests);
        } finally {
          await ha.stop();
        }
        const cfgPath = path.join(dir, `gh-${c.file}`);
        fs.writeFileSync(cfgPath, runnable(c.file, ghPorts, backends));
        const gh = runCli(['-f', cfgPath]);
        try {
          await waitForPort(ghPorts[c.target], 15000, gh);
          const ghSeen = await answers(ghPorts[c.target], c.requests);
          assert.deepEqual(ghSeen, haSeen, `${c.file}: servers answering through gatehouse vs HAProxy`);
          assert.ok(new Set(haSeen).size >= c.spread, `HAProxy spread over the servers: ${haSeen}`);
        } finally {
          await gh.stop();
        }
      } finally {
        for (const b of backends.values()) await b.close();
      }
    });
  }
});
