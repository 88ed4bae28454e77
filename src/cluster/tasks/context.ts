// What every task kind shares: its context, its progress steps, the tests' fault points.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import { fleetCapacity, type FleetRead } from '../capacity.js';
import type { CheckReport } from '../check.js';
import type { Fleet } from '../fleet.js';
import { putTask, type CreateTask, type Task } from '../task-store.js';
import type { Plan, PlannedInstance } from '../types.js';
import type { HostReport } from '../hostops.js';
import type { ClusterAuth } from '../auth.js';

export interface TaskContext {
  etcd: Etcd3;
  fleet: Fleet;
  log: (line: string) => void;
  /** The Mesos framework, when the inventory's scheduler.resources is mesos: instances are
   * placed, started and stopped through it instead of over SSH. */
  mesos?: MesosLauncher;
}

export interface MesosLauncher {
  /** Runs create tasks instead of placement and start over SSH. */
  create(ctx: TaskContext, task: CreateTask): Promise<void>;
  /** Launches instances where the plan has them (startOnHosts's reports). */
  startInstances(ctx: TaskContext, plan: Plan, insts: PlannedInstance[], task: Task, auth: ClusterAuth | undefined): Promise<{ reports: Map<string, HostReport>; releasedAt: number }>;
  /** Kills the cluster's tasks (all, or those of addrs) and waits for them to end; returns the
   * addresses of those that did not end in time. */
  kill(cluster: string, addrs?: string[]): Promise<string[]>;
  /** Inventory hosts with an agent that offers (where instances can be moved). */
  agentHosts(): Promise<Set<string>>;
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


/** The fleet's capacity where new instances can go: on Mesos, only hosts whose agent offers. */
export async function placeableCapacity(ctx: TaskContext): Promise<FleetRead> {
  const read = await fleetCapacity(ctx.etcd);
  if (!ctx.mesos) return read;
  const agents = await ctx.mesos.agentHosts();
  return { ...read, hosts: read.hosts.filter((h) => agents.has(h.name)) };
}
