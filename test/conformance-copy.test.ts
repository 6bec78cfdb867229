// test/corpus/conformance is a copy of ../shared/conformance (so a fresh clone's `make test`
// has the cases); where ../shared sits beside the checkout, as in CI, the copy must not drift.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CONFORMANCE_DIR, SHARED_CONFORMANCE_DIR, SUITES } from './helpers/conformance';

for (const file of [...SUITES, 'README.md']) {
  const skip = SHARED_CONFORMANCE_DIR === null ? 'no ../shared/conformance beside this checkout to compare with' : false;
  test(`test/corpus/conformance/${file} is the same as ../shared/conformance/${file}`, { skip }, () => {
    const copy = fs.readFileSync(path.join(CONFORMANCE_DIR, file));
    const shared = fs.readFileSync(path.join(SHARED_CONFORMANCE_DIR!, file));
    assert.ok(copy.equals(shared), `${file} differs from ${SHARED_CONFORMANCE_DIR}: copy it again (cp ../shared/conformance/* test/corpus/conformance/)`);
  });
}
