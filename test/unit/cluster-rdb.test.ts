// The seed RDB a new Redis instance starts from (src/cluster/rdb.ts): a valid file Redis's own
// checker accepts, and, on real redis-server processes, replicas whose first sync is a partial
// one (no full sync, no fork) that still carries every write; a killed replica catches up
// from the master's backlog.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { waitHealthy } from '../../src/cluster/check.js';
import { redisFiles } from '../../src/cluster/hostops.js';
import { place } from '../../src/cluster/placement.js';
import { crc64, seedRdb } from '../../src/cluster/rdb.js';
import type { ClusterRequest } from '../../src/cluster/types.js';
import { LocalRig, loopbackHosts } from '../helpers/local-redis.js';

const NET = `127.9.${randomInt(1, 255)}`;
const ID = 'c0ffee'.padEnd(40, '0');
const tmp = mkdtempSync(join(tmpdir(), 'ovl-rdb-'));
const rig = new LocalRig();
after(async () => {
  await rig.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

const request = (over: Partial<ClusterRequest> = {}): ClusterRequest => ({ name: 'seed', type: 'redis', version: '7.0.15', masters: 1, replicas: 2, maxmemoryMB: 16, ...over });
const info = async (c: Redis, section: string) => Object.fromEntries(String(await c.info(section)).split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':', 2) as [string, string]));

test('crc64 is the CRC-64/Jones Redis writes at the end of an RDB file', () => {
  // The check value in Redis's crc64.c.
  assert.equal(crc64(Buffer.from('123456789')), 0xe9c6d914c4b8d9can);
});

test('a seed RDB is a valid, empty RDB file carrying the replication id', () => {
  const rdb = seedRdb(ID, '7.0.15');
  assert.equal(rdb.subarray(0, 9).toString(), 'REDIS0010');
  assert.ok(rdb.includes(Buffer.from(`repl-id(${ID}`)));
  const file = join(tmp, 'dump.rdb');
  writeFileSync(file, rdb);
  const r = spawnSync('redis-check-rdb', [file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /RDB looks OK/);
  assert.match(r.stdout, /0 keys read/);
  assert.throws(() => seedRdb('XYZ', '7.0.15'), /invalid replication id/);
});

test('instances get a seed only where Redis loads it: Redis 7 and later, the default file name', () => {
  const names = (req: ClusterRequest) => {
    const hosts = loopbackHosts(3, NET, { from: 22000, to: 22009 }).map((h) => ({ ...h, versions: { redis: [req.version] } }));
    const plan = place(req, hosts);
    return plan.instances.map((i) => redisFiles(plan, i).map((f) => `${f.name}${f.once ? ' (once)' : ''}`).join(', '));
  };
  assert.deepEqual(names(request()), Array(3).fill('redis.conf, dump.rdb (once)'));
  assert.deepEqual(names(request({ type: 'redis_cluster', masters: 3, replicas: 0 })), Array(3).fill('redis.conf, nodes.conf (once), dump.rdb (once)'));
  assert.deepEqual(names(request({ version: '6.2.14' })), Array(3).fill('redis.conf'));
  assert.deepEqual(names(request({ config: { dbfilename: 'cache.rdb' } })), Array(3).fill('redis.conf'));
});

test('replicas of a seeded master sync partially: no full sync, every write on both replicas, a killed replica catches up', async () => {
  const plan = place(request(), loopbackHosts(3, NET, { from: 22010, to: 22019 }));
  rig.start(plan);
  assert.ok((await waitHealthy(plan, { timeoutMs: 20_000 })).healthy);
  const [m, r1, r2] = plan.instances.map((i) => new Redis({ host: i.address, port: i.port, lazyConnect: true }));
  try {
    const stats = await info(m!, 'stats');
    assert.equal(stats.sync_full, '0', 'no full sync of a fresh replica');
    assert.equal(stats.sync_partial_ok, '2');
    for (let n = 0; n < 100; n++) await m!.set(`k${n}`, `v${n}`);
    await m!.wait(2, 5000);
    assert.equal(await r1!.get('k99'), 'v99');
    assert.equal(await r2!.dbsize(), 100);

    // Restarted, the replica loads the seed again (nothing persisted) and asks for the
    // history from its start: the master sends it from its backlog, still no full sync.
    await rig.kill(plan.instances[1]!);
    r1!.disconnect();
    rig.startOne(plan, plan.instances[1]!);
    assert.ok((await waitHealthy(plan, { timeoutMs: 20_000 })).healthy);
    await m!.wait(2, 5000);
    const again = new Redis({ host: plan.instances[1]!.address, port: plan.instances[1]!.port, lazyConnect: true });
    try {
      assert.equal(await again.dbsize(), 100);
      assert.equal(await again.get('k0'), 'v0');
    } finally {
      again.disconnect();
    }
    assert.equal((await info(m!, 'stats')).sync_full, '0');
  } finally {
    for (const c of [m, r1, r2]) c!.disconnect();
  }
});

test('a master and its replicas are seeded with one history, each master with its own', () => {
  const plan = place(request({ type: 'redis_cluster', masters: 3, replicas: 1 }), loopbackHosts(3, NET, { from: 22020, to: 22029 }));
  for (const i of plan.instances) {
    const seed = redisFiles(plan, i).find((x) => x.name === 'dump.rdb')!.content as Buffer;
    assert.ok(seed.equals(seedRdb(i.role === 'master' ? i.id : i.masterId!, plan.version)), `${i.role} ${i.port}`);
  }
});
