// The errors a script tells apart, each with a stable `code` (the CLI prints the same messages).
import type { Task } from '../cluster/task-store.js';
import { UsageError } from '../commands/errors.js';

export type ErrorCode = 'INVENTORY' | 'USAGE' | 'NOT_FOUND' | 'PLACEMENT' | 'CONFLICT' | 'ETCD_UNAVAILABLE' | 'TASK_FAILED' | 'ABORTED';

/** No such cluster (or instance): `ovl cluster list` names those that exist. */
export class NotFound extends UsageError {
  override name = 'NotFound';
  override readonly code: ErrorCode = 'NOT_FOUND';
}

/** etcd did not answer: the fleet's state cannot be read or changed. */
export class EtcdUnavailable extends Error {
  override name = 'EtcdUnavailable';
  readonly code: ErrorCode = 'ETCD_UNAVAILABLE';
}

/** A task ended failed; `task` is its record (its `error` says why). */
export class TaskFailed extends Error {
  override name = 'TaskFailed';
  readonly code: ErrorCode = 'TASK_FAILED';
  constructor(readonly task: Task) {
    super(`${task.kind} ${task.cluster} failed: ${task.error ?? 'failed'} (task ${task.id})`);
  }
}

/** The caller's AbortSignal fired while following a task: the task itself goes on in the scheduler. */
export { FollowAborted as Aborted } from '../cluster/errors.js';
