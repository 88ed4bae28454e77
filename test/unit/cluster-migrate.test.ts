// Slot migration (src/cluster/migrate.ts) on real redis-server processes on loopback: slots move
// to an empty master while a client writes through the cluster; a run stopped between any two
// steps (after IMPORTING, between batches, between the two SETSLOT NODE calls) is finished by
// the next from the progress it recorded, with no slot left open and no key lost.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, test } from 'node:test';
import { Cluster } from 'ioredis';
import { waitHealthy } from '../../src/cluster/check.js';
import { liveOwners, openSlots, runMoves, type MoveProgress } from '../../src/cluster/migrate.js';
import { place } from '../../src/cluster/placement.js';
import { countSlots, reshardMoves } from '../../src/cluster/reshard.js';
import { SLOT_COUNT } from '../../src/cluster/slots.js';
import { liveWriter } from '../helpers/live-writer.js';
import { LocalRig, loopbackHosts } from '../helpers/local-redis.js';

const NET = `127.10.${randomInt(1, 255)}`;
const rig = new LocalRig();
after(() => rig.cleanup());

test('slots move to an empty master under a live writer; runs stopped at three points are finished by the next; nothing lost, nothing left open', async () => {
  const plan = place({ name: 'mig', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 0, maxmemoryMB: 256 }, loopbackHosts(3, NET, { from: 23000, to: 23009 }));
  const [a, b, n] = plan.instances;
  a!.slots = [[0, 8191]];
  b!.slots = [[8192, 16383]];
  n!.slots = [];
  rig.start(plan);
  const healthy = await waitHealthy(plan, { timeoutMs: 20_000 });
  assert.ok(healthy.healthy, healthy.problems.join('; '));

  const c = new Cluster([{ host: a!.address, port: a!.port }], { enableReadyCheck: true });
  try {
    for (let i = 0; i < 20_000; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => c.set(`k:${i + j}`, `v${i + j}`)));
    // Big keys in a slot that moves: 200,000 fields and an 8 MB string, among small keys (the
    // source's average key is small: they go in one MIGRATE, with a 60 s idle timeout).
    const bigHash = '{big}hash'; // slot 6392: one that moves
    for (let i = 0; i < 200_000; i += 10_000) await c.hset(bigHash, Object.fromEntries(Array.from({ length: 10_000 }, (_, j) => [`f${i + j}`, 'x'])));
    await c.set('{big}str', 'y'.repeat(8 << 20));

    const masters = plan.instances;
    const nodes = new Map(masters.map((m) => [m.id, m]));
    const moves: MoveProgress[] = reshardMoves(await liveOwners(masters), masters.map((m) => m.id)).map((m) => ({ ...m, done: 0, keys: 0 }));
    assert.equal(moves.length, 2);
    const writer = liveWriter(c, 'live', { pauseEvery: 0, afterErrorMs: 0 });
    // Three runs, each killed at another point after some slots; the fourth finishes.
    for (const [point, after] of [['importing', 40], ['migrated-batch', 30], ['target-owns', 50]] as const) {
      let seen = 0;
      await assert.rejects(
        runMoves(moves, nodes, {
          masters,
          concurrency: 2,
          pause: async (p) => {
            if (p === point && ++seen >= after) throw new Error(`killed at ${p}`);
          },
        }),
        new RegExp(`killed at ${point}`),
      );
    }
    const slotsDone = moves.reduce((s, m) => s + m.done, 0);
    assert.ok(slotsDone > 100, `${slotsDone} slots done before the last run`);
    await runMoves(moves, nodes, { masters });
    await writer.stop();

    assert.deepEqual(await openSlots(masters), [], 'no slot left migrating or importing');
    const owners = await liveOwners(masters);
    for (const m of masters) assert.ok(Math.abs(countSlots(owners.get(m.id)!) - SLOT_COUNT / 3) <= 1, `${m.port}: ${countSlots(owners.get(m.id)!)} slots`);
    assert.deepEqual(writer.errors, [], 'the writer saw no error its redirection did not handle');
    assert.ok(writer.acked.length > 100, `${writer.acked.length} writes acknowledged during the migration`);
    for (let i = 0; i < 20_000; i += 1000) {
      const got = await Promise.all(Array.from({ length: 1000 }, (_, j) => c.get(`k:${i + j}`)));
      got.forEach((v, j) => assert.equal(v, `v${i + j}`));
    }
    assert.deepEqual(await writer.lost(), [], 'every acknowledged write is there');
    assert.ok(owners.get(n!.id)!.some(([x, y]) => x <= 6392 && 6392 <= y), 'the big keys\' slot moved');
    assert.equal(await c.hlen(bigHash), 200_000);
    assert.equal(await c.strlen('{big}str'), 8 << 20);
    const report = await waitHealthy({ ...plan, instances: masters.map((m) => ({ ...m, slots: owners.get(m.id)! })) }, { timeoutMs: 20_000 });
    assert.ok(report.healthy, report.problems.join('; '));
  } finally {
    c.disconnect();
  }
});
