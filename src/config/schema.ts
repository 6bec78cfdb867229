// JSON Schema (draft 2020-12) of the YAML configuration, for editors that complete and check
// gatehouse.yaml (YAML language servers read JSON Schema). It is built from the validator's own
// key lists (validate-keys.ts, validate-rules.ts): every key the validator accepts must have a type
// here, or building the schema throws, so the two cannot drift apart (test/config-schema.test.ts
// also checks the committed docs/gatehouse.schema.json and every key of docs/configuration.md).
// The validator stays the authority on values (ranges, files, cross-references); the schema
// gives the shape, the types and a one-line description per key.
import { RESOLVERS_HOLD_KEYS, RESOLVERS_KEYS, RESOLVERS_TIMEOUT_KEYS } from './resolvers';
import {
  BACKEND_KEYS, BIND_KEYS, COMMON_KEYS, COOKIE_KEYS, FORWARDFOR_KEYS, FRONTEND_KEYS, GLOBAL_KEYS, HEALTH_KEYS, LISTEN_KEYS,
  LOG_KEYS, SERVER_KEYS, STATS_KEYS, STATS_SOCKET_KEYS, TIMEOUT_KEYS, TOP_KEYS,
} from './validate';
import { ERROR_FILE_CODES } from './error-files';

type Schema = Record<string, unknown>;

const duration: Schema = {
  description: 'a duration: 500ms, 5s, 2m, 1h, 1d, or a number of milliseconds',
  anyOf: [{ type: 'string', pattern: '^[0-9]+(us|ms|s|m|h|d)?$' }, { type: 'integer', minimum: 0 }],
};
const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const int = (description: string, minimum?: number, maximum?: number): Schema => ({ type: 'integer', description, ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}) });
const bool = (description: string): Schema => ({ type: 'boolean', description });
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }], description: s.description });
const oneOrMany = (item: Schema, description: string): Schema => ({ description, anyOf: [item, { type: 'array', items: item }] });
const ruleText = (description: string): Schema => oneOrMany({ type: 'string' }, description);

/** An object schema with exactly `keys`, each typed by `types` (throws on a key without a type). */
function object(where: string, keys: readonly string[], types: Record<string, Schema>, required: string[] = [], description?: string): Schema {
  const properties: Record<string, Schema> = {};
  for (const k of keys) {
    const t = types[k];
    if (t === undefined) throw new Error(`schema: key "${k}" of ${where} has no type in src/config/schema.ts`);
    properties[k] = t;
  }
  return { type: 'object', ...(description ? { description } : {}), properties, additionalProperties: false, ...(required.length ? { required } : {}) };
}

const logTarget = object('a log target', LOG_KEYS, {
  target: str('stdout, stderr, file:PATH, unix:PATH or udp://HOST[:PORT] (HAProxy spellings accepted)'),
  facility: str('syslog facility, kern ... local7', { default: 'local0' }),
  level: str('highest syslog level sent', { enum: ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] }),
  format: str('syslog line format', { enum: ['rfc3164', 'rfc5424', 'raw'] }),
}, ['target']);
const logs: Schema = { description: 'global, or a list of log targets ([] = no logging)', anyOf: [{ const: 'global' }, { type: 'array', items: logTarget }] };

const statsSocket = object('a stats socket', STATS_SOCKET_KEYS, {
  path: str('unix socket path of the runtime API'),
  mode: str('octal permissions such as 660'),
  level: str('user, operator or admin', { enum: ['user', 'operator', 'admin'] }),
}, ['path']);

const globalSchema = object('global', GLOBAL_KEYS, {
  workers: { description: 'worker threads; auto = CPU count (nbthread)', anyOf: [{ type: 'integer', minimum: 1, maximum: 1024 }, { const: 'auto' }] },
  daemon: bool('run in the background (-D)'),
  pidfile: nullable(str('write the pid here')),
  maxconn: int('requests in progress, all workers', 1),
  log: { type: 'array', items: logTarget, description: 'log targets' },
  max_header_size: int('largest request head in bytes (tune.bufsize)', 1024, 16777216),
  max_headers: int('most request header fields (tune.http.maxhdr)', 1),
  max_accept: int('connections a worker accepts per bind and wake-up, node engine and mode tcp (tune.maxaccept; -1: no limit)', -1, 1000000),
  max_uri: int('longest request URI in bytes', 1),
  grace: duration,
  ssl_default_bind_ciphers: str('TLSv1.2 cipher list of ssl binds without their own'),
  ssl_server_verify: str('verify of ssl servers without their own', { enum: ['none', 'required'] }),
  ssl_default_server_ciphers: str('cipher list of ssl servers without their own'),
  ssl_default_server_options: str('ssl-min-ver V, ssl-max-ver V, no-sslv3, no-tlsv10, no-tlsv11, no-ssl-reuse, no-tls-tickets'),
  ssl_default_bind_ciphersuites: str('TLSv1.3 suites of ssl binds without their own (node engine)'),
  ssl_default_bind_options: str('options of every ssl bind: ssl-min-ver V, ssl-max-ver V, no-sslv3, no-tlsv10..13, force-tlsv12/13, no-tls-tickets'),
  stats_socket: { description: 'runtime API unix socket(s)', anyOf: [{ type: 'string' }, statsSocket, { type: 'array', items: { anyOf: [{ type: 'string' }, statsSocket] } }] },
  stats_timeout: duration,
  localpeer: str('this process\'s name in peers sections (default: the host name)'),
  engine: str('front engine of binds that name none: uws (uWebSockets.js) or node (gatehouse\'s own on node:net)', { enum: ['uws', 'node'] }),
  h2_max_concurrent_streams: int('HTTP/2 streams a client may open at once per connection (tune.h2.max-concurrent-streams)', 1, 4294967295),
  h2_initial_window_size: int('HTTP/2 receive window of each stream, bytes (tune.h2.initial-window-size)', 0, 2147483647),
  h2_header_table_size: int('HTTP/2 HPACK dynamic table size, bytes (tune.h2.header-table-size)', 0, 65536),
}, [], 'process-wide settings');

const timeoutTypes: Record<string, Schema> = {};
for (const k of Object.keys(TIMEOUT_KEYS)) timeoutTypes[k] = duration;
const timeoutSchema = object('timeout', Object.keys(TIMEOUT_KEYS), timeoutTypes, [], 'timeouts (timeout connect/client/server/...)');

const headersSchema: Schema = {
  description: 'check request headers: { Name: value } or a list of { name, value }',
  anyOf: [{ type: 'object', additionalProperties: { type: 'string' } }, { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } }, required: ['name', 'value'], additionalProperties: false } }],
};
const expectStatus: Schema = { description: '200, "200-399", "200,204" or a list of these', anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'array', items: { anyOf: [{ type: 'integer' }, { type: 'string' }] } }] };

const healthSchema = object('health_check', HEALTH_KEYS, {
  type: str('tcp or http', { enum: ['tcp', 'http'] }),
  method: str('HTTP method of the check'),
  uri: str('path of the check, starting with /'),
  version: str('HTTP/1.0 or HTTP/1.1'),
  host: nullable(str('Host header of the check')),
  headers: headersSchema,
  expect_status: expectStatus,
  expect_string: nullable(str('text the answer must contain')),
  inter: duration,
  fastinter: duration,
  downinter: duration,
  rise: int('successes to go up', 1, 1000),
  fall: int('failures to go down', 1, 1000),
}, [], 'health check (option httpchk, http-check, inter/rise/fall)');

const cookieObject = object('cookie', COOKIE_KEYS, {
  name: str('cookie name'),
  mode: str('insert, rewrite or prefix', { enum: ['insert', 'rewrite', 'prefix'] }),
  indirect: bool('remove the cookie before the server sees it'),
  nocache: bool('mark responses that set it uncacheable'),
  postonly: bool('insert only on POST answers'),
  preserve: bool('keep a cookie the server sets'),
  httponly: bool('HttpOnly attribute'),
  secure: bool('Secure attribute'),
  domain: nullable(str('Domain attribute')),
  maxidle: duration,
  maxlife: duration,
}, ['name']);
const cookieSchema: Schema = { description: 'persistence cookie: a map, a cookie name, or false', anyOf: [cookieObject, { type: 'string' }, { const: false }, { type: 'null' }] };

const forwardforSchema: Schema = {
  description: 'append X-Forwarded-For: true, or { except, header, if_none }',
  anyOf: [{ type: 'boolean' }, object('forwardfor', FORWARDFOR_KEYS, { except: str('network whose clients get no header'), header: str('header name instead of X-Forwarded-For'), if_none: bool('only when the request has none') })],
};

const errorPage: Schema = {
  description: '{ file: PATH } (errorfile) or { location: URL, code: 302|303 } (errorloc)',
  anyOf: [
    { type: 'object', properties: { file: { type: 'string' } }, required: ['file'], additionalProperties: false },
    { type: 'object', properties: { location: { type: 'string' }, code: { enum: [302, 303] } }, required: ['location'], additionalProperties: false },
  ],
};
const errorPages: Schema = {
  type: 'object',
  description: 'custom error pages by status (errorfile, errorloc, errorfiles)',
  propertyNames: { enum: ERROR_FILE_CODES.map(String) },
  additionalProperties: errorPage,
};

const bindObject = object('bind', BIND_KEYS, {
  address: str('ADDR:PORT; * and :: allowed'),
  ssl: bool('terminate TLS'),
  crt: oneOrMany({ type: 'string' }, 'PEM file(s) or directory: certificate, chain and key'),
  ssl_min_ver: str('lowest TLS version', { enum: ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] }),
  ciphers: str('TLSv1.2 cipher list'),
  engine: str('front engine of this address: uws or node (an ssl bind that asks for what uWS lacks, and an accept_proxy bind, run on node)', { enum: ['uws', 'node'] }),
  accept_proxy: bool('a PROXY protocol v1/v2 header precedes each connection, before the TLS handshake on an ssl bind (runs on the node engine)'),
  crt_list: str('crt-list file: lines "cert.pem [sni filters]" (node engine)'),
  ssl_max_ver: str('highest TLS version (node engine below TLSv1.3)', { enum: ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] }),
  ciphersuites: str('TLSv1.3 cipher suites (node engine)'),
  curves: str('ECDHE groups, such as X25519:P-256 (node engine)'),
  strict_sni: bool('refuse handshakes without an SNI name a certificate serves (node engine)'),
  alpn: oneOrMany({ type: 'string' }, 'ALPN protocols, "h2,http/1.1" or a list (h2: node engine)'),
  verify: str('client certificates: none, optional or required (node engine)', { enum: ['none', 'optional', 'required'] }),
  ca_file: str('CA certificates client certificates must chain to'),
  crl_file: str('certificate revocation list for client certificates'),
  no_tls_tickets: bool('no TLS session tickets (node engine)'),
  prefer_client_ciphers: bool("the client's cipher order wins (node engine)"),
  proto: str('h2: clients speak HTTP/2 with prior knowledge (h2c; node engine)', { enum: ['h2'] }),
}, ['address']);
const bindSchema: Schema = oneOrMany({ anyOf: [{ type: 'string' }, bindObject] }, 'listening addresses');

const statsObject = object('stats', STATS_KEYS, {
  enable: bool('serve the stats page'),
  uri: str('path of the stats page'),
  auth: oneOrMany({ type: 'string' }, '"USER:PASSWORD"'),
  realm: str('basic auth realm'),
  refresh: duration,
  hide_version: bool('hide the version on the page'),
  admin: bool('allow the admin actions (needs auth)'),
  prometheus: { description: 'Prometheus exposition path, true (= /metrics) or false', anyOf: [{ type: 'string' }, { type: 'boolean' }, { type: 'null' }] },
});
const statsSchema: Schema = { description: 'stats page: a map or true', anyOf: [statsObject, { type: 'boolean' }] };

const serverSchema = object('a server', SERVER_KEYS, {
  name: str('server name, unique in its backend'),
  address: str('HOST:PORT'),
  check: bool('health-check this server'),
  cookie: str('persistence cookie value'),
  weight: int('share of the traffic, 0 = none', 0, 256),
  backup: bool('used only when no active server is up'),
  maxconn: int('requests in progress on this server, 0 = unlimited', 0),
  inter: duration,
  fastinter: duration,
  downinter: duration,
  rise: int('successes to go up', 1, 1000),
  fall: int('failures to go down', 1, 1000),
  port: int('health-check port', 1, 65535),
  addr: str('health-check address'),
  observe: str('passive health checking', { enum: ['none', 'layer4', 'layer7'] }),
  error_limit: int('errors before on_error acts', 1),
  on_error: str('what observed errors do', { enum: ['fastinter', 'fail-check', 'sudden-death', 'mark-down'] }),
  disabled: bool('start in maintenance'),
  slowstart: duration,
  agent_check: bool('poll an agent that sets weight and state (agent-check)'),
  agent_port: int('agent port', 1, 65535),
  agent_addr: str('agent address (default: the check address, else the server)'),
  agent_inter: duration,
  agent_send: str('text sent to the agent on connect'),
  send_proxy_v2: bool('send a PROXY protocol v2 header first (same as send_proxy: v2)'),
  prefix: str('server-template: servers PREFIX1..PREFIXN (with count, instead of name)'),
  count: { description: 'server-template: how many servers (3) or a range ("2-4")', anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^(\\d+-)?\\d+$' }] },
  resolvers: str('resolvers section that resolves the address\'s name at run time (docs/dns.md)'),
  init_addr: oneOrMany({ type: 'string' }, 'start-up address methods in order: last, libc, none or an IP ("last,libc,none")'),
  resolve_prefer: str('address family asked first (default ipv6)', { enum: ['ipv4', 'ipv6'] }),
  ssl: bool('TLS to this server (server ... ssl)'),
  verify: str('check the server certificate (default: global ssl_server_verify, else required)', { enum: ['none', 'required'] }),
  ca_file: str('PEM file of the CAs the server certificate is checked against'),
  crt: str('PEM file with the client certificate and its key, sent to the server'),
  sni: str('SNI sent: str(NAME), req.hdr(NAME) or hdr(NAME)'),
  ssl_min_ver: str('lowest TLS version', { enum: ['TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] }),
  ssl_max_ver: str('highest TLS version', { enum: ['TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] }),
  ciphers: str('OpenSSL cipher list (TLSv1.2 and below)'),
  alpn: str('ALPN offered: http/1.1 only'),
  ssl_reuse: bool('resume TLS sessions (default true; no-ssl-reuse)'),
  verifyhost: { description: 'name the certificate must carry (default: the SNI), or false (no-verifyhost)', anyOf: [{ type: 'string' }, { type: 'boolean' }] },
  send_proxy: { description: 'PROXY protocol header on each new connection: v1 (send-proxy), v2 (send-proxy-v2) or false', anyOf: [{ type: 'string', enum: ['v1', 'v2'] }, { type: 'boolean' }] },
  check_ssl: bool('health checks over TLS (default: when ssl and no port/addr)'),
  check_sni: str('SNI of TLS health checks'),
  check_send_proxy: bool('health checks send a PROXY header'),
}, ['address']);

const resolversSchema = object('a resolvers section', RESOLVERS_KEYS, {
  nameservers: { type: 'object', description: 'nameserver name -> "IP:PORT"', additionalProperties: { type: 'string' } },
  parse_resolv_conf: bool('add the nameservers of /etc/resolv.conf'),
  resolve_retries: int('queries sent before a resolution times out', 1, 1000),
  timeout: object('resolvers timeouts', RESOLVERS_TIMEOUT_KEYS, { resolve: duration, retry: duration }),
  hold: object('resolvers holds', RESOLVERS_HOLD_KEYS, { valid: duration, nx: duration, other: duration, refused: duration, timeout: duration, obsolete: duration }),
  accepted_payload_size: int('EDNS0 UDP payload size announced', 512, 65535),
});

const PROXY_TYPES: Record<string, Schema> = {
  mode: str('http or tcp (layer 4: docs/tcp.md)', { enum: ['http', 'tcp'] }),
  tcplog: bool('option tcplog: HAProxy tcplog lines for tcp proxies'),
  tcp_check: { type: 'object', description: 'tcp-check sequence or protocol check of a tcp backend (docs/tcp.md, configuration.md)' },
  tcp_request: {
    description: 'tcp-request rules of a tcp frontend, the words after tcp-request: "inspect-delay 5s", "connection reject if { src 10.0.0.0/8 }", "content track-sc0 src" (docs/tcp.md)',
    anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
  },
  stick_table: { type: 'string', description: 'stick-table of this proxy, as in haproxy.cfg: "type ip size 1m expire 10s store http_req_rate(10s)" (docs/stick-tables.md)' },
  stick: { type: 'array', description: 'stick on|match|store-request rules (docs/stick-tables.md)', items: { anyOf: [{ type: 'string' }, { type: 'object' }] } },
  timeout: timeoutSchema,
  retries: int('connection retries', 0, 100),
  retry_on: str('when a request is sent again (HAProxy retry-on): conn-failure (default), empty-response, junk-response, response-timeout, 0rtt-rejected, 404, 408, 425, 500, 501, 502, 503, 504, all-retryable-errors, none; space-separated'),
  redispatch: bool('retry on another server (option redispatch)'),
  forwardfor: forwardforSchema,
  httplog: bool('HAProxy httplog access lines'),
  log: logs,
  log_format: str('access line layout: httplog, json, or a HAProxy log-format string such as "%ci [%tr] %ft %b/%s %ST %B %{+Q}r"'),
  dontlognull: bool('do not log connections that sent nothing'),
  maxconn: int('requests in progress on this frontend', 1),
  balance: str('roundrobin, static-rr, leastconn, source, first, random, uri or hdr(NAME)', { pattern: '^(roundrobin|static-rr|leastconn|source|first|random|uri|hdr\\([^()\\s]+\\))$' }),
  hash_type: str('map-based|consistent [sdbm|djb2|wt6|crc32] [avalanche]: HAProxy\'s own hash balancing', { pattern: '^(map-based|consistent)( (sdbm|djb2|wt6|crc32))?( avalanche)?$' }),
  health_check: healthSchema,
  persist: bool('option persist'),
  allbackups: bool('use every backup server at once'),
  cookie: cookieSchema,
  default_backend: str('backend for requests no use_backend rule takes'),
  error_pages: errorPages,
  bind: bindSchema,
  stats: statsSchema,
  servers: { type: 'array', items: serverSchema, description: 'servers' },
  acls: { type: 'object', description: 'named ACLs: name -> criterion (or a list, ORed)', additionalProperties: oneOrMany({ type: 'string' }, 'criterion such as "path_beg /api"') },
  use_backend: oneOrMany({ anyOf: [{ type: 'string' }, { type: 'object', properties: { backend: { type: 'string' }, if: { type: 'string' }, unless: { type: 'string' } }, required: ['backend'], additionalProperties: false }] }, 'backend switching rules'),
  http_request: ruleText('http-request rules, in haproxy.cfg syntax'),
  http_response: ruleText('http-response rules, in haproxy.cfg syntax'),
  redirect: ruleText('redirect rules, in haproxy.cfg syntax'),
};

/** Proxy keys point at one shared definition each (defaults, frontends, backends, listen). */
const PROXY_REFS: Record<string, Schema> = Object.fromEntries(Object.keys(PROXY_TYPES).map((k) => [k, { $ref: `#/$defs/${k}` }]));

/** The whole schema. */
export function configSchema(): Schema {
  const named = (s: Schema, what: string): Schema => ({ type: 'object', description: what, additionalProperties: s, propertyNames: { pattern: '^[A-Za-z0-9_.:-]+$' } });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://gatehouse.invalid/gatehouse.schema.json',
    title: 'gatehouse configuration (YAML)',
    description: 'Keys follow HAProxy\'s words in snake_case; see docs/configuration.md',
    type: 'object',
    properties: Object.fromEntries(
      TOP_KEYS.map((k) => [
        k,
        k === 'global'
          ? globalSchema
          : k === 'defaults'
            ? object('defaults', COMMON_KEYS, PROXY_REFS, [], 'values inherited by every frontend, backend and listen')
            : k === 'frontends'
              ? named(object('a frontend', FRONTEND_KEYS, PROXY_REFS), 'listeners, by name')
              : k === 'backends'
                ? named(object('a backend', BACKEND_KEYS, PROXY_REFS), 'server pools, by name')
                : k === 'peers'
                  ? named({ type: 'object', description: 'a peers section: peers and tables (docs/stick-tables.md)' }, 'peers sections, by name')
                  : k === 'resolvers'
                    ? named(resolversSchema, 'resolvers sections (DNS discovery, docs/dns.md), by name')
                  : named(object('a listen section', LISTEN_KEYS, PROXY_REFS), 'frontend and backend in one, by name'),
      ]),
    ),
    additionalProperties: false,
    $defs: PROXY_TYPES,
  };
}

/** Every property name anywhere in the schema (the docs test checks documented keys against it). */
export function schemaKeys(s: unknown = configSchema(), out = new Set<string>()): Set<string> {
  if (Array.isArray(s)) for (const x of s) schemaKeys(x, out);
  else if (s !== null && typeof s === 'object') {
    const o = s as Record<string, unknown>;
    if (o.properties && typeof o.properties === 'object') for (const k of Object.keys(o.properties)) out.add(k);
    for (const v of Object.values(o)) schemaKeys(v, out);
  }
  return out;
}
