// Config builders shared by the tests: YAML / haproxy.cfg texts for end-to-end runs, and the
// project's own reader + validator for in-process tests that need a real Config model.
import type { Config } from '../../src/config/model';
import { parseHaproxyCfg } from '../../src/config/haproxy-cfg';
import { parseYaml } from '../../src/config/yaml';
import { buildModel } from '../../src/config/validate';

/** A haproxy.cfg text through the real reader and validator (throws ConfigError when invalid). */
export function cfgModel(text: string, file = 't.cfg'): Config {
  const r = parseHaproxyCfg([{ file, text }], {});
  return buildModel(r.doc, r.src).config;
}

/** A YAML text through the real reader and validator (throws ConfigError when invalid). */
export function yamlModel(text: string, file = 't.yaml'): Config {
  const r = parseYaml(text, file);
  return buildModel(r.doc, r.src).config;
}

/**
 * A config with frontend `fe` on `port` sending to backend `be` of `servers` (`keys`: more of a
 * server's settings, e.g. "check: true"). `defaults` and `backend` are extra lines, indented, for
 * those sections. Defaults: one worker, short timeouts, one retry.
 */
export function backendYaml(o: {
  port: number;
  servers: { name: string; port: number; keys?: string }[];
  workers?: number;
  timeout?: string;
  retries?: number;
  defaults?: string;
  backend?: string;
}): string {
  const servers = o.servers.map((s) => `      - { name: ${s.name}, address: "127.0.0.1:${s.port}"${s.keys ? ', ' + s.keys : ''} }`);
  return `global:
  workers: ${o.workers ?? 1}
defaults:
  timeout: { ${o.timeout ?? 'connect: 1s, client: 5s, server: 2s'} }
  retries: ${o.retries ?? 1}
${o.defaults ?? ''}frontends:
  fe:
    bind: ["127.0.0.1:${o.port}"]
    default_backend: be
backends:
  be:
${o.backend ?? ''}    servers:
${servers.join('\n')}
`;
}

/** The smallest useful config: one worker, one frontend on `port`, one server, short timeouts. */
export function oneServerYaml(port: number, serverName: string, serverPort: number): string {
  return backendYaml({ port, servers: [{ name: serverName, port: serverPort }] });
}

/**
 * The end-to-end proxy tests' config: frontend `fe` on `port`, backend `be` balancing over
 * `servers` with weights; two workers, 3 retries with redispatch, forwardfor on.
 */
export function proxyYaml(opts: {
  port: number;
  servers: { name: string; port: number; weight?: number }[];
  balance?: string;
  workers?: number;
  extraDefaults?: string;
  extraBackend?: string;
}): string {
  return `global:
  workers: ${opts.workers ?? 2}
defaults:
  timeout: { connect: 1s, client: 10s, server: 5s }
  retries: 3
  redispatch: true
  forwardfor: true
${opts.extraDefaults ?? ''}
frontends:
  fe:
    bind: ["127.0.0.1:${opts.port}"]
    default_backend: be
backends:
  be:
    balance: ${opts.balance ?? 'roundrobin'}
${opts.extraBackend ?? ''}
    servers:
${opts.servers.map((s) => `      - { name: ${s.name}, address: "127.0.0.1:${s.port}", weight: ${s.weight ?? 1} }`).join('\n')}
`;
}

/** A stats listener on `port` (appended to a YAML config that has no `listen:` section). */
export function statsListen(port: number, uri = '/stats'): string {
  return `listen:\n  stats:\n    bind: ["127.0.0.1:${port}"]\n    stats: { enable: true, uri: ${uri} }\n`;
}
