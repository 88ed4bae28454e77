// What the scheduler does for each task kind. Every step is idempotent, so a task picked up
// again after a scheduler died goes on from where the state in etcd and on the hosts says.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import { runScript } from '../ssh/transport.js';
import { plural } from '../util/plural.js';
import { mapLimit } from '../util/semaphore.js';
import { serves, waitHealthy, type CheckReport } from './check.js';
import { failBack } from './failback.js';
import { forgetNode, joinShard, shardMaster } from './join.js';
import { newNodeId } from './nodeid.js';
import type { Fleet } from './fleet.js';
import { instanceSetup, parseReports, pidfileOf, stopScript, type HostReport, type InstanceSetup } from './hostops.js';
import { startTogether, type TogetherOptions } from './together.js';
import { PlacementError, instanceMemMB, place } from './placement.js';
import { renderNodesConfs } from './nodesconf.js';
import { renderRedisConf } from './redisconf.js';
import {
  ConflictError,
  addrOf,
  commitPlan,
  fleetCapacity,
  getJson,
  getPlan,
  getSecret,
  pruneTasks,
  putInstances,
  putTask,
  dropRetired,
  listInstances,
  markForgotten,
  markJoined,
  removeCluster,
  replaceInstance,
  swapInstance,
  setInstanceStates,
  startTask,
  updateConfig,
  type ClusterConfig,
  type InstanceInfo,
  type Task,
} from './store.js';
import { configKey, secretKey } from '../state/keys.js';
import { binaryType, instanceDir, type ClusterRequest, type HostCapacity, type Plan, type PlannedInstance, type RetiredInstance } from './types.js';

export interface TaskContext {
  etcd: Etcd3;
  fleet: Fleet;
  log: (line: string) => void;
  /** Runs create tasks instead of runCreate (placement and start over SSH): the Mesos framework
   * when the inventory's scheduler.resources is mesos. */
  create?: (ctx: TaskContext, task: Task) => Promise<void>;
}


export async function step(ctx: TaskContext, task: Task, text: string): Promise<void> {
  task.step = text;
  ctx.log(`${task.id}: ${text}`);
  await putTask(ctx.etcd, task);
}

/** A fault-injection point for the tests of resuming: OVL_FAULT_PAUSE=<point>:<ms>. */
async function faultPoint(ctx: TaskContext, point: string): Promise<void> {
  const [at, ms] = (process.env.OVL_FAULT_PAUSE ?? '').split(':');
  if (at === point) {
    ctx.log(`fault point ${point}: pausing ${ms} ms`);
    await sleep(Number(ms));
  }
}

function byHost<T extends { host: string }>(items: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) m.set(i.host, [...(m.get(i.host) ?? []), i]);
  return m;
}

/**
 * Stop instances on their hosts, all hosts at once: removed (killed, directory deleted) or
 * only stopped (TERM, pid file removed; data and identity kept). Throws naming the hosts where
 * not every instance was stopped.
 */
async function stopOnHosts(ctx: TaskContext, plan: Plan, insts: PlannedInstance[], remove: boolean): Promise<void> {
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
function setupsOf(plan: Plan, insts: PlannedInstance[], task: Task, password?: string): Map<string, InstanceSetup> {
  const nodesConfs = plan.type === 'redis_cluster' ? renderNodesConfs(plan) : undefined;
  return new Map(insts.map((i) => [addrOf(i), instanceSetup(plan, i, { password, task: task.id, nodesConfs })]));
}

/**
 * Install and start instances on their hosts, all hosts in parallel, every process released at
 * the same moment (startTogether). Reports by ip:port, and when the processes were let go;
 * `onReleased` hears of the release as it happens (the hosts' reports come later).
 */
async function startOnHosts(
  ctx: TaskContext,
  plan: Plan,
  insts: PlannedInstance[],
  task: Task,
  password: string | undefined,
  opts: { setups?: Map<string, InstanceSetup>; onReleased?: TogetherOptions['onReleased'] } = {},
): Promise<{ reports: Map<string, HostReport>; releasedAt: number }> {
  const setups = opts.setups ?? setupsOf(plan, insts, task, password);
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
 * A host for an instance that cannot start where it was placed: free port and memory, the
 * binary version, and never the host of another member of its shard (master/replica anti-affinity).
 * A master goes where the cluster has the fewest masters (they take the writes), then any
 * instance where it has the fewest instances.
 */
export function relocation(plan: Plan, inst: PlannedInstance, hosts: HostCapacity[], exclude: Set<string>): PlannedInstance | null {
  const shardHosts = new Set(plan.instances.filter((i) => i.shard === inst.shard && i.id !== inst.id).map((i) => i.host));
  const load = (h: string) => plan.instances.filter((i) => i.host === h && i.id !== inst.id).length;
  const masters = (h: string) => (inst.role === 'master' ? plan.instances.filter((i) => i.host === h && i.role === 'master' && i.id !== inst.id).length : 0);
  const need = instanceMemMB(plan.maxmemoryMB);
  const candidates = hosts
    .filter((h) => !exclude.has(h.name) && !shardHosts.has(h.name) && h.memMB - h.usedMemMB >= need && (h.versions[binaryType(plan.type)] ?? []).includes(plan.version))
    .sort((a, b) => masters(a.name) - masters(b.name) || load(a.name) - load(b.name) || a.name.localeCompare(b.name));
  for (const h of candidates) {
    const used = new Set(h.usedPorts.flatMap((p) => [p, p + 10000]));
    for (const i of plan.instances) if (i.host === h.name) used.add(i.port).add(i.port + 10000);
    for (let p = h.ports.from; p <= h.ports.to; p++) {
      if (used.has(p) || (plan.type === 'redis_cluster' && (used.has(p + 10000) || p + 10000 > 65535))) continue;
      return { ...inst, host: h.name, address: h.address, port: p };
    }
  }
  return null;
}

/**
 * The instance records (seed 001: info, server.conf, nodes.conf). `started` are the files
 * rendered to start the instances, reused but for a redis.conf that holds the password.
 */
export async function writeInstances(ctx: TaskContext, plan: Plan, state: InstanceInfo['state'], started?: { setups: Map<string, InstanceSetup>; password?: string }): Promise<void> {
  const file = (i: PlannedInstance, name: string) => started?.setups.get(addrOf(i))?.files.find((f) => f.name === name)?.content.toString();
  const secret = started?.password !== undefined;
  let confs: Map<string, string> | undefined;
  const nodesConf = (i: PlannedInstance) => file(i, 'nodes.conf') ?? (confs ??= renderNodesConfs(plan)).get(i.id);
  await putInstances(
    ctx.etcd,
    plan.cluster,
    plan.instances.map((i) => ({
      info: { ...i, cluster: plan.cluster, type: plan.type, version: plan.version, state },
      // The copy in etcd is for operators and executors; secrets stay in the secrets key.
      serverConf: plan.type === 'memcache' ? '' : (!secret && file(i, 'redis.conf')) || renderRedisConf(plan, i),
      nodesConf: plan.type === 'redis_cluster' ? nodesConf(i) : undefined,
    })),
  );
}

function checkTimeout(plan: Plan): number {
  return 30_000 + 150 * plan.instances.length;
}

export function formatProblems(r: CheckReport): string {
  return r.problems.slice(0, 20).join('; ') + (r.problems.length > 20 ? ` (+${r.problems.length - 20} more)` : '');
}

/** What every create starts from: its request, its secret, and the plan when one was committed
 * already (a task picked up again). Refuses a name another task holds. */
export async function beginCreate(ctx: TaskContext, task: Task): Promise<{ req: ClusterRequest; password?: string; plan: Plan | null }> {
  const req = task.request;
  if (!req) throw new Error(`task ${task.id} has no request`);
  const c = ctx.etcd;
  const cfg = await getJson<ClusterConfig>(c, configKey(req.name));
  if (cfg && cfg.task !== task.id) throw new Error(`cluster ${req.name} exists already (state ${cfg.state}); delete it first or pick another name`);
  return { req, password: await getSecret(c, req.name), plan: await getPlan(c, req.name) };
}

/**
 * Place the request on the hosts `capacity` gives and commit the plan with the cluster's
 * config; places again (capacity read again) when another change raced with it.
 */
export async function commitPlacement(
  ctx: TaskContext,
  task: Task,
  req: ClusterRequest,
  password: string | undefined,
  capacity: () => Promise<{ hosts: HostCapacity[]; revisions: Map<string, string> }>,
): Promise<Plan> {
  for (let attempt = 1; ; attempt++) {
    const { hosts, revisions } = await capacity();
    const candidate = place(req, hosts);
    const config: ClusterConfig = { ...req, state: 'creating', task: task.id, auth: password !== undefined, created: new Date().toISOString() };
    try {
      await commitPlan(ctx.etcd, candidate, config, revisions);
      return candidate;
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= 10) throw e;
      // A commit made again after etcd answered too late conflicts with itself: it landed.
      if ((await getJson<ClusterConfig>(ctx.etcd, configKey(req.name)))?.task === task.id) {
        const landed = await getPlan(ctx.etcd, req.name);
        if (landed) return landed;
      }
    }
  }
}

/**
 * When the first consistency check is worth making: a Redis Cluster master says
 * cluster_state:fail for 2 s after it starts (CLUSTER_WRITABLE_DELAY, fixed in Redis), so
 * checks sooner only fail while taking CPU from nodes that are forming their bus mesh.
 * `launched`: the hosts' reports, where `held` and `started` mean launched by this task.
 */
function firstCheckAt(plan: Plan, launched: Map<string, HostReport>, releasedAt: number): number {
  const masterStarted = plan.instances.some((i) => i.role === 'master' && ['held', 'started'].includes(launched.get(addrOf(i))?.status ?? ''));
  return plan.type === 'redis_cluster' && masterStarted ? releasedAt + 2000 : 0;
}

/**
 * Check until healthy (or the time is up, or `signal` stops it), not before `notBefore`. Stopped
 * while it waits for `notBefore`, it rejects at once rather than make a check nobody reads.
 */
async function awaitHealthy(ctx: TaskContext, plan: Plan, password: string | undefined, notBefore: number, signal?: AbortSignal): Promise<CheckReport> {
  const wait = notBefore - Date.now();
  if (wait > 0) await sleep(wait, undefined, { signal });
  const t0 = Date.now();
  return waitHealthy(plan, {
    password,
    signal,
    timeoutMs: checkTimeout(plan),
    onReport: (r) => ctx.log(`check at ${Date.now() - t0} ms took ${r.ms} ms: ${r.problems.length ? `${r.problems.length} problem(s), e.g. ${r.problems[0]}` : 'healthy'}`),
  });
}

/** Record each instance's state from a check, and mark the cluster running (or throw). */
async function recordHealth(ctx: TaskContext, plan: Plan, report: CheckReport): Promise<void> {
  await setInstanceStates(ctx.etcd, plan.cluster, new Map(report.nodes.map((n) => [`${n.address}:${n.port}`, n.problems.length || !n.answered ? { state: 'failed', error: n.problems.join('; ') } : { state: 'up' }])));
  if (!report.healthy) throw new Error(`consistency check failed: ${formatProblems(report)}`);
  await updateConfig(ctx.etcd, plan.cluster, { state: 'running', error: undefined });
}

/** Wait for the consistency check, record each instance's state, and mark the cluster running (or throw). */
async function settle(ctx: TaskContext, plan: Plan, password: string | undefined, notBefore = 0): Promise<CheckReport> {
  const report = await awaitHealthy(ctx, plan, password, notBefore);
  await recordHealth(ctx, plan, report);
  return report;
}

const checkStep = (plan: Plan) => `consistency check of ${plan.instances.length} instances`;
const runningStep = (plan: Plan, report: CheckReport) => `running: ${plan.instances.length} instances healthy (check ${report.ms} ms)`;

/** The end of every create once all its instances run: consistency check, states, running. */
export async function finishCreate(ctx: TaskContext, task: Task, plan: Plan, password: string | undefined, notBefore = 0): Promise<void> {
  await step(ctx, task, checkStep(plan));
  const report = await settle(ctx, plan, password, notBefore);
  await step(ctx, task, runningStep(plan, report));
}

/** What redis-server prints when it rejects its config file (then it exits at once). */
const CONFIG_REFUSED = /Reading the configuration file|FATAL CONFIG FILE ERROR/;

export async function runCreate(ctx: TaskContext, task: Task): Promise<void> {
  const c = ctx.etcd;
  const { req, password, plan: committed } = await beginCreate(ctx, task);
  let plan = committed;
  if (!plan) {
    await step(ctx, task, 'placing');
    plan = await commitPlacement(ctx, task, req, password, async () => {
      const fleet = await fleetCapacity(c);
      if (!fleet.hosts.length) throw new PlacementError('the fleet has no registered hosts: run `ovl bootstrap` with the cache-binaries component first');
      return fleet;
    });
  }
  await faultPoint(ctx, 'placed');
  const hostCount = new Set(plan.instances.map((i) => i.host)).size;
  await step(ctx, task, `starting ${plural(plan.instances.length, 'instance')} on ${plural(hostCount, 'host')}`);
  const setups = setupsOf(plan, plan.instances, task, password);
  // Three things at once, since none needs another: the instance records (for operators and
  // executors; starting does not read them), the start on every host, and from the release on
  // the consistency check. The hosts' reports come seconds after the release when the
  // machines are busy with the starting nodes, and the check need not wait for them; a report
  // of an instance that did not start stops it (that instance is retried or moved first).
  const stop = new AbortController();
  let early: Promise<CheckReport | Error> | undefined;
  const [written, first] = await Promise.allSettled([
    writeInstances(ctx, plan, 'starting', { setups, password }),
    startOnHosts(ctx, plan, plan.instances, task, password, {
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
        early = Promise.allSettled([noted, awaitHealthy(ctx, p, password, firstCheckAt(p, launched, at), stop.signal)]).then(([n, r]) =>
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
    const again = await startOnHosts(ctx, plan, failedOf(), task, password, { setups });
    for (const [k, v] of again.reports) reports.set(k, v);
    releasedAt = again.releasedAt;
  }
  for (const inst of failedOf()) {
    const why = reports.get(addrOf(inst))!.detail;
    const { hosts } = await fleetCapacity(c);
    const moved = relocation(plan, inst, hosts, new Set([inst.host]));
    if (!moved) throw new Error(`${addrOf(inst)} (${inst.host}) does not start (${why}) and no other host can take it`);
    await step(ctx, task, `moving ${addrOf(inst)} (${why}) to ${moved.host}`);
    await stopOnHosts(ctx, plan, [inst], true).catch(() => undefined);
    plan = await replaceInstance(c, plan, inst, moved);
    await writeInstances(ctx, plan, 'starting');
    // A plain Redis replica names its master's address in its redis.conf: the replicas of a
    // moved master start again from a config that names the new one. (Redis Cluster nodes learn
    // a moved node's address from its own first ping.)
    const followers = plan.type === 'redis' && inst.role === 'master' ? plan.instances.filter((i) => i.masterId === inst.id) : [];
    if (followers.length) await stopOnHosts(ctx, plan, followers, false);
    const r = await startOnHosts(ctx, plan, [moved, ...followers], task, password);
    for (const [k, v] of r.reports) reports.set(k, v);
    releasedAt = r.releasedAt;
    const lost = [moved, ...followers].filter((i) => r.reports.get(addrOf(i))?.status === 'failed');
    if (lost.length) throw new Error(`${lost.map((i) => `${addrOf(i)} (${i.host})`).join(', ')} did not start there either: ${lost.map((i) => r.reports.get(addrOf(i))!.detail).join('; ')}`);
  }

  const checked = await early;
  if (checked instanceof Error) throw checked;
  if (!checked) return finishCreate(ctx, task, plan, password, firstCheckAt(plan, reports, releasedAt));
  await recordHealth(ctx, plan, checked);
  await step(ctx, task, runningStep(plan, checked));
}

export async function runDelete(ctx: TaskContext, task: Task): Promise<void> {
  const c = ctx.etcd;
  const plan = await getPlan(c, task.cluster);
  let left: RetiredInstance[] = [];
  if (plan) {
    await updateConfig(c, task.cluster, { state: 'deleting' });
    await step(ctx, task, `stopping ${plan.instances.length} instances and removing their directories`);
    await stopOnHosts(ctx, plan, plan.instances, true).catch((e: Error) => {
      throw new Error(`${e.message}. Its keys and ports are kept (state "deleting"): run ovl cluster delete ${task.cluster} again once every host answers`);
    });
    // Retired instances are stopped where their hosts answer; one lost for good must not keep
    // the cluster from going, but the port its process may still hold stays taken.
    ({ left } = await stopRetired(ctx, task, plan));
  }
  await step(ctx, task, `removing its keys and freeing its ports${left.length ? ` (but ${left.map((r) => `${r.host}:${r.port}`).join(', ')}, where retired instances may still run)` : ''}`);
  await removeClusterKeys(c, task.cluster, task.id, left);
  await step(ctx, task, 'deleted');
}

export async function runRestart(ctx: TaskContext, task: Task): Promise<void> {
  const c = ctx.etcd;
  const found = await getPlan(c, task.cluster);
  if (!found) throw new Error(`no cluster named ${task.cluster}`);
  let plan = found;
  const password = await getSecret(c, task.cluster);
  const wanted = task.instances?.length ? plan.instances.filter((i) => task.instances!.includes(addrOf(i))) : plan.instances;
  const unknown = (task.instances ?? []).filter((a) => !found.instances.some((i) => addrOf(i) === a));
  if (unknown.length) throw new Error(`${unknown.join(', ')}: not an instance of ${task.cluster} (see ovl cluster show ${task.cluster})`);
  ({ plan } = await stopRetired(ctx, task, plan));
  if (task.instances?.length) {
    // Named instances are restarted even when running; the others only when down.
    await step(ctx, task, `stopping ${wanted.map(addrOf).join(', ')}`);
    await stopOnHosts(ctx, plan, wanted, false);
  }
  await step(ctx, task, `starting what is down among ${wanted.length} instances (data and identity kept)`);
  const { reports, releasedAt } = await startOnHosts(ctx, plan, wanted, task, password);
  // A host whose SSH is down may still run its instances: those that answer are running.
  const notStarted = [...reports.values()].filter((r) => r.status === 'failed');
  const instOf = (r: HostReport) => plan.instances.find((i) => addrOf(i) === r.addr)!;
  const answering = await Promise.all(notStarted.map((r) => serves(plan, instOf(r), password, 2000)));
  const running = notStarted.filter((_, k) => answering[k]);
  for (const r of running) reports.set(r.addr, { ...r, status: 'running' });
  if (running.length) await step(ctx, task, `running, though their hosts could not be reached to start them: ${running.map((r) => `${r.addr} (${r.detail})`).join('; ')}`);
  const failed = notStarted.filter((_, k) => !answering[k]);
  // `show` must not go on saying they are up, whatever happens next.
  if (failed.length) await setInstanceStates(c, plan.cluster, new Map(failed.map((f) => [f.addr, { state: 'failed', error: `did not start: ${f.detail}` }])));
  let moved = 0;
  if (failed.length && task.move) {
    // No instance goes to a host this run could not reach.
    const unreachable = new Set(notStarted.map((r) => instOf(r).host));
    ({ plan, moved } = await moveInstances(ctx, task, plan, failed, unreachable, password));
  } else if (failed.length) {
    throw new Error(`did not start: ${failed.map((f) => `${f.addr} (${f.detail})`).join('; ')} (a host lost for good: ovl cluster restart ${task.cluster} --move puts its instances on other hosts)`);
  }
  await repairRecords(ctx, task, plan, password);
  plan = await finishJoins(ctx, task, plan, password);
  // A master down longer than the node timeout is a replica now: its role back first.
  const back = await failBack(plan, { password, timeoutMs: checkTimeout(plan), log: ctx.log });
  if (back.length) await step(ctx, task, `failed back: ${back.join(', ')} master again, as planned`);
  await step(ctx, task, 'consistency check');
  await settle(ctx, plan, password, firstCheckAt(plan, reports, releasedAt));
  const count = (s: string) => [...reports.values()].filter((r) => r.status === s).length;
  await step(ctx, task, `restarted: ${count('started')} started, ${count('running')} were running${moved ? `, ${moved} moved to other hosts` : ''}${back.length ? `, ${back.length} failed back to master` : ''}`);
}

/**
 * Retired instances (replaced by `restart --move`) stopped and removed on their hosts, which
 * answer again; their ports freed. Those on hosts that still do not answer stay listed.
 */
async function stopRetired(ctx: TaskContext, task: Task, plan: Plan): Promise<{ plan: Plan; left: RetiredInstance[] }> {
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
 * Instances that did not start where they are and do not answer (`failed`), each put on another
 * host (restart --move) with a new identity; the old one is retired (stopped by a later restart
 * once its host answers). Every move is decided before the first is made, and none is made when
 * one would lose data: a plain Redis master (a new one would start empty and its replicas would
 * copy it), or a Redis Cluster instance whose shard has no master that answers (a lost master's
 * replica takes over after cluster-node-timeout). A moved Redis Cluster node is placed
 * `joining`: finishJoins makes it part of the cluster.
 */
async function moveInstances(ctx: TaskContext, task: Task, plan: Plan, failed: HostReport[], unreachable: Set<string>, password: string | undefined): Promise<{ plan: Plan; moved: number }> {
  const o = { password, timeoutMs: checkTimeout(plan), log: ctx.log };
  const why = new Map(failed.map((f) => [f.addr, f.detail]));
  const lost = plan.instances.filter((i) => why.has(addrOf(i)));
  const live = plan.instances.filter((i) => !lost.includes(i) && !i.joining);
  const lostOne = (i: PlannedInstance) => `${addrOf(i)} (${i.host}) does not start (${why.get(addrOf(i))})`;
  for (const inst of lost) {
    if (plan.type === 'redis' && inst.role === 'master') {
      throw new Error(`${lostOne(inst)} and is the master of a plain Redis group: a new one would start empty and its replicas would copy it. Bring ${inst.host} back (ovl cluster restart ${plan.cluster}), or make a replica the master by hand. Nothing was moved`);
    }
    if (plan.type === 'redis_cluster' && !(await shardMaster(inst, live, o))) {
      throw new Error(`${lostOne(inst)} and no other member of its shard is a master that answers${inst.role === 'master' ? ' (a replica takes over after cluster-node-timeout: run restart --move again then)' : ''}: nothing holds its data. Nothing was moved`);
    }
  }
  // Where each goes, on the plan as it will be after the moves before it (a replica whose master
  // moved follows the master's new id).
  const { hosts } = await fleetCapacity(ctx.etcd);
  const need = instanceMemMB(plan.maxmemoryMB);
  let next = plan;
  const targets = lost.map((inst) => {
    const current = next.instances.find((i) => i.id === inst.id)!;
    const spot = relocation(next, current, hosts, unreachable);
    if (!spot) throw new Error(`${lostOne(inst)} and no other host can take it. Nothing was moved`);
    const to: PlannedInstance = { ...spot, id: newNodeId(), ...(plan.type === 'redis_cluster' ? { joining: true } : {}) };
    const h = hosts.find((x) => x.name === to.host)!;
    h.usedPorts.push(to.port);
    h.usedMemMB += need;
    next = swapInstance(next, current, to);
    return [current, to] as const;
  });

  for (const [from, to] of targets) {
    await step(ctx, task, `moving ${addrOf(from)} (${from.host}: ${why.get(addrOf(from))}) to ${addrOf(to)} (${to.host})`);
    plan = await replaceInstance(ctx.etcd, plan, from, to, { task: task.id });
    await repairRecords(ctx, task, plan, password);
    const r = await startOnHosts(ctx, plan, [to], task, password);
    const report = r.reports.get(addrOf(to));
    if (report?.status !== 'started' && report?.status !== 'running') throw new Error(`${addrOf(to)} (${to.host}) did not start: ${report?.detail ?? 'no report'} (ovl cluster restart ${plan.cluster} --move again finishes the move)`);
  }
  await faultPoint(ctx, 'moved');
  return { plan, moved: lost.length };
}

/**
 * What restart --move leaves to do in a Redis Cluster, done by every restart until it is done
 * (a restart interrupted anywhere is finished by the next): the retired ids forgotten by every
 * node (a process that outlived a network cut must not come back under its old id; nodes that
 * do not answer are asked again next time), and each node placed `joining` meets the cluster and
 * replicates its shard's master (join.ts).
 */
async function finishJoins(ctx: TaskContext, task: Task, plan: Plan, password: string | undefined): Promise<Plan> {
  if (plan.type !== 'redis_cluster') return plan;
  const o = { password, timeoutMs: checkTimeout(plan), log: ctx.log };
  const live = plan.instances.filter((i) => !i.joining);
  const forgotten: string[] = [];
  for (const r of (plan.retired ?? []).filter((x) => !x.forgotten)) {
    const missed = await forgetNode(live, r.id, o);
    if (missed.length) ctx.log(`${task.id}: ${r.id} (retired ${addrOf(r)}) is not forgotten yet by ${missed.join('; ')}: asked again by the next restart`);
    else forgotten.push(r.id);
  }
  if (forgotten.length) plan = await markForgotten(ctx.etcd, plan.cluster, forgotten);
  for (const j of plan.instances.filter((i) => i.joining)) {
    const master = await shardMaster(j, live, o);
    if (!master) throw new Error(`${addrOf(j)} (${j.host}) cannot join: no other member of its shard is a master that answers`);
    await step(ctx, task, `${addrOf(j)} (${j.host}) joins the cluster and replicates ${addrOf(master)}`);
    await joinShard(j, master, live, o);
    plan = await markJoined(ctx.etcd, plan.cluster, j.id);
    live.push(j);
  }
  return plan;
}

/**
 * Instance records written again where the plan has changed under them (restart --move: a new
 * instance, a replica following a moved master) and a task stopped before writing them.
 */
async function repairRecords(ctx: TaskContext, task: Task, plan: Plan, password: string | undefined): Promise<void> {
  const recorded = new Map([...(await listInstances(ctx.etcd, plan.cluster)).values()].map((r) => [addrOf(r), r]));
  const stale = plan.instances.filter((i) => {
    const r = recorded.get(addrOf(i));
    return r?.id !== i.id || r.masterId !== i.masterId;
  });
  if (stale.length) await writeInstances(ctx, { ...plan, instances: stale }, 'starting', { setups: setupsOf(plan, stale, task, password), password });
}

/** Run a task to its end and record the outcome; a failed create leaves nothing behind. */
export async function runTask(ctx: TaskContext, task: Task): Promise<Task> {
  if (!(await startTask(ctx.etcd, task))) return task;
  try {
    if (task.kind === 'create') await (ctx.create ?? runCreate)(ctx, task);
    else if (task.kind === 'delete') await runDelete(ctx, task);
    else await runRestart(ctx, task);
    task.state = 'done';
    task.error = undefined;
  } catch (e) {
    task.state = 'failed';
    task.error = (e as Error).message;
    ctx.log(`${task.id}: failed: ${task.error}`);
    if (task.kind === 'create') await cleanupFailedCreate(ctx, task, e);
  }
  await putTask(ctx.etcd, task);
  // The create that `show` names stays, however old.
  const cfg = await getJson<ClusterConfig>(ctx.etcd, configKey(task.cluster));
  await pruneTasks(ctx.etcd, task.cluster, new Set([task.id, ...(cfg ? [cfg.task] : [])]));
  return task;
}

/** Every key of the cluster but the task's record; again when another change raced with it. */
async function removeClusterKeys(c: Etcd3, cluster: string, taskId: string, keepPorts: { host: string; port: number }[] = []): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await removeCluster(c, cluster, taskId, keepPorts);
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= 10) throw e;
    }
  }
}

/**
 * A create that failed is rolled back: its processes and directories removed on every host, its
 * keys removed and its ports freed, so that only the task's record (with the reason) is left
 * and the same create can simply be run again. A host that does not answer keeps the cluster
 * (state failed) with what to do.
 */
async function cleanupFailedCreate(ctx: TaskContext, task: Task, e: unknown): Promise<void> {
  const name = task.request?.name ?? task.cluster;
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
