// create: place the request, start every instance on its host, check; a failed create is rolled back.
import { configKey, secretKey } from '../../state/keys.js';
import { plural } from '../../util/plural.js';
import { fleetCapacity, type FleetRead } from '../capacity.js';
import type { CheckReport } from '../check.js';
import { getJson } from '../etcd-reads.js';
import type { HostReport } from '../hostops.js';
import { PlacementError, place, relocation } from '../placement.js';
import { addrOf, commitPlan, getPlan, getSecret, replaceInstance, updateConfig, type ClusterConfig } from '../store.js';
import type { CreateTask } from '../task-store.js';
import type { ClusterRequest, Plan, PlannedInstance } from '../types.js';
import { faultPoint, step, type TaskContext } from './context.js';
import { removeClusterKeys } from './delete.js';
import { awaitHealthy, checkStep, finishCreate, firstCheckAt, recordHealth, runningStep } from './health.js';
import { setupsOf, startOnHosts, stopOnHosts, writeInstances } from './instances.js';
import type { TaskKindModule } from './registry.js';
import { allocate } from '../allocations.js';
import { hasPassword, type ClusterAuth } from '../auth.js';

/** What every create starts from: its request, its secret, and the plan when one was committed
 * already (a task picked up again). Refuses a name another task holds. */
export async function beginCreate(ctx: TaskContext, task: CreateTask): Promise<{ req: ClusterRequest; auth?: ClusterAuth; plan: Plan | null }> {
  const req = task.request;
  const c = ctx.etcd;
  const cfg = await getJson<ClusterConfig>(c, configKey(req.name));
  if (cfg && cfg.task !== task.id) throw new Error(`cluster ${req.name} exists already (state ${cfg.state}); delete it first or pick another name`);
  return { req, auth: await getSecret(c, req.name), plan: await getPlan(c, req.name) };
}

/**
 * Place the request on the hosts `capacity` gives and commit the plan with the cluster's
 * config; places again (capacity read again) when another change raced with it.
 */
export async function commitPlacement(
  ctx: TaskContext,
  task: CreateTask,
  req: ClusterRequest,
  auth: ClusterAuth | undefined,
  capacity: () => Promise<FleetRead>,
): Promise<Plan> {
  let conflicted = false;
  return allocate(`placing ${req.name}`, async () => {
    // A commit made again after etcd answered too late conflicts with itself: it landed.
    if (conflicted && (await getJson<ClusterConfig>(ctx.etcd, configKey(req.name)))?.task === task.id) {
      const landed = await getPlan(ctx.etcd, req.name);
      if (landed) return landed;
    }
    const read = await capacity();
    const candidate = place(req, read.hosts);
    const config: ClusterConfig = { ...req, state: 'creating', task: task.id, auth: hasPassword(auth), created: new Date().toISOString(), ...(ctx.mesos ? { mesos: true } : {}) };
    try {
      await commitPlan(ctx.etcd, candidate, config, read);
    } catch (e) {
      conflicted = true;
      throw e;
    }
    return candidate;
  }, { log: ctx.log });
}

/** What redis-server prints when it rejects its config file (then it exits at once). */
const CONFIG_REFUSED = /Reading the configuration file|FATAL CONFIG FILE ERROR/;

/** Placement and start over SSH (the Mesos framework starts through offers instead: ctx.mesos). */
async function placeAndStart(ctx: TaskContext, task: CreateTask): Promise<void> {
  const c = ctx.etcd;
  const { req, auth, plan: committed } = await beginCreate(ctx, task);
  let plan = committed;
  if (!plan) {
    await step(ctx, task, 'placing');
    plan = await commitPlacement(ctx, task, req, auth, async () => {
      const fleet = await fleetCapacity(c);
      if (!fleet.hosts.length) throw new PlacementError('the fleet has no registered hosts: run `ovl bootstrap` with the cache-binaries component first');
      return fleet;
    });
  }
  await faultPoint(ctx, 'placed');
  const hostCount = new Set(plan.instances.map((i) => i.host)).size;
  await step(ctx, task, `starting ${plural(plan.instances.length, 'instance')} on ${plural(hostCount, 'host')}`);
  const setups = setupsOf(plan, plan.instances, task, auth);
  // Three things at once, since none needs another: the instance records (for operators and
  // executors; starting does not read them), the start on every host, and from the release on
  // the consistency check. The hosts' reports come seconds after the release when the
  // machines are busy with the starting nodes, and the check need not wait for them; a report
  // of an instance that did not start stops it (that instance is retried or moved first).
  const stop = new AbortController();
  let early: Promise<CheckReport | Error> | undefined;
  const [written, first] = await Promise.allSettled([
    writeInstances(ctx, plan, 'starting', { setups, auth }),
    startOnHosts(ctx, plan, plan.instances, task, auth, {
      setups,
      onReleased: (at, launched) => {
        const p = plan!;
        // The step's write does not hold the check back: on an etcd busy with the instance
        // records and starved by the starting nodes it took 3.6 s once at M = 100.
        const noted = step(ctx, task, checkStep(p)).catch((e: Error) => {
          stop.abort();
          throw e;
        });
        // Both settled before anything else is written: a later step must not be overtaken by this one.
        early = Promise.allSettled([noted, awaitHealthy(ctx, p, auth, firstCheckAt(p, launched, at), stop.signal)]).then(([n, r]) =>
          n.status === 'rejected' ? (n.reason as Error) : r.status === 'rejected' ? (r.reason as Error) : r.value,
        );
      },
    }),
  ]);
  const reports = first.status === 'fulfilled' ? first.value.reports : new Map<string, HostReport>();
  const failedOf = () => plan!.instances.filter((i) => reports.get(addrOf(i))?.status === 'failed');
  if (first.status === 'rejected' || written.status === 'rejected' || failedOf().length) {
    stop.abort();
    await early;
    early = undefined;
  }
  if (written.status === 'rejected') throw written.reason;
  if (first.status === 'rejected') throw first.reason;
  let releasedAt = first.value.releasedAt;
  // A config redis-server refuses is refused on every host: no retry, no move.
  const refused = failedOf().map((i) => reports.get(addrOf(i))!.detail).find((d) => CONFIG_REFUSED.test(d));
  if (refused) throw new Error(`redis-server ${plan.version} refuses the configuration (check the --config settings): ${refused.replace(/^.*?>>> /, '').slice(0, 300)}`);
  if (failedOf().length) {
    await step(ctx, task, `retrying ${failedOf().length} instance(s) that did not start: ${failedOf().map((i) => `${addrOf(i)} (${reports.get(addrOf(i))!.detail})`).join('; ')}`);
    const again = await startOnHosts(ctx, plan, failedOf(), task, auth, { setups });
    for (const [k, v] of again.reports) reports.set(k, v);
    releasedAt = again.releasedAt;
  }
  for (const inst of failedOf()) {
    const why = reports.get(addrOf(inst))!.detail;
    const from: Plan = plan;
    // The host chosen and taken at once: no other task of this process takes its port meanwhile.
    const { moved, next } = await allocate(`moving ${addrOf(inst)}`, async (): Promise<{ moved: PlannedInstance; next: Plan }> => {
      const spot = relocation(from, inst, (await fleetCapacity(c)).hosts, new Set([inst.host]));
      if (!spot) throw new Error(`${addrOf(inst)} (${inst.host}) does not start (${why}) and no other host can take it`);
      return { moved: spot, next: await replaceInstance(c, from, inst, spot) };
    });
    plan = next;
    await step(ctx, task, `moving ${addrOf(inst)} (${why}) to ${moved.host}`);
    await stopOnHosts(ctx, plan, [inst], true).catch(() => undefined);
    await writeInstances(ctx, plan, 'starting');
    // A plain Redis replica names its master's address in its redis.conf: the replicas of a
    // moved master start again from a config that names the new one. (Redis Cluster nodes learn
    // a moved node's address from its own first ping.)
    const followers = plan.type === 'redis' && inst.role === 'master' ? plan.instances.filter((i) => i.masterId === inst.id) : [];
    if (followers.length) await stopOnHosts(ctx, plan, followers, false);
    const r = await startOnHosts(ctx, plan, [moved, ...followers], task, auth);
    for (const [k, v] of r.reports) reports.set(k, v);
    releasedAt = r.releasedAt;
    const lost = [moved, ...followers].filter((i) => r.reports.get(addrOf(i))?.status === 'failed');
    if (lost.length) throw new Error(`${lost.map((i) => `${addrOf(i)} (${i.host})`).join(', ')} did not start there either: ${lost.map((i) => r.reports.get(addrOf(i))!.detail).join('; ')}`);
  }

  const checked = await early;
  if (checked instanceof Error) throw checked;
  if (!checked) return finishCreate(ctx, task, plan, auth, firstCheckAt(plan, reports, releasedAt));
  await recordHealth(ctx, plan, checked);
  await step(ctx, task, runningStep(plan, checked));
}

/**
 * A create that failed is rolled back: its processes and directories removed on every host, its
 * keys removed and its ports freed, so that only the task's record (with the reason) is left
 * and the same create can simply be run again. A host that does not answer keeps the cluster
 * (state failed) with what to do.
 */
async function rollBack(ctx: TaskContext, task: CreateTask, e: unknown): Promise<void> {
  const name = task.request.name;
  const cfg = await getJson<ClusterConfig>(ctx.etcd, configKey(name));
  if (e instanceof PlacementError || !cfg) {
    // Nothing was placed: no key of this request may stay (its secret was written by create).
    if (!cfg) await ctx.etcd.delete().key(secretKey(name));
    return;
  }
  if (cfg.task !== task.id) return;
  const plan = await getPlan(ctx.etcd, name);
  try {
    if (plan) await stopOnHosts(ctx, plan, plan.instances, true);
    await removeClusterKeys(ctx.etcd, name, task.id);
    task.error = `${task.error} (rolled back: its instances, directories and keys are removed, its ports free)`;
  } catch (undo) {
    task.error = `${task.error} (not rolled back: ${(undo as Error).message}; run ovl cluster delete ${name} once every host answers)`;
    await updateConfig(ctx.etcd, name, { state: 'failed', error: task.error });
  }
}

export const createTask: TaskKindModule<CreateTask> = {
  run: (ctx, task) => (ctx.mesos ? ctx.mesos.create(ctx, task) : placeAndStart(ctx, task)),
  onFailure: rollBack,
};
