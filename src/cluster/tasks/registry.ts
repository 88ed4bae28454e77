// Every task kind the scheduler runs, in one table: adding a kind is its module, its entry here
// and its CLI command. The scheduler dispatches through runTask and knows no kind by name.
import { configKey } from '../../state/keys.js';
import { getJson, pruneTasks, putTask, startTask, type ClusterConfig, type Task, type TaskKind, type TaskOf } from '../store.js';
import type { TaskContext } from './context.js';
import { configTask } from './config.js';
import { createTask } from './create.js';
import { deleteTask } from './delete.js';
import { failoverTask } from './failover.js';
import { passwordTask } from './password.js';
import { rebalanceTask, scaleTask } from './reshape.js';
import { restartTask } from './restart.js';
import { rollTask } from './roll.js';

/** A kind of task: how it runs, and what undoes a failed run (a create is rolled back). */
export interface TaskKindModule<T extends Task> {
  run(ctx: TaskContext, task: T): Promise<void>;
  /** After a failure, before the failed record is written; may add to task.error. */
  onFailure?(ctx: TaskContext, task: T, e: unknown): Promise<void>;
}

type Registry = { [K in TaskKind]: TaskKindModule<TaskOf<K>> };

export const TASK_KINDS: Registry = {
  create: createTask,
  delete: deleteTask,
  restart: restartTask,
  scale: scaleTask,
  rebalance: rebalanceTask,
  failover: failoverTask,
  roll: rollTask,
  config: configTask,
  password: passwordTask,
};

function moduleOf<K extends TaskKind>(kind: K): TaskKindModule<TaskOf<K>> {
  return TASK_KINDS[kind];
}

/** Run a task to its end and record the outcome. */
export async function runTask(ctx: TaskContext, task: Task): Promise<Task> {
  if (!(await startTask(ctx.etcd, task))) return task;
  const kind = moduleOf(task.kind) as TaskKindModule<Task>;
  try {
    await kind.run(ctx, task);
    task.state = 'done';
    task.error = undefined;
  } catch (e) {
    task.state = 'failed';
    task.error = (e as Error).message;
    ctx.log(`${task.id}: failed: ${task.error}`);
    await kind.onFailure?.(ctx, task, e);
  }
  await putTask(ctx.etcd, task);
  // The create that `show` names stays, however old.
  const cfg = await getJson<ClusterConfig>(ctx.etcd, configKey(task.cluster));
  await pruneTasks(ctx.etcd, task.cluster, new Set([task.id, ...(cfg ? [cfg.task] : [])]));
  return task;
}
