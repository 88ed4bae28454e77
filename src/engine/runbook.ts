import type { HostSpec, Inventory } from '../inventory/types.js';
import type { Handler, HostContext, Operation } from '../ops/types.js';
import type { RollingSpec } from './rolling.js';

/** One component being deployed: its hosts (those still healthy) and state its runbook shares. */
export interface ComponentRun {
  name: string;
  inv: Inventory;
  check: boolean;
  /** `--prune`: members the inventory no longer lists may be removed. */
  prune: boolean;
  /** Every host of the component in the inventory (also those not targeted by --limit). */
  allHosts: HostSpec[];
  /** Hosts this run works on, connected. */
  hosts: HostContext[];
  /** Prepared ahead of its turn (to probe every component at once): a prepare that would change
   * something must throw instead, and is prepared again at its turn, after the components before it. */
  early?: boolean;
}

export interface HostPlan {
  operations: Operation[];
  handlers?: Record<string, Handler>;
}

/**
 * A runbook: the checklist of one component. `host()` lists the operations for one host,
 * in order; `prepare()` does component-wide work first (e.g. read etcd membership) and returns
 * what host() needs from it; `after()` lists checks that need every host done first (a new
 * etcd cluster has no quorum until enough members started, whatever --forks is).
 */
export interface Runbook<Shared = void> {
  name: string;
  summary: string;
  prepare?: (comp: ComponentRun) => Promise<Shared>;
  host: (h: HostContext, comp: ComponentRun, shared: Shared) => HostPlan;
  /** Checks run on each host once every host of the component is done (e.g. quorum formed). */
  after?: (h: HostContext, comp: ComponentRun, shared: Shared) => Operation[];
  /** A component whose members restart in turn (its handler is owedRestart): the engine pays
   * the restarts owed once every host is done, before `after` (engine/rolling.ts). */
  rolling?: (comp: ComponentRun, shared: Shared) => RollingSpec;
}

// Runbooks differ in their Shared type; the engine only passes it from prepare() to host().
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRunbook = Runbook<any>;
