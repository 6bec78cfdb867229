// Stick-table keys: samples (client address, strings, integers) to the bytes a table stores,
// and back to text for the runtime API. Layout follows HAProxy: IPv4 and IPv6 addresses in
// network order, integers as 32-bit big-endian (as the peers protocol sends them), strings
// truncated to `len` bytes, binary keys padded with zeros to `len` bytes.
import type { IpSample } from '../acl/ip';
import { ipv6Text } from '../shared/client-address';
import type { KeyType } from './types';

/** A reusable key buffer (one per worker thread: the hot path allocates nothing). */
export class KeyBuf {
  readonly bytes = new Uint8Array(1024);
  len = 0;
}

const encoder = new TextEncoder();

/** The client address as a key of a table of type `type`; false when it cannot be one. */
export function keyFromIp(type: KeyType, ip: IpSample, out: KeyBuf): boolean {
  const b = out.bytes;
  if (type === 'ip') {
    let v4: number;
    if (ip.family === 4) v4 = ip.v4;
    else if (ip.family === 6 && ip.mapped >= 0) v4 = ip.mapped;
    else return false; // HAProxy: an IPv6 client has no key in an ip table
    b[0] = v4 >>> 24;
    b[1] = (v4 >>> 16) & 255;
    b[2] = (v4 >>> 8) & 255;
    b[3] = v4 & 255;
    out.len = 4;
    return true;
  }
  if (type === 'ipv6') {
    if (ip.family === 4) {
      b.fill(0, 0, 10);
      b[10] = 255;
      b[11] = 255;
      b[12] = ip.v4 >>> 24;
      b[13] = (ip.v4 >>> 16) & 255;
      b[14] = (ip.v4 >>> 8) & 255;
      b[15] = ip.v4 & 255;
    } else if (ip.family === 6) {
      for (let i = 0; i < 8; i++) {
        b[2 * i] = ip.w[i] >>> 8;
        b[2 * i + 1] = ip.w[i] & 255;
      }
    } else {
      return false;
    }
    out.len = 16;
    return true;
  }
  return keyFromText(type, ip.family === 4 ? ipv4String(ip.v4) : '', 0, out);
}

function ipv4String(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/**
 * A sample's text as a key (string/binary tables, integer tables from a number's text, address
 * tables from an address text); false when the text cannot be a key of this type.
 * `keyLen`: the table's key length for string and binary tables.
 */
export function keyFromText(type: KeyType, text: string, keyLen: number, out: KeyBuf): boolean {
  const b = out.bytes;
  switch (type) {
    case 'integer': {
      if (!/^-?\d+$/.test(text)) return false;
      const n = Number(text);
      if (n > 0xffffffff || n < -0x80000000) return false;
      const v = n >>> 0;
      b[0] = v >>> 24;
      b[1] = (v >>> 16) & 255;
      b[2] = (v >>> 8) & 255;
      b[3] = v & 255;
      out.len = 4;
      return true;
    }
    case 'string': {
      const r = encoder.encodeInto(text, b.subarray(0, Math.min(keyLen, b.length)));
      if (r.read === 0 && text !== '') return false;
      out.len = r.written;
      return out.len > 0;
    }
    case 'binary': {
      const r = encoder.encodeInto(text, b.subarray(0, Math.min(keyLen, b.length)));
      b.fill(0, r.written, keyLen);
      out.len = keyLen;
      return text !== '';
    }
    case 'ip': {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
      if (m === null) return false;
      for (let i = 0; i < 4; i++) {
        const v = Number(m[i + 1]);
        if (v > 255) return false;
        b[i] = v;
      }
      out.len = 4;
      return true;
    }
    case 'ipv6':
      return parseIpv6(text, out);
  }
}

/** An IPv6 (or IPv4, as ::ffff:a.b.c.d) address text into 16 bytes. */
function parseIpv6(text: string, out: KeyBuf): boolean {
  const b = out.bytes;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    b.fill(0, 0, 10);
    b[10] = 255;
    b[11] = 255;
    for (let i = 0; i < 4; i++) b[12 + i] = Number(v4[i + 1]) & 255;
    out.len = 16;
    return true;
  }
  let s = text;
  let tail: number[] = [];
  const dot = /:(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (dot !== null) {
    tail = [(Number(dot[1]) << 8) | Number(dot[2]), (Number(dot[3]) << 8) | Number(dot[4])];
    s = s.slice(0, dot.index);
    if (s.endsWith(':')) s += ':'; // '::1.2.3.4' leaves ':' : keep the '::'
  }
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out2: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out2.push(parseInt(g, 16));
    }
    return out2;
  };
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  if (left === null || right === null) return false;
  const r = [...right, ...tail];
  const groups = halves.length === 2 ? [...left, ...new Array<number>(8 - left.length - r.length).fill(0), ...r] : [...left, ...r];
  if (groups.length !== 8 || 8 - left.length - r.length < 0) return false;
  for (let i = 0; i < 8; i++) {
    b[2 * i] = groups[i] >>> 8;
    b[2 * i + 1] = groups[i] & 255;
  }
  out.len = 16;
  return true;
}

/** A key as the runtime API prints it (HAProxy's `show table` forms). */
export function keyText(type: KeyType, key: Uint8Array): string {
  switch (type) {
    case 'ip':
      return `${key[0]}.${key[1]}.${key[2]}.${key[3]}`;
    case 'ipv6':
      return ipv6Text(key);
    case 'integer':
      return String(((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0);
    case 'string': {
      let end = key.indexOf(0);
      if (end < 0) end = key.length;
      return new TextDecoder().decode(key.subarray(0, end));
    }
    case 'binary': {
      let s = '';
      for (const c of key) s += c.toString(16).toUpperCase().padStart(2, '0');
      return s;
    }
  }
}

/** A `key K` argument of the runtime API (binary keys in hex, as `show table` prints them). */
export function keyFromCli(type: KeyType, text: string, keyLen: number, out: KeyBuf): boolean {
  if (type !== 'binary') return keyFromText(type, text, keyLen, out);
  if (!/^([0-9a-fA-F]{2})+$/.test(text) || text.length / 2 > keyLen) return false;
  out.bytes.fill(0, 0, keyLen);
  for (let i = 0; i < text.length / 2; i++) out.bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  out.len = keyLen;
  return true;
}
