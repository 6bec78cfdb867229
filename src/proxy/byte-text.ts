// Header bytes that are not UTF-8, carried through the core's JS strings and back out unchanged.
//
// The core handles request heads as text and writes them to servers as UTF-8 (uWS.js hands it
// UTF-8 decoded values). gatehouse's own engine sees the bytes themselves: valid UTF-8 is
// decoded as usual, and each byte that is not part of a valid sequence becomes the lone low
// surrogate U+DC00 + byte (Python's "surrogateescape"), which no valid UTF-8 decodes to. When
// the head goes out, those code units are written back as their bytes. HAProxy forwards such
// bytes (latin1 text in a header) as received.

import { isUtf8 } from 'node:buffer';

const NON_ASCII = /[^\x00-\x7f]/;

/** Length of a valid UTF-8 sequence at b[i] (RFC 3629's table), or 0. */
function seqLength(b: Buffer, i: number): number {
  const c = b[i];
  const n = b.length;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < n && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * A value given one code unit per byte (latin1) as the core's text; `escaped` is false when the
 * result needs no byte-exact writing (ASCII, or valid UTF-8).
 */
export function bytesToText(v: string): { text: string; escaped: boolean } {
  if (!NON_ASCII.test(v)) return { text: v, escaped: false };
  const b = Buffer.from(v, 'latin1');
  if (isUtf8(b)) return { text: b.toString('utf8'), escaped: false };
  let out = '';
  let at = 0;
  for (let i = 0; i < b.length; ) {
    if (b[i] < 0x80) {
      i++;
      continue;
    }
    const n = seqLength(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += b.toString('utf8', at, i) + String.fromCharCode(0xdc00 + b[i]);
    at = ++i;
  }
  return { text: out + b.toString('utf8', at), escaped: true };
}

/** The bytes of a head that may hold escaped bytes (see bytesToText). */
export function textToBytes(s: string): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc80 || c > 0xdcff) continue;
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    if (prev >= 0xd800 && prev <= 0xdbff) continue; // the second half of a real pair
    if (i > at) parts.push(Buffer.from(s.slice(at, i), 'utf8'));
    parts.push(Buffer.of(c - 0xdc00));
    at = i + 1;
  }
  if (at < s.length) parts.push(Buffer.from(s.slice(at), 'utf8'));
  return Buffer.concat(parts);
}
