// The scheduler as a Mesos framework (seeds 001 and 004): with `scheduler.resources: mesos`,
// creates take their hosts and ports from Mesos offers instead of the fleet's registered
// capacity, and a Mesos agent starts each instance (`ovl executor`) instead of ovl over SSH;
// every later start and stop of an instance (restart, the rolling restart, scale, delete) is a
// LAUNCH or a KILL too (TaskContext.mesos), so that Mesos's task list and ovl's records agree.
//
// A create: REVIVE; offers (held for a moment, so that the offers of several agents meet) become
// HostCapacity (offers.ts) and go through the same placement as the fleet path (serve.ts); the
// plan is committed to etcd as there, then ACCEPTed with one LAUNCH per agent, one Mesos task per
// instance. TASK_RUNNING marks the instance up; a task that fails is moved to another agent. A
// start launches instances where the plan has them and reports those that fail or get no offer.
// Offers nothing needs are DECLINEd with a refuse filter, and the framework SUPPRESSes offers
// while nothing waits. Every status update carrying a uuid is ACKNOWLEDGEd once what it says is
// in etcd. A task that ends unasked is relaunched (supervisor.ts); on every subscription the
// framework RECONCILEs, then relaunches what Mesos does not run and KILLs what ovl does not know.
//
// The framework id is kept in etcd (FRAMEWORK_ID_KEY): a scheduler that restarts, or another
// one that takes the leadership over, subscribes with it and fails over to the same framework,
// whose tasks Mesos keeps for failover_timeout.
import { foregroundCommand, instanceSetup, type HostReport } from '../cluster/hostops.js';
import { openTasks, type CreateTask, type Task } from '../cluster/task-store.js';
import { installOnHosts, releaseOnHosts } from '../cluster/tasks/instances.js';
import { PlacementError } from '../cluster/placement.js';
import { addrOf, getPlan, listConfigs, listInstances, setInstanceStates, type InstanceState } from '../cluster/store.js';
import { beginCreate } from '../cluster/tasks/create.js';
import { faultPoint, step, type MesosLauncher, type TaskContext } from '../cluster/tasks/context.js';
import { finishCreate, firstCheckAt } from '../cluster/tasks/health.js';
import type { Plan, PlannedInstance } from '../cluster/types.js';
import { pollUntil, tcpOpen } from '../ops/wait.js';
import { ROOT } from '../state/keys.js';
import { withDefaults, type FrameworkOptions, type Settings } from './options.js';
import { MesosClient, type Call, type FrameworkInfo, type MesosEvent, type MesosOffer, type TaskInfo, type TaskStatus } from './api.js';
import { checkDone, expireStarts, newJob, settle, startReports, waits, type Job } from './jobs.js';
import { masterLocator } from './leader.js';
import { agentsOf, hostOfOffer, type AgentResources } from './offers.js';
import { differences } from './reconcile.js';
import { serve } from './serve.js';
import { Supervisor } from './supervisor.js';
import { TaskBook } from './task-book.js';
import { agentRemoved, ENDED, mesosTaskId, parseMesosTaskId, statusText } from './task-ids.js';
import type { ClusterAuth } from '../cluster/auth.js';

/** Where the framework id lives, so that a restarted scheduler fails over instead of registering anew. */
export const FRAMEWORK_ID_KEY = `${ROOT}/mesos/framework_id`;

interface Launched {
  job: string;
  cluster: string;
  instance: string;
  addr: string;
  host: string;
}

/** After RECONCILE, how long the framework waits for the master's answers before it acts. */
const RECONCILE_GRACE_MS = 3000;
/** How long a kill waits for its tasks to end. */
const KILL_WAIT_MS = 30_000;
/** How long the executor has to stop its instance (redis may write its RDB) before SIGKILL. */
const KILL_GRACE_NS = 60e9;

export class MesosFramework implements MesosLauncher {
  private readonly client: MesosClient;
  private frameworkId?: string;
  private readonly jobs = new Map<string, Job>();
  /** Mesos task id -> what it runs, for the launches of this process. */
  private readonly tasks = new Map<string, Launched>();
  /** What Mesos runs, what is being killed or started, where the agents are. */
  private readonly book = new TaskBook();
  private readonly pool = new Map<string, { offer: MesosOffer; at: number }>();
  private readonly supervisor: Supervisor;
  /** Last REVIVE (true) or SUPPRESS (false) sent on this subscription. */
  private offersWanted?: boolean;
  private reviveNeeded = false;
  /** Offers wanted until then though no job waits (agentHosts). */
  private offersWantedUntil = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private queued = false;
  private tick?: NodeJS.Timeout;
  private reconcileTimer?: NodeJS.Timeout;
  private starts = 0;
  private readonly o: Settings;

  constructor(o: FrameworkOptions) {
    this.o = withDefaults(o);
    this.supervisor = new Supervisor({ etcd: o.etcd, log: o.log, baseDelayMs: this.o.relaunchDelayMs, isLive: (cluster, addr) => this.book.liveTask(cluster, addr) !== undefined });
    this.client = new MesosClient({
      ...o.client,
      locate: masterLocator(o.master),
      log: o.log,
      frameworkInfo: () => this.frameworkInfo(),
      onEvent: (e) => this.onEvent(e),
      onDisconnect: () => {
        // Offers die with the subscription; REVIVE/SUPPRESS is sent again on the next one.
        this.pool.clear();
        this.offersWanted = undefined;
      },
    });
  }

  /** Read the framework id kept in etcd and subscribe (as the leading scheduler only). */
  async start(): Promise<void> {
    this.frameworkId = (await this.o.etcd.get(FRAMEWORK_ID_KEY).string()) ?? undefined;
    this.client.start();
    this.tick = setInterval(() => this.kick(), Math.max(100, Math.min(500, this.o.offerHoldMs))).unref();
  }

  /** Unsubscribe (the framework stays registered for failover_timeout); jobs still waiting fail. */
  async close(): Promise<void> {
    clearInterval(this.tick);
    clearTimeout(this.reconcileTimer);
    this.supervisor.close();
    for (const job of this.jobs.values()) settle(job, new Error('the scheduler is stopping'));
    await this.chain.catch(() => undefined);
    this.client.close();
  }

  /** A create task placed on and started by Mesos. */
  readonly create = async (ctx: TaskContext, task: CreateTask): Promise<void> => {
    const { req, auth, plan } = await beginCreate(ctx, task);
    const job = newJob({ id: task.id, kind: 'create', ctx, task, plan, req, auth });
    try {
      if (plan) await this.resume(job, plan);
      else await step(ctx, task, 'waiting for Mesos offers');
      await this.wait(job);
    } finally {
      // Registered before its first await: it must not outlive a failed step.
      this.jobs.delete(job.id);
    }
    // Every node held at its gate until all run, then all let go at once: a Redis Cluster forms
    // from its nodes.conf as on the fleet path (nodes started one by one mark the missing ones
    // failed, and the cluster takes node-timeout x 2 to clear it).
    if (job.moves) {
      // Moved members have new addresses that the held nodes' nodes.conf must name: rendered again
      // (none of them has run yet).
      await step(ctx, task, `rewriting the instances' files after ${job.moves} move(s)`);
      const failed = await installOnHosts(ctx, job.plan!, job.plan!.instances, task, auth, true, true);
      if (failed.size) throw new Error([...failed].map(([a, w]) => `${a}: ${w}`).join('; '));
    }
    await step(ctx, task, `releasing ${job.plan!.instances.length} instances`);
    const releasedAt = Date.now();
    await releaseOnHosts(ctx, job.plan!, job.plan!.instances);
    const held = new Map(job.plan!.instances.map((i) => [addrOf(i), { addr: addrOf(i), status: 'held' as const, detail: '' }]));
    await finishCreate(ctx, task, job.plan!, auth, firstCheckAt(job.plan!, held, releasedAt));
  };

  /** A create picked up again: what runs stays; the rest is launched where it was planned, once
   * Mesos has told what it knows of this framework's tasks (RECONCILE). */
  private async resume(job: Job, plan: Plan): Promise<void> {
    const states = new Map([...(await listInstances(job.ctx.etcd, plan.cluster)).values()].map((i) => [addrOf(i), i.state]));
    const now = Date.now();
    for (const i of plan.instances) {
      // Mesos runs it already (the subscription's RECONCILE may have answered before this job
      // existed): it is this job's, as adopt() does for answers that come later.
      const live = this.book.liveTask(plan.cluster, addrOf(i));
      if (live) {
        job.running.add(i.id);
        job.launched.set(i.id, live);
        this.tasks.set(live, { job: job.id, cluster: plan.cluster, instance: i.id, addr: addrOf(i), host: i.host });
      } else if (states.get(addrOf(i)) === 'up') job.running.add(i.id);
      else job.pending.set(i.id, { since: now, readyAt: now + RECONCILE_GRACE_MS, relocate: false, exclude: new Set() });
    }
    // Asked again now that the job exists: what runs is adopted before the grace ends.
    this.jobs.set(job.id, job);
    await this.serial(() => this.send({ type: 'RECONCILE', reconcile: { tasks: [] } }));
    await step(job.ctx, job.task, `resuming on Mesos: ${job.running.size} of ${plan.instances.length} instances up`);
  }

  /**
   * Launch instances where the plan has them (their agents' offers), as startOnHosts does over
   * SSH; an instance Mesos runs already is `running`. Returns once each answers on its port or
   * failed (its status update's reason, or no offer from its agent in time).
   */
  readonly startInstances = async (ctx: TaskContext, plan: Plan, insts: PlannedInstance[], task: Task, auth: ClusterAuth | undefined): Promise<{ reports: Map<string, HostReport>; releasedAt: number }> => {
    const job = newJob({ id: `${task.id}/start-${++this.starts}`, kind: 'start', ctx, task, plan, auth });
    job.wanted = new Set(insts.map((i) => i.id));
    const down: PlannedInstance[] = [];
    for (const i of insts) {
      if (this.book.hostGone(i.host)) job.failed.set(i.id, `the Mesos agent on ${i.host} is gone (removed by the master)`);
      else if (!this.book.liveTask(plan.cluster, addrOf(i))) down.push(i);
      else {
        job.already.add(i.id);
        job.running.add(i.id);
      }
    }
    const now = Date.now();
    for (const i of await this.install(job, down)) job.pending.set(i.id, { since: now, readyAt: 0, relocate: false, exclude: new Set() });
    const releasedAt = Date.now();
    try {
      await this.wait(job, true);
      // TASK_RUNNING says the executor runs; the instance answers a little later, or its task
      // fails (heard while the job stays registered).
      await this.answering(job, insts);
    } finally {
      this.jobs.delete(job.id);
    }
    return { reports: startReports(job), releasedAt };
  };

  private async answering(job: Job, insts: PlannedInstance[]): Promise<void> {
    await Promise.all(
      insts
        .filter((i) => job.running.has(i.id) && !job.already.has(i.id))
        .map(async (i) => {
          try {
            await pollUntil(async () => job.failed.has(i.id) || (await tcpOpen(i.address, i.port)), 30_000, `${addrOf(i)} to accept connections`, 100);
          } catch (e) {
            job.failed.set(i.id, (e as Error).message);
          }
        }),
    );
  }

  /**
   * KILL the cluster's tasks Mesos runs (all, or those of `addrs`) and wait for each to end
   * (TASK_KILLED: its executor stopped the instance). Returns the ones that did not end in time.
   */
  readonly kill = async (cluster: string, addrs?: string[]): Promise<string[]> => {
    // RECONCILE first: a scheduler that took over may not have heard of every task yet.
    await this.serial(() => this.send({ type: 'RECONCILE', reconcile: { tasks: [] } }));
    await new Promise((r) => setTimeout(r, 500));
    const ours = this.book.liveTasks({ cluster, addrs, killing: true });
    const ended = ours.map(([id]) => this.book.ended(id, KILL_WAIT_MS));
    for (const [id, agent] of ours) await this.serial(() => this.sendKill(id, agent));
    const done = await Promise.all(ended);
    return ours.filter((_, i) => !done[i]).map(([id]) => parseMesosTaskId(id)!.addr);
  };

  /** Inventory hosts whose agent offered on this subscription and was not lost since; when none
   * did yet (offers suppressed), offers are revived and awaited a few seconds. */
  readonly agentHosts = async (): Promise<Set<string>> => {
    if (!this.book.agentHosts().size) {
      this.offersWantedUntil = Date.now() + 5000;
      this.reviveNeeded = true;
      this.kick();
      for (const end = Date.now() + 5000; !this.book.agentHosts().size && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
    }
    return this.book.agentHosts();
  };

  /** KILL a task; one not sent leaves it killable (a later KILL may be). */
  private async sendKill(id: string, agent: string): Promise<void> {
    this.book.killStarted(id);
    if (!(await this.send({ type: 'KILL', kill: { task_id: { value: id }, agent_id: { value: agent } } }))) this.book.killNotSent(id);
  }

  /** Until the job settles; `keep`: still registered afterwards (its updates still heard), the
   * caller removes it. */
  private async wait(job: Job, keep = false): Promise<void> {
    this.jobs.set(job.id, job);
    checkDone(job);
    this.reviveNeeded = true;
    this.kick();
    try {
      await job.done;
    } finally {
      if (!keep) this.jobs.delete(job.id);
      this.kick();
    }
  }

  private frameworkInfo(): FrameworkInfo {
    return {
      user: this.o.user,
      name: this.o.name,
      failover_timeout: this.o.failoverTimeoutSeconds,
      // Agents keep the tasks over their own restarts.
      checkpoint: true,
      ...(this.frameworkId ? { id: { value: this.frameworkId } } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Events

  private onEvent(e: MesosEvent): void {
    switch (e.type) {
      case 'SUBSCRIBED':
        void this.serial(() => this.onSubscribed(e.subscribed.framework_id.value));
        break;
      case 'OFFERS':
        for (const offer of e.offers.offers ?? []) {
          this.pool.set(offer.id.value, { offer, at: Date.now() });
          const host = hostOfOffer(offer, this.o.hosts);
          if (host) this.book.offered(host.name, offer.agent_id.value);
        }
        this.kick();
        break;
      case 'RESCIND':
        this.pool.delete(e.rescind.offer_id.value);
        break;
      case 'UPDATE':
        void this.serial(() => this.onUpdate(e.update.status));
        break;
      case 'MESSAGE':
        this.o.log(`mesos: message from executor ${e.message.executor_id.value}`);
        break;
      case 'FAILURE':
        // Lost agents and executors: the tasks on them get their own TASK_LOST / TASK_FAILED.
        if (!e.failure.executor_id && e.failure.agent_id) this.book.agentGone(e.failure.agent_id.value);
        this.o.log(`mesos: failure of ${e.failure.executor_id ? `executor ${e.failure.executor_id.value} on ` : ''}agent ${e.failure.agent_id?.value ?? '?'}${e.failure.status !== undefined ? ` (status ${e.failure.status})` : ''}`);
        break;
      case 'ERROR':
        this.o.log(`mesos: master error: ${e.error.message}`);
        // The framework is gone for good (removed, torn down, failover timeout passed): the next
        // subscription registers a new one.
        if (/remov|tear|torn|completed|not (registered|found)|unknown framework/i.test(e.error.message)) {
          this.frameworkId = undefined;
          void this.serial(async () => {
            await this.o.etcd.delete().key(FRAMEWORK_ID_KEY);
          });
        }
        break;
      default:
        break;
    }
  }

  private async onSubscribed(id: string): Promise<void> {
    if (id !== this.frameworkId) {
      await this.o.etcd.put(FRAMEWORK_ID_KEY).value(id);
      this.frameworkId = id;
    }
    // Implicit reconciliation: the master sends the latest state of every task it knows of ours;
    // once it had time to, differences are acted on.
    await this.send({ type: 'RECONCILE', reconcile: { tasks: [] } });
    clearTimeout(this.reconcileTimer);
    this.reconcileTimer = setTimeout(() => void this.serial(() => this.reconcile()), RECONCILE_GRACE_MS).unref();
    this.kick();
  }

  /**
   * Mesos's tasks against ovl's plans: a task of a cluster or an instance ovl does not have is
   * killed; an instance of a settled cluster that Mesos does not run is relaunched.
   */
  private async reconcile(): Promise<void> {
    const configs = await listConfigs(this.o.etcd);
    const busy = new Set((await openTasks(this.o.etcd)).map((t) => t.cluster));
    const plans = new Map<string, Plan>();
    for (const cfg of configs) {
      const plan = await getPlan(this.o.etcd, cfg.name);
      if (plan) plans.set(cfg.name, plan);
    }
    const d = differences(new Map(this.book.liveTasks()), configs, plans, busy);
    for (const [id, agent] of d.kill) {
      this.o.log(`mesos: reconciliation: task ${id} runs an instance ovl does not have; killing it`);
      await this.sendKill(id, agent);
    }
    for (const [cluster, addr] of d.relaunch) this.supervisor.failed(cluster, addr, 'not running on Mesos (reconciliation)');
  }

  private async onUpdate(s: TaskStatus): Promise<void> {
    const id = s.task_id.value;
    // A slot of the pacing freed: offers again for what waits for it.
    if (this.book.heard(s)) this.reviveNeeded = true;
    const known = this.tasks.get(id);
    const job = known ? this.jobs.get(known.job) : undefined;
    const why = statusText(s);
    const p = known ?? parseMesosTaskId(id);
    const gone = agentRemoved(s);
    if (gone && s.agent_id) this.book.agentGone(s.agent_id.value, p ? this.o.hosts.find((h) => h.address === p.addr.split(':')[0])?.name : undefined);
    // The cache server is the task: an end that ovl did not ask for (FINISHED too: Redis exits 0 on
    // SHUTDOWN) is a failure. One already handled, or of a task another has replaced, is not new.
    const endedUnasked = this.book.endedUnasked(s);
    if (known && job && job.launched.get(known.instance) === id) {
      await this.jobUpdate(job, known, s, why);
    } else if (!known && !ENDED.has(s.state)) {
      this.adopt(id, s.state === 'TASK_RUNNING');
    } else if (endedUnasked && p && [undefined, id].includes(this.book.liveTask(p.cluster, p.addr))) {
      // An instance that ended unasked, after its job (or launched by an earlier scheduler).
      await this.states(p.cluster, p.addr, 'failed', why);
      this.supervisor.failed(p.cluster, p.addr, why, { agentGone: gone });
    }
    if (ENDED.has(s.state)) {
      this.tasks.delete(id);
      this.book.closed(id);
    }
    if (s.uuid && s.agent_id) await this.send({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: s.agent_id, task_id: s.task_id, uuid: s.uuid } });
  }

  private async jobUpdate(job: Job, known: Launched, s: TaskStatus, why: string): Promise<void> {
    if (s.state === 'TASK_RUNNING') {
      if (!job.running.has(known.instance)) {
        job.running.add(known.instance);
        await this.states(known.cluster, known.addr, 'up');
        checkDone(job);
      }
      return;
    }
    if (!ENDED.has(s.state)) return;
    job.launched.delete(known.instance);
    job.running.delete(known.instance);
    if (s.reason === 'REASON_INVALID_OFFERS') {
      // The offers were rescinded before the ACCEPT arrived: launch it again where planned.
      job.pending.set(known.instance, { since: Date.now(), readyAt: 0, relocate: false, exclude: new Set(), why });
    } else if (job.kind === 'start') {
      await this.states(known.cluster, known.addr, 'failed', why);
      job.failed.set(known.instance, why);
      checkDone(job);
    } else {
      await this.states(known.cluster, known.addr, 'failed', why);
      const limit = this.o.maxMoves >= 0 ? this.o.maxMoves : 3 + Math.floor((job.plan?.instances.length ?? 0) / 10);
      if (++job.moves > limit) {
        settle(job, new Error(`${known.addr} (${known.host}) ${why}; ${job.moves} instance failures, giving up`));
      } else {
        job.ctx.log(`${job.task.id}: ${known.addr} on ${known.host}: ${why}; moving it`);
        job.pending.set(known.instance, { since: Date.now(), readyAt: 0, relocate: true, exclude: new Set([known.host]), why });
      }
    }
    this.reviveNeeded = true;
    this.kick();
  }

  /** A task launched before this scheduler took over (it answers RECONCILE, or its updates come
   * again): a picked-up create that still waits for this instance has it, running or not yet. */
  private adopt(id: string, running: boolean): void {
    const parsed = parseMesosTaskId(id);
    if (!parsed) return;
    for (const job of this.jobs.values()) {
      const inst = job.plan?.cluster === parsed.cluster ? job.plan.instances.find((i) => addrOf(i) === parsed.addr) : undefined;
      const p = inst && job.pending.get(inst.id);
      if (!inst || !p || p.relocate) continue;
      job.pending.delete(inst.id);
      job.launched.set(inst.id, id);
      if (running) job.running.add(inst.id);
      if (job.kind === 'start' && running) job.already.add(inst.id);
      this.tasks.set(id, { job: job.id, cluster: parsed.cluster, instance: inst.id, addr: parsed.addr, host: inst.host });
      checkDone(job);
    }
  }

  private async states(cluster: string, addr: string, state: InstanceState, error?: string): Promise<void> {
    await setInstanceStates(this.o.etcd, cluster, new Map([[addr, { state, error }]]));
  }

  // -------------------------------------------------------------------------------------------
  // Offers

  /** Run fn after everything queued before it (offers, updates and etcd writes never interleave). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch((e: Error) => this.o.log(`mesos framework: ${e.stack ?? e.message}`));
    return p;
  }

  private kick(): void {
    if (this.queued) return;
    this.queued = true;
    void this.serial(async () => {
      this.queued = false;
      await this.process();
    });
  }

  private async send(call: Call): Promise<boolean> {
    try {
      await this.client.call(call);
      return true;
    } catch (e) {
      this.o.log(`mesos: ${(e as Error).message}`);
      return false;
    }
  }

  private async process(): Promise<void> {
    const now = Date.now();
    for (const job of this.jobs.values()) {
      this.checkDeadline(job, now);
      expireStarts(job, now, this.o.relaunchWaitMs, Math.min(this.o.launchTimeoutMs, 180_000));
    }
    if (!this.client.subscribed) return;
    // Offers are wanted (REVIVE, which also drops the refuse filters of declined offers) while
    // a job waits, and SUPPRESSed once none does.
    const waiting = [...this.jobs.values()].filter(waits);
    // agentHosts() wants offers too, for a moment, to learn where agents are.
    const wanted = waiting.length > 0 || now < this.offersWantedUntil;
    if (wanted && (this.offersWanted !== true || this.reviveNeeded)) {
      if (await this.send({ type: 'REVIVE' })) {
        this.offersWanted = true;
        this.reviveNeeded = false;
      }
    }
    if (waiting.length && this.pool.size) {
      const agents = agentsOf([...this.pool.values()].map((x) => x.offer), this.o.hosts);
      const launches = new Map<string, { agent: AgentResources; infos: TaskInfo[]; jobs: Job[] }>();
      const env = {
        taskCpus: this.o.taskCpus,
        relaunchWaitMs: this.o.relaunchWaitMs,
        launch: (job: Job, inst: PlannedInstance, agent: AgentResources) => this.launch(launches, job, inst, agent),
        mayLaunch: (agent: AgentResources, more: number) => this.book.startingOn(agent.agentId) + more < this.o.maxStartingPerAgent,
        install: (job: Job, insts: PlannedInstance[]) => this.install(job, insts),
      };
      for (const job of waiting) {
        try {
          await serve(env, job, agents, now);
        } catch (e) {
          settle(job, e as Error);
        }
      }
      for (const { agent, infos, jobs } of launches.values()) await this.accept(agent, infos, jobs);
    }

    // Offers not launched on: held a moment for a job that waits, else declined.
    const stillWaiting = waiting.some(waits);
    const decline = [...this.pool].filter(([, v]) => !stillWaiting || now - v.at >= this.o.offerHoldMs);
    if (decline.length) {
      for (const [id] of decline) this.pool.delete(id);
      const refuse = stillWaiting ? this.o.refuseSeconds : this.o.idleRefuseSeconds;
      await this.send({ type: 'DECLINE', decline: { offer_ids: decline.map(([id]) => ({ value: id })), filters: { refuse_seconds: refuse } } });
    }
    if (!stillWaiting && now >= this.offersWantedUntil && this.offersWanted !== false) {
      if (await this.send({ type: 'SUPPRESS' })) this.offersWanted = false;
    }
  }

  private checkDeadline(job: Job, now: number): void {
    if (job.settled || job.kind !== 'create') return;
    if (!job.plan && now - job.started > this.o.placeTimeoutMs) {
      settle(job, new PlacementError(`no Mesos offers could take it within ${this.o.placeTimeoutMs / 1000} s: ${job.short ?? (this.client.subscribed ? "no offers from the inventory's hosts" : 'not subscribed to a Mesos master')}`));
    } else if (job.plan && now - job.started > this.o.launchTimeoutMs) {
      const missing = job.plan.instances.filter((i) => !job.running.has(i.id)).map(addrOf);
      settle(job, new Error(`${missing.length} instance(s) not running on Mesos after ${this.o.launchTimeoutMs / 1000} s: ${missing.slice(0, 10).join(', ')}${job.short ? ` (${job.short})` : ''}`));
    }
  }

  private launch(launches: Map<string, { agent: AgentResources; infos: TaskInfo[]; jobs: Job[] }>, job: Job, inst: PlannedInstance, agent: AgentResources): void {
    const plan = job.plan!;
    const taskId = mesosTaskId(plan.cluster, inst);
    const addr = addrOf(inst);
    const info: TaskInfo = {
      name: `${plan.cluster} ${addr}`,
      task_id: { value: taskId },
      agent_id: { value: agent.agentId },
      resources: agent.take(plan, inst, this.o.taskCpus),
      // Mesos's command executor runs the cache server itself: nothing of ovl in the container.
      command: { shell: true, value: foregroundCommand(instanceSetup(plan, inst, { task: job.task.id }), job.kind === 'create') },
      kill_policy: { grace_period: { nanoseconds: KILL_GRACE_NS } },
    };
    const l = launches.get(agent.agentId) ?? { agent, infos: [], jobs: [] };
    l.infos.push(info);
    if (!l.jobs.includes(job)) l.jobs.push(job);
    launches.set(agent.agentId, l);
    job.pending.delete(inst.id);
    job.launched.set(inst.id, taskId);
    job.launchedAt.set(inst.id, Date.now());
    this.tasks.set(taskId, { job: job.id, cluster: plan.cluster, instance: inst.id, addr, host: inst.host });
    this.book.launching(agent.agentId, taskId);
  }

  /** Files first, over SSH: the task runs the cache server itself, and no secret goes to Mesos. */
  private async install(job: Job, insts: PlannedInstance[]): Promise<PlannedInstance[]> {
    // A create's instances wait at their start gates until all run (released in `create`).
    const failed = await installOnHosts(job.ctx, job.plan!, insts, job.task, job.auth, job.kind === 'create');
    if (!failed.size) return insts;
    const why = [...failed].map(([a, w]) => `${a}: ${w}`).join('; ');
    if (job.kind === 'create') {
      settle(job, new Error(why));
      return [];
    }
    for (const i of insts) {
      const w = failed.get(addrOf(i));
      if (w === undefined) continue;
      job.pending.delete(i.id);
      job.failed.set(i.id, w);
    }
    checkDone(job);
    return insts.filter((i) => !failed.has(addrOf(i)));
  }

  private async accept(agent: AgentResources, infos: TaskInfo[], jobs: Job[]): Promise<void> {
    for (const o of agent.offers) this.pool.delete(o.id.value);
    const ok = await this.send({
      type: 'ACCEPT',
      accept: {
        offer_ids: agent.offers.map((o) => o.id),
        operations: [{ type: 'LAUNCH', launch: { task_infos: infos } }],
        filters: { refuse_seconds: this.o.refuseSeconds },
      },
    });
    if (ok) return faultPoint(jobs[0]!.ctx, 'mesos-launched');
    // Not launched: the instances wait for the next offers, where they were planned.
    for (const info of infos) {
      const t = this.tasks.get(info.task_id.value);
      this.tasks.delete(info.task_id.value);
      this.book.notLaunched(agent.agentId, info.task_id.value);
      const job = jobs.find((j) => j.id === t?.job);
      if (!t || !job || job.launched.get(t.instance) !== info.task_id.value) continue;
      job.launched.delete(t.instance);
      job.pending.set(t.instance, { since: Date.now(), readyAt: Date.now() + 1000, relocate: false, exclude: new Set() });
    }
    this.reviveNeeded = true;
  }
}
