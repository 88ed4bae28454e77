// Load an inventory (YAML), check everything that can be checked before any SSH connection,
// and resolve it into the Inventory of ./types.ts. Every problem found is reported at once, each
// with the file:line:column of the offending YAML node and a concrete fix (./problems.ts).
//
// The format is documented, with comments, in inventories/prod.yml. The checks are by section
// (./check/): vars and ssh, hosts, components and server, artifacts, scheduler; each component's
// own rules and vars come from its runbook's declarations (runbooks/settings/).

import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { checkArtifacts } from './check/artifacts.js';
import { checkComponents, checkServer } from './check/components.js';
import { Checker, type LoadContext } from './check/context.js';
import { checkHosts, resolveHosts } from './check/hosts.js';
import { checkComponentRules, checkHostPorts } from './check/rules.js';
import { checkScheduler } from './check/scheduler.js';
import { checkSshFiles, checkVars, resolveVars } from './check/vars.js';
import { InventoryError, sortProblems, type Problem } from './problems.js';
import { InventorySchema, shapeProblem, TOP_KEYS } from './shape.js';
import { Source, yamlFix } from './source.js';
import type { Inventory } from './types.js';
import { describe, isDict } from './values.js';

export { formatProblem, InventoryError, type Problem } from './problems.js';

export interface LoadOptions {
  /** Component names the runbooks implement; `components:` may name only these. */
  knownComponents: string[];
  /** Check that the ssh key, artifact files and tarballs exist on this machine (default true). */
  checkLocalFiles?: boolean;
}

export function loadInventory(path: string, opts: LoadOptions): Inventory {
  const abs = resolve(path);
  const ctx: LoadContext = { abs, dir: dirname(abs), base: basename(abs, extname(abs)), checkFiles: opts.checkLocalFiles ?? true, knownComponents: opts.knownComponents };

  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const [why, fix] =
      code === 'ENOENT'
        ? ['no such file', `check the path (it resolves to ${abs}); inventories usually live in inventories/, e.g. inventories/prod.yml`]
        : code === 'EISDIR'
          ? ['it is a directory', `give the path of an inventory file (.yml) inside ${abs}`]
          : code === 'EACCES'
            ? ['permission denied', `make ${abs} readable by the user running ovl`]
            : [(e as Error).message, `check that ${abs} is a readable file`];
    throw new InventoryError([{ file: path, line: 0, column: 0, message: `cannot read the inventory: ${why}`, fix }]);
  }

  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    // One error per line: what follows the first error on a line is mostly its echo.
    const byLine = new Map<number, Problem>();
    for (const e of doc.errors) {
      const { line, col } = lc.linePos(e.pos[0]);
      if (!byLine.has(line)) byLine.set(line, { file: path, line, column: col, message: `YAML syntax error: ${e.message}`, fix: yamlFix(e.code, e.message) });
    }
    throw new InventoryError([...byLine.values()]);
  }
  const src = new Source(path, doc, lc);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    src.add([], `YAML error: ${(e as Error).message}`, yamlFix('RESOURCE_EXHAUSTION'));
    throw new InventoryError(src.problems);
  }
  if (!isDict(data)) {
    src.add(
      [],
      data === null || data === undefined ? 'the inventory is empty' : `the inventory must be a mapping, got ${describe(data, [])}`,
      `write a mapping with the keys ${TOP_KEYS.join(', ')} (see inventories/prod.yml)`,
    );
    throw new InventoryError(src.problems);
  }

  // 1. Shape.
  const parsed = InventorySchema.safeParse(data);
  if (!parsed.success) for (const issue of parsed.error.issues) shapeProblem(src, data, issue);

  // 2. Everything else, on the raw data, skipping what has the wrong type (already reported).
  const result = check(new Checker(src, data, ctx));

  if (src.problems.length || !result) throw new InventoryError(sortProblems(src.problems));
  return result;
}

function check(c: Checker): Inventory | undefined {
  checkVars(c, ['vars']);
  const hostNames = checkHosts(c);
  checkSshFiles(c, hostNames.raw);
  const comps = checkComponents(c);
  const server = checkServer(c, comps, hostNames);
  const { artifacts, has } = checkArtifacts(c);
  const scheduler = checkScheduler(c);
  const resolved = resolveHosts(c, hostNames);
  checkComponentRules(c, comps, server, resolved, has);
  checkHostPorts(c, comps, server, resolved);

  if (c.src.problems.length) return undefined;
  const [vars] = resolveVars(c, [['vars']]);
  return { file: c.ctx.abs, vars, hosts: resolved.hosts, components: comps.names, server, artifacts, scheduler };
}
