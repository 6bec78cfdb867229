// String hashing for the hash-based algorithms: FNV-1a over UTF-16 code units, finished with
// murmur3's fmix32 so that keys differing in one character land far apart on the ring.
// Reads the string in place (charCodeAt): no slicing, no allocation.

/** murmur3 finalizer: full avalanche of a 32-bit value; result is unsigned. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of key[0 .. end); `end` defaults to the whole string. */
export function hashString(key: string, end: number = key.length): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}
