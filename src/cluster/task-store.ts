// The task records (/overlord/task/<id>), the queue of those not ended and each cluster's index of its tasks.
import type { Etcd3 } from 'etcd3';
import { clusterTaskKey, clusterTasksPrefix, clusterTasksRoot, configKey, queueKey, queuePrefix, secretKey, taskKey, taskPrefix } from '../state/keys.js';
import { mapLimit } from '../util/semaphore.js';
import { ConflictError } from './errors.js';
import { getJson, getMany, oldestFirst } from './etcd-reads.js';
import type { ClusterRequest } from './types.js';

export type TaskState = 'pending' | 'running' | 'done' | 'failed';

/** /overlord/task/<task>: what every task record holds, whatever its kind. */
interface TaskRecord {
  id: string;
  cluster: string;
  state: TaskState;
  /** What the task is doing now, for `--wait` and `ovl cluster show`. */
  step: string;
  created: string;
  updated: string;
  error?: string;
}

export interface CreateTask extends TaskRecord {
  kind: 'create';
  request: ClusterRequest;
}

export interface DeleteTask extends TaskRecord {
  kind: 'delete';
}

export interface RestartTask extends TaskRecord {
  kind: 'restart';
  /** Only these instances (ip:port); all when absent. */
  instances?: string[];
  /** Instances that do not start where they are go to other hosts. */
  move?: boolean;
  /** Why it was queued when not by a user (the Mesos framework's relaunch of a failed instance). */
  reason?: string;
}

export interface ScaleTask extends TaskRecord {
  kind: 'scale';
  /** The shape asked for; absent dimensions stay. */
  to: { masters?: number; replicas?: number; nodes?: number };
  /** Written with the plan that placed them: the ids this task added (its decision is made). */
  added?: string[];
  /** Ids this task removes (chosen with the additions). */
  removing?: string[];
}

export interface RebalanceTask extends TaskRecord {
  kind: 'rebalance';
  /** Percent off its share a master may be before slots move (redis-cli's --cluster-threshold). */
  threshold?: number;
}

export interface FailoverTask extends TaskRecord {
  kind: 'failover';
  /** ip:port of the replica that becomes its shard's master. */
  instance: string;
}

export interface RollTask extends TaskRecord {
  kind: 'roll';
  /** Upgrade to this version; a rolling restart when absent. */
  version?: string;
  /** Shards without a replica (and memcache nodes) may be restarted in place, with their outage. */
  yes?: boolean;
  /** Ids restarted by this task so far: a run resumed by the next leader goes on from there. */
  restarted?: string[];
  /** Shard -> the id of its master when the roll began: the layout it restores. */
  masters?: Record<string, string>;
  /** The longest write pause a switchover of this task caused, ms. */
  pauseMs?: number;
}

export interface ConfigTask extends TaskRecord {
  kind: 'config';
  /** Directives asked for (maxmemory as given, e.g. 512mb). */
  set: Record<string, string>;
  /** memcache's -m (restarts empty the nodes) and maxmemory shrinking below the data: accepted. */
  yes?: boolean;
  /** Decided by the first run, before anything changed: set with CONFIG SET, or by a rolling restart. */
  live?: string[];
  restart?: string[];
  /** As RollTask, for the rolling restart part. */
  restarted?: string[];
  masters?: Record<string, string>;
  pauseMs?: number;
}

export interface PasswordTask extends TaskRecord {
  kind: 'password';
  /** What was asked, said by show and --wait (the passwords themselves are in the sealed record). */
  change: string;
  /** Give ovl's own user a new password (made by the task). */
  admin?: boolean;
  /** The new admin password is recorded beside the old one: a resumed run makes no other. */
  adminMade?: boolean;
}

/** A task of the scheduler; each kind has its module in tasks/ and its entry in tasks/registry.ts. */
export type Task = CreateTask | DeleteTask | RestartTask | ScaleTask | RebalanceTask | FailoverTask | RollTask | ConfigTask | PasswordTask;
export type TaskKind = Task['kind'];
export type TaskOf<K extends TaskKind> = Extract<Task, { kind: K }>;
/** What a kind's record carries beyond every task's fields. */
export type TaskArgs<K extends TaskKind> = Omit<TaskOf<K>, keyof TaskRecord | 'kind'>;

const now = () => new Date().toISOString();

/** The writes that record a task: its record, and once it has ended its queue entry gone. */
export function taskWrites(c: Etcd3, task: Task) {
  const put = c.put(taskKey(task.id)).value(JSON.stringify({ ...task, updated: now() }));
  return taskEnded(task) ? [put, c.delete().key(queueKey(task.id))] : [put];
}

export async function putTask(c: Etcd3, task: Task): Promise<void> {
  const [put, dequeue] = taskWrites(c, task);
  if (dequeue) await c.if(taskKey(task.id), 'Create', '!=', -1).then(put!, dequeue).commit();
  else await put!;
}

/** More for newTask's transaction: keys that must not exist, and keys written with the task. */
export interface TaskGuard {
  absent?: string[];
  /** Keys that must still be at these mod revisions. */
  unchanged?: Record<string, string>;
  puts?: Record<string, string>;
}

/** Queue a task. With a guard, the task and the guard's puts are written together, and only
 * when none of the guard's absent keys exists (else ConflictError, and nothing is written). */
export async function newTask<K extends TaskKind>(c: Etcd3, kind: K, cluster: string, args: TaskArgs<K>, guard: TaskGuard = {}): Promise<TaskOf<K>> {
  const stamp = now();
  const id = `${stamp.replace(/[-:.TZ]/g, '').slice(0, 14)}-${kind}-${cluster}-${Math.random().toString(36).slice(2, 8)}`;
  const task = { id, kind, cluster, state: 'pending', step: 'waiting for the scheduler', created: stamp, updated: stamp, ...args } as TaskOf<K>;
  let txn = c.if(taskKey(id), 'Create', '==', 0);
  for (const k of guard.absent ?? []) txn = txn.and(k, 'Create', '==', 0);
  for (const [k, rev] of Object.entries(guard.unchanged ?? {})) txn = txn.and(k, 'Mod', '==', rev);
  const puts = Object.entries(guard.puts ?? {}).map(([k, v]) => c.put(k).value(v));
  const index = [c.put(queueKey(id)).value(cluster), c.put(clusterTaskKey(cluster, id)).value(kind)];
  const res = await txn.then(c.put(taskKey(id)).value(JSON.stringify(task)), ...index, ...puts).commit();
  if (!res.succeeded && guard.unchanged) throw new ConflictError(`task ${id}: ${Object.keys(guard.unchanged).join(', ')} changed meanwhile`);
  if (!res.succeeded) throw new ConflictError(guard.absent?.length ? `task ${id}: one of ${guard.absent.join(', ')} exists already` : `task ${id} exists already`);
  return task;
}

/** How many finished tasks a cluster keeps (its newest): the scheduler reads every task key on
 * each wake-up, and years of restarts must not make that read megabytes. */
export const TASK_HISTORY = 20;

/** Drop the cluster's finished tasks beyond the newest TASK_HISTORY, never those in `keep`. */
export async function pruneTasks(c: Etcd3, cluster: string, keep: Set<string>): Promise<void> {
  const finished = (await tasksOf(c, cluster)).filter((t) => taskEnded(t) && !keep.has(t.id));
  await mapLimit(finished.slice(0, Math.max(0, finished.length - TASK_HISTORY)), 16, async (t) => {
    await c.if(taskKey(t.id), 'Create', '!=', -1).then(c.delete().key(taskKey(t.id)), c.delete().key(clusterTaskKey(cluster, t.id))).commit();
  });
}

/** Done or failed: a task nothing will run again. */
export const taskEnded = (t: Task) => t.state === 'done' || t.state === 'failed';

/** A create of this cluster that has not ended (queued or placing/starting it). */
export const openCreateOf = (t: Task, cluster: string): t is CreateTask => t.cluster === cluster && t.kind === 'create' && !taskEnded(t);

export async function getTask(c: Etcd3, id: string): Promise<Task | null> {
  return getJson<Task>(c, taskKey(id));
}

/** Every task, in the order they were submitted: by the etcd revision that created each key
 * (ids carry the second only, and two tasks of one cluster in the same second must still run
 * in the order they were asked for). */
export async function listTasks(c: Etcd3): Promise<Task[]> {
  return (await taskRecords(c)).map((r) => r.task);
}

/** Keys under a prefix in the order they were created, with their values. */
async function byCreation(c: Etcd3, prefix: string): Promise<{ name: string; value: string }[]> {
  const res = await c.getAll().prefix(prefix).exec();
  return res.kvs
    .map((kv) => ({ created: BigInt(kv.create_revision), name: kv.key.toString().slice(prefix.length), value: kv.value.toString() }))
    .sort(oldestFirst);
}

/** Task records by id in the order they were asked for (their keys' creation), with the
 * revision each was read at; a task gone meanwhile is left out. */
async function recordsOf(c: Etcd3, ids: string[]): Promise<{ task: Task; rev: string }[]> {
  return (await getMany(c, ids.map(taskKey)))
    .map((kv) => ({ created: BigInt(kv.create_revision), task: JSON.parse(kv.value.toString()) as Task, rev: String(kv.mod_revision) }))
    .sort(oldestFirst)
    .map(({ task, rev }) => ({ task, rev }));
}

/**
 * The tasks not ended yet, in the order they were asked for: the queue's few keys and their
 * records, however many finished tasks the fleet keeps. `only` picks by id and cluster before
 * any record is read (the scheduler skips the clusters it is busy with).
 */
export async function openTasks(c: Etcd3, only?: (id: string, cluster: string) => boolean): Promise<Task[]> {
  return (await openTaskRecords(c, only)).map((r) => r.task);
}

async function openTaskRecords(c: Etcd3, only?: (id: string, cluster: string) => boolean): Promise<{ task: Task; rev: string }[]> {
  const queued = (await byCreation(c, queuePrefix)).filter((q) => !only || only(q.name, q.value));
  return (await recordsOf(c, queued.map((q) => q.name))).filter((r) => !taskEnded(r.task));
}

/** One cluster's tasks, finished ones included, oldest first. */
export async function tasksOf(c: Etcd3, cluster: string): Promise<Task[]> {
  return (await recordsOf(c, (await byCreation(c, clusterTasksPrefix(cluster))).map((k) => k.name))).map((r) => r.task);
}

/**
 * Tasks written before the queue and the per-cluster index existed (by an older ovl) get their
 * entries, and a queue entry whose task has ended or gone is removed. The leader runs it when
 * it starts leading and then every minute: a full read of the tasks, not one per wake-up.
 * Everything is read at one revision and each change is guarded by the task's revision, so a
 * task queued or ended meanwhile is never dropped from the queue nor queued again.
 */
export async function indexTasks(c: Etcd3): Promise<number> {
  const taskRes = await c.getAll().prefix(taskPrefix).exec();
  const rev = taskRes.header.revision;
  const [queueRes, indexRes] = await Promise.all([c.getAll().prefix(queuePrefix).revision(rev).exec(), c.getAll().prefix(clusterTasksRoot).revision(rev).keys().then((ks) => new Set(ks))]);
  const inQueue = new Set(queueRes.kvs.map((kv) => kv.key.toString().slice(queuePrefix.length)));
  const known = new Map(taskRes.kvs.map((kv) => [kv.key.toString().slice(taskPrefix.length), { task: JSON.parse(kv.value.toString()) as Task, rev: String(kv.mod_revision) }]));
  const guarded = (key: string, cmp: 'Mod' | 'Create', value: string | number, op: ReturnType<Etcd3['put']> | ReturnType<Etcd3['delete']>) => () => c.if(key, cmp, '==', value).then(op).commit();
  const todo: (() => Promise<unknown>)[] = [];
  for (const [id, { task, rev: taskRev }] of known) {
    if (!taskEnded(task) && !inQueue.has(id)) todo.push(guarded(taskKey(id), 'Mod', taskRev, c.put(queueKey(id)).value(task.cluster)));
    if (taskEnded(task) && inQueue.has(id)) todo.push(guarded(taskKey(id), 'Mod', taskRev, c.delete().key(queueKey(id))));
    if (!indexRes.has(clusterTaskKey(task.cluster, id))) todo.push(guarded(taskKey(id), 'Mod', taskRev, c.put(clusterTaskKey(task.cluster, id)).value(task.kind)));
  }
  // A queue entry with no task at that revision: still none when removed.
  for (const id of inQueue) if (!known.has(id)) todo.push(guarded(taskKey(id), 'Create', 0, c.delete().key(queueKey(id))));
  await mapLimit(todo, 16, (f) => f());
  return todo.length;
}

/** listTasks with the revision each task was last written at, for writes guarded by it. */
async function taskRecords(c: Etcd3): Promise<{ task: Task; rev: string }[]> {
  const res = await c.getAll().prefix(taskPrefix).exec();
  return res.kvs
    .map((kv) => ({ created: BigInt(kv.create_revision), rev: String(kv.mod_revision), task: JSON.parse(kv.value.toString()) as Task }))
    .sort(oldestFirst);
}

/**
 * Mark a task running, unless it ended meanwhile (a queued create that delete cancelled): the
 * write is guarded by the revision read, so of a cancel and a start only one wins. Returns
 * whether the caller may run it; if not, `task` takes the state etcd holds.
 */
export async function startTask(c: Etcd3, task: Task): Promise<boolean> {
  for (;;) {
    const kv = (await c.get(taskKey(task.id)).exec()).kvs[0];
    if (!kv) return false;
    const current = JSON.parse(kv.value.toString()) as Task;
    if (taskEnded(current)) {
      Object.assign(task, current);
      return false;
    }
    task.state = 'running';
    const put = c.put(taskKey(task.id)).value(JSON.stringify({ ...task, updated: now() }));
    if ((await c.if(taskKey(task.id), 'Mod', '==', kv.mod_revision).then(put).commit()).succeeded) return true;
  }
}

/**
 * Cancel the create of a cluster that has not started: its task ends failed with the reason and
 * the name's claim (its secret key) is removed, together, guarded by the task's revision, so a
 * scheduler starting it at that moment either runs it or finds it cancelled. Returns the
 * cancelled task, the create that runs already (not cancelled), or nothing when none is queued.
 */
export async function cancelCreate(c: Etcd3, cluster: string): Promise<{ cancelled: boolean; task: Task } | undefined> {
  for (;;) {
    const queued = (await openTaskRecords(c, (_, of) => of === cluster)).find((r) => openCreateOf(r.task, cluster));
    if (!queued) return undefined;
    const { task, rev } = queued;
    // Placed (or a cluster of the name exists): not this cancel's to undo.
    if (task.state !== 'pending' || (await getJson(c, configKey(cluster)))) return { cancelled: false, task };
    const ended: Task = { ...task, state: 'failed', step: 'cancelled', error: 'cancelled by ovl cluster delete before it started; nothing was placed', updated: now() };
    const res = await c
      .if(taskKey(task.id), 'Mod', '==', rev)
      .and(configKey(cluster), 'Create', '==', 0)
      .then(...taskWrites(c, ended), c.delete().key(secretKey(cluster)))
      .commit();
    if (res.succeeded) return { cancelled: true, task: ended };
  }
}
