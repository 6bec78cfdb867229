// DNS messages (RFC 1035, EDNS0 from RFC 6891): the A/AAAA query gatehouse sends and the parts
// of an answer it reads. No library: a query is ~40 bytes and an answer is read record by record
// with bounds checks, so a malformed answer is "invalid", never an exception out of the loop.

export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_OPT = 41;
export const TYPE_AAAA = 28;
const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_NXDOMAIN = 3;
export const RCODE_REFUSED = 5;

/** A query for `name` (type A or AAAA), recursion desired, with an EDNS0 OPT record announcing `payloadSize`. */
export function encodeQuery(id: number, name: string, type: number, payloadSize: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  let qlen = 1;
  for (const l of labels) qlen += 1 + Buffer.byteLength(l);
  const buf = Buffer.alloc(12 + qlen + 4 + 11);
  buf.writeUInt16BE(id & 0xffff, 0);
  buf.writeUInt16BE(0x0100, 2); // RD
  buf.writeUInt16BE(1, 4); // QDCOUNT
  buf.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  let o = 12;
  for (const l of labels) {
    const n = buf.write(l, o + 1, 'ascii');
    buf[o] = n;
    o += 1 + n;
  }
  buf[o++] = 0;
  buf.writeUInt16BE(type, o);
  buf.writeUInt16BE(CLASS_IN, o + 2);
  o += 4;
  // OPT: root name, type 41, class = UDP payload size, TTL 0 (rcode ext, version 0, no DO), no data
  buf[o] = 0;
  buf.writeUInt16BE(TYPE_OPT, o + 1);
  buf.writeUInt16BE(payloadSize, o + 3);
  return buf;
}

export interface DnsAnswer {
  id: number;
  rcode: number;
  truncated: boolean;
  /** the question's name and type, to match the answer with its query */
  qname: string;
  qtype: number;
  /** A and AAAA records, as text, in the answer's order */
  addresses: { ip: string; family: 4 | 6; ttl: number }[];
  /** CNAME records seen (followed within the answer: their targets' records are taken) */
  cnames: number;
}

class Reader {
  constructor(
    readonly buf: Buffer,
    public o = 0,
  ) {}
  need(n: number): void {
    if (this.o + n > this.buf.length) throw new Error('truncated message');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.o++];
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  /** A domain name, following compression pointers (at most 64 jumps: no loops). */
  name(): string {
    const labels: string[] = [];
    let o = this.o;
    let jumped = false;
    for (let hops = 0; ; ) {
      if (o >= this.buf.length) throw new Error('truncated name');
      const len = this.buf[o];
      if (len === 0) {
        o++;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (o + 1 >= this.buf.length) throw new Error('truncated pointer');
        if (++hops > 64) throw new Error('name compression loop');
        const target = ((len & 0x3f) << 8) | this.buf[o + 1];
        if (!jumped) this.o = o + 2;
        jumped = true;
        o = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new Error('bad label');
      if (o + 1 + len > this.buf.length) throw new Error('truncated label');
      labels.push(this.buf.toString('latin1', o + 1, o + 1 + len));
      o += 1 + len;
    }
    if (!jumped) this.o = o;
    return labels.join('.').toLowerCase();
  }
}

function ipv6Text(b: Buffer, o: number): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(o + i).toString(16));
  // compress the longest run of zero groups, as inet_ntop does
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

/** Reads an answer; throws (a short reason) when it is not a well-formed DNS response. */
export function decodeAnswer(buf: Buffer): DnsAnswer {
  const r = new Reader(buf);
  const id = r.u16();
  const flags = r.u16();
  if ((flags & 0x8000) === 0) throw new Error('not a response');
  const qd = r.u16();
  const an = r.u16();
  r.u16(); // NSCOUNT
  r.u16(); // ARCOUNT
  if (qd !== 1) throw new Error(`${qd} questions`);
  const qname = r.name();
  const qtype = r.u16();
  r.u16(); // QCLASS
  const out: DnsAnswer = { id, rcode: flags & 0x0f, truncated: (flags & 0x0200) !== 0, qname, qtype, addresses: [], cnames: 0 };
  // names the question reaches through CNAMEs in this answer
  const wanted = new Set([qname]);
  for (let i = 0; i < an; i++) {
    const name = r.name();
    const type = r.u16();
    const cls = r.u16();
    const ttl = r.u32();
    const len = r.u16();
    r.need(len);
    const at = r.o;
    r.o += len;
    if (cls !== CLASS_IN || !wanted.has(name)) continue;
    if (type === TYPE_CNAME) {
      out.cnames++;
      wanted.add(new Reader(buf, at).name());
    } else if (type === TYPE_A && len === 4 && type === qtype) {
      out.addresses.push({ ip: `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`, family: 4, ttl });
    } else if (type === TYPE_AAAA && len === 16 && type === qtype) {
      out.addresses.push({ ip: ipv6Text(buf, at), family: 6, ttl });
    }
  }
  return out;
}
