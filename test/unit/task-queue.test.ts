// What ovl keeps in etcd for fleet scale, against a real etcd on loopback: the queue of open
// tasks the scheduler reads on every wake-up, each cluster's task history, and the capacity
// cache a leading scheduler places from.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CapacityCache, fleetCapacity, hostsOf } from '../../src/cluster/capacity.js';
import { indexTasks, listTasks, newTask, openTasks, pruneTasks, putTask, TASK_HISTORY, tasksOf } from '../../src/cluster/task-store.js';
import { allocKey, queueKey } from '../../src/state/keys.js';
import { syntheticFleet } from '../helpers/fleets.js';
import { startLocalEtcd, type LocalEtcd } from '../helpers/local-etcd.js';
import { registerHosts, writeClusters } from '../helpers/state-fixture.js';

let etcd: LocalEtcd;
before(async () => {
  etcd = await startLocalEtcd();
});
after(() => etcd?.stop());

const request = (name: string) => ({ request: { name, type: 'memcache' as const, version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 64 } });

test('the queue holds the tasks not ended, in the order asked; a task leaves it with its last write', async () => {
  const c = etcd.client;
  const a = await newTask(c, 'create', 'qa', request('qa'));
  const b = await newTask(c, 'restart', 'qb', {});
  const a2 = await newTask(c, 'restart', 'qa', {});
  assert.deepEqual((await openTasks(c)).map((t) => t.id), [a.id, b.id, a2.id]);
  // Picked by cluster before any record is read.
  assert.deepEqual((await openTasks(c, (_, cluster) => cluster === 'qa')).map((t) => t.id), [a.id, a2.id]);
  await putTask(c, { ...a, state: 'running' });
  assert.equal((await openTasks(c)).length, 3, 'running is still open');
  await putTask(c, { ...a, state: 'done' });
  await putTask(c, { ...b, state: 'failed', error: 'x' });
  assert.deepEqual((await openTasks(c)).map((t) => t.id), [a2.id]);
  assert.equal((await c.get(queueKey(a.id)).string()), null);
  await putTask(c, { ...a2, state: 'done' });
  assert.deepEqual(await openTasks(c), []);
});

test('a cluster keeps its newest finished tasks: the history is read from its own index', async () => {
  const c = etcd.client;
  const ids: string[] = [];
  for (let k = 0; k < TASK_HISTORY + 5; k++) {
    const t = await newTask(c, 'restart', 'hist', {});
    await putTask(c, { ...t, state: 'done' });
    ids.push(t.id);
  }
  const other = await newTask(c, 'restart', 'hist-other', {});
  assert.deepEqual((await tasksOf(c, 'hist')).map((t) => t.id), ids);
  await pruneTasks(c, 'hist', new Set([ids[0]!]));
  // The newest 20 and the one kept; the other cluster's task untouched.
  assert.deepEqual((await tasksOf(c, 'hist')).map((t) => t.id), [ids[0]!, ...ids.slice(-TASK_HISTORY)]);
  assert.equal((await listTasks(c)).filter((t) => t.cluster === 'hist').length, TASK_HISTORY + 1);
  assert.deepEqual((await tasksOf(c, 'hist-other')).map((t) => t.id), [other.id]);
});

test('tasks written before the queue existed are indexed when a leader starts', async () => {
  const c = etcd.client;
  // As an older ovl wrote them: the task record alone.
  const old = { id: '20261101000000-restart-legacy-abcdef', kind: 'restart', cluster: 'legacy', state: 'pending', step: 'waiting for the scheduler', created: '2026-11-01T00:00:00.000Z', updated: '2026-11-01T00:00:00.000Z' };
  const oldDone = { ...old, id: '20261101000000-restart-legacy-fedcba', state: 'done' };
  await c.put(`/overlord/task/${old.id}`).value(JSON.stringify(old));
  await c.put(`/overlord/task/${oldDone.id}`).value(JSON.stringify(oldDone));
  assert.ok(!(await openTasks(c)).some((t) => t.id === old.id));
  assert.ok((await indexTasks(c)) >= 3);
  assert.deepEqual((await openTasks(c, (_, cluster) => cluster === 'legacy')).map((t) => t.id), [old.id]);
  assert.deepEqual((await tasksOf(c, 'legacy')).map((t) => t.id).sort(), [old.id, oldDone.id].sort());
  assert.equal(await indexTasks(c), 0, 'a second run has nothing to add');
});

test('the capacity cache follows etcd: clusters placed, hosts registered, allocations freed', async () => {
  const c = etcd.client;
  await registerHosts(c, syntheticFleet('random', 200, 3));
  await writeClusters(c, 0, 20, { workers: 2 });
  const cache = await CapacityCache.follow(c, () => {});
  try {
    const same = (x: Awaited<ReturnType<typeof fleetCapacity>>) => x.hosts.map((h) => [h.name, [...h.usedPorts].sort(), h.usedMemMB]).sort();
    assert.deepEqual(same(cache.read()), same(await fleetCapacityFresh()));
    // What this process has just written is in the next read, before any watch event.
    const host = cache.read().hosts.find((h) => !h.usedPorts.length)!;
    await c.put(allocKey(host.name)).value(JSON.stringify({ 7999: { cluster: 'mine', memMB: 100 } }));
    const next = (await fleetCapacity(c)).hosts.find((h) => h.name === host.name)!;
    assert.deepEqual([next.usedPorts, next.usedMemMB], [[7999], 100]);
    // More clusters (through fleetCapacity, which now answers from the cache), a new host, a
    // host's allocations gone: the cache sees each once etcd has it.
    await writeClusters(c, 20, 40, { workers: 2 });
    await registerHosts(c, syntheticFleet('identical', 1).map((h) => ({ ...h, name: 'late-host', address: '127.99.0.1' })));
    await c.delete().key(allocKey(cache.read().hosts.find((h) => h.usedPorts.length)!.name));
    const want = same(await fleetCapacityFresh());
    const until = Date.now() + 5000;
    while (JSON.stringify(same(cache.read())) !== JSON.stringify(want) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(same(cache.read()), want);
    assert.ok(cache.read().hosts.some((h) => h.name === 'late-host'));
  } finally {
    await cache.close();
  }

  /** A read of etcd itself, not of the cache. */
  async function fleetCapacityFresh() {
    const caps = Object.values((await c.getAll().prefix('/overlord/fleet/hosts/').json()) as Record<string, never>);
    const res = await c.getAll().prefix('/overlord/alloc/').exec();
    return hostsOf(caps, new Map(res.kvs.map((kv) => [kv.key.toString().slice('/overlord/alloc/'.length), { alloc: JSON.parse(kv.value.toString()), rev: String(kv.mod_revision) }])));
  }
});
