// Operations tested as pyinfra tests its operations: for each fixture in test/operations/<op>/,
// the operation built from `args`, planned from the host's `fact` (what its probe printed), must
// change or not, with `reason`, and run exactly `commands` (exec scripts, stdin, uploads); its
// probe, where given, must be exactly `probe`. No host is needed.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { command, aptPackage } from '../../src/ops/command.js';
import { planFromProbe } from '../../src/ops/facts.js';
import { directories, file } from '../../src/ops/files.js';
import { restartHandler, service, type ServiceSpec } from '../../src/ops/service.js';
import type { HostContext, Operation, Step } from '../../src/ops/types.js';
import { projectRoot } from '../../src/paths.js';

interface Fixture {
  args: Record<string, unknown>;
  systemd?: boolean;
  fact: string;
  probe?: string;
  change: boolean;
  reason: string;
  commands?: (string | { script: string; stdin: string } | { upload: string; to: string })[];
}

const host = (systemd = false) => ({ facts: { systemd } }) as unknown as HostContext;

/** Each operation under test, built from a fixture's args. */
const OPERATIONS: Record<string, (a: Record<string, unknown>, systemd: boolean) => Operation> = {
  directories: (a) => directories(a.paths as string[], { mode: a.mode as number | undefined, owner: a.owner as string | undefined }),
  file: (a) => file(a.path as string, a.content as string, { mode: a.mode as number | undefined, secret: a.secret as boolean | undefined }),
  command: (a) => command(a.title as string, a.script as string, { creates: a.creates as string | undefined, unless: a.unless as string | undefined }),
  aptPackage: (a) => aptPackage(a.name as string),
  'service-running': (a, systemd) => service(a as unknown as ServiceSpec, host(systemd), 'restart')[1]!,
  'service-restart': (a, systemd) => restartHandler(a as unknown as ServiceSpec, host(systemd)).operation,
};

function commandsOf(steps: Step[]): Fixture['commands'] {
  return steps.map((s) => {
    if (s.kind === 'exec') return s.stdin === undefined ? s.script : { script: s.script, stdin: String(s.stdin) };
    if (s.kind === 'upload') return { upload: s.local, to: s.remote };
    return `local: ${s.what}`;
  });
}

const root = join(projectRoot, 'test', 'operations');
for (const op of readdirSync(root)) {
  for (const name of readdirSync(join(root, op)).filter((f) => f.endsWith('.json'))) {
    test(`operation ${op}: ${name.replace(/\.json$/, '')}`, () => {
      const fx = JSON.parse(readFileSync(join(root, op, name), 'utf8')) as Fixture;
      const make = OPERATIONS[op];
      assert.ok(make, `no operation named ${op} in the test's table`);
      const operation = make(fx.args, !!fx.systemd);
      if (fx.probe !== undefined) assert.equal(operation.fact?.probe, fx.probe);
      const plan = planFromProbe(operation, fx.fact, host(fx.systemd));
      assert.equal(plan.change, fx.change);
      assert.equal(plan.reason, fx.reason);
      assert.deepEqual(plan.change ? commandsOf(plan.steps) : [], fx.commands ?? []);
    });
  }
}
