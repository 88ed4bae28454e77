// The etcd records of a scale or rebalance: its decision (instances added with their ports,
// instances to remove) committed with the task in one transaction, the slots each master holds
// once moved, removed instances retired until stopped, and the migration's progress.
import type { Etcd3 } from 'etcd3';
import { allocKey, instancePrefix, migrationKey, planKey } from '../state/keys.js';
import type { FleetRead, HostAlloc } from './capacity.js';
import { ConflictError } from './errors.js';
import { getJson } from './etcd-reads.js';
import type { MoveProgress } from './migrate.js';
import { instanceMemMB } from './placement.js';
import type { Ranges } from './reshard.js';
import { addrOf, changePlan } from './store.js';
import { type ScaleTask, taskWrites } from './task-store.js';
import type { Plan, PlannedInstance } from './types.js';

/** Instances in plan order: by shard, the master first. */
export function planOrder(insts: PlannedInstance[]): PlannedInstance[] {
  const rank = (i: PlannedInstance) => (i.role === 'master' ? 0 : 1);
  return [...insts].sort((a, b) => a.shard - b.shard || rank(a) - rank(b));
}

/**
 * The decision of a scale, whole or not at all: the added instances in the plan with their ports
 * (guarded by the revisions of the plan and of each host's allocation read when placing), and
 * the task saying what it added and what it removes. Throws ConflictError when either changed.
 */
export async function commitShapeChange(c: Etcd3, plan: Plan, planRev: string, add: PlannedInstance[], read: FleetRead, task: ScaleTask): Promise<Plan> {
  const next: Plan = { ...plan, instances: planOrder([...plan.instances, ...add]) };
  let txn = c.if(planKey(plan.cluster), 'Mod', '==', planRev);
  const puts = [c.put(planKey(plan.cluster)).value(JSON.stringify(next)), ...taskWrites(c, task)];
  for (const host of new Set(add.map((i) => i.host))) {
    const rev = read.revisions.get(host);
    txn = rev ? txn.and(allocKey(host), 'Mod', '==', rev) : txn.and(allocKey(host), 'Create', '==', 0);
    const alloc: HostAlloc = { ...(read.allocs?.get(host) ?? (await getJson<HostAlloc>(c, allocKey(host))) ?? {}) };
    for (const i of add.filter((x) => x.host === host)) alloc[String(i.port)] = { cluster: plan.cluster, memMB: instanceMemMB(plan.maxmemoryMB) };
    puts.push(c.put(allocKey(host)).value(JSON.stringify(alloc)));
  }
  const res = await txn.then(...puts).commit();
  if (!res.succeeded) throw new ConflictError(`scale of ${plan.cluster} raced with another change`);
  return next;
}

/** The slots each master holds (read from the masters once moved): the plan says so. */
export async function setPlanSlots(c: Etcd3, cluster: string, owners: Map<string, Ranges>): Promise<Plan> {
  return changePlan(c, cluster, 'recording the slots', async (plan) => ({
    next: { ...plan, instances: plan.instances.map((i) => (i.role === 'master' && owners.has(i.id) ? { ...i, slots: owners.get(i.id)! } : i)) },
  }));
}

/**
 * Removed instances off the plan and their records, but kept as retired (their ports held) until
 * stopped on their hosts (stopRetired). `forgotten`: every node of the cluster forgot them.
 */
export async function retireRemoved(c: Etcd3, cluster: string, ids: string[], task: string, forgotten: boolean): Promise<Plan> {
  return changePlan(c, cluster, 'retiring removed instances', async (plan) => {
    const gone = plan.instances.filter((i) => ids.includes(i.id));
    return {
      next: {
        ...plan,
        instances: plan.instances.filter((i) => !gone.includes(i)),
        retired: [...(plan.retired ?? []), ...gone.map((i) => ({ ...i, task, ...(forgotten ? { forgotten: true } : {}) }))],
      },
      drop: gone.map((i) => instancePrefix(cluster, addrOf(i))),
    };
  });
}

/** The migration of a task: its moves and each one's progress. */
export interface MigrationRecord {
  task: string;
  moves: MoveProgress[];
}

export async function getMigration(c: Etcd3, cluster: string): Promise<MigrationRecord | null> {
  return getJson<MigrationRecord>(c, migrationKey(cluster));
}

export async function putMigration(c: Etcd3, cluster: string, rec: MigrationRecord): Promise<void> {
  await c.put(migrationKey(cluster)).value(JSON.stringify(rec));
}

export async function dropMigration(c: Etcd3, cluster: string): Promise<void> {
  await c.delete().key(migrationKey(cluster));
}

/** Writes of a record that changes often (each slot moved), one at a time: the latest wins. */
export class Coalesced {
  private inFlight: Promise<void> | undefined;
  private dirty = false;
  constructor(private readonly write: () => Promise<void>) {}
  touch(): void {
    this.dirty = true;
    if (!this.inFlight) this.inFlight = this.loop().finally(() => (this.inFlight = undefined));
  }
  private async loop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      await this.write().catch(() => (this.dirty = true) && new Promise((r) => setTimeout(r, 500)));
    }
  }
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.dirty) await this.write();
  }
}
