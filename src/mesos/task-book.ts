// What the framework knows of its tasks and agents, from Mesos's status updates and offers: which
// tasks run (and of which instance), which it is killing, which ended, which launches are not
// running yet (the pacing), and where agents are or were lost. No I/O.
import type { TaskStatus } from './api.js';
import { ENDED, parseMesosTaskId } from './task-ids.js';

export class TaskBook {
  /** Every task of ours Mesos says is alive: id -> agent id. */
  private readonly live = new Map<string, string>();
  /** Tasks the framework asked to KILL: their end is no failure. */
  private readonly killing = new Set<string>();
  /** Waiting for a task to end: id -> its resolvers. */
  private readonly ending = new Map<string, (() => void)[]>();
  /** Tasks whose end was handled: a terminal update sent again (or answering a RECONCILE) is not a
   * new failure. */
  private readonly endedIds = new Set<string>();
  /** Agent id -> our tasks launched there and not running yet. */
  private readonly starting = new Map<string, Set<string>>();
  /** Inventory host -> the agent id that offered from it (where instances can go). */
  private readonly agentSeen = new Map<string, string>();
  /** Hosts whose agent the master removed (lost for good): nothing starts there until it offers again. */
  private readonly hostsGone = new Set<string>();

  /** A status update, before the framework acts on it. Returns whether a pacing slot was freed. */
  heard(s: TaskStatus): boolean {
    const id = s.task_id.value;
    let freed = false;
    if (s.state === 'TASK_RUNNING' || ENDED.has(s.state)) {
      for (const [agent, ids] of this.starting) {
        if (ids.delete(id)) freed = true;
        if (!ids.size) this.starting.delete(agent);
      }
    }
    if (ENDED.has(s.state)) {
      this.live.delete(id);
      for (const f of this.ending.get(id) ?? []) f();
      this.ending.delete(id);
    } else if (s.agent_id) this.live.set(id, s.agent_id.value);
    return freed;
  }

  /** Whether this terminal update is one ovl did not ask for and has not handled yet. */
  endedUnasked(s: TaskStatus): boolean {
    const id = s.task_id.value;
    return ENDED.has(s.state) && !this.killing.has(id) && !this.endedIds.has(id);
  }

  /** A task's end is handled. */
  closed(id: string): void {
    this.killing.delete(id);
    // Bounded: ids are unique, a resent update comes within minutes.
    if (this.endedIds.size > 10_000) this.endedIds.clear();
    this.endedIds.add(id);
  }

  /** The task Mesos runs for an instance (not one being killed). */
  liveTask(cluster: string, addr: string): string | undefined {
    for (const id of this.live.keys()) {
      const p = parseMesosTaskId(id);
      if (p?.cluster === cluster && p.addr === addr && !this.killing.has(id)) return id;
    }
    return undefined;
  }

  /** Live tasks (id, agent id): of one cluster and of `addrs` if given; those being killed only
   * with `killing`. */
  liveTasks(o: { cluster?: string; addrs?: string[]; killing?: boolean } = {}): [string, string][] {
    return [...this.live].filter(([id]) => {
      if (!o.killing && this.killing.has(id)) return false;
      if (o.cluster === undefined) return true;
      const p = parseMesosTaskId(id);
      return p?.cluster === o.cluster && (!o.addrs || o.addrs.includes(p.addr));
    });
  }

  killStarted(id: string): void {
    this.killing.add(id);
  }

  /** The KILL was not sent: the task is not being killed (a later KILL may be). */
  killNotSent(id: string): void {
    this.killing.delete(id);
  }

  /** Resolves true when the task ends, false after `ms`. */
  ended(id: string, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      timer.unref();
      this.ending.set(id, [
        ...(this.ending.get(id) ?? []),
        () => {
          clearTimeout(timer);
          resolve(true);
        },
      ]);
    });
  }

  launching(agentId: string, id: string): void {
    this.starting.set(agentId, new Set([...(this.starting.get(agentId) ?? []), id]));
  }

  /** A launch that was not sent. */
  notLaunched(agentId: string, id: string): void {
    this.starting.get(agentId)?.delete(id);
  }

  startingOn(agentId: string): number {
    return this.starting.get(agentId)?.size ?? 0;
  }

  offered(host: string, agentId: string): void {
    this.agentSeen.set(host, agentId);
    this.hostsGone.delete(host);
  }

  /** The master removed this agent (host: where a task of it ran, when known). */
  agentGone(agentId: string, host?: string): void {
    if (host) this.hostsGone.add(host);
    for (const [h, a] of this.agentSeen) {
      if (a !== agentId) continue;
      this.agentSeen.delete(h);
      this.hostsGone.add(h);
    }
  }

  hostGone(host: string): boolean {
    return this.hostsGone.has(host);
  }

  /** Inventory hosts whose agent offered and was not lost since. */
  agentHosts(): Set<string> {
    return new Set(this.agentSeen.keys());
  }
}
