import type { RunEvents } from '../engine/run.js';
import type { OpResult } from '../ops/types.js';

/** One line per event, for logs, CI and pipes. */
export function plainEvents(out: NodeJS.WritableStream, opts: { diff: boolean; verbose: boolean; check?: boolean }): RunEvents {
  const line = (s: string) => out.write(s + '\n');
  return {
    componentStart: (name, hosts) => line(`== ${name} on ${hosts.join(', ')}`),
    hostStart: () => {},
    result(r: OpResult) {
      if (r.status === 'ok' && !opts.verbose && !(opts.check && r.notable)) return;
      const slow = r.ms >= (process.env.OVL_TRACE ? 1 : 1000) ? ` ${(r.ms / 1000).toFixed(process.env.OVL_TRACE ? 3 : 1)} s` : '';
      line(`[${r.component}] ${r.host}: ${r.status.padEnd(7)} ${r.title} (${r.reason}${slow})${r.error ? `: ${r.error}` : ''}`);
      if (opts.diff && r.diff) line(r.diff.replace(/^/gm, '    '));
    },
    hostEnd: (component, host, status) => line(`[${component}] ${host}: ${status}`),
    componentEnd: () => {},
  };
}
