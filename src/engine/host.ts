import { randomBytes } from 'node:crypto';
import { shq } from '../shell.js';
import type { Handler, HostContext, OpResult, Operation, Plan, Status, Step } from '../ops/types.js';
import type { HostPlan } from './runbook.js';

export type Report = (r: OpResult) => void;

/** Run every probe in one round trip; returns each operation's output by index. */
export async function probeAll(ctx: HostContext, ops: readonly Operation[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const idx = ops.map((op, i) => (op.probe && !op.waits ? i : -1)).filter((i) => i >= 0);
  if (!idx.length) return out;
  const tok = `@@ovl-${randomBytes(6).toString('hex')}`;
  const script = idx.map((i) => `echo ${tok}:${i}\n( ${ops[i]!.probe}\n) 2>/dev/null`).join('\n');
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

async function runSteps(ctx: HostContext, steps: Step[]): Promise<void> {
  for (const step of steps) {
    if (step.kind === 'exec') await ctx.remote.run(step.script, step.stdin);
    else if (step.kind === 'upload') await ctx.remote.upload(step.local, step.remote);
    else await step.run(ctx);
  }
}

async function factFor(ctx: HostContext, op: Operation, probed: Map<number, string>, i: number): Promise<string> {
  if (op.read) return op.read(ctx);
  if (op.waits && op.probe) return (await ctx.remote.exec(op.probe)).stdout;
  return probed.get(i) ?? '';
}

interface Outcome {
  status: Status;
  plan?: Plan;
}

async function runOne(
  ctx: HostContext,
  component: string,
  op: Operation,
  fact: () => Promise<string>,
  before: Step[],
  report: Report,
): Promise<Outcome> {
  const t0 = Date.now();
  const done = (status: Status, reason: string, extra: Partial<OpResult> = {}): Outcome => {
    report({ component, host: ctx.host.name, title: op.title, status, reason, ms: Date.now() - t0, ...extra });
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
export async function runHostPlan(ctx: HostContext, component: string, hp: HostPlan, report: Report): Promise<Status> {
  const handlers = Object.entries(hp.handlers ?? {});
  const handlerOps = handlers.map(([, h]) => h.operation);
  const probed = await probeAll(ctx, [...hp.operations, ...handlerOps]);
  const n = hp.operations.length;
  const owed = new Set(handlers.filter((_, j) => probed.get(n + j)?.trim() === 'pending').map(([name]) => name));
  const notified = new Set<string>();
  let changed = false;

  for (let i = 0; i < n; i++) {
    const op = hp.operations[i]!;
    const marks = (op.notify ?? []).map((name) => markerOf(hp, name));
    const touch: Step[] = marks.length ? [{ kind: 'exec', script: marks.map((m) => `mkdir -p "$(dirname ${shq(m)})" && touch ${shq(m)}`).join('\n') }] : [];
    const res = await runOne(ctx, component, op, () => factFor(ctx, op, probed, i), touch, report);
    if (res.status === 'failed') {
      for (const rest of hp.operations.slice(i + 1)) {
        report({ component, host: ctx.host.name, title: rest.title, status: 'skipped', reason: 'an earlier step failed', ms: 0 });
      }
      return 'failed';
    }
    if (res.status === 'changed') {
      changed = true;
      for (const name of op.notify ?? []) notified.add(name);
    }
  }

  const due = handlers.filter(([name]) => notified.has(name) || owed.has(name));
  if (due.length) {
    const fresh = ctx.check ? new Map<number, string>() : await probeAll(ctx, due.map(([, h]) => h.operation));
    for (let j = 0; j < due.length; j++) {
      const [name, h] = due[j]!;
      const fact = async () => (ctx.check ? 'pending' : fresh.get(j) ?? '');
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
