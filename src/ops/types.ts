import type { HostSpec, Inventory } from '../inventory/types.js';
import type { Remote } from '../ssh/remote.js';
import type { HostFacts } from './facts.js';

export type Status = 'ok' | 'changed' | 'failed' | 'skipped';

/** What an operation sees of the host it runs on. */
export interface HostContext {
  host: HostSpec;
  inv: Inventory;
  facts: HostFacts;
  remote: Remote;
  check: boolean;
}

/**
 * A change is a list of steps; the engine runs them in order and stops at the first failure.
 * `exec` runs a sh script on the host, `upload` copies a local file over SFTP, `local` runs
 * on the machine running ovl (etcd API calls, waits).
 */
export type Step =
  | { kind: 'exec'; script: string; stdin?: string | Buffer }
  | { kind: 'upload'; local: string; remote: string }
  | { kind: 'local'; what: string; run: (ctx: HostContext) => Promise<void> };

/**
 * What an operation needs to know of its host, typed: a sh probe (batched with every other probe
 * of the host into one round trip; it must not `exit`) and how its output reads.
 */
export interface Fact<T> {
  probe: string;
  parse(out: string): T;
}

export type Plan =
  | { change: false; reason: string }
  | { change: true; reason: string; diff?: string; steps: Step[] };

/**
 * An idempotent operation, pyinfra-style: it declares what it needs to know (`fact`, whose probe
 * the engine batches with every other probe of the host into one round trip, then parses; or
 * `read`, run from the machine running ovl), then `plan` turns that state into the steps that
 * must run, or a no-op with its reason. An operation with neither plans from nothing.
 */
export interface Operation<T = unknown> {
  title: string;
  fact?: Fact<T>;
  read?: (ctx: HostContext) => Promise<T>;
  plan(value: T, ctx: HostContext): Plan;
  /** Handlers (by name, of the same runbook) scheduled when this operation changes something. */
  notify?: string[];
  /** Operations whose change is a wait or check, not a modification: a no-op in --check mode. */
  waits?: boolean;
  /** Worth a line in --check even when nothing changes (a certificate's end date in its title). */
  notable?: boolean;
}

export interface OpResult {
  component: string;
  host: string;
  title: string;
  status: Status;
  reason: string;
  diff?: string;
  error?: string;
  ms: number;
  /** From Operation.notable. */
  notable?: boolean;
}

export function ok(reason: string): Plan {
  return { change: false, reason };
}

export function change(reason: string, steps: Step[], diff?: string): Plan {
  return { change: true, reason, steps, diff };
}

export function exec(script: string, stdin?: string | Buffer): Step {
  return { kind: 'exec', script, stdin };
}

/** A handler runs at the end of a host's operations when notified; its marker file on the host
 * records the debt so that a run failing after the change still restarts on the next run. */
export interface Handler {
  marker: string;
  /** Its fact says whether the debt is on the host (the marker exists). */
  operation: HandlerOperation;
}

export type HandlerOperation = Operation<boolean> & { fact: Fact<boolean> };
