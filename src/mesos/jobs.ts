// What the framework waits for: a job is a create (placed on the offers, then launched; an
// instance that fails is moved) or a start (instances launched where the plan has them, for
// restart, the rolling restart, scale; an instance that fails or gets no offer is reported).
import type { HostReport } from '../cluster/hostops.js';
import { addrOf } from '../cluster/store.js';
import type { Task } from '../cluster/task-store.js';
import type { TaskContext } from '../cluster/tasks/context.js';
import type { ClusterRequest, Plan } from '../cluster/types.js';
import type { ClusterAuth } from '../cluster/auth.js';

export interface Pending {
  /** When it started waiting (for relaunchWaitMs). */
  since: number;
  /** Not before (a picked-up create first hears what Mesos knows about its tasks). */
  readyAt: number;
  /** Move it to another host (it failed where it was); creates only. */
  relocate: boolean;
  /** Hosts it failed on. */
  exclude: Set<string>;
  why?: string;
}

export interface Job {
  /** The task's id for a create, unique per start. */
  id: string;
  kind: 'create' | 'start';
  ctx: TaskContext;
  task: Task;
  /** Creates: what to place. */
  req?: ClusterRequest;
  auth?: ClusterAuth;
  plan: Plan | null;
  /** Instance ids the job is about (a create: all of the plan's, once placed). */
  wanted: Set<string>;
  started: number;
  /** Why it is not placed yet (the last placement error). */
  short?: string;
  /** Instance id -> waiting for a launch. */
  pending: Map<string, Pending>;
  /** Instance id -> the Mesos task id of its current launch, and when it was launched. */
  launched: Map<string, string>;
  launchedAt: Map<string, number>;
  running: Set<string>;
  /** Starts: running under Mesos before the job (not launched again). */
  already: Set<string>;
  /** Starts: instance id -> why it did not start. */
  failed: Map<string, string>;
  moves: number;
  settled: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
  done: Promise<void>;
}

export function newJob(fields: Pick<Job, 'id' | 'kind' | 'ctx' | 'task' | 'plan'> & Partial<Pick<Job, 'req' | 'auth'>>): Job {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    ...fields,
    wanted: new Set(fields.plan?.instances.map((i) => i.id) ?? []),
    started: Date.now(),
    pending: new Map(),
    launched: new Map(),
    launchedAt: new Map(),
    running: new Set(),
    already: new Set(),
    failed: new Map(),
    moves: 0,
    settled: false,
    resolve,
    reject,
    done,
  };
}

export function settle(job: Job, e?: Error): void {
  if (job.settled) return;
  job.settled = true;
  job.pending.clear();
  if (e) job.reject(e);
  else job.resolve();
}

/** Settled once every wanted instance runs (or, for a start, failed). */
export function checkDone(job: Job): void {
  if (!job.plan || job.pending.size) return;
  const ended = [...job.wanted].filter((id) => job.running.has(id) || job.failed.has(id)).length;
  if (ended === job.wanted.size) settle(job);
}

/** Whether it still needs offers. */
export function waits(job: Job): boolean {
  return !job.settled && (!job.plan || job.pending.size > 0);
}

/**
 * A start's instances that had no offer in time failed (their agent is down or gone), and so did
 * those launched that never ran (no status update came: a launch lost with its master).
 */
export function expireStarts(job: Job, now: number, waitMs: number, runMs = Infinity): void {
  if (job.kind !== 'start' || job.settled) return;
  for (const [id, at] of job.launchedAt) {
    if (job.running.has(id) || job.failed.has(id) || !job.launched.has(id) || now - at <= runMs) continue;
    job.launched.delete(id);
    job.failed.set(id, `launched ${Math.round((now - at) / 1000)} s ago and not running: no status update from its agent`);
  }
  for (const [id, p] of job.pending) {
    if (now - p.since <= waitMs) continue;
    const inst = job.plan!.instances.find((i) => i.id === id)!;
    job.pending.delete(id);
    job.failed.set(id, `no offer from the Mesos agent on ${inst.host} held its port and memory within ${Math.round(waitMs / 1000)} s (is the agent running and registered?)${p.why ? `; last: ${p.why}` : ''}`);
  }
  checkDone(job);
}

/** A settled start as the hosts' reports of the SSH path: started, running (was), failed. */
export function startReports(job: Job): Map<string, HostReport> {
  const reports = new Map<string, HostReport>();
  for (const inst of job.plan!.instances) {
    if (!job.wanted.has(inst.id)) continue;
    const addr = addrOf(inst);
    const why = job.failed.get(inst.id);
    if (why !== undefined) reports.set(addr, { addr, status: 'failed', detail: why });
    else if (job.already.has(inst.id)) reports.set(addr, { addr, status: 'running', detail: 'running on Mesos' });
    else reports.set(addr, { addr, status: 'started', detail: `Mesos task ${job.launched.get(inst.id) ?? '?'}` });
  }
  return reports;
}
