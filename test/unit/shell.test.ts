// src/shell.ts: every value that reaches a remote shell is quoted; a quoted word must reach the
// command as exactly one argument, byte for byte, whatever it holds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { argv, shq } from '../../src/shell.js';

const HOSTILE = ["it's", '$(touch /tmp/ovl-pwned)', '`id`', 'a; rm -rf /', 'line\nbreak', '"dq" \\ back', '', ' spaced ', '*', '~root', '-n'];

test('shq: plain words stay as they are, everything else in single quotes', () => {
  assert.equal(shq('/data/lib/redis/7.0.15/bin/redis-server'), '/data/lib/redis/7.0.15/bin/redis-server');
  assert.equal(shq(7000), '7000');
  assert.equal(shq("it's"), `'it'\\''s'`);
  assert.equal(shq('$(x)'), `'$(x)'`);
  assert.equal(shq(''), `''`);
  assert.equal(argv('chown', 'root:root', 'a b'), `chown root:root 'a b'`);
  assert.throws(() => shq('a\0b'), /NUL/);
});

test('shq: each hostile word reaches the command as one argument, unchanged, and runs nothing', () => {
  const script = `for a in ${HOSTILE.map(shq).join(' ')}; do printf '[%s]' "$a"; done`;
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', cwd: '/' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, HOSTILE.map((w) => `[${w}]`).join(''));
});
