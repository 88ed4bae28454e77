// Settings of a running cluster (settings.ts) without a host: what may be asked, sizes, the
// memory reservation against the hosts, and comparing what ovl renders with what a node says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostAlloc } from '../../src/cluster/capacity.js';
import { place } from '../../src/cluster/placement.js';
import { badSetting, memoryMB, renderedSettings, resized, sameSetting } from '../../src/cluster/settings.js';
import { loopbackHosts } from '../helpers/local-redis.js';

const hosts = loopbackHosts(3, '127.9.5', { from: 7000, to: 7099 }).map((h) => ({ ...h, memMB: 1024 }));
const plan = place({ name: 's', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 64, config: { 'maxmemory-policy': 'allkeys-lru' } }, hosts);

test('what may be asked: create\'s rules, maxmemory as a size, memcache only its memory', () => {
  assert.equal(badSetting(plan, 'maxmemory-policy', 'volatile-lru'), undefined);
  assert.equal(badSetting(plan, 'maxmemory', '512mb'), undefined);
  assert.match(badSetting(plan, 'maxmemory', '512')!, /a size such as 512mb/);
  assert.match(badSetting(plan, 'port', '1')!, /set by ovl and cannot be overridden/);
  assert.match(badSetting(plan, 'save', 'a\nb')!, /one line of text/);
  assert.match(badSetting(plan, 'rename-command', 'CONFIG ""')!, /^rename-command CONFIG: ovl needs CONFIG for its checks and settings/);
  assert.match(badSetting(plan, 'rename-command', 'cluster x9')!, /ovl needs CLUSTER for forming/);
  assert.match(badSetting(plan, 'rename-command', '"MIGRATE" ""')!, /ovl needs MIGRATE for moving slots/);
  assert.equal(badSetting(plan, 'rename-command', 'FLUSHALL ""'), undefined);
  const mc = { ...plan, type: 'memcache' as const };
  assert.match(badSetting(mc, 'maxmemory-policy', 'x')!, /a memcache cluster has one setting, its memory/);
  assert.deepEqual(['96mb', '2gb', '1024M', '0mb', 'x'].map(memoryMB), [96, 2048, 1024, undefined, undefined]);
});

test('the reservation follows maxmemory on every host of the cluster, others\' ports kept; too much names the host', () => {
  const allocs = new Map<string, HostAlloc>(hosts.map((h) => [h.name, { '7500': { cluster: 'other', memMB: 300 } }]));
  const { allocs: next, short } = resized(plan, 96, hosts, allocs);
  assert.deepEqual(short, []);
  for (const h of hosts) {
    const a = next.get(h.name)!;
    assert.deepEqual(a['7500'], { cluster: 'other', memMB: 300 });
    const mine = plan.instances.filter((i) => i.host === h.name);
    for (const i of mine) assert.deepEqual(a[String(i.port)], { cluster: 's', memMB: 106 });
  }
  const big = resized(plan, 400, hosts, allocs);
  assert.match(big.short[0]!, /^h1 would need 1180 MB of its 1024 MB$/);
});

test('rendered settings compare with CONFIG GET answers: sizes in bytes, quotes, case', () => {
  const r = renderedSettings(plan, plan.instances[0]!);
  assert.equal(r.get('maxmemory'), '64mb');
  assert.equal(r.get('maxmemory-policy'), 'allkeys-lru');
  assert.ok(sameSetting('64mb', String(64 * 1024 * 1024)));
  assert.ok(sameSetting('allkeys-lru', 'allkeys-lru'));
  assert.ok(!sameSetting('allkeys-lru', 'noeviction'));
  assert.ok(sameSetting('"900 1"', '900 1'));
  assert.ok(sameSetting('YES', 'yes'));
});
