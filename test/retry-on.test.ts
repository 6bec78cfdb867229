// HAProxy's `retry-on` (issue 19). The default, conn-failure, never replays a request the server
// received: a GET whose server closes or resets without answering is sent once (HAProxy 2.6 on the
// same cfg: once, then 502), not once per retry into the next server. Other keywords opt in. The
// re-send of a request on a reused idle connection the server had closed stays (not a retry in
// HAProxy either). Config in both syntaxes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { freePort, RawTcpServer, rawExchange, startGatehouse } from './helpers/net';
import { parseHaproxyCfg } from '../src/config/haproxy-cfg';
import { parseYaml } from '../src/config/yaml';
import { buildModel } from '../src/config/validate';
import { ConfigError, formatIssue } from '../src/config/errors';
import { RO_CONN_FAILURE, RO_EMPTY_RESPONSE, RO_JUNK_RESPONSE, retryOnStatus } from '../src/config/retry-on';

/** Counts requests per path; what it does with each depends on the path. */
class KillerServer extends RawTcpServer {
  hits = new Map<string, number>();

  protected onConn(sock: net.Socket): void {
    sock.on('error', () => {});
    let buf = '';
    let served = 0;
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const path = buf.slice(0, end).split(' ')[1];
        buf = buf.slice(end + 4);
        const hit = (this.hits.get(path) ?? 0) + 1;
        this.hits.set(path, hit);
        if (path === '/die-end') return void sock.end();
        if (path === '/die-reset') return void sock.resetAndDestroy();
        if (path === '/junk') return void sock.end('SSH-2.0-nope\r\n');
        if (path === '/after-reuse' && served > 0) return void sock.destroy();
        if (path === '/503-once' && hit === 1) {
          sock.write('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy');
          served++;
          continue;
        }
        served++;
        sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`);
      }
    });
  }
}

async function withGatehouse(cfg: (port: number, srv: number) => string, ext: string, fn: (port: number, srv: KillerServer) => Promise<void>): Promise<void> {
  const srv = new KillerServer();
  await srv.start();
  const port = await freePort();
  const gh = await startGatehouse(cfg(port, srv.port), [port], { ext }).catch(async (e) => {
    await srv.close();
    throw e;
  });
  try {
    await fn(port, srv);
  } finally {
    await gh.stop();
    await srv.close();
  }
}

const yaml = (retryOn: string) => (port: number, srv: number) => `global:
  workers: 1
defaults:
  timeout: { connect: 1s, client: 5s, server: 2s }
  retries: 3
${retryOn}frontends:
  fe:
    bind: ["127.0.0.1:${port}"]
    default_backend: be
backends:
  be:
    servers:
      - { name: s1, address: "127.0.0.1:${srv}" }
`;

const get = (port: number, path: string, extra = '') => rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);

describe('retry-on on real sockets', () => {
  test('default (conn-failure): a GET whose server closes or resets without answering is sent once, then 502', async () => {
    await withGatehouse(yaml(''), '.yaml', async (port, srv) => {
      assert.match(await get(port, '/die-end'), /^HTTP\/1\.1 502 /);
      assert.match(await get(port, '/die-reset'), /^HTTP\/1\.1 502 /);
      assert.match(await get(port, '/junk'), /^HTTP\/1\.1 502 /);
      assert.equal(srv.hits.get('/die-end'), 1);
      assert.equal(srv.hits.get('/die-reset'), 1);
      assert.equal(srv.hits.get('/junk'), 1);
    });
  });

  test('default: a reused idle connection the server had closed is re-sent once on a fresh one', async () => {
    await withGatehouse(yaml(''), '.yaml', async (port, srv) => {
      // one client connection: the second request takes the pooled server connection
      const r = await get(port, '/first', '');
      assert.match(r, /^HTTP\/1\.1 200 /);
      const again = await get(port, '/after-reuse');
      assert.match(again, /^HTTP\/1\.1 200 /);
      assert.equal(srv.hits.get('/after-reuse'), 2);
    });
  });

  test('retry_on: empty-response junk-response (YAML) retries those, within retries', async () => {
    await withGatehouse(yaml('  retry_on: empty-response junk-response\n'), '.yaml', async (port, srv) => {
      assert.match(await get(port, '/die-end'), /^HTTP\/1\.1 502 /);
      assert.match(await get(port, '/junk'), /^HTTP\/1\.1 502 /);
      assert.equal(srv.hits.get('/die-end'), 4);
      assert.equal(srv.hits.get('/junk'), 4);
    });
  });

  test('retry-on 503 (haproxy.cfg): the server\'s 503 is dropped and the request sent again', async () => {
    const cfg = (port: number, srv: number) => `global
  nbthread 1
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 2s
  retries 2
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  retry-on 503 conn-failure
  server s1 127.0.0.1:${srv}
`;
    await withGatehouse(cfg, '.cfg', async (port, srv) => {
      // 503 and conn-failure do not cover a server that closes without answering (first: on a
      // fresh connection, not a pooled one, which would be re-sent once)
      assert.match(await get(port, '/die-end'), /^HTTP\/1\.1 502 /);
      assert.equal(srv.hits.get('/die-end'), 1);
      const r = await get(port, '/503-once');
      assert.match(r, /^HTTP\/1\.1 200 /);
      assert.match(r, /\/503-once$/);
      assert.equal(srv.hits.get('/503-once'), 2);
    });
  });
});

describe('retry-on configuration', () => {
  const fromYaml = (text: string) => {
    const { doc, src } = parseYaml(text, 't.yaml');
    return buildModel(doc, src).config;
  };
  const fromCfg = (text: string) => {
    const r = parseHaproxyCfg([{ file: 'h.cfg', text }], {});
    return buildModel(r.doc, r.src).config;
  };
  const base = `global: { workers: 1 }
frontends: { fe: { bind: ["127.0.0.1:8080"], default_backend: be } }
backends:
  be:
    servers: [{ name: s1, address: "127.0.0.1:8081" }]
`;

  test('the default is conn-failure; a list or a string; backend replaces defaults', () => {
    assert.equal(fromYaml(base).backends[0].retryOn, RO_CONN_FAILURE);
    const c = fromYaml(base.replace('backends:\n  be:\n', 'defaults: { retry_on: none }\nbackends:\n  be:\n    retry_on: [empty-response, 503]\n'));
    assert.equal(c.backends[0].retryOn & RO_CONN_FAILURE, 0);
    assert.notEqual(c.backends[0].retryOn & RO_EMPTY_RESPONSE, 0);
    assert.ok(retryOnStatus(c.backends[0].retryOn, 503));
    assert.ok(!retryOnStatus(c.backends[0].retryOn, 502));
    const all = fromYaml(base.replace('backends:\n  be:\n', 'backends:\n  be:\n    retry_on: all-retryable-errors\n')).backends[0].retryOn;
    assert.ok(retryOnStatus(all, 504) && !retryOnStatus(all, 404) && (all & RO_JUNK_RESPONSE) !== 0);
  });

  test('haproxy.cfg retry-on in defaults and backend', () => {
    const c = fromCfg(`defaults
  mode http
  retry-on 404 response-timeout
frontend fe
  bind 127.0.0.1:8080
  default_backend be
backend be
  server s1 127.0.0.1:8081
backend be2
  retry-on none
  server s1 127.0.0.1:8082
`);
    assert.ok(retryOnStatus(c.backends[0].retryOn, 404));
    assert.equal(c.backends[1].retryOn, 0);
  });

  test('unknown keywords and none with others are errors naming the keyword', () => {
    for (const [text, want] of [
      [base.replace('backends:\n  be:\n', 'backends:\n  be:\n    retry_on: conn-failure bogus\n'), /unknown keyword 'bogus'/],
      [base.replace('backends:\n  be:\n', 'backends:\n  be:\n    retry_on: 418\n'), /unknown keyword '418'/],
      [base.replace('backends:\n  be:\n', 'backends:\n  be:\n    retry_on: none 503\n'), /'none' cannot be combined/],
    ] as const) {
      try {
        fromYaml(text);
        assert.fail('accepted');
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        assert.match(e.issues.map(formatIssue).join('\n'), want);
      }
    }
  });
});
