import { connect } from 'node:net';
import { shq } from '../shell.js';
import { ok, type HostContext, type Operation } from './types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `ready` resolves true, or throw with `describe()` of the last state after the timeout. */
export async function pollUntil(ready: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 100): Promise<number> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await ready()) return Date.now() - start;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

export function tcpOpen(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port, timeout: timeoutMs });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true)).once('error', () => done(false)).once('timeout', () => done(false));
  });
}

/**
 * Waits for a condition checked from the machine running ovl (a port, an API's health).
 * A wait changes nothing, so it reports ok; in --check mode it is not run. When it times out,
 * `log` (a daemon's log file on the host) gives the error the daemon's own last words.
 */
export function waitFor(title: string, ready: (ctx: HostContext) => Promise<boolean>, timeoutMs = 60_000, log?: string): Operation<string> {
  return {
    title,
    waits: true,
    read: async (ctx) => {
      let ms: number;
      try {
        ms = await pollUntil(() => ready(ctx), timeoutMs, title);
      } catch (e) {
        const tail = log ? await logTail(ctx, log).catch(() => '') : '';
        throw new Error(tail ? `${(e as Error).message}; the last lines of ${log}:\n${tail}` : (e as Error).message);
      }
      return ms < 50 ? 'ready' : `ready after ${(ms / 1000).toFixed(1)} s`;
    },
    plan: (fact) => ok(fact),
  };
}

/** The last lines of a log file on the host (empty when it has none). */
export async function logTail(ctx: HostContext, path: string, lines = 8): Promise<string> {
  return (await ctx.remote.exec(`tail -n ${lines} ${shq(path)} 2>/dev/null`)).stdout.trim();
}
