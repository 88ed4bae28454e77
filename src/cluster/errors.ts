// Errors of the cluster library that the CLI maps to exit codes of their own.

/** The leader's lease was lost: another scheduler may run its tasks now, so this one must stop at
 * once (the CLI exits with `exitCode` without waiting for the tasks in flight). */
export class LeadershipLost extends Error {
  override name = 'LeadershipLost';
  readonly exitCode = 3;
}
