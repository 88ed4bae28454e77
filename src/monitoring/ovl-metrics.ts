// ovl's own view as Prometheus metrics (the scheduler's /metrics): tasks by kind and state, the
// durations of the tasks this scheduler ran, whether it leads, each cluster's last consistency
// check, masters with no replica on another host (from the plans), and when the fleet's
// certificates end. The fleet's gauges are read from etcd at each scrape and served by the leader
// only (a waiting scheduler serves its leadership and its own task durations); prom-client writes
// the exposition format.
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gauge, Histogram, Registry } from 'prom-client';
import type { CheckRecord } from '../cluster/check-all.js';
import type { Task } from '../cluster/task-store.js';
import type { Plan } from '../cluster/types.js';

/** What the metrics are computed from, read once per scrape. */
export interface OvlView {
  leader: boolean;
  tasks: Task[];
  plans: Plan[];
  checks: Map<string, CheckRecord>;
  certificates: Certificate[];
}

export interface Certificate {
  /** The file's name without .crt (ca, etcd-h1, redis-ca, ...). */
  name: string;
  notAfter: Date;
}

const STATES = ['pending', 'running', 'done', 'failed'] as const;
const seconds = (iso: string) => Date.parse(iso) / 1000;

/** Masters that have no replica on another host, in a cluster planned with replicas (one planned
 * without any is not counted: it chose to have none). */
export function mastersWithoutRemoteReplica(plan: Plan): number {
  if (plan.type === 'memcache' || !plan.instances.some((i) => i.role === 'replica')) return 0;
  return plan.instances.filter((m) => m.role === 'master' && !plan.instances.some((r) => r.masterId === m.id && r.host !== m.host)).length;
}

/** The certificates (*.crt) of the fleet's PKI directory and of its redis/ (each cache host's),
 * named by their path in it; none when it does not exist. */
export function readCertificates(dir: string, sub = ''): Certificate[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, sub)).filter((f) => f.endsWith('.crt'));
  } catch {
    return [];
  }
  const here = names.sort().flatMap((f) => {
    try {
      return [{ name: `${sub ? `${sub}/` : ''}${f.slice(0, -4)}`, notAfter: new Date(new X509Certificate(readFileSync(join(dir, sub, f))).validTo) }];
    } catch {
      return [];
    }
  });
  return sub ? here : [...here, ...readCertificates(dir, 'redis')];
}

export class OvlMetrics {
  readonly registry = new Registry();
  private readonly leader = new Gauge({ name: 'ovl_scheduler_leader', help: '1 while this scheduler leads (runs the tasks), 0 while it waits', registers: [this.registry] });
  private readonly tasks = new Gauge({ name: 'ovl_tasks', help: 'Task records in etcd by kind and state (ended ones are pruned to the last few per cluster)', labelNames: ['kind', 'state'], registers: [this.registry] });
  private readonly duration = new Histogram({
    name: 'ovl_task_duration_seconds',
    help: 'Duration of the tasks this scheduler ran, by kind and outcome',
    labelNames: ['kind', 'state'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });
  private readonly healthy = new Gauge({ name: 'ovl_cluster_check_healthy', help: "1 when the cluster's last consistency check found no problem", labelNames: ['cluster', 'type'], registers: [this.registry] });
  private readonly problems = new Gauge({ name: 'ovl_cluster_check_problems', help: "Problems the cluster's last consistency check found", labelNames: ['cluster', 'type'], registers: [this.registry] });
  private readonly down = new Gauge({ name: 'ovl_cluster_check_down_instances', help: "Instances that did not answer the cluster's last check", labelNames: ['cluster', 'type'], registers: [this.registry] });
  private readonly checkedAt = new Gauge({ name: 'ovl_cluster_check_timestamp_seconds', help: "When the cluster's last consistency check ran", labelNames: ['cluster', 'type'], registers: [this.registry] });
  private readonly healthyAt = new Gauge({ name: 'ovl_cluster_last_healthy_timestamp_seconds', help: 'When a check last found the cluster healthy', labelNames: ['cluster', 'type'], registers: [this.registry] });
  private readonly lonely = new Gauge({ name: 'ovl_cluster_masters_without_remote_replica', help: 'Masters of the plan with no replica on another host (the cluster is planned with replicas)', labelNames: ['cluster', 'type'], registers: [this.registry] });
  private readonly certEnd = new Gauge({ name: 'ovl_certificate_expiry_timestamp_seconds', help: "When a certificate of the fleet's PKI directory ends", labelNames: ['certificate'], registers: [this.registry] });

  /** A task this scheduler ran has ended. */
  taskEnded(task: Task, ms: number): void {
    this.duration.observe({ kind: task.kind, state: task.state }, ms / 1000);
  }

  /** The exposition text of the view (the histogram keeps what this process observed). */
  async render(view: OvlView): Promise<string> {
    for (const g of [this.tasks, this.healthy, this.problems, this.down, this.checkedAt, this.healthyAt, this.lonely, this.certEnd]) g.reset();
    this.leader.set(view.leader ? 1 : 0);
    // The fleet's gauges from the leader only: one series per cluster, whichever scheduler leads.
    if (!view.leader) return this.registry.metrics();
    const kinds = new Set(view.tasks.map((t) => t.kind));
    // Every state of a kind seen, 0 included: a rate or an alert over it has a series to read.
    for (const kind of kinds) for (const state of STATES) this.tasks.set({ kind, state }, view.tasks.filter((t) => t.kind === kind && t.state === state).length);
    for (const plan of view.plans) {
      const labels = { cluster: plan.cluster, type: plan.type };
      this.lonely.set(labels, mastersWithoutRemoteReplica(plan));
      const check = view.checks.get(plan.cluster);
      if (!check) continue;
      this.healthy.set(labels, check.healthy ? 1 : 0);
      this.problems.set(labels, check.problems);
      this.down.set(labels, check.down);
      this.checkedAt.set(labels, seconds(check.at));
      if (check.lastHealthy) this.healthyAt.set(labels, seconds(check.lastHealthy));
    }
    for (const c of view.certificates) this.certEnd.set({ certificate: c.name }, c.notAfter.getTime() / 1000);
    return this.registry.metrics();
  }
}
