import type { Etcd3 } from 'etcd3';
import { capacityPrefix, allocKey, checkKey, allocPrefix, clusterPrefix, clusterTaskKey, clusterTasksPrefix, clusterTasksRoot, configKey, configPrefix, instanceKey, planKey, queueKey, queuePrefix, secretKey, taskKey, taskPrefix, type HostCapacityRecord } from '../state/keys.js';
import { openRecord, pkiDirOf, sealRecord, type SecretRecord } from '../state/secrets.js';
import { readRedisTls } from '../pki/redis-certs.js';
import { unprintable, type ClusterAuth } from './auth.js';
import { mapLimit } from '../util/semaphore.js';
import { allocate } from './allocations.js';
import { ConflictError, PortTaken } from './errors.js';
import { instanceMemMB } from './placement.js';
import type { ClusterRequest, ClusterType, HostCapacity, Plan, PlannedInstance } from './types.js';

/** /overlord/config/<cluster>: the request it was created from, and where it stands. */
export interface ClusterConfig extends ClusterRequest {
  state: 'creating' | 'running' | 'failed' | 'deleting';
  task: string;
  auth: boolean;
  created: string;
  error?: string;
  /** Created through Mesos (scheduler.resources: mesos): its instances are Mesos tasks, relaunched
   * by the framework when they end unasked. */
  mesos?: boolean;
}

export type InstanceState = 'planned' | 'starting' | 'up' | 'failed';

/** /overlord/clusters/<cluster>/instances/<ip:port>/info */
export interface InstanceInfo extends PlannedInstance {
  cluster: string;
  type: ClusterType;
  version: string;
  state: InstanceState;
  error?: string;
}

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

/** /overlord/alloc/<host>: "port" -> the cluster and memory holding it. */
export type HostAlloc = Record<string, { cluster: string; memMB: number }>;

export const addrOf = (i: { address: string; port: number }) => `${i.address}:${i.port}`;

const now = () => new Date().toISOString();

export async function getJson<T>(c: Etcd3, key: string): Promise<T | null> {
  return (await c.get(key).json()) as T | null;
}

export async function listJson<T>(c: Etcd3, prefix: string): Promise<Record<string, T>> {
  return (await c.getAll().prefix(prefix).json()) as Record<string, T>;
}

/** Fleet capacity registered by bootstrap, minus what the allocations hold (from the leading
 * scheduler's cache when it keeps one: capacity-cache.ts). */
export async function fleetCapacity(c: Etcd3): Promise<FleetRead> {
  const cached = await (await import('./capacity-cache.js')).cachedCapacity(c);
  if (cached) return cached;
  const [capRes, allocRes] = await Promise.all([c.getAll().prefix(capacityPrefix).exec(), c.getAll().prefix(allocPrefix).exec()]);
  const allocs = new Map<string, { alloc: HostAlloc; rev: string }>();
  for (const kv of allocRes.kvs) allocs.set(kv.key.toString().slice(allocPrefix.length), { alloc: JSON.parse(kv.value.toString()) as HostAlloc, rev: String(kv.mod_revision) });
  return hostsOf(capRes.kvs.map((kv) => JSON.parse(kv.value.toString()) as HostCapacityRecord), allocs);
}

/** The hosts as placement sees them: registered capacity less the allocations. */
export function hostsOf(caps: HostCapacityRecord[], allocs: Map<string, { alloc: HostAlloc; rev: string }>): FleetRead {
  const hosts = caps.map((cap) => {
    const a = allocs.get(cap.host)?.alloc;
    const usedPorts: number[] = [];
    let usedMemMB = 0;
    for (const p in a) {
      usedPorts.push(Number(p));
      usedMemMB += a[p]!.memMB;
    }
    return { name: cap.host, address: cap.address, cpu: cap.cpu, memMB: cap.memMB, ports: cap.ports, usedPorts, usedMemMB, versions: cap.versions };
  });
  const revisions = new Map<string, string>();
  const allocOf = new Map<string, HostAlloc>();
  for (const [h, v] of allocs) {
    revisions.set(h, v.rev);
    allocOf.set(h, v.alloc);
  }
  return { hosts, revisions, allocs: allocOf };
}

/** The hosts as placement sees them, and each host's allocation as read, with its revision. */
export interface FleetRead {
  hosts: HostCapacity[];
  revisions: Map<string, string>;
  /** The allocations themselves, when read with the revisions (commitPlan then need not read them again). */
  allocs?: Map<string, HostAlloc>;
}


/**
 * Commit a plan in one transaction: the ports it takes on each host (guarded by the revision
 * of that host's allocation read when placing, so two concurrent creates never share a port),
 * the plan and the cluster's config. Throws ConflictError when another change came first.
 * Returns the revision it was written at (each written allocation's new mod revision).
 */
export async function commitPlan(c: Etcd3, plan: Plan, config: ClusterConfig, read: Omit<FleetRead, 'hosts'>): Promise<string> {
  const { revisions } = read;
  const byHost = new Map<string, PlannedInstance[]>();
  for (const i of plan.instances) byHost.set(i.host, [...(byHost.get(i.host) ?? []), i]);
  // The allocations placement read, when given: the guard below fails if one changed since.
  const current = await Promise.all([...byHost.keys()].map(async (h) => [h, read.allocs ? (read.allocs.get(h) ?? {}) : ((await getJson<HostAlloc>(c, allocKey(h))) ?? {})] as const));
  let txn = c.if(configKey(plan.cluster), 'Create', '==', 0);
  const puts = [];
  for (const [host, alloc] of current) {
    const rev = revisions.get(host);
    txn = rev ? txn.and(allocKey(host), 'Mod', '==', rev) : txn.and(allocKey(host), 'Create', '==', 0);
    const next: HostAlloc = { ...alloc };
    for (const i of byHost.get(host)!) next[String(i.port)] = { cluster: plan.cluster, memMB: instanceMemMB(plan.maxmemoryMB) };
    puts.push(c.put(allocKey(host)).value(JSON.stringify(next)));
  }
  puts.push(c.put(planKey(plan.cluster)).value(JSON.stringify(plan)));
  puts.push(c.put(configKey(plan.cluster)).value(JSON.stringify(config)));
  const res = await txn.then(...puts).commit();
  if (!res.succeeded) throw new ConflictError(`placement of ${plan.cluster} raced with another change`);
  return String(res.header.revision);
}

/**
 * Swap one instance of a committed plan for another on another host, atomically: the plan, the
 * ports on both hosts and the old instance's records. With `retire`, the replacement has a new
 * identity, the old one is listed in the plan's retired instances and keeps its port until it
 * is stopped (dropRetired), and the replicas of a moved master follow the new id.
 */
export async function replaceInstance(c: Etcd3, plan: Plan, from: PlannedInstance, to: PlannedInstance, retire?: { task: string }): Promise<Plan> {
  const next: Plan = {
    ...swapInstance(plan, from, to),
    ...(retire ? { retired: [...(plan.retired ?? []), { ...from, movedTo: addrOf(to), task: retire.task }] } : {}),
  };
  const [planRes, oldAlloc, newAlloc] = await Promise.all([
    c.get(planKey(plan.cluster)).exec(),
    c.get(allocKey(from.host)).exec(),
    c.get(allocKey(to.host)).exec(),
  ]);
  const oa = JSON.parse(oldAlloc.kvs[0]?.value.toString() ?? '{}') as HostAlloc;
  const na = from.host === to.host ? oa : (JSON.parse(newAlloc.kvs[0]?.value.toString() ?? '{}') as HostAlloc);
  // Not a commit to make again as it is: the same port would be taken again.
  if (na[String(to.port)]) throw new PortTaken(`port ${to.port} on ${to.host} was taken meanwhile by ${na[String(to.port)]!.cluster}`);
  if (!retire) delete oa[String(from.port)];
  na[String(to.port)] = { cluster: plan.cluster, memMB: instanceMemMB(plan.maxmemoryMB) };
  const rev = (r: typeof planRes) => String(r.kvs[0]?.mod_revision ?? 0);
  let txn = c.if(planKey(plan.cluster), 'Mod', '==', rev(planRes)).and(allocKey(from.host), 'Mod', '==', rev(oldAlloc));
  if (from.host !== to.host) txn = txn.and(allocKey(to.host), 'Mod', '==', rev(newAlloc));
  const ops = [c.put(planKey(plan.cluster)).value(JSON.stringify(next)), c.put(allocKey(from.host)).value(JSON.stringify(oa))];
  if (from.host !== to.host) ops.push(c.put(allocKey(to.host)).value(JSON.stringify(na)));
  const res = await txn.then(...ops, c.delete().prefix(`${clusterPrefix(plan.cluster)}instances/${addrOf(from)}/`)).commit();
  if (!res.succeeded) throw new ConflictError(`moving ${addrOf(from)} raced with another change`);
  return next;
}

/** The plan with `to` in place of `from`; replicas of `from` follow `to`'s id. */
export function swapInstance(plan: Plan, from: PlannedInstance, to: PlannedInstance): Plan {
  return { ...plan, instances: plan.instances.map((i) => (i.id === from.id ? to : i.masterId === from.id ? { ...i, masterId: to.id } : i)) };
}

/**
 * Change a committed plan: `change` returns the next plan, any other keys to write with it
 * (each guarded by the revision it was read at) and key prefixes to delete. Committed only if none changed meanwhile, else
 * made again from what is there now.
 */
export async function changePlan(c: Etcd3, cluster: string, what: string, change: (plan: Plan) => Promise<{ next: Plan; also?: { key: string; rev: string; value: string }[]; drop?: string[] }>): Promise<Plan> {
  return allocate(`${what} of ${cluster}`, async () => {
    const kv = (await c.get(planKey(cluster)).exec()).kvs[0];
    if (!kv) throw new Error(`no cluster named ${cluster}`);
    const { next, also = [], drop = [] } = await change(JSON.parse(kv.value.toString()) as Plan);
    let txn = c.if(planKey(cluster), 'Mod', '==', String(kv.mod_revision));
    for (const x of also) txn = txn.and(x.key, 'Mod', '==', x.rev);
    const done = await txn.then(c.put(planKey(cluster)).value(JSON.stringify(next)), ...also.map((x) => c.put(x.key).value(x.value)), ...drop.map((p) => c.delete().prefix(p))).commit();
    if (!done.succeeded) throw new ConflictError(`${what} of ${cluster} raced with another change`);
    return next;
  });
}

/** Nodes placed `joining` (by restart --move or scale) have joined their cluster: the plan says so. */
export async function markJoined(c: Etcd3, cluster: string, ids: string[]): Promise<Plan> {
  return changePlan(c, cluster, 'marking nodes joined', async (plan) => ({
    next: {
      ...plan,
      instances: plan.instances.map((i) => {
        if (!ids.includes(i.id)) return i;
        const { joining: _joined, ...rest } = i;
        return rest;
      }),
    },
  }));
}

/** Retired Redis Cluster ids every node has forgotten: the plan says so. */
export async function markForgotten(c: Etcd3, cluster: string, ids: string[]): Promise<Plan> {
  return changePlan(c, cluster, 'marking retired ids forgotten', async (plan) => ({
    next: { ...plan, retired: (plan.retired ?? []).map((r) => (ids.includes(r.id) ? { ...r, forgotten: true } : r)) },
  }));
}

/** Retired instances stopped on their hosts: off the plan, their ports freed. */
export async function dropRetired(c: Etcd3, cluster: string, stopped: string[]): Promise<Plan> {
  return changePlan(c, cluster, 'dropping retired instances', async (plan) => {
    const gone = (plan.retired ?? []).filter((r) => stopped.includes(addrOf(r)));
    const also = await Promise.all(
      [...new Set(gone.map((r) => r.host))].map(async (h) => {
        const kv = (await c.get(allocKey(h)).exec()).kvs[0];
        const a = JSON.parse(kv?.value.toString() ?? '{}') as HostAlloc;
        // Only a port this cluster still holds: it may have been given on since.
        for (const r of gone.filter((x) => x.host === h)) if (a[String(r.port)]?.cluster === cluster) delete a[String(r.port)];
        return { key: allocKey(h), rev: String(kv?.mod_revision ?? 0), value: JSON.stringify(a) };
      }),
    );
    return { next: { ...plan, retired: (plan.retired ?? []).filter((r) => !gone.includes(r)) }, also };
  });
}

export interface InstanceRecord {
  info: InstanceInfo;
  serverConf: string;
  nodesConf?: string;
}

/**
 * Write instance records (info, server.conf, nodes.conf) in transactions of up to 256 KB, not one
 * per instance: each is a raft entry and a disk sync, and records are written while hundreds
 * of nodes start on the same machines. Batches stay under etcd's limits on operations per
 * transaction (128 by default) and on request size (1.5 MiB by default; ovl configures 10).
 */
export async function putInstances(c: Etcd3, cluster: string, records: InstanceRecord[]): Promise<void> {
  const MAX_OPS = 120;
  const MAX_BYTES = 256 << 10;
  const batches: { ops: ReturnType<Etcd3['put']>[]; bytes: number }[] = [];
  for (const r of records) {
    const a = addrOf(r.info);
    const kv: [string, string][] = [[instanceKey(cluster, a, 'info'), JSON.stringify(r.info)], [instanceKey(cluster, a, 'server.conf'), r.serverConf]];
    if (r.nodesConf !== undefined) kv.push([instanceKey(cluster, a, 'nodes.conf'), r.nodesConf]);
    const bytes = kv.reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0);
    let b = batches[batches.length - 1];
    if (!b || b.ops.length + kv.length > MAX_OPS || (b.ops.length && b.bytes + bytes > MAX_BYTES)) batches.push((b = { ops: [], bytes: 0 }));
    b.ops.push(...kv.map(([k, v]) => c.put(k).value(v)));
    b.bytes += bytes;
  }
  // Only while the cluster's plan exists: a record never outlives a deleted cluster. A few
  // batches at a time: all at once, tens of megabytes (600 nodes' nodes.conf) queue on the one
  // connection to etcd ahead of the scheduler's lease keep-alives (the lease expired), and a
  // megabyte in one raft entry did not commit within a call's deadline on a loaded machine.
  await mapLimit(batches, 4, (b) => c.if(planKey(cluster), 'Create', '>', 0).then(...b.ops).commit());
}

/** Every instance's info (the instance keys also hold config files, which are not JSON). */
export async function listInstances(c: Etcd3, cluster: string): Promise<Map<string, InstanceInfo>> {
  const all = await c.getAll().prefix(`${clusterPrefix(cluster)}instances/`).strings();
  return new Map(Object.entries(all).filter(([k]) => k.endsWith('/info')).map(([k, v]) => [k, JSON.parse(v) as InstanceInfo]));
}

export async function setInstanceStates(c: Etcd3, cluster: string, states: Map<string, { state: InstanceState; error?: string }>): Promise<void> {
  // The info keys alone, read a hundred to a transaction (etcd caps a transaction at 128
  // operations): a prefix read would also carry every server.conf and nodes.conf (megabytes
  // for a large cluster), and a read per key is hundreds of round trips to a busy etcd.
  const addrs = [...states.keys()];
  const ops = [];
  for (let i = 0; i < addrs.length; i += 100) {
    const res = await c
      .if(planKey(cluster), 'Create', '>', 0)
      .then(...addrs.slice(i, i + 100).map((a) => c.get(instanceKey(cluster, a, 'info'))))
      .commit();
    for (const r of res.succeeded ? res.responses : []) {
      const kv = r.response_range?.kvs?.[0];
      if (!kv) continue;
      const info = JSON.parse(kv.value.toString()) as InstanceInfo;
      const s = states.get(addrOf(info))!;
      if (s.state === info.state && s.error === info.error) continue;
      ops.push(c.put(instanceKey(cluster, addrOf(info), 'info')).value(JSON.stringify({ ...info, state: s.state, error: s.error })));
    }
  }
  for (let i = 0; i < ops.length; i += 100) await c.if(planKey(cluster), 'Create', '>', 0).then(...ops.slice(i, i + 100)).commit();
}

export async function updateConfig(c: Etcd3, cluster: string, patch: Partial<ClusterConfig>): Promise<void> {
  const cur = await getJson<ClusterConfig>(c, configKey(cluster));
  if (cur) await c.put(configKey(cluster)).value(JSON.stringify({ ...cur, ...patch }));
}

/** Everything of a cluster: its keys, config, secret and the ports it holds on every host. */
export async function removeCluster(c: Etcd3, cluster: string, keepTask: string, keepPorts: { host: string; port: number }[] = []): Promise<void> {
  // Its ports are on the hosts of its plan (placed, moved and scaled with the plan, retired ones
  // listed in it): those hosts' allocations are read, not the fleet's; every host's without a plan.
  // The plan is guarded too: one that gained a host meanwhile would leave that host's ports.
  const planKv = (await c.get(planKey(cluster)).exec()).kvs[0];
  const plan = planKv && (JSON.parse(planKv.value.toString()) as Plan);
  const hosts = plan && [...new Set([...plan.instances, ...(plan.retired ?? [])].map((i) => i.host))];
  const kvs = hosts ? await getMany(c, hosts.map(allocKey)) : (await c.getAll().prefix(allocPrefix).exec()).kvs;
  const ops = [];
  let txn = planKv ? c.if(planKey(cluster), 'Mod', '==', String(planKv.mod_revision)) : c.if(planKey(cluster), 'Create', '==', 0);
  for (const kv of kvs) {
    const alloc = JSON.parse(kv.value.toString()) as HostAlloc;
    const host = kv.key.toString().slice(allocPrefix.length);
    const mine = Object.keys(alloc).filter((p) => alloc[p]!.cluster === cluster && !keepPorts.some((k) => k.host === host && String(k.port) === p));
    if (!mine.length) continue;
    for (const p of mine) delete alloc[p];
    txn = txn.and(kv.key.toString(), 'Mod', '==', String(kv.mod_revision));
    ops.push(Object.keys(alloc).length ? c.put(kv.key.toString()).value(JSON.stringify(alloc)) : c.delete().key(kv.key.toString()));
  }
  ops.push(c.delete().prefix(clusterPrefix(cluster)), c.delete().key(configKey(cluster)), c.delete().key(secretKey(cluster)), c.delete().key(checkKey(cluster)));
  // The cluster's task history goes too, but for the deleting task (the record that it is
  // gone) and tasks not yet run: someone may be following one queued after this delete, and
  // it must end with its own truthful failure, not vanish.
  for (const t of await tasksOf(c, cluster)) {
    if (t.id !== keepTask && taskEnded(t)) ops.push(c.delete().key(taskKey(t.id)), c.delete().key(clusterTaskKey(cluster, t.id)));
  }
  const res = await txn.then(...ops).commit();
  if (!res.succeeded) throw new ConflictError(`removing ${cluster} raced with another change`);
}

export async function listConfigs(c: Etcd3): Promise<ClusterConfig[]> {
  return Object.values(await listJson<ClusterConfig>(c, configPrefix)).sort((a, b) => a.name.localeCompare(b.name));
}

/** Every cluster's plan (those placed), in name order. */
export async function listPlans(c: Etcd3): Promise<Plan[]> {
  return (await getMany(c, (await listConfigs(c)).map((cfg) => planKey(cfg.name)))).map((kv) => JSON.parse(kv.value.toString()) as Plan);
}

export async function getPlan(c: Etcd3, cluster: string): Promise<Plan | null> {
  return getJson<Plan>(c, planKey(cluster));
}

export async function getSecret(c: Etcd3, cluster: string): Promise<ClusterAuth | undefined> {
  return (await getSecretAt(c, cluster)).auth;
}

/** The cluster's passwords and the revision of their record, for a write guarded by it. */
export async function getSecretAt(c: Etcd3, cluster: string): Promise<{ auth?: ClusterAuth; rev?: string }> {
  const kv = (await c.get(secretKey(cluster)).exec()).kvs[0];
  if (!kv) return {};
  const sealed = openRecord(c, cluster, JSON.parse(kv.value.toString()) as SecretRecord);
  const auth = sealed && unprintable({ ...sealed, tls: sealed.tls ? readRedisTls(pkiDirOf(c)) : undefined });
  return { auth, rev: String(kv.mod_revision) };
}

/** Replace a cluster's passwords (sealed), only while its record is still at `rev`. */
export async function putSecret(c: Etcd3, cluster: string, auth: ClusterAuth, rev: string): Promise<void> {
  const res = await c.if(secretKey(cluster), 'Mod', '==', rev).then(c.put(secretKey(cluster)).value(sealRecord(c, cluster, auth))).commit();
  if (!res.succeeded) throw new ConflictError(`the passwords of ${cluster} changed meanwhile (another ovl cluster password?): run it again`);
}

/**
 * Remove the secret key of a name no create holds (no cluster config, no unfinished create
 * task): left by lost etcd writes, it would block every create of the name. The key and its
 * create task are written in one transaction, so a secret read here whose task is not listed
 * afterwards belongs to no queued create; the delete is guarded by the revision read, so a
 * claim written meanwhile stays. Returns whether a stale key was removed.
 */
export async function dropStaleSecret(c: Etcd3, cluster: string): Promise<boolean> {
  const res = await c.get(secretKey(cluster)).exec();
  const kv = res.kvs[0];
  if (!kv) return false;
  if ((await listTasks(c)).some((t) => openCreateOf(t, cluster))) return false;
  const del = await c
    .if(secretKey(cluster), 'Mod', '==', kv.mod_revision)
    .and(configKey(cluster), 'Create', '==', 0)
    .then(c.delete().key(secretKey(cluster)))
    .commit();
  return del.succeeded;
}

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
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}

/** Keys read 100 to a transaction (one round trip, not one per key); those that do not exist
 * are left out. */
async function getMany(c: Etcd3, keys: string[]) {
  const batches = [];
  for (let i = 0; i < keys.length; i += 100) batches.push(keys.slice(i, i + 100));
  const got = await mapLimit(batches, 4, async (b) => {
    const res = await c.if(b[0]!, 'Create', '!=', -1).then(...b.map((k) => c.get(k))).commit();
    return res.responses.flatMap((r) => r.response_range.kvs);
  });
  return got.flat();
}

/** Task records by id in the order they were asked for (their keys' creation), with the
 * revision each was read at; a task gone meanwhile is left out. */
async function recordsOf(c: Etcd3, ids: string[]): Promise<{ task: Task; rev: string }[]> {
  return (await getMany(c, ids.map(taskKey)))
    .map((kv) => ({ created: BigInt(kv.create_revision), task: JSON.parse(kv.value.toString()) as Task, rev: String(kv.mod_revision) }))
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0))
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
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
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
