// Every task kind the scheduler runs, in one table: adding a kind is its module, its entry here
// and its CLI command. The scheduler dispatches through runTask and knows no kind by name.
import { configKey } from '../../state/keys.js';
import { getJson } from '../etcd-reads.js';
import { getPlan, getSecret, type ClusterConfig } from '../store.js';
import { pruneTasks, putTask, startTask, type Task, type TaskKind, type TaskOf } from '../task-store.js';
import type { TaskContext } from './context.js';
import { hostsOf } from '../../inventory/types.js';
import { syncTargets } from '../../monitoring/sync.js';
import { configTask } from './config.js';
import { createTask } from './create.js';
import { deleteTask } from './delete.js';
import { failoverTask } from './failover.js';
import { passwordTask } from './password.js';
import { rebalanceTask, scaleTask } from './reshape.js';
import { restartTask } from './restart.js';
import { rollTask } from './roll.js';

/** A kind of task: how it runs, and what undoes a failed run (a create is rolled back). */
export interface TaskKindModule<T extends Task> {
  run(ctx: TaskContext, task: T): Promise<void>;
  /** After a failure, before the failed record is written; may add to task.error. */
  onFailure?(ctx: TaskContext, task: T, e: unknown): Promise<void>;
}

type Registry = { [K in TaskKind]: TaskKindModule<TaskOf<K>> };

export const TASK_KINDS: Registry = {
  create: createTask,
  delete: deleteTask,
  restart: restartTask,
  scale: scaleTask,
  rebalance: rebalanceTask,
  failover: failoverTask,
  roll: rollTask,
  config: configTask,
  password: passwordTask,
};

function moduleOf<K extends TaskKind>(kind: K): TaskKindModule<TaskOf<K>> {
  return TASK_KINDS[kind];
}

/** Prometheus's targets follow the instances a task changed (created, moved, removed, or rolled
 * back). Best effort: a Prometheus host that does not answer is named in the log, and `ovl
 * monitoring sync` or the next task writes them. */
async function followTargets(ctx: TaskContext, task: Task, before: ClusterHosts): Promise<void> {
  // The exporters' password files of the hosts the cluster was or is on (a cache host's file lists
  // only its own instances; none to write for a cluster without a monitoring password); the
  // targets of every Prometheus host. Over the scheduler's own connections.
  const now = await clusterHosts(ctx, task.cluster);
  const hosts = new Set(before.secret || now.secret ? [...before.hosts, ...now.hosts] : []);
  const remoteOf = async (h: { name: string }) => ({ remote: await ctx.fleet.remote(h.name), close: () => {} });
  const r = await syncTargets(ctx.fleet.inv, ctx.etcd, hosts, remoteOf).catch((e: Error) => ({ failed: [e.message], exportersFailed: [] as string[] }));
  const missed = [...r.failed, ...r.exportersFailed];
  if (missed.length) ctx.log(`${task.id}: scrape targets or exporter passwords not written: ${missed.join('; ')} (the next task, or ovl monitoring sync, writes them)`);
}

/** Kinds whose runs add, move or remove instances, change their roles or ovl's password. */
const CHANGES_TARGETS = new Set<TaskKind>(['create', 'delete', 'restart', 'scale', 'failover', 'roll', 'password']);

interface ClusterHosts {
  hosts: Set<string>;
  /** The cluster has a monitoring user's password (its exporters log in). */
  secret: boolean;
}

async function clusterHosts(ctx: TaskContext, cluster: string): Promise<ClusterHosts> {
  const plan = await getPlan(ctx.etcd, cluster).catch(() => null);
  const secret = (await getSecret(ctx.etcd, cluster).catch(() => undefined))?.monitor !== undefined;
  return { hosts: new Set([...(plan?.instances ?? []), ...(plan?.retired ?? [])].map((i) => i.host)), secret };
}

const monitored = (ctx: TaskContext, task: Task) => CHANGES_TARGETS.has(task.kind) && hostsOf(ctx.fleet.inv, 'prometheus').length > 0;

/** Run a task to its end and record the outcome. */
export async function runTask(ctx: TaskContext, task: Task): Promise<Task> {
  if (!(await startTask(ctx.etcd, task))) return task;
  const kind = moduleOf(task.kind) as TaskKindModule<Task>;
  const before = monitored(ctx, task) ? await clusterHosts(ctx, task.cluster) : undefined;
  try {
    await kind.run(ctx, task);
    task.state = 'done';
    task.error = undefined;
  } catch (e) {
    task.state = 'failed';
    task.error = (e as Error).message;
    ctx.log(`${task.id}: failed: ${task.error}`);
    await kind.onFailure?.(ctx, task, e);
  }
  await putTask(ctx.etcd, task);
  if (before) await followTargets(ctx, task, before);
  // The create that `show` names stays, however old.
  const cfg = await getJson<ClusterConfig>(ctx.etcd, configKey(task.cluster));
  await pruneTasks(ctx.etcd, task.cluster, new Set([task.id, ...(cfg ? [cfg.task] : [])]));
  return task;
}
