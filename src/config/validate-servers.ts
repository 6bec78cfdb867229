// Validator: backend servers and their agent checks; last link of the Builder chain
// (validate-global.ts <- validate-proxy.ts <- validate-binds.ts <- Builder here).
import { type ServerConfig } from './model';
import { describeValue } from './errors';
import { Path, Obj, SERVER_KEYS, NAME_RE, NAME_EXPECTED } from './validate-keys';
import { has } from './validate-checker';
import { validHost, parseHostPort } from './validate-values';
import { BuilderBinds } from './validate-binds';
import { readInitAddr } from './resolvers';
import { isIP } from 'node:net';

/** A server-template count: 3 (names 1..3) or "2-4" (names 2..4); null when invalid. */
function templateRange(v: unknown): [number, number] | null {
  const m = typeof v === 'number' ? /^(\d+)$/.exec(String(v)) : typeof v === 'string' ? /^(?:(\d+)-)?(\d+)$/.exec(v.trim()) : null;
  if (!m) return null;
  const lo = m[1] !== undefined ? Number(m[1]) : 1;
  const hi = Number(m[2]);
  return lo >= 1 && hi >= lo && hi - lo < 1000 ? [lo, hi] : null;
}
import { serverTls } from './validate-server-tls';

export class Builder extends BuilderBinds {
  /** names of the `resolvers` sections (set before the proxies are read) */
  resolverNames: ReadonlySet<string> = new Set();

  servers(v: unknown, path: Path, fastinterFromInter: boolean, downinterFromInter: boolean): ServerConfig[] {
    const c = this.c;
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) {
      c.bad(path, 'a list of servers, each { name, address, ... }', v);
      return [];
    }
    const out: ServerConfig[] = [];
    const names = new Map<string, number>();
    v.forEach((item, i) => {
      const p: Path = [...path, i];
      const o = c.map(item, p, 'a server map { name, address, ... }', false);
      if (!o) return;
      c.keys(o, p, SERVER_KEYS, 'a server');
      // server-template: { prefix: web, count: 3 | "1-3", address: ... } is servers web1..web3
      const template = has(o, 'prefix') || has(o, 'count');
      let slotNames: string[] = [];
      if (template) {
        if (has(o, 'name')) c.error([...p, 'name'], 'a server template has "prefix" and "count", not "name"');
        const prefix = c.str(o, 'prefix', p, { re: NAME_RE, expected: NAME_EXPECTED });
        if (!has(o, 'prefix')) c.error(p, 'missing required key "prefix" (server template)', NAME_EXPECTED, 'nothing');
        const range = templateRange(o.count);
        if (range === null) c.bad([...p, 'count'], 'a count such as 3 or a range such as "1-3" (at most 1000 servers)', o.count);
        if (prefix !== undefined && range !== null) for (let n = range[0]; n <= range[1]; n++) slotNames.push(`${prefix}${n}`);
      } else {
        const name = c.str(o, 'name', p, { re: NAME_RE, expected: NAME_EXPECTED });
        if (!has(o, 'name')) c.error(p, 'missing required key "name"', NAME_EXPECTED, 'nothing');
        if (name !== undefined) slotNames = [name];
      }
      for (const name of slotNames) {
        const prev = names.get(name);
        if (prev !== undefined) c.error([...p, template ? 'prefix' : 'name'], `duplicate server name "${name}" (also servers[${prev}])`);
        else names.set(name, i);
      }
      const name = slotNames.length > 0 ? slotNames[0] : undefined;
      let host: string | undefined;
      let port: number | undefined;
      const addrExpected = '"HOST:PORT" such as "192.168.1.10:80" or "[::1]:8080"';
      if (!has(o, 'address')) {
        c.error(p, 'missing required key "address"', addrExpected, 'nothing');
      } else if (typeof o.address !== 'string') {
        c.bad([...p, 'address'], addrExpected, o.address);
      } else {
        const hp = parseHostPort(o.address.trim(), false);
        if (/^_[^.]+\._/.test(o.address.trim())) {
          // HAProxy's server-template on an SRV name (_service._proto.name) takes ports from the records
          c.error([...p, 'address'], 'SRV records (_service._proto.name) are not supported by gatehouse: name the A/AAAA records with a port, such as "svc.example:8080"', addrExpected, describeValue(o.address));
        } else if (typeof hp === 'string') c.error([...p, 'address'], `invalid server address: ${hp}`, addrExpected, describeValue(o.address));
        else ({ host, port } = hp);
      }
      const checkAddr = c.str(o, 'addr', p, { expected: 'an IP address or host name' });
      if (checkAddr !== undefined && !validHost(checkAddr)) c.bad([...p, 'addr'], 'an IP address or host name', checkAddr);
      const inter = c.duration(o, 'inter', p, 1) ?? null;
      let fastinter = c.duration(o, 'fastinter', p, 1) ?? null;
      let downinter = c.duration(o, 'downinter', p, 1) ?? null;
      // HAProxy: fastinter and downinter default to the server's own inter.
      if (inter !== null && fastinter === null && fastinterFromInter) fastinter = inter;
      if (inter !== null && downinter === null && downinterFromInter) downinter = inter;
      if (name === undefined || host === undefined || port === undefined) {
        // Still read the remaining keys so their errors are reported too.
        this.serverRest(o, p);
        return;
      }
      const rest = this.serverRest(o, p);
      for (const slot of slotNames) {
        out.push({
          name: slot,
          host,
          port,
          address: String(o.address),
          inter,
          fastinter,
          downinter,
          checkAddr: checkAddr !== undefined && validHost(checkAddr) ? checkAddr : null,
          ...rest,
        });
      }
    });
    return out;
  }

  /** agent_check / agent_port / agent_addr / agent_inter / agent_send (HAProxy's agent-*). */
  protected agent(o: Obj, p: Path): { agent?: ServerConfig['agent'] } {
    const c = this.c;
    const on = c.bool(o, 'agent_check', p) ?? false;
    const port = c.int(o, 'agent_port', p, 1, 65535);
    const addr = c.str(o, 'agent_addr', p, { re: /^[A-Za-z0-9_.:-]+$/, expected: 'an IP address or host name' });
    const inter = c.duration(o, 'agent_inter', p, 1);
    const send = c.str(o, 'agent_send', p);
    if (!on) {
      for (const k of ['agent_port', 'agent_addr', 'agent_inter', 'agent_send']) if (has(o, k)) c.warn([...p, k], `"${k}" has no effect without agent_check: true`);
      return {};
    }
    if (port === undefined) {
      c.error([...p, 'agent_check'], 'agent_check needs agent_port', 'agent_port: PORT', 'nothing');
      return {};
    }
    return { agent: { port, addr: addr ?? null, inter: inter ?? 2000, send: send ?? null } };
  }

  protected serverRest(o: Obj, p: Path): Omit<ServerConfig, 'name' | 'host' | 'port' | 'address' | 'inter' | 'fastinter' | 'downinter' | 'checkAddr'> {
    const c = this.c;
    return {
      weight: c.int(o, 'weight', p, 0, 256) ?? 1,
      check: c.bool(o, 'check', p) ?? false,
      backup: c.bool(o, 'backup', p) ?? false,
      maxconn: c.int(o, 'maxconn', p, 0, 10_000_000) ?? 0,
      cookie: c.nullableStr(o, 'cookie', p, { re: /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/, expected: 'a cookie value without spaces, "," or ";"' }) ?? null,
      rise: c.int(o, 'rise', p, 1, 1000) ?? null,
      fall: c.int(o, 'fall', p, 1, 1000) ?? null,
      checkPort: c.int(o, 'port', p, 1, 65535) ?? null,
      observe: c.oneOf(o, 'observe', p, ['none', 'layer4', 'layer7'] as const) ?? 'none',
      errorLimit: c.int(o, 'error_limit', p, 1, 1_000_000) ?? 10,
      onError: c.oneOf(o, 'on_error', p, ['fastinter', 'fail-check', 'sudden-death', 'mark-down'] as const) ?? 'fail-check',
      disabled: c.bool(o, 'disabled', p) ?? false,
      ...((): { slowstart?: number } => {
        const ss = c.duration(o, 'slowstart', p);
        return ss ? { slowstart: ss } : {};
      })(),
      ...this.agent(o, p),
      ...this.resolution(o, p),
      ...serverTls(c, o, p, this.serverTlsDefaults),
    };
  }

  /** resolvers / init_addr / resolve_prefer (DNS discovery, docs/dns.md). */
  protected resolution(o: Obj, p: Path): Pick<ServerConfig, 'resolvers' | 'initAddr' | 'resolvePrefer'> {
    const c = this.c;
    const out: Pick<ServerConfig, 'resolvers' | 'initAddr' | 'resolvePrefer'> = {};
    const r = c.str(o, 'resolvers', p, { re: NAME_RE, expected: 'the name of a resolvers section' });
    if (r !== undefined) {
      if (!this.resolverNames.has(r)) {
        const known = [...this.resolverNames];
        c.error([...p, 'resolvers'], `no resolvers section named "${r}"`, known.length ? `one of ${known.join(', ')}` : 'a resolvers section (none is defined)', `"${r}"`);
      } else out.resolvers = r;
    }
    const init = readInitAddr(c, o, p);
    if (init !== undefined) out.initAddr = init;
    const prefer = c.oneOf(o, 'resolve_prefer', p, ['ipv4', 'ipv6'] as const);
    if (prefer !== undefined) out.resolvePrefer = prefer;
    if (r === undefined) {
      for (const k of ['resolve_prefer'] as const) if (has(o, k)) c.warn([...p, k], `"${k}" has no effect without resolvers`);
      // last,libc,none: gatehouse starts whatever libc says (a name is resolved when connecting);
      // an IP fallback would be used by HAProxy when libc fails, and is not by gatehouse
      if (init !== undefined && init.some((m) => isIP(m) !== 0)) {
        c.warn([...p, 'init_addr'], 'an init_addr IP address is not used without resolvers: the name is resolved by libc when connecting');
      }
    }
    return out;
  }
}
