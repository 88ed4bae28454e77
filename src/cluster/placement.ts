// Placement: which host and port each instance of a new cluster gets. Pure and deterministic:
// the same request and hosts give the same hosts and ports (ids are random unless a generator
// is passed). Nothing is reserved here; the caller writes the plan to etcd in one transaction.
//
// How a redis_cluster (and a replicated redis) is placed, in four steps:
//  1. Capacity per host: free ports (for redis_cluster a port counts only if port + 10000, its
//     bus port, is free too and <= 65535), memory for instanceMemMB() each, and at most one
//     instance per shard (a master and its replicas never share a host).
//  2. Instances per host t[h]: water-filled, so totals differ by at most one where capacity
//     allows. Masters per host m[h] <= t[h]: water-filled the same way (hosts with more
//     instances take the odd masters first), so master counts differ by at most one too.
//  3. Replica matrix X[a][b] = how many replicas of host a's masters live on host b (a != b;
//     row a sums to m[a] * replicas, column b to t[b] - m[b]). The one with the smallest sum of
//     squares (replica-matrix.ts), so each host's replicas are spread as evenly as possible
//     over all other hosts: losing a host fails its masters over to every other host instead
//     of to one partner (overlord's chunk pairs A-master/B-replica with B-master/A-replica).
//  4. Shards: masters are dealt round-robin over hosts (shard i gets divideSlots(M)[i] and
//     config epoch i + 1); each host's replica targets are dealt cyclically to its masters,
//     which gives every master `replicas` distinct hosts. Ports ascend from each host's range,
//     masters first.
// memcache nodes are independent: only step 1 (without the one-per-shard limit) and 2 apply.

import { badDirective } from './redisconf.js';
import { badAppRule } from './auth.js';
import { IPV4_RE, NAME_RE, VERSION_RE } from '../shell.js';
import { nodeIdSource } from './nodeid.js';
import { replicaMatrix, type ReplicaRows } from './replica-matrix.js';
import { sum, waterFill } from './water-fill.js';
import { divideSlots, SLOT_COUNT } from './slots.js';
import {
  BUS_PORT_OFFSET,
  binaryType,
  type ClusterRequest,
  type HostCapacity,
  type Plan,
  type PlannedInstance,
} from './types.js';

/** Not enough resources for a request. The message names what is missing; nothing is placed. */
export class PlacementError extends Error {
  override name = 'PlacementError';
  readonly code = 'PLACEMENT';
}

/**
 * Memory reserved per instance on top of its maxmemory: 10 %. Redis counts only the data set
 * against maxmemory; client and replica output buffers, the replication backlog (sized below
 * 1/16 of maxmemory by redisconf.ts), allocator fragmentation and the process itself come on
 * top. memcached's -m likewise excludes connection buffers and hash table. Copy-on-write of a
 * fork (BGSAVE, AOF rewrite, disk-based full sync) is NOT covered: clusters are created with
 * persistence off and diskless replication, so no fork happens in normal operation.
 */
export const MEM_OVERHEAD_PERCENT = 10;

/** MB a host must have free for one instance with this maxmemory. */
export function instanceMemMB(maxmemoryMB: number): number {
  // In integers: 100 * 1.1 is 110.00000000000001 in floating point, which ceil makes 111.
  return Math.ceil((maxmemoryMB * (100 + MEM_OVERHEAD_PERCENT)) / 100);
}

export interface PlaceOptions {
  /** Id generator (tests); default: random 40-hex node ids. */
  newId?: () => string;
  /** How the replica matrix is chosen (tests and bench/fleet-scale.ts compare with the exact one). */
  replicaMatrix?: (demand: number[], supply: number[], limit: number[]) => ReplicaRows | null;
}

const MAX_PORT = 65535;

// ---------------------------------------------------------------------------------------------
// Entry points

/** Place a Redis Cluster: `masters` shards of one master and `replicas` replicas each. */
export function placeChunk(req: ClusterRequest, hosts: HostCapacity[], opts: PlaceOptions = {}): Plan {
  validateRequest(req);
  if (req.type !== 'redis_cluster') throw new Error(`placeChunk places redis_cluster, not ${req.type}; use placeDist`);
  return placeGroups(req, hosts, opts);
}

/** Place a redis (masters groups of 1 master + replicas; usually 1 group) or memcache cluster. */
export function placeDist(req: ClusterRequest, hosts: HostCapacity[], opts: PlaceOptions = {}): Plan {
  validateRequest(req);
  if (req.type === 'redis') return placeGroups(req, hosts, opts);
  if (req.type === 'memcache') return placeNodes(req, hosts, opts);
  throw new Error(`placeDist places redis and memcache, not ${req.type}; use placeChunk`);
}

/** placeChunk for redis_cluster, placeDist for the others. */
export function place(req: ClusterRequest, hosts: HostCapacity[], opts: PlaceOptions = {}): Plan {
  return req.type === 'redis_cluster' ? placeChunk(req, hosts, opts) : placeDist(req, hosts, opts);
}

export function validateRequest(req: ClusterRequest): void {
  const bad = (what: string) => {
    throw new Error(`invalid cluster request ${JSON.stringify(req.name)}: ${what}`);
  };
  if (typeof req.name !== 'string' || !NAME_RE.test(req.name)) bad('a name is 1-63 characters: lower-case letters, digits and -, starting and ending with a letter or digit');
  if (!['redis_cluster', 'redis', 'memcache'].includes(req.type)) bad(`unknown type ${JSON.stringify(req.type)}`);
  if (typeof req.version !== 'string' || !VERSION_RE.test(req.version)) bad(`invalid version ${JSON.stringify(req.version)}`);
  if (!Number.isInteger(req.maxmemoryMB) || req.maxmemoryMB < 1) bad('maxmemoryMB must be a positive integer');
  if (req.type === 'memcache') {
    if (!Number.isInteger(req.nodes) || (req.nodes as number) < 1) bad('memcache needs nodes >= 1');
  } else {
    const maxMasters = req.type === 'redis_cluster' ? SLOT_COUNT : 1024;
    if (!Number.isInteger(req.masters) || req.masters < 1 || req.masters > maxMasters) bad(`masters must be 1..${maxMasters}`);
    if (!Number.isInteger(req.replicas) || req.replicas < 0 || req.replicas > 64) bad('replicas must be 0..64');
  }
  if (req.config !== undefined) {
    if (req.type === 'memcache') bad('memcache takes no redis.conf settings');
    for (const [name, value] of Object.entries(req.config)) {
      const why = badDirective(name, value);
      if (why) bad(why);
    }
  }
  if (req.tls) {
    if (req.type === 'memcache') bad('--tls is for the redis types: ovl runs memcached without TLS');
    // tls-auth-clients optional (ovl shows a certificate, applications need not) came in 6.0.6.
    else if (!atLeast(req.version, [6, 0, 6])) bad(`--tls: redis ${req.version} has no TLS with optional client certificates (Redis 6.0.6 or later)`);
  }
  if (req.appAcl !== undefined) {
    if (req.type === 'memcache') bad('memcache has no users: --app-acl is for the redis types');
    for (const r of req.appAcl) {
      const why = badAppRule(r);
      if (why) bad(why);
    }
  }
}

/** Whether a version string ("6.0.16", "7.0.15-ovl1") is at least major.minor.patch. */
function atLeast(version: string, want: [number, number, number]): boolean {
  const got = version.split(/[.+-]/).slice(0, 3).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if ((got[i] ?? 0) !== want[i]) return (got[i] ?? 0) > want[i]!;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Capacity

interface Usable {
  host: HostCapacity;
  /** How many free ports it has, at most the per-host limit (the ports are listed once it is
   * known how many the host gets: a fleet of 10,000 hosts has millions). */
  freePorts: number;
  /** How many instances the host's free memory holds. */
  memSlots: number;
  /** min(ports, memSlots, per-host limit). */
  cap: number;
}

function checkHosts(hosts: HostCapacity[]): HostCapacity[] {
  const names = new Set<string>();
  const addresses = new Set<string>();
  for (const h of hosts) {
    if (!NAME_RE.test(h.name)) throw new Error(`invalid host name ${JSON.stringify(h.name)}`);
    if (!IPV4_RE.test(h.address)) throw new Error(`host ${h.name}: invalid address ${JSON.stringify(h.address)}`);
    if (names.has(h.name)) throw new Error(`host ${h.name} is listed twice`);
    // Two entries with one address are one machine: anti-affinity would be an illusion.
    if (addresses.has(h.address)) throw new Error(`host ${h.name}: address ${h.address} is used by another host`);
    names.add(h.name);
    addresses.add(h.address);
    const { from, to } = h.ports;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to > MAX_PORT || from > to) {
      throw new Error(`host ${h.name}: invalid port range ${from}-${to}`);
    }
  }
  return [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Free ports of a host, ascending, at most `limit`. Used ports occupy their bus ports too; a
 * redis_cluster port also needs its own bus port free (and <= 65535). */
export function freePorts(h: HostCapacity, needBus: boolean, limit: number): number[] {
  const out: number[] = [];
  scanPorts(h, needBus, limit, out);
  return out;
}

// Shared by hosts with no port in use and a range narrower than the bus offset: never added to.
const NONE_TAKEN = new Set<number>();

/** How many ports freePorts would list (pushed to `out` if given). */
function scanPorts(h: HostCapacity, needBus: boolean, limit: number, out?: number[]): number {
  const offset = BUS_PORT_OFFSET;
  // A range narrower than the bus offset holds no port of its own ports' bus ports: the chosen
  // ones need not be remembered (most of the time of a fleet-scale placement otherwise).
  const wide = needBus && h.ports.to - h.ports.from >= offset;
  const taken = h.usedPorts.length || wide ? new Set<number>() : NONE_TAKEN;
  for (const p of h.usedPorts) {
    taken.add(p);
    taken.add(p + offset);
  }
  let n = 0;
  for (let p = h.ports.from; p <= h.ports.to && n < limit; p++) {
    if (taken.has(p)) continue;
    if (needBus) {
      const bus = p + offset;
      if (bus > MAX_PORT || taken.has(bus)) continue;
      if (wide) taken.add(bus);
    }
    if (wide) taken.add(p);
    out?.push(p);
    n++;
  }
  return n;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Hosts that can take instances, with their capacity, or a PlacementError naming what is short.
 * total: instances to place; distinct: hosts every group needs; perHost: at most this many on
 * one host.
 */
function usableHosts(req: ClusterRequest, hosts: HostCapacity[], total: number, distinct: number, perHost: number): Usable[] {
  const sorted = checkHosts(hosts);
  const bin = binaryType(req.type);
  const needBus = req.type === 'redis_cluster';
  const portWord = needBus ? 'ports (with bus port + 10000)' : 'ports';
  const per = instanceMemMB(req.maxmemoryMB);
  // The common case first, with each host's ports counted only as far as its memory goes; the
  // checks below, which name what is short, run when this does not suffice.
  const quick = sorted.flatMap((host) => {
    if (!(host.versions[bin] ?? []).includes(req.version)) return [];
    const memSlots = Math.max(0, Math.floor((host.memMB - host.usedMemMB) / per));
    const ports = scanPorts(host, needBus, Math.min(perHost, memSlots));
    return ports ? [{ host, freePorts: ports, memSlots, cap: ports }] : [];
  });
  if (quick.length >= distinct && sum(quick.map((u) => u.cap)) >= total) return quick;
  const anyPorts = sorted.filter((h) => freePorts(h, needBus, 1).length > 0).length;
  if (anyPorts < distinct) {
    throw new PlacementError(
      `needs ${total} ${portWord} on ${plural(distinct, 'distinct host')}, fleet has ${plural(anyPorts, 'host')} with free ports`,
    );
  }
  const withVersion = sorted.filter((h) => (h.versions[bin] ?? []).includes(req.version));
  if (withVersion.length < distinct) {
    throw new PlacementError(
      `needs ${bin} ${req.version} on ${plural(distinct, 'distinct host')}, ` +
        `only ${withVersion.length} of ${plural(sorted.length, 'host')} ${withVersion.length === 1 ? 'has' : 'have'} it installed`,
    );
  }
  const usable: Usable[] = withVersion.map((host) => {
    const ports = scanPorts(host, needBus, perHost);
    const memSlots = Math.max(0, Math.floor((host.memMB - host.usedMemMB) / per));
    return { host, freePorts: ports, memSlots, cap: Math.min(ports, memSlots, perHost) };
  });
  const perHostNote = perHost < total ? ` (at most ${perHost} per host: a master and its replicas never share one)` : '';

  const withPorts = usable.filter((u) => u.freePorts > 0);
  if (withPorts.length < distinct) {
    throw new PlacementError(
      `needs ${total} ${portWord} on ${plural(distinct, 'distinct host')}, fleet has ${plural(withPorts.length, 'host')} with free ports`,
    );
  }
  const portSum = sum(usable.map((u) => Math.min(u.freePorts, perHost)));
  if (portSum < total) {
    throw new PlacementError(`needs ${total} ${portWord}${perHostNote}, fleet has only ${portSum} usable free ports`);
  }

  const withMem = usable.filter((u) => u.memSlots > 0);
  if (withMem.length < distinct) {
    throw new PlacementError(
      `needs ${total} x ${per} MB on ${plural(distinct, 'distinct host')}, only ${plural(withMem.length, 'host')} ` +
        `${withMem.length === 1 ? 'has' : 'have'} that much free memory`,
    );
  }
  const memSum = sum(usable.map((u) => Math.min(u.memSlots, perHost)));
  if (memSum < total) {
    throw new PlacementError(`needs ${total} x ${per} MB${perHostNote}, fleet has free memory for only ${memSum}`);
  }

  const able = usable.filter((u) => u.cap > 0);
  const capSum = sum(able.map((u) => u.cap));
  if (able.length < distinct || capSum < total) {
    throw new PlacementError(
      `needs ${total} instances of ${per} MB with a free port each on ${plural(distinct, 'distinct host')}${perHostNote}, ` +
        `but free memory and free ports are on different hosts: ${plural(able.length, 'host')} have both, room for ${capSum}`,
    );
  }
  return able;
}

// ---------------------------------------------------------------------------------------------
// Balancing

/** Preference for the odd instance: hosts with fewer instances already, then more free memory,
 * then name order (the input is sorted by name). */
function hostPreference(us: readonly Usable[]): number[] {
  return us
    .map((_, i) => i)
    .sort((a, b) => {
      const ua = us[a]!.host;
      const ub = us[b]!.host;
      return (
        ua.usedPorts.length - ub.usedPorts.length || ub.memMB - ub.usedMemMB - (ua.memMB - ua.usedMemMB) || a - b
      );
    });
}

// ---------------------------------------------------------------------------------------------
// Redis types: groups of one master and `replicas` replicas on distinct hosts

function placeGroups(req: ClusterRequest, hosts: HostCapacity[], opts: PlaceOptions): Plan {
  const M = req.masters;
  const R = req.replicas;
  const total = M * (R + 1);
  const us = usableHosts(req, hosts, total, R + 1, M);
  const n = us.length;
  const pref = hostPreference(us);

  // 2. instances and masters per host.
  const t = waterFill(total, us.map((u) => u.cap), pref);
  const byT = [...pref].sort((a, b) => t[b]! - t[a]!); // stable: ties keep the preference
  const m = waterFill(M, t, byT);
  const r = t.map((x, i) => x - m[i]!);

  // 3. who replicates whom.
  const X = (opts.replicaMatrix ?? replicaMatrix)(
    m.map((x) => x * R),
    r,
    m,
  );
  if (!X) {
    // Not reached for any input found so far (see the fuzz test); kept as a guard.
    throw new PlacementError(
      `cannot place ${M} masters with ${R} replicas each on distinct hosts with instance counts ${t.join('/')} ` +
        `on ${us.map((u) => u.host.name).join(', ')}`,
    );
  }

  // 4. shards: masters dealt round-robin over hosts.
  const masterHost: number[] = [];
  const shardsOf: number[][] = Array.from({ length: n }, () => []);
  const left = [...m];
  while (masterHost.length < M) {
    for (let h = 0; h < n; h++) {
      if (left[h]! > 0) {
        left[h]!--;
        shardsOf[h]!.push(masterHost.length);
        masterHost.push(h);
      }
    }
  }
  const replicaHosts: number[][] = Array.from({ length: M }, () => []);
  for (let a = 0; a < n; a++) {
    const shards = shardsOf[a]!;
    if (shards.length === 0) continue;
    // Targets starting after a (so equal rows do not all begin with the first host), each
    // repeated X[a][b] <= shards.length times; dealt cyclically, a run of one target never hits
    // a master twice, and every master gets exactly R targets.
    const after = (b: number) => (b - a + n) % n;
    const targets: number[] = [];
    for (const b of [...X[a]!.keys()].sort((x, y) => after(x) - after(y))) {
      for (let c = 0; c < X[a]!.get(b)!; c++) targets.push(b);
    }
    targets.forEach((b, k) => replicaHosts[shards[k % shards.length]!]!.push(b));
  }

  // Ports: masters first, then replicas, each in shard order.
  const ports = us.map((u, h) => freePorts(u.host, req.type === 'redis_cluster', t[h]!));
  const nextPort = new Array<number>(n).fill(0);
  const takePort = (h: number) => ports[h]![nextPort[h]!++]!;
  const masterPort = masterHost.map((h) => takePort(h));
  const replicaPort = replicaHosts.map((hs) => hs.map((h) => takePort(h)));

  const nextId = nodeIdSource(opts.newId);
  const cluster = req.type === 'redis_cluster';
  const slots = cluster ? divideSlots(M) : [];
  const instances: PlannedInstance[] = [];
  for (let s = 0; s < M; s++) {
    const mh = us[masterHost[s]!]!.host;
    const master: PlannedInstance = { id: nextId(), host: mh.name, address: mh.address, port: masterPort[s]!, role: 'master', shard: s };
    if (cluster) {
      master.slots = slots[s]!;
      master.configEpoch = s + 1;
    }
    instances.push(master);
    replicaHosts[s]!.forEach((h, k) => {
      const rh = us[h]!.host;
      instances.push({ id: nextId(), host: rh.name, address: rh.address, port: replicaPort[s]![k]!, role: 'replica', masterId: master.id, shard: s });
    });
  }
  return { cluster: req.name, type: req.type, version: req.version, maxmemoryMB: req.maxmemoryMB, ...(req.config ? { config: req.config } : {}), ...(req.appAcl?.length ? { appAcl: req.appAcl } : {}), ...(req.tls ? { tls: true } : {}), instances };
}

// ---------------------------------------------------------------------------------------------
// memcache: independent nodes, spread evenly

function placeNodes(req: ClusterRequest, hosts: HostCapacity[], opts: PlaceOptions): Plan {
  const N = req.nodes as number;
  const us = usableHosts(req, hosts, N, 1, N);
  const t = waterFill(N, us.map((u) => u.cap), hostPreference(us));
  // Node i goes round-robin over hosts, so consecutive node indices land on different hosts.
  const nextId = nodeIdSource(opts.newId);
  const used = new Array<number>(us.length).fill(0);
  const ports = us.map((u, h) => freePorts(u.host, false, t[h]!));
  const instances: PlannedInstance[] = [];
  while (instances.length < N) {
    for (let h = 0; h < us.length; h++) {
      if (used[h]! < t[h]!) {
        const u = us[h]!;
        instances.push({ id: nextId(), host: u.host.name, address: u.host.address, port: ports[h]![used[h]!]!, role: 'node', shard: instances.length });
        used[h]!++;
      }
    }
  }
  return { cluster: req.name, type: req.type, version: req.version, maxmemoryMB: req.maxmemoryMB, ...(req.config ? { config: req.config } : {}), ...(req.appAcl?.length ? { appAcl: req.appAcl } : {}), ...(req.tls ? { tls: true } : {}), instances };
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


export { waterFill } from './water-fill.js';
export { replicaMatrix } from './replica-matrix.js';
