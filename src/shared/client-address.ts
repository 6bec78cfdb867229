// The client address as text, read from uWS once per request that needs it (logs, forwardfor,
// balance source, ACL src text). uWS has no per-connection hook, so the read cannot be cached
// per connection; instead the binary form is read (no inet_ntop/snprintf in uWS, no
// TextDecoder here) and IPv4 text comes from a small cache keyed by the address. Measured with
// native-bench/overhead.sh (lognolines / base, 1 worker): text read 0.87, binary read 0.90.

/** The part of a uWS HttpResponse that knows the client address. */
export interface AddressSource {
  /** 4 bytes (IPv4), 16 bytes (IPv6) or empty */
  getRemoteAddress(): ArrayBuffer;
  /** the TLS facts of a node:tls connection (ssl_fc_sni, ssl_c_* ...); absent or null elsewhere */
  readonly ssl?: SslSource | null;
}

/** What a TLS connection tells the ssl_* fetches (src/front-node/tls-facts.ts). */
export interface SslSource {
  /** the fetch's text, null when the connection has no such sample */
  text(fetch: string): string | null;
}

// Direct-mapped cache of IPv4 texts: a busy client's address is formatted once.
const CACHE_SIZE = 64; // a power of two
const cacheKey = new Float64Array(CACHE_SIZE).fill(-1);
const cacheText: string[] = new Array<string>(CACHE_SIZE).fill('');

/** Dotted-quad text of an IPv4 address held as an unsigned 32-bit number. */
export function ipv4Text(v4: number): string {
  const slot = (v4 ^ (v4 >>> 8) ^ (v4 >>> 16)) & (CACHE_SIZE - 1);
  if (cacheKey[slot] === v4) return cacheText[slot];
  const t = (v4 >>> 24) + '.' + ((v4 >>> 16) & 255) + '.' + ((v4 >>> 8) & 255) + '.' + (v4 & 255);
  cacheKey[slot] = v4;
  cacheText[slot] = t;
  return t;
}

/**
 * The client address as HAProxy logs it: dotted IPv4 (also for IPv4 clients of a dual-stack
 * socket, which uWS reports as ::ffff:a.b.c.d), RFC 5952 IPv6 text otherwise (uWS's own text
 * form writes every group in full: 0000:...:0001), '' when unknown.
 */
export function addressText(src: AddressSource): string {
  const b = new Uint8Array(src.getRemoteAddress());
  if (b.length === 4) return ipv4Text(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);
  if (b.length !== 16) return '';
  if (isV4Mapped(b)) return ipv4Text(((b[12] << 24) | (b[13] << 16) | (b[14] << 8) | b[15]) >>> 0);
  return ipv6Text(b);
}

/** ::ffff:a.b.c.d */
function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 255 && b[11] === 255;
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run of two or more zero groups as "::". */
export function ipv6Text(b: Uint8Array): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (b[2 * i] !== 0 || b[2 * i + 1] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && b[2 * j] === 0 && b[2 * j + 1] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += ((b[2 * i] << 8) | b[2 * i + 1]).toString(16);
  }
  return out;
}
