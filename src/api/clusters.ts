// What the cluster commands do, without printing: list, queue a restart or delete, follow a task.
// The CLI (src/commands/cluster.ts) and the scripting API (fleet.ts) both call these.
import type { Etcd3 } from 'etcd3';
import { getJson } from '../cluster/etcd-reads.js';
import { runOrFollow } from '../cluster/follow.js';
import { addrOf, getPlan, listConfigs, type ClusterConfig } from '../cluster/store.js';
import { cancelCreate, openTasks, newTask, type CreateTask, type Task } from '../cluster/task-store.js';
import type { ClusterRequest } from '../cluster/types.js';
import { UsageError } from '../commands/errors.js';
import type { Inventory } from '../inventory/types.js';
import { configKey } from '../state/keys.js';
import { NotFound, TaskFailed } from './errors.js';

/** A cluster as `ovl cluster list` shows it: its request, state and create task; a create not
 * placed yet is listed from its task (state queued or placing). */
export type ClusterSummary = ClusterRequest & { state: string; task: string; created: string; error?: string };

/** Creates that have not ended, with their request (oldest first). */
export async function queuedCreates(etcd: Etcd3): Promise<CreateTask[]> {
  return (await openTasks(etcd)).filter((t): t is CreateTask => t.kind === 'create');
}

export async function listClusters(etcd: Etcd3): Promise<ClusterSummary[]> {
  const configs = await listConfigs(etcd);
  const queued = (await queuedCreates(etcd)).filter((t) => !configs.some((c) => c.name === t.cluster));
  return [...configs, ...queued.map((t) => ({ ...t.request, state: t.state === 'pending' ? 'queued' : 'placing', task: t.id, created: t.created }))];
}

export async function clusterConfig(etcd: Etcd3, name: string): Promise<ClusterConfig> {
  const cfg = await getJson<ClusterConfig>(etcd, configKey(name));
  if (!cfg) throw new NotFound(`no cluster named ${name} (ovl cluster list)`);
  return cfg;
}

/** Instances given by address that are not the cluster's are refused, naming those that are. */
export async function checkInstances(etcd: Etcd3, name: string, given: string[]): Promise<void> {
  const plan = await getPlan(etcd, name);
  // No plan yet: the create task has not placed the cluster, so it has no instances.
  const known = new Set(plan?.instances.map(addrOf) ?? []);
  const unknown = given.filter((a) => !known.has(a));
  if (!unknown.length) return;
  const list = [...known].sort();
  const which = !list.length ? 'it has no instances yet' : list.length <= 12 ? `its instances are ${list.join(', ')}` : `its ${list.length} instances are listed by ovl cluster show ${name}`;
  throw new NotFound(`--instance ${unknown.join(', ')}: not ${unknown.length === 1 ? 'an instance' : 'instances'} of ${name}; ${which}`);
}

export interface RestartOptions {
  /** ip:port of the instances to restart (default: every instance that is down). */
  instances?: string[];
  /** Move the instances of hosts that do not answer to other hosts. */
  move?: boolean;
}

/**
 * Queue a restart or a delete. A delete of a create still queued cancels it instead: the result
 * is then `{ cancelled }`, the create's record.
 */
export async function queueClusterTask(etcd: Etcd3, kind: 'delete' | 'restart', name: string, o: RestartOptions = {}): Promise<{ task: Task } | { cancelled: Task }> {
  const cfg = await getJson<ClusterConfig>(etcd, configKey(name));
  if (!cfg) {
    // A create still queued has no cluster yet: deleting it means not running it.
    const queued = kind === 'delete' ? await cancelCreate(etcd, name) : undefined;
    if (queued?.cancelled) return { cancelled: queued.task };
    if (queued) throw new UsageError(`cluster ${name} is being created (task ${queued.task.id}, ${queued.task.state}): delete it once that task is done (ovl cluster show ${name})`);
    throw new NotFound(`no cluster named ${name} (ovl cluster list)`);
  }
  if (o.instances?.length) await checkInstances(etcd, name, o.instances);
  const task = kind === 'delete' ? await newTask(etcd, kind, name, {}) : await newTask(etcd, kind, name, { ...(o.instances?.length ? { instances: o.instances } : {}), ...(o.move ? { move: true } : {}) });
  return { task };
}

export interface TaskOptions {
  /** Each step of the task as it is recorded (what the CLI's progress line shows). */
  onProgress?: (step: string) => void;
  /** Stop following (the task goes on in the scheduler): the call rejects with Aborted. */
  signal?: AbortSignal;
}

/** Follow a task to its end (running it in this process when no scheduler leads); a failed one
 * rejects with TaskFailed. */
export async function awaitTask(inv: Inventory, etcd: Etcd3, id: string, o: TaskOptions = {}): Promise<Task> {
  const done = await runOrFollow(inv, etcd, id, o.onProgress ?? (() => {}), o.signal);
  if (done.state === 'failed') throw new TaskFailed(done);
  return done;
}
