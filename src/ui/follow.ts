/** Where a command's lines go. */
export type Out = (line: string) => void;

/** How a followed task shows its steps: one line each, or a live listr2 line on a terminal. */
export interface FollowView {
  /** A step of the task, or a note about the following itself. */
  step: Out;
  /** The task ended: `ok` with its last step, or failed with the reason. Resolves once the view has drawn its end. */
  end(ok: boolean, text: string): Promise<void>;
}

/** Logs, pipes and CI: each step on its own indented line. */
export function plainFollow(out: Out): FollowView {
  return { step: (l) => out(`  ${l}`), end: async () => {} };
}

/**
 * A terminal: the task as one listr2 line, its steps below it as they come (kept, so the
 * retries and moves of a create stay readable), its title the outcome at the end.
 */
export async function listrFollow(title: string): Promise<FollowView> {
  const { Listr } = await import('listr2');
  let output: ((l: string) => void) | undefined;
  const early: string[] = [];
  let finish!: (r: { ok: boolean; text: string }) => void;
  const ended = new Promise<{ ok: boolean; text: string }>((r) => (finish = r));
  const list = new Listr(
    [
      {
        title,
        task: async (_ctx, task) => {
          output = (l) => (task.output = l);
          for (const l of early.splice(0)) output(l);
          const r = await ended;
          task.title = `${title}: ${r.ok ? r.text : 'failed'}`;
          if (!r.ok) throw new Error(r.text);
        },
        rendererOptions: { persistentOutput: true, bottomBar: Infinity },
      },
    ],
    { renderer: 'default', fallbackRenderer: 'simple', exitOnError: false, rendererOptions: { collapseErrors: false } },
  );
  const drawn = list.run().catch(() => undefined);
  return {
    step: (l) => (output ? output(l) : early.push(l)),
    async end(ok, text) {
      finish({ ok, text });
      await drawn;
    },
  };
}
