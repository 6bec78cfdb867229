// Validator: the top-level `resolvers` map (HAProxy's `resolvers` sections), read before the
// proxies so each server's `resolvers` can be checked against the names (docs/dns.md).
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import type { ResolversConfig } from './model';
import type { Checker } from './validate-checker';
import { describeValue } from './errors';
import { type Obj, type Path, NAME_RE, NAME_EXPECTED } from './validate-keys';
import { parseHostPort } from './validate-values';

export const RESOLVERS_KEYS = ['nameservers', 'parse_resolv_conf', 'resolve_retries', 'timeout', 'hold', 'accepted_payload_size'] as const;
export const RESOLVERS_TIMEOUT_KEYS = ['resolve', 'retry'] as const;
export const RESOLVERS_HOLD_KEYS = ['valid', 'nx', 'other', 'refused', 'timeout', 'obsolete'] as const;

/** HAProxy 2.6's defaults (doc: "5.3.2. The resolvers section"). */
export const RESOLVERS_DEFAULTS = {
  resolveRetries: 3,
  timeoutResolve: 1000,
  timeoutRetry: 1000,
  hold: { valid: 10000, nx: 30000, other: 30000, refused: 30000, timeout: 30000, obsolete: 0 },
  acceptedPayloadSize: 512,
};

/** The nameservers of /etc/resolv.conf (parse-resolv-conf), port 53. */
export function resolvConfNameservers(text: string): { name: string; host: string; port: number }[] {
  const out: { name: string; host: string; port: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1]) !== 0) out.push({ name: `resolv.conf:${out.length + 1}`, host: m[1], port: 53 });
  }
  return out;
}

/** Reads `top.resolvers`; returns the sections (empty when none). */
export function buildResolvers(c: Checker, top: Obj, resolvConf = '/etc/resolv.conf'): ResolversConfig[] {
  const doc = top.resolvers;
  if (doc === undefined || doc === null) return [];
  const group = c.map(doc, ['resolvers'], 'a map of resolvers section names to { nameservers, timeout, hold, ... }');
  if (!group) return [];
  const out: ResolversConfig[] = [];
  for (const [name, body] of Object.entries(group)) {
    const p: Path = ['resolvers', name];
    if (!NAME_RE.test(name) || name === '__proto__') c.add('error', p, 'invalid resolvers section name', NAME_EXPECTED, `"${name}"`, true);
    const o = c.map(body, p, 'a resolvers section map');
    if (!o) continue;
    c.keys(o, p, RESOLVERS_KEYS, 'a resolvers section');
    const nameservers: ResolversConfig['nameservers'] = [];
    const ns = o.nameservers;
    if (ns !== undefined && ns !== null) {
      const m = c.map(ns, [...p, 'nameservers'], 'a map of nameserver names to "IP:PORT"');
      for (const [nsName, addr] of Object.entries(m ?? {})) {
        const np: Path = [...p, 'nameservers', nsName];
        if (!NAME_RE.test(nsName)) c.add('error', np, 'invalid nameserver name', NAME_EXPECTED, `"${nsName}"`, true);
        const expected = '"IP:PORT" such as "10.0.0.2:53"';
        if (typeof addr !== 'string') {
          c.bad(np, expected, addr);
          continue;
        }
        const hp = parseHostPort(addr.replace(/^udp@/, '').trim(), false);
        if (typeof hp === 'string') c.error(np, `invalid nameserver address: ${hp}`, expected, describeValue(addr));
        else if (isIP(hp.host) === 0) c.error(np, 'a nameserver address must be an IP address (it cannot be resolved itself)', expected, describeValue(addr));
        else nameservers.push({ name: nsName, host: hp.host, port: hp.port });
      }
    }
    const parseResolvConf = c.bool(o, 'parse_resolv_conf', p) ?? false;
    if (parseResolvConf) {
      try {
        nameservers.push(...resolvConfNameservers(fs.readFileSync(resolvConf, 'utf8')));
      } catch (e) {
        c.warn([...p, 'parse_resolv_conf'], `cannot read ${resolvConf}: ${(e as Error).message}`);
      }
    }
    const written = ns !== null && typeof ns === 'object' && Object.keys(ns).length > 0;
    if (nameservers.length === 0 && !written) {
      c.error(p, `resolvers section "${name}" has no nameserver`, 'nameservers: { NAME: "IP:PORT" } or parse_resolv_conf: true', 'none');
    }
    const d = RESOLVERS_DEFAULTS;
    const t = c.map(o.timeout, [...p, 'timeout'], 'a map { resolve, retry }') ?? {};
    c.keys(t, [...p, 'timeout'], RESOLVERS_TIMEOUT_KEYS, 'a resolvers timeout map');
    const h = c.map(o.hold, [...p, 'hold'], 'a map { valid, nx, other, refused, timeout, obsolete }') ?? {};
    c.keys(h, [...p, 'hold'], RESOLVERS_HOLD_KEYS, 'a resolvers hold map');
    const hold = { ...d.hold };
    for (const k of RESOLVERS_HOLD_KEYS) hold[k] = c.duration(h, k, [...p, 'hold']) ?? d.hold[k];
    out.push({
      name,
      nameservers,
      parseResolvConf,
      resolveRetries: c.int(o, 'resolve_retries', p, 1, 1000) ?? d.resolveRetries,
      timeoutResolve: c.duration(t, 'resolve', [...p, 'timeout'], 1) ?? d.timeoutResolve,
      timeoutRetry: c.duration(t, 'retry', [...p, 'timeout'], 1) ?? d.timeoutRetry,
      hold,
      // HAProxy: 512 to 65535 (a DNS message over UDP)
      acceptedPayloadSize: c.int(o, 'accepted_payload_size', p, 512, 65535) ?? d.acceptedPayloadSize,
    });
  }
  return out;
}

/** `init_addr`: "last,libc,none" or a list of those and IP addresses. */
export function readInitAddr(c: Checker, o: Obj, p: Path): string[] | undefined {
  if (!Object.prototype.hasOwnProperty.call(o, 'init_addr')) return undefined;
  const v = o.init_addr;
  const expected = 'methods among last, libc, none and IP addresses, such as "last,libc,none"';
  const list = typeof v === 'string' ? v.split(',').map((x) => x.trim()) : Array.isArray(v) ? v : null;
  if (list === null || list.length === 0) return c.bad([...p, 'init_addr'], expected, v);
  const out: string[] = [];
  for (const m of list) {
    if (typeof m !== 'string' || !(m === 'last' || m === 'libc' || m === 'none' || isIP(m) !== 0)) return c.bad([...p, 'init_addr'], expected, v, `invalid init-addr method "${String(m)}"`);
    out.push(m);
  }
  return out;
}
