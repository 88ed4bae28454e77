import { bootstrap as runBootstrap } from '../api/bootstrap.js';
import type { RunEvents, RunResult } from '../engine/run.js';
import { loadFleet } from '../inventory/fleet.js';
import { selectHosts } from '../inventory/select.js';
import { redact } from '../redact.js';
import { plainEvents } from '../ui/plain.js';
import { liveTerminal } from '../ui/terminal.js';
import { formatRecap } from '../ui/recap.js';
import { plural } from '../util/plural.js';

export interface BootstrapOptions {
  check?: boolean;
  diff?: boolean;
  limit?: string[];
  only?: string[];
  forks?: number;
  json?: boolean;
  acceptNewHostKeys?: boolean;
  prune?: boolean;
  verbose?: boolean;
  /** Exit 0 nothing to change, 2 changes (made or, with --check, pending), 1 a host failed. */
  detailedExitcode?: boolean;
  /** Nothing printed but a failed host's lines (and --json's recap). */
  quiet?: boolean;
}

/** A stream that passes on only the lines that say something failed (-q). */
function failuresOnly(to: NodeJS.WritableStream): NodeJS.WritableStream {
  return { write: (s: string) => (/FAIL|failed|error/i.test(s) ? to.write(s) : true) } as unknown as NodeJS.WritableStream;
}

/** `ovl bootstrap`: bring the hosts of an inventory to what it says. Returns the exit code. */
export async function bootstrap(path: string, o: BootstrapOptions): Promise<number> {
  const inv = loadFleet(path);
  const sel = selectHosts(inv, { limit: o.limit, only: o.only });
  const check = !!o.check;
  // A terminal gets the listr2 tree; logs, pipes, CI and --json get one line per event.
  const tty = liveTerminal() && !o.json && !o.quiet;
  const log = o.json ? process.stderr : process.stdout;
  // listr2 is loaded only for a terminal.
  const tree = tty ? (await import('../ui/listr.js')).listrEvents(sel.components) : undefined;
  const events: RunEvents = tree ?? plainEvents(o.quiet ? failuresOnly(log) : log, { diff: check || !!o.diff, verbose: !!o.verbose, check });

  let result: RunResult;
  try {
    result = await runBootstrap(inv, { check, forks: o.forks, limit: o.limit, only: o.only, acceptNewHostKeys: o.acceptNewHostKeys, prune: o.prune }, events);
  } finally {
    tree?.close();
    await tree?.finished;
  }
  if (tty && (check || o.diff)) {
    for (const r of result.results) if (r.diff) log.write(`--- ${r.host}: ${r.title}\n${r.diff}\n`);
  }
  // The tree shows steps that change; a certificate's end date is worth a line in --check anyway.
  if (tty && check) for (const r of result.results) if (r.notable && r.status === 'ok') log.write(`${r.host}: ${r.title}\n`);
  const failed = result.recap.some((h) => h.failed);
  if (o.json) {
    process.stdout.write(JSON.stringify(redact({ inventory: inv.file, check, ok: !failed, ms: result.ms, hosts: result.recap, results: result.results }), null, 2) + '\n');
  } else if (!o.quiet || failed) {
    log.write(formatRecap(result, check) + '\n');
  }
  if (o.detailedExitcode) return failed ? 1 : result.recap.some((h) => h.changed) ? 2 : 0;
  return failed ? 2 : 0;
}

/** `ovl inventory check FILE`: the inventory validated as bootstrap validates it, no connection. */
export function inventoryCheck(path: string, out: (line: string) => void): number {
  const inv = loadFleet(path);
  out(`${inv.file}: valid: ${plural(inv.hosts.length, 'host')}, components ${inv.components.join(', ')}`);
  return 0;
}
