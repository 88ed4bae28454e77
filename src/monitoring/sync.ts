// The scrape targets kept in step with etcd: read every cluster's plan (and, for the exporters'
// logins, its passwords), write targets/{redis,memcache,ovl}.json on every Prometheus host and
// each cache host's exporter password file, only where they differ (Prometheus rereads its file on
// change; an exporter reads its own when it starts, so it is restarted). Run by the prometheus and
// redis-exporter components, after every task of the scheduler that changes instances, and by
// `ovl monitoring sync`.
import type { Etcd3 } from 'etcd3';
import type { ClusterAuth } from '../cluster/auth.js';
import { getSecret, listPlans } from '../cluster/store.js';
import type { Plan } from '../cluster/types.js';
import { applyNow } from '../engine/host.js';
import { hostsOf, type HostSpec, type Inventory } from '../inventory/types.js';
import { gatherFacts } from '../ops/facts.js';
import { file } from '../ops/files.js';
import { Remote } from '../ssh/remote.js';
import { mapLimit, Semaphore } from '../util/semaphore.js';
import { exporterPasswords, owingRestart, payRestart, redisExporterPort } from './exporter.js';
import { exporterOf, MEMCACHE_TARGETS, memcacheTargets, OVL_TARGETS, ovlTargets, REDIS_TARGETS, redisTargets, targetFile } from './targets.js';
import { listSchedulers } from './scheduler-metrics.js';

export interface FleetView {
  plans: Plan[];
  /** Each cluster's passwords (undefined: none). */
  auths: Map<string, ClusterAuth | undefined>;
  /** The /metrics addresses of the schedulers running now. */
  schedulers: string[];
}

export const emptyView = (): FleetView => ({ plans: [], auths: new Map(), schedulers: [] });

/** Every cluster's plan and passwords, and the running schedulers, as etcd has them now. */
export async function fleetView(c: Etcd3): Promise<FleetView> {
  const plans = await listPlans(c);
  const auths = new Map(await mapLimit(plans, 16, async (p) => [p.cluster, await getSecret(c, p.cluster)] as const));
  return { plans, auths, schedulers: await listSchedulers(c) };
}

/** Why a cluster's instances are not scraped yet, or undefined when they are. */
function notScraped(auth: ClusterAuth | undefined): string | undefined {
  // The exporter logs in as one user for every target (--redis.user): a cluster whose only login
  // is `default` with requirepass would need its password in the target's URL, in clear in
  // Prometheus's config. `ovl cluster check` (and the scheduler's /metrics) still judge it.
  if (auth?.app.length && !auth.admin) return 'one requirepass password (created before ACL users): not scraped';
  if (auth?.admin && auth.monitor === undefined) return 'no monitoring user (created before it): not scraped';
  return undefined;
}

/** targets/redis.json for the fleet, and the instances it leaves out, with why. */
export function redisTargetFile(inv: Inventory, view: FleetView): { content: string; unscraped: string[] } {
  const why = new Map(view.plans.map((p) => [p, p.type === 'memcache' ? undefined : notScraped(view.auths.get(p.cluster))]));
  const { groups, unscraped } = redisTargets(view.plans.filter((p) => !why.get(p)), exporterOf(hostsOf(inv, 'redis-exporter'), redisExporterPort));
  const left = view.plans.filter((p) => why.get(p)).map((p) => `${p.cluster} (${why.get(p)})`);
  return { content: targetFile(groups), unscraped: [...left, ...unscraped] };
}

/** The target files that follow etcd (Redis, memcache, the schedulers), and what they leave out. */
export function followedTargets(inv: Inventory, view: FleetView): { files: [string, string][]; redis: number; memcache: number; unscraped: string[] } {
  const redis = redisTargetFile(inv, view);
  const memcache = memcacheTargets(view.plans, view.schedulers);
  const files: [string, string][] = [
    [REDIS_TARGETS, redis.content],
    [MEMCACHE_TARGETS, targetFile(memcache.groups)],
    [OVL_TARGETS, targetFile(ovlTargets(view.schedulers))],
  ];
  return { files, redis: (JSON.parse(redis.content) as unknown[]).length, memcache: memcache.groups.length, unscraped: [...redis.unscraped, ...memcache.unscraped] };
}

/** The target files' operations of a Prometheus host (each written atomically, 0644). */
export const targetOps = (files: [string, string][]) => files.map(([path, content]) => file(path, content, { mode: 0o644 }));

export interface SyncResult {
  hosts: string[];
  /** Redis instances and memcache instances in the target files. */
  targets: number;
  memcacheTargets: number;
  unscraped: string[];
  /** Prometheus hosts whose targets were not written, and exporter hosts whose passwords were not. */
  failed: string[];
  exportersFailed: string[];
}

/** A host's connection: the caller's (the scheduler's pooled ones) or one of its own. */
export type RemoteOf = (host: HostSpec) => Promise<{ remote: Remote; close(): void }>;

const ownRemote: RemoteOf = async (host) => {
  const remote = await Remote.connect(host, { acceptNewHostKeys: false });
  return { remote, close: () => remote.close() };
};

async function onHost(inv: Inventory, host: HostSpec, remoteOf: RemoteOf, fn: (ctx: Parameters<typeof applyNow>[0]) => Promise<void>): Promise<void> {
  const { remote, close } = await remoteOf(host);
  try {
    await fn({ host, inv, remote, check: false, facts: await gatherFacts(remote) });
  } finally {
    close();
  }
}

// One sync at a time in a process, each reading etcd once it runs: two tasks ending together must
// not have the one that read first write last.
const oneAtATime = new Semaphore(1);

/**
 * Write the targets on every Prometheus host, and the password files of the exporters on
 * `exporterHosts` (default: every host of server.redis-exporter), restarting an exporter whose file
 * changed (or whose restart an earlier sync owes); a host that fails is named.
 */
export function syncTargets(inv: Inventory, c: Etcd3, exporterHosts?: Set<string>, remoteOf: RemoteOf = ownRemote): Promise<SyncResult> {
  return oneAtATime.run(async () => {
    const view = await fleetView(c);
    const { files, redis, memcache, unscraped } = followedTargets(inv, view);
    const failed: string[] = [];
    const exportersFailed: string[] = [];
    const exporters = hostsOf(inv, 'redis-exporter').filter((h) => !exporterHosts || exporterHosts.has(h.name));
    await mapLimit(exporters, 16, (host) =>
      onHost(inv, host, remoteOf, async (ctx) => {
        await applyNow(ctx, [owingRestart(exporterPasswords(host.name, view.plans, view.auths), host)]);
        await ctx.remote.run(payRestart(host, ctx.facts.systemd));
      }).catch((e: Error) => void exportersFailed.push(`${host.name}: ${e.message}`)),
    );
    const prometheus = hostsOf(inv, 'prometheus');
    await mapLimit(prometheus, 8, (host) =>
      onHost(inv, host, remoteOf, async (ctx) => void (await applyNow(ctx, targetOps(files)))).catch((e: Error) => void failed.push(`${host.name}: ${e.message}`)),
    );
    return { hosts: prometheus.map((h) => h.name), targets: redis, memcacheTargets: memcache, unscraped, failed, exportersFailed };
  });
}
