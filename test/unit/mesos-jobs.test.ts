// The framework's bookkeeping without a master: when a start is done, what it reports, when an
// instance without an offer counts as failed, and the relaunch backoff.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TaskContext } from '../../src/cluster/tasks/context.js';
import type { Plan } from '../../src/cluster/types.js';
import { checkDone, expireStarts, newJob, startReports, waits } from '../../src/mesos/jobs.js';
import { differences } from '../../src/mesos/reconcile.js';
import { Supervisor } from '../../src/mesos/supervisor.js';

const plan = {
  cluster: 'c1',
  type: 'redis',
  version: '7.0.15',
  maxmemoryMB: 64,
  instances: [
    { id: 'a', host: 'h1', address: '127.0.0.1', port: 7000, role: 'master', shard: 0 },
    { id: 'b', host: 'h2', address: '127.0.0.2', port: 7000, role: 'replica', shard: 0, masterId: 'a' },
    { id: 'c', host: 'h3', address: '127.0.0.3', port: 7000, role: 'replica', shard: 0, masterId: 'a' },
  ],
} as unknown as Plan;

function startJob() {
  const job = newJob({ id: 't/start-1', kind: 'start', ctx: {} as TaskContext, task: { id: 't' } as never, plan });
  job.wanted = new Set(['a', 'b', 'c']);
  return job;
}

test('a start settles once every wanted instance runs or failed, and reports each as the SSH path does', async () => {
  const job = startJob();
  job.already.add('a');
  job.running.add('a');
  job.pending.set('b', { since: 0, readyAt: 0, relocate: false, exclude: new Set() });
  job.pending.set('c', { since: 0, readyAt: 0, relocate: false, exclude: new Set() });
  checkDone(job);
  assert.equal(job.settled, false);
  assert.equal(waits(job), true);
  job.pending.delete('b');
  job.launched.set('b', 'ovl.c1.127.0.0.2_7000.x1');
  job.running.add('b');
  job.pending.delete('c');
  job.failed.set('c', 'TASK_FAILED (REASON_COMMAND_EXECUTOR_FAILED): Command exited with status 1');
  checkDone(job);
  assert.equal(job.settled, true);
  await job.done;
  assert.deepEqual([...startReports(job).values()], [
    { addr: '127.0.0.1:7000', status: 'running', detail: 'running on Mesos' },
    { addr: '127.0.0.2:7000', status: 'started', detail: 'Mesos task ovl.c1.127.0.0.2_7000.x1' },
    { addr: '127.0.0.3:7000', status: 'failed', detail: 'TASK_FAILED (REASON_COMMAND_EXECUTOR_FAILED): Command exited with status 1' },
  ]);
});

test('an instance of a start that gets no offer from its agent in time fails, naming the host; one still in time waits', () => {
  const job = startJob();
  job.running.add('a');
  job.pending.set('b', { since: 1000, readyAt: 0, relocate: false, exclude: new Set() });
  job.pending.set('c', { since: 20_000, readyAt: 0, relocate: false, exclude: new Set() });
  expireStarts(job, 32_000, 30_000);
  assert.match(job.failed.get('b')!, /^no offer from the Mesos agent on h2 held its port and memory within 30 s/);
  assert.equal(job.failed.has('c'), false);
  assert.equal(job.settled, false);
  expireStarts(job, 51_000, 30_000);
  assert.equal(job.settled, true);
});

test('an instance of a start launched but never running (no status update) fails after the run deadline', () => {
  const job = startJob();
  job.running.add('a');
  job.failed.set('c', 'TASK_FAILED');
  job.launched.set('b', 'ovl.c1.127.0.0.2_7000.x1');
  job.launchedAt.set('b', 1000);
  expireStarts(job, 100_000, 30_000, 180_000);
  assert.equal(job.settled, false);
  expireStarts(job, 182_000, 30_000, 180_000);
  assert.match(job.failed.get('b')!, /^launched 181 s ago and not running/);
  assert.equal(job.settled, true);
});

test('a create is never expired as a start is (it moves its instances instead)', () => {
  const job = newJob({ id: 't', kind: 'create', ctx: {} as TaskContext, task: { id: 't' } as never, plan });
  job.pending.set('a', { since: 0, readyAt: 0, relocate: false, exclude: new Set() });
  expireStarts(job, 100_000, 30_000);
  assert.equal(job.failed.size, 0);
  assert.equal(job.pending.size, 1);
});

test('relaunch backoff: 1, 2, 4 ... s after each failure, capped', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => Supervisor.delay(n, 1000, 60_000)), [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
});

test('reconciliation: tasks of instances ovl does not have are killed; settled Mesos clusters get what no task runs relaunched; busy and SSH-made clusters are left alone', () => {
  const cfg = (name: string, extra: object = {}) => ({ name, state: 'running', mesos: true, ...extra }) as never;
  const planOf = (cluster: string) => ({ ...plan, cluster }) as Plan;
  const live = new Map([
    ['ovl.c1.127.0.0.1_7000.aa', 'agent-1'],
    ['ovl.c1.127.0.0.9_7000.ab', 'agent-9'], // not in c1's plan (moved away)
    ['ovl.gone.127.0.0.1_7001.ac', 'agent-1'], // cluster deleted
    ['ovl.busy.127.0.0.5_7000.ad', 'agent-5'], // a task of busy runs now
    ['someone-else', 'agent-1'],
  ]);
  const plans = new Map([['c1', planOf('c1')], ['ssh', planOf('ssh')], ['busy', planOf('busy')], ['new', planOf('new')]]);
  const d = differences(live, [cfg('c1'), cfg('ssh', { mesos: undefined }), cfg('busy'), cfg('new', { state: 'creating' })], plans, new Set(['busy']));
  assert.deepEqual(d.kill, [['ovl.c1.127.0.0.9_7000.ab', 'agent-9'], ['ovl.gone.127.0.0.1_7001.ac', 'agent-1']]);
  assert.deepEqual(d.relaunch, [['c1', '127.0.0.2:7000'], ['c1', '127.0.0.3:7000']]);
});
