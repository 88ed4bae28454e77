// One round of offers for one job: a create is placed on them (the same placement as the fleet
// path, committed to etcd the same way), and waiting instances are launched where the plan has
// them; a create's instance that failed is moved to another agent (never next to a member of
// its shard: relocation()).
import { allocate } from '../cluster/allocations.js';
import { fleetCapacity } from '../cluster/capacity.js';
import { ConflictError } from '../cluster/errors.js';
import { PlacementError, instanceMemMB, relocation } from '../cluster/placement.js';
import { addrOf, replaceInstance, setInstanceStates } from '../cluster/store.js';
import type { CreateTask } from '../cluster/task-store.js';
import { commitPlacement } from '../cluster/tasks/create.js';
import { step } from '../cluster/tasks/context.js';
import { writeInstances } from '../cluster/tasks/instances.js';
import type { HostCapacity, Plan, PlannedInstance } from '../cluster/types.js';
import { settle, type Job } from './jobs.js';
import { EXECUTOR_MEM_MB, taskMemMB, type AgentResources } from './offers.js';

export interface ServeEnv {
  taskCpus: number;
  relaunchWaitMs: number;
  /** Draw the instance's resources from the agent's offers and add its launch to the round's. */
  launch: (job: Job, inst: PlannedInstance, agent: AgentResources) => void;
  /** Whether the agent may take one more launch now, beside `more` chosen in this round
   * (launches not running yet are paced). */
  mayLaunch: (agent: AgentResources, more: number) => boolean;
  /** Install instances' files on their hosts before their launch; returns those installed (the
   * job hears of the others). */
  install: (job: Job, insts: PlannedInstance[]) => Promise<PlannedInstance[]>;
}

export async function serve(env: ServeEnv, job: Job, agents: Map<string, AgentResources>, now: number): Promise<void> {
  const { ctx, task } = job;
  const capacities = async () => {
    const fleet = await fleetCapacity(ctx.etcd);
    const registered = new Map(fleet.hosts.map((h) => [h.name, h]));
    const type = job.plan?.type ?? job.req!.type;
    const maxmemoryMB = job.plan?.maxmemoryMB ?? job.req!.maxmemoryMB;
    const hosts = [...agents.values()].flatMap((a) => a.capacity(type, maxmemoryMB, env.taskCpus, registered.get(a.host.name)) ?? []);
    return { hosts, revisions: fleet.revisions };
  };
  const launch = (inst: PlannedInstance) => env.launch(job, inst, agents.get(inst.host)!);
  // The instances the pacing lets go this round; only those are installed and launched.
  const chosen = new Map<string, number>();
  const room = (inst: PlannedInstance) => {
    const agent = agents.get(inst.host)!;
    const n = chosen.get(agent.agentId) ?? 0;
    if (!env.mayLaunch(agent, n)) return false;
    chosen.set(agent.agentId, n + 1);
    return true;
  };

  if (!job.plan) {
    const req = job.req!;
    let plan: Plan;
    try {
      plan = await commitPlacement(ctx, task as CreateTask, req, job.auth, async () => {
        const c = await capacities();
        if (!c.hosts.length) {
          const need = `a port, ${taskMemMB(req.maxmemoryMB)} MB (the instance's ${instanceMemMB(req.maxmemoryMB)} and its executor's ${EXECUTOR_MEM_MB}) and ${env.taskCpus} cpus`;
          throw new PlacementError(
            req.type === 'redis_cluster'
              ? `no offer from the inventory's hosts has ${need} with the port's cluster bus port (port + 10000) offered too: agents must offer both ranges, e.g. ports:[7000-7999,17000-17999]`
              : `no offer from the inventory's hosts has ${need}`,
          );
        }
        return c;
      });
    } catch (e) {
      if (e instanceof PlacementError) {
        if (job.short !== e.message) ctx.log(`${task.id}: not placed on the offers yet: ${e.message}`);
        job.short = e.message;
        return;
      }
      return settle(job, e as Error);
    }
    job.plan = plan;
    job.wanted = new Set(plan.instances.map((i) => i.id));
    job.short = undefined;
    const hostCount = new Set(plan.instances.map((i) => i.host)).size;
    await step(ctx, task, `launching ${plan.instances.length} instances on ${hostCount} Mesos agents`);
    await writeInstances(ctx, plan, 'starting');
    const first = plan.instances.filter(room);
    for (const inst of plan.instances) if (!first.includes(inst)) job.pending.set(inst.id, { since: now, readyAt: 0, relocate: false, exclude: new Set() });
    for (const inst of await env.install(job, first)) launch(inst);
    return;
  }

  // Where they are planned, when their agent's offers hold them (a start's files are installed
  // before it waits; a create's are installed again, as a resumed create may not have).
  const plan = job.plan;
  const fit = [...job.pending]
    .filter(([, p]) => p.readyAt <= now && !p.relocate)
    .map(([id]) => plan.instances.find((i) => i.id === id)!)
    .filter((inst) => agents.get(inst.host)?.fits(plan, inst, env.taskCpus));
  if (fit.length && !job.settled) {
    const go = fit.filter(room);
    // Held back by the pacing, not by a missing offer: it does not count as waiting for one.
    for (const inst of fit) if (!go.includes(inst)) job.pending.get(inst.id)!.since = now;
    for (const inst of job.kind === 'create' ? await env.install(job, go) : go) launch(inst);
  }

  let hosts: HostCapacity[] | undefined;
  for (const [id, p] of [...job.pending]) {
    if (p.readyAt > now || job.settled) continue;
    const inst: PlannedInstance = job.plan.instances.find((i) => i.id === id)!;
    if (!p.relocate) {
      // Starts wait for their own agent (expireStarts); creates move the instance.
      if (job.kind === 'create' && now - p.since > env.relaunchWaitMs) p.relocate = true;
      else continue;
    }
    hosts ??= (await capacities()).hosts;
    const moved = relocation(job.plan, inst, hosts, p.exclude);
    if (!moved) {
      job.short = `no offer can take ${addrOf(inst)} (not on ${[...p.exclude].join(', ') || 'its host'} nor next to its shard)`;
      continue;
    }
    try {
      const before: Plan = job.plan;
      job.plan = await allocate(`moving ${addrOf(inst)}`, () => replaceInstance(ctx.etcd, before, inst, moved));
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      hosts = undefined;
      continue;
    }
    job.wanted.delete(inst.id);
    job.wanted.add(moved.id);
    await step(ctx, task, `moving ${addrOf(inst)} (${p.why ?? 'not offered'}) to ${moved.host} (${addrOf(moved)})`);
    // Every instance's files name every other (nodes.conf): all rewritten, states kept.
    await writeInstances(ctx, job.plan, 'starting');
    const up = job.plan.instances.filter((i) => job.running.has(i.id));
    if (up.length) await setInstanceStates(ctx.etcd, job.plan.cluster, new Map(up.map((i) => [addrOf(i), { state: 'up' as const }])));
    hosts = undefined;
    for (const m of await env.install(job, [moved])) launch(m);
  }
}
