// DNS discovery on the primary thread (docs/dns.md): every server under a `resolvers` section
// whose address is a name is a slot; the names are asked every `timeout resolve`, and each slot
// takes one of its name's current records, never one another slot of its backend has (HAProxy's
// default, prevent-dup-ip). A slot without a record is in maintenance (RMAINT) until one comes.
// Addresses reach the workers through the shared state (SharedState.writeAddress, a seqlock);
// each worker's pool picks the new one up at its next connection and drops idle ones to the old.
import * as dns from 'node:dns';
import { isIP } from 'node:net';
import type { Config, ResolversConfig } from '../config/model';
import { ServerIndex, dynamicAddress, type SharedState } from '../shared/state';
import { formatSection, newStats } from './counters';
import { RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_REFUSED, TYPE_A, TYPE_AAAA, type DnsAnswer } from './packet';
import { DnsTransport, type Nameserver } from './transport';

type Level = 'info' | 'notice' | 'warning' | 'alert';
type ErrorKind = 'nx' | 'other' | 'refused' | 'timeout';

interface Slot {
  index: number;
  backend: number;
  /** backend/server, for log lines */
  label: string;
  port: number;
  /** the address it has now, null: none (RMAINT) */
  current: string | null;
}

interface InFlight {
  id: number;
  type: number;
  tries: number;
  /** the other family was asked after an error answer for the preferred one */
  fellBack: boolean;
  timer: NodeJS.Timeout;
}

class Resolution {
  readonly slots: Slot[] = [];
  /** known records: address -> family and when an answer last had it (first-seen order) */
  readonly records = new Map<string, { family: 4 | 6; seen: number }>();
  /** when the last valid answer came (the start, before the first one) */
  lastValid = Date.now();
  nextAt = 0;
  inFlight: InFlight | null = null;

  constructor(
    readonly fqdn: string,
    readonly prefer: 'ipv4' | 'ipv6',
  ) {}
}

/** One `resolvers` section: its nameservers, sockets and the names it resolves. */
class SectionResolver {
  readonly nameservers: Nameserver[];
  readonly resolutions: Resolution[] = [];
  private readonly transport: DnsTransport;

  constructor(
    readonly cfg: ResolversConfig,
    private readonly state: SharedState,
    private readonly log: (level: Level, text: string) => void,
  ) {
    this.nameservers = cfg.nameservers.map((n) => ({ ...n, stats: newStats() }));
    this.transport = new DnsTransport(this.nameservers, cfg.acceptedPayloadSize, (t) => log('warning', `resolvers ${cfg.name}: ${t}`));
  }

  resolution(fqdn: string, prefer: 'ipv4' | 'ipv6'): Resolution {
    let r = this.resolutions.find((x) => x.fqdn === fqdn && x.prefer === prefer);
    if (r === undefined) this.resolutions.push((r = new Resolution(fqdn, prefer)));
    return r;
  }

  /** Starts the resolutions that are due. */
  tick(now: number): void {
    for (const r of this.resolutions) {
      if (r.inFlight === null && now >= r.nextAt) this.ask(r, r.prefer === 'ipv4' ? TYPE_A : TYPE_AAAA, 1, false);
    }
  }

  private ask(r: Resolution, type: number, tries: number, fellBack: boolean): void {
    const id = this.transport.query(r.fqdn, type, (ns, a) => this.onAnswer(r, ns, a));
    const timer = setTimeout(() => this.onTimeout(r), this.cfg.timeoutRetry);
    timer.unref();
    r.inFlight = { id, type, tries, fellBack, timer };
  }

  private onTimeout(r: Resolution): void {
    const f = r.inFlight;
    if (f === null) return;
    this.transport.cancel(f.id);
    r.inFlight = null;
    if (f.tries < this.cfg.resolveRetries) {
      this.ask(r, f.type, f.tries + 1, f.fellBack);
      return;
    }
    for (const ns of this.nameservers) ns.stats.timeout++;
    this.failed(r, 'timeout');
  }

  private onAnswer(r: Resolution, ns: Nameserver, a: DnsAnswer): void {
    const f = r.inFlight;
    if (f === null || f.id !== a.id) return;
    clearTimeout(f.timer);
    r.inFlight = null;
    let error: ErrorKind | null = null;
    if (a.truncated) {
      // no TCP fallback: a truncated answer's records may be a part of the set
      ns.stats.truncated++;
      error = 'other';
    } else if (a.rcode === RCODE_NXDOMAIN) {
      ns.stats.nx++;
      error = 'nx';
    } else if (a.rcode === RCODE_REFUSED) {
      ns.stats.refused++;
      error = 'refused';
    } else if (a.rcode !== RCODE_NOERROR) {
      ns.stats.other++;
      error = 'other';
    } else if (a.addresses.length === 0) {
      ns.stats.any_err++;
      error = 'nx';
    }
    if (error !== null) {
      // as HAProxy: an error for the preferred family makes it ask the other one before failing
      if (!f.fellBack) this.ask(r, f.type === TYPE_A ? TYPE_AAAA : TYPE_A, 1, true);
      else this.failed(r, error);
      return;
    }
    if (a.cnames > 0) ns.stats.cname++;
    ns.stats.valid++;
    const now = Date.now();
    r.lastValid = now;
    r.nextAt = now + this.cfg.timeoutResolve;
    for (const x of a.addresses) {
      const known = r.records.get(x.ip);
      if (known) known.seen = now;
      else r.records.set(x.ip, { family: x.family, seen: now });
    }
    // records gone from the answers stay `hold obsolete`, then their slots lose them
    for (const [ip, rec] of r.records) if (now - rec.seen > this.cfg.hold.obsolete) r.records.delete(ip);
    if (this.assign(r, `${this.cfg.name}/${ns.name}`)) ns.stats.update++;
  }

  /** An error answer (or none): the records are kept for the hold of that error, then dropped. */
  private failed(r: Resolution, kind: ErrorKind): void {
    const now = Date.now();
    r.nextAt = now + this.cfg.timeoutResolve;
    if (now - r.lastValid <= this.cfg.hold[kind] || r.records.size === 0 && r.slots.every((s) => s.current === null)) return;
    r.records.clear();
    this.assign(r, `${this.cfg.name} (DNS ${kind.toUpperCase()} status)`);
  }

  /**
   * Gives each slot an address among the records: its own while it lasts, else the first one no
   * other slot of its backend has, else none. Returns whether any slot changed.
   */
  assign(r: Resolution, by: string): boolean {
    const wanted: 4 | 6 = r.prefer === 'ipv4' ? 4 : 6;
    let ips = [...r.records].filter(([, x]) => x.family === wanted).map(([ip]) => ip);
    if (ips.length === 0) ips = [...r.records.keys()];
    const usedBy = new Map<number, Set<string>>();
    const used = (b: number) => {
      let s = usedBy.get(b);
      if (s === undefined) usedBy.set(b, (s = new Set()));
      return s;
    };
    const next = new Map<Slot, string | null>();
    for (const s of r.slots) {
      if (s.current !== null && ips.includes(s.current) && !used(s.backend).has(s.current)) {
        used(s.backend).add(s.current);
        next.set(s, s.current);
      }
    }
    for (const s of r.slots) {
      if (next.has(s)) continue;
      const ip = ips.find((x) => !used(s.backend).has(x)) ?? null;
      if (ip !== null) used(s.backend).add(ip);
      next.set(s, ip);
    }
    let changed = false;
    for (const [s, ip] of next) {
      if (ip === s.current) continue;
      changed = true;
      const was = s.current;
      this.publish(s, ip);
      // HAProxy's wording
      this.log('notice', `${s.label} changed its IP from ${was ?? '(none)'} to ${ip ?? '(none)'} by ${by}.`);
      if (ip === null) this.log('warning', `Server ${s.label} is going DOWN for maintenance (No IP for server).`);
      else if (was === null) this.log('notice', `Server ${s.label} administratively READY thanks to valid DNS answer.`);
    }
    return changed;
  }

  publish(s: Slot, ip: string | null): void {
    s.current = ip;
    this.state.writeAddress(s.index, s.backend, ip === null ? null : { ip, port: s.port });
  }

  close(): void {
    for (const r of this.resolutions) if (r.inFlight) clearTimeout(r.inFlight.timer);
    this.transport.close();
  }

  show(): string {
    return formatSection(this.cfg.name, this.nameservers);
  }
}

/** Every resolvers section of one configuration (a Generation's, src/primary/run.ts). */
export class ResolversService {
  private readonly sections = new Map<string, SectionResolver>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly config: Config,
    private readonly state: SharedState,
    private readonly log: (level: Level, text: string) => void,
  ) {
    for (const rc of config.resolvers ?? []) this.sections.set(rc.name, new SectionResolver(rc, state, log));
  }

  /** Initial addresses (init-addr), then the resolution loop. Nothing to do without resolvers. */
  start(): void {
    if (this.sections.size === 0) return;
    const idx = new ServerIndex(this.config);
    let tickMs = 1000;
    this.config.backends.forEach((b, bi) => {
      b.servers.forEach((s, si) => {
        if (!dynamicAddress(s)) return;
        const sec = this.sections.get(s.resolvers!)!;
        tickMs = Math.min(tickMs, sec.cfg.timeoutResolve, sec.cfg.timeoutRetry);
        const prefer = s.resolvePrefer ?? 'ipv6';
        const r = sec.resolution(s.host.toLowerCase(), prefer);
        const slot: Slot = { index: idx.server(bi, si), backend: bi, label: `${b.name}/${s.name}`, port: s.port, current: null };
        r.slots.push(slot);
        // a reload carries the address the previous generation had (primary/carry-over.ts)
        const carried = this.state.readAddress(slot.index).addr;
        if (carried !== null) slot.current = carried.ip;
        else this.initAddr(sec, r, slot, s.initAddr ?? ['last', 'libc'], prefer);
      });
    });
    const tick = () => {
      const now = Date.now();
      for (const sec of this.sections.values()) sec.tick(now);
    };
    tick();
    this.timer = setInterval(tick, Math.max(10, Math.min(100, tickMs)));
    this.timer.unref();
  }

  /**
   * init-addr methods in order: an IP is taken as it is, libc asks the system resolver (the
   * slot has no address meanwhile), none leaves the slot in maintenance, last is skipped
   * (gatehouse keeps no server-state file).
   */
  private initAddr(sec: SectionResolver, r: Resolution, slot: Slot, methods: string[], prefer: 'ipv4' | 'ipv6', from = 0): void {
    for (let i = from; i < methods.length; i++) {
      const m = methods[i];
      if (m === 'none') return;
      if (m === 'last') continue;
      if (isIP(m) !== 0) {
        sec.publish(slot, m);
        return;
      }
      // libc
      dns.lookup(r.fqdn, { family: 0, all: true }, (err, list) => {
        if (this.stopped) return;
        if (err === null && list.length > 0) {
          if (slot.current !== null) return; // DNS answered first
          const pick = list.find((x) => x.family === (prefer === 'ipv4' ? 4 : 6)) ?? list[0];
          const taken = r.slots.some((o) => o !== slot && o.backend === slot.backend && o.current === pick.address);
          if (!taken) sec.publish(slot, pick.address);
          return;
        }
        if (methods.slice(i + 1).length === 0) {
          this.log('alert', `${slot.label}: could not resolve address '${r.fqdn}' (init-addr ${methods.join(',')}): it stays in maintenance until the resolvers find it`);
        } else this.initAddr(sec, r, slot, methods, prefer, i + 1);
      });
      return;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.sections.values()) s.close();
  }

  /** `show resolvers [<section>]`; null when the section is unknown. */
  show(name?: string): string | null {
    if (name !== undefined) return this.sections.get(name)?.show() ?? null;
    return [...this.sections.values()].map((s) => s.show()).join('');
  }
}
