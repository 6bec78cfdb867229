// Hostile requests, data-driven (test/corpus/requests.ts): each case goes through gatehouse
// (1 worker) to a raw backend that parses with strict llhttp and records exactly what it
// receives. Checked per case: the client's answer, the connection's fate, the exact requests
// the backend saw (nothing smuggled, nothing half-forwarded that was not expected), and that a
// next, normal request on a new client connection, which reuses the pooled upstream
// connection, gets its own response (no desync). The corpus is spread over LANES gatehouse +
// backend pairs; within a lane the cases run one after another over one upstream pool.
// HARDEN_RECORD=1 prints what actually happened per case instead of asserting.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { onNodeEngine } from './helpers/engine';
import * as net from 'node:net';
import { freePort, sleep, startGatehouse, RawTcpServer } from './helpers/net';
import { oneServerYaml } from './helpers/config';
import { corpus, type CorpusCase, type SeenRequest } from './corpus/requests';

import { HTTPParser } from './helpers/llhttp';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { methods } = require('_http_common') as { methods: string[] };

interface Seen {
  method: string;
  url: string;
  headers: string[];
  body: string;
}

/** Raw TCP backend; strict llhttp; answers each request with "METHOD URL BODYLENGTH". */
class Recorder extends RawTcpServer {
  seen: Seen[] = [];
  errors: string[] = [];
  /** connections that closed in the middle of a request */
  cut = 0;
  conns = 0;

  protected onConn(sock: net.Socket): void {
    this.conns++;
    const p = new HTTPParser();
    p.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
    let cur: Seen | null = null;
    let partial: string[] = [];
    let midMessage = false;
    let partialUrl = '';
    // llhttp hands over the head in slices when it spans several reads (kOnHeaders)
    p[HTTPParser.kOnHeaders] = (h: string[], url: string) => {
      partial = partial.concat(h);
      partialUrl += url;
    };
    p[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, h: string[] | undefined, method: number, url: string | undefined) => {
      cur = { method: methods[method], url: partialUrl + (url ?? ''), headers: partial.concat(h ?? []), body: '' };
      partial = [];
      partialUrl = '';
      return 0;
    };
    p[HTTPParser.kOnBody] = (b: Buffer) => {
      if (cur) cur.body += b.toString('latin1');
    };
    p[HTTPParser.kOnMessageComplete] = () => {
      const c = cur!;
      cur = null;
      midMessage = false;
      this.seen.push(c);
      const body = `${c.method} ${c.url} ${c.body.length}`;
      sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${c.method === 'HEAD' ? '' : body}`);
    };
    p[HTTPParser.kOnExecute] = () => {};
    sock.on('data', (d: Buffer) => {
      midMessage = true;
      const r = p.execute(d);
      if (typeof r !== 'number') {
        this.errors.push(`${(r as Error & { code?: string }).code}: ${JSON.stringify(d.toString('latin1').slice(0, 200))}`);
        midMessage = false;
        sock.destroy();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      if (midMessage) this.cut++;
    });
  }
}

interface ClientResult {
  statuses: number[];
  bodies: string[];
  closed: boolean;
  bytes: number;
  /** resolves when the connection closes (bounded by the caller) */
  closedP: Promise<void>;
  sock: net.Socket;
}

/** Send raw bytes (optionally split), parse responses, stop when the outcome is settled. */
function exchange(port: number, c: CorpusCase): Promise<ClientResult> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const r: ClientResult = { statuses: [], bodies: [], closed: false, bytes: 0, closedP: Promise.resolve(), sock };
    let onClosed: () => void = () => {};
    r.closedP = new Promise((res) => (onClosed = res));
    const p = new HTTPParser();
    p.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone);
    let body = '';
    let status = 0;
    const isHead = c.raw.startsWith('HEAD ');
    p[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, _h: unknown, _m: unknown, _u: unknown, st: number) => {
      status = st;
      body = '';
      if (isHead) return 1;
      if (st === 100) {
        // interim: recorded; llhttp then parses the final response on the same stream
        r.statuses.push(100);
        r.bodies.push('');
      }
      return 0;
    };
    p[HTTPParser.kOnBody] = (b: Buffer) => (body += b.toString('latin1'));
    p[HTTPParser.kOnMessageComplete] = () => {
      if (status === 100) return;
      r.statuses.push(status);
      r.bodies.push(body);
    };
    p[HTTPParser.kOnHeaders] = () => {};
    p[HTTPParser.kOnExecute] = () => {};
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const settle = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(cap);
      resolve(r);
    };
    // Quiet period after the last event: long enough for a pending answer from a local backend.
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(settle, ms);
    };
    const cap = setTimeout(settle, 3000);
    sock.on('connect', async () => {
      const raw = Buffer.from(c.raw, 'latin1');
      let at = 0;
      for (const cut of c.split ?? []) {
        sock.write(raw.subarray(at, cut));
        at = cut;
        await sleep(30);
      }
      sock.write(raw.subarray(at));
      arm(c.conn === 'silent' ? 300 : 400);
    });
    sock.on('data', (d: Buffer) => {
      r.bytes += d.length;
      p.execute(d);
      // answers complete: only a short wait for anything extra (a smuggled second response)
      arm(r.statuses.length >= c.answers.length && c.conn !== 'close' ? 100 : 400);
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      r.closed = true;
      onClosed();
      settle();
    });
  });
}

function checkSeen(got: Seen, want: SeenRequest, where: string): void {
  assert.equal(got.method, want.method, `${where}: method`);
  assert.equal(got.url, want.url, `${where}: url`);
  if (want.body !== undefined) assert.equal(got.body, want.body, `${where}: body`);
  const hs = new Map<string, string[]>();
  for (let i = 0; i < got.headers.length; i += 2) {
    const k = got.headers[i].toLowerCase();
    hs.set(k, [...(hs.get(k) ?? []), got.headers[i + 1]]);
  }
  for (const [k, v] of Object.entries(want.has ?? {})) assert.deepEqual(hs.get(k), [v], `${where}: header ${k}`);
  for (const k of want.lacks ?? []) assert.equal(hs.has(k), false, `${where}: header ${k} must not be forwarded`);
  // what gatehouse forwards is always well framed: at most one length, never both
  assert.ok((hs.get('content-length')?.length ?? 0) <= 1, `${where}: one content-length at most`);
  assert.ok(!(hs.has('content-length') && hs.has('transfer-encoding')), `${where}: never CL with TE`);
}

const RECORD = process.env.HARDEN_RECORD === '1';

/** Gatehouse + recorder pairs the corpus is spread over: each lane runs its cases one after another. */
const LANES = 4;

interface Lane {
  rec: Recorder;
  port: number;
  gh: Awaited<ReturnType<typeof startGatehouse>>;
}

/** What one case did, gathered on its lane; asserted by the case's own test. */
interface Outcome {
  r: ClientResult;
  closed: boolean;
  seenNow: Seen[];
  errorsNow: string[];
  cut: number;
  probe: ClientResult;
  probeUrl: string;
  lastUrl: string | undefined;
}

// The corpus records what uWebSockets.js 20.30's parser lets through (silent waits, closes
// without a status); the node engine's answers to malformed requests are held to HAProxy's by
// front-node-conformance.test.ts and gatehouse-conformance.test.ts instead.
describe('hostile request corpus', { skip: onNodeEngine('the corpus records uWS 20.30 parsing outcomes; the node engine is checked against HAProxy by the conformance replays') }, () => {
  const lanes: Lane[] = [];
  const lingering: { id: string; r: ClientResult }[] = [];
  const outcomes = new Map<string, Promise<Outcome>>();

  /** One case on its lane: the hostile request, then a normal one on a new connection. */
  async function runCase(lane: Lane, c: CorpusCase): Promise<Outcome> {
    const rec = lane.rec;
    rec.seen.length = 0;
    rec.errors.length = 0;
    const cutBefore = rec.cut;
    const r = await exchange(lane.port, c);
    const closed = r.closed;
    // a request forwarded as its client left (the pipelined cases) may reach the backend a
    // moment after the client saw the close
    for (let i = 0; i < 20 && rec.seen.length < c.backend.length; i++) await sleep(25);
    const seenNow = rec.seen.slice();
    const errorsNow = rec.errors.slice();
    if (!closed) {
      if (c.conn === 'silent') lingering.push({ id: c.id, r });
      else r.sock.destroy();
    }
    // the next client (new connection) must get its own answer over the pooled upstream
    const probeUrl = `/probe-${c.id}`;
    const probe = await exchange(lane.port, {
      id: 'probe', group: 'probe', raw: `GET ${probeUrl} HTTP/1.1\r\nHost: x\r\n\r\n`,
      answers: [200], conn: 'open', backend: [], why: '',
    });
    probe.sock.destroy();
    // a cut upstream connection is seen closing by the backend shortly after the client went
    for (let i = 0; i < 20 && c.upstreamCut && rec.cut === cutBefore; i++) await sleep(25);
    return { r, closed, seenNow, errorsNow, cut: rec.cut - cutBefore, probe, probeUrl, lastUrl: rec.seen.at(-1)?.url };
  }

  before(async () => {
    await Promise.all(
      Array.from({ length: LANES }, async () => {
        const rec = new Recorder();
        await rec.start();
        const port = await freePort();
        const gh = await startGatehouse(oneServerYaml(port, 'rec', rec.port), [port]);
        lanes.push({ rec, port, gh });
      }),
    );
    // every lane works through its share now; each case's test waits for its own outcome
    const queues: CorpusCase[][] = lanes.map(() => []);
    corpus.forEach((c, i) => queues[i % lanes.length].push(c));
    lanes.forEach((lane, k) => {
      let prev: Promise<unknown> = Promise.resolve();
      for (const c of queues[k]) {
        const p = prev.then(() => runCase(lane, c));
        p.catch(() => {}); // reported by the case's test
        outcomes.set(c.id, p);
        prev = p.catch(() => {});
      }
    });
  });

  after(async () => {
    for (const l of lingering) l.r.sock.destroy();
    await Promise.all(lanes.map(async (l) => {
      await l.gh.stop();
      await l.rec.close();
    }));
  });

  test('corpus has at least 100 cases with unique ids', () => {
    assert.ok(corpus.length >= 100, `${corpus.length} cases`);
    assert.equal(new Set(corpus.map((c) => c.id)).size, corpus.length);
  });

  for (const c of corpus) {
    test(`${c.group}: ${c.id}`, async () => {
      const { r, closed, seenNow, errorsNow, cut, probe, probeUrl, lastUrl } = await outcomes.get(c.id)!;
      if (RECORD) {
        const conn = closed ? 'close' : r.bytes === 0 ? 'silent' : 'open';
        console.log(JSON.stringify({ id: c.id, answers: r.statuses, conn, backend: seenNow.map((s) => `${s.method} ${s.url} [${s.body.length}]`), errors: errorsNow, cut }));
        return;
      }
      assert.deepEqual(errorsNow, [], 'the backend received bytes that are not a valid request');
      assert.deepEqual(r.statuses, c.answers, 'answers');
      if (c.conn === 'close') assert.equal(closed, true, 'connection closed');
      else assert.equal(closed, false, 'connection still open');
      if (c.conn === 'silent') assert.equal(r.bytes, 0, 'no answer');
      assert.equal(seenNow.length, c.backend.length, `backend saw ${JSON.stringify(seenNow.map((s) => s.method + ' ' + s.url))}`);
      for (let i = 0; i < c.backend.length; i++) checkSeen(seenNow[i], c.backend[i], `request ${i}`);
      // each 200 carries the backend's answer to that very request
      let k = 0;
      for (let i = 0; i < r.statuses.length; i++) {
        if (r.statuses[i] !== 200) continue;
        if (c.raw.startsWith('HEAD ')) {
          k++;
          continue;
        }
        const s = seenNow[k++];
        assert.equal(r.bodies[i], `${s.method} ${s.url} ${s.body.length}`, 'client got its own response');
      }
      assert.equal(cut, c.upstreamCut ? 1 : 0, 'upstream connections cut mid-request');
      assert.deepEqual(probe.statuses, [200], 'next request answered');
      assert.equal(probe.bodies[0], `GET ${probeUrl} 0`, 'next request got its own response');
      assert.equal(lastUrl, probeUrl);
    });
  }

  test('silent connections are dropped by uWS idle timeout; the process still serves', { timeout: 20000 }, async () => {
    if (RECORD) return;
    const deadline = sleep(15000).then(() => 'timeout');
    const open: string[] = [];
    await Promise.all(lingering.map(async (l) => {
      const v = await Promise.race([l.r.closedP.then(() => 'closed'), deadline]);
      if (v !== 'closed') open.push(l.id);
    }));
    assert.deepEqual(open, [], 'still open after 15 s');
    for (const l of lanes) assert.equal(l.gh.child.exitCode, null, 'gatehouse is running');
    const r = await exchange(lanes[0].port, { id: 'final', group: 'final', raw: 'GET /final HTTP/1.1\r\nHost: x\r\n\r\n', answers: [200], conn: 'open', backend: [], why: '' });
    r.sock.destroy();
    assert.deepEqual(r.statuses, [200]);
    assert.equal(r.bodies[0], 'GET /final 0');
  });
});

describe('validateRequest (pure)', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const v = require('../src/proxy/request-validate') as typeof import('../src/proxy/request-validate');
  const limits = { maxHeaderSize: 16384, maxHeaders: 101, maxUri: 8192 };
  const facts = (f: Partial<import('../src/proxy/request-validate').RequestFacts> = {}) => ({
    headerCount: 1, headBytes: 11, clCount: 0, clValue: '', te: null, hostCount: 1, badField: false, ...f,
  });
  const cases: [string, number, string, string | undefined, ReturnType<typeof facts>][] = [
    ['plain', 0, '/a', undefined, facts()],
    ['query', 0, '/a', 'x=1', facts()],
    ['uri at limit', 0, '/' + 'a'.repeat(8191), undefined, facts()],
    ['uri over limit', 414, '/' + 'a'.repeat(8192), undefined, facts()],
    ['query counts', 414, '/a', 'q'.repeat(8190), facts()],
    ['head over limit', 431, '/a', undefined, facts({ headBytes: 16384 })],
    ['too many fields', 431, '/a', undefined, facts({ headerCount: 102 })],
    ['fragment', 400, '/a#b', undefined, facts()],
    ['non-ascii target', 400, '/\u00e9', undefined, facts()],
    ['space in query', 400, '/a', 'x y', facts()],
    ['not origin-form', 400, 'a', undefined, facts()],
    ['bad field', 400, '/a', undefined, facts({ badField: true })],
    ['two hosts', 400, '/a', undefined, facts({ hostCount: 2 })],
    ['cl ok', 0, '/a', undefined, facts({ clCount: 1, clValue: '42' })],
    ['cl leading zeros', 0, '/a', undefined, facts({ clCount: 1, clValue: '0000000000000000000042' })],
    ['cl twice', 400, '/a', undefined, facts({ clCount: 2, clValue: '5' })],
    ['cl sign', 400, '/a', undefined, facts({ clCount: 1, clValue: '+5' })],
    ['cl empty', 400, '/a', undefined, facts({ clCount: 1, clValue: '' })],
    ['cl 2^53-1', 0, '/a', undefined, facts({ clCount: 1, clValue: '9007199254740991' })],
    ['cl 2^53', 413, '/a', undefined, facts({ clCount: 1, clValue: '9007199254740992' })],
    ['te chunked', 0, '/a', undefined, facts({ te: 'chunked' })],
    ['te Chunked OWS', 0, '/a', undefined, facts({ te: ' Chunked\t' })],
    ['te with cl', 400, '/a', undefined, facts({ te: 'chunked', clCount: 1, clValue: '5' })],
    ['te empty', 400, '/a', undefined, facts({ te: '' })],
    ['te twice', 400, '/a', undefined, facts({ te: 'chunked,chunked' })],
    ['te not final', 400, '/a', undefined, facts({ te: 'chunked, gzip' })],
    ['te gzip, chunked', 501, '/a', undefined, facts({ te: 'gzip, chunked' })],
    ['te junk coding', 400, '/a', undefined, facts({ te: 'g@zip, chunked' })],
    ['connect', 501, '/a', undefined, facts()],
  ];
  for (const [name, want, url, q, f] of cases) {
    test(name, () => assert.equal(v.validateRequest(name === 'connect' ? 'CONNECT' : 'GET', url, q, f, limits), want));
  }
  test('isValidField', () => {
    assert.equal(v.isValidField('x-a', 'a\tb c'), true);
    assert.equal(v.isValidField('x-a', 'caf\u00e9'), true);
    assert.equal(v.isValidField('x-a', 'a\x7fb'), false);
    assert.equal(v.isValidField('x-a', 'a\x00b'), false);
    assert.equal(v.isValidField('x-a', 'a\nb'), false);
    assert.equal(v.isValidField('x a', 'b'), false);
    assert.equal(v.isValidField('', 'b'), false);
  });
});
