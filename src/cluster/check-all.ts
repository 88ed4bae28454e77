// Checking many clusters at once, and keeping each one's last result in etcd: `ovl cluster check`
// and the scheduler's own periodic check both go through here, so the scheduler's /metrics (and
// the alert on a cluster ovl judges unhealthy) say what the last of either found.
import type { Etcd3 } from 'etcd3';
import { checkKey, checkPrefix, configKey } from '../state/keys.js';
import { mapLimit } from '../util/semaphore.js';
import { checkCluster, type CheckReport } from './check.js';
import { listJson } from './etcd-reads.js';
import { getPlan, getSecret, listConfigs } from './store.js';
import { openTasks, type TaskKind } from './task-store.js';

/** Clusters checked at once, each asking up to CHECK_CONCURRENCY instances at a time: a few
 * hundred sockets at most, under the usual limit of 1,024 open files. */
const CLUSTERS_AT_ONCE = 8;
const CHECK_CONCURRENCY = 32;

/** What a skipped cluster is going through. */
const BEING: Record<TaskKind, string> = { create: 'created', delete: 'deleted', scale: 'scaled', rebalance: 'rebalanced', restart: 'restarted', failover: 'failed over', roll: 'restarted in turn', config: 'reconfigured', password: 'given new passwords' };

export type CheckOutcome = { name: string; report: CheckReport } | { name: string; skipped: string };

/** /overlord/checks/<cluster>: the last check's verdict (no problem text: it names addresses only,
 * but a record is for counting, `ovl cluster check` for reading). */
export interface CheckRecord {
  at: string;
  healthy: boolean;
  problems: number;
  instances: number;
  /** Instances that did not answer. */
  down: number;
  ms: number;
  /** When a check last found it healthy (carried over from the record before). */
  lastHealthy?: string;
  /** `cli` or the scheduler that checked. */
  by: string;
}

export const checkRecord = (report: CheckReport, by: string, before: CheckRecord | null, at = new Date()): CheckRecord => ({
  at: at.toISOString(),
  healthy: report.healthy,
  problems: report.problems.length,
  instances: report.nodes.length,
  down: report.nodes.filter((n) => !n.answered).length,
  ms: report.ms,
  lastHealthy: report.healthy ? at.toISOString() : before?.lastHealthy,
  by,
});

/** Record a cluster's check, unless it was deleted meanwhile (a record must not outlive it). */
export async function recordCheck(c: Etcd3, cluster: string, report: CheckReport, by: string): Promise<void> {
  const before = (await c.get(checkKey(cluster)).json()) as CheckRecord | null;
  await c.if(configKey(cluster), 'Version', '>', 0).then(c.put(checkKey(cluster)).value(JSON.stringify(checkRecord(report, by, before)))).commit();
}

export async function listChecks(c: Etcd3): Promise<Map<string, CheckRecord>> {
  const all = await listJson<CheckRecord>(c, checkPrefix);
  return new Map(Object.entries(all).map(([k, v]) => [k.slice(checkPrefix.length), v]));
}

/**
 * Check the named clusters (all: every cluster etcd records) and record each result. A cluster a
 * task is working on is skipped when `skipBusy` (it would fail while forming or going away), as is
 * one with no plan yet; a restart does not count as busy (its cluster serves meanwhile).
 */
export async function checkClusters(c: Etcd3, names: string[] | 'all', o: { skipBusy: boolean; by: string }): Promise<CheckOutcome[]> {
  const configs = new Map((await listConfigs(c)).map((cfg) => [cfg.name, cfg]));
  const tasks = await openTasks(c);
  const wanted = names === 'all' ? [...configs.keys()] : names;
  return mapLimit(wanted, CLUSTERS_AT_ONCE, async (name): Promise<CheckOutcome> => {
    // Only a task at work counts: a cluster left `creating` or `deleting` by a task that
    // failed is checked (and is not healthy).
    const busy = tasks.find((t) => t.cluster === name && t.kind !== 'restart');
    if (o.skipBusy && busy) return { name, skipped: `not checked: being ${BEING[busy.kind]} (task ${busy.id}, ${busy.state})` };
    const plan = await getPlan(c, name);
    if (!plan) return { name, skipped: `not checked: no plan recorded yet (task ${configs.get(name)?.task})` };
    const report = await checkCluster(plan, { auth: await getSecret(c, name), concurrency: CHECK_CONCURRENCY });
    // What a cluster in the middle of a task looks like is not recorded (it would page as
    // unhealthy until the next check after the task); a record etcd refuses costs the check nothing.
    if (!busy) await recordCheck(c, name, report, o.by).catch(() => undefined);
    return { name, report };
  });
}
