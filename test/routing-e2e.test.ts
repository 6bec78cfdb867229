// Issue 8's routing table over real sockets, in both syntaxes: api.example.com -> api,
// /static -> static, /admin denied except from 127.0.0.0/8 (127.0.0.1 gets in; a variant that
// only trusts 127.0.0.1 denies a client bound to 127.0.0.2), header rules both ways, a redirect.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { freePort, startBackend, startGatehouse, type Backend } from './helpers/net';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, headers: http.OutgoingHttpHeaders, localAddress = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Backends answer "NAME PROTO" (the X-Forwarded-Proto they received) and send a Server header. */
async function backends(): Promise<Backend[]> {
  return Promise.all(
    ['api', 'static', 'web'].map((name) =>
      startBackend(name, (req, res) => {
        req.resume();
        res.setHeader('Server', 'upstream/1.0');
        res.end(`${name} ${req.headers['x-forwarded-proto'] ?? '-'}`);
      }),
    ),
  );
}

function cfgText(port: number, b: Backend[], trusted: string): string {
  return `global
    nbthread 2
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend www
    bind 127.0.0.1:${port}
    acl is_api hdr(host) -i api.example.com
    acl is_static path_beg /static
    acl is_admin path_beg /admin
    acl local src ${trusted}
    http-request redirect prefix http://www.example.com code 301 if { hdr(host) -i example.com }
    http-request deny if is_admin !local
    http-request set-header X-Forwarded-Proto http
    use_backend api if is_api
    use_backend static if is_static
    default_backend web
    http-response set-header X-Content-Type-Options nosniff
    http-response del-header Server
backend api
    server api1 127.0.0.1:${b[0].port}
backend static
    server static1 127.0.0.1:${b[1].port}
backend web
    server web1 127.0.0.1:${b[2].port}
`;
}

function yamlText(port: number, b: Backend[], trusted: string): string {
  return `global:
  workers: 2
defaults:
  timeout: { connect: 2s, client: 10s, server: 10s }
frontends:
  www:
    bind: ["127.0.0.1:${port}"]
    acls:
      is_api: hdr(host) -i api.example.com
      is_static: path_beg /static
      is_admin: path_beg /admin
      local: src ${trusted}
    http_request:
      - redirect prefix http://www.example.com code 301 if { hdr(host) -i example.com }
      - deny if is_admin !local
      - set-header X-Forwarded-Proto http
    use_backend:
      - { backend: api, if: is_api }
      - { backend: static, if: is_static }
    default_backend: web
    http_response:
      - set-header X-Content-Type-Options nosniff
      - del-header Server
backends:
  api: { servers: [{ name: api1, address: "127.0.0.1:${b[0].port}" }] }
  static: { servers: [{ name: static1, address: "127.0.0.1:${b[1].port}" }] }
  web: { servers: [{ name: web1, address: "127.0.0.1:${b[2].port}" }] }
`;
}

for (const form of ['yaml', 'cfg'] as const) {
  describe(`routing table (${form})`, () => {
    let b: Backend[];
    let port: number;
    let strictPort: number;
    let gh: Awaited<ReturnType<typeof startGatehouse>>;
    let strict: Awaited<ReturnType<typeof startGatehouse>>;
    before(async () => {
      b = await backends();
      port = await freePort();
      strictPort = await freePort();
      const text = form === 'yaml' ? yamlText : cfgText;
      const ext = form === 'yaml' ? '.yaml' : '.cfg';
      gh = await startGatehouse(text(port, b, '127.0.0.0/8'), [port], { ext });
      strict = await startGatehouse(text(strictPort, b, '127.0.0.1'), [strictPort], { ext });
    });
    after(async () => {
      await gh.stop();
      await strict.stop();
      await Promise.all(b.map((x) => x.close()));
    });

    test('host and path route to their backends, the rest to the default', async () => {
      const cases: [string, string, string][] = [
        ['api.example.com', '/v1/users', 'api http'],
        ['API.Example.COM', '/static/app.js', 'api http'],
        ['www.example.com', '/static/app.js', 'static http'],
        ['www.example.com', '/', 'web http'],
        ['www.example.com', '/staticky', 'static http'],
        ['www.example.com', '/admin/users', 'web http'],
      ];
      for (const [host, path, want] of cases) {
        const r = await get(port, path, { host });
        assert.equal(r.status, 200, `${host}${path}`);
        assert.equal(r.body, want, `${host}${path}`);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.equal(r.headers.server, undefined, 'http-response del-header Server');
      }
    });

    test('/admin is denied with 403 to a client outside the trusted network', async () => {
      const r = await get(strictPort, '/admin/users', { host: 'www.example.com' }, '127.0.0.2');
      assert.equal(r.status, 403);
      assert.match(r.body, /403 Forbidden/);
      const ok = await get(strictPort, '/admin/users', { host: 'www.example.com' }, '127.0.0.1');
      assert.equal(ok.body, 'web http');
      const other = await get(strictPort, '/public', { host: 'www.example.com' }, '127.0.0.2');
      assert.equal(other.body, 'web http');
    });

    test('the bare domain is redirected to www with the path and query', async () => {
      const r = await get(port, '/a/b?c=1', { host: 'example.com' });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, 'http://www.example.com/a/b?c=1');
      assert.equal(b.every((x) => x.hits > 0), true);
    });
  });
}
