// HAProxy's peers protocol, version 2.1 (doc/peers-v2.0.txt, src/peers.c of HAProxy 2.6), run
// by the primary thread for each peers section naming this process: a listener on the local
// peer's address, one outgoing connection per remote peer (an incoming one from that peer
// replaces it, as in HAProxy), table definitions, entry updates both ways, acks, heartbeats,
// and a full teach of every entry on a resync request or a new session (so a restarted
// instance learns its tables back from any peer).
//
// Framing: class byte, type byte; types >= 128 carry a varint length and a payload. Varints
// are HAProxy's: < 240 in one byte, else the low bits with 0xf0 and 7-bit groups after.
import * as net from 'node:net';
import type { StickTable } from './table';
import { KEY_TYPE_IDS, type PeersSectionConfig } from './types';

type Log = (level: 'info' | 'notice' | 'warning' | 'alert', text: string) => void;

const PROTO = 'HAProxyS';
const CLASS_CONTROL = 0;
const CLASS_ERROR = 1;
const CLASS_STKT = 10;
const CTRL_RESYNCREQ = 0;
const CTRL_RESYNCFINISHED = 1;
const CTRL_RESYNCPARTIAL = 2;
const CTRL_RESYNCCONFIRM = 3;
const CTRL_HEARTBEAT = 4;
const STKT_UPDATE = 0x80;
const STKT_INCUPDATE = 0x81;
const STKT_DEFINE = 0x82;
const STKT_SWITCH = 0x83;
const STKT_ACK = 0x84;
const STKT_UPDATE_TIMED = 0x85;
const STKT_INCUPDATE_TIMED = 0x86;

const HEARTBEAT_MS = 3000;
/** HAProxy closes a session silent for 5 s; a little more here */
const SILENCE_MS = 6000;
const FLUSH_MS = 100;
const MAX_MSG = 65536;
const MAX_LINE = 512;
const DEBUG = process.env.GATEHOUSE_PEERS_DEBUG === '1';

/** std types of HAProxy's data type ids 0..24 (S sint, U uint, L ull, F freq, D dict, u/f arrays) */
const STD = 'SUUFUFUUFUFUFLFLFUFDUFuuf';

export class PeerProtocolError extends Error {}

export function varintEncode(v: number, out: number[]): void {
  if (v < 240) {
    out.push(v);
    return;
  }
  out.push((v % 256) | 0xf0);
  v = Math.floor((v - 240) / 16);
  while (v >= 128) {
    out.push((v % 256) | 0x80);
    v = Math.floor((v - 128) / 128);
  }
  out.push(v);
}

/** Decodes a varint at r.pos (advanced); throws PeerProtocolError past `end`. */
export function varintDecode(b: Buffer, r: { pos: number }, end: number): number {
  if (r.pos >= end) throw new PeerProtocolError('truncated integer');
  let v = b[r.pos++];
  if (v >= 240) {
    let mult = 16;
    let c: number;
    do {
      if (r.pos >= end) throw new PeerProtocolError('truncated integer');
      c = b[r.pos++];
      v += c * mult;
      mult *= 128;
      if (mult > 2 ** 70) throw new PeerProtocolError('integer too long');
    } while (c >= 128);
  }
  return v;
}

function u32(out: number[], v: number): void {
  out.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
}

function message(cls: number, type: number, payload: number[] | null): Buffer {
  const out: number[] = [cls, type];
  if (payload !== null) {
    varintEncode(payload.length, out);
    for (const x of payload) out.push(x);
  }
  return Buffer.from(out);
}

interface LocalTable {
  id: number;
  /** the name peers know it by: the proxy name, or the table name of a peers section */
  nid: string;
  table: StickTable;
  /** the key size HAProxy announces (string: len + 1 for its NUL) */
  keySize: number;
}

interface RemoteTable {
  local: LocalTable | null;
  /** data type ids the remote stores, ascending */
  types: number[];
  nbelem: Map<number, number>;
  lastGet: number;
  acked: number;
}

/** Counters of a peers section (show peers-ish, and tests). */
export interface PeersStats {
  sessions: number;
  received: number;
  sent: number;
  protocolErrors: number;
}

class Session {
  established = false;
  private buf: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private readonly remote = new Map<number, RemoteTable>();
  private current: RemoteTable | null = null;
  private lastSwitch = -1;
  private readonly updateIds = new Map<number, number>();
  lastRx = Date.now();
  lastTx = Date.now();

  constructor(
    readonly rt: PeersRuntime,
    readonly sock: net.Socket,
    /** null until an incoming session said who it is */
    public peer: string | null,
    readonly outgoing: boolean,
  ) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => {});
    sock.on('close', () => rt.closed(this));
    if (outgoing) this.write(Buffer.from(`${PROTO} 2.1\n${peer}\n${rt.localName} ${process.pid} 1\n`));
  }

  write(b: Buffer): void {
    if (this.sock.destroyed) return;
    this.sock.write(b);
    this.lastTx = Date.now();
  }

  fail(why: string, status: string | null): void {
    this.rt.protocolError(this, why);
    if (status !== null && !this.sock.destroyed) this.sock.end(status);
    else if (this.established) this.sock.end(message(CLASS_ERROR, 0, null));
    else this.sock.destroy();
  }

  private onData(d: Buffer): void {
    this.lastRx = Date.now();
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    try {
      if (!this.established && !this.handshake()) return;
      this.messages();
    } catch (e) {
      if (!(e instanceof PeerProtocolError)) throw e;
      this.fail(e.message, null);
    }
  }

  /** The text part: three lines from a client, one status line from a server. */
  private handshake(): boolean {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) {
        if (this.buf.length > MAX_LINE) this.fail('handshake line too long', this.outgoing ? null : '501\n');
        return false;
      }
      this.lines.push(this.buf.subarray(0, nl).toString('latin1').replace(/\r$/, ''));
      this.buf = this.buf.subarray(nl + 1);
      if (this.outgoing) {
        const status = this.lines[0];
        if (status !== '200') {
          this.rt.log('warning', `peers ${this.rt.sec.name}: peer '${this.peer}' refused the session (status ${status})`);
          this.sock.destroy();
          return false;
        }
        break;
      }
      if (this.lines.length < 3) continue;
      const [proto, to, from] = this.lines;
      const m = /^HAProxyS (\d+)\.(\d+)$/.exec(proto);
      if (m === null) return this.fail(`bad protocol line '${proto.slice(0, 40)}'`, '501\n'), false;
      if (m[1] !== '2') return this.fail(`protocol version ${m[1]}.${m[2]}`, '502\n'), false;
      if (to !== this.rt.localName) return this.fail(`the peer asked for '${to}', this is '${this.rt.localName}'`, '503\n'), false;
      const name = from.split(' ')[0];
      if (!this.rt.sec.peers.some((p) => p.name === name && !p.local)) return this.fail(`unknown peer '${name}'`, '504\n'), false;
      this.peer = name;
      this.write(Buffer.from('200\n'));
      break;
    }
    this.established = true;
    this.rt.established(this);
    return true;
  }

  private messages(): void {
    const b = this.buf;
    let pos = 0;
    while (b.length - pos >= 2) {
      const cls = b[pos];
      const type = b[pos + 1];
      let start = pos + 2;
      let end = start;
      if (type >= 128) {
        const r = { pos: start };
        let len: number;
        try {
          len = varintDecode(b, r, b.length);
        } catch {
          break; // the length is not all here yet
        }
        if (len > MAX_MSG) throw new PeerProtocolError(`message of ${len} bytes`);
        if (b.length - r.pos < len) break;
        start = r.pos;
        end = start + len;
      }
      this.handle(cls, type, b, start, end);
      pos = end;
    }
    this.buf = pos === b.length ? Buffer.alloc(0) : b.subarray(pos);
  }

  private handle(cls: number, type: number, b: Buffer, start: number, end: number): void {
    this.rt.stats.received++;
    if (DEBUG) this.rt.log('info', `peers ${this.rt.sec.name}: <- ${this.peer} ${cls}/${type} ${b.subarray(start, end).toString('hex')}`);
    if (cls === CLASS_CONTROL) {
      if (type === CTRL_RESYNCREQ) {
        this.rt.teachAll(this);
        this.write(message(CLASS_CONTROL, CTRL_RESYNCFINISHED, null));
      } else if (type === CTRL_RESYNCFINISHED || type === CTRL_RESYNCPARTIAL) {
        this.write(message(CLASS_CONTROL, CTRL_RESYNCCONFIRM, null));
        this.rt.resyncAnswered(this, type === CTRL_RESYNCPARTIAL);
      }
      return; // heartbeat, confirm: nothing to do
    }
    if (cls === CLASS_ERROR) throw new PeerProtocolError(`the peer reported ${type === 1 ? 'a size limit' : 'a protocol'} error`);
    if (cls !== CLASS_STKT) return; // reserved classes: ignored, as HAProxy
    const r = { pos: start };
    switch (type) {
      case STKT_DEFINE:
        this.define(b, r, end);
        return;
      case STKT_SWITCH: {
        const id = varintDecode(b, r, end);
        this.current = this.remote.get(id) ?? null;
        return;
      }
      case STKT_UPDATE:
      case STKT_INCUPDATE:
      case STKT_UPDATE_TIMED:
      case STKT_INCUPDATE_TIMED:
        this.update(type, b, r, end);
        return;
      case STKT_ACK:
        return;
    }
  }

  private define(b: Buffer, r: { pos: number }, end: number): void {
    const id = varintDecode(b, r, end);
    const nameLen = varintDecode(b, r, end);
    if (nameLen === 0 || r.pos + nameLen > end) throw new PeerProtocolError('bad table name');
    const name = b.subarray(r.pos, r.pos + nameLen).toString('latin1');
    r.pos += nameLen;
    const keyType = varintDecode(b, r, end);
    const keySize = varintDecode(b, r, end);
    const mask = varintDecode(b, r, end);
    const types: number[] = [];
    for (let t = 0; t < 25; t++) if (Math.floor(mask / 2 ** t) % 2 === 1) types.push(t);
    const nbelem = new Map<number, number>();
    if (r.pos < end) {
      varintDecode(b, r, end); // expire
      for (const t of types) {
        const kind = STD[t];
        if (kind !== 'F' && kind !== 'u' && kind !== 'f') continue;
        if (varintDecode(b, r, end) !== t) throw new PeerProtocolError('table definition parameters out of order');
        if (kind === 'u' || kind === 'f') nbelem.set(t, varintDecode(b, r, end));
        if (kind !== 'u') varintDecode(b, r, end); // period
      }
    }
    let local = this.rt.localByNid.get(name) ?? this.rt.localByNid.get(`/${name}`) ?? null;
    if (local !== null && (KEY_TYPE_IDS[local.table.cfg.type] !== keyType || local.keySize !== keySize)) {
      this.rt.log('warning', `peers ${this.rt.sec.name}: peer '${this.peer}' defines table '${name}' with another key type or size: its updates are ignored`);
      local = null;
    }
    const rt: RemoteTable = { local, types, nbelem, lastGet: 0, acked: 0 };
    this.remote.set(id, rt);
    this.current = rt;
  }

  private update(type: number, b: Buffer, r: { pos: number }, end: number): void {
    const rt = this.current;
    if (rt === null) throw new PeerProtocolError('an update before any table definition');
    if (type === STKT_UPDATE || type === STKT_UPDATE_TIMED) {
      if (end - r.pos < 4) throw new PeerProtocolError('truncated update id');
      rt.lastGet = b.readUInt32BE(r.pos);
      r.pos += 4;
    } else {
      rt.lastGet = (rt.lastGet + 1) >>> 0;
    }
    let expireIn = 0;
    if (type === STKT_UPDATE_TIMED || type === STKT_INCUPDATE_TIMED) {
      if (end - r.pos < 4) throw new PeerProtocolError('truncated expiry');
      expireIn = b.readUInt32BE(r.pos);
      r.pos += 4;
    }
    const local = rt.local;
    if (local === null) return; // a table this process does not share: skipped
    const t = local.table;
    let key: Buffer;
    if (t.cfg.type === 'string') {
      const len = varintDecode(b, r, end);
      if (len > end - r.pos || len === 0) throw new PeerProtocolError('bad string key');
      key = b.subarray(r.pos, r.pos + Math.min(len, t.cfg.keyLen));
      r.pos += len;
    } else {
      const size = t.cfg.keyLen;
      if (end - r.pos < size) throw new PeerProtocolError('truncated key');
      key = b.subarray(r.pos, r.pos + size);
      r.pos += size;
    }
    const values = new Map<number, number | [number, number, number]>();
    for (const id of rt.types) {
      const kind = STD[id];
      if (kind === 'D') break; // server_key: a dictionary gatehouse does not keep; the rest is not read
      if (kind === 'F') {
        const v: [number, number, number] = [varintDecode(b, r, end), varintDecode(b, r, end), varintDecode(b, r, end)];
        if (id !== 6) values.set(id, v);
      } else if (kind === 'u' || kind === 'f') {
        const n = rt.nbelem.get(id) ?? 0;
        for (let i = 0; i < n * (kind === 'f' ? 3 : 1); i++) varintDecode(b, r, end);
      } else {
        const v = varintDecode(b, r, end);
        if (id !== 6) values.set(id, kind === 'S' ? v | 0 : v); // conn_cur stays local (HAProxy's is_local)
      }
    }
    if (!t.learn(key, key.length, values, expireIn)) this.rt.log('warning', `peers ${this.rt.sec.name}: table ${t.name} is full (nopurge): an update from '${this.peer}' was dropped`);
  }

  /** Acks for tables that got updates since the last ack. */
  ack(): void {
    for (const [id, rt] of this.remote) {
      if (rt.lastGet === rt.acked) continue;
      const p: number[] = [];
      varintEncode(id, p);
      u32(p, rt.lastGet);
      this.write(message(CLASS_STKT, STKT_ACK, p));
      rt.acked = rt.lastGet;
    }
  }

  defineAll(): void {
    for (const l of this.rt.locals) this.sendDefine(l);
  }

  private sendDefine(l: LocalTable): void {
    const p: number[] = [];
    varintEncode(l.id, p);
    const name = Buffer.from(l.nid, 'latin1');
    varintEncode(name.length, p);
    for (const x of name) p.push(x);
    varintEncode(KEY_TYPE_IDS[l.table.cfg.type], p);
    varintEncode(l.keySize, p);
    let mask = 0;
    for (const s of l.table.cfg.store) mask += 2 ** s.id;
    varintEncode(mask, p);
    varintEncode(l.table.expire, p);
    for (const s of l.table.cfg.store) {
      if (STD[s.id] !== 'F') continue;
      varintEncode(s.id, p);
      varintEncode(s.period, p);
    }
    this.write(message(CLASS_STKT, STKT_DEFINE, p));
    this.lastSwitch = l.id;
  }

  /** One entry update (an explicit id every time, so no ordering is assumed). */
  send(l: LocalTable, idx: number): void {
    const e = l.table.exportEntry(idx);
    if (e === null) return;
    if (this.lastSwitch !== l.id) {
      const p: number[] = [];
      varintEncode(l.id, p);
      this.write(message(CLASS_STKT, STKT_SWITCH, p));
      this.lastSwitch = l.id;
    }
    const timed = l.table.expire > 0;
    const p: number[] = [];
    const uid = ((this.updateIds.get(l.id) ?? 0) + 1) >>> 0;
    this.updateIds.set(l.id, uid);
    u32(p, uid);
    if (timed) u32(p, e.expireIn);
    if (l.table.cfg.type === 'string') {
      varintEncode(e.key.length, p);
      for (const x of e.key) p.push(x);
    } else {
      for (const x of e.key) p.push(x);
    }
    for (const v of e.values) {
      if (typeof v === 'number') varintEncode(v < 0 ? v >>> 0 : v, p);
      else for (const x of v) varintEncode(x, p);
    }
    this.write(message(CLASS_STKT, timed ? STKT_UPDATE_TIMED : STKT_UPDATE, p));
    this.rt.stats.sent++;
  }

  heartbeat(now: number): boolean {
    if (now - this.lastRx > SILENCE_MS) return false;
    if (now - this.lastTx >= HEARTBEAT_MS) this.write(message(CLASS_CONTROL, CTRL_HEARTBEAT, null));
    return true;
  }

  requestResync(): void {
    this.write(message(CLASS_CONTROL, CTRL_RESYNCREQ, null));
  }
}

export class PeersRuntime {
  readonly locals: LocalTable[] = [];
  readonly localByNid = new Map<string, LocalTable>();
  readonly stats: PeersStats = { sessions: 0, received: 0, sent: 0, protocolErrors: 0 };
  private readonly sessions = new Map<string, Session>();
  private readonly pending = new Set<Session>();
  private server: net.Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** the session the resync (learning the tables back) was asked on, until its peer answers */
  private resyncFrom: Session | null = null;
  private resyncDone = false;
  /** peers that answered they are not synchronised themselves (HAProxy's RESYNCPARTIAL) */
  private readonly notSynced = new Set<string>();
  private readonly nextConnect = new Map<string, number>();

  constructor(
    readonly sec: PeersSectionConfig,
    readonly localName: string,
    tables: Map<string, StickTable>,
    readonly log: Log,
  ) {
    sec.tables.forEach((name, i) => {
      const t = tables.get(name);
      if (t === undefined) return;
      // HAProxy 2.6 announces a peers section's table "mesh/rl" as "/rl" (checked on the wire)
      const nid = name.startsWith(`${sec.name}/`) ? name.slice(sec.name.length) : name;
      const l: LocalTable = { id: i + 1, nid, table: t, keySize: t.cfg.type === 'string' ? t.cfg.keyLen + 1 : t.cfg.keyLen };
      this.locals.push(l);
      this.localByNid.set(nid, l);
    });
  }

  async start(): Promise<void> {
    const me = this.sec.peers.find((p) => p.local)!;
    const server = net.createServer((sock) => {
      const s = new Session(this, sock, null, false);
      this.pending.add(s);
    });
    server.on('error', (e: NodeJS.ErrnoException) => {
      // a reload: the previous generation still holds the port for a moment
      if (e.code === 'EADDRINUSE' && !this.stopped) setTimeout(() => server.listen(me.port, me.host), 200).unref();
      else this.log('alert', `peers ${this.sec.name}: cannot listen on ${me.host}:${me.port}: ${e.message}`);
    });
    server.listen(me.port, me.host);
    this.server = server;
    this.timer = setInterval(() => this.tick(), FLUSH_MS);
    this.timer.unref();
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    for (const s of [...this.sessions.values(), ...this.pending]) s.sock.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The established session with each peer (for tests and status). */
  sessionNames(): string[] {
    return [...this.sessions.keys()];
  }

  established(s: Session): void {
    this.pending.delete(s);
    const old = this.sessions.get(s.peer!);
    if (old !== undefined && old !== s) {
      old.sock.destroy(); // the newer session wins, as in HAProxy
      // a resync asked on the old one will not be answered: this one asks again
      if (this.resyncFrom === old) this.resyncFrom = null;
    }
    this.sessions.set(s.peer!, s);
    this.stats.sessions++;
    this.log('info', `peers ${this.sec.name}: session with '${s.peer}' established (${s.outgoing ? 'outgoing' : 'incoming'})`);
    s.defineAll();
    this.askResync(s);
    this.teachAll(s);
  }

  closed(s: Session): void {
    this.pending.delete(s);
    if (s.peer !== null && this.sessions.get(s.peer) === s) {
      this.sessions.delete(s.peer);
      this.log('info', `peers ${this.sec.name}: session with '${s.peer}' closed`);
      this.nextConnect.set(s.peer, Date.now() + 500 + Math.floor(Math.random() * 2000));
    }
    if (this.resyncFrom === s) {
      // closed before its peer finished teaching (a collision at start-up, a peer restarting):
      // the tables are learned from the next session, not never
      this.resyncFrom = null;
      this.askAnyLive();
    }
  }

  /**
   * A (re)started process learns the tables back from the first peer it reaches, once: a
   * session that closes before the answer passes the request on (HAProxy retries another peer).
   */
  private askResync(s: Session): void {
    if (this.resyncDone || this.resyncFrom !== null || this.stopped || this.notSynced.has(s.peer!)) return;
    this.resyncFrom = s;
    s.requestResync();
  }

  private askAnyLive(): void {
    for (const live of this.sessions.values()) {
      this.askResync(live);
      if (this.resyncFrom !== null) return;
    }
  }

  /** The peer a resync was asked of has sent all it has; `partial`: it is not synchronised itself. */
  resyncAnswered(s: Session, partial: boolean): void {
    if (s !== this.resyncFrom) return;
    this.resyncFrom = null;
    if (!partial) {
      this.resyncDone = true;
      this.log('info', `peers ${this.sec.name}: tables learned from '${s.peer}' (resync finished)`);
      return;
    }
    // as HAProxy: ask another peer; with none left, what was learned is all there is
    this.notSynced.add(s.peer!);
    const left = this.sec.peers.some((p) => !p.local && !this.notSynced.has(p.name));
    this.log('info', `peers ${this.sec.name}: '${s.peer}' is not synchronised itself (partial resync); ${left ? 'asking another peer' : 'no other peer to learn from'}`);
    if (left) this.askAnyLive();
    else this.resyncDone = true;
  }

  protocolError(s: Session, why: string): void {
    this.stats.protocolErrors++;
    this.log('warning', `peers ${this.sec.name}: protocol error from ${s.peer !== null ? `'${s.peer}'` : s.sock.remoteAddress ?? 'a peer'}: ${why}; session closed`);
  }

  teachAll(s: Session): void {
    for (const l of this.locals) for (const idx of l.table.usedEntries()) s.send(l, idx);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    for (const p of this.sec.peers) {
      if (p.local || this.sessions.has(p.name) || (this.nextConnect.get(p.name) ?? 0) > now) continue;
      if ([...this.pending].some((s) => s.peer === p.name)) continue;
      this.nextConnect.set(p.name, now + 1000 + Math.floor(Math.random() * 1000));
      const sock = net.connect({ host: p.host, port: p.port });
      const s = new Session(this, sock, p.name, true);
      this.pending.add(s);
    }
    for (const s of this.pending) if (now - s.lastRx > SILENCE_MS) s.sock.destroy();
    const live = [...this.sessions.values()];
    for (const l of this.locals) {
      const updates = l.table.takeUpdates(4096);
      if (live.length === 0) continue;
      for (const idx of updates) for (const s of live) s.send(l, idx);
    }
    for (const s of live) {
      s.ack();
      if (!s.heartbeat(now)) {
        this.log('warning', `peers ${this.sec.name}: '${s.peer}' silent for ${SILENCE_MS / 1000} s; session closed`);
        s.sock.destroy();
      }
    }
  }
}
