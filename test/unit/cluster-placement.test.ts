import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NODE_ID_RE } from '../../src/cluster/nodeid.js';
import { instanceMemMB, PlacementError, placeChunk, placeDist, replicaMatrix, waterFill } from '../../src/cluster/placement.js';
import { divideSlots } from '../../src/cluster/slots.js';
import { relocation } from '../../src/cluster/placement.js';
import type { ClusterRequest, HostCapacity, Plan } from '../../src/cluster/types.js';
import { rng } from '../helpers/fleets.js';

function fleet(n: number, over: Partial<HostCapacity> = {}): HostCapacity[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `h${String(i + 1).padStart(2, '0')}`,
    address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    cpu: 16,
    memMB: 256 * 1024,
    ports: { from: 7000, to: 7999 },
    usedPorts: [],
    usedMemMB: 0,
    versions: { redis: ['6.2.14', '7.0.15'], memcache: ['1.6.18'] },
    ...over,
  }));
}

function rc(masters: number, replicas: number, maxmemoryMB = 256): ClusterRequest {
  return { name: 'c1', type: 'redis_cluster', version: '7.0.15', masters, replicas, maxmemoryMB };
}

const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);

/** Hard invariants of any redis plan, whatever the fleet. */
function checkGroups(plan: Plan, req: ClusterRequest, hosts: HostCapacity[]): void {
  const M = req.masters;
  const R = req.replicas;
  assert.equal(plan.instances.length, M * (R + 1));
  const ids = new Set(plan.instances.map((i) => i.id));
  assert.equal(ids.size, plan.instances.length, 'ids unique');
  for (const i of plan.instances) assert.match(i.id, NODE_ID_RE);
  const byHost = new Map(hosts.map((h) => [h.name, h]));
  const slots = req.type === 'redis_cluster' ? divideSlots(M) : [];
  const epochs = new Set<number>();
  for (let s = 0; s < M; s++) {
    const members = plan.instances.filter((i) => i.shard === s);
    const masters = members.filter((i) => i.role === 'master');
    assert.equal(masters.length, 1, `shard ${s} has one master`);
    const master = masters[0]!;
    assert.equal(members.length, R + 1);
    assert.equal(new Set(members.map((i) => i.host)).size, R + 1, `shard ${s}: master and replicas on distinct hosts`);
    for (const r of members.filter((i) => i.role === 'replica')) assert.equal(r.masterId, master.id);
    if (req.type === 'redis_cluster') {
      assert.deepEqual(master.slots, slots[s]);
      assert.ok(master.configEpoch! >= 1 && master.configEpoch! <= M);
      epochs.add(master.configEpoch!);
    }
  }
  if (req.type === 'redis_cluster') assert.equal(epochs.size, M, 'config epochs distinct');
  checkPortsAndMemory(plan, hosts, req.type === 'redis_cluster');
  for (const i of plan.instances) assert.equal(i.address, byHost.get(i.host)!.address);
}

function checkPortsAndMemory(plan: Plan, hosts: HostCapacity[], bus: boolean): void {
  for (const h of hosts) {
    const mine = plan.instances.filter((i) => i.host === h.name);
    const ports = mine.map((i) => i.port);
    const occupied = new Set<number>();
    for (const u of h.usedPorts) occupied.add(u).add(u + 10000);
    for (const p of ports) {
      assert.ok(p >= h.ports.from && p <= h.ports.to, `${h.name}: port ${p} in range`);
      assert.ok(!occupied.has(p), `${h.name}: port ${p} is free`);
      occupied.add(p);
      if (bus) {
        assert.ok(p + 10000 <= 65535, `${h.name}: bus port of ${p} exists`);
        assert.ok(!occupied.has(p + 10000), `${h.name}: bus port of ${p} is free`);
        occupied.add(p + 10000);
      }
    }
    const need = mine.length * instanceMemMB(plan.maxmemoryMB);
    assert.ok(need <= h.memMB - h.usedMemMB, `${h.name}: ${need} MB fit`);
  }
}

/** X[a][b]: replicas of a's masters on b. */
function replicaRows(plan: Plan, hosts: HostCapacity[]): Map<string, Map<string, number>> {
  const hostOf = new Map(plan.instances.map((i) => [i.id, i.host]));
  const rows = new Map(hosts.map((h) => [h.name, new Map(hosts.filter((o) => o.name !== h.name).map((o) => [o.name, 0]))]));
  for (const i of plan.instances) {
    if (i.role !== 'replica') continue;
    const row = rows.get(hostOf.get(i.masterId!)!)!;
    row.set(i.host, row.get(i.host)! + 1);
  }
  return rows;
}

/** Balance on a uniform fleet: masters, totals, and each host's replicas over the others. */
function checkBalance(plan: Plan, hosts: HostCapacity[], R: number): void {
  const count = (pred: (h: string) => (i: Plan['instances'][number]) => boolean) =>
    hosts.map((h) => plan.instances.filter(pred(h.name)).length);
  const masters = count((h) => (i) => i.host === h && i.role === 'master');
  const totals = count((h) => (i) => i.host === h);
  assert.ok(spread(masters) <= 1, `masters per host ${masters}`);
  assert.ok(spread(totals) <= 1, `instances per host ${totals}`);
  const rows = replicaRows(plan, hosts);
  hosts.forEach((h, k) => {
    const row = [...rows.get(h.name)!.values()];
    const targets = row.filter((x) => x > 0).length;
    const want = Math.min(2, hosts.length - 1, masters[k]! * R);
    assert.ok(targets >= want, `${h.name}: replicas of its masters on ${targets} hosts, want >= ${want} (${row})`);
    assert.ok(spread(row) <= 1, `${h.name}: replicas of its masters spread ${row}`);
  });
}

const strip = (p: Plan) => p.instances.map(({ id: _id, masterId: _m, ...rest }) => rest);

for (const [M, R, H] of [
  [3, 1, 3],
  [12, 1, 4],
  [100, 1, 10],
  [5, 2, 6],
  [7, 1, 3],
  [10, 2, 4],
  [2, 2, 6],
  [16, 1, 5],
  [30, 0, 4],
  [50, 3, 7],
] as const) {
  test(`placeChunk ${M}x${R} on ${H} hosts: anti-affinity, balance, failover spread, ports`, () => {
    const hosts = fleet(H);
    const req = rc(M, R);
    const plan = placeChunk(req, hosts);
    checkGroups(plan, req, hosts);
    checkBalance(plan, hosts, R);
  });
}

test('placeChunk 12x1 on 4 hosts: every host fails over to all three others', () => {
  const hosts = fleet(4);
  const plan = placeChunk(rc(12, 1), hosts);
  for (const [, row] of replicaRows(plan, hosts)) assert.deepEqual([...row.values()], [1, 1, 1]);
});

test('placeChunk is deterministic (hosts, ports, roles, slots); ids are random', () => {
  const hosts = fleet(6);
  const a = placeChunk(rc(20, 2), hosts);
  const b = placeChunk(rc(20, 2), [...hosts].reverse());
  assert.deepEqual(strip(a), strip(b));
  assert.notEqual(a.instances[0]!.id, b.instances[0]!.id);
  let n = 0;
  const fixed = placeChunk(rc(3, 1), fleet(3), { newId: () => (n++).toString(16).padStart(40, '0') });
  assert.equal(fixed.instances[0]!.id, '0'.repeat(40));
  assert.equal(fixed.instances[1]!.masterId, '0'.repeat(40));
});

test('ports: skip used ports and their bus ports, masters first, ascending', () => {
  const hosts = fleet(3, { ports: { from: 7000, to: 17100 }, usedPorts: [7000, 7002, 7001] });
  // usedPorts 7000, 7002, 7001 -> their bus ports 17000..17002 are taken as well.
  const plan = placeChunk(rc(6, 1), hosts);
  checkGroups(plan, rc(6, 1), hosts);
  for (const h of hosts) {
    const mine = plan.instances.filter((i) => i.host === h.name);
    assert.deepEqual(mine.map((i) => i.port).sort((x, y) => x - y), [7003, 7004, 7005, 7006]);
    const masterPorts = mine.filter((i) => i.role === 'master').map((i) => i.port);
    assert.deepEqual(masterPorts, [7003, 7004]);
  }
  // A range spanning more than 10000 ports: a port is skipped when it is the bus port of one
  // chosen before it (17000 and 17001 below), and used ports block their bus ports too.
  const used = Array.from({ length: 9998 }, (_, k) => 7002 + k); // 7002..16999 -> buses 17002..26999
  const wide = fleet(3, { ports: { from: 7000, to: 17001 }, usedPorts: used });
  const p2 = placeChunk(rc(3, 1), wide);
  checkGroups(p2, rc(3, 1), wide);
  assert.deepEqual([...new Set(p2.instances.map((i) => i.port))].sort(), [7000, 7001]);
  assert.throws(() => placeChunk(rc(4, 1), wide), (e: unknown) => e instanceof PlacementError && /only 6 usable free ports/.test(e.message));
  const bus = fleet(2, { ports: { from: 55534, to: 55540 } });
  assert.deepEqual(placeChunk(rc(2, 1), bus).instances.map((i) => i.port).sort(), [55534, 55534, 55535, 55535]);
});

test('ports above 55535 have no bus port: redis_cluster cannot use them, redis can', () => {
  const hosts = fleet(3, { ports: { from: 60000, to: 60010 } });
  assert.throws(() => placeChunk(rc(3, 1), hosts), (e: unknown) => e instanceof PlacementError && /fleet has 0 hosts with free ports/.test(e.message));
  const plan = placeDist({ name: 'r1', type: 'redis', version: '7.0.15', masters: 1, replicas: 2, maxmemoryMB: 64 }, hosts);
  assert.equal(plan.instances.length, 3);
});

test('not enough hosts for replicas=2', () => {
  assert.throws(
    () => placeChunk(rc(4, 2), fleet(2)),
    (e: unknown) =>
      e instanceof PlacementError && e.message.includes('needs 12 ports (with bus port + 10000) on 3 distinct hosts, fleet has 2 hosts with free ports'),
  );
});

test('ports exhausted', () => {
  // 3 hosts x 2 free ports = 6 < 8.
  const hosts = fleet(3, { ports: { from: 7000, to: 7003 }, usedPorts: [7000, 7001] });
  assert.throws(
    () => placeChunk(rc(4, 1), hosts),
    (e: unknown) => e instanceof PlacementError && /needs 8 ports .*fleet has only 6 usable free ports/.test(e.message),
  );
  // Ports on one host beyond one per shard do not help: 2 masters x 2 = 4 instances, but a host
  // can only hold one instance of each shard.
  const lopsided = [...fleet(1, { ports: { from: 7000, to: 7100 } }), ...fleet(2, { ports: { from: 7000, to: 7000 } }).slice(1)];
  assert.throws(
    () => placeChunk(rc(3, 1), lopsided),
    (e: unknown) => e instanceof PlacementError && /at most 3 per host/.test(e.message),
  );
});

test('memory: per-instance reservation includes 10 % overhead', () => {
  assert.equal(instanceMemMB(256), 282);
  assert.equal(instanceMemMB(1000), 1100);
  assert.equal(instanceMemMB(100), 110, 'no floating-point extra MB');
  const small = fleet(4, { memMB: 4096, usedMemMB: 4096 - 281 }); // 281 MB free < 282
  assert.throws(
    () => placeChunk(rc(2, 1), small),
    (e: unknown) => e instanceof PlacementError && e.message.includes('needs 4 x 282 MB on 2 distinct hosts, only 0 hosts have that much free memory'),
  );
  const two = [...fleet(2, { memMB: 1000 }), ...fleet(4, { memMB: 100 }).slice(2)];
  assert.throws(
    () => placeChunk(rc(4, 1), two),
    (e: unknown) => e instanceof PlacementError && /needs 8 x 282 MB .*free memory for only 6/.test(e.message),
  );
  // Exactly enough: 282 MB free on each of 2 hosts.
  const exact = fleet(2, { memMB: 282 });
  checkGroups(placeChunk(rc(1, 1), exact), rc(1, 1), exact);
});

test('memory and ports on different hosts', () => {
  const hosts = [
    ...fleet(2, { ports: { from: 7000, to: 7000 }, memMB: 100 }),
    ...fleet(4, { memMB: 10000 }).slice(2).map((h) => ({ ...h, usedPorts: Array.from({ length: 1000 }, (_, k) => 7000 + k) })),
  ];
  assert.throws(
    () => placeChunk(rc(1, 1), hosts),
    (e: unknown) => e instanceof PlacementError && /free memory and free ports are on different hosts/.test(e.message),
  );
});

test('version must be installed', () => {
  const hosts = fleet(3).map((h, i) => (i === 0 ? h : { ...h, versions: { redis: ['6.2.14'] } }));
  assert.throws(
    () => placeChunk(rc(2, 1), hosts),
    (e: unknown) => e instanceof PlacementError && e.message.includes('needs redis 7.0.15 on 2 distinct hosts, only 1 of 3 hosts has it installed'),
  );
});

test('invalid requests and fleets are refused', () => {
  assert.throws(() => placeChunk(rc(0, 1), fleet(3)), /masters/);
  assert.throws(() => placeChunk(rc(16385, 0), fleet(3)), /masters/);
  assert.throws(() => placeChunk({ ...rc(3, 1), name: 'Bad Name' }, fleet(3)), /name/);
  assert.throws(() => placeChunk({ ...rc(3, 1), maxmemoryMB: 0 }, fleet(3)), /maxmemoryMB/);
  assert.throws(() => placeChunk({ ...rc(3, 1), type: 'redis' }, fleet(3)), /placeDist/);
  const dup = fleet(3);
  dup[1] = { ...dup[1]!, address: dup[0]!.address };
  assert.throws(() => placeChunk(rc(3, 1), dup), /address/);
});

test('placeDist redis 1+2 on 3 hosts: 3 distinct hosts, replicas point at the master', () => {
  const hosts = fleet(3);
  const req: ClusterRequest = { name: 'r1', type: 'redis', version: '7.0.15', masters: 1, replicas: 2, maxmemoryMB: 512 };
  const plan = placeDist(req, hosts);
  checkGroups(plan, req, hosts);
  assert.equal(new Set(plan.instances.map((i) => i.host)).size, 3);
  for (const i of plan.instances) {
    assert.equal(i.slots, undefined);
    assert.equal(i.configEpoch, undefined);
  }
  assert.throws(() => placeDist(req, fleet(2)), (e: unknown) => e instanceof PlacementError && /on 3 distinct hosts, fleet has 2 hosts/.test(e.message));
  // Several groups spread like a cluster.
  const many = { ...req, masters: 6, replicas: 1 };
  const p6 = placeDist(many, fleet(4));
  checkGroups(p6, many, fleet(4));
  checkBalance(p6, fleet(4), 1);
});

test('placeDist memcache: even spread, nobody gets half when the fleet allows', () => {
  const mc = (nodes: number): ClusterRequest => ({ name: 'm1', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes, maxmemoryMB: 1024 });
  for (const [N, H] of [
    [4, 3],
    [5, 3],
    [6, 4],
    [4, 4],
    [9, 4],
    [100, 7],
  ] as const) {
    const hosts = fleet(H);
    const plan = placeDist(mc(N), hosts);
    assert.equal(plan.instances.length, N);
    const counts = hosts.map((h) => plan.instances.filter((i) => i.host === h.name).length);
    assert.ok(spread(counts) <= 1, `${N} on ${H}: ${counts}`);
    const max = Math.max(...counts);
    // 4 nodes on 3 hosts cannot avoid a host with 2 = half (pigeonhole); otherwise < half.
    assert.equal(max, Math.ceil(N / H));
    if (Math.ceil(N / H) < N / 2) assert.ok(max < N / 2, `${N} on ${H}: ${counts}`);
    checkPortsAndMemory(plan, hosts, false);
    assert.deepEqual(plan.instances.map((i) => i.shard), [...Array(N).keys()]);
    assert.ok(plan.instances.every((i) => i.role === 'node' && i.masterId === undefined));
  }
  // A host with little memory gets less; the others take the rest.
  const hosts = [...fleet(1, { memMB: 1200 }), ...fleet(4).slice(1)];
  const plan = placeDist(mc(7), hosts);
  assert.deepEqual(hosts.map((h) => plan.instances.filter((i) => i.host === h.name).length), [1, 2, 2, 2]);
  assert.throws(() => placeDist(mc(7), fleet(1, { memMB: 2000 })), (e: unknown) => e instanceof PlacementError && /memory/.test(e.message));
});

// --- helpers and a fuzz over heterogeneous fleets ---------------------------------------------

test('waterFill: minimises the largest share under caps', () => {
  assert.deepEqual(waterFill(10, [5, 5, 1], [0, 1, 2]), [5, 4, 1]);
  assert.deepEqual(waterFill(10, [5, 5, 1], [1, 0, 2]), [4, 5, 1]);
  assert.deepEqual(waterFill(0, [3, 3], [0, 1]), [0, 0]);
  assert.throws(() => waterFill(7, [3, 3], [0, 1]));
});

test('replicaMatrix: rows as even as possible, zero diagonal', () => {
  const X = replicaMatrix([10, 10, 10, 10], [10, 10, 10, 10], [10, 10, 10, 10])!;
  for (let a = 0; a < 4; a++) {
    assert.equal(X[a]!.get(a), undefined);
    const row = [0, 1, 2, 3].filter((b) => b !== a).map((b) => X[a]!.get(b) ?? 0);
    assert.ok(spread(row) <= 1, String(row));
  }
  assert.equal(replicaMatrix([2, 0], [0, 0], [1, 0]), null);
});


test('fuzz: heterogeneous fleets either place correctly or lack resources for real', () => {
  const rand = rng(12345);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  let placed = 0;
  let refused = 0;
  for (let round = 0; round < 400; round++) {
    const H = int(1, 9);
    const M = int(1, 40);
    const R = int(0, 3);
    const maxmemoryMB = 100;
    const per = instanceMemMB(maxmemoryMB);
    const hosts = fleet(H).map((h) => {
      const width = int(0, 30);
      const used = Array.from({ length: int(0, 5) }, () => 7000 + int(0, 40));
      return { ...h, memMB: per * int(0, 40) + int(0, per - 1), ports: { from: 7000, to: 7000 + width }, usedPorts: used };
    });
    const req = rc(M, R, maxmemoryMB);
    // Independent capacity: free ports (and bus ports) and memory, at most one per shard.
    const cap = hosts.map((h) => {
      const taken = new Set(h.usedPorts.flatMap((u) => [u, u + 10000]));
      let ports = 0;
      for (let p = h.ports.from; p <= h.ports.to; p++) if (!taken.has(p) && !taken.has(p + 10000)) ports++;
      return Math.min(ports, Math.floor(h.memMB / per), M);
    });
    const feasible = cap.filter((c) => c > 0).length >= R + 1 && cap.reduce((a, b) => a + b, 0) >= M * (R + 1);
    let plan: Plan | undefined;
    try {
      plan = placeChunk(req, hosts);
    } catch (e) {
      assert.ok(e instanceof PlacementError, String(e));
      assert.ok(!feasible, `round ${round}: refused although feasible: ${(e as Error).message} caps=${cap}`);
      refused++;
      continue;
    }
    assert.ok(feasible, `round ${round}: placed although infeasible`);
    placed++;
    checkGroups(plan, req, hosts);
    // Balance under caps: a host with two more instances than another means the other is full.
    const t = hosts.map((h) => plan!.instances.filter((i) => i.host === h.name).length);
    const m = hosts.map((h) => plan!.instances.filter((i) => i.host === h.name && i.role === 'master').length);
    for (let a = 0; a < H; a++) {
      for (let b = 0; b < H; b++) {
        if (t[a]! > t[b]! + 1) assert.equal(t[b], cap[b], `round ${round}: totals ${t} caps ${cap}`);
        if (m[a]! > m[b]! + 1) assert.equal(m[b], t[b], `round ${round}: masters ${m} totals ${t}`);
      }
    }
  }
  assert.ok(placed > 100 && refused > 20, `placed ${placed}, refused ${refused}`);
});

test('relocation: never beside its shard, a master where the cluster has the fewest masters, ports past those in use', () => {
  const hosts = fleet(4);
  const plan = placeChunk(rc(3, 1), hosts);
  const lostHost = plan.instances.find((i) => i.role === 'master')!.host;
  const hostsLeft = hosts.map((h) => ({ ...h, usedPorts: plan.instances.filter((i) => i.host === h.name).map((i) => i.port) }));
  for (const inst of plan.instances.filter((i) => i.host === lostHost)) {
    const to = relocation(plan, inst, hostsLeft, new Set([lostHost]))!;
    assert.notEqual(to.host, lostHost);
    const shard = plan.instances.filter((i) => i.shard === inst.shard && i.id !== inst.id);
    assert.ok(!shard.some((i) => i.host === to.host), `${inst.role} moved beside its shard to ${to.host}`);
    const taken = plan.instances.filter((i) => i.host === to.host).map((i) => i.port);
    assert.ok(!taken.includes(to.port) && !taken.includes(to.port - 10000) && !taken.includes(to.port + 10000), `port ${to.port} on ${to.host}`);
    if (inst.role === 'master') {
      const masters = (h: string) => plan.instances.filter((i) => i.host === h && i.role === 'master').length;
      const fewest = Math.min(...hostsLeft.filter((h) => h.name !== lostHost && !shard.some((i) => i.host === h.name)).map((h) => masters(h.name)));
      assert.equal(masters(to.host), fewest);
    }
  }
  // Nowhere to go: every other host holds a member of the shard.
  const pair = placeChunk(rc(1, 1), fleet(2));
  assert.equal(relocation(pair, pair.instances[0]!, fleet(2), new Set([pair.instances[0]!.host])), null);
});
