// One resolvers section's UDP sockets (one per address family its nameservers use) and its
// queries in flight, matched to answers by id, question and source address.
import * as dgram from 'node:dgram';
import { isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import { decodeAnswer, encodeQuery, type DnsAnswer } from './packet';
import type { NameserverStats } from './counters';

export interface Nameserver {
  name: string;
  host: string;
  port: number;
  stats: NameserverStats;
}

interface Pending {
  name: string;
  type: number;
  onAnswer: (ns: Nameserver, a: DnsAnswer) => void;
}

export class DnsTransport {
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private nextId = randomInt(0x10000);
  private closed = false;

  constructor(
    readonly nameservers: Nameserver[],
    private readonly payloadSize: number,
    private readonly log: (text: string) => void,
  ) {}

  private socket(family: 4 | 6): dgram.Socket {
    let s = this.sockets.get(family);
    if (s !== undefined) return s;
    s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    s.on('error', (e) => this.log(`resolver socket: ${e.message}`));
    s.unref();
    this.sockets.set(family, s);
    return s;
  }

  /** Sends the query to every nameserver; returns its id (for cancel). */
  query(name: string, type: number, onAnswer: Pending['onAnswer']): number {
    let id = this.nextId;
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    this.pending.set(id, { name: name.toLowerCase().replace(/\.$/, ''), type, onAnswer });
    const msg = encodeQuery(id, name, type, this.payloadSize);
    for (const ns of this.nameservers) {
      if (this.closed) break;
      ns.stats.sent++;
      this.socket(isIP(ns.host) === 6 ? 6 : 4).send(msg, ns.port, ns.host, (e) => {
        if (e) ns.stats.snd_error++;
      });
    }
    return id;
  }

  cancel(id: number): void {
    this.pending.delete(id);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const ns = this.nameservers.find((n) => n.port === rinfo.port && sameHost(n.host, rinfo.address));
    if (ns === undefined) return; // not from a nameserver of this section
    let a: DnsAnswer;
    try {
      a = decodeAnswer(msg);
    } catch {
      ns.stats.invalid++;
      return;
    }
    const p = this.pending.get(a.id);
    // an answer to a query already answered (another nameserver was faster) or to none
    if (p === undefined || p.name !== a.qname || p.type !== a.qtype) {
      ns.stats.outdated++;
      return;
    }
    if (msg.length > this.payloadSize) ns.stats.too_big++;
    this.pending.delete(a.id);
    p.onAnswer(ns, a);
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}

function sameHost(a: string, b: string): boolean {
  return a === b || b === `::ffff:${a}`;
}
