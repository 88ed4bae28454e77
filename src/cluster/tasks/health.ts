// The consistency check at the end of a task, and the instance states it records.
import { setTimeout as sleep } from 'node:timers/promises';
import { waitHealthy, type CheckReport } from '../check.js';
import type { HostReport } from '../hostops.js';
import { addrOf, setInstanceStates, updateConfig } from '../store.js';
import type { Task } from '../task-store.js';
import type { Plan } from '../types.js';
import { checkTimeout, formatProblems, step, type TaskContext } from './context.js';
import type { ClusterAuth } from '../auth.js';

/**
 * When the first consistency check is worth making: a Redis Cluster master says
 * cluster_state:fail for 2 s after it starts (CLUSTER_WRITABLE_DELAY, fixed in Redis), so
 * checks sooner only fail while taking CPU from nodes that are forming their bus mesh.
 * `launched`: the hosts' reports, where `held` and `started` mean launched by this task.
 */
export function firstCheckAt(plan: Plan, launched: Map<string, HostReport>, releasedAt: number): number {
  const masterStarted = plan.instances.some((i) => i.role === 'master' && ['held', 'started'].includes(launched.get(addrOf(i))?.status ?? ''));
  return plan.type === 'redis_cluster' && masterStarted ? releasedAt + 2000 : 0;
}

/**
 * Check until healthy (or the time is up, or `signal` stops it), not before `notBefore`. Stopped
 * while it waits for `notBefore`, it rejects at once rather than make a check nobody reads.
 */
export async function awaitHealthy(ctx: TaskContext, plan: Plan, auth: ClusterAuth | undefined, notBefore: number, signal?: AbortSignal): Promise<CheckReport> {
  const wait = notBefore - Date.now();
  if (wait > 0) await sleep(wait, undefined, { signal });
  const t0 = Date.now();
  return waitHealthy(plan, {
    auth,
    signal,
    timeoutMs: checkTimeout(plan),
    onReport: (r) => ctx.log(`check at ${Date.now() - t0} ms took ${r.ms} ms: ${r.problems.length ? `${r.problems.length} problem(s), e.g. ${r.problems[0]}` : 'healthy'}`),
  });
}

/** Record each instance's state from a check, and mark the cluster running (or throw). */
export async function recordHealth(ctx: TaskContext, plan: Plan, report: CheckReport): Promise<void> {
  await setInstanceStates(ctx.etcd, plan.cluster, new Map(report.nodes.map((n) => [`${n.address}:${n.port}`, n.problems.length || !n.answered ? { state: 'failed', error: n.problems.join('; ') } : { state: 'up' }])));
  if (!report.healthy) throw new Error(`consistency check failed: ${formatProblems(report)}`);
  await updateConfig(ctx.etcd, plan.cluster, { state: 'running', error: undefined });
}

/** Wait for the consistency check, record each instance's state, and mark the cluster running (or throw). */
export async function settle(ctx: TaskContext, plan: Plan, auth: ClusterAuth | undefined, notBefore = 0): Promise<CheckReport> {
  const report = await awaitHealthy(ctx, plan, auth, notBefore);
  await recordHealth(ctx, plan, report);
  return report;
}

export const checkStep = (plan: Plan) => `consistency check of ${plan.instances.length} instances`;
export const runningStep = (plan: Plan, report: CheckReport) => `running: ${plan.instances.length} instances healthy (check ${report.ms} ms)`;

/** The end of every create once all its instances run: consistency check, states, running. */
export async function finishCreate(ctx: TaskContext, task: Task, plan: Plan, auth: ClusterAuth | undefined, notBefore = 0): Promise<void> {
  await step(ctx, task, checkStep(plan));
  const report = await settle(ctx, plan, auth, notBefore);
  await step(ctx, task, runningStep(plan, report));
}

