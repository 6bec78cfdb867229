// Hostile upstreams: a scripted raw TCP server answers each request with exact bytes chosen by
// the request's path. gatehouse (1 worker, one pool) must answer 502 when nothing usable came
// back, cut the client when a streamed response breaks, never reuse a connection that carried
// anything odd, and keep serving. Then a fixed-seed fuzz of the response path: mutated
// responses go through gatehouse and through llhttp directly; the verdicts must agree.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { freePort, request, sleep, startGatehouse, RawTcpServer } from './helpers/net';
import { oneServerYaml } from './helpers/config';

import { HTTPParser } from './helpers/llhttp';
import { prng } from './helpers/prng';

interface Script {
  /** bytes written once the request is complete */
  reply: Buffer;
  /** after writing: 'keep' the connection, 'end' it (FIN) or 'reset' it (RST) */
  then: 'keep' | 'end' | 'reset';
  /** bytes written on the idle connection 50 ms later (unsolicited) */
  late?: Buffer;
  /** script only the first `times` requests for the path; later ones get the normal answer */
  times?: number;
}

/** Raw upstream: parses requests with llhttp, looks the script up by path. */
class ScriptedServer extends RawTcpServer {
  scripts = new Map<string, Script>();
  /** connection id per received request path */
  connOf = new Map<string, number>();
  /** requests received per path */
  hits = new Map<string, number>();
  conns = 0;

  protected onConn(sock: net.Socket): void {
    const id = ++this.conns;
    sock.on('error', () => {});
    const p = new HTTPParser();
    p.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
    let url = '';
    p[HTTPParser.kOnHeaders] = (_h: string[], u: string) => (url += u);
    p[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, _h: unknown, _m: number, u: string | undefined) => {
      url += u ?? '';
      return 0;
    };
    p[HTTPParser.kOnBody] = () => {};
    p[HTTPParser.kOnExecute] = () => {};
    p[HTTPParser.kOnMessageComplete] = () => {
      const path = url;
      url = '';
      this.connOf.set(path, id);
      const hit = (this.hits.get(path) ?? 0) + 1;
      this.hits.set(path, hit);
      const s = this.scripts.get(path);
      if (s === undefined || (s.times !== undefined && hit > s.times)) {
        const body = `ok ${path}`;
        sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      if (s.reply.length > 0) sock.write(s.reply);
      if (s.then === 'end') sock.end();
      else if (s.then === 'reset') setTimeout(() => sock.resetAndDestroy(), 20);
      if (s.late) {
        const late = s.late;
        setTimeout(() => !sock.destroyed && sock.write(late), 50);
      }
    };
    sock.on('data', (d: Buffer) => {
      if (typeof p.execute(d) !== 'number') sock.destroy();
    });
  }
}

interface Got {
  status: number;
  body: Buffer;
  /** a complete response was parsed */
  complete: boolean;
  /** the head was parsed */
  head: boolean;
}

/** One request on a fresh client connection; collects until the response completes or closes. */
function fetch(port: number, path: string, timeoutMs = 3000): Promise<Got> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Got = { status: 0, body: Buffer.alloc(0), complete: false, head: false };
    const chunks: Buffer[] = [];
    const p = new HTTPParser();
    p.initialize(HTTPParser.RESPONSE, {}, 0, HTTPParser.kLenientNone);
    p[HTTPParser.kOnHeaders] = () => {};
    p[HTTPParser.kOnExecute] = () => {};
    p[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, _h: unknown, _m: unknown, _u: unknown, st: number) => {
      got.status = st;
      got.head = true;
      return 0;
    };
    p[HTTPParser.kOnBody] = (b: Buffer) => chunks.push(Buffer.from(b));
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(t);
      got.body = Buffer.concat(chunks);
      sock.destroy();
      resolve(got);
    };
    p[HTTPParser.kOnMessageComplete] = () => {
      got.complete = true;
      setImmediate(finish);
    };
    const t = setTimeout(finish, timeoutMs);
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    sock.on('data', (d: Buffer) => {
      if (!done) p.execute(d);
    });
    sock.on('error', () => {});
    sock.on('close', finish);
  });
}

const CRLF = '\r\n';
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

type Gatehouse = Awaited<ReturnType<typeof startGatehouse>>;

/** A ScriptedServer and a one-worker gatehouse in front of it for the enclosing suite. */
function scriptedGatehouse(ready: (srv: ScriptedServer, port: number, gh: Gatehouse) => void): void {
  let srv: ScriptedServer;
  let gh: Gatehouse;
  before(async () => {
    srv = new ScriptedServer();
    await srv.start();
    const port = await freePort();
    gh = await startGatehouse(oneServerYaml(port, 's', srv.port), [port]);
    ready(srv, port, gh);
  });
  after(async () => {
    await gh.stop();
    await srv.close();
  });
}

describe('hostile upstream', () => {
  let srv: ScriptedServer;
  let port: number;
  let gh: Gatehouse;
  scriptedGatehouse((s, p, g) => ([srv, port, gh] = [s, p, g]));

  /** Warm the pool, run the scripted path, then check the next request. */
  async function scripted(name: string, s: Script): Promise<Got> {
    const warm = await fetch(port, `/warm-${name}`);
    assert.equal(warm.status, 200);
    const path = `/s/${name}`;
    srv.scripts.set(path, s);
    const got = await fetch(port, path);
    if (s.late) await sleep(150);
    const next = await fetch(port, `/next-${name}`);
    assert.equal(next.status, 200, 'next request answered');
    assert.equal(next.body.toString(), `ok /next-${name}`, 'next request got its own response');
    const badConn = srv.connOf.get(path);
    assert.ok(badConn !== undefined, 'the scripted request reached the server');
    assert.notEqual(srv.connOf.get(`/next-${name}`), badConn, 'the connection that misbehaved was not reused');
    return got;
  }

  const badHeads: [string, string][] = [
    ['status-not-numeric', 'HTTP/1.1 abc OK\r\ncontent-length: 2\r\n\r\nok'],
    ['status-two-digits', 'HTTP/1.1 20 OK\r\ncontent-length: 2\r\n\r\nok'],
    ['bad-protocol', 'HTXP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'],
    ['not-http', 'SSH-2.0-OpenSSH_9.2\r\n'],
    ['cl-and-te', 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two-cl', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok'],
    ['negative-cl', 'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\nok'],
    ['cl-list', 'HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nok'],
    ['bare-cr-in-header', 'HTTP/1.1 200 OK\r\nx-a: a\rb\r\ncontent-length: 2\r\n\r\nok'],
    ['nul-in-header', 'HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 2\r\n\r\nok'],
    ['space-before-colon', 'HTTP/1.1 200 OK\r\ncontent-length : 2\r\n\r\nok'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nx-a: a\r\n b\r\ncontent-length: 2\r\n\r\nok'],
    ['oversized-head', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70000)}\r\ncontent-length: 2\r\n\r\nok`],
  ];
  for (const [name, raw] of badHeads) {
    test(`invalid response head: ${name} -> 502, connection dropped`, async () => {
      const got = await scripted(name, { reply: b(raw), then: 'keep' });
      assert.equal(got.status, 502);
      assert.match(got.body.toString(), /502 Bad Gateway/);
    });
  }

  test('close before any byte of the response -> 502', async () => {
    const got = await scripted('close-early', { reply: b(''), then: 'end' });
    assert.equal(got.status, 502);
  });

  test('reset before any byte of the response -> 502', async () => {
    const got = await scripted('reset-early', { reply: b(''), then: 'reset' });
    assert.equal(got.status, 502);
  });

  test('reset mid-body (Content-Length) -> head forwarded, client cut', async () => {
    const got = await scripted('reset-mid-cl', { reply: b('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial'), then: 'reset' });
    assert.equal(got.status, 200);
    assert.equal(got.complete, false, 'a truncated body must not look complete');
  });

  test('close mid-body (chunked) -> client cut, no terminating chunk invented', async () => {
    const got = await scripted('close-mid-chunked', { reply: b('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n'), then: 'end' });
    assert.equal(got.status, 200);
    assert.equal(got.complete, false);
  });

  test('invalid first chunk size in the same read as the head -> 502 (nothing had left)', async () => {
    const got = await scripted('bad-chunk-size', { reply: b('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n'), then: 'keep' });
    // A chunked head waits for the end of its read (see docs/hardening.md): HAProxy's 502.
    assert.equal(got.status, 502);
  });

  test('garbage after the body of a complete response -> forwarded, connection not reused', async () => {
    const got = await scripted('extra-bytes', { reply: b('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nSMUGG'), then: 'keep' });
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'ok');
  });

  test('unsolicited response on an idle connection -> never delivered to the next client', async () => {
    const got = await scripted('late-response', {
      reply: b('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
      then: 'keep',
      late: b('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nSTALE'),
    });
    assert.equal(got.body.toString(), 'ok');
  });

  test('gatehouse still serves after the hostile upstream cases', async () => {
    assert.equal(gh.child.exitCode, null);
    const got = await fetch(port, '/final');
    assert.equal(got.status, 200);
    assert.equal(got.body.toString(), 'ok /final');
  });

  // --- fuzz -----------------------------------------------------------------------------------


  const BASES = [
    'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: b\r\n\r\nhello',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nnope',
    'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil-close',
    'HTTP/1.1 204 No Content\r\nx-a: b\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
  ];
  const INTERESTING = ['\r', '\n', '\r\n', '\x00', ' ', '\t', ':', '-', '0', '9', 'f', ',', 'chunked', 'content-length: 3\r\n', 'transfer-encoding: chunked\r\n', '\x7f', '\xff'];

  function mutate(rnd: () => number, base: string): string {
    let s = base;
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(rnd() * (s.length + 1));
      const op = Math.floor(rnd() * 5);
      if (op === 0) s = s.slice(0, at) + s.slice(at + 1); // delete
      else if (op === 1) s = s.slice(0, at) + INTERESTING[Math.floor(rnd() * INTERESTING.length)] + s.slice(at); // insert
      else if (op === 2) s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 256)) + s.slice(at + 1); // replace
      else if (op === 3) s = s.slice(0, at); // truncate
      else s = s.slice(0, at) + s.slice(at, at + 8) + s.slice(at); // duplicate a slice
    }
    return s;
  }

  type Verdict = { kind: '502' } | { kind: 'cut'; status: number; parseError: boolean } | { kind: 'ok'; status: number; body: string };

  /**
   * llhttp's reading of bytes followed by the server closing: the first final (>= 200)
   * response decides. Complete -> ok; head parsed but body broken -> cut; else -> 502.
   */
  function reference(raw: Buffer): Verdict {
    const p = new HTTPParser();
    p.initialize(HTTPParser.RESPONSE, {}, 65536, HTTPParser.kLenientNone);
    let status = 0;
    let final = false;
    let complete = false;
    const body: Buffer[] = [];
    p[HTTPParser.kOnHeaders] = () => {};
    p[HTTPParser.kOnExecute] = () => {};
    p[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, _h: unknown, _m: unknown, _u: unknown, st: number) => {
      if (!final && st >= 200) {
        final = true;
        status = st;
      }
      return 0;
    };
    p[HTTPParser.kOnBody] = (c: Buffer) => {
      if (final && !complete) body.push(Buffer.from(c));
    };
    p[HTTPParser.kOnMessageComplete] = () => {
      if (final) complete = true;
    };
    const r = p.execute(raw);
    if (typeof r === 'number' && !complete) p.finish();
    if (complete) return { kind: 'ok', status, body: Buffer.concat(body).toString('latin1') };
    if (final) return { kind: 'cut', status, parseError: typeof r !== 'number' };
    return { kind: '502' };
  }

  test('fuzz: gatehouse agrees with llhttp on 300 mutated responses (seed 7)', { timeout: 60000 }, async () => {
    const rnd = prng(7);
    const mismatches: string[] = [];
    const started = Date.now();
    let n = 0;
    for (; n < 300 && Date.now() - started < 25000; n++) {
      const raw = b(mutate(rnd, BASES[n % BASES.length]));
      const path = `/fuzz/${n}`;
      // the server closes after each reply: close-delimited bodies end, nothing is reused
      srv.scripts.set(path, { reply: raw, then: 'end' });
      const want = reference(raw);
      const got = await fetch(port, path, 2500);
      let ok: boolean;
      if (want.kind === '502') ok = got.status === 502;
      // cut: the client sees the head then a close; a parse error in the same read as the head
      // (the whole reply is one write) is a 502, nothing having left yet
      else if (want.kind === 'cut') ok = ((got.status === want.status || got.status === 0) && !got.complete) || (want.parseError && got.status === 502);
      else ok = got.status === want.status && got.complete && got.body.toString('latin1') === want.body;
      if (!ok) {
        mismatches.push(`${n}: ${JSON.stringify(raw.toString('latin1'))} llhttp=${JSON.stringify(want)} gatehouse=${got.status}/${got.complete ? 'complete' : 'cut'}/${JSON.stringify(got.body.toString('latin1').slice(0, 40))}`);
      }
    }
    assert.ok(n >= 100, `only ${n} cases ran in time`);
    assert.deepEqual(mismatches, []);
    assert.equal(gh.child.exitCode, null, 'gatehouse survived the fuzz');
  });
});

// A server that dies (or restarts) can still complete handshakes from its listen backlog and
// then close them unanswered. An idempotent request is sent again; a POST is not, because the
// server may have acted on it.
describe('fresh upstream connection closed before any response byte', () => {
  let srv: ScriptedServer;
  let port: number;
  let gh: Gatehouse;
  scriptedGatehouse((s, p, g) => ([srv, port, gh] = [s, p, g]));

  // POST first: the pool is still empty, so it goes out on a fresh connection.
  test('POST: not re-sent, 502', async () => {
    srv.scripts.set('/post-once', { reply: b(''), then: 'end', times: 1 });
    const r = await request(port, { method: 'POST', path: '/post-once', body: 'x=1' });
    assert.equal(r.status, 502);
    assert.equal(srv.hits.get('/post-once'), 1, 'the server saw the POST once');
  });

  test('GET: not re-sent either (retry-on conn-failure, HAProxy\'s default), 502', async () => {
    assert.equal(srv.conns, 1, 'no connection left in the pool from the POST');
    srv.scripts.set('/get-once', { reply: b(''), then: 'end', times: 1 });
    const r = await request(port, { path: '/get-once' });
    assert.equal(r.status, 502);
    assert.equal(srv.hits.get('/get-once'), 1);
    assert.equal(srv.conns, 2);
  });
});
