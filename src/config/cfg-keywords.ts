// HAProxy 2.6 vocabulary, for telling "known but not supported by gatehouse yet" from "unknown"
// (the latter gets a did-you-mean), and for settings gatehouse may ignore with a warning because
// they cannot change how traffic is handled here.

export const SECTIONS = ['global', 'defaults', 'frontend', 'backend', 'listen'] as const;
export const OTHER_SECTIONS = [
  'userlist', 'peers', 'resolvers', 'mailers', 'program', 'http-errors', 'ring', 'cache', 'fcgi-app', 'log-forward',
];

export const GLOBAL_KEYWORDS = [
  'busy-polling', 'ca-base', 'chroot', 'cluster-secret', 'cpu-map', 'crt-base', 'daemon', 'debug', 'default-path',
  'description', 'expose-experimental-directives', 'external-check', 'gid', 'group', 'h1-case-adjust',
  'h1-case-adjust-file', 'h2-workaround-bogus-websocket-clients', 'hard-stop-after', 'insecure-fork-wanted',
  'insecure-setuid-wanted', 'issuers-chain-path', 'localpeer', 'log', 'log-send-hostname', 'log-tag', 'lua-load',
  'lua-load-per-thread', 'lua-prepend-path', 'master-worker', 'max-spread-checks', 'maxcompcpuusage', 'maxcomprate',
  'maxconn', 'maxconnrate', 'maxpipes', 'maxsessrate', 'maxsslconn', 'maxsslrate', 'maxzlibmem', 'mworker-max-reloads',
  'nbproc', 'nbthread', 'no-memory-trimming', 'node', 'noepoll', 'noevports', 'nogetaddrinfo', 'nokqueue', 'nopoll',
  'noreuseport', 'nosplice', 'numa-cpu-mapping', 'pidfile', 'pp2-never-send-local', 'prealloc-fd', 'presetenv',
  'profiling.memory', 'profiling.tasks', 'quiet', 'resetenv', 'server-state-base', 'server-state-file', 'set-dumpable',
  'set-var', 'setenv', 'spread-checks', 'ssl-default-bind-ciphers', 'ssl-default-bind-ciphersuites',
  'ssl-default-bind-curves', 'ssl-default-bind-options', 'ssl-default-server-ciphers',
  'ssl-default-server-ciphersuites', 'ssl-default-server-options', 'ssl-dh-param-file', 'ssl-engine',
  'ssl-mode-async', 'ssl-propquery', 'ssl-provider', 'ssl-provider-path', 'ssl-server-verify',
  'ssl-skip-self-issued-ca', 'stats', 'strict-limits', 'thread-group', 'thread-groups', 'uid', 'ulimit-n',
  'unix-bind', 'unsetenv', 'user', 'zero-warning', 'tune.bufsize', 'tune.maxrewrite', 'tune.http.maxhdr',
  'tune.ssl.default-dh-param', 'tune.ssl.cachesize', 'tune.ssl.lifetime', 'tune.maxaccept', 'tune.idletimer',
  'tune.rcvbuf.client', 'tune.rcvbuf.server', 'tune.sndbuf.client', 'tune.sndbuf.server', 'tune.h2.max-concurrent-streams',
  'tune.h2.initial-window-size', 'tune.h2.header-table-size',
];

/** Global settings that only concern what gatehouse does not do: accepted, ignored, with this explanation. */
export const GLOBAL_IGNORED: Record<string, string> = {
  user: 'gatehouse does not switch user: start it as the user it should run as',
  group: 'gatehouse does not switch group: start it as the user it should run as',
  uid: 'gatehouse does not switch user: start it as the user it should run as',
  gid: 'gatehouse does not switch group: start it as the user it should run as',
  chroot: 'gatehouse does not chroot',
  'ca-base': 'gatehouse does not support ca-base: write ca-file and crl-file paths in full (relative paths are relative to the working directory)',
  'crt-base': 'gatehouse does not support crt-base: write certificate paths in full on each bind line (relative paths are relative to the working directory)',
  'ssl-default-bind-curves': 'gatehouse terminates TLS with the defaults of uWebSockets.js (TLSv1.2 and later); only the cipher list is configurable (ciphers, ssl-default-bind-ciphers)',
  'ssl-default-server-ciphersuites': 'TLSv1.3 cipher suites towards servers stay OpenSSL\'s defaults',
  'ssl-dh-param-file': 'gatehouse terminates TLS with the defaults of uWebSockets.js (TLSv1.2 and later); only the cipher list is configurable (ciphers, ssl-default-bind-ciphers)',
  'tune.ssl.default-dh-param': 'gatehouse terminates TLS with the defaults of uWebSockets.js (TLSv1.2 and later); only the cipher list is configurable (ciphers, ssl-default-bind-ciphers)',
  'master-worker': 'gatehouse always runs one process with worker threads',
  'ulimit-n': 'raise the file descriptor limit with ulimit/systemd before starting gatehouse',
  node: 'the node name is not shown by gatehouse',
  description: 'the description is not shown by gatehouse',
  'log-send-hostname': 'gatehouse does not add a hostname to syslog lines yet',
  'spread-checks': 'gatehouse does not randomize check intervals',
  'tune.pool-low-fd-ratio': 'gatehouse sizes its idle server connection pools from maxconn',
  'tune.pool-high-fd-ratio': 'gatehouse sizes its idle server connection pools from maxconn',
  'strict-limits': 'gatehouse lowers maxconn to what the file descriptor limit allows, with a warning, instead of refusing to start',
};

export const PROXY_KEYWORDS = [
  'acl', 'backlog', 'balance', 'bind', 'capture', 'clitcpka-cnt', 'clitcpka-idle', 'clitcpka-intvl', 'compression',
  'cookie', 'declare', 'default-server', 'default_backend', 'description', 'disabled', 'dispatch', 'dynamic-cookie-key',
  'email-alert', 'enabled', 'errorfile', 'errorfiles', 'errorloc', 'errorloc302', 'errorloc303', 'external-check',
  'filter', 'force-persist', 'fullconn', 'grace', 'hash-balance-factor', 'hash-type', 'http-after-response',
  'http-check', 'http-error', 'http-request', 'http-response', 'http-reuse', 'http-send-name-header', 'id',
  'ignore-persist', 'load-server-state-from-file', 'log', 'log-format', 'log-format-sd', 'log-tag',
  'max-keep-alive-queue', 'max-session-srv-conns', 'maxconn', 'mode', 'monitor', 'monitor-uri', 'no', 'option',
  'persist', 'rate-limit', 'redirect', 'retries', 'retry-on', 'server', 'server-state-file-name', 'server-template',
  'source', 'srvtcpka-cnt', 'srvtcpka-idle', 'srvtcpka-intvl', 'stats', 'stick', 'stick-table', 'tcp-check',
  'tcp-request', 'tcp-response', 'timeout', 'unique-id-format', 'unique-id-header', 'use-fcgi-app', 'use-server',
  'use_backend',
];

/** Keywords HAProxy itself removed (2.1+): HAProxy 2.6 rejects them too. */
export const PROXY_REMOVED: Record<string, string> = {
  reqadd: 'http-request add-header', reqdel: 'http-request del-header', reqrep: 'http-request replace-header',
  reqirep: 'http-request replace-header', reqdeny: 'http-request deny', reqideny: 'http-request deny',
  reqallow: 'http-request allow', reqiallow: 'http-request allow', reqpass: '(nothing)', reqipass: '(nothing)',
  reqtarpit: 'http-request tarpit', reqitarpit: 'http-request tarpit', reqsetbe: 'use_backend', reqisetbe: 'use_backend',
  rspadd: 'http-response add-header', rspdel: 'http-response del-header', rsprep: 'http-response replace-header',
  rspirep: 'http-response replace-header', rspdeny: 'http-response deny', rspideny: 'http-response deny',
  rspidel: 'http-response del-header', block: 'http-request deny', redisp: 'option redispatch',
  srvtimeout: 'timeout server', clitimeout: 'timeout client', contimeout: 'timeout connect', 'monitor-net': 'monitor-uri',
};

export const OPTIONS = [
  'abortonclose', 'accept-invalid-http-request', 'accept-invalid-http-response', 'allbackups', 'checkcache',
  'clitcpka', 'contstats', 'disable-h2-upgrade', 'dontlog-normal', 'dontlognull', 'external-check', 'forwardfor',
  'h1-case-adjust-bogus-client', 'h1-case-adjust-bogus-server', 'http-buffer-request', 'http-ignore-probes',
  'http-keep-alive', 'http-no-delay', 'http-pretend-keepalive', 'http-restrict-req-hdr-names', 'http-server-close',
  'http-use-proxy-header', 'httpchk', 'httpclose', 'httplog', 'http_proxy', 'idle-close-on-response',
  'independent-streams', 'ldap-check', 'log-health-checks', 'log-separate-errors', 'logasap', 'mysql-check',
  'nolinger', 'originalto', 'persist', 'pgsql-check', 'prefer-last-server', 'redis-check', 'redispatch', 'smtpchk',
  'socket-stats', 'splice-auto', 'splice-request', 'splice-response', 'spop-check', 'srvtcpka', 'ssl-hello-chk',
  'tcp-check', 'tcp-smart-accept', 'tcp-smart-connect', 'tcpka', 'tcplog', 'transparent',
];

/** Options that cannot change what gatehouse does with HTTP traffic: accepted with a note. */
export const OPTIONS_IGNORED: Record<string, string> = {
  'http-keep-alive': '', // gatehouse's behaviour already: silently accepted
  'http-server-close': 'gatehouse keeps server connections alive in a pool',
  httpclose: 'gatehouse keeps connections alive',
  'log-health-checks': 'health check transitions are always logged',
  tcpka: 'TCP keep-alive probes are not configurable yet',
  clitcpka: 'TCP keep-alive probes are not configurable yet',
  srvtcpka: 'TCP keep-alive probes are not configurable yet',
  'splice-auto': 'gatehouse does not use splice',
  'splice-request': 'gatehouse does not use splice',
  'splice-response': 'gatehouse does not use splice',
  'tcp-smart-accept': 'a socket tuning gatehouse does not do',
  'tcp-smart-connect': 'a socket tuning gatehouse does not do',
  contstats: 'counters are updated as data flows anyway',
  'socket-stats': 'per-socket statistics are not kept',
  'http-no-delay': 'a socket tuning gatehouse does not do',
};

export const SERVER_OPTIONS = [
  'addr', 'agent-addr', 'agent-check', 'agent-inter', 'agent-port', 'agent-send', 'allow-0rtt', 'alpn', 'backup',
  'ca-file', 'check', 'check-alpn', 'check-proto', 'check-send-proxy', 'check-sni', 'check-ssl', 'check-via-socks4',
  'ciphers', 'ciphersuites', 'cookie', 'crl-file', 'crt', 'disabled', 'downinter', 'enabled', 'error-limit', 'fall',
  'fastinter', 'force-sslv3', 'force-tlsv10', 'force-tlsv11', 'force-tlsv12', 'force-tlsv13', 'id', 'init-addr',
  'inter', 'log-proto', 'max-reuse', 'maxconn', 'maxqueue', 'minconn', 'namespace', 'no-agent-check', 'no-backup',
  'no-check', 'no-check-ssl', 'no-send-proxy', 'no-send-proxy-v2', 'no-ssl', 'no-ssl-reuse', 'no-sslv3',
  'no-tls-tickets', 'no-tlsv10', 'no-tlsv11', 'no-tlsv12', 'no-tlsv13', 'no-verifyhost', 'no-tfo', 'non-stick', 'npn',
  'observe', 'on-error', 'on-marked-down', 'on-marked-up', 'pool-low-conn', 'pool-max-conn', 'pool-purge-delay',
  'port', 'proto', 'redir', 'resolve-net', 'resolve-opts', 'resolve-prefer', 'resolvers', 'rise', 'send-proxy',
  'send-proxy-v2', 'send-proxy-v2-ssl', 'send-proxy-v2-ssl-cn', 'shard', 'slowstart', 'sni', 'source', 'ssl',
  'ssl-max-ver', 'ssl-min-ver', 'ssl-reuse', 'stick', 'socks4', 'tcp-ut', 'tfo', 'track', 'verify', 'verifyhost',
  'weight', 'ws',
];

export const TIMEOUTS = [
  'check', 'client', 'client-fin', 'connect', 'http-keep-alive', 'http-request', 'queue', 'server', 'server-fin',
  'tarpit', 'tunnel',
];

export const STATS_KEYWORDS = [
  'admin', 'auth', 'bind-process', 'enable', 'hide-version', 'http-request', 'realm', 'refresh', 'scope',
  'show-desc', 'show-legends', 'show-modules', 'show-node', 'uri',
];

/** Server options that take one argument (so a check can step over one it does not support). */
export const SERVER_OPTIONS_WITH_ARG = new Set([
  'addr', 'agent-addr', 'agent-inter', 'agent-port', 'agent-send', 'alpn', 'ca-file', 'check-alpn', 'check-proto',
  'check-sni', 'ciphers', 'ciphersuites', 'cookie', 'crl-file', 'crt', 'downinter', 'error-limit', 'fall', 'fastinter',
  'id', 'init-addr', 'inter', 'log-proto', 'max-reuse', 'maxconn', 'maxqueue', 'minconn', 'namespace', 'npn', 'observe',
  'on-error', 'on-marked-down', 'on-marked-up', 'pool-low-conn', 'pool-max-conn', 'pool-purge-delay', 'port', 'proto',
  'redir', 'resolve-net', 'resolve-opts', 'resolve-prefer', 'resolvers', 'rise', 'shard', 'slowstart', 'sni', 'source',
  'ssl-max-ver', 'ssl-min-ver', 'socks4', 'tcp-ut', 'track', 'verify', 'verifyhost', 'weight', 'ws',
]);

/** Bind options that take one argument. */
export const BIND_OPTIONS_WITH_ARG = new Set([
  'accept-netscaler-cip', 'alpn', 'backlog', 'ca-file', 'ca-ignore-err', 'ca-sign-file', 'ca-sign-pass', 'ciphers',
  'ciphersuites', 'crl-file', 'crt', 'crt-ignore-err', 'crt-list', 'curves', 'ecdhe', 'gid', 'group', 'id', 'interface',
  'level', 'maxconn', 'mode', 'mss', 'name', 'namespace', 'nice', 'npn', 'process', 'proto', 'severity-output',
  'ssl-max-ver', 'ssl-min-ver', 'tcp-ut', 'thread', 'uid', 'user', 'verify',
]);
