import { randomBytes } from 'node:crypto';
import { shq } from '../shell.js';
import type { Handler, HostContext, OpResult, Operation, Plan, Status, Step } from '../ops/types.js';
import { planFromProbe } from '../ops/facts.js';
import type { HostPlan } from './runbook.js';

export type Report = (r: OpResult) => void;

/** Run every probe in one round trip; returns each operation's output by index. */
export async function probeAll(ctx: HostContext, ops: readonly Operation[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const idx = ops.map((op, i) => (op.fact && !op.waits ? i : -1)).filter((i) => i >= 0);
  if (!idx.length) return out;
  const tok = `@@ovl-${randomBytes(6).toString('hex')}`;
  // A { } group, not a ( ) subshell: a fork per probe is most of a no-op run's work on the
  // host. So a probe must not `exit` or leave `set -e` behind.
  const script = idx.map((i) => `echo ${tok}:${i}\n{ ${ops[i]!.fact!.probe}\n} 2>/dev/null`).join('\n');
  const r = await ctx.remote.exec(script);
  let current = -1;
  const lines: string[] = [];
  const flush = () => current >= 0 && out.set(current, lines.splice(0).join('\n'));
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith(`${tok}:`)) {
      flush();
      current = Number(line.slice(tok.length + 1));
    } else if (current >= 0) lines.push(line);
  }
  flush();
  for (const i of idx) if (!out.has(i)) throw new Error(`probing failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
  return out;
}

/** Converge `ops` on the host now, outside a run's checklist (their notifications are the
 * caller's): a runbook's own sequence, such as moving etcd to TLS one member at a time. */
export async function applyNow(ctx: HostContext, ops: readonly Operation[]): Promise<boolean> {
  const probed = await probeAll(ctx, ops);
  let changed = false;
  for (const [i, op] of ops.entries()) {
    const p = op.plan(await factFor(ctx, op, probed, i), ctx);
    if (p.change) {
      await runSteps(ctx, p.steps ?? []);
      changed = true;
    }
  }
  return changed;
}

async function runSteps(ctx: HostContext, steps: Step[]): Promise<void> {
  for (const step of steps) {
    if (step.kind === 'exec') await ctx.remote.run(step.script, step.stdin);
    else if (step.kind === 'upload') await ctx.remote.upload(step.local, step.remote);
    else await step.run(ctx);
  }
}

/** What an operation plans from: read, probed now (a wait's), or parsed from the batch's output. */
async function factFor(ctx: HostContext, op: Operation, probed: Map<number, string>, i: number): Promise<unknown> {
  if (op.read) return op.read(ctx);
  if (!op.fact) return undefined;
  return op.fact.parse(op.waits ? (await ctx.remote.exec(op.fact.probe)).stdout : (probed.get(i) ?? ''));
}

interface Outcome {
  status: Status;
  plan?: Plan;
}

async function runOne(
  ctx: HostContext,
  component: string,
  op: Operation,
  fact: () => Promise<unknown>,
  before: Step[],
  report: Report,
): Promise<Outcome> {
  const t0 = Date.now();
  const done = (status: Status, reason: string, extra: Partial<OpResult> = {}): Outcome => {
    report({ component, host: ctx.host.name, title: op.title, status, reason, ms: Date.now() - t0, ...(op.notable ? { notable: true } : {}), ...extra });
    return { status };
  };
  if (ctx.check && op.waits) return done('skipped', 'not waited for in --check mode');
  let plan: Plan;
  try {
    plan = op.plan(await fact(), ctx);
  } catch (e) {
    return done('failed', 'cannot plan', { error: (e as Error).message });
  }
  if (!plan.change) return done('ok', plan.reason);
  if (ctx.check) return { ...done('changed', `would be ${plan.reason}`, { diff: plan.diff }), plan };
  try {
    await runSteps(ctx, [...before, ...plan.steps]);
  } catch (e) {
    return done('failed', plan.reason, { error: (e as Error).message, diff: plan.diff });
  }
  return { ...done('changed', plan.reason, { diff: plan.diff }), plan };
}

/**
 * One component on one host: probe everything in one round trip, then plan and apply each
 * operation in order; stop at the first failure. Handlers run last, for what this run
 * notified or an earlier run left owed.
 */
export async function runHostPlan(ctx: HostContext, component: string, hp: HostPlan, report: Report, probedAlready?: Map<number, string>): Promise<Status> {
  const handlers = Object.entries(hp.handlers ?? {});
  const handlerOps = handlers.map(([, h]) => h.operation);
  const probed = probedAlready ?? (await probeAll(ctx, [...hp.operations, ...handlerOps]));
  const n = hp.operations.length;
  const owed = new Set(handlers.filter(([, h], j) => h.operation.fact.parse(probed.get(n + j) ?? '')).map(([name]) => name));
  const notified = new Set<string>();
  let changed = false;

  const touchOf = (op: Operation): Step[] => {
    const marks = (op.notify ?? []).map((name) => markerOf(hp, name));
    return marks.length ? [{ kind: 'exec', script: marks.map((m) => `mkdir -p "$(dirname ${shq(m)})" && touch ${shq(m)}`).join('\n') }] : [];
  };
  const skipRest = (from: number) => {
    for (const rest of hp.operations.slice(from)) {
      report({ component, host: ctx.host.name, title: rest.title, status: 'skipped', reason: 'an earlier step failed', ms: 0 });
    }
  };
  for (let i = 0; i < n; ) {
    // Operations planned from the batched probe whose changes are plain commands run together,
    // in one round trip; a read, a wait or an upload runs on its own.
    const batch = ctx.check ? [] : execBatch(ctx, hp.operations, probed, i, touchOf);
    if (batch.length > 1) {
      const outcome = await runBatch(ctx, component, batch, report);
      for (const b of batch.slice(0, outcome.done)) {
        if (b.plan.change) {
          changed = true;
          for (const name of b.op.notify ?? []) notified.add(name);
        }
      }
      if (outcome.failed) {
        skipRest(i + outcome.done + 1);
        return 'failed';
      }
      i += batch.length;
      continue;
    }
    const op = hp.operations[i]!;
    const at = i;
    const res = await runOne(ctx, component, op, () => factFor(ctx, op, probed, at), touchOf(op), report);
    if (res.status === 'failed') {
      skipRest(i + 1);
      return 'failed';
    }
    if (res.status === 'changed') {
      changed = true;
      for (const name of op.notify ?? []) notified.add(name);
    }
    i++;
  }

  const due = handlers.filter(([name]) => notified.has(name) || owed.has(name));
  if (due.length) {
    const fresh = ctx.check ? new Map<number, string>() : await probeAll(ctx, due.map(([, h]) => h.operation));
    for (let j = 0; j < due.length; j++) {
      const [name, h] = due[j]!;
      // In --check mode nothing was marked: a notified handler counts as owed.
      const fact = async () => (ctx.check ? true : h.operation.fact.parse(fresh.get(j) ?? ''));
      const res = await runOne(ctx, component, { ...h.operation, title: `handler: ${h.operation.title}${owed.has(name) && !notified.has(name) ? ' (owed by an earlier run)' : ''}` }, fact, [], report);
      if (res.status === 'failed') return 'failed';
      if (res.status === 'changed') changed = true;
    }
  }
  return changed ? 'changed' : 'ok';
}

function markerOf(hp: HostPlan, name: string): string {
  const h: Handler | undefined = hp.handlers?.[name];
  if (!h) throw new Error(`operation notifies unknown handler "${name}"`);
  return h.marker;
}

interface Planned {
  op: Operation;
  plan: Plan;
  /** Commands to run (notify markers first), when the plan changes something. */
  script?: string;
}

/** From `start`, the longest run of operations planned from probes whose changes are only commands. */
function execBatch(ctx: HostContext, ops: readonly Operation[], probed: Map<number, string>, start: number, touchOf: (op: Operation) => Step[]): Planned[] {
  const out: Planned[] = [];
  for (let i = start; i < ops.length; i++) {
    const op = ops[i]!;
    if (op.read || op.waits) break;
    let plan: Plan;
    try {
      plan = planFromProbe(op, probed.get(i) ?? '', ctx);
    } catch {
      break;
    }
    if (!plan.change) {
      out.push({ op, plan });
      continue;
    }
    const steps = [...touchOf(op), ...plan.steps];
    if (!steps.every((st) => st.kind === 'exec')) break;
    out.push({ op, plan, script: steps.map((st) => (st.kind === 'exec' ? inline(st.script, st.stdin) : '')).join('\n') });
  }
  return out;
}

/** A step as a self-contained command: its own subshell, its stdin carried inline as base64. */
function inline(script: string, stdin?: string | Buffer): string {
  const body = `(\n${script}\n)`;
  if (stdin === undefined) return `${body} </dev/null`;
  return `printf %s ${shq(Buffer.from(stdin).toString('base64'))} | base64 -d | ${body}`;
}

/** Run a batch in one script; stops at the first failing operation. Reports every operation. */
async function runBatch(ctx: HostContext, component: string, batch: Planned[], report: Report): Promise<{ done: number; failed: boolean }> {
  const t0 = Date.now();
  const tok = `@@ovl-${randomBytes(6).toString('hex')}`;
  const parts = batch.map((b, j) => (b.script ? `echo ${tok}:${j}:begin\n{ ${b.script}\n} 2>&1\nrc=$?; echo ${tok}:${j}:end:$rc; [ $rc = 0 ] || exit 0` : ''));
  const r = await ctx.remote.exec(parts.filter(Boolean).join('\n'));
  const ends = new Map<number, number>();
  const output = new Map<number, string[]>();
  let current = -1;
  for (const line of r.stdout.split('\n')) {
    const m = line.startsWith(`${tok}:`) ? /^[^:]+:(\d+):(begin|end):?(\d*)$/.exec(line) : null;
    if (m) {
      current = m[2] === 'begin' ? Number(m[1]) : -1;
      if (m[2] === 'end') ends.set(Number(m[1]), Number(m[3]));
    } else if (current >= 0) output.set(current, [...(output.get(current) ?? []), line]);
  }
  const ms = Date.now() - t0;
  for (let j = 0; j < batch.length; j++) {
    const { op, plan } = batch[j]!;
    const base = { component, host: ctx.host.name, title: op.title, ms, ...(op.notable ? { notable: true } : {}) };
    if (!plan.change) {
      report({ ...base, status: 'ok', reason: plan.reason });
      continue;
    }
    const rc = ends.get(j);
    if (rc === 0) {
      report({ ...base, status: 'changed', reason: plan.reason, diff: plan.diff });
      continue;
    }
    const error = rc === undefined ? `no result (exit ${r.code}): ${r.stderr.trim().slice(-500)}` : `exit ${rc}: ${(output.get(j) ?? []).join('\n').trim().slice(-2000)}`;
    report({ ...base, status: 'failed', reason: plan.reason, error, diff: plan.diff });
    return { done: j, failed: true };
  }
  return { done: batch.length, failed: false };
}
