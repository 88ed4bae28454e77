// The in-memory tar archives that carry a host's instance files: unpacked by GNU tar as the
// host scripts do (gzipped, and with --skip-old-files for what must not be replaced).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { tar } from '../../src/util/tar.js';

const root = mkdtempSync(join(tmpdir(), 'ovl-tar-'));
after(() => rmSync(root, { recursive: true, force: true }));

const untar = (archive: Buffer, ...extra: string[]) => execFileSync('tar', ['-xz', '-C', root, '--no-same-owner', ...extra], { input: gzipSync(archive) });

test('directories, files with their modes, a long path, and a FIFO come out as written', () => {
  // Over 100 bytes: split into the ustar prefix and name fields.
  const long = `${'d'.repeat(80)}/${'e'.repeat(60)}/conf`;
  untar(
    tar([
      { path: '/data/x/7000', mode: 0o755 },
      { path: '/data/x/7000/redis.conf', content: 'port 7000\n', mode: 0o640 },
      { path: `/data/x/${long}`, content: Buffer.from([0, 1, 2]), mode: 0o644 },
      { path: '/data/x/7000/start.gate', mode: 0o600, fifo: true },
    ]),
  );
  assert.equal(readFileSync(join(root, 'data/x/7000/redis.conf'), 'utf8'), 'port 7000\n');
  assert.equal(statSync(join(root, 'data/x/7000/redis.conf')).mode & 0o777, 0o640);
  assert.ok(statSync(join(root, 'data/x/7000')).isDirectory());
  assert.deepEqual([...readFileSync(join(root, 'data/x', long))], [0, 1, 2]);
  const gate = statSync(join(root, 'data/x/7000/start.gate'));
  assert.ok(gate.isFIFO(), 'start.gate is a FIFO');
  assert.equal(gate.mode & 0o777, 0o600);
});

test('--skip-old-files keeps what is there (a nodes.conf Redis rewrote, a gate a held Redis waits in)', () => {
  writeFileSync(join(root, 'kept'), 'written by redis\n');
  untar(tar([{ path: '/kept', content: 'pre-rendered\n', mode: 0o644 }, { path: '/fresh', content: 'new\n', mode: 0o644 }]), '--skip-old-files');
  assert.equal(readFileSync(join(root, 'kept'), 'utf8'), 'written by redis\n');
  assert.equal(readFileSync(join(root, 'fresh'), 'utf8'), 'new\n');
});

test('a path that does not fit the ustar header is refused', () => {
  assert.throws(() => tar([{ path: `/${'x'.repeat(120)}`, content: '', mode: 0o644 }]), /path too long for tar/);
});
