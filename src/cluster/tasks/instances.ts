// Instances on their hosts (start, stop) and their records in etcd, for every task kind.
import { runScript } from '../../ssh/transport.js';
import { mapLimit } from '../../util/semaphore.js';
import { installScript, instanceSetup, parseReports, pidfileOf, releaseScript, stopScript, type HostReport, type InstanceSetup } from '../hostops.js';
import { renderNodesConfs } from '../nodesconf.js';
import { renderRedisConf } from '../redisconf.js';
import { addrOf, dropRetired, listInstances, putInstances, type InstanceInfo } from '../store.js';
import type { Task } from '../task-store.js';
import { startTogether, type TogetherOptions } from '../together.js';
import { instanceDir, type Plan, type PlannedInstance, type RetiredInstance } from '../types.js';
import { faultPoint, step, type TaskContext } from './context.js';
import type { ClusterAuth } from '../auth.js';

export function byHost<T extends { host: string }>(items: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) m.set(i.host, [...(m.get(i.host) ?? []), i]);
  return m;
}

/**
 * Stop instances on their hosts, all hosts at once: removed (killed, directory deleted) or
 * only stopped (TERM, pid file removed; data and identity kept). Throws naming the hosts where
 * not every instance was stopped.
 */
export async function stopOnHosts(ctx: TaskContext, plan: Plan, insts: PlannedInstance[], remove: boolean): Promise<void> {
  if (ctx.mesos) {
    // Their Mesos tasks are killed first (the executors stop the instances, Mesos frees their
    // resources); what is left is stopped over SSH below.
    const stuck = await ctx.mesos.kill(plan.cluster, insts.map(addrOf));
    if (stuck.length) ctx.log(`Mesos tasks not ended in time, stopped over SSH: ${stuck.join(', ')}`);
  }
  const failed: string[] = [];
  await mapLimit([...byHost(insts)], 64, async ([host, list]) => {
    const items = list.map((i) => ({ addr: addrOf(i), dir: instanceDir(plan.type, i.port), pidfile: pidfileOf(plan, i.port) }));
    // A host that does not answer is named with the others; the rest are stopped all the same.
    const r = await ctx.fleet
      .remote(host)
      .then((remote) => runScript(remote, stopScript(items, remove)))
      .catch((e: Error) => ({ stdout: '', stderr: e.message, code: -1 }));
    const stopped = parseReports(r.stdout).filter((x) => x.status === 'stopped').length;
    if (stopped !== items.length) failed.push(`${host}: stopped ${stopped} of ${items.length} instances (exit ${r.code}: ${r.stderr.trim().slice(-300)})`);
  });
  if (failed.length) throw new Error(failed.join('; '));
}

/** Each instance's files and commands, rendered once for starting it and for its record in etcd. */
export function setupsOf(plan: Plan, insts: PlannedInstance[], task: Task, auth?: ClusterAuth, scaleJoin = false): Map<string, InstanceSetup> {
  const nodesConfs = plan.type === 'redis_cluster' ? renderNodesConfs(plan) : undefined;
  return new Map(insts.map((i) => [addrOf(i), instanceSetup(plan, i, { auth, task: task.id, nodesConfs, scaleJoin })]));
}

/**
 * Install instances' files on their hosts without starting them (a Mesos agent starts them), all
 * hosts at once. Returns why, by ip:port, for those not installed.
 */
export async function installOnHosts(ctx: TaskContext, plan: Plan, insts: PlannedInstance[], task: Task, auth: ClusterAuth | undefined, held = false, fresh = false): Promise<Map<string, string>> {
  const setups = setupsOf(plan, insts, task, auth);
  const failed = new Map<string, string>();
  await mapLimit([...byHost(insts)], 64, async ([host, list]) => {
    const r = await ctx.fleet
      .remote(host)
      .then((remote) => runScript(remote, installScript(list.map((i) => setups.get(addrOf(i))!), held, fresh)))
      .catch((e: Error) => ({ stdout: '', stderr: e.message, code: -1 }));
    const reports = new Map(parseReports(r.stdout).map((x) => [x.addr, x]));
    for (const i of list) {
      const rep = reports.get(addrOf(i));
      if (rep?.status !== 'installed') failed.set(addrOf(i), `not installed on ${host}: ${rep?.detail || `exit ${r.code}: ${r.stderr.trim().slice(-300)}`}`);
    }
  });
  return failed;
}

/** Release instances held at their start gates (installOnHosts with `held`), all hosts at once. */
export async function releaseOnHosts(ctx: TaskContext, plan: Plan, insts: PlannedInstance[]): Promise<void> {
  await mapLimit([...byHost(insts)], 64, async ([host, list]) => {
    const remote = await ctx.fleet.remote(host);
    const r = await runScript(remote, releaseScript(list.map((i) => ({ dir: instanceDir(plan.type, i.port), pidfile: pidfileOf(plan, i.port) }))));
    if (r.code !== 0) throw new Error(`${host}: cannot release its instances (exit ${r.code}: ${r.stderr.trim().slice(-300)})`);
  });
}

/**
 * Install and start instances on their hosts, all hosts in parallel, every process released at
 * the same moment (startTogether). Reports by ip:port, and when the processes were let go;
 * `onReleased` hears of the release as it happens (the hosts' reports come later).
 */
export async function startOnHosts(
  ctx: TaskContext,
  plan: Plan,
  insts: PlannedInstance[],
  task: Task,
  auth: ClusterAuth | undefined,
  opts: { setups?: Map<string, InstanceSetup>; onReleased?: TogetherOptions['onReleased'] } = {},
): Promise<{ reports: Map<string, HostReport>; releasedAt: number }> {
  // On Mesos the agents' executors render and start them, from the plan in etcd.
  if (ctx.mesos) return ctx.mesos.startInstances(ctx, plan, insts, task, auth);
  const setups = opts.setups ?? setupsOf(plan, insts, task, auth);
  const groups = [...byHost(insts)].map(([host, list]) => ({ host, remote: () => ctx.fleet.remote(host), setups: list.map((i) => setups.get(addrOf(i))!) }));
  const faulty = process.env.OVL_FAULT_PAUSE?.startsWith('after-first-host:');
  const r = await startTogether(groups, {
    onReleased: opts.onReleased,
    release: faulty
      ? async (go, hosts) => {
          go(hosts[0]!);
          await faultPoint(ctx, 'after-first-host');
          hosts.slice(1).forEach(go);
        }
      : undefined,
  });
  ctx.log(`installed and held on ${groups.length} host(s) in ${r.readyMs} ms, released and started in ${Date.now() - r.releasedAt} ms`);
  return r;
}

/**
 * The instance records (seed 001: info, server.conf, nodes.conf). `started` are the files
 * rendered to start the instances, reused but for a redis.conf that holds the password.
 */
export async function writeInstances(ctx: TaskContext, plan: Plan, state: InstanceInfo['state'], started?: { setups: Map<string, InstanceSetup>; auth?: ClusterAuth }): Promise<void> {
  const file = (i: PlannedInstance, name: string) => started?.setups.get(addrOf(i))?.files.find((f) => f.name === name)?.content.toString();
  const secret = started?.auth !== undefined;
  let confs: Map<string, string> | undefined;
  const nodesConf = (i: PlannedInstance) => file(i, 'nodes.conf') ?? (confs ??= renderNodesConfs(plan)).get(i.id);
  await putInstances(
    ctx.etcd,
    plan.cluster,
    plan.instances.map((i) => ({
      info: { ...i, cluster: plan.cluster, type: plan.type, version: i.version ?? plan.version, state },
      // The copy in etcd is for operators and executors; secrets stay in the secrets key.
      serverConf: plan.type === 'memcache' ? '' : (!secret && file(i, 'redis.conf')) || renderRedisConf(plan, i),
      nodesConf: plan.type === 'redis_cluster' ? nodesConf(i) : undefined,
    })),
  );
}

/**
 * Retired instances (replaced by `restart --move`) stopped and removed on their hosts, which
 * answer again; their ports freed. Those on hosts that still do not answer stay listed.
 */
export async function stopRetired(ctx: TaskContext, task: Task, plan: Plan): Promise<{ plan: Plan; left: RetiredInstance[] }> {
  if (!plan.retired?.length) return { plan, left: [] };
  const stopped: RetiredInstance[] = [];
  const left: RetiredInstance[] = [];
  await mapLimit([...byHost(plan.retired)], 16, async ([, list]) => {
    const ok = await stopOnHosts(ctx, plan, list, true).then(() => true, () => false);
    (ok ? stopped : left).push(...list);
  });
  const named = (list: RetiredInstance[]) => list.map((r) => `${addrOf(r)} (${r.host})`).join(', ');
  if (left.length) ctx.log(`${task.id}: retired instances not stopped yet, their hosts do not answer: ${named(left)}`);
  if (!stopped.length) return { plan, left };
  await step(ctx, task, `stopped retired instances: ${named(stopped)}`);
  // A Redis Cluster id stays listed until every node has forgotten it (finishJoins).
  const done = stopped.filter((r) => plan.type !== 'redis_cluster' || r.forgotten);
  return { plan: done.length ? await dropRetired(ctx.etcd, plan.cluster, done.map(addrOf)) : plan, left };
}

/**
 * Instance records written again where the plan has changed under them (restart --move: a new
 * instance, a replica following a moved master; scale: slots moved) and a task stopped before
 * writing them.
 */
export async function repairRecords(ctx: TaskContext, task: Task, plan: Plan, auth: ClusterAuth | undefined): Promise<void> {
  const recorded = new Map([...(await listInstances(ctx.etcd, plan.cluster)).values()].map((r) => [addrOf(r), r]));
  const stale = plan.instances.filter((i) => {
    const r = recorded.get(addrOf(i));
    return r?.id !== i.id || r.role !== i.role || r.version !== (i.version ?? plan.version) || r.masterId !== i.masterId || JSON.stringify(r.slots ?? []) !== JSON.stringify(i.slots ?? []);
  });
  if (stale.length) await writeInstances(ctx, { ...plan, instances: stale }, 'starting', { setups: setupsOf(plan, stale, task, auth), auth });
}


/**
 * The files ovl owns (redis.conf, meta.toml) written again on the hosts of `insts`, nothing
 * restarted: their roles changed, and a process started again by its supervisor must come back
 * in the role the plan gives it (a plain Redis master's redis.conf has no `replicaof`).
 */
export async function rewriteFiles(ctx: TaskContext, plan: Plan, insts: PlannedInstance[], task: Task, auth: ClusterAuth | undefined, setups = setupsOf(plan, insts, task, auth)): Promise<void> {
  const failed: string[] = [];
  await mapLimit([...byHost(insts)], 64, async ([host, list]) => {
    const r = await ctx.fleet
      .remote(host)
      .then((remote) => runScript(remote, installScript(list.map((i) => setups.get(addrOf(i))!))))
      .catch((e: Error) => ({ stdout: '', stderr: e.message, code: -1 }));
    const done = parseReports(r.stdout).filter((x) => x.status === 'installed').length;
    if (done !== list.length) failed.push(`${host}: ${done} of ${list.length} written (exit ${r.code}: ${r.stderr.trim().slice(-300)})`);
  });
  if (failed.length) throw new Error(`files not written: ${failed.join('; ')}`);
}
