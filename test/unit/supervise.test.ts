// The supervisor script (templates/supervise.sh.hbs) run for real with sh, on a service that dies
// at once: it restarts it after 1, 2, 4 s (not every second for ever), keeps only the newest of the
// log files the daemon writes per start (as glog does), and a TERM stops it at once, even in the
// middle of a wait, removing its pid files.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

test('supervisor: a service that keeps dying is restarted after 1, 2, 4 s, its own log files kept to the newest one; TERM stops the supervisor during a wait', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-supervise-'));
  const log = join(dir, 'svc.log');
  const script = join(dir, 'svc.supervise.sh');
  writeFileSync(
    script,
    render('supervise.sh.hbs', {
      name: 'svc',
      dir: shq(dir),
      logfile: shq(log),
      // A new log file per start, as glog writes (name.host.user.log.LEVEL.time.pid), then death.
      commandLine: `/bin/sh -c ${shq(`touch ${shq(dir)}/svc.h.root.log.INFO.$(date +%s%N).$$; exit 1`)}`,
      env: {},
      ownLogs: { pattern: `${shq(dir)}/svc.*.log.*`, from: 2 },
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
    // Pruned before each start: the newest and the one the last start wrote (three starts or more).
    const own = readdirSync(dir).filter((f) => f.startsWith('svc.h.root.log.'));
    assert.ok(own.length >= 1 && own.length <= 2, `own log files: ${own.join(' ')}`);
    assert.ok(existsSync(log), 'the supervisor log is not one of them');
    const t0 = Date.now();
    sup.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(Date.now() - t0 < 2000, `stopped in ${Date.now() - t0} ms, during a 4 s wait`);
    assert.equal(existsSync(join(dir, 'svc.pid')) || existsSync(join(dir, 'svc.supervisor.pid')), false, 'pid files removed');
  } finally {
    sup.kill('SIGKILL');
  }
});
