// The supervisor script (templates/supervise.sh.hbs) run for real with sh, on a service that dies
// at once: it restarts it after 1, 2, 4 s (not every second for ever), and a TERM stops it at once,
// even in the middle of a wait, removing its pid files.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { shq } from '../../src/shell.js';
import { render } from '../../src/templates.js';

async function until(what: string, ok: () => boolean, ms: number, explain: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${explain()}`);
    await sleep(50);
  }
}

test('supervisor: a service that keeps dying is restarted after 1, 2, 4 s; TERM stops the supervisor during a wait', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-supervise-'));
  const log = join(dir, 'svc.log');
  const script = join(dir, 'svc.supervise.sh');
  writeFileSync(
    script,
    render('supervise.sh.hbs', {
      name: 'svc',
      dir: shq(dir),
      logfile: shq(log),
      commandLine: '/bin/false',
      env: {},
      pidfile: shq(join(dir, 'svc.pid')),
      supervisorPidfile: shq(join(dir, 'svc.supervisor.pid')),
    }),
  );
  const sup = spawn('/bin/sh', [script], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => sup.on('exit', (code) => r(code)));
  const delays = () => [...(existsSync(log) ? readFileSync(log, 'utf8') : '').matchAll(/svc exited \(status 1\), restarting in (\d+) s/g)].map((m) => Number(m[1]));
  try {
    await until('three restarts', () => delays().length >= 3, 15_000, () => (existsSync(log) ? readFileSync(log, 'utf8') : 'no log'));
    assert.deepEqual(delays().slice(0, 3), [1, 2, 4]);
    const t0 = Date.now();
    sup.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(Date.now() - t0 < 2000, `stopped in ${Date.now() - t0} ms, during a 4 s wait`);
    assert.equal(existsSync(join(dir, 'svc.pid')) || existsSync(join(dir, 'svc.supervisor.pid')), false, 'pid files removed');
  } finally {
    sup.kill('SIGKILL');
  }
});
