// Mesos task ids and task states as the framework reads them.
import type { TaskStatus } from './api.js';
import type { PlannedInstance } from '../cluster/types.js';

/** The task did not run to its end: failed, lost, dropped, gone or killed. */
export const FAILED: ReadonlySet<TaskStatus['state']> = new Set(['TASK_FAILED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR', 'TASK_UNREACHABLE', 'TASK_UNKNOWN', 'TASK_KILLED']);

/** Terminal states: the task is gone. */
export const ENDED: ReadonlySet<TaskStatus['state']> = new Set([...FAILED, 'TASK_FINISHED']);

/** Mesos task ids: ovl.<cluster>.<ip>_<port>.<nonce>, so that any scheduler can tell whose it is. */
export function mesosTaskId(cluster: string, inst: PlannedInstance): string {
  return `ovl.${cluster}.${inst.address}_${inst.port}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export function parseMesosTaskId(id: string): { cluster: string; addr: string } | null {
  const m = /^ovl\.([a-z0-9-]+)\.(\d+\.\d+\.\d+\.\d+)_(\d+)\.[a-z0-9]+$/.exec(id);
  return m ? { cluster: m[1]!, addr: `${m[2]}:${m[3]}` } : null;
}

/** What a status update says, for the task's error and the log: state (reason): message. */
export function statusText(s: TaskStatus): string {
  return `${s.state}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}`;
}

/** Updates that say the task's agent is gone for good (removed by the master or an operator). */
const GONE_STATES: ReadonlySet<string> = new Set(['TASK_GONE', 'TASK_GONE_BY_OPERATOR']);
const AGENT_REMOVED = /^REASON_(AGENT|SLAVE)_REMOVED/;

export function agentRemoved(s: TaskStatus): boolean {
  return GONE_STATES.has(s.state) || AGENT_REMOVED.test(s.reason ?? '');
}
