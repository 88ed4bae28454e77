// Bootstrap as a function: `ovl bootstrap` prints its events, Fleet.bootstrap and scripts get the
// recap as data. It needs no etcd (it is what installs etcd), so it is exported on its own too.
import { RUNBOOKS } from '../../runbooks/index.js';
import { runComponents, type RunEvents, type RunResult } from '../engine/run.js';
import { loadFleet } from '../inventory/fleet.js';
import type { Inventory } from '../inventory/types.js';
import { selectHosts } from '../inventory/select.js';
import type { OpResult } from '../ops/types.js';

export interface BootstrapOptions {
  /** Components to run (runbook names); all by default. */
  only?: string[];
  /** Hosts to run on (names or globs); all by default. */
  limit?: string[];
  /** Say what would change; change nothing. */
  check?: boolean;
  /** Hosts worked on at once (default vars.forks, else 50). */
  forks?: number;
  /** Trust a host key seen for the first time (it is recorded). */
  acceptNewHostKeys?: boolean;
  /** Remove what the inventory no longer names. */
  prune?: boolean;
  /** Each operation's result as it ends. */
  onResult?: (r: OpResult) => void;
}

const quiet = () => {};

/** Bring the hosts of an inventory (a path, or one loadFleet read) to what it says; `events` sees
 * every step (the CLI draws them). */
export async function bootstrap(inventory: string | Inventory, o: BootstrapOptions = {}, events: Partial<RunEvents> = {}): Promise<RunResult> {
  // Local files (release binaries, the SSH key) are checked: bootstrap copies them.
  const inv = typeof inventory === 'string' ? loadFleet(inventory) : inventory;
  const sel = selectHosts(inv, { limit: o.limit, only: o.only });
  const forks = o.forks ?? (typeof inv.vars.forks === 'number' ? inv.vars.forks : 50);
  return runComponents(inv, RUNBOOKS, {
    check: !!o.check,
    forks,
    acceptNewHostKeys: !!o.acceptNewHostKeys,
    prune: !!o.prune,
    components: sel.components,
    hosts: sel.hosts,
  }, {
    componentStart: events.componentStart ?? quiet,
    hostStart: events.hostStart ?? quiet,
    result: (r) => {
      events.result?.(r);
      o.onResult?.(r);
    },
    hostEnd: events.hostEnd ?? quiet,
    componentEnd: events.componentEnd ?? quiet,
  });
}
