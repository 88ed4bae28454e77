// The tables `create --check` and `show` print.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { place } from '../../src/cluster/placement.js';
import type { HostCapacity } from '../../src/cluster/types.js';
import { connectHint, hostTable, instanceRows, portRanges } from '../../src/cluster/view.js';

const hosts: HostCapacity[] = ['h1', 'h2', 'h3'].map((name, i) => ({
  name,
  address: `10.0.0.${i + 1}`,
  cpu: 4,
  memMB: 4096,
  ports: { from: 7000, to: 7099 },
  usedPorts: i === 0 ? [7000] : [],
  usedMemMB: i === 0 ? 1000 : 0,
  versions: { redis: ['7.0.15'], memcache: ['1.6.18'] },
}));

test('portRanges: runs of consecutive ports collapse', () => {
  assert.equal(portRanges([7000, 7001, 7002, 7005, 7007, 7008]), '7000-7002,7005,7007-7008');
  assert.equal(portRanges([7000]), '7000');
  assert.equal(portRanges([]), '');
});

test('hostTable: per host the instances, roles, ports and memory reserved afterwards', () => {
  const plan = place({ name: 'orders', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 100 }, hosts);
  const [header, ...rows] = hostTable(plan, hosts);
  assert.deepEqual(header, ['HOST', 'INSTANCES', 'MASTERS', 'REPLICAS', 'PORTS', 'MEMORY AFTER']);
  // 110 MB per instance (10 % overhead); h1 had 1000 MB and port 7000 taken already.
  assert.deepEqual(rows, [
    ['h1', '2', '1', '1', '7001-7002', '1220 of 4096 MB'],
    ['h2', '2', '1', '1', '7000-7001', '220 of 4096 MB'],
    ['h3', '2', '1', '1', '7000-7001', '220 of 4096 MB'],
  ]);
});

test('hostTable: memcache has no roles to count; unused hosts are left out', () => {
  const plan = place({ name: 'pages', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 64 }, hosts);
  const table = hostTable(plan, hosts);
  assert.deepEqual(table[0], ['HOST', 'INSTANCES', 'PORTS', 'MEMORY AFTER']);
  assert.equal(table.length, 3);
  assert.deepEqual(new Set(table.slice(1).map((r) => r[1])), new Set(['1']));
});

test('instanceRows: each master before its replicas, which name its address; slots on masters', () => {
  const plan = place({ name: 'orders', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 100 }, hosts);
  const rows = instanceRows([...plan.instances].reverse()).map((r) => r.cells);
  assert.deepEqual(rows.map((r) => r[2]), ['master', 'replica', 'master', 'replica', 'master', 'replica']);
  assert.deepEqual(rows.filter((r) => r[2] === 'master').map((r) => r[4]), ['0-5461', '5462-10922', '10923-16383']);
  for (let k = 0; k < rows.length; k += 2) {
    assert.equal(rows[k + 1]![3], rows[k]![0], 'the replica names its master');
    assert.notEqual(rows[k + 1]![1], rows[k]![1], 'on another host');
  }
});

test('connectHint: a redis_cluster through one node, each redis master with its own replicas, memcache nodes', () => {
  const req = { name: 'c', version: '7.0.15', maxmemoryMB: 64 } as const;
  const cluster = place({ ...req, type: 'redis_cluster', masters: 3, replicas: 1 }, hosts);
  assert.match(connectHint(cluster, false), /^connect: redis-cli -c -h 10\.0\.0\.\d -p \d+$/);
  assert.match(connectHint(cluster, true), / -a "\$PASSWORD"$/);

  const groups = place({ ...req, type: 'redis', masters: 2, replicas: 1 }, hosts);
  const lines = connectHint(groups, false).split('\n');
  assert.equal(lines.length, 2);
  for (const m of groups.instances.filter((i) => i.role === 'master')) {
    const r = groups.instances.find((i) => i.masterId === m.id)!;
    assert.ok(lines.includes(`connect: redis-cli -h ${m.address} -p ${m.port}   (master; replicas: ${r.address}:${r.port})`), lines.join('\n'));
  }
  const single = place({ ...req, type: 'redis', masters: 1, replicas: 0 }, hosts);
  assert.match(connectHint(single, false), /\(master; no replicas\)$/);

  const mc = place({ ...req, version: '1.6.18', type: 'memcache', masters: 1, replicas: 0, nodes: 2 }, hosts);
  assert.equal(connectHint(mc, false).split(', ').length, 2);
});
