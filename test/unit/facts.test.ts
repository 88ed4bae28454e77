// Typed facts: several read by one probe through a real sh (locally, on a scratch directory),
// each part parsed on its own, whether or not the part before it ended its line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dirExists, facts } from '../../src/ops/facts.js';
import { fileState, pathStats } from '../../src/ops/files.js';
import { guardHolds } from '../../src/ops/command.js';
import { restartOwed, restartMarker, type ServiceSpec } from '../../src/ops/service.js';
import type { Fact } from '../../src/ops/types.js';

const sh = (script: string) => execFileSync('sh', ['-c', script], { encoding: 'utf8' });

test('facts: one probe, each fact parsed from its own part of the output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-facts-'));
  mkdirSync(join(dir, "data dir's"));
  writeFileSync(join(dir, 'conf'), 'a: 1\nb: "$(x)"\n');
  const noNewline: Fact<string> = { probe: 'printf no-newline', parse: (o) => o };
  const f = facts({
    data: dirExists(join(dir, "data dir's")),
    missing: dirExists(join(dir, 'nope')),
    raw: noNewline,
    conf: fileState(join(dir, 'conf')),
    gone: fileState(join(dir, 'gone')),
  });
  const got = f.parse(sh(f.probe));
  assert.equal(got.data, true);
  assert.equal(got.missing, false);
  assert.equal(got.raw, 'no-newline');
  const owner = `${sh('id -un').trim()} ${sh('id -gn').trim()}`;
  assert.deepEqual(got.conf, { meta: `${(0o666 & ~process.umask()).toString(8)} ${owner}`, content: 'a: 1\nb: "$(x)"\n' });
  assert.deepEqual(got.gone, { meta: 'absent' });
});

test('facts: output that does not have one part per fact is refused, not misread', () => {
  const f = facts({ a: dirExists('/'), b: dirExists('/') });
  assert.throws(() => f.parse('yes\n'), /1 parts, expected 2/);
});

test('facts of every operation read through sh: paths with hostile names, guards, an owed restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-facts-'));
  const odd = join(dir, "it's $(here) ; x");
  mkdirSync(odd);
  writeFileSync(join(dir, 'f'), '');
  const svc: ServiceSpec = { name: 'svc', command: ['/bin/true'], dir, log: '/dev/null' };
  const f = facts({
    stats: pathStats([odd, join(dir, 'f'), join(dir, 'none')]),
    created: guardHolds({ creates: join(dir, 'f') }),
    unless: guardHolds({ unless: 'false' }),
    owed: restartOwed(svc),
  });
  const got = f.parse(sh(f.probe));
  assert.equal(got.stats.get(odd)?.type, 'directory');
  assert.equal(got.stats.get(join(dir, 'f'))?.type, 'regular empty file');
  assert.equal(got.stats.has(join(dir, 'none')), false);
  assert.equal(got.created, true);
  assert.equal(got.unless, false);
  // The marker lives under /data/ovl on a host: here it is absent.
  assert.equal(got.owed, false, restartMarker(svc));
});
