// The scheduler (seed 001): one leader at a time, elected through etcd; it picks up every
// unfinished task on start, then follows /overlord/task, and runs tasks of different clusters
// side by side (tasks of one cluster in order).
import { hostname } from 'node:os';
import type { Inventory } from '../inventory/types.js';
import { etcdAccess, openEtcd } from '../state/etcd.js';
import type { Etcd3, Watcher } from 'etcd3';
import { ELECTION, schedulerPrefix, taskPrefix } from '../state/keys.js';
import { LeadershipLost } from './errors.js';
import { Fleet } from './fleet.js';
import { CapacityCache } from './capacity.js';
import { getTask, indexTasks, openTasks, taskEnded, type Task } from './task-store.js';
import { runTask } from './tasks/registry.js';
import type { MesosFramework } from '../mesos/framework.js';
import { startFramework } from '../mesos/start.js';
import { SchedulerMonitoring } from '../monitoring/scheduler-metrics.js';
import { syncTargets } from '../monitoring/sync.js';
import { hostsOf } from '../inventory/types.js';

export interface SchedulerOptions {
  inv: Inventory;
  log: (line: string) => void;
  /** In-process mode (`create --wait` with no scheduler running): return once this task has ended. */
  until?: string;
  /** Seconds without keep-alive after which another scheduler takes over (default 15: a
   * loaded machine must not lose the leadership in the middle of a task). */
  ttl?: number;
  /** The hosts' connections (default: SSH to the inventory's hosts); tests give stand-ins. */
  fleet?: Fleet;
  /** ADDRESS:PORT to serve /metrics at (ovl's view, memcache stats), registered in etcd for Prometheus. */
  metrics?: string;
  /** Seconds between two checks of every cluster while leading (default 30). */
  checkEvery?: number;
}

const unfinished = (t: Task) => !taskEnded(t);


export async function runScheduler(o: SchedulerOptions): Promise<void> {
  const etcd = await openEtcd(etcdAccess(o.inv), 10_000, { patient: true });
  const fleet = o.fleet ?? new Fleet(o.inv);
  const me = `${hostname()}:${process.pid}`;
  let leading = false;
  let schedulersWatch: Watcher | undefined;
  const monitoring = o.metrics ? new SchedulerMonitoring(etcd, o.inv, me, () => leading, o.log) : undefined;
  const campaign = etcd.election(ELECTION, o.ttl ?? 15).campaign(me);
  // Listened to now: `wait` hears only an 'elected' event to come, and the election may be won
  // while the metrics endpoint starts.
  const elected = campaign.wait().then(() => 'leader' as const);
  elected.catch(() => undefined);
  let mesos: MesosFramework | undefined;
  let capacity: CapacityCache | undefined;
  let lost: LeadershipLost | undefined;
  let onLost: (e: LeadershipLost) => void = () => {};
  const leadershipLost = new Promise<never>((_, reject) => (onLost = reject));
  leadershipLost.catch(() => undefined);
  campaign.on('error', (e: Error) => {
    // Another scheduler may take these tasks over now: going on would run them twice.
    o.log(`${me}: lost the etcd leadership (${e.message}); exiting`);
    lost = new LeadershipLost(`scheduler ${me}: lost the etcd leadership (${e.message}); exiting. Its unfinished tasks stay in etcd: \`ovl scheduler\` (or another create --wait) picks them up.`);
    onLost(lost);
  });
  try {
    if (!o.until) o.log(`${me}: waiting to be the leader`);
    if (!o.until && !monitoring && hostsOf(o.inv, 'prometheus').length) o.log(`${me}: no --metrics ADDRESS:PORT: Prometheus cannot see this scheduler, its checks or memcache (ovl scheduler --help)`);
    // Its address reaches the targets through the leader, which follows the registrations.
    if (monitoring) await monitoring.serve(o.metrics!, o.ttl ?? 15);
    // In-process (create --wait): a daemon that started meanwhile may lead and run the task; once
    // it has ended there is nothing to wait for.
    const ranElsewhere = async (): Promise<'ended'> => {
      for (;;) {
        await new Promise((r) => setTimeout(r, 500));
        if (leading) return new Promise<never>(() => {});
        const t = await getTask(etcd, o.until!).catch(() => undefined);
        if (t === null || (t && taskEnded(t))) return 'ended';
      }
    };
    const outcome = await Promise.race([elected, leadershipLost, ...(o.until ? [ranElsewhere()] : [])]);
    leading = true;
    if (outcome === 'ended') return;
    o.log(`${me}: leader; picking up unfinished tasks`);
    // Tasks queued by an ovl from before the queue existed get their entries (one read of all).
    const index = async () => {
      const n = await indexTasks(etcd);
      if (n) o.log(`${me}: ${n} task entries indexed (tasks queued by an older ovl)`);
      return Date.now();
    };
    let indexed = o.until ? 0 : await index();
    // A daemon places from memory, following etcd (create --wait's own run reads it each time).
    if (!o.until) capacity = await CapacityCache.follow(etcd, o.log);
    // A daemon opens its SSH connections now rather than in its first task (a key exchange
    // and a login per host); a host that does not answer is tried again when a task needs it.
    if (!o.until) for (const h of o.inv.hosts) void fleet.remote(h.name).catch(() => undefined);
    // Creates take their resources from Mesos offers (only the leader subscribes).
    if (o.inv.scheduler.resources === 'mesos') mesos = await startFramework(o.inv, etcd, o.log);
    if (!o.until) {
      // The targets follow the schedulers running: written now (one that died before this one
      // led is dropped) and again whenever one registers or its lease ends.
      schedulersWatch = await followSchedulers(o.inv, etcd, fleet, me, o.log);
      monitoring?.startChecks((o.checkEvery ?? 30) * 1000);
    }

    const busy = new Map<string, Promise<void>>();
    // Tasks run to their end here. A listing read while one of them was ending still shows it
    // running; without this it would run a second time.
    const ended = new Set<string>();
    let wake: () => void = () => {};
    let finished = false;
    const pump = async () => {
      // The queue only, and records only of clusters not at work here: a wake-up reads a few
      // keys however many tasks run and however many finished ones the fleet keeps.
      for (const t of await openTasks(etcd, (id, cluster) => !busy.has(cluster) && !ended.has(id))) {
        if (busy.has(t.cluster)) continue;
        const started = Date.now();
        const run = runTask({ etcd, fleet, log: o.log, mesos }, t)
          .then((done) => {
            monitoring?.taskEnded(done, Date.now() - started);
            ended.add(t.id);
            if (done.id === o.until) finished = true;
          })
          // Its start or end not recorded (etcd did not answer for a minute): it is unfinished
          // in etcd, and runs again on a later wake-up (every step is idempotent).
          .catch((e: Error) => o.log(`${t.id}: interrupted (${e.message}); it runs again`))
          .finally(() => {
            busy.delete(t.cluster);
            wake();
          });
        busy.set(t.cluster, run);
      }
      if (o.until && !busy.size) {
        const t = await getTask(etcd, o.until);
        if (!t || !unfinished(t)) finished = true;
      }
    };
    const watcher = await etcd.watch().prefix(taskPrefix).create();
    // The watch reconnects by itself; the 2 s tick covers what it misses meanwhile.
    watcher.on('put', () => wake()).on('error', (e: Error) => o.log(`${me}: task watch: ${e.message}`));
    const stop = new Promise<void>((resolve) => {
      const onSignal = () => {
        o.log(`${me}: stopping`);
        resolve();
      };
      process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    });
    try {
      for (;;) {
        // A listing etcd did not answer is made again at the next wake-up: the scheduler outlives
        // an etcd that stalls (its lease permitting).
        // Tasks an older ovl queued (no queue entry) are found within a minute.
        if (!o.until && Date.now() - indexed > 60_000) indexed = await index().catch(() => Date.now());
        await pump().catch((e: Error) => o.log(`${me}: cannot list the tasks (${e.message}); trying again`));
        if (finished && !busy.size) break;
        const woke = new Promise<void>((r) => (wake = r));
        const timeout = new Promise<void>((r) => setTimeout(r, 2000).unref());
        const outcome = await Promise.race([woke.then(() => 'wake'), timeout.then(() => 'tick'), stop.then(() => 'stop'), leadershipLost]);
        if (outcome === 'stop') break;
      }
    } finally {
      // Nothing of a task may outlive the client it writes with; but a lost leader stops at
      // once (its tasks belong to the next leader now).
      if (!lost) await Promise.allSettled(busy.values());
      await watcher.cancel().catch(() => undefined);
    }
  } finally {
    if (lost) throw lost;
    await mesos?.close();
    await capacity?.close();
    await schedulersWatch?.cancel().catch(() => undefined);
    await monitoring?.close();
    await campaign.resign().catch(() => undefined);
    await fleet.close();
    etcd.close();
  }
}

/** Sync the targets now and after every change of the schedulers' registrations (debounced: a
 * restarting scheduler's going and coming is one sync); none without a Prometheus host. */
async function followSchedulers(inv: Inventory, etcd: Etcd3, fleet: Fleet, me: string, log: (line: string) => void): Promise<Watcher | undefined> {
  if (!hostsOf(inv, 'prometheus').length) return undefined;
  void syncScrapeTargets(inv, etcd, fleet, me, log);
  let pending: NodeJS.Timeout | undefined;
  const changed = () => {
    clearTimeout(pending);
    pending = setTimeout(() => void syncScrapeTargets(inv, etcd, fleet, me, log), 1000);
    pending.unref();
  };
  const w = await etcd.watch().prefix(schedulerPrefix).create();
  w.on('put', changed).on('delete', changed).on('error', (e: Error) => log(`${me}: schedulers watch: ${e.message}`));
  return w;
}

/** Prometheus's targets written from etcd (the schedulers' addresses among them), over the
 * scheduler's connections; a failure is logged, and the next task's sync writes them. */
async function syncScrapeTargets(inv: Inventory, etcd: Etcd3, fleet: Fleet, me: string, log: (line: string) => void): Promise<void> {
  if (!hostsOf(inv, 'prometheus').length) return;
  const remoteOf = async (h: { name: string }) => ({ remote: await fleet.remote(h.name), close: () => {} });
  const r = await syncTargets(inv, etcd, new Set(), remoteOf).catch((e: Error) => ({ failed: [e.message] }));
  if (r.failed.length) log(`${me}: scrape targets not written: ${r.failed.join('; ')}`);
}

/** Whether a scheduler is leading now (a daemon, or another operator's in-process run). */
export async function leader(etcd: Etcd3): Promise<string | undefined> {
  return etcd.election(ELECTION).leader();
}
