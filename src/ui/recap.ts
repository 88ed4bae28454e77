import type { RunResult } from '../engine/run.js';

/** Ansible-style PLAY RECAP: one line per host, then what it adds up to. */
export function formatRecap(r: RunResult, check: boolean): string {
  const width = Math.max(4, ...r.recap.map((h) => h.host.length));
  const lines = ['', check ? 'RECAP (--check: nothing was changed)' : 'RECAP'];
  for (const h of r.recap) {
    const counts = `ok=${h.ok}`.padEnd(7) + ` changed=${h.changed}`.padEnd(12) + ` failed=${h.failed}`.padEnd(11) + ` skipped=${h.skipped}`.padEnd(12);
    lines.push(`${h.host.padEnd(width)}  ${counts}${h.unreachable ? ' UNREACHABLE' : ''}${h.error ? `\n${' '.repeat(width + 2)}error: ${h.error}` : ''}`);
  }
  const failed = r.recap.filter((h) => h.failed);
  const changed = r.recap.reduce((n, h) => n + h.changed, 0);
  const secs = (r.ms / 1000).toFixed(1);
  if (failed.length) lines.push(`${failed.length} of ${r.recap.length} host(s) failed: ${failed.map((h) => h.host).join(', ')} (${secs} s). ${check ? 'Fix the cause and check again: nothing was changed on any host.' : 'Fix the cause and re-run: finished steps are not repeated.'}`);
  else if (changed === 0) lines.push(`No changes: all ${r.recap.length} host(s) already as the inventory says (${secs} s).`);
  else lines.push(`${check ? 'Would change' : 'Changed'} ${changed} thing(s) on ${r.recap.filter((h) => h.changed).length} host(s) (${secs} s).`);
  return lines.join('\n');
}
