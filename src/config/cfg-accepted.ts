// HAProxy 2.6 keywords that real configurations use (see test/corpus/haproxy-cfg/) and that
// gatehouse accepts without acting on them, each with the reason shown in the warning. A keyword
// belongs here only when ignoring it leaves traffic correct: it tunes what gatehouse does not have
// (sockets, SSL to servers, process layout), or it only shapes logs or stats, or gatehouse already
// behaves that way. An empty reason means "accepted silently" (gatehouse does exactly that).
// Keywords that would change which server answers or what the client receives are not here:
// they are implemented or refused.

export type AcceptedKind = 'section' | 'global' | 'proxy' | 'option' | 'timeout' | 'server' | 'bind';

const TLS_DEFAULTS = 'gatehouse terminates TLS with the defaults of uWebSockets.js (TLSv1.2 and later, no SSLv3/TLSv1.0/1.1)';
const NODE_MIN_TLS = 'TLS to servers needs TLSv1.2 or later already (Node\'s minimum) unless ssl-min-ver lowers it';
const STICK = 'stick tables and peers are not implemented in this build: the section is read and ignored';

const TABLE: Record<AcceptedKind, Record<string, string>> = {
  section: {
    peers: STICK,
    cache: 'gatehouse does not cache responses: every request goes to a server',
    mailers: 'gatehouse sends no e-mail alerts',
    ring: 'gatehouse has no ring buffers: log to stdout, syslog or a file',
    userlist: 'user lists are only read by http_auth ACLs, which gatehouse refuses where they are used',
  },
  global: {
    'unix-bind': 'gatehouse listens on TCP addresses only',
    'max-spread-checks': 'health checks are spread over their interval already',
    localpeer: STICK,
    'default-path': 'every relative path is relative to the working directory',
    'server-state-file': 'server states carry over reloads in the process itself (no state file)',
    'server-state-base': 'server states carry over reloads in the process itself (no state file)',
    'tune.ssl.cachesize': TLS_DEFAULTS,
    'tune.ssl.lifetime': TLS_DEFAULTS,
    'tune.idletimer': 'a socket tuning gatehouse does not do',
    'tune.rcvbuf.client': 'a socket tuning gatehouse does not do',
    'tune.rcvbuf.server': 'a socket tuning gatehouse does not do',
    'tune.sndbuf.client': 'a socket tuning gatehouse does not do',
    'tune.sndbuf.server': 'a socket tuning gatehouse does not do',
    'tune.maxrewrite': 'header rewrites are not limited by a buffer reserve',
    'ssl-mode-async': TLS_DEFAULTS,
    'log-tag': 'syslog lines are tagged "gatehouse"',
    maxconnrate: 'connection rates are not limited',
    maxsessrate: 'session rates are not limited',
    maxsslrate: 'TLS handshake rates are not limited',
    maxsslconn: 'TLS connections are limited by maxconn only',
    'cpu-map': 'worker threads are placed by the OS',
  },
  proxy: {
    fullconn: 'fullconn only scales dynamic server limits (minconn), which gatehouse does not have',
    'load-server-state-from-file': 'server states carry over reloads in the process itself (no state file)',
    'server-state-file-name': 'server states carry over reloads in the process itself (no state file)',
    'log-tag': 'syslog lines are tagged "gatehouse"',
    'unique-id-header': 'gatehouse adds no unique-id header',
    'unique-id-format': 'gatehouse generates no unique request ids',
    backlog: 'the listen backlog follows maxconn',
    'email-alert': 'gatehouse sends no e-mail alerts',
    'external-check': 'external check scripts are not run',
    'http-send-name-header': '',
    'log-format-sd': 'access lines keep the httplog (or JSON) layout',
    declare: 'captures are not shown in access lines',
  },
  option: {
    tcplog: 'in an HTTP proxy the access line is the httplog one',
    logasap: 'the access line is written when the response ends',
    'log-separate-errors': 'errors are logged at the same level as other requests',
    'dontlog-normal': 'every request is logged',
    'http-buffer-request': 'the request body streams to the server as it arrives',
    abortonclose: 'a request whose client left is still completed (HAProxy\'s default)',
    'http-use-proxy-header': 'Proxy-Connection is treated as a hop-by-hop header anyway',
    'http-ignore-probes': 'uWebSockets.js closes connections that send nothing, without a 408',
    'prefer-last-server': 'each request is balanced on its own (a kept-alive server connection is reused when the balancer picks the same server)',
    'accept-invalid-http-request': 'gatehouse keeps its strict request parsing',
    'accept-invalid-http-response': 'gatehouse keeps its strict response parsing',
    'http-pretend-keepalive': 'gatehouse keeps server connections alive anyway',
    'checkcache': 'cacheable responses with cookies are not checked',
    nolinger: 'a socket tuning gatehouse does not do',
    'independent-streams': '',
    'disable-h2-upgrade': 'gatehouse speaks HTTP/1.1 to clients',
    'h1-case-adjust-bogus-client': 'header names are sent lower-case',
    'h1-case-adjust-bogus-server': 'header names are sent lower-case',
  },
  timeout: {
    'client-fin': 'half-closed client connections are closed by uWebSockets.js',
    'server-fin': 'half-closed server connections are closed at once',
    tarpit: 'gatehouse has no tarpit',
  },
  server: {
    'resolve-opts': 'allow-dup-ip and prevent-dup-ip are not read: two servers of a backend never share a resolved address',
    'resolve-net': 'the preferred networks are not read: the first usable record of the preferred family is taken',
    'no-sslv3': NODE_MIN_TLS,
    'no-tlsv10': NODE_MIN_TLS,
    'no-tlsv11': NODE_MIN_TLS,
    'pool-purge-delay': 'idle server connections are kept until the server closes them',
    'pool-max-conn': 'idle server connections are bounded by maxconn',
    'pool-low-conn': 'idle server connections are bounded by maxconn',
    'max-reuse': 'a server connection is reused as long as it stays clean',
    'tfo': 'a socket tuning gatehouse does not do',
    'on-marked-up': 'nothing happens to sessions when a server comes back (HAProxy\'s default)',
    'error-limit': '',
    minconn: 'the server\'s maxconn applies at all loads (no dynamic limit between minconn and maxconn)',
    'on-marked-down': 'requests in progress on a server marked down are left to finish (HAProxy\'s default; shutdown-sessions is not done)',
    'log-proto': '',
    id: 'servers are numbered in order',
  },
  bind: {
    v4v6: 'a "::" bind accepts IPv4 and IPv6 already',
    v6only: 'a "::" bind accepts IPv4 clients too in gatehouse (uWebSockets.js binds dual-stack)',
    'no-sslv3': TLS_DEFAULTS,
    'no-tlsv10': TLS_DEFAULTS,
    'no-tlsv11': TLS_DEFAULTS,
    'no-tls-tickets': 'session tickets follow the defaults of uWebSockets.js',
    'prefer-client-ciphers': TLS_DEFAULTS,
    'force-tlsv12': TLS_DEFAULTS,
    'ssl-max-ver': TLS_DEFAULTS,
    ciphersuites: 'uWebSockets.js cannot set TLSv1.3 cipher suites',
    curves: TLS_DEFAULTS,
    ecdhe: TLS_DEFAULTS,
    tfo: 'a socket tuning gatehouse does not do',
    'defer-accept': 'a socket tuning gatehouse does not do',
    backlog: 'the listen backlog follows maxconn',
    maxconn: 'maxconn applies per frontend',
    process: 'gatehouse runs one process',
    thread: 'every worker thread listens on every bind',
    interface: 'the bind address decides the interface',
    id: '',
    nice: '',
  },
};

/**
 * The warning for an accepted-and-ignored keyword of `kind` ('' to accept silently), or
 * undefined when the keyword is not in the table.
 */
export function acceptedReason(kind: AcceptedKind, kw: string): string | undefined {
  const t = TABLE[kind];
  return Object.prototype.hasOwnProperty.call(t, kw) ? t[kw] : undefined;
}

/** Every accepted keyword of a kind (docs/haproxy-cfg.md lists them). */
export function acceptedKeywords(kind: AcceptedKind): [string, string][] {
  return Object.entries(TABLE[kind]);
}
