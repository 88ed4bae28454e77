import { Command, Option } from 'commander';
import { bootstrap } from './commands/bootstrap.js';
import { InventoryError } from './inventory/load.js';
import { registerSandboxCommands } from './sandbox/cli.js';

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a whole number of at least 1, got ${JSON.stringify(v)}`);
  return n;
};

const program = new Command('ovl')
  .description('stand up and run fleets of cache clusters (Redis, Redis Cluster, memcache) over SSH, with etcd as the source of truth')
  .showHelpAfterError();

program
  .command('bootstrap')
  .description('bring the hosts of an inventory to the /data layout, an etcd cluster and cache binaries')
  .argument('<inventory>', 'inventory YAML file, e.g. inventories/prod.yml')
  .option('--check', 'show what would change, with diffs; change nothing')
  .option('--diff', 'show diffs of changed files')
  .option('--limit <hosts>', 'only these hosts (comma-separated names or globs)', list)
  .option('--only <components>', 'only these components (comma-separated)', list)
  .addOption(new Option('--forks <n>', 'hosts worked on in parallel').argParser(positive))
  .option('-v, --verbose', 'also print the steps that were already ok')
  .option('--json', 'print a machine-readable recap on stdout (progress goes to stderr)')
  .option('--accept-new-host-keys', 'record the SSH host keys of hosts not yet in known_hosts (never replaces a changed key)')
  .action(async (inventory: string, o) => {
    process.exitCode = await bootstrap(inventory, o);
  });

registerSandboxCommands(program);

program.parseAsync().catch((e: unknown) => {
  if (e instanceof InventoryError) {
    process.stderr.write(`${e.message}\nNothing was changed on any host.\n`);
    process.exitCode = 1;
    return;
  }
  process.stderr.write(`ovl: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
