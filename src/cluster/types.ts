// Types of the pure cluster-creation core: what a host offers, what a user asks for, and the
// plan placement produces. No I/O here or in placement/slots/nodesconf/redisconf/memcacheargs.

import { DATA } from '../paths.js';

export type ClusterType = 'redis_cluster' | 'redis' | 'memcache';

export const CLUSTER_TYPES: readonly ClusterType[] = ['redis_cluster', 'redis', 'memcache'];

/**
 * What a host can still give: the capacity it registered in etcd minus what is already
 * allocated to instances (of any cluster).
 */
export interface HostCapacity {
  name: string;
  address: string;
  /** Cores. Informational: Redis is single-threaded and hosts are usually over-committed on
   * cores, so placement does not reserve CPU (it balances instance counts instead). */
  cpu: number;
  /** Memory the host offers to cache instances, in MB. */
  memMB: number;
  /** Inclusive range of ports cache instances may use on this host. */
  ports: { from: number; to: number };
  /** Ports already taken by instances on this host. Each one is treated as also occupying
   * its cluster bus port (port + 10000), whatever type it belongs to. */
  usedPorts: number[];
  /** Memory already reserved by instances on this host, in MB (same accounting as
   * instanceMemMB()). */
  usedMemMB: number;
  /** Binary type ("redis", "memcache") -> versions installed under /data/lib/<type>/<v>/. */
  versions: Record<string, string[]>;
}

export interface ClusterRequest {
  /** Cluster name (NAME_RE). */
  name: string;
  type: ClusterType;
  /** Version of the cache binary, e.g. "7.0.15". */
  version: string;
  /** redis_cluster: number of masters (shards), 1..16384. redis: number of independent
   * master/replica groups (usually 1). Ignored for memcache. */
  masters: number;
  /** Replicas per master (redis_cluster, redis). Ignored for memcache. */
  replicas: number;
  /** memcache: number of nodes. Ignored for the redis types. */
  nodes?: number;
  /** Memory limit of each instance in MB (redis maxmemory, memcached -m). */
  maxmemoryMB: number;
  /** redis types: extra redis.conf directives (name -> value), replacing ovl's defaults. */
  config?: Record<string, string>;
  /** ACL clusters: rules added to the application user's (`--app-acl`, e.g. +config|get). */
  appAcl?: string[];
  /** redis types, Redis 6+: clients, replication and the cluster bus over TLS only (`--tls`). */
  tls?: boolean;
}

export type InstanceRole = 'master' | 'replica' | 'node';

export interface PlannedInstance {
  /** 40 lowercase hex characters. For redis_cluster it is the Redis Cluster node id written to
   * nodes.conf; for the other types it is just a unique instance id. */
  id: string;
  /** Host name (HostCapacity.name). */
  host: string;
  address: string;
  port: number;
  role: InstanceRole;
  /** Replicas: id of the master they replicate. */
  masterId?: string;
  /** redis_cluster masters: slot ranges, inclusive. */
  slots?: [number, number][];
  /** redis_cluster masters: distinct config epoch, 1..masters. */
  configEpoch?: number;
  /** redis_cluster / redis: index of the master/replica group (shard); memcache: node index. */
  shard: number;
  /** redis_cluster: placed by restart --move and not yet part of the cluster (it meets the
   * cluster and replicates its shard; every restart finishes what an interrupted one left). */
  joining?: boolean;
  /** The version it runs when not the plan's: a rolling upgrade under way (or stopped midway). */
  version?: string;
}

export interface Plan {
  cluster: string;
  type: ClusterType;
  version: string;
  /** Memory limit of each instance in MB (copied from the request; renderers need it). */
  maxmemoryMB: number;
  /** redis types: extra redis.conf directives (copied from the request). */
  config?: Record<string, string>;
  /** ACL clusters: the application user's extra rules (copied from the request). */
  appAcl?: string[];
  /** TLS only (copied from the request). */
  tls?: boolean;
  /** Ordered by shard; within a shard the master comes first. */
  instances: PlannedInstance[];
  /** Instances replaced by `restart --move` on a host that did not answer. Their ports stay
   * allocated until they are stopped there: a process that outlived a network cut would
   * otherwise serve stale data at its old address (or hold a port given to another cluster). */
  retired?: RetiredInstance[];
}

export interface RetiredInstance extends PlannedInstance {
  /** ip:port of the instance that replaced it; none when a scale removed it. */
  movedTo?: string;
  /** The task that moved it. */
  task: string;
  /** redis_cluster: every node of the plan has forgotten its id (until then it stays listed,
   * and each restart asks the nodes that did not answer again). */
  forgotten?: boolean;
}

/** Binary type whose versions a cluster type needs (redis_cluster runs redis-server). */
export function binaryType(type: ClusterType): 'redis' | 'memcache' {
  return type === 'memcache' ? 'memcache' : 'redis';
}

/** Working directory of an instance on its host (seed 001: /data/redis[_cluster]/<port>). */
export function instanceDir(type: ClusterType, port: number): string {
  return `${DATA}/${type}/${port}`;
}

/** Redis Cluster bus port: always port + 10000 (Redis's default offset). */
export const BUS_PORT_OFFSET = 10000;
