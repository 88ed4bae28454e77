// What the exporter runbooks share: the Debian package's own service turned off where systemd runs
// it (it would listen on every address, on the port ovl's service takes on the host's own), and
// whether an exporter answers.
import { argv, shq } from '../src/shell.js';
import { change, exec, ok, type HostContext, type Operation } from '../src/ops/types.js';

export function packageServiceOff(unit: string, h: HostContext): Operation<boolean> {
  return {
    title: `Debian's ${unit} off (ovl runs its own)`,
    fact: {
      probe: h.facts.systemd ? `{ systemctl is-enabled ${shq(unit)}; systemctl is-active ${shq(unit)}; } 2>/dev/null | grep -qx -e enabled -e active && echo on || echo off` : 'echo off',
      parse: (out) => out.trim() === 'on',
    },
    plan(on) {
      if (!on) return ok(h.facts.systemd ? 'disabled' : 'no systemd: nothing starts it');
      return change('disabled and stopped', [exec(argv('systemctl', 'disable', '--now', unit))]);
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
