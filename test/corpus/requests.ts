// The hostile-request corpus: raw client bytes and what gatehouse must do with them, run by
// test/hardening-requests.test.ts against a backend that records exactly what it receives.
//
// Outcomes are recorded honestly. uWebSockets.js 20.30 parses the client side and decides some
// cases before gatehouse sees the request:
//   conn 'silent' — uWS treats the head as incomplete and waits: no answer, the backend sees
//                   nothing, the connection is dropped at uWS's fixed ~10 s idle timeout.
//   conn 'close'  — the connection is closed at once (by uWS, or by gatehouse after its answer).
//   conn 'open'   — answered, the keep-alive connection stays usable.
// Cases made by reject()/refusedUnanswered() are refused by validateRequest() in
// exchange.start(); before it was wired gatehouse forwarded or mangled them (docs/hardening.md).

export interface SeenRequest {
  method: string;
  url: string;
  /** request body as the backend received it after de-chunking (latin1) */
  body?: string;
  /** headers the backend must receive (lower-case name -> exact value) */
  has?: Record<string, string>;
  /** headers the backend must not receive */
  lacks?: string[];
}

export interface CorpusCase {
  id: string;
  group: string;
  /** request bytes, latin1 */
  raw: string;
  /** write raw in these pieces, 30 ms apart (TCP segmentation); default one write */
  split?: number[];
  /** statuses gatehouse answers on this connection, in order; [] = no answer */
  answers: number[];
  conn: 'open' | 'close' | 'silent';
  /** complete requests the backend receives, in order; nothing else may reach it */
  backend: SeenRequest[];
  /** an incomplete request head reaches the backend and that upstream connection is then
   *  closed by gatehouse (uWS rejects the body after the head was forwarded) */
  upstreamCut?: boolean;
  why: string;
}

const H = 'Host: x\r\n';
const get = (path: string, extra = '', version = 'HTTP/1.1'): string => `GET ${path} ${version}\r\n${H}${extra}\r\n`;
const post = (headers: string, body: string): string => `POST /p HTTP/1.1\r\n${H}${headers}\r\n${body}`;
const chunked = (body: string, te = 'chunked'): string => post(`Transfer-Encoding: ${te}\r\n`, body);
const headerLines = (n: number): string => Array.from({ length: n }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
const big = (n: number): string => 'a'.repeat(n);
const SMUG = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

const cases: CorpusCase[] = [];
function ok(id: string, group: string, raw: string, backend: SeenRequest[], why: string, more: Partial<CorpusCase> = {}): void {
  cases.push({ id, group, raw, answers: backend.map(() => 200), conn: 'open', backend, why, ...more });
}
function reject(id: string, group: string, raw: string, status: number, why: string, more: Partial<CorpusCase> = {}): void {
  cases.push({ id, group, raw, answers: [status], conn: 'close', backend: [], why, ...more });
}
/** validateRequest refuses it, but uWS closes the connection right after the handler (it cannot
 *  parse this Content-Length either), so the 4xx never gets out; today the head goes upstream. */
function refusedUnanswered(id: string, group: string, raw: string, why: string): void {
  cases.push({ id, group, raw, answers: [], conn: 'close', backend: [], why });
}
function silent(id: string, group: string, raw: string, why: string, more: Partial<CorpusCase> = {}): void {
  cases.push({ id, group, raw, answers: [], conn: 'silent', backend: [], why, ...more });
}
function dropped(id: string, group: string, raw: string, backend: SeenRequest[], why: string, more: Partial<CorpusCase> = {}): void {
  cases.push({ id, group, raw, answers: [], conn: 'close', backend, why, ...more });
}

// --- baseline -------------------------------------------------------------------------------
ok('plain-get', 'baseline', get('/a'), [{ method: 'GET', url: '/a' }], 'control case');
ok('post-cl', 'baseline', post('Content-Length: 5\r\n', 'abcde'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'control case');
ok('post-chunked', 'baseline', chunked('5\r\nabcde\r\n0\r\n\r\n'), [{ method: 'POST', url: '/p', body: 'abcde', has: { 'transfer-encoding': 'chunked' } }], 'control case');
ok('query', 'baseline', get('/a?x=1&y=%2F'), [{ method: 'GET', url: '/a?x=1&y=%2F' }], 'query untouched');
ok('pct-encoded-ctl', 'baseline', get('/a%00b?q=%0d%0a'), [{ method: 'GET', url: '/a%00b?q=%0d%0a' }], 'percent-encoded bytes are not control bytes');
ok('hop-by-hop', 'baseline', get('/a', 'Connection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Authorization: s\r\n'),
  [{ method: 'GET', url: '/a', lacks: ['x-drop', 'keep-alive', 'te', 'proxy-authorization', 'connection'] }], 'hop-by-hop headers removed');
ok('tab-in-value', 'baseline', get('/a', 'X-A: a\tb\r\n'), [{ method: 'GET', url: '/a', has: { 'x-a': 'a\tb' } }], 'HTAB is legal inside a value');
ok('cl-zero', 'baseline', post('Content-Length: 0\r\n', ''), [{ method: 'POST', url: '/p', body: '' }], 'empty body');
ok('cl-leading-zero', 'baseline', post('Content-Length: 05\r\n', 'abcde'), [{ method: 'POST', url: '/p', body: 'abcde' }], '1*DIGIT: leading zeros are valid');
ok('cl-no-space', 'baseline', post('Content-Length:5\r\n', 'abcde'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'OWS is optional');
ok('cl-ows', 'baseline', post('Content-Length:  5 \r\n', 'abcde'), [{ method: 'POST', url: '/p', body: 'abcde', has: { 'content-length': '5' } }], 'OWS around the value is trimmed');
ok('get-with-body', 'baseline', get('/a', 'Content-Length: 5\r\n') + 'abcde', [{ method: 'GET', url: '/a', body: 'abcde' }], 'a GET body is framed by CL and forwarded');
ok('expect-100', 'baseline', post('Expect: 100-continue\r\nContent-Length: 5\r\n', 'abcde'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'uWS answers 100 itself', { answers: [100, 200] });
ok('conn-close', 'baseline', get('/a', 'Connection: close\r\n'), [{ method: 'GET', url: '/a' }], 'answered, then closed', { conn: 'close' });
for (const m of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'HEAD']) {
  ok(`method-${m.toLowerCase()}`, 'methods', `${m} /m HTTP/1.1\r\n${H}\r\n`, [{ method: m, url: '/m' }], 'standard method forwarded');
}

// --- Content-Length -----------------------------------------------------------------------------
reject('cl-dup-different', 'content-length', post('Content-Length: 3\r\nContent-Length: 5\r\n', 'abcde'), 400,
  'RFC 9112 6.3: differing lengths; today both lines are forwarded, the server rejects, gatehouse retries and answers 502, the rest of the body becomes a bogus next request');
reject('cl-dup-same', 'content-length', post('Content-Length: 5\r\nContent-Length: 5\r\n', 'abcde'), 400,
  'two CL lines; today forwarded as two lines and refused by llhttp (502)');
reject('cl-dup-zero-then-five', 'content-length', post('Content-Length: 0\r\nContent-Length: 5\r\n', 'abcde'), 400, 'uWS frames by the first line');
refusedUnanswered('cl-list', 'content-length', post('Content-Length: 5, 5\r\n', 'abcde'), 'list value; today the head is forwarded, then uWS closes');
refusedUnanswered('cl-plus', 'content-length', post('Content-Length: +5\r\n', 'abcde'), 'sign not allowed');
refusedUnanswered('cl-negative', 'content-length', post('Content-Length: -1\r\n', 'abcde'), 'negative length');
refusedUnanswered('cl-hex', 'content-length', post('Content-Length: 0x5\r\n', 'abcde'), 'hex not allowed');
reject('cl-empty', 'content-length', post('Content-Length: \r\n', ''), 400, 'empty value; today forwarded and refused upstream (502 after a retry)');
refusedUnanswered('cl-alpha', 'content-length', post('Content-Length: 5a\r\n', 'abcde'), 'trailing junk');
refusedUnanswered('cl-inner-space', 'content-length', post('Content-Length: 5 5\r\n', 'abcde'), 'space inside the number');
refusedUnanswered('cl-huge', 'content-length', post('Content-Length: 99999999999999999999\r\n', 'abcde'), 'beyond 2^53');
dropped('cl-2p31', 'content-length', post('Content-Length: 2147483648\r\n', 'abc'), [],
  'uWS 20.30 closes (no answer) any CL >= 2^31-1 at the first body byte: bodies of 2 GiB and more cannot be sent with a length; the head waits for body bytes, so the server sees nothing');
reject('cl-te-both', 'content-length', post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n' + SMUG), 400,
  'CL.TE smuggling', { answers: [], backend: [] });
reject('te-cl-both', 'content-length', post('Transfer-Encoding: chunked\r\nContent-Length: 30\r\n', '0\r\n\r\n' + SMUG), 400,
  'TE.CL smuggling', { answers: [], backend: [] });
reject('te-empty-with-cl', 'content-length', post('Transfer-Encoding: \r\nContent-Length: 5\r\n', 'abcde'), 400,
  'empty TE: uWS frames by CL but gatehouse forwards TE: chunked plus CL (502 upstream today)');
reject('te-chunked-cl-zero', 'content-length', post('Transfer-Encoding: chunked\r\nContent-Length: 0\r\n', '5\r\nabcde\r\n0\r\n\r\n'), 400,
  'TE with CL', { answers: [], backend: [] });
ok('cl0-then-pipelined', 'content-length', post('Content-Length: 0\r\n', '') + SMUG, [{ method: 'POST', url: '/p', body: '' }],
  'the second request arrives while the first is pending: uWS closes the connection, nothing answered', { answers: [], conn: 'close' });

// --- Transfer-Encoding ----------------------------------------------------------------------------
const CHUNK5 = '5\r\nabcde\r\n0\r\n\r\n';
ok('te-uppercase', 'transfer-encoding', chunked(CHUNK5, 'CHUNKED'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'codings are case-insensitive');
ok('te-ows', 'transfer-encoding', chunked(CHUNK5, ' chunked '), [{ method: 'POST', url: '/p', body: 'abcde' }], 'OWS trimmed');
ok('te-tab', 'transfer-encoding', post('Transfer-Encoding:\tchunked\r\n', CHUNK5), [{ method: 'POST', url: '/p', body: 'abcde' }], 'tab is OWS');
ok('te-empty-element', 'transfer-encoding', chunked(CHUNK5, ',chunked'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'empty list elements are allowed');
reject('te-xchunked', 'transfer-encoding', chunked(CHUNK5, 'xchunked'), 400, 'chunked is not the final coding (RFC 9112 6.3); uWS de-chunks it anyway today');
reject('te-chunked-identity', 'transfer-encoding', chunked(CHUNK5, 'chunked, identity'), 400, 'chunked not final');
reject('te-identity', 'transfer-encoding', chunked(CHUNK5, 'identity'), 400, 'chunked not final');
reject('te-gzip', 'transfer-encoding', chunked(CHUNK5, 'gzip'), 400, 'chunked not final');
reject('te-gzip-chunked', 'transfer-encoding', chunked(CHUNK5, 'gzip, chunked'), 501, 'gzip would be dropped when gatehouse re-chunks: not implemented');
reject('te-chunked-chunked', 'transfer-encoding', chunked(CHUNK5, 'chunked, chunked'), 400, 'chunked applied twice');
reject('te-two-lines', 'transfer-encoding', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', CHUNK5), 400, 'two TE lines make chunked, chunked');
reject('te-two-lines-other', 'transfer-encoding', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n', CHUNK5), 400, 'chunked not final');
reject('te-param', 'transfer-encoding', chunked(CHUNK5, 'chunked;q=1'), 400, 'chunked takes no parameters');
reject('te-vtab', 'transfer-encoding', chunked(CHUNK5, '\x0bchunked'), 400, 'VT is not OWS', { answers: [], conn: 'silent' });
silent('te-space-before-colon', 'transfer-encoding', post('Transfer-Encoding : chunked\r\n', CHUNK5), 'RFC 9112 5.1 requires 400; uWS waits');
silent('te-underscore', 'transfer-encoding', post('Transfer_Encoding: chunked\r\n', CHUNK5), 'not a header uWS accepts (underscore mangled by its lower-casing)');
silent('te-obs-fold', 'transfer-encoding', post('Transfer-Encoding:\r\n chunked\r\n', CHUNK5), 'obs-fold');

// --- chunked body ---------------------------------------------------------------------------------
ok('chunk-upper-hex', 'chunked-body', chunked('A\r\n0123456789\r\n0\r\n\r\n'), [{ method: 'POST', url: '/p', body: '0123456789' }], 'hex digits are case-insensitive');
ok('chunk-trailer', 'chunked-body', chunked('5\r\nabcde\r\n0\r\nX-T: 1\r\n\r\n'), [{ method: 'POST', url: '/p', body: 'abcde', lacks: ['x-t'] }], 'trailer fields are dropped');
ok('chunk-many', 'chunked-body', chunked('1\r\na\r\n1\r\nb\r\n3\r\ncde\r\n0\r\n\r\n'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'several chunks');
ok('chunk-size-space', 'chunked-body', chunked('5 \r\nabcde\r\n0\r\n\r\n'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'uWS tolerates BWS after the size; gatehouse re-chunks, so the server sees clean framing');
ok('chunk-bare-lf', 'chunked-body', chunked('5\nabcde\n0\n\n'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'uWS accepts bare LF in chunk framing; re-chunked upstream');
ok('chunk-missing-crlf', 'chunked-body', chunked('5\r\nabcdeXX0\r\n\r\n'), [{ method: 'POST', url: '/p', body: 'abcde' }], 'uWS skips two bytes after a chunk without checking them; re-chunked upstream, no desync');
ok('chunk-short-data', 'chunked-body', chunked('3\r\nabcde\r\n0\r\n\r\n' + SMUG), [{ method: 'POST', url: '/p', body: 'abc' }],
  'size 3 with 5 bytes: uWS resynchronises on the next line; the smuggled request never reaches the server', { conn: 'open' });
ok('chunk-empty-size', 'chunked-body', chunked('\r\nabcde\r\n0\r\n\r\n'), [{ method: 'POST', url: '/p', body: '' }], 'uWS reads an empty size line as 0 (end of body); RFC says 400');
dropped('chunk-extension', 'chunked-body', chunked('5;foo=bar\r\nabcde\r\n0\r\n\r\n'), [], 'uWS 20.30 rejects valid chunk extensions after the head went out', { upstreamCut: true });
dropped('chunk-overflow', 'chunked-body', chunked('FFFFFFFFFFFFFFFFF5\r\nabcde\r\n0\r\n\r\n'), [], 'hex overflow', { upstreamCut: true });
dropped('chunk-negative', 'chunked-body', chunked('-5\r\nabcde\r\n0\r\n\r\n'), [], 'negative size', { upstreamCut: true });
dropped('chunk-0x', 'chunked-body', chunked('0x5\r\nabcde\r\n0\r\n\r\n'), [], '0x prefix', { upstreamCut: true });
dropped('chunk-junk', 'chunked-body', chunked('zz\r\nabcde\r\n0\r\n\r\n'), [], 'not hex', { upstreamCut: true });

// --- header syntax --------------------------------------------------------------------------------
silent('obs-fold', 'header-syntax', get('/a', 'X-A: one\r\n two\r\n'), 'obs-fold: RFC 9112 5.2 allows 400; uWS waits');
silent('obs-fold-tab', 'header-syntax', get('/a', 'X-A: one\r\n\ttwo\r\n'), 'obs-fold with tab');
silent('bare-lf-all', 'header-syntax', 'GET /a HTTP/1.1\nHost: x\n\n', 'bare LF line endings');
silent('bare-lf-header', 'header-syntax', 'GET /a HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n', 'bare LF inside the head');
silent('bare-lf-request-line', 'header-syntax', 'GET /a HTTP/1.1\nHost: x\r\n\r\n', 'bare LF after the request line');
silent('bare-cr-header', 'header-syntax', 'GET /a HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n', 'bare CR');
silent('bare-cr-value', 'header-syntax', get('/a', 'X-A: a\rb\r\n'), 'bare CR inside a value');
silent('space-before-colon', 'header-syntax', post('Content-Length : 5\r\n', 'abcde'), 'RFC 9112 5.1 MUST 400; uWS waits');
silent('space-in-name', 'header-syntax', get('/a', 'X A: b\r\n'), 'space in a name');
silent('no-colon', 'header-syntax', get('/a', 'XA\r\n'), 'a line without colon');
silent('leading-space-line', 'header-syntax', 'GET /a HTTP/1.1\r\n Host: x\r\n\r\n', 'whitespace before the first field');
ok('empty-name-ends-head', 'header-syntax', get('/a', ': b\r\nX-After: 1\r\n'), [{ method: 'GET', url: '/a', lacks: ['x-after'] }],
  'uWS ends its header list at an empty name: later fields vanish (RFC says 400)');
ok('empty-name-hides-cl', 'header-syntax', post(': b\r\nContent-Length: 5\r\n', ''), [{ method: 'POST', url: '/p', body: '', lacks: ['content-length'] }],
  'the hidden Content-Length is ignored by uWS and gatehouse alike: no smuggling, just a 0-length body');
silent('name-brackets', 'header-syntax', get('/a', 'X[A]: b\r\n'), 'non-token name');
silent('name-at', 'header-syntax', get('/a', 'X@A: b\r\n'), 'non-token name');
silent('name-high-byte', 'header-syntax', get('/a', 'X\xc3\xa9: b\r\n'), 'non-ASCII name');
ok('value-utf8-inside', 'header-syntax', get('/a', 'X-A: caf\xc3\xa9 au lait\r\n'), [{ method: 'GET', url: '/a', has: { 'x-a': 'caf\xc3\xa9 au lait' } }],
  'obs-text inside a value passes through byte for byte');
ok('value-utf8-last', 'header-syntax', get('/a', 'X-A: caf\xc3\xa9\r\n'), [{ method: 'GET', url: '/a', has: { 'x-a': 'caf' } }],
  'uWS.js loses non-ASCII bytes at the very end of a value (data loss, not a smuggling vector)');
ok('value-latin1-last', 'header-syntax', get('/a', 'X-A: caf\xe9\r\n'), [{ method: 'GET', url: '/a', has: { 'x-a': 'caf' } }],
  'same with a lone latin1 byte');
reject('value-del', 'header-syntax', get('/a', 'X-A: a\x7fb\r\n'), 400, 'DEL reaches the server today (llhttp refuses: 502 after a retry)');
for (let c = 0; c < 32; c++) {
  if (c === 9 || c === 10 || c === 13) continue;
  const hex = c.toString(16).padStart(2, '0');
  silent(`value-ctl-${hex}`, 'control-bytes', get('/a', `X-A: a${String.fromCharCode(c)}b\r\n`), 'control byte inside a value: uWS waits');
}
for (const c of [0, 1, 0x1f, 0x7f]) {
  const hex = c.toString(16).padStart(2, '0');
  silent(`name-ctl-${hex}`, 'control-bytes', get('/a', `X-${String.fromCharCode(c)}A: b\r\n`), 'control byte inside a name: uWS waits');
}
reject('two-hosts', 'header-syntax', get('/a', 'Host: y\r\n'), 400, 'RFC 9112 3.2: more than one Host is a 400; today both go upstream');
ok('host-empty', 'header-syntax', 'GET /a HTTP/1.1\r\nHost: \r\n\r\n', [{ method: 'GET', url: '/a', has: { host: '' } }], 'empty Host is valid for an origin server');

// --- request line and target ---------------------------------------------------------------------
silent('absolute-form', 'request-line', get('http://x/a'), 'absolute-form: uWS waits (HAProxy accepts it)');
silent('authority-form', 'request-line', 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n', 'CONNECT');
silent('asterisk-form', 'request-line', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 'OPTIONS * is valid HTTP but uWS waits');
silent('target-no-slash', 'request-line', get('a'), 'not origin-form');
silent('target-space', 'request-line', get('/a b'), 'space inside the target');
silent('target-ctl', 'request-line', get('/a\x01b'), 'control byte in target');
reject('target-fragment', 'request-line', get('/a#frag'), 400, 'fragment in the target: HAProxy rejects it since CVE-2023-45539; today forwarded');
reject('target-high-bytes', 'request-line', get('/\xc3\xa9'), 400, 'raw non-ASCII in the target: uWS decodes it as UTF-8 and gatehouse re-encodes; llhttp upstream refuses it (502 today)');
reject('target-invalid-utf8', 'request-line', get('/\xff'), 400, 'invalid UTF-8 becomes U+FFFD bytes upstream today');
silent('double-space', 'request-line', 'GET  /a HTTP/1.1\r\nHost: x\r\n\r\n', 'two spaces');
silent('version-lower', 'request-line', get('/a', '', 'http/1.1'), 'lower-case protocol');
silent('version-trailing-space', 'request-line', 'GET /a HTTP/1.1 \r\nHost: x\r\n\r\n', 'trailing space');
silent('empty-lines', 'request-line', '\r\n\r\n', 'nothing but CRLFs');
silent('leading-crlf', 'request-line', '\r\n' + get('/a'), 'RFC 9112 2.2 SHOULD ignore one leading CRLF; uWS waits');

// --- versions -------------------------------------------------------------------------------------
silent('http10-host', 'versions', get('/a', '', 'HTTP/1.0'), 'uWS 20.30 never answers HTTP/1.0 (ApacheBench and old clients hang ~10 s)');
silent('http10-no-host', 'versions', 'GET /a HTTP/1.0\r\n\r\n', 'HTTP/1.0 without Host');
silent('http10-keepalive', 'versions', get('/a', 'Connection: keep-alive\r\n', 'HTTP/1.0'), 'HTTP/1.0 keep-alive');
silent('http10-post', 'versions', 'POST /p HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde', 'HTTP/1.0 with a body');
silent('http09', 'versions', 'GET /a\r\n\r\n', 'HTTP/0.9 request line');
silent('http2-preface', 'versions', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'h2c prior-knowledge preface');
silent('http20-line', 'versions', get('/a', '', 'HTTP/2.0'), 'HTTP/2.0 in an HTTP/1 request line');
silent('http12', 'versions', get('/a', '', 'HTTP/1.2'), 'unknown minor version');
silent('http11-no-host', 'versions', 'GET /a HTTP/1.1\r\n\r\n', 'RFC 9112 3.2: 400 without Host; uWS waits');

// --- methods --------------------------------------------------------------------------------------
dropped('method-lowercase', 'methods', 'get /a HTTP/1.1\r\nHost: x\r\n\r\n', [], 'methods are case-sensitive: uWS closes (HAProxy forwards any token)');
dropped('method-custom', 'methods', 'FOOBAR /a HTTP/1.1\r\nHost: x\r\n\r\n', [], 'custom token: uWS closes');
dropped('method-purge', 'methods', 'PURGE /a HTTP/1.1\r\nHost: x\r\n\r\n', [], 'PURGE (caches): uWS closes');
dropped('method-one-char', 'methods', 'G /a HTTP/1.1\r\nHost: x\r\n\r\n', [], 'short token: uWS closes');
dropped('method-propfind', 'methods', 'PROPFIND /a HTTP/1.1\r\nHost: x\r\n\r\n', [], 'WebDAV: uWS closes');

// --- size limits (defaults: max_header_size 16384, max_uri = max_header_size, max_headers 101) ------------
ok('uri-8000', 'limits', get('/' + big(8000)), [{ method: 'GET', url: '/' + big(8000) }], 'below max_uri');
ok('uri-9000', 'limits', get('/' + big(9000)), [{ method: 'GET', url: '/' + big(9000) }], 'below max_uri (the head limit, as HAProxy\'s tune.bufsize)');
reject('uri-40k', 'limits', get('/' + big(40000)), 414, 'above the server\'s own limit: 502 today');
reject('query-20k', 'limits', get('/a?' + big(20000)), 414, 'the query counts toward max_uri');
ok('header-8k', 'limits', get('/a', `X-Big: ${big(8000)}\r\n`), [{ method: 'GET', url: '/a' }], 'below max_header_size');
reject('header-20k', 'limits', get('/a', `X-Big: ${big(20000)}\r\n`), 431, 'above max_header_size; today forwarded');
reject('header-40k', 'limits', get('/a', `X-Big: ${big(40000)}\r\n`), 431, 'above the server\'s limit: 502 today');
reject('headers-total-17k', 'limits', get('/a', Array.from({ length: 17 }, (_, i) => `X-${i}: ${big(1000)}\r\n`).join('')), 431, 'many medium fields add up');
ok('headers-47', 'limits', get('/a', headerLines(46)), [{ method: 'GET', url: '/a', has: { 'x-h45': 'v45' } }], '47 fields in all: uWS\'s maximum');
silent('headers-49', 'limits', get('/a', headerLines(48)), 'uWS 20.30 holds at most ~48 fields and waits beyond (HAProxy allows 101)');
silent('headers-250', 'limits', get('/a', headerLines(250)), 'far beyond');
ok('head-4k-split', 'limits', get('/a', `X-Big: ${big(3900)}\r\n`), [{ method: 'GET', url: '/a' }], 'a head under 4 KB survives arriving in two reads', { split: [100] });
dropped('head-6k-split', 'limits', get('/a', `X-Big: ${big(6000)}\r\n`), [],
  'uWS buffers a partial head in a fixed 4 KB: a 6 KB head in two reads is dropped, the same head in one read passes', { split: [100] });
ok('head-6k-one-read', 'limits', get('/a', `X-Big: ${big(6000)}\r\n`), [{ method: 'GET', url: '/a' }], 'same head in one write');

// --- pipelining and smuggling shapes ----------------------------------------------------------------
dropped('pipelined-two-gets', 'pipelining', get('/a') + get('/b'), [{ method: 'GET', url: '/a' }],
  'uWS closes a connection that pipelines while a response is pending; the first request already went out');
dropped('pipelined-post-get', 'pipelining', post('Content-Length: 5\r\n', 'abcde') + get('/b'), [{ method: 'POST', url: '/p', body: 'abcde' }],
  'same with a body first');
ok('body-contains-request', 'pipelining', post(`Content-Length: ${SMUG.length}\r\n`, SMUG), [{ method: 'POST', url: '/p', body: SMUG }],
  'a request inside a CL body stays body');
ok('chunk-contains-request', 'pipelining', chunked(`${SMUG.length.toString(16)}\r\n${SMUG}\r\n0\r\n\r\n`), [{ method: 'POST', url: '/p', body: SMUG }],
  'a request inside a chunk stays body');
reject('cl-dup-smuggle', 'pipelining', post('Content-Length: 0\r\nContent-Length: 36\r\n', SMUG), 400,
  'CL.CL smuggling shape: refused, and the deferred 400 makes uWS drop the connection when the trailing request arrives (nothing forwarded); today the server gets duplicate lengths',
  { answers: [] });
reject('te-obfuscated-smuggle', 'pipelining', post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n' + SMUG), 400,
  'TE obfuscation shape: same; today the POST goes upstream', { answers: [] });
reject('bad-then-pipelined', 'pipelining', get('/a', 'Host: y\r\n') + get('/b'), 400,
  'a refused request followed by another in the same read: nothing may reach the server', { answers: [] });

export const corpus: readonly CorpusCase[] = cases;
