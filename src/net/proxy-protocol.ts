// PROXY protocol v1 (text) and v2 (binary), as HAProxy's `accept-proxy` reads them and its
// `send-proxy` / `send-proxy-v2` write them (spec: haproxy.org/download/2.6/doc/proxy-protocol.txt).
// decodeProxyHeader() is incremental: it says "incomplete" until the whole header is there, so
// a connection can call it on each read. Anything that is not a valid header is an error, and
// the caller closes the connection, as HAProxy does.

import { isIPv4, isIPv6 } from 'node:net';
import { ipv4Text, ipv6Text } from '../shared/client-address';

export const PP_INCOMPLETE = 0;
export const PP_DONE = 1;
export const PP_ERROR = 2;

export interface ProxyHeader {
  version: 1 | 2;
  /** LOCAL (v2 health checks from the proxy itself): use the connection's own addresses */
  local: boolean;
  /** 'TCP4' | 'TCP6' | 'UDP4' | 'UDP6' | 'UNIX' | 'UNKNOWN' */
  family: string;
  srcAddress: string;
  dstAddress: string;
  srcPort: number;
  dstPort: number;
  /** v2 type-length-value extensions, raw */
  tlvs: Array<{ type: number; value: Buffer }>;
}

export interface ProxyDecodeResult {
  status: number; // PP_*
  /** bytes the header takes (PP_DONE) */
  length: number;
  header: ProxyHeader | null;
  reason: string;
}

/** v2 signature: \r\n\r\n\0\r\nQUIT\n */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v1 lines are at most 107 bytes with the CRLF */
const V1_MAX = 107;
/** the largest v2 header accepted (HAProxy keeps it within one buffer) */
export const V2_MAX = 2048;

function result(status: number, length: number, header: ProxyHeader | null, reason: string): ProxyDecodeResult {
  return { status, length, header, reason };
}

/** Decodes a PROXY header at the start of `buf`. */
export function decodeProxyHeader(buf: Buffer): ProxyDecodeResult {
  if (buf.length === 0) return result(PP_INCOMPLETE, 0, null, '');
  if (buf[0] === 0x0d) return decodeV2(buf);
  if (buf[0] === 0x50) return decodeV1(buf);
  return result(PP_ERROR, 0, null, 'not a PROXY protocol header');
}

function prefixMismatch(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return true;
  return false;
}

function decodeV1(buf: Buffer): ProxyDecodeResult {
  if (prefixMismatch(buf, V1_PREFIX)) return result(PP_ERROR, 0, null, 'not a PROXY protocol header');
  const lf = buf.indexOf(0x0a);
  if (lf < 0) {
    if (buf.length >= V1_MAX) return result(PP_ERROR, 0, null, 'PROXY v1 line too long');
    return result(PP_INCOMPLETE, 0, null, '');
  }
  if (lf + 1 > V1_MAX || lf === 0 || buf[lf - 1] !== 0x0d) return result(PP_ERROR, 0, null, 'PROXY v1 line not ended by CRLF');
  const line = buf.toString('latin1', 0, lf - 1);
  const parts = line.split(' ');
  const family = parts[1];
  const unknown: ProxyHeader = { version: 1, local: true, family: 'UNKNOWN', srcAddress: '', dstAddress: '', srcPort: 0, dstPort: 0, tlvs: [] };
  if (family === 'UNKNOWN') return result(PP_DONE, lf + 1, unknown, '');
  if (parts.length !== 6 || (family !== 'TCP4' && family !== 'TCP6')) return result(PP_ERROR, 0, null, 'invalid PROXY v1 line');
  const [, , src, dst, sp, dp] = parts;
  const okAddr = family === 'TCP4' ? isIPv4(src) && isIPv4(dst) : isIPv6(src) && isIPv6(dst);
  const srcPort = portNumber(sp);
  const dstPort = portNumber(dp);
  if (!okAddr || srcPort < 0 || dstPort < 0) return result(PP_ERROR, 0, null, 'invalid PROXY v1 address or port');
  return result(PP_DONE, lf + 1, { version: 1, local: false, family, srcAddress: src, dstAddress: dst, srcPort, dstPort, tlvs: [] }, '');
}

/** decimal 0-65535 without sign or leading zeros; -1 otherwise */
function portNumber(s: string): number {
  if (s.length === 0 || s.length > 5 || (s.length > 1 && s.charCodeAt(0) === 48)) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + c - 48;
  }
  return n > 65535 ? -1 : n;
}

function decodeV2(buf: Buffer): ProxyDecodeResult {
  if (prefixMismatch(buf, V2_SIGNATURE)) return result(PP_ERROR, 0, null, 'not a PROXY protocol header');
  if (buf.length < 16) return result(PP_INCOMPLETE, 0, null, '');
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return result(PP_ERROR, 0, null, 'PROXY v2: bad version');
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return result(PP_ERROR, 0, null, 'PROXY v2: bad command');
  const fam = buf[13];
  const len = buf.readUInt16BE(14);
  if (16 + len > V2_MAX) return result(PP_ERROR, 0, null, 'PROXY v2 header too large');
  if (buf.length < 16 + len) return result(PP_INCOMPLETE, 0, null, '');
  const total = 16 + len;
  const h: ProxyHeader = { version: 2, local: cmd === 0, family: 'UNKNOWN', srcAddress: '', dstAddress: '', srcPort: 0, dstPort: 0, tlvs: [] };
  let p = 16;
  const af = fam >> 4;
  const tp = fam & 0x0f;
  if (tp > 2) return result(PP_ERROR, 0, null, 'PROXY v2: bad transport');
  if (af === 1) {
    if (len < 12) return result(PP_ERROR, 0, null, 'PROXY v2: short IPv4 block');
    h.family = tp === 2 ? 'UDP4' : 'TCP4';
    h.srcAddress = ipv4Text(buf.readUInt32BE(16));
    h.dstAddress = ipv4Text(buf.readUInt32BE(20));
    h.srcPort = buf.readUInt16BE(24);
    h.dstPort = buf.readUInt16BE(26);
    p = 28;
  } else if (af === 2) {
    if (len < 36) return result(PP_ERROR, 0, null, 'PROXY v2: short IPv6 block');
    h.family = tp === 2 ? 'UDP6' : 'TCP6';
    h.srcAddress = ipv6Text(buf.subarray(16, 32));
    h.dstAddress = ipv6Text(buf.subarray(32, 48));
    h.srcPort = buf.readUInt16BE(48);
    h.dstPort = buf.readUInt16BE(50);
    p = 52;
  } else if (af === 3) {
    if (len < 216) return result(PP_ERROR, 0, null, 'PROXY v2: short unix block');
    h.family = 'UNIX';
    h.srcAddress = cString(buf, 16, 124);
    h.dstAddress = cString(buf, 124, 232);
    p = 232;
  } else if (af !== 0) {
    return result(PP_ERROR, 0, null, 'PROXY v2: bad address family');
  } else if (cmd === 1) {
    // PROXY with AF_UNSPEC: the sender does not know; treated like LOCAL
    h.local = true;
  }
  while (p < total) {
    if (p + 3 > total) return result(PP_ERROR, 0, null, 'PROXY v2: truncated TLV');
    const type = buf[p];
    const l = buf.readUInt16BE(p + 1);
    if (p + 3 + l > total) return result(PP_ERROR, 0, null, 'PROXY v2: truncated TLV');
    h.tlvs.push({ type, value: Buffer.from(buf.subarray(p + 3, p + 3 + l)) });
    p += 3 + l;
  }
  return result(PP_DONE, total, h, '');
}

function cString(buf: Buffer, s: number, e: number): string {
  const z = buf.indexOf(0, s);
  return buf.toString('latin1', s, z < 0 || z > e ? e : z);
}

// ---------------------------------------------------------------------------------------------
// Encoders (send-proxy / send-proxy-v2 towards servers)

export interface ProxyAddresses {
  srcAddress: string;
  srcPort: number;
  dstAddress: string;
  dstPort: number;
}

/** "PROXY TCP4|TCP6 src dst sport dport\r\n"; "PROXY UNKNOWN\r\n" when the family is mixed or unknown. */
export function encodeProxyV1(a: ProxyAddresses | null): Buffer {
  if (a !== null) {
    const s4 = isIPv4(a.srcAddress);
    const d4 = isIPv4(a.dstAddress);
    const fam = s4 && d4 ? 'TCP4' : isIPv6(a.srcAddress) && isIPv6(a.dstAddress) ? 'TCP6' : '';
    if (fam !== '') return Buffer.from(`PROXY ${fam} ${a.srcAddress} ${a.dstAddress} ${a.srcPort} ${a.dstPort}\r\n`, 'latin1');
  }
  return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
}

/** v2 header for a TCP stream (PROXY command), LOCAL when `a` is null. */
export function encodeProxyV2(a: ProxyAddresses | null, tlvs: Array<{ type: number; value: Buffer }> = []): Buffer {
  let tlvLen = 0;
  for (const t of tlvs) tlvLen += 3 + t.value.length;
  let fam = 0;
  let addrLen = 0;
  let src: Buffer | null = null;
  let dst: Buffer | null = null;
  if (a !== null) {
    if (isIPv4(a.srcAddress) && isIPv4(a.dstAddress)) {
      fam = 0x11;
      addrLen = 12;
      src = ipv4Bytes(a.srcAddress);
      dst = ipv4Bytes(a.dstAddress);
    } else {
      src = ipBytes16(a.srcAddress);
      dst = ipBytes16(a.dstAddress);
      if (src !== null && dst !== null) {
        fam = 0x21;
        addrLen = 36;
      }
    }
  }
  const out = Buffer.alloc(16 + addrLen + tlvLen);
  V2_SIGNATURE.copy(out, 0);
  out[12] = a === null ? 0x20 : 0x21;
  out[13] = fam;
  out.writeUInt16BE(addrLen + tlvLen, 14);
  let p = 16;
  if (a !== null && src !== null && dst !== null && addrLen > 0) {
    src.copy(out, p);
    dst.copy(out, p + src.length);
    p += 2 * src.length;
    out.writeUInt16BE(a.srcPort, p);
    out.writeUInt16BE(a.dstPort, p + 2);
    p += 4;
  }
  for (const t of tlvs) {
    out[p] = t.type;
    out.writeUInt16BE(t.value.length, p + 1);
    t.value.copy(out, p + 3);
    p += 3 + t.value.length;
  }
  return out;
}

function ipv4Bytes(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

/** 16 bytes of an IPv6 address (an IPv4 one as ::ffff:a.b.c.d), or null. */
export function ipBytes16(s: string): Buffer | null {
  const out = Buffer.alloc(16);
  if (isIPv4(s)) {
    out[10] = 0xff;
    out[11] = 0xff;
    ipv4Bytes(s).copy(out, 12);
    return out;
  }
  if (!isIPv6(s)) return null;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  // an embedded IPv4 tail becomes two groups
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const b = ipv4Bytes(tail);
    s = s.slice(0, lastColon + 1) + ((b[0] << 8) | b[1]).toString(16) + ':' + ((b[2] << 8) | b[3]).toString(16);
  }
  const dbl = s.indexOf('::');
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const rest = dbl >= 0 ? s.slice(dbl + 2) : '';
  const hg = head === '' ? [] : head.split(':');
  const rg = rest === '' ? [] : rest.split(':');
  const groups = dbl >= 0 ? [...hg, ...new Array<string>(8 - hg.length - rg.length).fill('0'), ...rg] : hg;
  if (groups.length !== 8) return null;
  for (let i = 0; i < 8; i++) out.writeUInt16BE(parseInt(groups[i], 16), 2 * i);
  return out;
}
