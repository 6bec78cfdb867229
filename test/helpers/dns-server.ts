// A tiny authoritative DNS server over UDP for the DNS discovery tests: A and AAAA records the
// test sets and changes, NXDOMAIN for names it does not know. Its own encoder (not src/dns/),
// so gatehouse's decoder is checked against an independent one. Answers in the order set.
import * as dgram from 'node:dgram';

export class TestDnsServer {
  readonly a = new Map<string, string[]>();
  readonly aaaa = new Map<string, string[]>();
  /** queries received, by "name TYPE" */
  readonly queries = new Map<string, number>();
  port = 0;
  /** true: queries are counted but not answered (a nameserver that went away) */
  silent = false;
  private readonly sock = dgram.createSocket('udp4');

  async start(): Promise<void> {
    this.sock.on('message', (msg, r) => {
      const out = this.answer(msg);
      if (out !== null && !this.silent) this.sock.send(out, r.port, r.address);
    });
    await new Promise<void>((resolve) => this.sock.bind(0, '127.0.0.1', () => resolve()));
    this.port = this.sock.address().port;
  }

  /** Sets the A records of `name` (an empty list: the name exists without addresses). */
  setA(name: string, ips: string[]): void {
    this.a.set(name.toLowerCase(), ips);
  }

  remove(name: string): void {
    this.a.delete(name.toLowerCase());
    this.aaaa.delete(name.toLowerCase());
  }

  count(name: string, type: 'A' | 'AAAA'): number {
    return this.queries.get(`${name.toLowerCase()} ${type}`) ?? 0;
  }

  private answer(q: Buffer): Buffer | null {
    if (q.length < 12 || (q[2] & 0x80) !== 0) return null;
    let o = 12;
    const labels: string[] = [];
    while (o < q.length && q[o] !== 0) {
      labels.push(q.toString('latin1', o + 1, o + 1 + q[o]));
      o += 1 + q[o];
    }
    const qEnd = o + 5; // zero byte, type, class
    if (qEnd > q.length) return null;
    const name = labels.join('.').toLowerCase();
    const type = q.readUInt16BE(o + 1);
    const tname = type === 1 ? 'A' : type === 28 ? 'AAAA' : String(type);
    this.queries.set(`${name} ${tname}`, (this.queries.get(`${name} ${tname}`) ?? 0) + 1);
    const known = this.a.has(name) || this.aaaa.has(name);
    const ips = (type === 1 ? this.a.get(name) : type === 28 ? this.aaaa.get(name) : undefined) ?? [];
    const parts: Buffer[] = [];
    const head = Buffer.alloc(12);
    q.copy(head, 0, 0, 2); // id
    head.writeUInt16BE(0x8400 | 0x0100 | 0x0080 | (known ? 0 : 3), 2); // QR AA RD RA, NOERROR or NXDOMAIN
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(ips.length, 6);
    parts.push(head, q.subarray(12, qEnd));
    for (const ip of ips) {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the question's name
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(1, 6); // TTL 1 s
      const data = type === 1 ? Buffer.from(ip.split('.').map(Number)) : ipv6Bytes(ip);
      rr.writeUInt16BE(data.length, 10);
      parts.push(rr, data);
    }
    return Buffer.concat(parts);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

function ipv6Bytes(ip: string): Buffer {
  const [h, t] = ip.split('::');
  const hi = h ? h.split(':') : [];
  const lo = t !== undefined && t ? t.split(':') : [];
  const groups = [...hi, ...new Array<string>(8 - hi.length - lo.length).fill('0'), ...lo];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}
