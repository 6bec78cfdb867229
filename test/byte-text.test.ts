// Bytes that are not UTF-8 survive the trip through the core's text (src/proxy/byte-text.ts).
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { bytesToText, textToBytes } from '../src/proxy/byte-text';

test('any byte string comes back unchanged; valid UTF-8 decodes as usual', () => {
  const cases = [Buffer.from('plain'), Buffer.from('café € ☕ 😀'), Buffer.from([0xe9]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from([0xc0, 0xaf])];
  for (let i = 0; i < 2000; i++) cases.push(randomBytes(1 + (i % 40)));
  for (const b of cases) {
    const t = bytesToText(b.toString('latin1'));
    assert.deepEqual(textToBytes(t.text), b, b.toString('hex'));
    if (t.escaped === false) assert.equal(t.text, b.toString('utf8'));
  }
  assert.equal(bytesToText(Buffer.from('café 😀').toString('latin1')).text, 'café 😀');
  assert.equal(bytesToText('caf\xe9').escaped, true);
});
