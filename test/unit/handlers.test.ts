// The engine's handlers on a fake host whose commands run in a local sh (a scratch directory, no
// SSH): a notified handler runs only when its debt is still on the host when it is due (a service
// started meanwhile with the new config owes nothing); a debt left by an earlier run is paid.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runHostPlan } from '../../src/engine/host.js';
import { command } from '../../src/ops/command.js';
import { file } from '../../src/ops/files.js';
import { change, exec, ok, type Handler, type HostContext, type OpResult } from '../../src/ops/types.js';
import { shq } from '../../src/shell.js';

function localHost(): HostContext {
  const sh = (script: string, stdin?: string | Buffer) => {
    const r = spawnSync('/bin/sh', ['-c', script], { input: stdin, encoding: 'utf8' });
    return { code: r.status ?? 255, stdout: r.stdout, stderr: r.stderr };
  };
  const remote = {
    exec: async (script: string, stdin?: string | Buffer) => sh(script, stdin),
    run: async (script: string, stdin?: string | Buffer) => {
      const r = sh(script, stdin);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout;
    },
  };
  return { host: { name: 'local' }, facts: { systemd: false }, remote, check: false } as unknown as HostContext;
}

function rig() {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-handlers-'));
  const marker = join(dir, 'pending', 'svc.restart');
  const log = join(dir, 'log');
  const events = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);
  const handler: Handler = {
    marker,
    operation: {
      title: 'restart svc',
      fact: { probe: `[ -e ${shq(marker)} ] && echo pending || echo none`, parse: (out) => out.trim() === 'pending' },
      plan: (owed) => (owed ? change('restarted', [exec(`echo restarted >> ${shq(log)}; rm -f ${shq(marker)}`)]) : ok('no restart pending')),
    },
  };
  const plan = (config: string) => ({
    operations: [
      file(join(dir, 'svc.conf'), config, { notify: ['restart'] }),
      // Like a service started with the current config: the debt is paid by the start itself.
      command('svc running', `echo started >> ${shq(log)}; touch ${shq(join(dir, 'running'))}; rm -f ${shq(marker)}`, { creates: join(dir, 'running') }),
    ],
    handlers: { restart: handler },
  });
  const run = async (config: string) => {
    const results: OpResult[] = [];
    const status = await runHostPlan(localHost(), 'svc', plan(config), (r) => results.push(r));
    return { status, results };
  };
  return { dir, marker, events, run };
}

test('handlers: a start with the new config pays the debt; a later change restarts once; a debt left behind is paid by the next run', async () => {
  const r = rig();
  const first = await r.run('a=1\n');
  assert.equal(first.status, 'changed');
  assert.deepEqual(r.events(), ['started'], 'a fresh service is started, not restarted too');

  const same = await r.run('a=1\n');
  assert.equal(same.status, 'ok');
  assert.deepEqual(r.events(), ['started']);

  await r.run('a=2\n');
  assert.deepEqual(r.events(), ['started', 'restarted'], 'a config change restarts the running service once');

  // A run that failed after the change left the marker: the next run pays it.
  writeFileSync(r.marker, '');
  const owed = await r.run('a=2\n');
  assert.deepEqual(r.events(), ['started', 'restarted', 'restarted']);
  assert.ok(owed.results.some((x) => x.title === 'handler: restart svc (owed by an earlier run)' && x.status === 'changed'));
});
