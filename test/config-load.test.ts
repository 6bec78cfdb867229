// loadConfig: file kinds, unreadable inputs, and the haproxy.cfg path through the shared validator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import { ConfigError, type ConfigIssue } from '../src/config/errors';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-config-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

function issuesOf(paths: string[]): ConfigIssue[] {
  try {
    loadConfig(paths);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.issues;
  }
  assert.fail('configuration was accepted');
}

const GOOD = `
frontends:
  fe: { bind: "127.0.0.1:8000" }
backends:
  be: { servers: [{ name: s1, address: "127.0.0.1:9000" }] }
`;

test('a YAML file loads; sources are the paths; warnings come back', () => {
  for (const name of ['a.yaml', 'b.yml', 'C.YAML']) {
    const file = write(name, GOOD);
    const { config, warnings } = loadConfig([file]);
    assert.deepEqual(config.sources, [file]);
    assert.equal(config.frontends[0].binds[0].port, 8000);
    assert.deepEqual(warnings.map((w) => [w.file, w.path]), [[file, 'frontends.fe']]);
  }
});

test('unreadable inputs are ConfigErrors naming the file', () => {
  const missing = path.join(dir, 'nope.yaml');
  const [i] = issuesOf([missing]);
  assert.equal(i.file, missing);
  assert.match(i.message, /cannot read the configuration: .*ENOENT/);
  assert.match(issuesOf([])[0].message, /no configuration file given/);
  const emptyDir = path.join(dir, 'empty.d');
  fs.mkdirSync(emptyDir, { recursive: true });
  write('empty.d/readme.txt', 'not a cfg');
  assert.match(issuesOf([emptyDir])[0].message, /no \*\.cfg file/);
});

test('only one YAML file, and YAML does not mix with haproxy.cfg', () => {
  const a = write('one.yaml', GOOD);
  const b = write('two.yaml', GOOD);
  const c = write('x.cfg', 'global\n');
  const [twice] = issuesOf([a, b]);
  assert.equal(twice.file, b);
  assert.match(twice.message, /only one YAML configuration file/);
  assert.match(issuesOf([a, c])[0].message, /cannot be mixed/);
});

test('YAML syntax and validation errors carry the file and line', () => {
  const file = write('bad.yaml', 'frontends:\n  fe:\n    bind: ["*:80"\n');
  const [syntax] = issuesOf([file]);
  assert.equal(syntax.file, file);
  assert.ok(syntax.line >= 3);
  const file2 = write('bad2.yaml', 'listen:\n  l:\n    bind: "*:80"\n    retries: lots\n');
  const [i] = issuesOf([file2]);
  assert.deepEqual([i.file, i.line, i.path], [file2, 4, 'listen.l.retries']);
});

test('a directory of haproxy.cfg files is read in name order and validated', () => {
  write('conf.d/10-listen.cfg', 'listen web\n    bind 127.0.0.1:8081\n    server s1 127.0.0.1:9001\n');
  write('conf.d/00-global.cfg', 'global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 3s\n');
  write('conf.d/notes.txt', 'ignored');
  const cdir = path.join(dir, 'conf.d');
  const { config } = loadConfig([cdir]);
  assert.deepEqual(config.sources, [cdir]);
  assert.equal(config.global.workers, 2);
  assert.deepEqual(config.frontends.map((f) => [f.name, f.defaultBackend, f.timeouts.connect]), [['web', 'web', 3000]]);
  assert.deepEqual(config.backends[0].servers.map((s) => s.address), ['127.0.0.1:9001']);
});
