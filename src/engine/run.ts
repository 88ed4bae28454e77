import type { HostSpec, Inventory } from '../inventory/types.js';
import { hostsOf } from '../inventory/types.js';
import { gatherFacts } from '../ops/facts.js';
import type { HostContext, OpResult, Status } from '../ops/types.js';
import { Remote } from '../ssh/remote.js';
import { mapLimit } from '../util/semaphore.js';
import { rollingRestart } from './rolling.js';
import { probeAll, runHostPlan } from './host.js';
import type { AnyRunbook, ComponentRun, HostPlan } from './runbook.js';

export interface RunOptions {
  check: boolean;
  forks: number;
  acceptNewHostKeys: boolean;
  /** Components to run, in inventory order. */
  components: string[];
  /** Hosts this run may touch. */
  hosts: Set<string>;
  /** Remove what runs but the inventory no longer lists (`--prune`). */
  prune?: boolean;
}

export interface HostRecap {
  host: string;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: boolean;
  /** First error met on the host. */
  error?: string;
}

/** What the run tells whoever shows it (listr2 tree, plain lines, JSON). */
export interface RunEvents {
  componentStart(name: string, hosts: string[]): void;
  hostStart(component: string, host: string): void;
  result(r: OpResult): void;
  hostEnd(component: string, host: string, status: Status, error?: string): void;
  componentEnd(name: string): void;
}

export interface RunResult {
  recap: HostRecap[];
  results: OpResult[];
  ms: number;
}

/**
 * Components strictly in order; within one, hosts in parallel (at most `forks`), one SSH
 * connection per host for the whole run. A failed host is left out of later components.
 */
// OVL_TRACE=1: phase timings on stderr, to see where a run's time goes.
const trace = process.env.OVL_TRACE ? (t0: number, what: string) => process.stderr.write(`[trace] ${String(Date.now() - t0).padStart(5)} ms ${what}\n`) : () => {};

export async function runComponents(inv: Inventory, runbooks: Record<string, AnyRunbook>, opts: RunOptions, ev: RunEvents): Promise<RunResult> {
  const t0 = Date.now();
  const results: OpResult[] = [];
  const recap = new Map<string, HostRecap>();
  const targets = inv.hosts.filter((h) => opts.hosts.has(h.name) && opts.components.some((c) => inv.server[c]?.includes(h.name)));
  for (const h of targets) recap.set(h.name, { host: h.name, ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: false });
  const note = (r: OpResult) => {
    results.push(r);
    const rc = recap.get(r.host)!;
    rc[r.status]++;
    if (r.status === 'failed') rc.error ??= `${r.title}: ${r.error ?? r.reason}`;
    ev.result(r);
  };

  const contexts = new Map<string, HostContext>();
  await mapLimit(targets, opts.forks, async (host: HostSpec) => {
    try {
      const remote = await Remote.connect(host, { acceptNewHostKeys: opts.acceptNewHostKeys });
      try {
        contexts.set(host.name, { host, inv, remote, check: opts.check, facts: await gatherFacts(remote) });
      } catch (e) {
        remote.close();
        throw e;
      }
    } catch (e) {
      const rc = recap.get(host.name)!;
      rc.unreachable = true;
      rc.error = (e as Error).message;
      // Counted once, by note: the host is then left out of every component.
      note({ component: 'connect', host: host.name, title: 'connect and gather facts', status: 'failed', reason: 'unreachable', error: rc.error, ms: 0 });
    }
  });

  trace(t0, `connected to ${contexts.size} host(s), facts read`);
  const componentRun = (name: string): ComponentRun => {
    const all = hostsOf(inv, name);
    const hosts = all.map((h) => contexts.get(h.name)).filter((c): c is HostContext => !!c && !recap.get(c.host.name)!.failed);
    return { name, inv, check: opts.check, prune: !!opts.prune, allHosts: all, hosts };
  };
  try {
    const early = await prefetch(opts.components.map((n) => ({ runbook: runbooks[n]!, comp: { ...componentRun(n), early: true } })), opts.forks);
    trace(t0, `every component prepared and probed (${early.size} of ${opts.components.length})`);
    // Prepared and probed state stays true until something changes or fails.
    let pristine = true;
    for (const name of opts.components) {
      const runbook = runbooks[name];
      if (!runbook) throw new Error(`no runbook for component ${name}`);
      const comp = componentRun(name);
      const { hosts } = comp;
      if (!hosts.length) continue;
      ev.componentStart(name, hosts.map((h) => h.host.name));
      const pre = pristine ? early.get(name) : undefined;
      let shared: unknown = pre?.shared;
      let prepError: string | undefined;
      if (!pre) {
        try {
          shared = runbook.prepare ? await runbook.prepare(comp) : undefined;
        } catch (e) {
          prepError = (e as Error).message;
        }
      }
      const statuses = new Map<string, Status>();
      const phase = (plan: (ctx: HostContext) => HostPlan, probed: (ctx: HostContext) => Map<number, string> | undefined = () => undefined) =>
        mapLimit(hosts, opts.forks, async (ctx) => {
          const host = ctx.host.name;
          if (statuses.get(host) === 'failed') return;
          let status: Status;
          try {
            if (prepError) throw new Error(prepError);
            status = await runHostPlan(ctx, name, plan(ctx), note, probed(ctx));
          } catch (e) {
            note({ component: name, host, title: `${name} on ${host}`, status: 'failed', reason: 'error', error: (e as Error).message, ms: 0 });
            status = 'failed';
          }
          const before = statuses.get(host);
          statuses.set(host, before === 'changed' && status === 'ok' ? 'changed' : status);
        });
      trace(t0, `${name}: prepared`);
      for (const ctx of hosts) ev.hostStart(name, ctx.host.name);
      await phase((ctx) => pre?.plans.get(ctx.host.name) ?? runbook.host(ctx, comp, shared), (ctx) => pre?.probes.get(ctx.host.name));
      trace(t0, `${name}: hosts done`);
      if (runbook.rolling && !opts.check && !prepError) {
        const healthy = hosts.filter((ctx) => statuses.get(ctx.host.name) !== 'failed');
        const rolled = await rollingRestart(name, healthy, runbook.rolling(comp, shared), note);
        for (const [host, s] of rolled) if (s === 'failed' || s === 'changed') statuses.set(host, s);
        trace(t0, `${name}: rolling restart done`);
      }
      const after = runbook.after;
      if (after) {
        await phase((ctx) => ({ operations: after(ctx, comp, shared) }));
        trace(t0, `${name}: after-checks done`);
      }
      for (const ctx of hosts) {
        const s = statuses.get(ctx.host.name)!;
        if (s !== 'ok') pristine = false;
        ev.hostEnd(name, ctx.host.name, s, s === 'failed' ? recap.get(ctx.host.name)!.error : undefined);
      }
      ev.componentEnd(name);
    }
  } finally {
    for (const c of contexts.values()) c.remote.close();
  }
  return { recap: [...recap.values()], results, ms: Date.now() - t0 };
}

interface Early {
  shared: unknown;
  plans: Map<string, HostPlan>;
  probes: Map<string, Map<number, string>>;
}

/**
 * Every component prepared and its operations probed up front, in one round trip per host for
 * all components. A component uses this only while nothing has changed or failed before it in
 * the run, so a no-op run reads each host once; a component whose prepare fails here is simply
 * prepared again at its turn.
 */
async function prefetch(items: { runbook: AnyRunbook; comp: ComponentRun }[], forks: number): Promise<Map<string, Early>> {
  const early = new Map<string, Early>();
  for (const { runbook, comp } of items) {
    if (!runbook || !comp.hosts.length) continue;
    try {
      const shared = runbook.prepare ? await runbook.prepare(comp) : undefined;
      const plans = new Map(comp.hosts.map((h) => [h.host.name, runbook.host(h, comp, shared)]));
      early.set(comp.name, { shared, plans, probes: new Map() });
    } catch {
      // Prepared at its turn instead, where a failure is reported.
    }
  }
  const contexts = new Map(items.flatMap(({ comp }) => comp.hosts.map((h) => [h.host.name, h])));
  await mapLimit([...contexts.values()], forks, async (ctx) => {
    const mine = [...early.entries()].filter(([, e]) => e.plans.has(ctx.host.name));
    const ops = mine.flatMap(([, e]) => {
      const hp = e.plans.get(ctx.host.name)!;
      return [...hp.operations, ...Object.values(hp.handlers ?? {}).map((h) => h.operation)];
    });
    let out: Map<number, string>;
    try {
      out = await probeAll(ctx, ops);
    } catch {
      return;
    }
    let offset = 0;
    for (const [, e] of mine) {
      const hp = e.plans.get(ctx.host.name)!;
      const count = hp.operations.length + Object.keys(hp.handlers ?? {}).length;
      const part = new Map<number, string>();
      for (let i = 0; i < count; i++) if (out.has(offset + i)) part.set(i, out.get(offset + i)!);
      e.probes.set(ctx.host.name, part);
      offset += count;
    }
  });
  return early;
}
