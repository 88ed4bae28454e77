// checkCluster / waitHealthy against real redis-server and memcached processes on loopback
// (three fake hosts 127.8.N.1..3, ports 21000..21999 and their bus ports 31000..31999),
// started from the files ovl renders. The redis_cluster cases form the cluster purely from the
// pre-rendered nodes.conf (no CLUSTER MEET, no ADDSLOTS, no redis-cli --cluster): reaching
// healthy validates redis.conf.hbs and nodes.conf.hbs end to end.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, test } from 'node:test';
import { checkCluster, instanceLabel, waitHealthy, type CheckReport } from '../../src/cluster/check.js';
import { place } from '../../src/cluster/placement.js';
import { untilReady } from '../../src/cluster/readiness.js';
import type { ClusterRequest, Plan } from '../../src/cluster/types.js';
import { LocalRig, loopbackHosts } from '../helpers/local-redis.js';

// N is random per run: other sessions run the unit suite in the same working tree, and two runs
// on the same addresses and ports take each other's ports (seen: "bind: Address already in use",
// and a killed node's port answered by the other run's node). The whole 127/8 is on lo.
const NET = process.env.OVL_TEST_NET ?? `127.8.${randomInt(1, 255)}`;
const rigs: LocalRig[] = [];
const keep = process.env.OVL_KEEP_RIG === '1';

function rig(): LocalRig {
  const r = new LocalRig();
  rigs.push(r);
  return r;
}

after(async () => {
  await Promise.all(rigs.map((r) => r.cleanup(keep)));
});

function plan(type: ClusterRequest['type'], from: number, masters: number, replicas: number, nodes?: number): Plan {
  const version = type === 'memcache' ? '1.6.18' : '7.0.15';
  return place(
    { name: `chk-${type.replace('_', '-')}`, type, version, masters, replicas, nodes, maxmemoryMB: 16 },
    loopbackHosts(3, NET, { from, to: from + 9 }),
  );
}

const show = (r: CheckReport) => `\n  ${r.problems.join('\n  ')}`;

function assertHealthy(r: CheckReport, rig?: LocalRig, p?: Plan): void {
  const logs = (): string =>
    !rig || !p
      ? ''
      : r.nodes
          .map((n, k) => (n.answered ? '' : `\n--- ${instanceLabel(n)} console.log:\n${rig.logTail(p.instances[k]!)}`))
          .join('');
  assert.ok(r.healthy, `expected healthy, got:${show(r)}${r.healthy ? '' : logs()}`);
  assert.deepEqual(r.problems, []);
  assert.ok(r.nodes.every((n) => n.answered && n.problems.length === 0));
}

function assertProblem(r: CheckReport, re: RegExp): void {
  assert.ok(!r.healthy, 'expected unhealthy');
  assert.ok(r.problems.some((p) => re.test(p)), `expected a problem matching ${re}, got:${show(r)}`);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('redis_cluster 3x1 from pre-rendered nodes.conf: healthy, slot map compared, killed master named', async (t) => {
  const p = plan('redis_cluster', 21000, 3, 1);
  const r = rig();
  r.start(p);
  const healthy = await waitHealthy(p, { timeoutMs: 20_000 });
  assertHealthy(healthy, r, p);
  assert.equal(await untilReady(p, { deadline: Date.now() + 5000 }), 0, 'every node says it is ready');
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const again = await checkCluster(p);
    assertHealthy(again);
    times.push(again.ms);
  }
  t.diagnostic(`check of ${p.instances.length} healthy nodes: ${times.join(', ')} ms`);

  // The running cluster against a plan whose first two masters have swapped slots.
  const [m0, m1] = p.instances.filter((i) => i.role === 'master');
  const swapped: Plan = {
    ...p,
    instances: p.instances.map((i) => (i.id === m0!.id ? { ...i, slots: m1!.slots } : i.id === m1!.id ? { ...i, slots: m0!.slots } : i)),
  };
  const bad = await checkCluster(swapped);
  assertProblem(bad, new RegExp(`^${escape(instanceLabel(m0!))}: owns slots 0-5461, the plan says 5462-10922$`));
  assertProblem(bad, new RegExp(`^${escape(instanceLabel(m0!))}: is seen owning slots 0-5461, the plan says 5462-10922 \\(seen by 5 nodes`));

  // A different node id in the plan: the node says so, the others know a stranger.
  const other: Plan = { ...p, instances: p.instances.map((i) => (i.id === m1!.id ? { ...i, id: 'f'.repeat(40) } : { ...i, masterId: i.masterId === m1!.id ? 'f'.repeat(40) : i.masterId })) };
  const alien = await checkCluster(other);
  assertProblem(alien, new RegExp(`^${escape(instanceLabel(m1!))}: has node id ${m1!.id}, the plan says f{40}$`));
  assertProblem(alien, new RegExp(`node ${m1!.id} is not in the plan but is known to the cluster`));

  const victim = m0!;
  await r.kill(victim);
  const down = await checkCluster(p);
  assertProblem(down, new RegExp(`^${escape(instanceLabel(victim))}: does not answer \\(connection refused\\)$`));
  const vn = down.nodes.find((n) => n.port === victim.port && n.address === victim.address)!;
  assert.equal(vn.answered, false);
  assert.equal(vn.role, 'master');
  // Its replica's link is down at once (the others flag it only after cluster-node-timeout).
  const rep = p.instances.find((i) => i.masterId === victim.id)!;
  assertProblem(down, new RegExp(`^${escape(instanceLabel(rep))}: master_link_status is down`));
  // The cheap wait before a full check gives up at its deadline: the dead master and the
  // replica that lost it are not ready.
  const t0 = Date.now();
  assert.equal(await untilReady(p, { deadline: Date.now() + 1000 }), 2);
  assert.ok(Date.now() - t0 < 4000, `untilReady took ${Date.now() - t0} ms past a 1 s deadline`);
});

test('redis_cluster with a password: healthy with it; without or wrong, named and the password never shown; failover reported', async () => {
  const p = plan('redis_cluster', 21100, 3, 1);
  const auth = { app: ['pa ss"w0rd'] };
  const r = rig();
  // A short node timeout, so that the failover below happens within the test.
  r.start(p, { auth, extra: { 'cluster-node-timeout': '1000' } });
  assertHealthy(await waitHealthy(p, { auth, timeoutMs: 20_000 }), r, p);
  const none = await checkCluster(p);
  assert.equal(none.problems.length, p.instances.length);
  assertProblem(none, /: requires a password \(NOAUTH\), none was given$/);
  const wrong = await checkCluster(p, { auth: { app: ['nope-secret'] } });
  assertProblem(wrong, /: rejects the password \(WRONGPASS\)$/);
  assert.ok(!JSON.stringify(wrong).includes('nope-secret'));
  assert.ok(wrong.nodes.every((n) => n.answered));

  // Kill a master: the others flag it fail and its replica takes over; the check says both.
  const victim = p.instances.find((i) => i.role === 'master')!;
  const rep = p.instances.find((i) => i.masterId === victim.id)!;
  await r.kill(victim);
  const flagged = new RegExp(`^${escape(instanceLabel(victim))}: is flagged fail \\(seen by 5 nodes: `);
  const promoted = new RegExp(`^${escape(instanceLabel(rep))}: is a master owning slots 0-5461, the plan says replica of ${escape(instanceLabel(victim))}$`);
  const seenPromoted = new RegExp(`^${escape(instanceLabel(rep))}: is seen as a master owning slots 0-5461, the plan says replica of ${escape(instanceLabel(victim))} \\(seen by 4 nodes`);
  const gone = new RegExp(`^${escape(instanceLabel(victim))}: does not answer \\(connection refused\\)$`);
  const expected = [gone, flagged, promoted, seenPromoted];
  // The failover and its gossip take a few node timeouts; wait until every node has seen it.
  let last: CheckReport | undefined;
  for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((res) => setTimeout(res, 200))) {
    last = await checkCluster(p, { auth });
    if (expected.every((re) => last!.problems.some((x) => re.test(x)))) break;
  }
  for (const re of expected) assertProblem(last!, re);
});

test('redis 1 master + 2 replicas: healthy; a killed replica is named, and its master misses it', async () => {
  const p = plan('redis', 21200, 1, 2);
  assert.equal(p.instances.length, 3);
  const r = rig();
  r.start(p);
  assertHealthy(await waitHealthy(p, { timeoutMs: 20_000 }), r, p);
  const master = p.instances.find((i) => i.role === 'master')!;
  const replica = p.instances.find((i) => i.role === 'replica')!;
  // A stopped process: the kernel accepts the connection, nothing answers.
  r.signal(master, 'SIGSTOP');
  const stopped = await checkCluster(p, { timeoutMs: 300 });
  r.signal(master, 'SIGCONT');
  assertProblem(stopped, new RegExp(`^${escape(instanceLabel(master))}: does not answer \\(connected, but no reply within 300 ms\\)$`));
  assert.equal(stopped.nodes.find((n) => n.role === 'master')!.answered, false);
  assert.ok(stopped.ms < 1500, `took ${stopped.ms} ms`);
  assertHealthy(await waitHealthy(p, { timeoutMs: 20_000 }), r, p);
  await r.kill(replica);
  const down = await checkCluster(p);
  assertProblem(down, new RegExp(`^${escape(instanceLabel(replica))}: does not answer \\(connection refused\\)$`));
  assertProblem(down, new RegExp(`^${escape(instanceLabel(master))}: has 1 connected replica, the plan has 2 \\(missing ${escape(instanceLabel(replica))}\\)$`));
});

test('redis with two groups: each master checked against its own replicas', async () => {
  const p = plan('redis', 21250, 2, 1);
  const r = rig();
  r.start(p);
  assertHealthy(await waitHealthy(p, { timeoutMs: 20_000 }), r, p);
});

test('memcache 3 nodes: healthy; a killed node is named', async () => {
  const p = plan('memcache', 21300, 0, 0, 3);
  const r = rig();
  r.start(p);
  assertHealthy(await waitHealthy(p, { timeoutMs: 10_000 }), r, p);
  const victim = p.instances[1]!;
  r.signal(victim, 'SIGSTOP');
  const stopped = await checkCluster(p, { timeoutMs: 300 });
  r.signal(victim, 'SIGCONT');
  assertProblem(stopped, new RegExp(`^${escape(instanceLabel(victim))}: does not answer \\(connected, but no reply within 300 ms\\)$`));
  await r.kill(victim);
  const down = await checkCluster(p);
  assert.equal(down.problems.length, 1);
  assertProblem(down, new RegExp(`^${escape(instanceLabel(victim))}: does not answer \\(connection refused\\)$`));
  assert.deepEqual(down.nodes.map((n) => n.answered), [true, false, true]);
  // A version the nodes do not run.
  const v = await checkCluster({ ...p, instances: p.instances.filter((i) => i.id !== victim.id), version: '1.6.99' });
  assertProblem(v, /: runs memcached 1\.6\.18, the plan says 1\.6\.99$/);
});

test('nothing running: every instance "does not answer"; plan violations are reported', async () => {
  for (const type of ['redis_cluster', 'redis', 'memcache'] as const) {
    const p = plan(type, 21900, 2, 1, 3);
    const r = await checkCluster(p, { timeoutMs: 500 });
    assert.equal(r.problems.length, p.instances.length, show(r));
    for (const i of p.instances) assertProblem(r, new RegExp(`^${escape(instanceLabel(i))}: does not answer \\(connection refused\\)$`));
    assert.ok(r.nodes.every((n) => !n.answered));
    assert.ok(r.ms < 2000, `took ${r.ms} ms`);
  }
  // A replica on its master's host, and a hole in the slot map.
  const p = plan('redis_cluster', 21900, 2, 1);
  const m = p.instances[0]!;
  const rep = p.instances.find((i) => i.masterId === m.id)!;
  const broken: Plan = {
    ...p,
    instances: p.instances.map((i) => (i.id === rep.id ? { ...i, host: m.host, address: m.address, port: m.port + 5 } : i.id === m.id ? { ...i, slots: [[0, 8000]] } : i)),
  };
  const r = await checkCluster(broken, { timeoutMs: 500 });
  assertProblem(r, new RegExp(`: the plan puts this replica on the same host as its master ${escape(instanceLabel(m))}$`));
  assertProblem(r, /slots not assigned to any master: 8001-8191$/);
});
