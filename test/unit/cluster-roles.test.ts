// The plan after a switchover (roles.ts): a replica takes its shard's slots and epoch, the old
// master and the other replicas replicate it, the master stays first in its shard, nothing
// else changes; and the nodes.conf rendered from the new plan says so.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderNodesConfs } from '../../src/cluster/nodesconf.js';
import { place } from '../../src/cluster/placement.js';
import { cannotPromote, promote, shardMasterOf } from '../../src/cluster/roles.js';
import { loopbackHosts } from '../helpers/local-redis.js';

const plan = place({ name: 'r', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 2, maxmemoryMB: 64 }, loopbackHosts(4, '127.9.9', { from: 7000, to: 7099 }));

test('a replica of shard 1 becomes its master: slots and epoch move with the role, the shard follows it, other shards untouched', () => {
  const old = plan.instances.find((i) => i.shard === 1 && i.role === 'master')!;
  const [r1, r2] = plan.instances.filter((i) => i.shard === 1 && i.role === 'replica');
  const next = promote(plan, r1!.id);
  const shard = next.instances.filter((i) => i.shard === 1);
  assert.equal(shard[0]!.id, r1!.id, 'the master comes first in its shard');
  assert.equal(shard[0]!.role, 'master');
  assert.equal(shard[0]!.masterId, undefined);
  assert.deepEqual(shard[0]!.slots, old.slots);
  assert.equal(shard[0]!.configEpoch, old.configEpoch);
  const demoted = shard.find((i) => i.id === old.id)!;
  assert.deepEqual([demoted.role, demoted.masterId, demoted.slots, demoted.configEpoch], ['replica', r1!.id, undefined, undefined]);
  assert.equal(shard.find((i) => i.id === r2!.id)!.masterId, r1!.id);
  assert.deepEqual(next.instances.filter((i) => i.shard !== 1), plan.instances.filter((i) => i.shard !== 1));
  assert.deepEqual(next.instances.map((i) => i.shard), plan.instances.map((i) => i.shard), 'shards stay in order');
  assert.equal(shardMasterOf(next, demoted)!.id, r1!.id);
  // nodes.conf rendered from the new plan (a node installed afresh) gives the new master the slots.
  const conf = renderNodesConfs(next).get(r1!.id)!;
  assert.match(conf, new RegExp(`^${r1!.id} \\S+ myself,master - .* ${old.slots!.map(([a, b]) => `${a}-${b}`).join(' ')}$`, 'm'));
  assert.match(conf, new RegExp(`^${old.id} \\S+ slave ${r1!.id} `, 'm'));
});

test('promoting the master is no change; a memcache node or an unknown id is an error', () => {
  const m = plan.instances.find((i) => i.role === 'master')!;
  assert.equal(promote(plan, m.id), plan);
  assert.throws(() => promote(plan, 'f'.repeat(40)), /is not an instance of r/);
  const mc = place({ name: 'm', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 64 }, loopbackHosts(2, '127.9.8', { from: 7000, to: 7099 }));
  assert.throws(() => promote(mc, mc.instances[0]!.id), /only a replica can take its shard over/);
});

test('refused: a shard member still joining (restart finishes the join), a plain Redis without FAILOVER (before 6.2)', () => {
  const r = plan.instances.find((i) => i.role === 'replica' && i.shard === 2)!;
  const joining = { ...plan, instances: plan.instances.map((i) => (i.shard === 2 && i.id !== r.id && i.role === 'replica' ? { ...i, joining: true } : i)) };
  assert.match(cannotPromote(joining, r)!, /of shard 2 has not joined the cluster yet \(ovl cluster restart r finishes the join\)/);
  assert.throws(() => promote(joining, r.id), /has not joined/);
  assert.equal(cannotPromote(plan, r), undefined);
  const old = place({ name: 'p', type: 'redis', version: '6.0.16', masters: 1, replicas: 1, maxmemoryMB: 64 }, loopbackHosts(2, '127.9.7', { from: 7000, to: 7099 }).map((h) => ({ ...h, versions: { redis: ['6.0.16'] } })));
  assert.match(cannotPromote(old, old.instances[1]!)!, /redis 6.0.16 has no FAILOVER command/);
});
