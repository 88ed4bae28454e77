// scale and rebalance: a running cluster changes shape live. The decision (what is added, where,
// and what goes) is committed with the task before anything starts; then the added instances
// start and join, slots move (their plan and progress in etcd before the first key moves), the
// removed instances are forgotten, retired and stopped, and the cluster is checked. A run
// interrupted anywhere is finished by the next leader from what etcd and the nodes say.
import { withAdmin } from '../admin.js';
import { checkCluster } from '../check.js';
import { allocate } from '../allocations.js';
import { meetCluster, forgetNode, joinShard, shardMaster, tellRoles } from '../join.js';
import { liveOwners, openSlots, runMoves, type MoveProgress, type SlotNode } from '../migrate.js';
import { shapeChange, shapeOf } from '../grow.js';
import { untilReady } from '../readiness.js';
import { countSlots, reshardMoves, slotList, splitMoves, toRanges } from '../reshard.js';
import { Coalesced, commitShapeChange, dropMigration, getMigration, putMigration, retireRemoved, setPlanSlots } from '../shape-store.js';
import { addrOf, getPlan, getSecret, markJoined, updateConfig } from '../store.js';
import type { RebalanceTask, ScaleTask, Task } from '../task-store.js';
import type { Plan, PlannedInstance } from '../types.js';
import { planKey } from '../../state/keys.js';
import { plural } from '../../util/plural.js';
import { checkTimeout, faultPoint, placeableCapacity, step, type TaskContext } from './context.js';
import { settle } from './health.js';
import { repairRecords, setupsOf, startOnHosts, stopRetired } from './instances.js';
import type { TaskKindModule } from './registry.js';
import type { ClusterAuth } from '../auth.js';
/** Slots per part of a move; parts move at once, MOVES_AT_ONCE of them. */
const SLOTS_PER_PART = 256;
const MOVES_AT_ONCE = 16;

async function begin(ctx: TaskContext, task: Task): Promise<{ plan: Plan; auth?: ClusterAuth }> {
  const plan = await getPlan(ctx.etcd, task.cluster);
  if (!plan) throw new Error(`no cluster named ${task.cluster}`);
  return { plan, auth: await getSecret(ctx.etcd, task.cluster) };
}

/** Who holds which slot: what a slot migration changes (and an interrupted one leaves). */
const SLOT_LAYOUT = /owns slots|owning slots|\[\d+-[<>]-/;

/**
 * Refused before anything changes: the problems `check` would name, but for the slot layout,
 * which the task reads from the masters themselves (a scale or rebalance interrupted by a
 * failure is finished by the next one).
 */
async function mustBeHealthy(plan: Plan, auth: ClusterAuth | undefined, what: string): Promise<void> {
  const report = await checkCluster(plan, { auth });
  const problems = report.problems.filter((p) => !SLOT_LAYOUT.test(p));
  if (problems.length) throw new Error(`${plan.cluster} is not healthy, so nothing was changed: ${problems.slice(0, 20).join('; ')} (ovl cluster restart ${plan.cluster} first, then ${what} again)`);
}

async function runScale(ctx: TaskContext, task: ScaleTask): Promise<void> {
  let { plan, auth } = await begin(ctx, task);
  const o = { auth, timeoutMs: checkTimeout(plan), log: ctx.log };
  if (task.added === undefined) plan = await decide(ctx, task, plan, auth);
  const added = () => plan.instances.filter((i) => task.added!.includes(i.id));
  // By id: the plan is read again after each change.
  const removing = plan.instances.filter((i) => task.removing!.includes(i.id));
  const goes = (i: PlannedInstance) => task.removing!.includes(i.id);

  if (added().length) {
    await step(ctx, task, `starting ${plural(added().length, 'new instance')} on ${plural(new Set(added().map((i) => i.host)).size, 'host')}`);
    await repairRecords(ctx, task, plan, auth);
    const { reports } = await startOnHosts(ctx, plan, added(), task, auth, { setups: setupsOf(plan, added(), task, auth, await slotsAsPlanned(plan, auth)) });
    const failed = [...reports.values()].filter((r) => r.status === 'failed');
    if (failed.length) throw new Error(`did not start: ${failed.map((f) => `${f.addr} (${f.detail})`).join('; ')} (ovl cluster scale ${task.cluster} again goes on from here once they can)`);
  }
  const joining = added().filter((i) => i.joining);
  if (joining.length) {
    // All at once: each waits for gossip to carry it to every node, seconds that add up.
    const live = plan.instances.filter((i) => !i.joining);
    const via = live.find((i) => i.role === 'master')!;
    const masters = joining.filter((i) => i.role === 'master');
    if (masters.length) {
      await step(ctx, task, `${masters.map((m) => `${addrOf(m)} (${m.host})`).join(', ')} meet the cluster`);
      await Promise.all(masters.map((m) => meetCluster(m, via, live, o)));
      live.push(...masters);
    }
    const replicas = joining.filter((i) => i.role === 'replica');
    if (replicas.length) {
      await step(ctx, task, `${replicas.map((r) => `${addrOf(r)} (${r.host})`).join(', ')} join and sync from their masters`);
      await Promise.all(
        replicas.map(async (r) => {
          const master = await shardMaster(r, live, o);
          if (!master) throw new Error(`${addrOf(r)} (${r.host}) cannot join: no member of its shard is a master that answers`);
          await joinShard(r, master, live, o);
        }),
      );
      // The replicas that joined together tell each other their roles too (each told the nodes
      // in `live` as it joined).
      await tellRoles(replicas, replicas, o);
      ctx.log(`${task.id}: ${plural(replicas.length, 'replica')} synced and known as such`);
    }
    // The new nodes know the whole slot map (cluster_state:ok) before any slot is moved to them.
    const waiting = await untilReady({ ...plan, instances: plan.instances.filter((i) => i.role === 'master') }, { auth, deadline: Date.now() + checkTimeout(plan) });
    if (waiting) throw new Error(`${plural(waiting, 'master')} did not reach cluster_state:ok after the new nodes joined (ovl cluster check ${plan.cluster})`);
    ctx.log(`${task.id}: every master says cluster_state:ok`);
    plan = await markJoined(ctx.etcd, plan.cluster, joining.map((i) => i.id));
  }
  await faultPoint(ctx, 'joined');
  const mastersChange = [...added(), ...removing].some((i) => i.role === 'master');
  if (plan.type === 'redis_cluster' && mastersChange) {
    // A master that gives its last slot away would become a replica of the taker (Redis 7):
    // the removed ones stay empty masters until they are forgotten.
    await Promise.all(removing.filter((i) => i.role === 'master').map((m) => withAdmin(m, { auth }, (c) => c.call('CONFIG', 'SET', 'cluster-allow-replica-migration', 'no')).catch(() => undefined)));
    const kept = plan.instances.filter((i) => i.role === 'master' && !goes(i));
    plan = await moveSlots(ctx, task, plan, kept, auth, 0);
  }
  if (removing.length) plan = await remove(ctx, task, plan, removing, auth);
  const shape = shapeOf(plan);
  await updateConfig(ctx.etcd, plan.cluster, plan.type === 'memcache' ? { nodes: shape.nodes } : { masters: shape.masters, replicas: shape.replicas });
  await step(ctx, task, 'consistency check');
  await settle(ctx, plan, auth);
  const said = plan.type === 'memcache' ? `${plural(shape.nodes, 'node')}: clients must be given the new node list (ovl cluster show ${plan.cluster})` : `${plural(shape.masters, 'master')} x ${plural(shape.replicas, 'replica')}`;
  await step(ctx, task, `scaled to ${said}: ${task.added!.length} added, ${task.removing!.length} removed`);
}

/**
 * Whether the masters hold exactly the slots the plan gives them, asked of them now: only then do
 * new masters start knowing the cluster from the plan (renderJoiningMasterNodesConf). A stale slot
 * map (a resumed or manual reshard) could stick in a new node: a claim with a lower epoch than
 * the owner it believes in is refused.
 */
async function slotsAsPlanned(plan: Plan, auth: ClusterAuth | undefined): Promise<boolean> {
  if (plan.type !== 'redis_cluster') return false;
  const masters = plan.instances.filter((i) => i.role === 'master' && !i.joining);
  const owners = await liveOwners(masters, auth).catch(() => null);
  return !!owners && masters.every((m) => JSON.stringify(owners.get(m.id) ?? []) === JSON.stringify(toRanges(slotList(m.slots ?? []))));
}

/** What the scale adds (placed, ports taken) and removes, committed with the task at once. */
async function decide(ctx: TaskContext, task: ScaleTask, plan: Plan, auth: ClusterAuth | undefined): Promise<Plan> {
  await step(ctx, task, 'checking the cluster before changing it');
  await mustBeHealthy(plan, auth, `ovl cluster scale ${plan.cluster}`);
  return allocate(`placing the scale of ${plan.cluster}`, async () => {
    const kv = (await ctx.etcd.get(planKey(plan.cluster)).exec()).kvs[0];
    if (!kv) throw new Error(`no cluster named ${plan.cluster}`);
    const current = JSON.parse(kv.value.toString()) as Plan;
    const read = await placeableCapacity(ctx);
    const ch = shapeChange(current, { ...shapeOf(current), ...task.to }, read.hosts);
    const removed = ch.remove.filter((i) => i.role === 'master').map((i) => `shard ${i.shard} (${addrOf(i)}, ${i.host})`);
    const decided: ScaleTask = {
      ...task,
      added: ch.add.map((i) => i.id),
      removing: ch.remove.map((i) => i.id),
      step: `placed: ${plural(ch.add.length, 'instance')} to add${ch.add.length ? ` (${[...new Set(ch.add.map((i) => i.host))].join(', ')})` : ''}, ${ch.remove.length} to remove${removed.length ? `: ${removed.join(', ')} and their replicas` : ''}`,
    };
    const next = await commitShapeChange(ctx.etcd, current, String(kv.mod_revision), ch.add, read, decided);
    Object.assign(task, decided);
    ctx.log(`${task.id}: ${task.step}`);
    return next;
  }, { log: ctx.log });
}

/**
 * Slots moved so that `kept` hold them evenly: the moves and their progress are in etcd before
 * the first key moves; a run picked up again goes on from the progress recorded.
 */
async function moveSlots(ctx: TaskContext, task: Task, plan: Plan, kept: PlannedInstance[], auth: ClusterAuth | undefined, threshold: number): Promise<Plan> {
  const masters = plan.instances.filter((i) => i.role === 'master');
  let rec = await getMigration(ctx.etcd, plan.cluster);
  if (rec?.task !== task.id) {
    await closeOpen(ctx, task, plan, auth);
    const owners = await liveOwners(masters, auth);
    const moves = splitMoves(reshardMoves(owners, kept.map((m) => m.id), threshold), SLOTS_PER_PART).map((m): MoveProgress => ({ ...m, done: 0, keys: 0 }));
    rec = { task: task.id, moves };
    await putMigration(ctx.etcd, plan.cluster, rec);
  }
  const total = rec.moves.reduce((n, m) => n + countSlots(m.slots), 0);
  if (total) {
    const t0 = Date.now();
    const doneSlots = () => rec!.moves.reduce((n, m) => n + m.done, 0);
    const keys = () => rec!.moves.reduce((n, m) => n + m.keys, 0);
    const keys0 = keys();
    const progress = () => `moving slots: ${doneSlots()}/${total} slots, ${keys()} keys moved (${Math.round(((keys() - keys0) * 1000) / Math.max(1, Date.now() - t0))} keys/s) in ${plural(rec!.moves.length, 'move')}`;
    await step(ctx, task, progress());
    const saver = new Coalesced(() => putMigration(ctx.etcd, plan.cluster, rec!));
    let shown = Date.now();
    const shower = new Coalesced(() => step(ctx, task, progress()));
    const nodes = new Map<string, SlotNode>(masters.map((m) => [m.id, m]));
    await runMoves(rec.moves, nodes, {
      auth,
      masters,
      concurrency: MOVES_AT_ONCE,
      pause: (p) => faultPoint(ctx, `slots-${p}`),
      onSlot: () => {
        saver.touch();
        if (Date.now() - shown > 1000) {
          shown = Date.now();
          shower.touch();
        }
      },
    }).finally(() => Promise.all([saver.flush(), shower.flush()]));
    await step(ctx, task, `moved ${doneSlots()} slots, ${keys()} keys, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const next = await setPlanSlots(ctx.etcd, plan.cluster, await liveOwners(masters, auth));
  await repairRecords(ctx, task, next, auth);
  await dropMigration(ctx.etcd, plan.cluster);
  return next;
}

/**
 * Slots left open by an interrupted migration of another tool or an earlier failed task
 * (`[slot->-id]` on the owner, `[slot-<-id]` on the importer): finished toward the importer, as
 * `redis-cli --cluster fix` does, before new moves are planned.
 */
async function closeOpen(ctx: TaskContext, task: Task, plan: Plan, auth: ClusterAuth | undefined): Promise<void> {
  const masters = plan.instances.filter((i) => i.role === 'master');
  const open = await openSlots(masters, auth);
  if (!open.length) return;
  await step(ctx, task, `finishing ${plural(open.length, 'open slot')} left by an interrupted migration: ${open.slice(0, 5).join(', ')}`);
  const owners = await liveOwners(masters, auth);
  const ownerOf = (slot: number) => [...owners].find(([, r]) => r.some(([a, b]) => a <= slot && slot <= b))?.[0];
  const moves = new Map<string, MoveProgress>();
  for (const o of open) {
    const m = /\[(\d+)-([<>])-([0-9a-f]{40})\]/.exec(o);
    if (!m) continue;
    const slot = Number(m[1]);
    const from = ownerOf(slot);
    const to = m[2] === '<' ? masters.find((x) => o.startsWith(`${addrOf(x)} `))?.id : m[3];
    if (!from || !to || from === to || moves.has(`${slot}`)) continue;
    moves.set(`${slot}`, { from, to, slots: [[slot, slot]], done: 0, keys: 0 });
  }
  await runMoves([...moves.values()], new Map(masters.map((x) => [x.id, x])), { auth, masters });
}

/** Removed instances forgotten by every node that stays, retired, stopped; their ports freed. */
async function remove(ctx: TaskContext, task: Task, plan: Plan, removing: PlannedInstance[], auth: ClusterAuth | undefined): Promise<Plan> {
  const o = { auth, timeoutMs: checkTimeout(plan), log: ctx.log };
  const gone = new Set(removing.map((i) => i.id));
  const staying = plan.instances.filter((i) => !gone.has(i.id));
  let forgotten = true;
  if (plan.type === 'redis_cluster') {
    const owners = await liveOwners(removing.filter((i) => i.role === 'master'), auth);
    const holding = [...owners].filter(([, r]) => countSlots(r) > 0).map(([id]) => id);
    if (holding.length) throw new Error(`${holding.join(', ')} still hold slots: not removed (ovl cluster rebalance ${plan.cluster} moves them)`);
    await step(ctx, task, `forgetting ${plural(removing.length, 'node')} on the ${plural(staying.length, 'node')} that stay`);
    for (const r of removing) {
      const missed = await forgetNode(staying, r.id, o);
      if (missed.length) {
        forgotten = false;
        ctx.log(`${task.id}: ${r.id} (${addrOf(r)}) not forgotten yet by ${missed.join('; ')}: the next restart asks again`);
      }
    }
  }
  await step(ctx, task, `stopping ${plural(removing.length, 'removed instance')}: ${removing.map((i) => `${addrOf(i)} (${i.host})`).join(', ')}`);
  plan = await retireRemoved(ctx.etcd, plan.cluster, removing.map((i) => i.id), task.id, forgotten);
  const { plan: after, left } = await stopRetired(ctx, task, plan);
  if (left.length) ctx.log(`${task.id}: ${left.map(addrOf).join(', ')} not stopped (host down): retired, stopped by the next restart once the host answers`);
  return after;
}

async function runRebalance(ctx: TaskContext, task: RebalanceTask): Promise<void> {
  const { plan, auth } = await begin(ctx, task);
  if (plan.type !== 'redis_cluster') throw new Error(`${plan.cluster} is ${plan.type}: only a redis_cluster has slots to rebalance`);
  if ((await getMigration(ctx.etcd, plan.cluster))?.task !== task.id) await mustBeHealthy(plan, auth, `ovl cluster rebalance ${plan.cluster}`);
  const masters = plan.instances.filter((i) => i.role === 'master');
  const next = await moveSlots(ctx, task, plan, masters, auth, task.threshold ?? 2);
  await step(ctx, task, 'consistency check');
  await settle(ctx, next, auth);
  const counts = next.instances.filter((i) => i.role === 'master').map((m) => slotList(m.slots ?? []).length);
  await step(ctx, task, `balanced: ${Math.min(...counts)}..${Math.max(...counts)} slots per master`);
}

export const scaleTask: TaskKindModule<ScaleTask> = {
  run: runScale,
  // A scale run again decides from the plan as it is now: what this one added is there already.
  async onFailure(ctx, task) {
    if (task.added === undefined) return;
    task.error = `${task.error} (ovl cluster scale ${task.cluster} to the same shape again finishes it; ovl cluster rebalance ${task.cluster} evens its slots)`;
    await recordLiveSlots(ctx, task.cluster);
  },
};
export const rebalanceTask: TaskKindModule<RebalanceTask> = {
  run: runRebalance,
  onFailure: (ctx, task) => recordLiveSlots(ctx, task.cluster),
};

/** After a failed migration the plan says who holds which slot now (the masters that answer). */
async function recordLiveSlots(ctx: TaskContext, cluster: string): Promise<void> {
  const plan = await getPlan(ctx.etcd, cluster).catch(() => null);
  if (plan?.type !== 'redis_cluster') return;
  const masters = plan.instances.filter((i) => i.role === 'master');
  const owners = await liveOwners(masters, await getSecret(ctx.etcd, cluster)).catch(() => null);
  if (owners) await setPlanSlots(ctx.etcd, cluster, owners).catch(() => undefined);
}
