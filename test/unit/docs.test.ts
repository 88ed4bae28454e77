// The README and docs/ as a reader meets them: prose lines a terminal shows whole, and no link to a
// file that is not there.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/paths.js';

const files = ['README.md', ...readdirSync(join(projectRoot, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Lines outside code blocks and tables, with their numbers. */
function prose(text: string): [number, string][] {
  let code = false;
  return text.split('\n').flatMap((line, i): [number, string][] => {
    if (line.startsWith('```')) {
      code = !code;
      return [];
    }
    return code || line.startsWith('|') ? [] : [[i + 1, line]];
  });
}

test('README.md and docs/*.md: no prose line over 120 characters', () => {
  const long = files.flatMap((f) => prose(readFileSync(join(projectRoot, f), 'utf8')).filter(([, l]) => l.length > 120).map(([n, l]) => `${f}:${n} (${l.length})`));
  assert.deepEqual(long, []);
});

test('README.md and docs/*.md: every relative link names a file that exists', () => {
  const broken = files.flatMap((f) =>
    [...readFileSync(join(projectRoot, f), 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((target) => !/^[a-z]+:/.test(target) && !existsSync(join(projectRoot, dirname(f), target)))
      .map((target) => `${f}: ${target}`),
  );
  assert.deepEqual(broken, []);
});

test('the README stays short: at most ~200 lines, depth in docs/', () => {
  assert.ok(readFileSync(join(projectRoot, 'README.md'), 'utf8').split('\n').length <= 200);
});
