// HAProxy's string hash functions (src/hash.c: sdbm, djb2, wt6, crc32) and full_hash() (the
// "avalanche" step), used by `hash-type` and by the sdbm/djb2/wt6/crc32 converters. They read a
// string's characters as bytes in place (charCodeAt & 0xff: exact for the ASCII of paths and
// header values) so a pick allocates nothing.

export function sdbm(s: string, end: number = s.length): number {
  let h = 0;
  for (let i = 0; i < end; i++) h = ((s.charCodeAt(i) & 0xff) + (h << 6) + (h << 16) - h) >>> 0;
  return h;
}

export function djb2(s: string, end: number = s.length): number {
  let h = 5381;
  for (let i = 0; i < end; i++) h = (Math.imul(h, 33) + (s.charCodeAt(i) & 0xff)) >>> 0;
  return h;
}

/** 32-bit rotate; a count of 0 gives x (as the C expression does on x86, where a shift by 32 is a shift by 0). */
function rotl(x: number, n: number): number {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}

export function wt6(s: string, end: number = s.length): number {
  let h0 = 0xa53c965a;
  let h1 = 0x5ca6953a;
  let step0 = 6;
  let step1 = 18;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i) & 0xff;
    h0 = ~(h0 ^ c) >>> 0;
    h1 = ~(h1 + c) >>> 0;
    const t = rotl(h1, step0);
    h1 = rotl(h0, step1);
    h0 = t;
    const m = ((h0 >>> 16) ^ h1) & 0xffff;
    step0 = m & 0x1f;
    step1 = m >>> 11;
  }
  return (h0 ^ h1) >>> 0;
}

let crcTable: Uint32Array | null = null;
export function crc32(s: string, end: number = s.length): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < end; i++) c = crcTable[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** HAProxy's full_hash(): Bob Jenkins' 32-bit integer mix, then a multiply by a large prime. */
export function fullHash(a: number): number {
  a = (a + 0x7ed55d16 + (a << 12)) >>> 0;
  a = (a ^ 0xc761c23c ^ (a >>> 19)) >>> 0;
  a = (a + 0x165667b1 + (a << 5)) >>> 0;
  a = ((a + 0xd3a2646c) ^ (a << 9)) >>> 0;
  a = (a + 0xfd7046c5 + (a << 3)) >>> 0;
  a = (a ^ 0xb55a4f09 ^ (a >>> 16)) >>> 0;
  return Math.imul(a, 3221225473) >>> 0;
}

export type HashFunction = 'sdbm' | 'djb2' | 'wt6' | 'crc32';

/** HAProxy's gen_hash(): the backend's hash function over key[0 .. end). */
export function genHash(fn: HashFunction, s: string, end: number = s.length): number {
  switch (fn) {
    case 'djb2':
      return djb2(s, end);
    case 'wt6':
      return wt6(s, end);
    case 'crc32':
      return crc32(s, end);
  }
  return sdbm(s, end);
}
