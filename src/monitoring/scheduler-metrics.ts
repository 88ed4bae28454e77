// A scheduler's side of monitoring: it serves /metrics and /memcache (metrics-server.ts) at the
// address of `ovl scheduler --metrics`, says so in etcd under a lease (Prometheus's ovl targets:
// the key goes when the process does), and checks every cluster in turn while it leads, so an
// alert fires on a cluster ovl judges unhealthy without anyone running `ovl cluster check`.
import type { Etcd3 } from 'etcd3';
import { listTasks, type Task } from '../cluster/task-store.js';
import type { Inventory } from '../inventory/types.js';
import { pkiDir } from '../pki/fleet-pki.js';
import { schedulerKey, schedulerPrefix } from '../state/keys.js';
import { checkClusters, listChecks } from '../cluster/check-all.js';
import { listPlans } from '../cluster/store.js';
import { memcacheMetrics } from './memcache-metrics.js';
import { OvlMetrics, readCertificates } from './ovl-metrics.js';
import { parseListen, serveMetrics } from './metrics-server.js';

export interface SchedulerRecord {
  /** ADDRESS:PORT of its /metrics. */
  address: string;
  scheduler: string;
  since: string;
}

/** The /metrics addresses of the schedulers running now, sorted. */
export async function listSchedulers(c: Etcd3): Promise<string[]> {
  const keys = await c.getAll().prefix(schedulerPrefix).keys();
  return keys.map((k) => k.slice(schedulerPrefix.length)).sort();
}

/** How long the memcache instances etcd lists are trusted before they are read again, ms. */
const MEMCACHE_LIST_MS = 30_000;

export class SchedulerMonitoring {
  readonly metrics = new OvlMetrics();
  private close_: (() => Promise<void>)[] = [];
  private memcache?: { at: number; targets: Set<string> };
  /** The listing in flight: scrapes arriving together wait for one read of etcd. */
  private listing?: Promise<void>;
  private checking?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly etcd: Etcd3,
    private readonly inv: Inventory,
    private readonly me: string,
    private readonly leading: () => boolean,
    private readonly log: (line: string) => void,
  ) {}

  /** Serve at `listen` (ADDRESS:PORT) and register the address in etcd for as long as it runs. */
  async serve(listen: string, ttl: number): Promise<string> {
    const { server, address } = await serveMetrics(parseListen(listen), { ovl: () => this.render(), memcache: (t) => this.memcacheOf(t) }, this.log);
    this.close_.push(() => new Promise((r) => server.close(() => r())));
    await this.register(address, ttl);
    this.log(`${this.me}: metrics on http://${address}/metrics`);
    return address;
  }

  private async register(address: string, ttl: number): Promise<void> {
    const lease = this.etcd.lease(ttl, { autoKeepAlive: true });
    const record: SchedulerRecord = { address, scheduler: this.me, since: new Date().toISOString() };
    await lease.put(schedulerKey(address)).value(JSON.stringify(record));
    // A lease lost (etcd away longer than its TTL) is taken again, or Prometheus would lose the
    // target at the next sync while the process still serves.
    lease.on('lost', () => {
      if (this.close_.length) void this.register(address, ttl).catch((e: Error) => this.log(`${this.me}: cannot register its metrics address again: ${e.message}`));
    });
    this.close_.push(() => lease.revoke().then(() => undefined, () => undefined));
  }

  /** While leading, check every cluster no task is changing every `everyMs`, one round at a time. */
  startChecks(everyMs: number): void {
    const round = async () => {
      if (this.leading()) {
        const outcomes = await checkClusters(this.etcd, 'all', { skipBusy: true, by: this.me }).catch((e: Error) => {
          this.log(`${this.me}: periodic check: ${e.message}`);
          return [];
        });
        const unhealthy = outcomes.filter((o) => 'report' in o && !o.report.healthy).map((o) => o.name);
        if (unhealthy.length) this.log(`${this.me}: periodic check: NOT healthy: ${unhealthy.join(', ')} (ovl cluster check NAME says why)`);
      }
      if (this.closed) return;
      this.checking = setTimeout(() => void round(), everyMs);
      this.checking.unref();
    };
    this.checking = setTimeout(() => void round(), Math.min(everyMs, 5000));
    this.checking.unref();
  }

  taskEnded(task: Task, ms: number): void {
    this.metrics.taskEnded(task, ms);
  }

  private async render(): Promise<string> {
    if (!this.leading()) return this.metrics.render({ leader: false, tasks: [], plans: [], checks: new Map(), certificates: [] });
    const [tasks, plans, checks] = await Promise.all([listTasks(this.etcd), listPlans(this.etcd), listChecks(this.etcd)]);
    return this.metrics.render({ leader: this.leading(), tasks, plans, checks, certificates: readCertificates(pkiDir(this.inv)) });
  }

  private async memcacheOf(target: string): Promise<string | undefined> {
    // Read again when old, or when a target is not known and the list is not fresh (a cluster
    // created a moment ago).
    const age = this.memcache ? Date.now() - this.memcache.at : Infinity;
    if (age > MEMCACHE_LIST_MS || (age > 2000 && !this.memcache!.targets.has(target))) {
      this.listing ??= listPlans(this.etcd)
        .then((plans) => {
          const memcache = plans.filter((p) => p.type === 'memcache');
          this.memcache = { at: Date.now(), targets: new Set(memcache.flatMap((p) => p.instances.map((i) => `${i.address}:${i.port}`))) };
        })
        .finally(() => (this.listing = undefined));
      await this.listing;
    }
    if (!this.memcache!.targets.has(target)) return undefined;
    const [address, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    return memcacheMetrics(address, port);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.checking);
    for (const c of this.close_.splice(0).reverse()) await c();
  }
}
