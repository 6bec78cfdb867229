// Cookie persistence, HAProxy's rules: request cookie reading (indirect stripping, prefix
// unwrapping, down servers, option persist, forged values, maxidle/maxlife dates), response
// Set-Cookie insertion/rewrite/prefix, and the nocache/postonly rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  b64tos30, CK_DOWN, CK_EXPIRED, CK_INVALID, CK_NONE, CK_OLD, CK_VALID, CookieTxn, type CookieMatcher,
  insertCookieHeader, isResponseCacheable, nocacheHeader, readRequestCookie, rewriteSetCookie, s30tob64,
  shouldInsertCookie, staticInsertCookies,
} from '../src/persistence/cookie';
import type { CookieConfig } from '../src/config/model';

function cfg(over: Partial<CookieConfig> = {}): CookieConfig {
  return {
    name: 'SERVERID', mode: 'insert', indirect: false, nocache: false, postonly: false, preserve: false,
    httponly: false, secure: false, domain: null, maxidle: 0, maxlife: 0, ...over,
  };
}

function matcher(values: (string | null)[], up: boolean[] = values.map(() => true), persist = false): CookieMatcher {
  return { values, usable: (i) => up[i], persist };
}

const NOW = 1_700_000_000;

function read(header: string | undefined, c: CookieConfig, m: CookieMatcher, now = NOW): CookieTxn {
  const t = new CookieTxn();
  readRequestCookie(header, c, m, now, t);
  return t;
}

test('a valid cookie picks its server; others and the header are untouched without indirect', () => {
  const h = 'a=1; SERVERID=web2; b=2';
  const t = read(h, cfg(), matcher(['web1', 'web2']));
  assert.deepEqual([t.server, t.status], [1, CK_VALID]);
  assert.equal(t.forward, h);
  const none = read('a=1', cfg(), matcher(['web1']));
  assert.deepEqual([none.server, none.status, none.forward], [-1, CK_NONE, 'a=1']);
  const absent = read(undefined, cfg(), matcher(['web1']));
  assert.deepEqual([absent.server, absent.status], [-1, CK_NONE]);
  // A cookie whose name merely contains ours does not count.
  assert.equal(read('XSERVERID=web1; SERVERIDX=web1', cfg(), matcher(['web1'])).server, -1);
});

test('insert + indirect: the persistence cookie is removed before forwarding', () => {
  const c = cfg({ indirect: true });
  const m = matcher(['web1', 'web2']);
  assert.equal(read('SERVERID=web1', c, m).forward, '');
  assert.equal(read('a=1; SERVERID=web1', c, m).forward, 'a=1');
  assert.equal(read('SERVERID=web1; b=2', c, m).forward, 'b=2');
  assert.equal(read('a=1;SERVERID=web1;b=2', c, m).forward, 'a=1; b=2');
  // Even a forged value is not passed to the application.
  const forged = read('a=1; SERVERID=evil', c, m);
  assert.deepEqual([forged.server, forged.status, forged.forward], [-1, CK_INVALID, 'a=1']);
});

test('the forwarded header is rewritten as HAProxy 2.6 rewrites it (differential.test.ts compares them through node:http, which trims trailing spaces)', () => {
  const indirect = cfg({ indirect: true });
  const prefix = cfg({ mode: 'prefix' });
  const m = matcher(['web1', 'web2']);
  const cases: [CookieConfig, string, string, number][] = [
    // [config, Cookie, forwarded, server picked]
    [indirect, 'x=1; SERVERID=web2;', 'x=1; ', 1], // the delimiter after it stays, with one space
    [indirect, 'x=1; SERVERID=web2;;', 'x=1; ;', 1],
    [indirect, 'SERVERID=web2;;x', ';x', 1], // a removal at the start brings ';' to position 0
    [indirect, 'x=1,SERVERID=web2', 'x=1', 1], // ',' ends a cookie too
    [indirect, 'SERVERID=web2,x=1', 'x=1', 1],
    [indirect, 'x = 1; SERVERID = web2; y = 2', 'x=1; y=2', 1], // spaces around '=' go
    [indirect, 'x="a;b"; SERVERID=web2', 'x="a;b"', 1], // quoted ';' is not a delimiter
    [indirect, 'x="unterminated; SERVERID=web2', 'x="unterminated; SERVERID=web2', -1],
    [indirect, '$Version=1; SERVERID=web2; $Path=/; x=1', '$Version=1; x=1', 1], // $attributes go with their cookie
    [indirect, 'x=1; SERVERID; y=2', 'x=1; SERVERID; y=2', -1],
    [cfg(), 'x = 1; y=2', 'x=1; y=2', -1], // normalised even without our cookie
    [cfg(), 'x=1 ; y=2', 'x=1 ; y=2', -1],
    [prefix, 'SERVERID = web2~abc ; x = 1', 'SERVERID=abc ; x=1', 1],
    [prefix, 'SERVERID=web2~a~b,x=1', 'SERVERID=a~b,x=1', 1],
  ];
  for (const [c, header, forward, server] of cases) {
    const t = read(header, c, m);
    assert.deepEqual([t.forward, t.server], [forward, server], header);
  }
  // unchanged headers come back as the same string, not a copy
  const h = 'a=1; b=2';
  assert.equal(read(h, indirect, m).forward, h);
});

test('forged, empty or unknown values fall back to balancing', () => {
  const m = matcher(['web1', null]);
  for (const v of ['evil', '', 'web', 'web1x', 'WEB1', '"web1"']) {
    const t = read(`SERVERID=${v}`, cfg(), m);
    assert.deepEqual([t.server, t.status], [-1, CK_INVALID], v);
  }
});

test('a cookie naming a down server is balanced elsewhere unless option persist', () => {
  const up = [false, true];
  const t = read('SERVERID=web1', cfg(), matcher(['web1', 'web2'], up));
  assert.deepEqual([t.server, t.status], [-1, CK_DOWN]);
  const p = read('SERVERID=web1', cfg(), matcher(['web1', 'web2'], up, true));
  assert.deepEqual([p.server, p.status], [0, CK_DOWN]);
  // Several servers may share a value: the first usable one wins.
  const shared = read('SERVERID=s', cfg(), matcher(['s', 's'], [false, true]));
  assert.deepEqual([shared.server, shared.status], [1, CK_VALID]);
  // The first occurrence naming a usable server wins; later ones are ignored.
  const two = read('SERVERID=bogus; SERVERID=web2; SERVERID=web1', cfg(), matcher(['web1', 'web2']));
  assert.deepEqual([two.server, two.status], [1, CK_VALID]);
});

test('prefix mode: SRV~value selects the server and the application gets its own value back', () => {
  const c = cfg({ mode: 'prefix' });
  const m = matcher(['s1', 's2']);
  const t = read('JS=x; SERVERID=s2~abc123; y=1', c, m);
  assert.deepEqual([t.server, t.forward], [1, 'JS=x; SERVERID=abc123; y=1']);
  const plain = read('SERVERID=abc123', c, m); // no delimiter: the application's own cookie
  assert.deepEqual([plain.server, plain.status, plain.forward], [-1, CK_INVALID, 'SERVERID=abc123']);
  const unknown = read('SERVERID=zz~abc', c, m);
  assert.deepEqual([unknown.server, unknown.forward], [-1, 'SERVERID=abc']);
});

test('date encoding matches HAProxy s30tob64/b64tos30', () => {
  assert.equal(s30tob64(0), 'AAAAA');
  assert.equal(s30tob64(1), 'AAAAB');
  assert.equal(s30tob64(63), 'AAAA/');
  const v = (NOW + 3) >>> 2;
  assert.equal(b64tos30(s30tob64(v), 0), v);
  assert.equal(b64tos30('AA*AA', 0), -1);
  assert.equal(b64tos30('AAA', 0), -1);
});

test('maxidle and maxlife: dates are written, checked, and expired cookies are ignored', () => {
  const c = cfg({ maxidle: 60_000, maxlife: 3_600_000 });
  const set = insertCookieHeader(c, 'web1', NOW, 0);
  const m = /^SERVERID=web1\|([A-Za-z0-9+/]{5})\|([A-Za-z0-9+/]{5}); path=\/$/.exec(set);
  assert.ok(m, set);
  const header = set.split(';')[0];
  const fresh = read(header, c, matcher(['web1']), NOW + 10);
  assert.deepEqual([fresh.server, fresh.status], [0, CK_VALID]);
  assert.ok(fresh.lastSeen > 0 && fresh.firstSeen > 0);
  const idle = read(header, c, matcher(['web1']), NOW + 120);
  assert.deepEqual([idle.server, idle.status], [-1, CK_EXPIRED]);
  // Refreshed last-seen keeps it alive, but first-seen ages out after maxlife.
  const later = NOW + 4000;
  const refreshed = insertCookieHeader(c, 'web1', later, fresh.firstSeen).split(';')[0];
  const old = read(refreshed, c, matcher(['web1']), later + 5);
  assert.deepEqual([old.server, old.status], [-1, CK_OLD]);
  // Dates far in the future are distrusted too.
  const future = insertCookieHeader(c, 'web1', NOW + 3 * 86400, 0).split(';')[0];
  assert.equal(read(future, c, matcher(['web1'])).server, -1);
  // Without maxidle/maxlife the server part before "|" still selects the server.
  assert.equal(read(header, cfg(), matcher(['web1'])).server, 0);
});

test('insert: Set-Cookie only when the client did not come with the right cookie', () => {
  const c = cfg({ indirect: true, nocache: true });
  const t = read('SERVERID=web1', c, matcher(['web1', 'web2']));
  assert.equal(shouldInsertCookie(c, t, true, false, NOW), false); // already has it
  assert.equal(shouldInsertCookie(c, t, false, false, NOW), true); // redispatched elsewhere
  const nothing = read('', c, matcher(['web1']));
  assert.equal(shouldInsertCookie(c, nothing, false, false, NOW), true);
  assert.equal(shouldInsertCookie(cfg({ mode: 'rewrite' }), nothing, false, false, NOW), false);
  // postonly: only POST responses carry the cookie.
  const po = cfg({ postonly: true });
  assert.equal(shouldInsertCookie(po, nothing, false, false, NOW), false);
  assert.equal(shouldInsertCookie(po, nothing, false, true, NOW), true);
  // preserve: the server's own Set-Cookie is left alone and nothing is added.
  const pr = cfg({ preserve: true });
  const tx = new CookieTxn();
  assert.equal(rewriteSetCookie('SERVERID=app; path=/', pr, 'web1', false, tx), 'SERVERID=app; path=/');
  assert.equal(shouldInsertCookie(pr, tx, false, false, NOW), false);
  // maxidle: a direct hit still refreshes an old last-seen date.
  const mi = cfg({ maxidle: 600_000 });
  const dated = read(insertCookieHeader(mi, 'web1', NOW - 100, 0).split(';')[0], mi, matcher(['web1']));
  assert.equal(shouldInsertCookie(mi, dated, true, false, NOW), true);
});

test('insertCookieHeader writes HAProxy attributes; a cookie-less server gets a removal', () => {
  assert.equal(insertCookieHeader(cfg(), 'web1', NOW, 0), 'SERVERID=web1; path=/');
  assert.equal(
    insertCookieHeader(cfg({ domain: '.example.org', httponly: true, secure: true }), 'w', NOW, 0),
    'SERVERID=w; path=/; domain=.example.org; HttpOnly; Secure',
  );
  assert.equal(insertCookieHeader(cfg(), null, NOW, 0), 'SERVERID=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/');
  assert.deepEqual(staticInsertCookies(cfg(), ['a', null]), ['SERVERID=a; path=/', 'SERVERID=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/']);
  assert.equal(staticInsertCookies(cfg({ maxidle: 1000 }), ['a']), null);
});

test('server Set-Cookie: insert drops it, rewrite replaces the value, prefix prepends the server', () => {
  const tx = new CookieTxn();
  const other = 'JSESSIONID=abc; Path=/';
  assert.equal(rewriteSetCookie(other, cfg(), 'w1', false, tx), other);
  assert.equal(tx.serverSetCookie, false);
  assert.equal(rewriteSetCookie('SERVERID=app; Path=/', cfg(), 'w1', false, tx), null);
  assert.equal(tx.serverSetCookie, true);
  assert.equal(rewriteSetCookie('SERVERID=app; Path=/; HttpOnly', cfg({ mode: 'rewrite' }), 'w1', false, tx), 'SERVERID=w1; Path=/; HttpOnly');
  assert.equal(rewriteSetCookie('SERVERID=app', cfg({ mode: 'rewrite' }), 'w1', false, tx), 'SERVERID=w1');
  assert.equal(rewriteSetCookie('SERVERID = app; Path=/', cfg({ mode: 'prefix' }), 'w1', false, tx), 'SERVERID=w1~app; Path=/');
  // rewrite + indirect on a request that came with the right cookie: the client needs nothing new.
  assert.equal(rewriteSetCookie('SERVERID=app', cfg({ mode: 'rewrite', indirect: true }), 'w1', true, tx), null);
  // A server without a cookie value leaves the application's cookie as it is.
  assert.equal(rewriteSetCookie('SERVERID=app', cfg({ mode: 'prefix' }), null, false, tx), 'SERVERID=app');
});

test("nocache: Cache-Control private only on an inserted cookie in a cacheable response", () => {
  assert.equal(isResponseCacheable('GET', 200, undefined, undefined, true), true);
  assert.equal(isResponseCacheable('POST', 200, undefined, undefined, true), false);
  assert.equal(isResponseCacheable('GET', 302, undefined, undefined, true), false);
  assert.equal(isResponseCacheable('GET', 404, undefined, undefined, true), true);
  assert.equal(isResponseCacheable('GET', 200, 'no-cache', undefined, true), false);
  assert.equal(isResponseCacheable('GET', 200, 'max-age=60, private', undefined, true), false);
  assert.equal(isResponseCacheable('GET', 200, 'max-age=0', undefined, true), false);
  assert.equal(isResponseCacheable('GET', 200, undefined, 'no-cache', true), false);
  assert.equal(isResponseCacheable('POST', 200, 'public', undefined, true), true);
  // HAProxy 2.6: no explicit freshness and no validator -> not cacheable
  assert.equal(isResponseCacheable('GET', 200, undefined, undefined, false), false);
  assert.equal(isResponseCacheable('GET', 200, 'public', undefined, false), false);
  assert.equal(isResponseCacheable('GET', 200, 'max-age=60', undefined, false), true);
  assert.equal(isResponseCacheable('GET', 200, 's-maxage=5, public', undefined, false), true);
  const c = cfg({ nocache: true });
  assert.equal(nocacheHeader(c, true, true), 'private');
  assert.equal(nocacheHeader(c, false, true), null);
  assert.equal(nocacheHeader(c, true, false), null);
  assert.equal(nocacheHeader(cfg(), true, true), null);
});
