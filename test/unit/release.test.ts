// releaseScript run with a real sh: an instance launched held (as a Mesos task is) that reaches its
// start gate only after the release began is waited for, then let go; without the wait the gate
// would be gone before it opened it (a missing include: Redis exits).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { releaseScript } from '../../src/cluster/hostops.js';
import { shq } from '../../src/shell.js';

test('release: waits for a held process that reaches its gate late, lets it go, removes the gate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-release-'));
  const gate = join(dir, 'start.gate');
  const pidfile = join(dir, 'redis.pid');
  spawnSync('mkfifo', [gate]);
  // The process writes its pid first and opens the gate 0.5 s later, as a slow start would (in
  // itself, as Redis does: a missing gate ends it).
  const held = spawn('/bin/sh', ['-c', `echo $$ > ${shq(pidfile)}; sleep 0.5; exec 3< ${shq(gate)}; echo released > ${shq(join(dir, 'out'))}`], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => held.on('exit', (code) => r(code)));
  try {
    while (!existsSync(pidfile)) await new Promise((r) => setTimeout(r, 10));
    const r = spawnSync('/bin/sh', ['-c', releaseScript([{ dir, pidfile }])], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await exited, 0);
    assert.ok(existsSync(join(dir, 'out')), 'the held process went on');
    assert.equal(existsSync(gate), false, 'the gate is removed');
  } finally {
    held.kill('SIGKILL');
  }
});

test('release: a process that is gone is not waited for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-release-'));
  writeFileSync(join(dir, 'redis.pid'), '999999\n');
  spawnSync('mkfifo', [join(dir, 'start.gate')]);
  const t0 = Date.now();
  const r = spawnSync('/bin/sh', ['-c', releaseScript([{ dir, pidfile: join(dir, 'redis.pid') }])], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});
