// What the leading scheduler does when an instance's Mesos task ends without being asked to
// (Marathon's relaunch, with its backoff): it queues a restart task for the cluster, which
// launches the instance again on its agent, with its data dir and identity; after repeated
// failures (or when its agent is gone and the relaunch gets no offer) the restart moves it to
// another agent, never next to a member of its shard (restart --move). Relaunches of one
// instance wait 1, 2, 4 ... 60 s after each failure; failures older than ten minutes are
// forgotten. Reconciliation feeds it the instances Mesos does not run.
import type { Etcd3 } from 'etcd3';
import { getJson } from '../cluster/etcd-reads.js';
import { getTask, openTasks, newTask, taskEnded } from '../cluster/task-store.js';
import { configKey } from '../state/keys.js';
import { addrOf, getPlan, type ClusterConfig } from '../cluster/store.js';

export interface SupervisorOptions {
  etcd: Etcd3;
  log: (line: string) => void;
  /** Whether Mesos runs a task of ours for the instance now. */
  isLive: (cluster: string, addr: string) => boolean;
  /** First delay, doubled per failure up to maxDelayMs (default 1 s, 60 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Failures of an instance after which its relaunch moves it (default 3). */
  moveAfter?: number;
  /** Failures older than this are forgotten (default 10 min). */
  forgetMs?: number;
}

interface Failures {
  failures: number;
  /** Its agent is gone: move it at the next relaunch. */
  moveNow?: boolean;
  last: number;
  timer?: NodeJS.Timeout;
  why: string;
}

export class Supervisor {
  private readonly seen = new Map<string, Failures>();
  private closed = false;
  private readonly o: Required<SupervisorOptions>;

  constructor(o: SupervisorOptions) {
    this.o = { baseDelayMs: 1000, maxDelayMs: 60_000, moveAfter: 3, forgetMs: 600_000, ...o };
  }

  close(): void {
    this.closed = true;
    for (const r of this.seen.values()) clearTimeout(r.timer);
  }

  /** The delay before the relaunch after `failures` failures. */
  static delay(failures: number, baseMs: number, maxMs: number): number {
    return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  }

  /** An instance of `cluster` stopped running under Mesos: relaunch it after its backoff (on
   * another agent at once when its own is gone). */
  failed(cluster: string, addr: string, why: string, o: { agentGone?: boolean } = {}): void {
    const key = `${cluster}/${addr}`;
    const now = Date.now();
    const r = this.seen.get(key);
    const rec: Failures = r && now - r.last < this.o.forgetMs ? { ...r, failures: r.failures + 1, last: now, why } : { failures: 1, last: now, why };
    if (o.agentGone) rec.moveNow = true;
    clearTimeout(r?.timer);
    this.seen.set(key, rec);
    const ms = Supervisor.delay(rec.failures, this.o.baseDelayMs, this.o.maxDelayMs);
    this.o.log(`mesos: ${cluster} ${addr}: ${why}; relaunch in ${ms} ms (failure ${rec.failures})`);
    rec.timer = setTimeout(() => void this.relaunch(cluster, addr).catch((e: Error) => this.o.log(`mesos: relaunch of ${cluster} ${addr}: ${e.message}`)), ms);
    rec.timer.unref();
  }

  private async relaunch(cluster: string, addr: string): Promise<void> {
    const key = `${cluster}/${addr}`;
    const rec = this.seen.get(key);
    if (this.closed || !rec) return;
    const again = (why: string) => {
      this.o.log(`mesos: ${cluster} ${addr}: ${why}`);
      this.failed(cluster, addr, rec.why);
    };
    const cfg = await getJson<ClusterConfig>(this.o.etcd, configKey(cluster));
    const plan = await getPlan(this.o.etcd, cluster);
    // Deleted, being deleted, or no longer an instance of it (moved, removed): nothing to do.
    if (!cfg?.mesos || !plan || cfg.state === 'deleting' || !plan.instances.some((i) => addrOf(i) === addr)) return void this.seen.delete(key);
    if (this.o.isLive(cluster, addr)) return;
    const open = await openTasks(this.o.etcd, (_, of) => of === cluster);
    // A failure heard meanwhile started its own wait: this one ends here.
    if (this.seen.get(key) !== rec) return;
    // A create picks up its own instances; other tasks first (they may stop it on purpose).
    if (open.length) {
      clearTimeout(rec.timer);
      rec.timer = setTimeout(() => void this.relaunch(cluster, addr).catch(() => undefined), 2000).unref();
      return;
    }
    const move = rec.moveNow || rec.failures >= this.o.moveAfter;
    const moved = rec.moveNow ? ', moved: its agent is gone' : `, moved after ${rec.failures} failures`;
    const task = await newTask(this.o.etcd, 'restart', cluster, { ...(move ? { move: true } : {}), reason: `relaunch of ${addr} (${rec.why})${move ? moved : ''}` });
    this.o.log(`mesos: ${cluster} ${addr}: relaunching (task ${task.id}${move ? ', moving it' : ''})`);
    // A relaunch that fails counts as a failure of its own (an agent gone gives no offer).
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000).unref());
      if (this.closed) return;
      const t = await getTask(this.o.etcd, task.id);
      if (!t || !taskEnded(t)) continue;
      if (t.state === 'failed' && !this.o.isLive(cluster, addr)) again(`relaunch ${task.id} failed: ${t.error ?? 'no error'}`);
      return;
    }
  }
}
