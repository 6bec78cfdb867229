// The JSON Schema of the YAML form (src/config/schema.ts, `gatehouse schema`): the committed
// docs/gatehouse.schema.json is its current output, every key docs/configuration.md documents is
// in it, and a real JSON Schema validator (Python's jsonschema, when installed) accepts the
// project's YAML configurations and rejects wrong ones as the gatehouse validator does.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { configSchema, schemaKeys } from '../src/config/schema';
import { CLI, REPO, tmpFile } from './helpers/net';

test('docs/gatehouse.schema.json is what `gatehouse schema` prints', () => {
  const r = spawnSync(process.execPath, [CLI, 'schema'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const committed = fs.readFileSync(path.join(REPO, 'docs', 'gatehouse.schema.json'), 'utf8');
  assert.equal(r.stdout, committed, 'run `node dist/cli.js schema > docs/gatehouse.schema.json`');
  assert.deepEqual(JSON.parse(committed), configSchema());
});

test('every key documented in docs/configuration.md is in the schema', () => {
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'configuration.md'), 'utf8').split('\n');
  const keys = schemaKeys();
  const documented: string[] = [];
  let inKeyTable = false;
  for (const line of doc) {
    if (/^\| key \|/.test(line)) {
      inKeyTable = true;
      continue;
    }
    if (!line.startsWith('|')) {
      inKeyTable = false;
      continue;
    }
    if (!inKeyTable || /^\|\s*-/.test(line)) continue;
    const first = line.split('|')[1];
    for (const m of first.matchAll(/`([a-z_]+)`/g)) documented.push(m[1]);
  }
  assert.ok(documented.length > 60, `found ${documented.length} documented keys`);
  assert.deepEqual(documented.filter((k) => !keys.has(k)), []);
});

function pythonJsonschema(): boolean {
  return spawnSync('python3', ['-c', 'import jsonschema'], { encoding: 'utf8' }).status === 0;
}

/** Validates `doc` against the schema with Python's jsonschema; '' when valid, else the messages. */
function jsonschemaErrors(doc: unknown): string {
  const schema = tmpFile('schema.json', JSON.stringify(configSchema()));
  const data = tmpFile('doc.json', JSON.stringify(doc));
  const r = spawnSync('python3', ['-c', `
import json, sys, jsonschema
s = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
v = jsonschema.Draft202012Validator(s)
jsonschema.Draft202012Validator.check_schema(s)
print("\\n".join(e.message for e in v.iter_errors(d)))
`, schema, data], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('a JSON Schema validator accepts the project configurations and rejects wrong keys and types', { skip: pythonJsonschema() ? false : "python3's jsonschema is not installed" }, () => {
  const demo = parseYaml(fs.readFileSync(path.join(REPO, 'configs', 'demo.yaml'), 'utf8'));
  assert.equal(jsonschemaErrors(demo), '');
  const full = parseYaml(`
global: { workers: 2, maxconn: 1000, log: [{ target: stdout, facility: local0 }], stats_socket: /run/gh.sock }
defaults:
  timeout: { connect: 5s, client: 50s, server: 50000 }
  forwardfor: { except: 127.0.0.0/8, if_none: true }
  hash_type: consistent djb2 avalanche
  error_pages: { "503": { file: /etc/gh/503.http }, "403": { location: "https://example.com/", code: 303 } }
frontends:
  web:
    bind: ["*:80", { address: "*:443", ssl: true, crt: /etc/ssl/site.pem }]
    acls: { api: "path_beg /api", static: ["path_end .css", "path_end .js"] }
    use_backend: [{ backend: api, if: api }, "static if static"]
    http_request: ["set-var(txn.host) req.hdr(host),lower"]
    default_backend: api
backends:
  api:
    balance: hdr(x-user)
    health_check: { type: http, uri: /health, expect_status: "200-299", headers: { X-Check: "1" } }
    cookie: { name: SRV, mode: insert, indirect: true }
    servers: [{ name: a, address: "10.0.0.1:80", check: true, weight: 10 }]
  static: { servers: [{ name: s, address: "10.0.0.2:80" }] }
listen:
  stats: { bind: ["127.0.0.1:8404"], stats: { enable: true, prometheus: /metrics } }
`);
  assert.equal(jsonschemaErrors(full), '');
  const wrong = parseYaml(`
frontends:
  web: { bind: "*:80", default_backned: api }
backends:
  api: { servers: [{ name: a, address: "10.0.0.1:80", weight: "heavy" }], hash_type: "rendezvous" }
`);
  const errors = jsonschemaErrors(wrong);
  assert.match(errors, /default_backned/);
  assert.match(errors, /heavy/);
  assert.match(errors, /rendezvous/);
});
