// The scripting API: `import { openFleet } from 'ovl'` in a zx script (or any ESM code). One open
// fleet holds its inventory and one etcd connection; clusters and hosts are read from etcd as the
// CLI reads them, and tasks are queued and followed as `--wait` follows them.
import type { Etcd3 } from 'etcd3';
import { fleetCapacity } from '../cluster/capacity.js';
import { checkClusters } from '../cluster/check-all.js';
import type { CheckReport, NodeReport } from '../cluster/check.js';
import { getPlan, getSecret, listInstances, listPlans, type ClusterConfig, type InstanceInfo } from '../cluster/store.js';
import { newTask, type Task } from '../cluster/task-store.js';
import { planFailover } from '../commands/failover.js';
import { planScale, queueRebalance, queueScale } from '../commands/reshape.js';
import { planConfig, queueConfig } from '../commands/config.js';
import { planRoll, queueRoll } from '../commands/roll.js';
import { queuePassword } from '../commands/password.js';
import { NotFound } from './errors.js';
import type { Plan } from '../cluster/types.js';
import { checkPassword, queueCreate, type CreateOptions } from '../commands/cluster.js';
import { UsageError } from '../commands/errors.js';
import type { RunResult } from '../engine/run.js';
import { bootstrap, type BootstrapOptions } from './bootstrap.js';
import { loadFleet } from '../inventory/fleet.js';
import type { Inventory } from '../inventory/types.js';
import { etcdAccess, openEtcd } from '../state/etcd.js';
import { awaitTask, clusterConfig, listClusters, queueClusterTask, type ClusterSummary, type RestartOptions, type TaskOptions } from './clusters.js';
import { etcdFailure } from './etcd-failure.js';

export interface CheckResult {
  healthy: boolean;
  /** Each problem with the instance (ip:port) it is about ('' for the plan's own). */
  problems: { instance: string; problem: string }[];
  /** One per planned instance. */
  nodes: NodeReport[];
  ms: number;
}

export interface CreateSpec {
  name: string;
  type: 'redis_cluster' | 'redis' | 'memcache';
  /** Default: the only version on the fleet. */
  version?: string;
  masters?: number;
  replicas?: number;
  nodes?: number;
  /** "256mb", "1gb", or a number of MB. */
  maxmemory: string | number;
  /** redis.conf settings. */
  config?: Record<string, string>;
  /** The application's password (ACL users on Redis 6+); never logged. */
  password?: string;
  tls?: boolean;
  /** ACL rules added to the application user's, e.g. "+config|get". */
  appAcl?: string;
}

export interface HostView {
  name: string;
  address: string;
  cpu: number;
  memMB: number;
  ports: { from: number; to: number };
  /** What clusters hold on it. */
  used: { memMB: number; ports: number; instances: number; masters: number };
  /** What a new cluster could still take (a port counts with its bus port, port + 10000). */
  free: { memMB: number; ports: number };
  versions: Record<string, string[]>;
}


const PROBLEM_RE = /^(\S+:\d+) \([^)]*\): ([\s\S]*)$/;

export function checkResult(r: CheckReport): CheckResult {
  return {
    healthy: r.healthy,
    problems: r.problems.map((p) => {
      const m = PROBLEM_RE.exec(p);
      return m ? { instance: m[1]!, problem: m[2]! } : { instance: '', problem: p };
    }),
    nodes: r.nodes,
    ms: r.ms,
  };
}

/** One cluster of the fleet, as etcd recorded it when it was got. */
export class ClusterHandle {
  constructor(
    private readonly fleet: Fleet,
    readonly config: ClusterConfig,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Where every instance is placed (undefined while a create has not placed it). */
  async plan(): Promise<Plan | undefined> {
    return this.fleet.run(async (etcd) => (await getPlan(etcd, this.name)) ?? undefined);
  }

  /** Every instance with its recorded state. */
  async instances(): Promise<InstanceInfo[]> {
    return this.fleet.run(async (etcd) => [...(await listInstances(etcd, this.name)).values()]);
  }

  /** The consistency check of `ovl cluster check NAME` (recorded for the scheduler's /metrics). */
  async check(): Promise<CheckResult> {
    return this.fleet.run(async (etcd) => {
      const [outcome] = await checkClusters(etcd, [this.name], { skipBusy: false, by: 'api' });
      if (!outcome || !('report' in outcome)) throw new UsageError(`${this.name}: ${outcome && 'skipped' in outcome ? outcome.skipped : 'not checked'}`);
      return checkResult(outcome.report);
    });
  }

  /** Start what is down (or the instances named), data and identity kept; `move` for a host lost for good. */
  async restart(o: RestartOptions & TaskOptions & { instance?: string } = {}): Promise<Task> {
    const instances = [...(o.instances ?? []), ...(o.instance ? [o.instance] : [])];
    return this.fleet.task('restart', this.name, { instances, move: o.move }, o);
  }

  /** A planned switchover: `instance` (a replica) becomes its shard's master, no write lost. */
  async failover(o: { instance: string } & TaskOptions): Promise<Task> {
    const task = await this.fleet.run(async (etcd) => {
      await planFailover(etcd, this.name, o.instance);
      return newTask(etcd, 'failover', this.name, { instance: o.instance });
    });
    return this.fleet.follow(task.id, o);
  }

  /** Grow or shrink it live (shards with slots moved, replicas per shard, memcache nodes); null
   * when it has that shape already. */
  async scale(o: { masters?: number; replicas?: number; nodes?: number; force?: boolean } & TaskOptions): Promise<Task | null> {
    const task = await this.fleet.run(async (etcd) => {
      const { plan, to, same } = await planScale(etcd, this.name, o);
      return same ? null : queueScale(etcd, plan, to);
    });
    return task && this.fleet.follow(task.id, o);
  }

  /** Even the slots of a redis_cluster again (and finish slots an interrupted migration left open). */
  async rebalance(o: { threshold?: number } & TaskOptions = {}): Promise<Task> {
    const task = await this.fleet.run((etcd) => queueRebalance(etcd, this.name, o.threshold));
    return this.fleet.follow(task.id, o);
  }

  /** Change settings (live where Redis allows, else a rolling restart, which needs `yes`). */
  async configure(settings: Record<string, string>, o: { yes?: boolean } & TaskOptions = {}): Promise<Task> {
    const task = await this.fleet.run(async (etcd) => {
      const plan = await getPlan(etcd, this.name);
      if (!plan) throw new NotFound(`no cluster named ${this.name} (ovl cluster list)`);
      const { set } = await planConfig(etcd, plan, await getSecret(etcd, this.name), Object.entries(settings).map(([k, v]) => `${k}=${v}`), o);
      return queueConfig(etcd, this.name, set, o.yes);
    });
    return this.fleet.follow(task.id, o);
  }

  /** Every instance restarted, one shard at a time (masters after a switchover); with `version`,
   * onto those binaries (an upgrade). An outage (a shard without replica) needs `yes`. Null when
   * it runs that version already. */
  async roll(o: { version?: string; yes?: boolean } & TaskOptions = {}): Promise<Task | null> {
    const task = await this.fleet.run(async (etcd) => {
      const judged = await planRoll(etcd, this.name, o.version);
      if (judged.same) return null;
      if (judged.cost && !o.yes) throw new UsageError(`${judged.what}: ${judged.cost}; give yes: true to accept that`);
      return (await queueRoll(etcd, this.name, o.version, o.yes)).task;
    });
    return task && this.fleet.follow(task.id, o);
  }

  /** New passwords for a cluster with ACL users: `rotate` (the new application password, accepted
   * beside the old one), `dropOld`, `rotateAdmin` (ovl's own). No password is ever in a record. */
  async passwords(o: { rotate?: string; dropOld?: boolean; rotateAdmin?: boolean } & TaskOptions): Promise<Task> {
    const { task } = await this.fleet.run((etcd) =>
      queuePassword(etcd, this.name, { rotate: o.rotate !== undefined, dropOld: o.dropOld, rotateAdmin: o.rotateAdmin }, () => (o.rotate === undefined ? undefined : checkPassword(o.rotate, 'rotate'))),
    );
    return this.fleet.follow(task!.id, o);
  }

  /** Stop every instance and remove the cluster from etcd (a create still queued is cancelled). */
  async delete(o: TaskOptions = {}): Promise<Task> {
    return this.fleet.task('delete', this.name, {}, o);
  }
}

export class Fleet {
  readonly clusters = {
    list: (): Promise<ClusterSummary[]> => this.run(listClusters),
    /** Throws NotFound when there is none of that name. */
    get: async (name: string): Promise<ClusterHandle> => new ClusterHandle(this, await this.run((etcd) => clusterConfig(etcd, name))),
    /** Queue a create and wait until the cluster runs; the create task's record. */
    create: async (spec: CreateSpec, o: TaskOptions = {}): Promise<Task> => {
      const opts: CreateOptions = {
        type: spec.type,
        version: spec.version,
        masters: spec.masters,
        replicas: spec.replicas,
        nodes: spec.nodes,
        maxmemory: typeof spec.maxmemory === 'number' ? `${spec.maxmemory}mb` : spec.maxmemory,
        config: spec.config && Object.entries(spec.config).map(([k, v]) => `${k}=${v}`),
        appAcl: spec.appAcl,
        tls: spec.tls,
      };
      const { task } = await this.run((etcd) => queueCreate(etcd, spec.name, opts, () => spec.password === undefined ? undefined : checkPassword(spec.password, 'password'), () => {}));
      return this.follow(task!.id, o);
    },
    /** The check of every cluster no task is changing (`ovl cluster check --all`). */
    checkAll: async (): Promise<{ name: string; result?: CheckResult; skipped?: string }[]> =>
      this.run(async (etcd) => (await checkClusters(etcd, 'all', { skipBusy: true, by: 'api' })).map((c) => ('report' in c ? { name: c.name, result: checkResult(c.report) } : c))),
  };

  readonly hosts = {
    /** Every cache host bootstrap registered, with what clusters hold on it and what is free. */
    list: (): Promise<HostView[]> =>
      this.run(async (etcd) => {
        const { hosts } = await fleetCapacity(etcd);
        const plans = await listPlans(etcd);
        return hosts
          .map((h) => {
            const mine = plans.flatMap((p) => p.instances.filter((i) => i.host === h.name));
            const taken = new Set(h.usedPorts.flatMap((p) => [p, p + 10_000]));
            let freePorts = 0;
            for (let p = h.ports.from; p <= h.ports.to; p++) if (!taken.has(p) && !taken.has(p + 10_000)) freePorts++;
            return {
              name: h.name,
              address: h.address,
              cpu: h.cpu,
              memMB: h.memMB,
              ports: h.ports,
              used: { memMB: h.usedMemMB, ports: h.usedPorts.length, instances: mine.length, masters: mine.filter((i) => i.role === 'master').length },
              free: { memMB: Math.max(0, h.memMB - h.usedMemMB), ports: freePorts },
              versions: h.versions,
            };
          })
          .sort((a, b) => a.name.localeCompare(b.name));
      }),
  };

  constructor(
    readonly inv: Inventory,
    private readonly etcd: Etcd3,
  ) {}

  /** Follow a queued task to its end (TaskFailed when it fails). */
  follow(id: string, o: TaskOptions): Promise<Task> {
    return awaitTask(this.inv, this.etcd, id, o);
  }

  /** `ovl bootstrap` as data: the recap per host and every operation's result. */
  async bootstrap(o: BootstrapOptions = {}): Promise<RunResult> {
    // Read again with its local files checked (the artifacts, the SSH key): bootstrap needs them.
    return bootstrap(this.inv.file, o);
  }

  /** Run against etcd; a connection failure becomes EtcdUnavailable. */
  async run<T>(fn: (etcd: Etcd3) => Promise<T>): Promise<T> {
    try {
      return await fn(this.etcd);
    } catch (e) {
      throw etcdFailure(e as Error, etcdAccess(this.inv).endpoints, this.inv.file);
    }
  }

  async task(kind: 'restart' | 'delete', name: string, r: RestartOptions, o: TaskOptions): Promise<Task> {
    const queued = await this.run((etcd) => queueClusterTask(etcd, kind, name, r));
    if ('cancelled' in queued) return queued.cancelled;
    return this.follow(queued.task.id, o);
  }

  async close(): Promise<void> {
    this.etcd.close();
  }
}

/** Read and validate the inventory (InventoryError names file, line and fix), connect to its etcd. */
export async function openFleet(inventory: string, o: { timeoutMs?: number } = {}): Promise<Fleet> {
  // Local files (release binaries, the SSH key) are checked by bootstrap() only.
  const inv = loadFleet(inventory, { checkLocalFiles: false });
  const access = etcdAccess(inv);
  try {
    return new Fleet(inv, await openEtcd(access, o.timeoutMs ?? 5000));
  } catch (e) {
    throw etcdFailure(e as Error, access.endpoints, inv.file);
  }
}
