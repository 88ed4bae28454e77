// The order of a rolling restart or upgrade (roll.ts), from the plan alone: replicas first, the
// master after a switchover; what restarts in place and needs --yes; which versions can replace
// the running one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { place } from '../../src/cluster/placement.js';
import { allOn, describeRoll, outage, rollOrder, versionProblem, withVersion } from '../../src/cluster/roll.js';
import { loopbackHosts } from '../helpers/local-redis.js';

const hosts = loopbackHosts(4, '127.9.6', { from: 7000, to: 7099 }).map((h, k) => ({ ...h, versions: { redis: k < 3 ? ['7.0.15', '7.2.4', '6.2.14'] : ['7.0.15'], memcache: ['1.6.18'] } }));
const rc = place({ name: 'r', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 64 }, hosts);

test('a 3x1 cluster: each shard its replica first, then its master after a switch, and back; no outage', () => {
  const order = rollOrder(rc);
  assert.deepEqual(order.map((s) => [s.shard, s.master.role, s.replicas.map((r) => r.masterId === s.master.id)]), [[0, 'master', [true]], [1, 'master', [true]], [2, 'master', [true]]]);
  assert.equal(outage(rc, order), undefined);
  const [m, r] = [order[0]!.master, order[0]!.replicas[0]!];
  assert.equal(describeRoll(rc, order, '7.2.4')[0], `shard 0: restart ${r.address}:${r.port} (${r.host}) on 7.2.4; switch to ${r.address}:${r.port}; restart ${m.address}:${m.port} (${m.host}) on 7.2.4; switch back to it`);
});

test('masters without a replica and memcache nodes restart in place: the outage named, for --yes', () => {
  const bare = place({ name: 'b', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 0, maxmemoryMB: 64 }, hosts);
  assert.match(outage(bare, rollOrder(bare))!, /^masters without a replica restart in place: their slots do not answer meanwhile, and come back empty \(no persistence is configured: appendonly or save\): 127\.9\.6\.\d:\d+ \(h\d\), /);
  assert.match(outage({ ...bare, config: { appendonly: 'yes' } }, rollOrder(bare))!, /and reload their data from disk: /);
  const mc = place({ name: 'm', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 64 }, hosts);
  assert.match(outage(mc, rollOrder(mc))!, /^memcache nodes restart empty: /);
  assert.match(describeRoll(mc, rollOrder(mc))[0]!, /^node 0: restart 127\.9\.6\.\d:\d+ \(h\d\) in place$/);
});

test('versions: one missing on a host of the cluster, or older (RDB), is refused; per-instance versions fold into the plan', () => {
  assert.match(versionProblem(rc, '7.2.4', hosts)!, /^redis 7\.2\.4 is not installed on h4 \(add it to the inventory's artifacts and run ovl bootstrap/);
  const three = place({ name: 't', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 0, maxmemoryMB: 64 }, hosts.slice(0, 3));
  assert.equal(versionProblem(three, '7.2.4', hosts), undefined);
  assert.match(versionProblem(three, '6.2.14', hosts)!, /redis 6\.2\.14 is older than 7\.0\.15, which runs in the cluster: it cannot read the RDB files/);
  // A stopped upgrade left one instance on 7.2.4: going back to 7.0.15 is a downgrade for it.
  assert.match(versionProblem(withVersion(three, three.instances[0]!.id, '7.2.4'), '7.0.15', hosts)!, /older than 7\.2\.4, which runs in the cluster/);
  // The order a resumed roll keeps: the shard's master as it was when the roll began.
  const swapped = rollOrder(three, { '0': three.instances[0]!.id });
  assert.equal(swapped[0]!.master.id, three.instances[0]!.id);
  const one = withVersion(three, three.instances[0]!.id, '7.2.4');
  assert.equal(one.instances[0]!.version, '7.2.4');
  assert.equal(withVersion(one, three.instances[0]!.id, '7.0.15').instances[0]!.version, undefined, 'the plan\'s own version is no override');
  const all = allOn(one, '7.2.4');
  assert.equal(all.version, '7.2.4');
  assert.ok(all.instances.every((i) => i.version === undefined));
});
