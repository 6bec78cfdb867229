// IPv4/IPv6 addresses as integers for ACL matching: patterns are parsed once at load into
// (network, mask) pairs; the client address is parsed per request into the view's IpSample (no
// allocation), from the 4 or 16 bytes uWS gives, or from text.

/** A network: IPv4 as one uint32 + mask, IPv6 as eight 16-bit words + prefix length. */
export interface IpNet {
  v6: boolean;
  /** IPv4 network (already masked) */
  v4: number;
  v4mask: number;
  /** IPv6 words (already masked) */
  w: number[];
  bits: number;
  /** IPv6: the mask of each word (from bits) */
  wm: number[];
}

function v4mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * HAProxy's IPv4 pattern forms: "a.b.c.d", abbreviated "a.b" (missing octets are zero, so
 * 10.12 = 10.12.0.0), with "/bits" or "/a.b.c.d" mask. Returns null when not an IPv4 pattern.
 */
export function parseIpv4Pattern(text: string): IpNet | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const parts = addr.split('.');
  if (parts.length < 1 || parts.length > 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  if (parts.length === 1 && slash < 0) return null; // a bare number is not an address
  let v = 0;
  for (let i = 0; i < 4; i++) v = (v * 256 + (i < parts.length ? Number(parts[i]) : 0)) >>> 0;
  let mask = 0xffffffff;
  if (slash >= 0) {
    const m = text.slice(slash + 1);
    if (/^\d{1,2}$/.test(m) && Number(m) <= 32) mask = v4mask(Number(m));
    else {
      const mm = parseIpv4Pattern(m);
      if (!mm || m.includes('/')) return null;
      mask = mm.v4;
    }
  }
  return { v6: false, v4: (v & mask) >>> 0, v4mask: mask >>> 0, w: [], bits: 0, wm: [] };
}

export function parseIpv6Pattern(text: string): IpNet | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const w = new Array<number>(8).fill(0);
  if (!parseV6Into(addr, w)) return null;
  let bits = 128;
  if (slash >= 0) {
    const m = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(m) || Number(m) > 128) return null;
    bits = Number(m);
  }
  const wm: number[] = [];
  for (let i = 0; i < 8; i++) {
    wm.push(wordMask(bits, i));
    w[i] &= wm[i];
  }
  return { v6: true, v4: 0, v4mask: 0, w, bits, wm };
}

function wordMask(bits: number, i: number): number {
  const b = bits - i * 16;
  return b >= 16 ? 0xffff : b <= 0 ? 0 : (0xffff << (16 - b)) & 0xffff;
}

/** Parses an IPv6 text (with "::" and a trailing dotted IPv4) into 8 words; false if invalid. */
function parseV6Into(s: string, out: { [i: number]: number; length: number }): boolean {
  const n = s.length;
  if (n < 2) return false;
  let gap = -1;
  let k = 0;
  let i = 0;
  if (s.charCodeAt(0) === 58 /* : */) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      for (let j = 0; j < 8; j++) out[j] = 0;
      return true;
    }
  }
  while (i < n) {
    if (k >= 8) return false;
    // a dotted IPv4 tail takes two words
    let dot = false;
    for (let j = i; j < n && s.charCodeAt(j) !== 58; j++) if (s.charCodeAt(j) === 46) dot = true;
    if (dot) {
      if (k > 6) return false;
      const v = parseV4(s, i, n);
      if (v < 0) return false;
      out[k++] = Math.floor(v / 65536);
      out[k++] = v & 0xffff;
      i = n;
      break;
    }
    let v = 0;
    let digits = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      const h = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (h < 0) break;
      v = v * 16 + h;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 4) return false;
    out[k++] = v;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = k;
      i++;
    } else if (i === n) {
      return false;
    }
  }
  if (gap < 0) return k === 8;
  if (k === 8) return false;
  // shift the words after the gap to the end
  const tail = k - gap;
  for (let j = 0; j < tail; j++) out[7 - j] = out[k - 1 - j];
  for (let j = gap; j < 8 - tail; j++) out[j] = 0;
  return true;
}

/** Dotted quad in s[from, to) as uint32, or -1. */
function parseV4(s: string, from: number, to: number): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      v = v * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? v >>> 0 : -1;
}

// ---- the per-request sample ----

/**
 * A client address parsed for matching: from the binary form uWS gives (4 or 16 bytes, read
 * once per request and only when a `src` test runs) or from text (tests, formats). One per
 * RequestView, overwritten in place: no allocation.
 */
export class IpSample {
  /** the text this sample was parsed from ('\u0000' = parsed from bytes or nothing yet) */
  text = '\u0000';
  /** 0 invalid, 4, 6 */
  family = 0;
  v4 = 0;
  /** IPv4 embedded in an IPv6 address (::ffff:a.b.c.d, ::a.b.c.d, 2002:a.b.c.d::), else -1 */
  mapped = -1;
  readonly w = new Uint16Array(8);

  /** Parse an address text (IPv4 dotted or IPv6); cached by text. */
  loadText(text: string): void {
    if (text === this.text) return;
    this.text = text;
    this.mapped = -1;
    const v4 = parseV4(text, 0, text.length);
    if (v4 >= 0) {
      this.family = 4;
      this.v4 = v4;
      return;
    }
    if (!parseV6Into(text, this.w)) {
      this.family = 0;
      return;
    }
    this.family = 6;
    this.setMapped();
  }

  /** The binary form of uWS's getRemoteAddress(): 4 bytes (IPv4) or 16 (IPv6, IPv4-mapped included). */
  loadBytes(b: Uint8Array): void {
    this.text = '\u0000';
    this.mapped = -1;
    if (b.length === 4) {
      this.family = 4;
      this.v4 = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      return;
    }
    if (b.length !== 16) {
      this.family = 0;
      return;
    }
    const w = this.w;
    for (let i = 0; i < 8; i++) w[i] = (b[2 * i] << 8) | b[2 * i + 1];
    this.family = 6;
    this.setMapped();
  }

  /** No address (a source without one). */
  clear(): void {
    this.text = '\u0000';
    this.family = 0;
    this.mapped = -1;
  }

  private setMapped(): void {
    const w = this.w;
    if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && (w[5] === 0xffff || w[5] === 0)) {
      this.mapped = (w[6] * 65536 + w[7]) >>> 0;
    } else if (w[0] === 0x2002) {
      this.mapped = (w[1] * 65536 + w[2]) >>> 0;
    }
  }
}

/** Whether the parsed address `s` is in `net` (HAProxy 7.1.6 rules for mixing v4 and v6). */
export function sampleInNet(s: IpSample, net: IpNet): boolean {
  const fam = s.family;
  if (fam === 0) return false;
  if (!net.v6) {
    const a = fam === 4 ? s.v4 : s.mapped;
    if (a < 0) return false;
    return ((a & net.v4mask) >>> 0) === net.v4;
  }
  const nw = net.w;
  const wm = net.wm;
  if (fam === 4) {
    // v4 sample vs v6 pattern: compare as ::ffff:a.b.c.d
    const v = s.v4;
    for (let i = 0; i < 8; i++) {
      const word = i < 5 ? 0 : i === 5 ? 0xffff : i === 6 ? v >>> 16 : v & 0xffff;
      if ((word & wm[i]) !== nw[i]) return false;
    }
    return true;
  }
  const w = s.w;
  for (let i = 0; i < 8; i++) if ((w[i] & wm[i]) !== nw[i]) return false;
  return true;
}

const scratch = new IpSample();

/** Whether the address `text` is in `net` (parses the text; cached by text). */
export function ipInNet(text: string, net: IpNet): boolean {
  scratch.loadText(text);
  return sampleInNet(scratch, net);
}

/** Whether `text` is a valid IPv4 or IPv6 address (no mask). */
export function isIpText(text: string): boolean {
  scratch.loadText(text);
  return scratch.family !== 0;
}
