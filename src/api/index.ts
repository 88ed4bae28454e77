// The package's entry point: `import { openFleet } from 'ovl'`. docs/api.md describes it.
export type { Task } from '../cluster/task-store.js';
export { openFleet, Fleet, ClusterHandle, checkResult, type CheckResult, type CreateSpec, type HostView } from './fleet.js';
export { bootstrap, type BootstrapOptions } from './bootstrap.js';
export type { ClusterSummary, RestartOptions, TaskOptions } from './clusters.js';
export { NotFound, EtcdUnavailable, TaskFailed, Aborted, type ErrorCode } from './errors.js';
export { UsageError } from '../commands/errors.js';
export { InventoryError } from '../inventory/problems.js';
export { ConflictError } from '../cluster/errors.js';
export { PlacementError } from '../cluster/placement.js';
export type { ClusterConfig, InstanceInfo } from '../cluster/store.js';
export type { Plan, PlannedInstance, ClusterType } from '../cluster/types.js';
export type { RunResult, HostRecap } from '../engine/run.js';
export type { OpResult } from '../ops/types.js';
export type { NodeReport } from '../cluster/check.js';
