// What Prometheus scrapes, as file_sd target files: every instance of every cluster in etcd through
// the redis_exporter of its host (multi-target: /scrape?target=redis://ADDRESS:PORT, rediss:// for TLS), labelled as
// ovl knows it; every host's node_exporter. Pure: plans and hosts in, file content out.
import type { HostSpec } from '../inventory/types.js';
import type { Plan } from '../cluster/types.js';
import { redisTargetURI } from './exporter.js';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export const TARGETS_DIR = '/data/prometheus/targets';
export const REDIS_TARGETS = `${TARGETS_DIR}/redis.json`;
export const NODE_TARGETS = `${TARGETS_DIR}/node.json`;
export const MEMCACHE_TARGETS = `${TARGETS_DIR}/memcache.json`;
export const OVL_TARGETS = `${TARGETS_DIR}/ovl.json`;

/** Where a host's exporter of `portVar` listens (its own address), or undefined when it runs none. */
export type ExporterOf = (host: string) => string | undefined;

export function exporterOf(hosts: HostSpec[], port: (h: HostSpec) => number): ExporterOf {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  return (name) => {
    const h = byName.get(name);
    return h && `${h.address}:${port(h)}`;
  };
}

/** One group per Redis instance, sorted: the same fleet gives
 * the same bytes, so a sync that changes nothing writes nothing. */
export function redisTargets(plans: Plan[], exporter: ExporterOf): { groups: TargetGroup[]; unscraped: string[] } {
  const groups: TargetGroup[] = [];
  const unscraped: string[] = [];
  for (const plan of [...plans].sort((a, b) => a.cluster.localeCompare(b.cluster))) {
    if (plan.type === 'memcache') continue;
    for (const i of plan.instances) {
      const at = exporter(i.host);
      const addr = `${i.address}:${i.port}`;
      if (!at) {
        unscraped.push(`${plan.cluster} ${addr} (${i.host} runs no redis-exporter)`);
        continue;
      }
      groups.push({
        targets: [at],
        labels: { __param_target: redisTargetURI(plan, i), instance: addr, cluster: plan.cluster, type: plan.type, role: i.role, shard: String(i.shard), host: i.host },
      });
    }
  }
  return { groups, unscraped };
}

/** One group per memcache instance, scraped through a scheduler's /memcache endpoint (the first
 * of those running: Prometheus drops a second target with the same labels); none running, and
 * every instance is named unscraped. */
export function memcacheTargets(plans: Plan[], schedulers: string[]): { groups: TargetGroup[]; unscraped: string[] } {
  const groups: TargetGroup[] = [];
  const unscraped: string[] = [];
  for (const plan of [...plans].sort((a, b) => a.cluster.localeCompare(b.cluster))) {
    if (plan.type !== 'memcache') continue;
    if (!schedulers.length) {
      unscraped.push(`${plan.cluster} (memcache: scraped through ovl scheduler --metrics, and none runs)`);
      continue;
    }
    for (const i of plan.instances) {
      const addr = `${i.address}:${i.port}`;
      groups.push({ targets: [schedulers[0]!], labels: { __param_target: addr, instance: addr, cluster: plan.cluster, type: plan.type, role: i.role, shard: String(i.shard), host: i.host } });
    }
  }
  return { groups, unscraped };
}

/** The schedulers' own /metrics. */
export const ovlTargets = (schedulers: string[]): TargetGroup[] => schedulers.map((s) => ({ targets: [s], labels: {} }));

export function nodeTargets(hosts: HostSpec[], exporter: ExporterOf): TargetGroup[] {
  return hosts.map((h) => ({ targets: [exporter(h.name)!], labels: { host: h.name } }));
}

export const targetFile = (groups: TargetGroup[]) => `${JSON.stringify(groups, null, 1)}\n`;
