// Validator: backend servers and their agent checks; last link of the Builder chain
// (validate-global.ts <- validate-proxy.ts <- validate-binds.ts <- Builder here).
import { type ServerConfig } from './model';
import { describeValue } from './errors';
import { Path, Obj, SERVER_KEYS, NAME_RE, NAME_EXPECTED } from './validate-keys';
import { has } from './validate-checker';
import { validHost, parseHostPort } from './validate-values';
import { BuilderBinds } from './validate-binds';
import { serverTls } from './validate-server-tls';

export class Builder extends BuilderBinds {
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
      const name = c.str(o, 'name', p, { re: NAME_RE, expected: NAME_EXPECTED });
      if (!has(o, 'name')) c.error(p, 'missing required key "name"', NAME_EXPECTED, 'nothing');
      if (name !== undefined) {
        const prev = names.get(name);
        if (prev !== undefined) c.error([...p, 'name'], `duplicate server name "${name}" (also servers[${prev}])`);
        else names.set(name, i);
      }
      let host: string | undefined;
      let port: number | undefined;
      const addrExpected = '"HOST:PORT" such as "192.168.1.10:80" or "[::1]:8080"';
      if (!has(o, 'address')) {
        c.error(p, 'missing required key "address"', addrExpected, 'nothing');
      } else if (typeof o.address !== 'string') {
        c.bad([...p, 'address'], addrExpected, o.address);
      } else {
        const hp = parseHostPort(o.address.trim(), false);
        if (typeof hp === 'string') c.error([...p, 'address'], `invalid server address: ${hp}`, addrExpected, describeValue(o.address));
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
      out.push({
        name,
        host,
        port,
        address: String(o.address),
        inter,
        fastinter,
        downinter,
        checkAddr: checkAddr !== undefined && validHost(checkAddr) ? checkAddr : null,
        ...this.serverRest(o, p),
      });
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
      ...serverTls(c, o, p, this.serverTlsDefaults),
    };
  }
}
