// haproxy.cfg reader, output side: turns the sections read into the YAML-shaped document and
// records the position of every key path.
import { didYouMean } from './suggest';
import { PeersBlock } from './stick-cfg';
import { ResolversBlock } from './resolvers-cfg';
import { cfgTcpCheckWithoutOption } from './tcp-cfg';
import { Kind, Path, Pos, Entry, LogItem, Section, backendSide, frontendSide, INT_KEYS, pathKey } from './cfg-parser-base';
import { CfgProxyRules } from './cfg-proxy-rules';

export class CfgEmit extends CfgProxyRules {
  protected reg(path: Path, pos: Pos): void {
    this.positions.set(pathKey(path), pos);
  }

  /** Puts `entries` into `obj` (dotted keys become nested maps) and records their positions. */
  protected emitEntries(obj: Record<string, unknown>, base: Path, entries: Iterable<[string, Entry]>): void {
    for (const [key, e] of entries) {
      const parts = key.split('.');
      let o = obj;
      for (let i = 0; i < parts.length - 1; i++) {
        o = (o[parts[i]] ??= {}) as Record<string, unknown>;
        this.positionIfAbsent([...base, ...parts.slice(0, i + 1)], e.pos);
      }
      const last = parts[parts.length - 1];
      let value = Array.isArray(e.value) ? [...e.value] : e.value !== null && typeof e.value === 'object' ? { ...(e.value as object) } : e.value;
      // Counts read better as numbers in the converted YAML (the validator takes either).
      if (typeof value === 'string' && INT_KEYS.has(last) && /^\d{1,15}$/.test(value)) value = Number(value);
      o[last] = value;
      const p = [...base, ...parts];
      this.reg(p, e.pos);
      e.items?.forEach((ip, i) => this.reg([...p, i], ip));
      if (e.sub) for (const [k, sp] of Object.entries(e.sub)) this.reg([...p, k], sp);
    }
  }

  /** acls (name -> criterion, or a list when several lines share the name) and the rule lists. */
  protected emitRules(out: Record<string, unknown>, base: Path, p: Section): void {
    if (p.acls.size) {
      const acls: Record<string, string | string[]> = {};
      const ap = [...base, 'acls'];
      this.reg(ap, [...p.acls.values()][0][0].pos);
      for (const [name, lines] of p.acls) {
        acls[name] = lines.length === 1 ? lines[0].text : lines.map((l) => l.text);
        this.reg([...ap, name], lines[0].pos);
        if (lines.length > 1) lines.forEach((l, i) => this.reg([...ap, name, i], l.pos));
      }
      out.acls = acls;
    }
    for (const key of ['use_backend', 'http_request', 'http_response', 'redirect'] as const) {
      let list = key === 'http_response' ? [...p.ruleLists[key], ...p.afterResponse] : p.ruleLists[key];
      if (key === 'http_request' && p.hasFE && p.monitorUri) list = [{ value: this.monitorRule(p.monitorUri.uri), pos: p.monitorUri.pos }, ...list];
      if (!list.length) continue;
      const lp = [...base, key];
      this.reg(lp, list[0].pos);
      out[key] = list.map((item, i) => {
        this.reg([...lp, i], item.pos);
        if (item.sub) for (const [k, sp] of Object.entries(item.sub)) this.reg([...lp, i, k], sp);
        return item.value;
      });
    }
  }

  protected positionIfAbsent(path: Path, pos: Pos): void {
    const k = pathKey(path);
    if (!this.positions.has(k)) this.positions.set(k, pos);
  }

  protected emitLogs(base: Path, items: LogItem[]): unknown {
    this.reg(base, items[0]?.pos ?? this.positions.get(pathKey(base.slice(0, -1))) ?? { file: this.file, line: 0, col: 0 });
    if (items.length === 1 && items[0].global) return 'global';
    const out: Record<string, string>[] = [];
    for (const it of items) {
      const expanded = it.global ? this.globalLogs : [it];
      for (const e of expanded) {
        if (e.global) continue;
        const p = [...base, out.length];
        this.reg(p, it.pos);
        for (const [k, sp] of Object.entries(e.sub)) this.reg([...p, k], it.global ? it.pos : sp);
        out.push({ ...e.value });
      }
    }
    return out;
  }

  /**
   * HAProxy runs http-check rules only with `option httpchk`; without it the check stays TCP.
   * (The YAML would otherwise infer an HTTP check from the expect/send settings.)
   */
  protected httpCheckWithoutHttpchk(p: Section): void {
    if (p.set.has('health_check.type')) return;
    const first = [...p.set].find(([k]) => k.startsWith('health_check.'));
    if (!first) return;
    this.issue('warning', first[1].pos, `'http-check' settings are ignored in ${p.label}: there is no 'option httpchk', so the health check stays TCP`);
    p.set.set('health_check.type', { value: 'tcp', pos: first[1].pos });
  }

  /** `errorfiles NAME [codes]`: the section's pages, for the codes not set by an errorfile line of the proxy. */
  protected resolveErrorfiles(p: Section): void {
    for (const ref of p.errorfilesRefs.splice(0)) {
      const pages = this.httpErrorSections.get(ref.name);
      if (!pages) {
        this.issue('error', ref.pos, `http-errors section '${ref.name}' not found${didYouMean(ref.name, this.httpErrorSections.keys())}`);
        continue;
      }
      const codes = ref.codes.length ? ref.codes : [...pages.keys()].map((k) => k.slice('error_pages.'.length));
      for (const code of codes) {
        const e = pages.get(`error_pages.${code}`);
        if (!e) continue; // HAProxy ignores a code the section does not define
        if (!p.set.has(`error_pages.${code}`) || p.parent?.set.get(`error_pages.${code}`) === p.set.get(`error_pages.${code}`)) p.set.set(`error_pages.${code}`, e);
      }
    }
  }

  buildDoc(): Record<string, unknown> {
    const doc: Record<string, unknown> = {};
    const g: Record<string, unknown> = {};
    this.emitEntries(g, ['global'], this.global);
    if (this.globalLogs.length) g.log = this.emitLogs(['global', 'log'], this.globalLogs);
    if (this.statsSockets.length) {
      this.reg(['global', 'stats_socket'], this.statsSockets[0].pos);
      g.stats_socket = this.statsSockets.map((e, i) => {
        this.reg(['global', 'stats_socket', i], e.pos);
        for (const [k, sp] of Object.entries(e.sub ?? {})) this.reg(['global', 'stats_socket', i, k], sp);
        return e.value;
      });
    }
    if (Object.keys(g).length) doc.global = g;
    if (this.peersBlocks.length) doc.peers = PeersBlock.emit(this.peersBlocks, (path, pos) => this.reg(path, pos));
    if (this.resolversBlocks.length) doc.resolvers = ResolversBlock.emit(this.resolversBlocks, (path, pos) => this.reg(path, pos));

    // One defaults shared by every proxy becomes the YAML `defaults`; otherwise resolve per proxy.
    const parents = new Set(this.proxies.map((p) => p.parent));
    const shared = parents.size === 1 ? [...parents][0] : null;
    const inDefaults = (key: string): boolean => !key.startsWith('stats.');
    if (shared) {
      const d: Record<string, unknown> = {};
      this.reg(['defaults'], shared.pos);
      this.emitEntries(d, ['defaults'], [...shared.set].filter(([k]) => inDefaults(k)));
      if (Object.keys(d).length) doc.defaults = d;
    }

    const groups: Record<Exclude<Kind, 'defaults'>, string> = { frontend: 'frontends', backend: 'backends', listen: 'listen' };
    for (const p of [...this.namedDefaults.values(), ...this.proxies]) this.resolveErrorfiles(p);
    if (this.lastDefaults) this.resolveErrorfiles(this.lastDefaults);
    for (const p of this.proxies) {
      if (p.kind === 'frontend' && p.binds.length === 0) {
        // HAProxy accepts it with a warning; it receives no connection, so there is nothing to run
        this.issue('warning', p.pos, `frontend '${p.name}' has no 'bind': it accepts no connections and is left out (as in HAProxy)`);
        continue;
      }
      const group = groups[p.kind as Exclude<Kind, 'defaults'>];
      const base: Path = [group, p.name];
      this.reg(base, p.pos);
      const out: Record<string, unknown> = {};
      if (p.hasFE && p.binds.length) {
        out.bind = p.binds.map((b) => b.value);
        this.reg([...base, 'bind'], p.binds[0].pos);
        p.binds.forEach((b, i) => {
          this.reg([...base, 'bind', i], b.pos);
          if (b.sub) for (const [k, sp] of Object.entries(b.sub)) this.reg([...base, 'bind', i, k], sp);
          if (b.crtItems) b.crtItems.forEach((cp, j) => this.reg([...base, 'bind', i, 'crt', j], cp));
        });
      }
      if (p.hasBE) {
        this.httpCheckWithoutHttpchk(p);
        cfgTcpCheckWithoutOption(this.tcpSink(p), p.label);
        // HAProxy hashes source/uri/hdr with map-based sdbm unless told otherwise: make it
        // explicit, so the same key picks the same server as HAProxy (YAML keeps its own default)
        const bal = p.set.get('balance');
        if (bal && !p.set.has('hash_type') && /^(source|uri|hdr\(.*\))$/.test(String(bal.value))) {
          p.set.set('hash_type', { value: 'map-based sdbm', pos: bal.pos });
        }
      }
      const inherited = p.parent?.set;
      const entries = [...p.set].filter(([k, e]) => {
        const fromDefaults = inherited?.get(k) === e;
        if (fromDefaults && shared && inDefaults(k)) return false; // the YAML defaults carries it
        if (fromDefaults && ((!p.hasBE && backendSide(k)) || (!p.hasFE && frontendSide(k)))) return false;
        return true;
      });
      this.emitEntries(out, base, entries);
      if (p.hasFE) out.log = this.emitLogs([...base, 'log'], p.logs ?? []);
      if (p.hasBE && p.servers.length) {
        this.reg([...base, 'servers'], p.servers[0].pos);
        out.servers = p.servers.map((sv, i) => {
          const sp = [...base, 'servers', i];
          this.reg(sp, sv.pos);
          this.reg([...sp, 'name'], sv.namePos);
          this.reg([...sp, 'address'], sv.addrPos);
          const o: Record<string, unknown> = { name: sv.name, address: sv.address };
          this.emitEntries(o, sp, sv.opts);
          return o;
        });
      }
      this.emitRules(out, base, p);
      ((doc[group] ??= {}) as Record<string, unknown>)[p.name] = out;
    }
    return doc;
  }
}
