// The DNS message codec (src/dns/packet.ts) on hand-built messages, and the address cells of the
// shared state (IPv4/IPv6 text <-> words), in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { decodeAnswer, encodeQuery, TYPE_A, TYPE_AAAA } from '../src/dns/packet';
import { addressWords, wordsAddress } from '../src/shared/state';

test('a query: id, RD, one question in labels, type and class IN, and an EDNS0 OPT record with the payload size', () => {
  const q = encodeQuery(0xbeef, 'svc.Example.', TYPE_AAAA, 4096);
  assert.equal(q.readUInt16BE(0), 0xbeef);
  assert.equal(q.readUInt16BE(2), 0x0100);
  assert.deepEqual([q.readUInt16BE(4), q.readUInt16BE(6), q.readUInt16BE(8), q.readUInt16BE(10)], [1, 0, 0, 1]);
  assert.equal(q.toString('latin1', 12, 25), '\x03svc\x07Example\x00');
  assert.equal(q.readUInt16BE(25), 28);
  assert.equal(q.readUInt16BE(27), 1);
  // OPT: root name, type 41, class = payload size, ttl 0, rdlength 0
  assert.deepEqual([...q.subarray(29)], [0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
});

/** A response to `www.test` type `qtype` with the given answer records (raw bytes after the question). */
function response(id: number, flags: number, qtype: number, answers: Buffer[], ancount = answers.length): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(flags, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(ancount, 6);
  const question = Buffer.concat([Buffer.from('\x03www\x04test\x00', 'latin1'), Buffer.from([0, qtype, 0, 1])]);
  return Buffer.concat([head, question, ...answers]);
}

function rr(name: Buffer, type: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(60, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([name, fixed, data]);
}

test('an answer: CNAME chain through compressed names, A records of the chain only, rcode and TC bit', () => {
  // question name at offset 12 ("www" at 12, "test" at 16)
  const ptr = (o: number) => Buffer.from([0xc0 | (o >> 8), o & 0xff]);
  const cname = rr(ptr(12), 5, Buffer.concat([Buffer.from('\x03app', 'latin1'), ptr(16)])); // www.test CNAME app.test
  // the CNAME's rdata starts at 12 + 14 (question) + 2 (name) + 10 = 38
  const a1 = rr(ptr(38), TYPE_A, Buffer.from([10, 0, 0, 1]));
  const other = rr(Buffer.from('\x05other\x00', 'latin1'), TYPE_A, Buffer.from([10, 9, 9, 9]));
  const a2 = rr(ptr(38), TYPE_A, Buffer.from([10, 0, 0, 2]));
  const msg = response(7, 0x8180, TYPE_A, [cname, a1, other, a2]);
  const d = decodeAnswer(msg);
  assert.equal(d.id, 7);
  assert.equal(d.rcode, 0);
  assert.equal(d.truncated, false);
  assert.equal(d.qname, 'www.test');
  assert.equal(d.cnames, 1);
  assert.deepEqual(d.addresses.map((x) => x.ip), ['10.0.0.1', '10.0.0.2']);

  const nx = decodeAnswer(response(8, 0x8183, TYPE_A, []));
  assert.equal(nx.rcode, 3);
  assert.equal(decodeAnswer(response(9, 0x8380, TYPE_A, [])).truncated, true);
});

test('AAAA records as inet_ntop writes them', () => {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0x2001, 0);
  b.writeUInt16BE(0xdb8, 2);
  b.writeUInt16BE(1, 14);
  const d = decodeAnswer(response(1, 0x8180, TYPE_AAAA, [rr(Buffer.from([0xc0, 12]), TYPE_AAAA, b)]));
  assert.deepEqual(d.addresses, [{ ip: '2001:db8::1', family: 6, ttl: 60 }]);
});

test('malformed answers throw (never read out of bounds, never loop)', () => {
  const good = response(1, 0x8180, TYPE_A, [rr(Buffer.from([0xc0, 12]), TYPE_A, Buffer.from([1, 2, 3, 4]))]);
  for (let cut = 0; cut < good.length; cut++) assert.throws(() => decodeAnswer(good.subarray(0, cut)), Error, `cut at ${cut}`);
  // a name pointing at itself (the answer starts at 12 + 14)
  assert.throws(() => decodeAnswer(response(1, 0x8180, TYPE_A, [rr(Buffer.from([0xc0, 26]), TYPE_A, Buffer.from([1, 2, 3, 4]))])), /loop|truncated/);
  // a query, not a response
  assert.throws(() => decodeAnswer(encodeQuery(1, 'www.test', TYPE_A, 512)), /not a response/);
  // more answers announced than present
  assert.throws(() => decodeAnswer(response(1, 0x8180, TYPE_A, [], 2)), /truncated/);
});

test('address cells: IPv4 in one word, IPv6 in four, back to text net.connect takes', () => {
  for (const ip of ['127.0.0.2', '10.255.0.1', '255.255.255.255', '0.0.0.0']) assert.equal(wordsAddress(addressWords(ip)), ip);
  for (const [ip, full] of [
    ['2001:db8::1', '2001:db8:0:0:0:0:0:1'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['fe80::', 'fe80:0:0:0:0:0:0:0'],
    ['ffff:1:2:3:4:5:6:7', 'ffff:1:2:3:4:5:6:7'],
  ]) {
    const w = addressWords(ip);
    assert.equal(w.length, 4);
    assert.equal(wordsAddress(w), full);
    assert.equal(isIP(full), 6);
  }
});
