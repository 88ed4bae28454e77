// What the monitoring runbooks share: the Debian package's own service turned off where systemd
// runs it (it would listen on every address, on the port ovl's service takes on the host's own),
// and whether a daemon answers.
import { argv, shq } from '../src/shell.js';
import { change, exec, ok, type HostContext, type Operation } from '../src/ops/types.js';

/** Read when its turn comes, not with the host's batch of probes made before anything runs: the
 * package installed just before starts its service. Masked, so that no upgrade starts it again. */
export function packageServiceOff(unit: string, h: HostContext): Operation<boolean> {
  const probe = `systemctl is-enabled ${shq(unit)} 2>/dev/null | grep -qx masked && ! systemctl is-active --quiet ${shq(unit)} && echo off || echo on`;
  return {
    title: `Debian's ${unit} off (ovl runs its own)`,
    read: async (ctx) => h.facts.systemd && (await ctx.remote.exec(probe)).stdout.trim() === 'on',
    plan(on) {
      if (!on) return ok(h.facts.systemd ? 'masked' : 'no systemd on this host');
      return change('stopped and masked', [exec(`${argv('systemctl', 'disable', '--now', unit)} 2>/dev/null || true\n${argv('systemctl', 'mask', unit)}`)]);
    },
  };
}

/** Whether a URL answers 2xx within 2 s (an exporter's /metrics, Prometheus's /-/ready). */
export async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

/** Whether an exporter serves /metrics at ADDRESS:PORT. */
export const exporterUp = (at: string) => answers(`http://${at}/metrics`);
