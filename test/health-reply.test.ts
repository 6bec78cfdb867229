// Pure parts of the health checks: the HTTP reply judge and the rise/fall counter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHECK_BUFFER_SIZE, HttpCheckReply, dechunk, type HttpExpect } from '../src/health/http-check-reply';
import { afterFailure, afterSuccess, maxHealth, nextInterval } from '../src/health/rise-fall';

const ok200: HttpExpect = { expectStatus: [[200, 399]], expectString: null };

function judge(bytes: string | Buffer, expect = ok200, split = 0) {
  const r = new HttpCheckReply(expect);
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  const step = split > 0 ? split : buf.length || 1;
  for (let i = 0; i < buf.length; i += step) {
    const v = r.push(buf.subarray(i, i + step));
    if (v) return v;
  }
  return r.end();
}

test('status line: in range passes with the reason phrase, out of range is L7STS with the code', () => {
  assert.deepEqual(judge('HTTP/1.1 200 OK\r\n\r\n'), { status: 'L7OK', code: 200, info: '' });
  assert.deepEqual(judge('HTTP/1.0 503 Service Unavailable\r\n'), { status: 'L7STS', code: 503, info: 'Service Unavailable' });
  assert.deepEqual(judge('HTTP/1.1 404\r\n\r\n'), { status: 'L7STS', code: 404, info: '' });
  assert.equal(judge('HTTP/1.1 302 Found\r\n', { expectStatus: [[200, 200], [302, 302]], expectString: null }).status, 'L7OK');
  assert.equal(judge('HTTP/1.1 301 Moved\r\n', { expectStatus: [[200, 200], [302, 302]], expectString: null }).status, 'L7STS');
});

test('a status line split over many reads is still judged right', () => {
  assert.deepEqual(judge('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n', ok200, 1), {
    status: 'L7STS',
    code: 503,
    info: 'Service Unavailable',
  });
});

test('garbage is L7RSP with its first line as info, never an exception', () => {
  assert.deepEqual(judge('SSH-2.0-OpenSSH_9.2\r\n'), { status: 'L7RSP', code: 0, info: 'SSH-2.0-OpenSSH_9.2' });
  assert.deepEqual(judge(''), { status: 'L7RSP', code: 0, info: '' });
  assert.equal(judge('HTTP/1.1 20').status, 'L7RSP');
  assert.equal(judge('HTTP/2 200 OK\r\n').status, 'L7RSP');
  assert.equal(judge('HTTP/1.1 2000 OK\r\n').status, 'L7RSP');
  assert.equal(judge('http/1.1 200 OK\r\n').status, 'L7RSP');
  // Control bytes and quotes in the info are made printable; length is bounded.
  const v = judge(Buffer.concat([Buffer.from([0, 1, 2, 0x1b]), Buffer.alloc(500, 0x41), Buffer.from('\n')]));
  assert.equal(v.status, 'L7RSP');
  assert.ok(v.info.length <= 127 && /^[\x20-\x7e]*$/.test(v.info));
  // A reply with no newline at all that fills the check buffer ends the read.
  const r = new HttpCheckReply(ok200);
  assert.equal(r.push(Buffer.alloc(CHECK_BUFFER_SIZE + 10, 0x61))?.status, 'L7RSP');
});

test('random bytes always give a verdict', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 500; i++) {
    const len = Math.floor(rnd() * 300);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
    // Half of them start like a real status line to reach the header/body code.
    const bytes = i % 2 ? Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), b]) : b;
    const v = judge(bytes, { expectStatus: [[200, 399]], expectString: 'needle' }, 1 + (i % 7));
    assert.ok(['L7OK', 'L7STS', 'L7RSP'].includes(v.status));
  }
});

test('expect_string: found in the body passes, absent is L7RSP', () => {
  const ex = { expectStatus: [[200, 399]] as [number, number][], expectString: 'ALIVE' };
  // Content-Length bounds the body: bytes past it are not the body.
  assert.equal(judge('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nI AM ALIVE', ex).status, 'L7RSP');
  assert.equal(judge('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nI AM ALIVE', ex).status, 'L7OK');
  assert.deepEqual(judge('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndead', ex), {
    status: 'L7RSP',
    code: 200,
    info: 'HTTP content check did not match',
  });
  // The string only in a header does not count.
  assert.equal(judge('HTTP/1.1 200 OK\r\nX-State: ALIVE\r\n\r\nnope', ex).status, 'L7RSP');
  // Close-delimited body, delivered byte by byte.
  assert.equal(judge('HTTP/1.0 200 OK\r\n\r\nstill ALIVE here', ex, 1).status, 'L7OK');
  // Wrong status wins over the body.
  assert.equal(judge('HTTP/1.1 500 Oops\r\n\r\nALIVE', ex).status, 'L7STS');
  // Chunked: the string split across two chunks is found after de-chunking.
  assert.equal(judge('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nALI\r\n2\r\nVE\r\n0\r\n\r\n', ex, 4).status, 'L7OK');
  assert.equal(judge('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndead\r\n0\r\n\r\n', ex).status, 'L7RSP');
});

test('dechunk tolerates junk and partial input', () => {
  assert.deepEqual(dechunk(Buffer.from('5\r\nhello\r\n0\r\n\r\n')), { body: Buffer.from('hello'), complete: true });
  assert.equal(dechunk(Buffer.from('5\r\nhel')).complete, false);
  assert.equal(dechunk(Buffer.from('zz\r\nhello')).complete, false);
  assert.equal(dechunk(Buffer.alloc(0)).complete, false);
});

test('rise/fall counter follows HAProxy', () => {
  const p = { rise: 2, fall: 3 };
  assert.equal(maxHealth(p), 4);
  // UP at 4: three failures to DOWN, the third snaps to 0.
  assert.equal(afterFailure(4, p), 3);
  assert.equal(afterFailure(3, p), 2);
  assert.equal(afterFailure(2, p), 0);
  assert.equal(afterFailure(0, p), 0);
  // A success while going down restores full health.
  assert.equal(afterSuccess(3, p), 4);
  // DOWN at 0: two successes to UP, the second snaps to 4.
  assert.equal(afterSuccess(0, p), 1);
  assert.equal(afterSuccess(1, p), 4);
  // A failure while rising starts over.
  assert.equal(afterFailure(1, p), 0);
  const iv = { inter: 1000, fastinter: 200, downinter: 5000 };
  assert.equal(nextInterval(4, true, p, iv), 1000);
  assert.equal(nextInterval(3, true, p, iv), 200);
  assert.equal(nextInterval(1, false, p, iv), 200);
  assert.equal(nextInterval(0, false, p, iv), 5000);
});
