// The test reporter's totals: a suite skipped whole counts in "skipped", and every skip's reason is listed
// (hand-counted from the fixture file: 1 suite and 1 test skipped, 2 tests pass).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/** This process's environment without what marks it as a test runner's child (which changes how a child reports). */
function childEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, NODE_OPTIONS: __, ...env } = process.env;
  return env;
}

describe('test reporter', () => {
  it('counts whole skipped suites and lists the reasons', () => {
    const out = execFileSync(process.execPath, ['--test', `--test-reporter=${here('./reporter.mjs')}`, '--test-reporter-destination=stdout', here('../fixtures/reporter/skips.mjs')], {
      encoding: 'utf8',
      env: childEnv(),
    });
    assert.match(out, /ℹ pass 2\n/);
    assert.match(out, /ℹ skipped 2 \(1 test, 1 whole suite whose tests are not counted above\)\n/);
    assert.match(out, /ℹ {3}1× the peer is not installed\n/);
    assert.match(out, /ℹ {3}1× relaxed SIMD does not validate here\n/);
  });
});
