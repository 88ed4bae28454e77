import type { Etcd3 } from 'etcd3';
import { allocKey, checkKey, allocPrefix, clusterPrefix, clusterTaskKey, configKey, configPrefix, instanceKey, planKey, secretKey, taskKey } from '../state/keys.js';
import { openRecord, pkiDirOf, sealRecord, type SecretRecord } from '../state/secrets.js';
import { readRedisTls } from '../pki/redis-certs.js';
import { unprintable, type ClusterAuth } from './auth.js';
import { mapLimit } from '../util/semaphore.js';
import { allocate } from './allocations.js';
import type { FleetRead, HostAlloc } from './capacity.js';
import { ConflictError, PortTaken } from './errors.js';
import { getJson, getMany, listJson } from './etcd-reads.js';
import { instanceMemMB } from './placement.js';
import { listTasks, openCreateOf, taskEnded, tasksOf } from './task-store.js';
import type { ClusterRequest, ClusterType, Plan, PlannedInstance } from './types.js';

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

export const addrOf = (i: { address: string; port: number }) => `${i.address}:${i.port}`;

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
