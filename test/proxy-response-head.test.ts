// The response-head filter (src/proxy/response-head.ts) in-process: what a server's headers
// become on their way to the client, written through a HeaderWriter that records each call.
// Backends come from a real Config (haproxy.cfg text) and a real WorkerRuntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionListed, isHopByHopResponseHeader, writeResponseHeaders } from '../src/proxy/response-head';
import type { HeaderWriter } from '../src/proxy/client';
import type { PersistenceTrip } from '../src/proxy/persistence';
import { CookieTxn } from '../src/persistence/cookie';
import type { BackendRuntime } from '../src/worker/runtime';
import { cfgModel } from './helpers/config';
import { workerRuntime } from './helpers/runtime';

class Recorder implements HeaderWriter {
  readonly lines: [string, string][] = [];
  writeHeader(key: string, value: string): void {
    this.lines.push([key, value]);
  }
  names(): string[] {
    return this.lines.map(([n]) => n);
  }
}

const INSERT = 'SRVID';
const APP = 'JSESSIONID';
const { rt } = workerRuntime(
  cfgModel(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:8080
    default_backend plain
backend plain
    server p1 127.0.0.1:9001
backend ins
    cookie ${INSERT} insert indirect nocache
    server i1 127.0.0.1:9011 cookie one
    server i2 127.0.0.1:9012 cookie two
backend rw
    cookie ${APP} rewrite
    server r1 127.0.0.1:9021 cookie rone
backend pfx
    cookie ${APP} prefix
    server x1 127.0.0.1:9031 cookie xone
`),
);
function backend(name: string): BackendRuntime {
  const be = rt.backends.find((b) => b.cfg.name === name);
  assert.ok(be, name);
  return be;
}
/** A trip to server `local` of `be`; `direct`: chosen by the request's cookie. */
function trip(be: BackendRuntime, local = 0, direct = false, method = 'GET'): PersistenceTrip {
  const cookieTxn = new CookieTxn();
  cookieTxn.reset();
  return { cookieTxn, server: be.firstServer + local, direct, method };
}
function filter(headers: string[], o: { be?: BackendRuntime; trip?: PersistenceTrip; status?: number; close?: boolean; upgrade?: boolean } = {}): [string, string][] {
  const be = o.be ?? backend('plain');
  const out = new Recorder();
  writeResponseHeaders(out, headers, o.status ?? 200, be, o.trip ?? trip(be), o.close ?? false, o.upgrade ?? false);
  return out.lines;
}
/** Flat [name, value, ...] as the response parser hands them over. */
function flat(pairs: [string, string][]): string[] {
  return pairs.flat();
}
function variants(name: string): string[] {
  const title = name.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
  return [name, name.toUpperCase(), title];
}

const HOP_BY_HOP = ['date', 'trailer', 'upgrade', 'connection', 'keep-alive', 'content-length', 'proxy-connection', 'transfer-encoding'];

test('hop-by-hop response headers are recognised in any case; names of the same length are not', () => {
  for (const name of HOP_BY_HOP) {
    for (const v of variants(name)) assert.equal(isHopByHopResponseHeader(v), true, v);
    // one letter changed, same length: an ordinary header
    const near = name.slice(0, -1) + (name.endsWith('x') ? 'y' : 'x');
    assert.equal(isHopByHopResponseHeader(near), false, near);
  }
  for (const name of ['content-type', 'x-connection', 'set-cookie', 'te', 'cache-control']) assert.equal(isHopByHopResponseHeader(name), false, name);
});

test('hop-by-hop headers are dropped, whatever their case; the others pass in order with their case', () => {
  const end2end: [string, string][] = [
    ['Content-Type', 'text/html'],
    ['X-Request-Id', 'r-17'],
    ['ETag', '"v1"'],
    ['cache-control', 'no-store'],
  ];
  const hop: [string, string][] = HOP_BY_HOP.flatMap((n, i) => [[variants(n)[i % 3], 'v'] as [string, string]]);
  // interleave
  const headers: [string, string][] = [];
  for (let i = 0; i < Math.max(end2end.length, hop.length); i++) {
    if (i < hop.length) headers.push(hop[i]);
    if (i < end2end.length) headers.push(end2end[i]);
  }
  assert.deepEqual(filter(flat(headers)), end2end);
});

test('headers named in Connection are dropped with it; close and keep-alive name nothing', () => {
  const listed = ['X-Hop', 'x-other'];
  const headers: [string, string][] = [
    ['Connection', `keep-alive, ${listed[0]}`],
    ['connection', ` ${listed[1]} ,close`],
    [listed[0].toUpperCase(), '1'],
    ['X-Kept', '2'],
    [listed[1], '3'],
  ];
  assert.deepEqual(
    connectionListed(flat(headers)),
    listed.map((n) => n.toLowerCase()),
  );
  assert.deepEqual(filter(flat(headers)), [['X-Kept', '2']]);
  for (const v of ['close', 'keep-alive', 'Keep-Alive', 'Close', 'close, keep-alive']) assert.equal(connectionListed(['Connection', v]), null, v);
  assert.equal(connectionListed(['X-Kept', 'x']), null);
});

test('a header a rule deleted (empty name) is not written', () => {
  assert.deepEqual(filter(['', 'gone', 'X-A', 'a', '', 'gone too']), [['X-A', 'a']]);
});

test('connection: close is written last when the client connection ends, and only then', () => {
  const headers: [string, string][] = [
    ['Connection', 'keep-alive'],
    ['X-A', 'a'],
  ];
  assert.deepEqual(filter(flat(headers), { close: true }), [['X-A', 'a'], ['connection', 'close']]);
  assert.deepEqual(filter(flat(headers), { close: false }), [['X-A', 'a']]);
  // the server's own close is hop-by-hop: announced once, by the proxy
  assert.deepEqual(filter(['Connection', 'close'], { close: true }), [['connection', 'close']]);
});

test('Set-Cookie of a backend without persistence passes untouched', () => {
  const sc = `${INSERT}=server-made; Path=/`;
  assert.deepEqual(filter(['Set-Cookie', sc, 'Set-Cookie', 'a=b']), [['Set-Cookie', sc], ['Set-Cookie', 'a=b']]);
});

test('cookie rewrite and prefix: the server\'s Set-Cookie carries the chosen server\'s value', () => {
  const attrs = '; Path=/; HttpOnly';
  const appValue = 'abc123';
  const other: [string, string] = ['Set-Cookie', 'theme=dark'];
  const rw = backend('rw');
  const rwCookie = rw.cfg.servers[0].cookie;
  assert.deepEqual(filter(flat([['Set-Cookie', `${APP}=${appValue}${attrs}`], other]), { be: rw, trip: trip(rw) }), [
    ['Set-Cookie', `${APP}=${rwCookie}${attrs}`],
    other,
  ]);
  const pfx = backend('pfx');
  const pfxCookie = pfx.cfg.servers[0].cookie;
  assert.deepEqual(filter(flat([['set-cookie', `${APP}=${appValue}${attrs}`], other]), { be: pfx, trip: trip(pfx) }), [
    ['set-cookie', `${APP}=${pfxCookie}~${appValue}${attrs}`],
    other,
  ]);
  // a response without the application cookie is left alone
  assert.deepEqual(filter(flat([other]), { be: rw, trip: trip(rw) }), [other]);
});

test('cookie insert: the server\'s own copy dropped, ours inserted for the server that answered; nocache marks cacheable answers private', () => {
  const ins = backend('ins');
  ins.cfg.servers.forEach((s, local) => {
    const lines = filter(flat([['X-A', 'a'], ['Set-Cookie', `${INSERT}=forged; Path=/`], ['Set-Cookie', 'theme=dark']]), { be: ins, trip: trip(ins, local) });
    assert.deepEqual(lines, [
      ['X-A', 'a'],
      ['Set-Cookie', 'theme=dark'],
      ['set-cookie', `${INSERT}=${s.cookie}; path=/`],
    ]);
  });
  // a cacheable answer (fresh for a shared cache) gets Cache-Control: private after the cookie
  const cacheable = filter(['Cache-Control', 'max-age=60'], { be: ins, trip: trip(ins, 1) });
  assert.deepEqual(cacheable, [
    ['Cache-Control', 'max-age=60'],
    ['set-cookie', `${INSERT}=${ins.cfg.servers[1].cookie}; path=/`],
    ['cache-control', 'private'],
  ]);
  // a request that came with a valid cookie for this server gets no new one
  const direct = trip(ins, 0, true);
  assert.deepEqual(filter(['X-A', 'a'], { be: ins, trip: direct }), [['X-A', 'a']]);
  // connection: close still comes last
  const closing = filter(['X-A', 'a'], { be: ins, trip: trip(ins, 0), close: true });
  assert.deepEqual(closing[closing.length - 1], ['connection', 'close']);
  assert.equal(closing.filter(([n]) => n === 'set-cookie').length, 1);
});

test('upgrade mode: a 101 loses its Sec-WebSocket-* headers (the engine writes its own handshake); other answers keep them', () => {
  const ws: [string, string][] = [
    ['Sec-WebSocket-Accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
    ['sec-websocket-protocol', 'chat'],
    ['SEC-WEBSOCKET-EXTENSIONS', 'permessage-deflate'],
  ];
  const others: [string, string][] = [['X-Served-By', 'ws1']];
  const headers = flat([['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ...ws, ...others]);
  assert.deepEqual(filter(headers, { status: 101, upgrade: true }), others);
  // a refused upgrade, or a plain answer, passes them (Upgrade/Connection are hop-by-hop anyway)
  assert.deepEqual(filter(headers, { status: 400, upgrade: false }), [...ws, ...others]);
  // a name that only starts like one is kept
  assert.deepEqual(filter(['Sec-WebSocket-', 'x'], { status: 101, upgrade: true }), [['Sec-WebSocket-', 'x']]);
});
