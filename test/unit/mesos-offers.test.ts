// Mesos offers as placement input (src/mesos/offers.ts): which ports an agent can give, how CPU
// caps the instance count, what a launch takes from the offers, and which inventory host an
// agent is. The offers are the JSON the v1 scheduler API sends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceMemMB, place } from '../../src/cluster/placement.js';
import type { HostCapacity, Plan, PlannedInstance } from '../../src/cluster/types.js';
import type { MesosOffer, MesosResource } from '../../src/mesos/api.js';
import { AgentResources, hostOfOffer, instancePorts, taskMemMB } from '../../src/mesos/offers.js';

const HOSTS = [
  { name: 'cache-01', address: '10.0.0.1' },
  { name: 'cache-02', address: '10.0.0.2' },
  { name: 'cache-03', address: '10.0.0.3' },
];

function offer(id: string, agent: string, hostname: string, ip: string, resources: MesosResource[]): MesosOffer {
  return {
    id: { value: id },
    framework_id: { value: 'fw' },
    agent_id: { value: agent },
    hostname,
    url: { scheme: 'http', address: { hostname, ip, port: 5051 }, path: '/slave(1)' },
    resources,
  };
}

const scalar = (name: string, value: number, role = '*'): MesosResource => ({ name, type: 'SCALAR', scalar: { value }, role });
const ports = (ranges: [number, number][], role = '*'): MesosResource => ({ name: 'ports', type: 'RANGES', ranges: { range: ranges.map(([begin, end]) => ({ begin, end })) }, role });

const registered = (name: string, usedPorts: number[] = []): HostCapacity => ({
  name,
  address: '10.0.0.1',
  cpu: 8,
  memMB: 64_000,
  ports: { from: 7000, to: 7999 },
  usedPorts,
  usedMemMB: 0,
  versions: { redis: ['7.0.15'], memcache: ['1.6.18'] },
});

test('an agent is the inventory host with its IP, its name, or the short form of its FQDN', () => {
  assert.equal(hostOfOffer(offer('o', 'a', 'whatever', '10.0.0.2', []), HOSTS)?.name, 'cache-02');
  assert.equal(hostOfOffer(offer('o', 'a', 'cache-03', '192.168.1.1', []), HOSTS)?.name, 'cache-03');
  assert.equal(hostOfOffer(offer('o', 'a', 'cache-01.dc1.example.net', '192.168.1.1', []), HOSTS)?.name, 'cache-01');
  assert.equal(hostOfOffer(offer('o', 'a', '10.0.0.3', '10.0.0.3', []), HOSTS)?.name, 'cache-03');
  assert.equal(hostOfOffer(offer('o', 'a', 'cache-09', '10.0.0.9', []), HOSTS), undefined);
});

test('redis_cluster: a port is usable only with its bus port offered; allocations in etcd are left alone', () => {
  const a = new AgentResources(HOSTS[0]!, [offer('o1', 'a1', 'cache-01', '10.0.0.1', [scalar('cpus', 4), scalar('mem', 4096), ports([[7000, 7004], [17000, 17002]])])]);
  // 7001 is held by a cluster in etcd (and with it its bus port 17001).
  const cap = a.capacity('redis_cluster', 100, 0.1, registered('cache-01', [7001]))!;
  assert.deepEqual(cap.ports, { from: 7000, to: 7002 });
  assert.deepEqual(cap.usedPorts, [7001]);
  assert.deepEqual(cap.versions, { redis: ['7.0.15'], memcache: ['1.6.18'] });
  // memcache needs no bus port: every offered port but the held ones (7001, 17001).
  const mc = a.capacity('memcache', 100, 0.1, registered('cache-01', [7001]))!;
  assert.deepEqual(mc.ports, { from: 7000, to: 17002 });
  const usable = new Set(Array.from({ length: 17002 - 7000 + 1 }, (_, i) => 7000 + i).filter((p) => !mc.usedPorts.includes(p)));
  assert.deepEqual([...usable], [7000, 7002, 7003, 7004, 17000, 17002]);
  // Nothing usable at all: no capacity.
  const none = new AgentResources(HOSTS[0]!, [offer('o2', 'a1', 'cache-01', '10.0.0.1', [scalar('cpus', 4), scalar('mem', 4096), ports([[7000, 7001]])])]);
  assert.equal(none.capacity('redis_cluster', 100, 0.1, undefined), null);
});

test('the offered CPU caps how many instances the memory is counted for', () => {
  const a = new AgentResources(HOSTS[0]!, [offer('o1', 'a1', 'cache-01', '10.0.0.1', [scalar('cpus', 0.35), scalar('mem', 1000.5), ports([[7000, 7099]])])]);
  assert.equal(a.capacity('memcache', 100, 0.1, undefined)!.memMB, 3 * instanceMemMB(100));
  // With CPU to spare, the memory caps it: each task holds its instance and its executor.
  assert.equal(a.capacity('memcache', 100, 0.01, undefined)!.memMB, Math.floor(1000.5 / taskMemMB(100)) * instanceMemMB(100));
});

test('placement on offer capacities only picks offered ports with offered bus ports', () => {
  const agents = HOSTS.map(
    (h, i) =>
      new AgentResources(h, [
        offer(`o${i}`, `a${i}`, h.name, h.address, [scalar('cpus', 1), scalar('mem', 2048), ports([[31000 + i, 31005], [41002, 41010]])]),
      ]),
  );
  const caps = agents.map((a) => a.capacity('redis_cluster', 64, 0.1, registered(a.host.name))!);
  const plan = place({ name: 'c', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 64 }, caps);
  for (const i of plan.instances) {
    const a = agents.find((x) => x.host.name === i.host)!;
    assert.ok(a.fits(plan, i, 0.1), `${i.host}:${i.port} is not in its agent's offers`);
    assert.ok(i.port >= 31002 && i.port <= 31005, `port ${i.port}`);
  }
});

test('a launch takes cpus, mem and ports from the offers, keeping each resource\'s role', () => {
  const a = new AgentResources(HOSTS[0]!, [
    offer('o1', 'a1', 'cache-01', '10.0.0.1', [scalar('cpus', 0.05, 'cache'), scalar('mem', 50), ports([[7000, 7002], [17000, 17002]])]),
    offer('o2', 'a1', 'cache-01', '10.0.0.1', [scalar('cpus', 1), scalar('mem', 1000)]),
  ]);
  const plan: Plan = { cluster: 'c', type: 'redis_cluster', version: '7.0.15', maxmemoryMB: 64, instances: [] };
  const inst: PlannedInstance = { id: 'x'.repeat(40), host: 'cache-01', address: '10.0.0.1', port: 7001, role: 'master', shard: 0 };
  assert.deepEqual(instancePorts('redis_cluster', 7001), [7001, 17001]);
  const got = a.take(plan, inst, 0.1);
  assert.deepEqual(
    got.filter((r) => r.name === 'cpus').map((r) => [r.scalar!.value, r.role]),
    [
      [0.05, 'cache'],
      [0.05, '*'],
    ],
  );
  assert.deepEqual(got.filter((r) => r.name === 'mem').map((r) => r.scalar!.value), [50, taskMemMB(64) - 50]);
  assert.deepEqual(got.filter((r) => r.name === 'ports').flatMap((r) => r.ranges!.range), [
    { begin: 7001, end: 7001 },
    { begin: 17001, end: 17001 },
  ]);
  // What is left: no 7001 any more, 7000 and 7002 still; 0.95 cpus.
  assert.equal(a.fits(plan, inst, 0.1), false);
  assert.deepEqual(a.ports(), [7000, 7002, 17000, 17002]);
  assert.equal(a.scalar('cpus'), 0.95);
  assert.throws(() => a.take(plan, inst, 0.1), /do not hold 10\.0\.0\.1:7001/);
});
