// Following a task to its end, as `--wait` does: the steps as they are recorded, and the task run
// in this process when no scheduler leads (a create --wait works without a daemon).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import type { Inventory } from '../inventory/types.js';
import { taskKey } from '../state/keys.js';
import { FollowAborted, LeadershipLost } from './errors.js';
import { getTask, taskEnded, type Task } from './task-store.js';

type Out = (line: string) => void;

const FOLLOW_PATIENCE_MS = 120_000;

/**
 * Follow a task until it ends (`out` hears each step); with no scheduler leading, run the
 * scheduling in this process. A lost leadership of that scheduler is thrown (LeadershipLost).
 */
export async function runOrFollow(inv: Inventory, etcd: Etcd3, taskId: string, out: Out, signal?: AbortSignal): Promise<Task> {
  let inProcess: Promise<void> | undefined;
  let lost: LeadershipLost | undefined;
  let lastStep = '';
  let checkedLeader = 0;
  // Woken by every change of the task's key; a read at least every second in any case (the
  // leader check, and a watch that etcd dropped).
  let wake = () => {};
  let timer: NodeJS.Timeout | undefined;
  // A watch is a stream (no call deadline): one that etcd does not set up in a few seconds (a
  // machine overloaded by the cluster being started) is done without; the reads below follow.
  const creating = etcd.watch().key(taskKey(taskId)).create();
  const watcher = await Promise.race([creating.catch(() => undefined), sleep(5000, undefined, { ref: false })]);
  if (!watcher) void creating.then((w) => w.cancel()).catch(() => undefined);
  watcher?.on('put', () => wake()).on('delete', () => wake()).on('error', () => undefined);
  // etcd slow to answer (a machine overloaded by the very cluster being started) does not stop
  // the task, which runs in the scheduler: keep following for a while rather than give up.
  let unanswered: number | undefined;
  const onAbort = () => wake();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (lost) throw lost;
      // The caller stops following; the task goes on in its scheduler (this process's own, when
      // it runs one, until the task ends or the process exits).
      if (signal?.aborted) throw new FollowAborted(`stopped following task ${taskId}; it goes on (ovl cluster show)`);
      clearTimeout(timer);
      const changed = new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, 1000);
      });
      let t: Task | null;
      try {
        t = await getTask(etcd, taskId);
        unanswered = undefined;
      } catch (e) {
        unanswered ??= Date.now();
        if (Date.now() - unanswered > FOLLOW_PATIENCE_MS) throw e;
        out(`etcd does not answer (${(e as Error).message.split('\n')[0]!.slice(0, 120)}); still following`);
        await changed;
        continue;
      }
      if (!t) throw new Error(`task ${taskId} disappeared`);
      if (t.step !== lastStep) {
        out(t.step);
        lastStep = t.step;
      }
      if (taskEnded(t)) {
        await inProcess;
        return t;
      }
      if (!inProcess && Date.now() - checkedLeader > 1000) {
        checkedLeader = Date.now();
        // Loaded only here: most commands never schedule, and the scheduler brings Mesos' code.
        const { leader, runScheduler } = await import('./scheduler.js');
        if (!(await leader(etcd).catch(() => 'unknown'))) {
          out('no scheduler is running: scheduling in this process');
          // OVL_TRACE=1: the in-process scheduler's log on stderr.
          const log = process.env.OVL_TRACE ? (l: string) => process.stderr.write(`[scheduler] ${l}\n`) : () => {};
          inProcess = runScheduler({ inv, until: taskId, log }).finally(() => (inProcess = undefined));
          inProcess.catch((e: Error) => {
            if (e instanceof LeadershipLost) {
              lost = e;
              wake();
            } else out(`in-process scheduler: ${e.message}`);
          });
        }
      }
      await changed;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // A pending timer would keep the process up to a second after the task ended.
    clearTimeout(timer);
    await watcher?.cancel().catch(() => undefined);
  }
}

