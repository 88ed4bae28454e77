// What a scale adds and removes (src/cluster/grow.ts): create's placement rules kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shapeChange, shapeOf } from '../../src/cluster/grow.js';
import { place, PlacementError } from '../../src/cluster/placement.js';
import type { ClusterRequest, HostCapacity, Plan } from '../../src/cluster/types.js';
import { loopbackHosts } from '../helpers/local-redis.js';

const req = (o: Partial<ClusterRequest> = {}): ClusterRequest => ({ name: 'c', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 64, ...o });

/** Hosts as fleetCapacity gives them after `plan` was committed. */
function fleetAfter(plan: Plan, n = 4): HostCapacity[] {
  return loopbackHosts(n, '127.0.3', { from: 7000, to: 7099 }).map((h) => {
    const mine = plan.instances.filter((i) => i.host === h.name);
    return { ...h, usedPorts: mine.map((i) => i.port), usedMemMB: mine.length * 71 };
  });
}

const apply = (plan: Plan, ch: ReturnType<typeof shapeChange>): Plan => ({ ...plan, instances: [...plan.instances.filter((i) => !ch.remove.includes(i)), ...ch.add] });

function assertRules(plan: Plan): void {
  const byId = new Map(plan.instances.map((i) => [i.id, i]));
  const hostsOf = new Map<number, string[]>();
  for (const i of plan.instances) hostsOf.set(i.shard, [...(hostsOf.get(i.shard) ?? []), i.host]);
  for (const [s, hs] of hostsOf) assert.equal(new Set(hs).size, hs.length, `shard ${s} has two members on one host: ${hs.join(', ')}`);
  for (const r of plan.instances.filter((i) => i.role === 'replica')) assert.ok(byId.get(r.masterId!), `replica ${r.port}: master in the plan`);
  const masters = new Map<string, number>();
  for (const m of plan.instances.filter((i) => i.role === 'master')) masters.set(m.host, (masters.get(m.host) ?? 0) + 1);
  const counts = [...masters.values()];
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1 || masters.size < 4, `masters per host ${JSON.stringify([...masters])}`);
  const addrs = plan.instances.map((i) => `${i.address}:${i.port}`);
  assert.equal(new Set(addrs).size, addrs.length, 'one instance per address');
}

test('3x1 -> 6x1 on 4 hosts: three shards of a master and a replica, masters spread 2/2/1/1, no shard on one host, new ports free; and back to 3x1', () => {
  const plan = place(req(), loopbackHosts(4, '127.0.3', { from: 7000, to: 7099 }));
  const up = shapeChange(plan, { masters: 6, replicas: 1, nodes: 0 }, fleetAfter(plan));
  assert.deepEqual(up.remove, []);
  assert.equal(up.add.filter((i) => i.role === 'master').length, 3);
  assert.equal(up.add.filter((i) => i.role === 'replica').length, 3);
  assert.ok(up.add.every((i) => i.joining), 'new nodes join the running cluster');
  assert.ok(up.add.filter((i) => i.role === 'master').every((m) => m.slots?.length === 0), 'new masters start without slots');
  const six = apply(plan, up);
  assertRules(six);
  assert.deepEqual(shapeOf(six), { masters: 6, replicas: 1, nodes: 0 });
  const down = shapeChange(six, { masters: 3, replicas: 1, nodes: 0 }, fleetAfter(six));
  assert.deepEqual(down.add, []);
  assert.equal(down.remove.length, 6, 'three shards: each master and its replica');
  const three = apply(six, down);
  assertRules(three);
  assert.deepEqual(shapeOf(three), { masters: 3, replicas: 1, nodes: 0 });
});

test('replicas 1 -> 2 -> 1: each shard one more replica, away from its members; then one less', () => {
  const plan = place(req(), loopbackHosts(4, '127.0.3', { from: 7000, to: 7099 }));
  const up = shapeChange(plan, { masters: 3, replicas: 2, nodes: 0 }, fleetAfter(plan));
  assert.equal(up.add.length, 3);
  const two = apply(plan, up);
  assertRules(two);
  assert.equal(shapeOf(two).replicas, 2);
  const down = shapeChange(two, { masters: 3, replicas: 1, nodes: 0 }, fleetAfter(two));
  assert.equal(down.remove.length, 3);
  assert.ok(down.remove.every((i) => i.role === 'replica'));
  assertRules(apply(two, down));
});

test('memcache 4 -> 6 -> 4: new nodes on the hosts with fewest; removal from the most loaded', () => {
  const plan = place(req({ type: 'memcache', version: '1.6.18', nodes: 4 }), loopbackHosts(4, '127.0.3', { from: 7000, to: 7099 }));
  const up = shapeChange(plan, { masters: 0, replicas: 0, nodes: 6 }, fleetAfter(plan));
  assert.equal(up.add.length, 2);
  assert.equal(new Set(up.add.map((i) => i.host)).size, 2, 'the two new nodes on two hosts');
  const six = apply(plan, up);
  const down = shapeChange(six, { masters: 0, replicas: 0, nodes: 4 }, fleetAfter(six));
  assert.equal(down.remove.length, 2);
  assert.equal(new Set(apply(six, down).instances.map((i) => i.host)).size, 4, 'one node per host again');
});

test('a fleet too small: a PlacementError naming what is missing', () => {
  const plan = place(req({ replicas: 2 }), loopbackHosts(3, '127.0.3', { from: 7000, to: 7099 }));
  assert.throws(() => shapeChange(plan, { masters: 3, replicas: 3, nodes: 0 }, fleetAfter(plan, 3)), (e: Error) => e instanceof PlacementError && /each hold a member of that shard/.test(e.message));
  const full = fleetAfter(plan, 3).map((h) => ({ ...h, usedMemMB: h.memMB }));
  assert.throws(() => shapeChange(plan, { masters: 4, replicas: 2, nodes: 0 }, full), /has a free port .* and 71 MB free/);
});
