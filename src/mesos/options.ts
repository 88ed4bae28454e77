// The framework's settings and their defaults.
import type { Etcd3 } from 'etcd3';
import type { MasterSpec } from './leader.js';
import type { InventoryHost } from './offers.js';

export interface FrameworkOptions {
  etcd: Etcd3;
  /** Where the leading master is found (leader.ts). */
  master: MasterSpec;
  /** The inventory's hosts: an agent is used only when it is one of them. */
  hosts: InventoryHost[];
  log: (line: string) => void;
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
  /** An instance is launched where it was planned only if an offer holds its port within this
   * time; later a create moves it and a start reports it failed (default 30 s). */
  relaunchWaitMs?: number;
  /** Moves after failures allowed per create (default 3 + a tenth of its instances). */
  maxMoves?: number;
  /** Tasks launched on one agent and not running yet, at most (default 4): each start costs the
   * agent a containerizer and an executor process, and a burst of them on a small host outlasts
   * the executor registration timeout. */
  maxStartingPerAgent?: number;
  /** The relaunch of instances that end unasked (supervisor.ts): first delay (default 1 s). */
  relaunchDelayMs?: number;
  /** Passed to the client: reconnection delays, heartbeat factor, timeouts. */
  client?: { reconnectMs?: number; maxReconnectMs?: number; heartbeatFactor?: number; timeoutMs?: number };
}

export type Settings = Required<Omit<FrameworkOptions, 'client'>> & Pick<FrameworkOptions, 'client'>;

export function withDefaults(o: FrameworkOptions): Settings {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as FrameworkOptions;
  return {
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
    relaunchDelayMs: 1000,
    maxStartingPerAgent: 4,
    ...given,
  };
}
