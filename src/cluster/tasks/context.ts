// What every task kind shares: its context, its progress steps, the tests' fault points.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import type { CheckReport } from '../check.js';
import type { Fleet } from '../fleet.js';
import { putTask, type CreateTask, type Task } from '../store.js';
import type { Plan } from '../types.js';

export interface TaskContext {
  etcd: Etcd3;
  fleet: Fleet;
  log: (line: string) => void;
  /** Runs create tasks instead of runCreate (placement and start over SSH): the Mesos framework
   * when the inventory's scheduler.resources is mesos. */
  create?: (ctx: TaskContext, task: CreateTask) => Promise<void>;
  /** Kills a cluster's tasks through Mesos and waits for them to end; returns the addresses of
   * those that did not end in time (the Mesos framework, as `create`). */
  kill?: (cluster: string) => Promise<string[]>;
}


export async function step(ctx: TaskContext, task: Task, text: string): Promise<void> {
  task.step = text;
  ctx.log(`${task.id}: ${text}`);
  await putTask(ctx.etcd, task);
}

/** A fault-injection point for the tests of resuming: OVL_FAULT_PAUSE=<point>:<ms>. */
export async function faultPoint(ctx: TaskContext, point: string): Promise<void> {
  const [at, ms] = (process.env.OVL_FAULT_PAUSE ?? '').split(':');
  if (at === point) {
    ctx.log(`fault point ${point}: pausing ${ms} ms`);
    await sleep(Number(ms));
  }
}
export function checkTimeout(plan: Plan): number {
  return 30_000 + 150 * plan.instances.length;
}

export function formatProblems(r: CheckReport): string {
  return r.problems.slice(0, 20).join('; ') + (r.problems.length > 20 ? ` (+${r.problems.length - 20} more)` : '');
}

