// The payload fetches that make TLS passthrough work, read from the first bytes a client sent
// (HAProxy 2.6 payload.c: req.ssl_hello_type, req.ssl_ver, req.ssl_sni, req.len), without
// terminating TLS. Each fetch answers a value, NEED_MORE (the bytes so far are a valid start
// but incomplete: HAProxy's SMP_F_MAY_CHANGE, the caller waits for more or for the end of
// inspect-delay) or NONE (not what the fetch looks for: never will be). Every length is checked
// against the bytes present before it is used: garbage gets NONE, never an exception.
//
// As in HAProxy, only the first TLS record is looked at: a ClientHello split over several
// records (over 16 KB) has no SNI for these fetches.

/** The sample may still appear with more bytes. */
export const NEED_MORE = -1;
/** The bytes are not what the fetch looks for. */
export const NONE = -2;

/** `req.len`: bytes received so far (HAProxy: a non-match waits while the buffer may grow). */
export function reqLen(buf: Uint8Array): number {
  return buf.length;
}

/**
 * `req.ssl_hello_type`: the handshake type of the first record (1 = ClientHello, 2 =
 * ServerHello) once the whole handshake message is there; NEED_MORE / NONE otherwise.
 */
export function sslHelloType(d: Uint8Array): number {
  const n = d.length;
  if (n === 0) return NEED_MORE;
  const ct = d[0];
  if (!((ct >= 0x14 && ct <= 0x17) || ct === 0xff)) return NONE;
  if (n < 9) return NEED_MORE;
  if ((d[1] << 16) + d[2] < 0x30000) return NONE; // SSLv3 or later record layer
  if ((d[3] << 8) + d[4] < 4) return NONE; // room for a handshake type and length
  const hsLen = (d[6] << 16) + (d[7] << 8) + d[8];
  if (n < 9 + hsLen) return NEED_MORE;
  return d[5];
}

/**
 * `req.ssl_ver`: the protocol version as major * 65536 + minor (TLS 1.0 = 0x30001): the record
 * layer's for SSLv3+ records, the hello's for an SSLv2-format hello; once the record (as much of
 * it as fits in `limit`, HAProxy's buffer) is there.
 */
export function sslVersion(d: Uint8Array, limit = 16384): number {
  const n = d.length;
  if (n === 0) return NEED_MORE;
  let at: number;
  let version: number;
  let msgLen: number;
  if ((d[0] >= 0x14 && d[0] <= 0x17) || d[0] === 0xff) {
    if (n < 5) return NEED_MORE;
    version = (d[1] << 16) + d[2];
    msgLen = (d[3] << 8) + d[4];
    if (version < 0x30000) return NONE;
    if (msgLen < 1 || msgLen > 16384 + 2048) return NONE;
    at = 5;
  } else {
    // SSLv2 record header, only for a CLIENT-HELLO (message type 1)
    let rlen: number;
    let plen: number;
    if (d[0] & 0x80) {
      if (n < 3) return NEED_MORE;
      rlen = ((d[0] & 0x7f) << 8) | d[1];
      plen = 0;
      at = 2;
    } else {
      if (n < 4) return NEED_MORE;
      rlen = ((d[0] & 0x3f) << 8) | d[1];
      plen = d[2];
      at = 3;
    }
    if (d[at] !== 0x01) return NONE;
    at++;
    if (n - at < 8) return NEED_MORE;
    version = (d[at] << 16) + d[at + 1];
    const cilen = (d[at + 2] << 8) + d[at + 3];
    const silen = (d[at + 4] << 8) + d[at + 5];
    const chlen = (d[at + 6] << 8) + d[at + 7];
    at += 8;
    if (cilen % 3 !== 0) return NONE;
    if (silen !== 0 && silen !== 16) return NONE;
    if (chlen < 16 || chlen > 32) return NONE;
    if (rlen !== 9 + cilen + silen + chlen) return NONE;
    msgLen = cilen + silen + chlen + plen;
  }
  // What cannot fit in the buffer is not waited for (HAProxy caps at the receive limit).
  if (msgLen > limit - at) msgLen = Math.max(0, limit - at);
  if (n - at < msgLen) return NEED_MORE;
  return version;
}

/**
 * `req.ssl_sni`: the host_name of the server_name extension of a complete ClientHello in the
 * first record, as sent (case kept; HAProxy compares with -i when told). NEED_MORE until the
 * whole ClientHello is there; null when it is not a ClientHello or carries no host name.
 */
export function sslSni(d: Uint8Array): string | null | typeof NEED_MORE {
  const n = d.length;
  if (n === 0) return NEED_MORE;
  if (d[0] !== 0x16) return null; // handshake record
  if (n < 3) return NEED_MORE;
  if (d[1] < 0x03) return null; // SSLv3+ record layer
  if (n < 5) return NEED_MORE;
  const recLen = (d[3] << 8) + d[4];
  // too short to hold a ClientHello with an extension
  if (recLen < 1 + 3 + 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2) return null;
  if (n < 6) return NEED_MORE;
  if (d[5] !== 0x01) return null; // ClientHello
  if (n < 9) return NEED_MORE;
  let left = (d[6] << 16) + (d[7] << 8) + d[8];
  if (left < 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + 2) return null;
  if (left > recLen - 4) return null; // the hello spans records: HAProxy does not follow
  if (n < 9 + left) return NEED_MORE;
  let p = 9;
  if (d[p] < 0x03 || d[p + 1] < 0x01) return null; // TLS 1.0 or later in the hello
  const sidLen = d[p + 34];
  if (sidLen > 32 || sidLen > left - 35) return null;
  left -= 35 + sidLen;
  p += 35 + sidLen;
  if (left < 4) return null;
  const csLen = (d[p] << 8) + d[p + 1];
  if (csLen < 2 || csLen > left - 2) return null;
  left -= 2 + csLen;
  p += 2 + csLen;
  if (left < 2) return null;
  const cmLen = d[p];
  if (cmLen < 1 || cmLen > left - 1) return null;
  left -= 1 + cmLen;
  p += 1 + cmLen;
  if (left < 2) return null;
  let extLeft = (d[p] << 8) + d[p + 1];
  if (extLeft > left - 2) return null;
  p += 2;
  while (extLeft >= 4) {
    const type = (d[p] << 8) + d[p + 1];
    const len = (d[p + 2] << 8) + d[p + 3];
    if (len > extLeft - 4) return null;
    if (type === 0) {
      // server_name: list length, then entries of type(1) length(2) name
      if (len < 2) return null;
      const listLen = (d[p + 4] << 8) + d[p + 5];
      if (listLen < 4 || listLen > len - 2) return null;
      let q = p + 6;
      const listEnd = q + listLen;
      while (q + 3 <= listEnd) {
        const nameType = d[q];
        const nameLen = (d[q + 1] << 8) + d[q + 2];
        if (q + 3 + nameLen > listEnd) return null;
        if (nameType === 0) return latin1(d, q + 3, q + 3 + nameLen);
        q += 3 + nameLen;
      }
      return null;
    }
    extLeft -= 4 + len;
    p += 4 + len;
  }
  return null;
}

function latin1(d: Uint8Array, from: number, to: number): string {
  return Buffer.from(d.buffer, d.byteOffset + from, to - from).toString('latin1');
}

/** `3`, `3.1` -> major * 65536 + minor, as HAProxy reads req.ssl_ver patterns; null if not that. */
export function dottedVersion(s: string): number | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return null;
  const major = Number(m[1]);
  const minor = m[2] === undefined ? 0 : Number(m[2]);
  if (major > 0x7fff || minor > 0xffff) return null;
  return major * 65536 + minor;
}
