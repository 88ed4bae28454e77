// The scheduler as a Mesos framework (seeds 001 and 004): with `scheduler.resources: mesos`,
// creates take their hosts and ports from Mesos offers instead of the fleet's registered
// capacity, and a Mesos agent starts each instance (`ovl executor`) instead of ovl over SSH.
//
// A create task: REVIVE; offers (held for a moment, so that the offers of several agents meet)
// become HostCapacity (src/mesos/offers.ts) and go through the same placement as the fleet path;
// the plan is committed to etcd as there, then ACCEPTed with one LAUNCH per agent, one Mesos task
// per instance. TASK_RUNNING marks the instance up; a task that fails, is lost, dropped or gone
// puts its instance back in the queue to be moved to another agent (never next to a member of
// its shard: relocation()). Once every instance runs, the task goes on to the consistency check
// exactly as a fleet create does. Offers nothing needs are DECLINEd with a refuse filter, and
// the framework SUPPRESSes offers while no task waits. Every status update carrying a uuid is
// ACKNOWLEDGEd once what it says is in etcd.
//
// The framework id is kept in etcd (FRAMEWORK_ID_KEY): a scheduler that restarts, or another
// one that takes the leadership over, subscribes with it and fails over to the same framework,
// whose tasks Mesos keeps for failover_timeout.
import type { Etcd3 } from 'etcd3';
import { PlacementError, instanceMemMB } from '../cluster/placement.js';
import {
  addrOf,
  fleetCapacity,
  listInstances,
  replaceInstance,
  setInstanceStates,
  type InstanceState,
  type CreateTask,
} from '../cluster/store.js';
import { relocation } from '../cluster/placement.js';
import { MESOS_SCHEDULER_VARS } from '../../runbooks/settings/mesos.js';
import { varProblem } from '../../runbooks/settings/vars.js';
import { allocate } from '../cluster/allocations.js';
import { ConflictError } from '../cluster/errors.js';
import { step, type TaskContext } from '../cluster/tasks/context.js';
import { beginCreate, commitPlacement } from '../cluster/tasks/create.js';
import { finishCreate } from '../cluster/tasks/health.js';
import { writeInstances } from '../cluster/tasks/instances.js';
import type { ClusterRequest, HostCapacity, Plan, PlannedInstance } from '../cluster/types.js';
import type { Inventory } from '../inventory/types.js';
import { etcdEndpoints } from '../state/etcd.js';
import { ROOT } from '../state/keys.js';
import { argv } from '../shell.js';
import { MesosClient, type Call, type FrameworkInfo, type MesosEvent, type MesosOffer, type TaskInfo, type TaskStatus } from './api.js';
import { AgentResources, EXECUTOR_MEM_MB, hostOfOffer, taskMemMB, type InventoryHost } from './offers.js';

/** Where the framework id lives, so that a restarted scheduler fails over instead of registering anew. */
export const FRAMEWORK_ID_KEY = `${ROOT}/mesos/framework_id`;
export const DEFAULT_OVL_PATH = '/data/lib/ovl/current/bin/ovl';

export interface FrameworkOptions {
  etcd: Etcd3;
  /** Client URLs of etcd, handed to every executor. */
  etcdEndpoints: string[];
  /** host:port of the Mesos masters (one is enough: the others redirect to the leader). */
  masters: string[];
  /** The inventory's hosts: an agent is used only when it is one of them. */
  hosts: InventoryHost[];
  log: (line: string) => void;
  /** ovl on the agents (default /data/lib/ovl/current/bin/ovl). */
  ovlPath?: string;
  /** CPUs each instance reserves (default 0.1). */
  taskCpus?: number;
  name?: string;
  user?: string;
  /** How long Mesos keeps the framework's tasks while no scheduler is subscribed (default 1 week). */
  failoverTimeoutSeconds?: number;
  /** refuse_seconds of offers declined while a task waits (default 5), and while none does (default 300). */
  refuseSeconds?: number;
  idleRefuseSeconds?: number;
  /** How long an offer is held for a task that cannot be placed yet (default 1000 ms). */
  offerHoldMs?: number;
  /** A create fails when it is not placed in this time (default 120 s) ... */
  placeTimeoutMs?: number;
  /** ... or when its instances do not all run in this time (default 600 s). */
  launchTimeoutMs?: number;
  /** A picked-up create relaunches an instance where it was planned only if an offer holds its
   * port within this time; later it is moved (default 30 s). */
  relaunchWaitMs?: number;
  /** Moves after failures allowed per create (default 3 + a tenth of its instances). */
  maxMoves?: number;
  /** Passed to the client: reconnection delays, heartbeat factor, timeouts. */
  client?: { reconnectMs?: number; maxReconnectMs?: number; heartbeatFactor?: number; timeoutMs?: number };
}

interface Pending {
  /** When it started waiting (for relaunchWaitMs). */
  since: number;
  /** Not before (a picked-up create first hears what Mesos knows about its tasks). */
  readyAt: number;
  /** Move it to another host (it failed where it was). */
  relocate: boolean;
  /** Hosts it failed on. */
  exclude: Set<string>;
  why?: string;
}

interface Job {
  ctx: TaskContext;
  task: CreateTask;
  req: ClusterRequest;
  password?: string;
  plan: Plan | null;
  started: number;
  /** Why it is not placed yet (the last placement error). */
  short?: string;
  /** Instance id -> waiting for a launch. */
  pending: Map<string, Pending>;
  /** Instance id -> the Mesos task id of its current launch. */
  launched: Map<string, string>;
  running: Set<string>;
  moves: number;
  settled: boolean;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Launched {
  job: string;
  cluster: string;
  instance: string;
  addr: string;
  host: string;
}

/** A picked-up create waits this long for RECONCILE's answers before launching again. */
const RECONCILE_GRACE_MS = 3000;

const FAILED: ReadonlySet<TaskStatus['state']> = new Set(['TASK_FAILED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR', 'TASK_UNREACHABLE', 'TASK_UNKNOWN', 'TASK_KILLED']);

/** Terminal states: the task is gone. */
const ENDED: ReadonlySet<TaskStatus['state']> = new Set([...FAILED, 'TASK_FINISHED']);
/** How long a delete waits for its tasks to be killed. */
const KILL_WAIT_MS = 30_000;

/** Mesos task ids: ovl.<cluster>.<ip>_<port>.<nonce>, so that any scheduler can tell whose it is. */
export function mesosTaskId(cluster: string, inst: PlannedInstance): string {
  return `ovl.${cluster}.${inst.address}_${inst.port}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export function parseMesosTaskId(id: string): { cluster: string; addr: string } | null {
  const m = /^ovl\.([a-z0-9-]+)\.(\d+\.\d+\.\d+\.\d+)_(\d+)\.[a-z0-9]+$/.exec(id);
  return m ? { cluster: m[1]!, addr: `${m[2]}:${m[3]}` } : null;
}

export class MesosFramework {
  private readonly client: MesosClient;
  private frameworkId?: string;
  private readonly jobs = new Map<string, Job>();
  /** Mesos task id -> what it runs, for the launches of this process. */
  private readonly tasks = new Map<string, Launched>();
  /** Every task of ours Mesos says is alive (from status updates and RECONCILE): id -> agent id. */
  private readonly live = new Map<string, string>();
  /** Waiting for a task to end: id -> its resolver (the final state). */
  private readonly ending = new Map<string, (state: string) => void>();
  private readonly pool = new Map<string, { offer: MesosOffer; at: number }>();
  /** Last REVIVE (true) or SUPPRESS (false) sent on this subscription. */
  private offersWanted?: boolean;
  private reviveNeeded = false;
  private chain: Promise<unknown> = Promise.resolve();
  private queued = false;
  private tick?: NodeJS.Timeout;
  private readonly o: Required<Omit<FrameworkOptions, 'client'>> & Pick<FrameworkOptions, 'client'>;

  constructor(o: FrameworkOptions) {
    const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as FrameworkOptions;
    this.o = {
      ovlPath: DEFAULT_OVL_PATH,
      taskCpus: 0.1,
      name: 'ovl',
      user: 'root',
      failoverTimeoutSeconds: 7 * 24 * 3600,
      refuseSeconds: 5,
      idleRefuseSeconds: 300,
      offerHoldMs: 1000,
      placeTimeoutMs: 120_000,
      launchTimeoutMs: 600_000,
      relaunchWaitMs: 30_000,
      maxMoves: -1,
      ...given,
    };
    this.client = new MesosClient({
      ...o.client,
      masters: o.masters,
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

  /** Unsubscribe (the framework stays registered for failover_timeout); creates still waiting fail. */
  async close(): Promise<void> {
    clearInterval(this.tick);
    for (const job of this.jobs.values()) this.settle(job, new Error('the scheduler is stopping'));
    await this.chain.catch(() => undefined);
    this.client.close();
  }

  /** TaskContext.create: a create task placed on and started by Mesos. */
  readonly create = async (ctx: TaskContext, task: CreateTask): Promise<void> => {
    const { req, password, plan } = await beginCreate(ctx, task);
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const now = Date.now();
    const job: Job = { ctx, task, req, password, plan, started: now, pending: new Map(), launched: new Map(), running: new Set(), moves: 0, settled: false, resolve, reject };
    if (plan) {
      // Picked up again: what runs stays; the rest is launched where it was planned, once Mesos
      // has told what it knows of this framework's tasks (RECONCILE on subscribing).
      const states = new Map([...(await listInstances(ctx.etcd, plan.cluster)).values()].map((i) => [addrOf(i), i.state]));
      for (const i of plan.instances) {
        if (states.get(addrOf(i)) === 'up') job.running.add(i.id);
        else job.pending.set(i.id, { since: now, readyAt: now + RECONCILE_GRACE_MS, relocate: false, exclude: new Set() });
      }
      await step(ctx, task, `resuming on Mesos: ${job.running.size} of ${plan.instances.length} instances up`);
    } else {
      await step(ctx, task, 'waiting for Mesos offers');
    }
    this.jobs.set(task.id, job);
    this.checkDone(job);
    this.reviveNeeded = true;
    this.kick();
    try {
      await done;
    } finally {
      this.jobs.delete(task.id);
      this.kick();
    }
    await finishCreate(ctx, task, job.plan!, password);
  };

  /**
   * TaskContext.kill: KILL every task of the cluster Mesos knows alive, and wait for each to end
   * (TASK_KILLED: its executor stopped the instance). Returns the ones that did not end in time.
   */
  readonly kill = async (cluster: string): Promise<string[]> => {
    // RECONCILE first: a scheduler that took over may not have heard of every task yet.
    await this.serial(() => this.send({ type: 'RECONCILE', reconcile: { tasks: [] } }));
    await new Promise((r) => setTimeout(r, 500));
    const ours = [...this.live].filter(([id]) => parseMesosTaskId(id)?.cluster === cluster);
    const ended = ours.map(
      ([id]) =>
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), KILL_WAIT_MS);
          this.ending.set(id, () => {
            clearTimeout(timer);
            resolve(true);
          });
        }),
    );
    for (const [id, agent] of ours) await this.serial(() => this.send({ type: 'KILL', kill: { task_id: { value: id }, agent_id: { value: agent } } }));
    const done = await Promise.all(ended);
    return ours.filter((_, i) => !done[i]).map(([id]) => parseMesosTaskId(id)!.addr);
  };

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
        for (const offer of e.offers.offers ?? []) this.pool.set(offer.id.value, { offer, at: Date.now() });
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
      case 'HEARTBEAT':
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
    // Implicit reconciliation: the master sends the latest state of every task it knows of ours.
    await this.send({ type: 'RECONCILE', reconcile: { tasks: [] } });
    this.kick();
  }

  private async onUpdate(s: TaskStatus): Promise<void> {
    const id = s.task_id.value;
    if (ENDED.has(s.state)) {
      this.live.delete(id);
      this.ending.get(id)?.(s.state);
      this.ending.delete(id);
    } else if (s.agent_id) this.live.set(id, s.agent_id.value);
    const known = this.tasks.get(id);
    const job = known ? this.jobs.get(known.job) : undefined;
    const why = `${s.state}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}`;
    if (known && job && job.launched.get(known.instance) === id) {
      if (s.state === 'TASK_RUNNING' || s.state === 'TASK_FINISHED') {
        // FINISHED: the executor installed and started the instance and ended.
        if (!job.running.has(known.instance)) {
          job.running.add(known.instance);
          await this.states(known.cluster, known.addr, 'up');
          this.checkDone(job);
        }
      } else if (FAILED.has(s.state)) {
        job.launched.delete(known.instance);
        job.running.delete(known.instance);
        this.tasks.delete(id);
        if (s.reason === 'REASON_INVALID_OFFERS') {
          // The offers were rescinded before the ACCEPT arrived: launch it again where planned.
          job.pending.set(known.instance, { since: Date.now(), readyAt: 0, relocate: false, exclude: new Set(), why });
        } else {
          await this.states(known.cluster, known.addr, 'failed', why);
          const limit = this.o.maxMoves >= 0 ? this.o.maxMoves : 3 + Math.floor((job.plan?.instances.length ?? 0) / 10);
          if (++job.moves > limit) {
            this.settle(job, new Error(`${known.addr} (${known.host}) ${why}; ${job.moves} instance failures, giving up`));
          } else {
            job.ctx.log(`${job.task.id}: ${known.addr} on ${known.host}: ${why}; moving it`);
            job.pending.set(known.instance, { since: Date.now(), readyAt: 0, relocate: true, exclude: new Set([known.host]), why });
          }
        }
        this.reviveNeeded = true;
        this.kick();
      }
    } else if (known && FAILED.has(s.state) && s.state !== 'TASK_KILLED') {
      // After its create: the state in etcd says the instance is down (killed: deleted).
      this.tasks.delete(id);
      await this.states(known.cluster, known.addr, 'failed', why);
    } else if (!known && s.state === 'TASK_RUNNING') {
      // A task launched before this scheduler took over (it answers RECONCILE): a picked-up
      // create that still waits for this instance has it.
      const parsed = parseMesosTaskId(id);
      for (const job of this.jobs.values()) {
        const inst = parsed && job.plan?.cluster === parsed.cluster ? job.plan.instances.find((i) => addrOf(i) === parsed.addr) : undefined;
        const p = inst && job.pending.get(inst.id);
        if (!inst || !p || p.relocate) continue;
        job.pending.delete(inst.id);
        job.launched.set(inst.id, id);
        job.running.add(inst.id);
        this.tasks.set(id, { job: job.task.id, cluster: parsed!.cluster, instance: inst.id, addr: parsed!.addr, host: inst.host });
        this.checkDone(job);
      }
    }
    if (s.uuid && s.agent_id) await this.send({ type: 'ACKNOWLEDGE', acknowledge: { agent_id: s.agent_id, task_id: s.task_id, uuid: s.uuid } });
  }

  private async states(cluster: string, addr: string, state: InstanceState, error?: string): Promise<void> {
    await setInstanceStates(this.o.etcd, cluster, new Map([[addr, { state, error }]]));
  }

  private checkDone(job: Job): void {
    if (job.plan && !job.pending.size && job.running.size === job.plan.instances.length) this.settle(job);
  }

  private settle(job: Job, e?: Error): void {
    if (job.settled) return;
    job.settled = true;
    job.pending.clear();
    if (e) job.reject(e);
    else job.resolve();
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

  private waits(job: Job): boolean {
    return !job.settled && (!job.plan || job.pending.size > 0);
  }

  private async process(): Promise<void> {
    const now = Date.now();
    for (const job of this.jobs.values()) this.checkDeadline(job, now);
    if (!this.client.subscribed) return;
    // Offers are wanted (REVIVE, which also drops the refuse filters of declined offers) while
    // a task waits, and SUPPRESSed once none does.
    const waiting = [...this.jobs.values()].filter((j) => this.waits(j));
    if (waiting.length && (this.offersWanted !== true || this.reviveNeeded)) {
      if (await this.send({ type: 'REVIVE' })) {
        this.offersWanted = true;
        this.reviveNeeded = false;
      }
    }
    const agents = new Map<string, AgentResources>();
    if (waiting.length && this.pool.size) {
      // One AgentResources per inventory host, from all its offers (of one agent id).
      const byHost = new Map<string, { host: InventoryHost; offers: MesosOffer[] }>();
      for (const { offer } of this.pool.values()) {
        const host = hostOfOffer(offer, this.o.hosts);
        if (!host) continue;
        const cur = byHost.get(host.name);
        if (!cur) byHost.set(host.name, { host, offers: [offer] });
        else if (cur.offers[0]!.agent_id.value === offer.agent_id.value) cur.offers.push(offer);
      }
      for (const [name, a] of byHost) agents.set(name, new AgentResources(a.host, a.offers));
      const launches = new Map<string, { agent: AgentResources; infos: TaskInfo[]; jobs: Job[] }>();
      for (const job of waiting) {
        try {
          await this.serve(job, agents, launches, now);
        } catch (e) {
          this.settle(job, e as Error);
        }
      }
      for (const { agent, infos, jobs } of launches.values()) await this.accept(agent, infos, jobs);
    }

    // Offers not launched on: held a moment for a task that waits, else declined.
    const stillWaiting = waiting.some((j) => this.waits(j));
    const decline = [...this.pool].filter(([, v]) => !stillWaiting || now - v.at >= this.o.offerHoldMs);
    if (decline.length) {
      for (const [id] of decline) this.pool.delete(id);
      const refuse = stillWaiting ? this.o.refuseSeconds : this.o.idleRefuseSeconds;
      await this.send({ type: 'DECLINE', decline: { offer_ids: decline.map(([id]) => ({ value: id })), filters: { refuse_seconds: refuse } } });
    }
    if (!stillWaiting && this.offersWanted !== false) {
      if (await this.send({ type: 'SUPPRESS' })) this.offersWanted = false;
    }
  }

  private checkDeadline(job: Job, now: number): void {
    if (job.settled) return;
    if (!job.plan && now - job.started > this.o.placeTimeoutMs) {
      this.settle(job, new PlacementError(`no Mesos offers could take it within ${this.o.placeTimeoutMs / 1000} s: ${job.short ?? (this.client.subscribed ? 'no offers from the inventory\'s hosts' : 'not subscribed to a Mesos master')}`));
    } else if (job.plan && now - job.started > this.o.launchTimeoutMs) {
      const missing = job.plan.instances.filter((i) => !job.running.has(i.id)).map(addrOf);
      this.settle(job, new Error(`${missing.length} instance(s) not running on Mesos after ${this.o.launchTimeoutMs / 1000} s: ${missing.slice(0, 10).join(', ')}${job.short ? ` (${job.short})` : ''}`));
    }
  }

  /** Place a job on the agents' offers, or launch its waiting instances there. */
  private async serve(job: Job, agents: Map<string, AgentResources>, launches: Map<string, { agent: AgentResources; infos: TaskInfo[]; jobs: Job[] }>, now: number): Promise<void> {
    const { ctx, task, req } = job;
    const capacities = async () => {
      const fleet = await fleetCapacity(ctx.etcd);
      const registered = new Map(fleet.hosts.map((h) => [h.name, h]));
      const type = job.plan?.type ?? req.type;
      const hosts = [...agents.values()].flatMap((a) => a.capacity(type, req.maxmemoryMB, this.o.taskCpus, registered.get(a.host.name)) ?? []);
      return { hosts, revisions: fleet.revisions };
    };
    const launch = (inst: PlannedInstance) => {
      const plan = job.plan!;
      const agent = agents.get(inst.host)!;
      const taskId = mesosTaskId(plan.cluster, inst);
      const addr = addrOf(inst);
      const info: TaskInfo = {
        name: `${plan.cluster} ${addr}`,
        task_id: { value: taskId },
        agent_id: { value: agent.agentId },
        resources: agent.take(plan, inst, this.o.taskCpus),
        command: { shell: true, value: argv(this.o.ovlPath, 'executor', '--cluster', plan.cluster, '--instance', addr, '--task', task.id, '--etcd', this.o.etcdEndpoints.join(',')) },
      };
      const l = launches.get(agent.agentId) ?? { agent, infos: [], jobs: [] };
      l.infos.push(info);
      if (!l.jobs.includes(job)) l.jobs.push(job);
      launches.set(agent.agentId, l);
      job.pending.delete(inst.id);
      job.launched.set(inst.id, taskId);
      this.tasks.set(taskId, { job: task.id, cluster: plan.cluster, instance: inst.id, addr, host: inst.host });
    };

    if (!job.plan) {
      let plan: Plan;
      try {
        plan = await commitPlacement(ctx, task, req, job.password, async () => {
          const c = await capacities();
          if (!c.hosts.length) {
            const need = `a port, ${taskMemMB(req.maxmemoryMB)} MB (the instance's ${instanceMemMB(req.maxmemoryMB)} and its executor's ${EXECUTOR_MEM_MB}) and ${this.o.taskCpus} cpus`;
            throw new PlacementError(
              req.type === 'redis_cluster'
                ? `no offer from the inventory's hosts has ${need} with the port's cluster bus port (port + 10000) offered too: agents must offer both ranges, e.g. ports:[7000-7999,17000-17999]`
                : `no offer from the inventory's hosts has ${need}`,
            );
          }
          return c;
        });
      } catch (e) {
        if (e instanceof PlacementError) {
          if (job.short !== e.message) ctx.log(`${task.id}: not placed on the offers yet: ${e.message}`);
          job.short = e.message;
          return;
        }
        return this.settle(job, e as Error);
      }
      job.plan = plan;
      job.short = undefined;
      const hostCount = new Set(plan.instances.map((i) => i.host)).size;
      await step(ctx, task, `launching ${plan.instances.length} instances on ${hostCount} Mesos agents`);
      await writeInstances(ctx, plan, 'starting');
      for (const inst of plan.instances) launch(inst);
      return;
    }

    let hosts: HostCapacity[] | undefined;
    for (const [id, p] of [...job.pending]) {
      if (p.readyAt > now || job.settled) continue;
      const inst: PlannedInstance = job.plan.instances.find((i) => i.id === id)!;
      if (!p.relocate) {
        if (agents.get(inst.host)?.fits(job.plan, inst, this.o.taskCpus)) launch(inst);
        else if (now - p.since > this.o.relaunchWaitMs) p.relocate = true;
        if (!p.relocate) continue;
      }
      hosts ??= (await capacities()).hosts;
      const moved = relocation(job.plan, inst, hosts, p.exclude);
      if (!moved) {
        job.short = `no offer can take ${addrOf(inst)} (not on ${[...p.exclude].join(', ') || 'its host'} nor next to its shard)`;
        continue;
      }
      try {
        const before: Plan = job.plan;
        job.plan = await allocate(`moving ${addrOf(inst)}`, () => replaceInstance(ctx.etcd, before, inst, moved));
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        hosts = undefined;
        continue;
      }
      await step(ctx, task, `moving ${addrOf(inst)} (${p.why ?? 'not offered'}) to ${moved.host} (${addrOf(moved)})`);
      // Every instance's files name every other (nodes.conf): all rewritten, states kept.
      await writeInstances(ctx, job.plan, 'starting');
      const up = job.plan.instances.filter((i) => job.running.has(i.id));
      if (up.length) await setInstanceStates(ctx.etcd, job.plan.cluster, new Map(up.map((i) => [addrOf(i), { state: 'up' as const }])));
      hosts = undefined;
      launch(moved);
    }
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
    if (ok) return;
    // Not launched: the instances wait for the next offers, where they were planned.
    for (const info of infos) {
      const t = this.tasks.get(info.task_id.value);
      this.tasks.delete(info.task_id.value);
      const job = jobs.find((j) => j.task.id === t?.job);
      if (!t || !job || job.launched.get(t.instance) !== info.task_id.value) continue;
      job.launched.delete(t.instance);
      job.pending.set(t.instance, { since: Date.now(), readyAt: Date.now() + 1000, relocate: false, exclude: new Set() });
    }
    this.reviveNeeded = true;
  }
}

/**
 * The framework of an inventory with `scheduler.resources: mesos`, subscribed. Optional vars:
 * `mesos_ovl_path` (ovl on the agents, default /data/lib/ovl/current/bin/ovl) and
 * `mesos_task_cpus` (CPUs per instance, default 0.1).
 */
export async function startFramework(inv: Inventory, etcd: Etcd3, log: (line: string) => void): Promise<MesosFramework> {
  const master = inv.scheduler.mesos_master;
  if (!master) throw new Error(`${inv.file}: scheduler.resources is mesos but scheduler.mesos_master is not set`);
  // Checked by the inventory loader already; read through the same declared rules.
  const setting = (name: string) => {
    const v = inv.vars[name];
    const problem = v === undefined ? undefined : varProblem(MESOS_SCHEDULER_VARS[name]!, v);
    if (problem) throw new Error(`${inv.file}: vars.${name} ${problem}`);
    return v;
  };
  const ovlPath = setting('mesos_ovl_path');
  const cpus = setting('mesos_task_cpus');
  const fw = new MesosFramework({
    etcd,
    etcdEndpoints: etcdEndpoints(inv),
    masters: master.split(','),
    hosts: inv.hosts.map((h) => ({ name: h.name, address: h.address })),
    log,
    ovlPath: ovlPath as string | undefined,
    taskCpus: cpus as number | undefined,
  });
  await fw.start();
  return fw;
}
