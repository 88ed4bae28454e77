import { DefaultRenderer, Listr, SimpleRenderer, type ListrTaskWrapper } from 'listr2';

type Wrapper = ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;
import type { RunEvents } from '../engine/run.js';
import type { OpResult, Status } from '../ops/types.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface HostView {
  done: Deferred<{ status: Status; error?: string }>;
  counts: Record<Status, number>;
  task?: Wrapper;
  last?: string;
}

/**
 * The listr2 tree for a terminal: component -> host, with the host's current step as its
 * output. The engine drives the run; this only mirrors its events.
 */
export function listrEvents(components: string[]): RunEvents & { finished: Promise<unknown>; close(): void } {
  const started = new Map(components.map((c) => [c, deferred<string[] | null>()]));
  const views = new Map<string, HostView>();
  const key = (c: string, h: string) => `${c}\0${h}`;
  const summary = (v: HostView) =>
    (['changed', 'ok', 'failed', 'skipped'] as Status[])
      .filter((s) => v.counts[s])
      .map((s) => `${v.counts[s]} ${s}`)
      .join(', ');

  const root = new Listr<unknown, 'default', 'simple'>(
    components.map((c) => ({
      title: c,
      task: async (_ctx: unknown, task: Wrapper) => {
        const hosts = await started.get(c)!.promise;
        if (!hosts) return task.skip(`${c}: no host to run on`);
        return task.newListr(
          hosts.map((h) => ({
            title: h,
            task: async (_c: unknown, t: Wrapper) => {
              const v = views.get(key(c, h))!;
              v.task = t;
              if (v.last) t.output = v.last;
              const end = await v.done.promise;
              t.title = `${h}: ${summary(v) || 'nothing to do'}`;
              if (end.status === 'failed') throw new Error(`${h}: ${end.error ?? 'failed'}`);
            },
          })),
          { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: false } },
        );
      },
    })),
    { concurrent: false, exitOnError: false, renderer: 'default', fallbackRenderer: 'simple', rendererOptions: { collapseSubtasks: false, collapseErrors: false } },
  );
  const finished = root.run().catch(() => undefined);

  return {
    finished,
    componentStart(name, hosts) {
      for (const h of hosts) views.set(key(name, h), { done: deferred(), counts: { ok: 0, changed: 0, failed: 0, skipped: 0 } });
      started.get(name)?.resolve(hosts);
    },
    hostStart() {},
    result(r: OpResult) {
      const v = views.get(key(r.component, r.host));
      if (!v) return;
      v.counts[r.status]++;
      v.last = `${r.status}: ${r.title}${r.error ? ` — ${r.error}` : ''}`;
      if (v.task) v.task.output = v.last;
    },
    hostEnd(component, host, status, error) {
      views.get(key(component, host))?.done.resolve({ status, error });
    },
    componentEnd() {},
    close() {
      for (const d of started.values()) d.resolve(null);
    },
  };
}
