// Consistency check of a deployed cluster against its plan: used by `ovl cluster create` before
// it says done, and by `ovl cluster check` (whose exit code says healthy or not).
//
// Every instance is asked directly (Redis protocol through ioredis, memcached's text protocol
// over a raw TCP socket), up to `concurrency` at a time, one connection and one round trip
// each, with short timeouts and no retries. Every connection is closed before checkCluster
// returns, whatever happened. The password goes out as the first pipelined command (AUTH)
// rather than through ioredis's `password` option: a refused or unneeded password then becomes
// a problem of that instance instead of a console.warn from ioredis (the password itself never
// appears in a problem: Redis's error messages do not echo it).
//
// What "healthy" means, per type (each failure becomes one problem naming `ip:port (host)`):
//  redis_cluster: every node answers PING and runs the planned version; CLUSTER INFO says
//    cluster_state:ok; CLUSTER NODES on every node shows exactly the plan: its own line
//    (`myself`) carries the planned node id, role, master and slots; every other planned node is
//    known at its planned address with its planned role/master/slots and is not flagged
//    fail/fail?/handshake/noaddr; no node outside the plan is known. Since the plan's slot map
//    covers 0..16383 exactly once (checked too), equal to the plan on every node means the same
//    complete map everywhere. Replicas must also show master_link_status:up in INFO replication
//    (cluster_state:ok alone proves nothing on a replica: it says ok before talking to anyone).
//  redis: masters say role:master with exactly their planned replicas connected (online);
//    replicas say role:slave of their planned master with master_link_status:up.
//  memcache: every node answers `version` (the planned version) and `stats` (accepting_conns 1).
//  Retired instances (replaced by restart --move) do not answer at their old addresses.
//  The plan itself: unique ids and addresses, every replica's master in the plan, and no master
//    on the same host as one of its replicas.
// Observations one node makes about another (CLUSTER NODES) are grouped by the node they are
// about: "10.0.0.3:7001 (h3): is flagged fail (seen by 599 nodes: ...)" rather than 599 lines.

import { mapLimit } from '../util/semaphore.js';
import { withAdmin } from './admin.js';
import { Context, EXAMPLES, instanceLabel, short } from './check/context.js';
import { memcacheRound, probeMemcache } from './check/memcache.js';
import { crossCheckReplication, probeClusterNode, probeRedisNode } from './check/redis.js';
import { untilReady } from './readiness.js';
import { SLOT_COUNT, formatSlots } from './slots.js';
import type { InstanceRole, Plan } from './types.js';
import type { ClusterAuth } from './auth.js';

export { instanceLabel };

export interface NodeReport {
  address: string;
  port: number;
  host: string;
  role: InstanceRole;
  /** The instance accepted a connection and answered (possibly with errors). */
  answered: boolean;
  /** Problems of this instance, without the `ip:port (host): ` prefix (CheckReport.problems has it). */
  problems: string[];
}

export interface CheckReport {
  /** No problem at all. */
  healthy: boolean;
  /** Every problem, each a sentence starting with the instance it is about (`ip:port (host): `):
   * the plan's own problems first, then the instances' in plan order, then nodes outside the plan. */
  problems: string[];
  /** One per planned instance, in plan order. */
  nodes: NodeReport[];
  /** Duration of the check in milliseconds. */
  ms: number;
}

export interface CheckOptions {
  /** Password of the instances (Redis AUTH). Never printed. */
  auth?: ClusterAuth;
  /** Connect timeout and command timeout per instance, ms; default 2000. */
  timeoutMs?: number;
  /** Instances checked at the same time; default 64. */
  concurrency?: number;
}

export interface WaitOptions {
  auth?: ClusterAuth;
  /** Give up after this long (ms) and return the last report. */
  timeoutMs: number;
  /** Pause between two checks, ms; default 250. */
  intervalMs?: number;
  /** Per-instance timeout of each check (CheckOptions.timeoutMs); default 2000, never more than
   * the time left. */
  nodeTimeoutMs?: number;
  concurrency?: number;
  /** Called with every report (progress display). */
  onReport?: (report: CheckReport) => void;
  /** Stop checking: the last report is returned (the first check is made in any case). */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 2000;

const DEFAULT_CONCURRENCY = 64;

/** Check every instance of the plan once. Never throws for an unhealthy cluster. */
export async function checkCluster(plan: Plan, opts: CheckOptions = {}): Promise<CheckReport> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const auth = opts.auth;

  const ctx = new Context(plan);
  const planProblems = checkPlan(plan, ctx);
  const probe =
    plan.type === 'memcache'
      ? (k: number) => probeMemcache(ctx, k, timeoutMs)
      : plan.type === 'redis_cluster'
        ? (k: number) => probeClusterNode(ctx, k, timeoutMs, auth)
        : (k: number) => probeRedisNode(ctx, k, timeoutMs, auth);
  await mapLimit(plan.instances, concurrency, (_, k) => probe(k));
  if (plan.type === 'redis') crossCheckReplication(ctx);
  const global = ctx.finishViews();

  const problems = [...planProblems];
  for (const n of ctx.nodes) for (const p of n.problems) problems.push(`${instanceLabel(n)}: ${p}`);
  problems.push(...global);
  // An instance replaced by restart --move that still serves (its host was cut off, not lost):
  // clients that knew its address may still write to it.
  const zombies = await Promise.all((plan.retired ?? []).map(async (r) => ((await serves(plan, r, auth, Math.min(timeoutMs, 1000))) ? r : undefined)));
  for (const r of zombies) if (r) problems.push(`${instanceLabel(r)}: retired (${r.movedTo ? `replaced by ${r.movedTo}, task ${r.task}` : `removed by task ${r.task}`}) but still serving: ovl cluster restart ${plan.cluster} stops it once ${r.host} answers over SSH`);
  return { healthy: problems.length === 0, problems, nodes: ctx.nodes, ms: Math.round(performance.now() - started) };
}

/** Check until healthy or `timeoutMs` has passed; returns the last report. */
export async function waitHealthy(plan: Plan, opts: WaitOptions): Promise<CheckReport> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 250;
  for (;;) {
    // A forming Redis Cluster is asked cheaply first; the full check confirms.
    if (plan.type === 'redis_cluster') await untilReady(plan, { auth: opts.auth, deadline, signal: opts.signal });
    const left = deadline - Date.now();
    const report = await checkCluster(plan, {
      auth: opts.auth,
      timeoutMs: Math.max(100, Math.min(opts.nodeTimeoutMs ?? DEFAULT_TIMEOUT_MS, left)),
      concurrency: opts.concurrency,
    });
    opts.onReport?.(report);
    const rest = deadline - Date.now();
    if (report.healthy || rest <= 0 || opts.signal?.aborted) return report;
    await new Promise((r) => setTimeout(r, Math.min(interval, rest)));
  }
}

function checkPlan(plan: Plan, ctx: Context): string[] {
  const out: string[] = [];
  const label = instanceLabel;
  if (plan.instances.length === 0) out.push(`plan ${plan.cluster}: has no instances`);
  const ids = new Set<string>();
  const addrs = new Set<string>();
  for (const i of plan.instances) {
    if (ids.has(i.id)) out.push(`${label(i)}: the plan gives node id ${i.id} to more than one instance`);
    ids.add(i.id);
    const a = `${i.address}:${i.port}`;
    if (addrs.has(a)) out.push(`${label(i)}: the plan has more than one instance at ${a}`);
    addrs.add(a);
    const roleOk = plan.type === 'memcache' ? i.role === 'node' : i.role === 'master' || i.role === 'replica';
    if (!roleOk) out.push(`${label(i)}: role ${i.role} in a ${plan.type} plan`);
  }
  if (plan.type === 'memcache') return out;

  plan.instances.forEach((i, k) => {
    if (i.role !== 'replica') return;
    const m = ctx.masterOf(k);
    if (!m || m.role !== 'master') {
      out.push(`${label(i)}: its master ${i.masterId ?? '(none)'} is not a master of the plan`);
      return;
    }
    if (m.host === i.host) out.push(`${label(i)}: the plan puts this replica on the same host as its master ${label(m)}`);
  });

  if (plan.type === 'redis_cluster') {
    const owners = new Int32Array(SLOT_COUNT).fill(-1);
    const doubled: string[] = [];
    plan.instances.forEach((i, k) => {
      if (i.role !== 'master') {
        if (i.slots?.length) out.push(`${label(i)}: the plan gives slots to a replica`);
        return;
      }
      const ranges = [...(i.slots ?? [])].sort((a, b) => a[0] - b[0]);
      const merged: [number, number][] = [];
      for (const [from, to] of ranges) {
        if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to >= SLOT_COUNT || from > to) {
          out.push(`${label(i)}: the plan has an invalid slot range ${from}-${to}`);
          continue;
        }
        for (let s = from; s <= to; s++) {
          if (owners[s] !== -1 && doubled.length < EXAMPLES) doubled.push(`${s}`);
          owners[s] = k;
        }
        const last = merged[merged.length - 1];
        if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
        else merged.push([from, to]);
      }
      ctx.expectedSlots.set(k, formatSlots(merged));
    });
    if (doubled.length > 0) out.push(`plan ${plan.cluster}: slots assigned more than once (e.g. ${doubled.join(', ')})`);
    const free: string[] = [];
    for (let s = 0; s < SLOT_COUNT; s++) {
      if (owners[s] !== -1) continue;
      let e = s;
      while (e + 1 < SLOT_COUNT && owners[e + 1] === -1) e++;
      free.push(s === e ? `${s}` : `${s}-${e}`);
      s = e;
    }
    if (free.length > 0) out.push(`plan ${plan.cluster}: slots not assigned to any master: ${short(free.join(' '))}`);
  }
  return out;
}

/** Whether an instance answers its protocol's simplest question within timeoutMs: PING, or
 * memcached's `version`. A process that is there but frozen does not. */
export async function serves(plan: Plan, i: { address: string; port: number }, auth: ClusterAuth | undefined, timeoutMs: number): Promise<boolean> {
  if (plan.type === 'memcache') return memcacheRound(i.address, i.port, timeoutMs).then(() => true, () => false);
  return withAdmin(i, { auth, answerMs: timeoutMs }, (c) => c.ping()).then((r) => r === 'PONG', () => false);
}
