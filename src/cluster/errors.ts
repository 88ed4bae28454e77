// Errors of the cluster library that callers tell apart.

/** A guarded commit found that another change came first: read again and make it again. */
export class ConflictError extends Error {
  override name = 'ConflictError';
  readonly code = 'CONFLICT';
}

/** The port chosen for an instance was given to another cluster meanwhile: choose again. */
export class PortTaken extends ConflictError {
  override name = 'PortTaken';
}

/** The caller's AbortSignal stopped following a task (the task itself goes on). */
export class FollowAborted extends Error {
  override name = 'Aborted';
  readonly code = 'ABORTED';
}

/** The leader's lease was lost: another scheduler may run its tasks now, so this one must stop at
 * once (the CLI exits with `exitCode` without waiting for the tasks in flight). */
export class LeadershipLost extends Error {
  override name = 'LeadershipLost';
  readonly exitCode = 3;
}
