// Changes of the hosts' allocation records (/overlord/alloc/<host>) and of plans, made whole.
// The leader's tasks run side by side, but their commits here are made one at a time in
// process (a placement takes milliseconds): its own tasks never conflict with each other. A
// conflict with another process (another operator's in-process scheduler, a script) is made
// again after a jittered pause that grows, until a deadline, never a fixed number of times.
import { Semaphore } from '../util/semaphore.js';
import { ConflictError, PortTaken } from './errors.js';

const commits = new Semaphore(1);

/** How long a change is made again while other writers keep changing what it read. */
export const CONFLICT_DEADLINE_MS = 10 * 60_000;

/** A change that other writers kept from landing until the deadline: the task fails, saying so. */
export class ConflictDeadline extends Error {
  override name = 'ConflictDeadline';
}

/**
 * Run `attempt` (read, decide, commit guarded by what it read; ConflictError when the guard
 * failed) under the process's commit lock; again after a pause while it conflicts. `attempt`
 * must not call allocate itself (the lock is not reentrant).
 */
export async function allocate<T>(what: string, attempt: () => Promise<T>, o: { deadlineMs?: number; log?: (line: string) => void } = {}): Promise<T> {
  const { ExponentialBackoff, handleWhen, retry } = await import('cockatiel');
  const deadline = Date.now() + (o.deadlineMs ?? CONFLICT_DEADLINE_MS);
  let conflicts = 0;
  const policy = retry(
    handleWhen((e) => e instanceof ConflictError && !(e instanceof PortTaken) && Date.now() < deadline),
    // Decorrelated jitter (cockatiel's default): writers that conflicted once do not meet again in step.
    { backoff: new ExponentialBackoff({ initialDelay: 20, maxDelay: 2000 }) },
  );
  policy.onRetry(() => {
    conflicts++;
    if (conflicts % 10 === 0) o.log?.(`${what}: ${conflicts} conflicts with other writers so far; trying again`);
  });
  try {
    return await policy.execute(() => commits.run(attempt));
  } catch (e) {
    if (!(e instanceof ConflictError) || e instanceof PortTaken) throw e;
    const s = Math.round((o.deadlineMs ?? CONFLICT_DEADLINE_MS) / 1000);
    throw new ConflictDeadline(`${what}: other writers kept changing the same records for ${s} s (${conflicts + 1} attempts; ${e.message}); run it again`);
  }
}
