// The recap a bootstrap ends with: what an operator reads to decide what to do next.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatRecap } from '../../src/ui/recap.js';

const run = (failed: number) => ({
  recap: [
    { host: 'h1', ok: 3, changed: 1, failed: 0, skipped: 0, unreachable: false },
    { host: 'h2', ok: 0, changed: 0, failed, skipped: 0, unreachable: failed > 0, error: failed ? 'cannot connect' : undefined },
  ],
  results: [],
  ms: 1200,
});

test('recap: a failed run says how to go on; under --check it says nothing was changed', () => {
  const real = formatRecap(run(1), false);
  assert.match(real, /^RECAP$/m);
  assert.match(real, /1 of 2 host\(s\) failed: h2 \(1\.2 s\)\. Fix the cause and re-run: finished steps are not repeated\./);
  const check = formatRecap(run(1), true);
  assert.match(check, /RECAP \(--check: nothing was changed\)/);
  assert.match(check, /Fix the cause and check again: nothing was changed on any host\./);
  assert.doesNotMatch(check, /re-run/);
});

test('recap: what changed, or would change under --check', () => {
  assert.match(formatRecap(run(0), false), /Changed 1 thing\(s\) on 1 host\(s\)/);
  assert.match(formatRecap(run(0), true), /Would change 1 thing\(s\) on 1 host\(s\)/);
});
