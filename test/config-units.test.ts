// Config building blocks: durations, did-you-mean, issue formatting, and the validator's promise
// that no document shape makes it throw anything but a ConfigError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../src/config/duration';
import { editDistance, suggest } from '../src/config/suggest';
import { ConfigError, formatIssue, formatPath, type SourceMap } from '../src/config/errors';
import { buildModel } from '../src/config/validate';
import { parseYaml } from '../src/config/yaml';

test('durations follow HAProxy: bare numbers are ms, units us..d', () => {
  const cases: [unknown, number | null][] = [
    [0, 0], [250, 250], ['250', 250], ['250ms', 250], ['2s', 2000], ['3m', 180_000], ['1h', 3_600_000],
    ['1d', 86_400_000], ['1500us', 2], ['1us', 1], [' 5s ', 5000], ['24d', 2_073_600_000],
    ['25d', null], [2_147_483_648, null], ['1.5s', null], [-1, null], ['-1s', null], ['5 sec', null],
    ['s', null], ['', null], [1.5, null], [true, null], [null, null], [[1], null],
  ];
  for (const [input, want] of cases) assert.equal(parseDuration(input), want, `parseDuration(${JSON.stringify(input)})`);
});

test('did-you-mean finds typos and ignores unrelated words', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('ab', 'ba'), 1); // transposition counts once
  const keys = ['bind', 'default_backend', 'maxconn', 'http_request', 'http_keep_alive'];
  assert.equal(suggest('bnid', keys), 'bind');
  assert.equal(suggest('default-backend', keys), 'default_backend');
  assert.equal(suggest('HTTP-KEEP-ALIVE', keys), 'http_keep_alive');
  assert.equal(suggest('maxcon', keys), 'maxconn');
  assert.equal(suggest('weight', keys), null);
  assert.equal(suggest('x'.repeat(10_000), keys), null);
  assert.equal(suggest('bind', []), null);
});

test('issues format as FILE:LINE:COL: severity: PATH: MESSAGE (expected X, found Y)', () => {
  const base = { file: 'g.yaml', line: 4, col: 7, path: 'backends.b.servers[0].weight', expected: 'an integer', found: 'string "x"', message: 'invalid value' };
  assert.equal(formatIssue({ severity: 'error', ...base }), 'g.yaml:4:7: error: backends.b.servers[0].weight: invalid value (expected an integer, found string "x")');
  assert.equal(formatIssue({ severity: 'warning', ...base, expected: '', found: '' }), 'g.yaml:4:7: warning: backends.b.servers[0].weight: invalid value');
  assert.equal(formatIssue({ severity: 'error', ...base, line: 0, col: 0, path: '' }), 'g.yaml: error: invalid value (expected an integer, found string "x")');
  assert.equal(formatPath(['backends', 'api.v1', 'servers', 2, 'name']), 'backends["api.v1"].servers[2].name');
  const err = new ConfigError([{ severity: 'error', ...base }]);
  assert.equal(err.message, formatIssue(err.issues[0]));
});

test('a source map without positions still yields issues (file, line 0)', () => {
  const src: SourceMap = { file: 'x.cfg', locate: () => null };
  try {
    buildModel({ frontends: { fe: { bind: 'nope' } } }, src);
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual([e.issues[0].file, e.issues[0].line, e.issues[0].path], ['x.cfg', 0, 'frontends.fe.bind']);
  }
});

test('the validator walks up to the nearest known position for keys the reader cannot place', () => {
  const src: SourceMap = {
    file: 'h.cfg',
    locate: (p) => (p.length <= 2 && p[0] === 'backends' ? { line: 10 + p.length, col: 1, file: 'conf.d/b.cfg' } : null),
  };
  try {
    buildModel({ listen: { l: { bind: '*:80' } }, backends: { be: { retries: 'x' } } }, src);
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const i = e.issues.find((x) => x.path === 'backends.be.retries')!;
    assert.deepEqual([i.file, i.line], ['conf.d/b.cfg', 12]);
  }
});

/** Every path of a plain document, for mutation. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}
function withValue(doc: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  if (path.length === 0) return value;
  let node = copy;
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
  return copy;
}

test('no document shape makes the validator throw anything but ConfigError', () => {
  const { doc, src } = parseYaml(
    `
global: { workers: 2, log: [{ target: stdout }], grace: 1s }
defaults: { timeout: { connect: 1s }, health_check: { uri: /h, expect_status: "200-399", headers: { A: b } }, cookie: { name: C } }
frontends:
  f: { bind: ["*:80"], default_backend: b, stats: { auth: ["a:b"], prometheus: /m } }
backends:
  b: { balance: "hdr(x)", servers: [{ name: s, address: "127.0.0.1:1", cookie: c, inter: 1s }] }
listen:
  l: { bind: "*:81", servers: [{ name: s, address: "[::1]:2" }] }
`,
    'fuzz.yaml',
  );
  buildModel(doc, src); // the base document is valid
  const garbage: unknown[] = [null, 0, -1, 1e300, 'x', '', true, [], {}, [null], { a: null }, [[]], 'global', new Uint8Array(2)];
  let runs = 0;
  for (const p of paths(doc)) {
    for (const g of garbage) {
      runs++;
      try {
        const { config } = buildModel(withValue(doc, p, g), src);
        assert.ok(Array.isArray(config.frontends));
      } catch (e) {
        if (!(e instanceof ConfigError)) assert.fail(`path ${formatPath(p)} = ${String(g)} threw ${(e as Error).stack}`);
        assert.ok(e.issues.some((i) => i.severity === 'error'));
      }
    }
  }
  assert.ok(runs > 500);
});
