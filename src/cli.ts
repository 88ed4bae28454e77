import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { projectRoot } from './paths.js';
import { addExamples, leafCommands } from './cli-examples.js';
import { InventoryError } from './inventory/load.js';
import { registerSandboxCommands } from './sandbox/cli.js';
import { CHECK_FAILED, UsageError } from './commands/errors.js';
import { LeadershipLost } from './cluster/errors.js';
import { percent, wholeNumber as int } from './commands/options.js';

// Command modules load on use: each pulls in heavy clients (gRPC for etcd, ioredis) that
// other commands do not need.
const bootstrapCmd = () => import('./commands/bootstrap.js');
const clusterCmd = () => import('./commands/cluster.js');

// A reader that went away (`ovl cluster check x | head`) ends the output, not the command: a
// create --wait may be scheduling in this process, and stopping it halfway helps no one.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
  });
}

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

const program = new Command('ovl')
  .description('stand up and run fleets of cache clusters (Redis, Redis Cluster, memcache) over SSH, with etcd as the source of truth')
  .version(JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).version as string, '-V, --version', 'the version of ovl')
  // ovl's own options only before a command: `cluster create --version 7.2.4` is the command's.
  .enablePositionalOptions()
  .showHelpAfterError();

program
  .command('bootstrap')
  .description('bring the hosts of an inventory to the /data layout, an etcd cluster and cache binaries')
  .argument('<inventory>', 'inventory YAML file, e.g. inventories/prod.yml')
  .option('--check', 'show what would change, with diffs; change nothing')
  .option('--diff', 'show diffs of changed files')
  .option('--limit <hosts>', 'only these hosts (comma-separated names or globs)', list)
  .option('--only <components>', 'only these components (comma-separated)', list)
  .addOption(new Option('--forks <n>', 'hosts worked on in parallel').argParser(int('--forks', 1)))
  .option('-v, --verbose', 'also print the steps that were already ok')
  .option('--json', 'print a machine-readable recap on stdout (progress goes to stderr)')
  .option('--accept-new-host-keys', 'record the SSH host keys of hosts not yet in known_hosts (never replaces a changed key)')
  .option('--prune', 'remove what runs but the inventory no longer lists: an etcd member dropped from server.etcd (only while quorum holds afterwards)')
  .option('--detailed-exitcode', 'for CI: exit 0 when nothing changes (or, with --check, would change), 2 when something does, 1 when a host fails')
  .action(async (inventory: string, o) => {
    process.exitCode = await (await bootstrapCmd()).bootstrap(inventory, o);
  });

program
  .command('doctor')
  .description('is the fleet ready? the inventory, SSH keys, every host over SSH, etcd, the cache versions: one line each')
  .argument('<inventory>', 'inventory YAML file')
  .action(async (inventory: string) => {
    readOnly = true;
    process.exitCode = await (await import('./commands/doctor.js')).doctor(inventory, out);
  });

program
  .command('inventory')
  .description('the fleet inventory')
  .command('check')
  .description('validate an inventory as bootstrap does (every problem with file:line:column and a fix); connects to nothing')
  .argument('<inventory>', 'inventory YAML file')
  .action(async (inventory: string) => {
    readOnly = true;
    process.exitCode = (await bootstrapCmd()).inventoryCheck(inventory, out);
  });

registerSandboxCommands(program);

// -q: only data (--json) and errors; the lines that narrate are left out.
let quiet = false;
const out = (l: string) => {
  if (!quiet || jsonErrors) process.stdout.write(l + '\n');
};
// Set by commands that only read (list, show, check): their errors do not add that nothing was
// changed, which would suggest that they could have changed something.
let readOnly = false;
/** The exit code of a command that fails with an error: 1, but CHECK_FAILED for `cluster check`. */
let failedCode = 1;
const inventoryOption = () => new Option('-i, --inventory <file>', 'the fleet inventory (default: $OVL_INVENTORY, else inventories/sandbox.yml)');

const cluster = program.command('cluster').description('create, inspect, heal and delete cache clusters on the bootstrapped fleet');
cluster
  .command('create')
  .description('plan and start a cluster (a task for the scheduler; --wait follows it)')
  .argument('<name>', 'cluster name: 1-63 characters, lower-case letters, digits and -, starting and ending with a letter or digit')
  .requiredOption('--type <type>', 'redis_cluster, redis or memcache')
  .option('--version <version>', 'cache version present on the fleet (default: the only one)')
  .addOption(new Option('--masters <n>', 'redis_cluster: masters (shards), default 3; redis: master groups, default 1; not for memcache').argParser(int('--masters', 1)))
  .addOption(new Option('--replicas <n>', 'redis_cluster, redis: replicas per master, default 1; not for memcache').argParser(int('--replicas', 0)))
  .addOption(new Option('--nodes <n>', 'memcache only, required: nodes').argParser(int('--nodes', 1)))
  .requiredOption('--maxmemory <size>', 'memory of each instance, with a unit, at least 1mb, e.g. 256mb, 2gb, 1.5gb')
  .option('--password-env <NAME>', 'redis types: the application\'s password (ACL user default on Redis 6+) from this environment variable')
  .option('--password-file <path>', 'redis types: the application\'s password from this file')
  .option('--tls', 'redis types, Redis 6+: clients, replication and the cluster bus over TLS only, certificates from the fleet CA')
  .option('--app-acl <rules>', 'with a password: ACL rules added to the application user\'s, e.g. "+config|get" (default: every command but @admin)')
  .option('--config <name=value>', 'redis types: a redis.conf setting, e.g. maxmemory-policy=volatile-lru (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
  .option('--wait', 'follow the task until the cluster runs (schedules in-process when no scheduler runs)')
  .option('--check', 'show where its instances would go on the fleet as it is now; change nothing')
  .option('--json', 'the task record as JSON on stdout when it ends (progress on stderr)')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    process.exitCode = await (await clusterCmd()).clusterCreate(name, o, out);
  });
cluster.command('list').description('every cluster with its state').option('--json', 'machine-readable').addOption(inventoryOption()).action(async (o) => {
  readOnly = true;
  process.exitCode = await (await clusterCmd()).clusterList(o, out);
});
cluster.command('show').description('instances, hosts, roles, slots, state: as recorded by the last task, and as each instance answers now').argument('<name>').option('--json', 'machine-readable').option('--no-probe', 'only what etcd records: do not ask the instances').addOption(inventoryOption()).action(async (name: string, o) => {
  readOnly = true;
  process.exitCode = await (await clusterCmd()).clusterShow(name, o, out);
});
cluster
  .command('check')
  .description(`consistency check of clusters; exit code 0 when every one checked is healthy, 1 when one is not, ${CHECK_FAILED} when it could not check (no such cluster, etcd unreachable, bad inventory or options)`)
  .argument('[names...]', 'clusters to check')
  .option('--all', 'every cluster etcd records (those a create or delete is working on are listed, not checked)')
  .option('--json', 'the whole report, machine-readable')
  .addOption(inventoryOption())
  // A monitoring script must tell an outage from a typo: its own usage errors exit 3 too.
  .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : CHECK_FAILED))
  .action(async (names: string[], o) => {
    readOnly = true;
    failedCode = CHECK_FAILED;
    process.exitCode = await (await clusterCmd()).clusterCheck(names, o, out);
  });
const collect = (v: string, prev: string[] = []) => [...prev, v];
cluster
  .command('restart')
  .description('start instances that are down (data dir and identity kept); --instance restarts that one even if running')
  .argument('<name>')
  .option('--instance <ip:port>', 'only this instance (repeatable)', collect)
  .option('--move', 'put instances that do not start where they are (a host lost for good) on other hosts, with new identities; their data comes from their shard')
  .option('--rolling', 'every instance, one shard at a time: replicas first, masters after a switchover to a restarted replica')
  .option('--yes', '--rolling: accept restarting in place what has no replica (an outage of that shard)')
  .option('--check', '--rolling: print the order; change nothing')
  .option('--no-wait', 'queue the task and return')
  .option('--json', 'the task record as JSON on stdout when it ends (progress on stderr)')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    if (!o.rolling && (o.check || o.yes)) throw new UsageError(`${o.check ? '--check' : '--yes'} is for --rolling; a plain restart starts what is down (and --instance restarts that one)`);
    if (o.rolling) {
      if (o.instance?.length || o.move) throw new UsageError('--rolling restarts every instance: it takes no --instance or --move');
      process.exitCode = await (await import('./commands/roll.js')).clusterRoll(name, o, out);
      return;
    }
    process.exitCode = await (await clusterCmd()).clusterTask('restart', name, o, out);
  });
cluster
  .command('config')
  .description('change settings of a running cluster: live (CONFIG SET) where Redis allows it, else by a rolling restart; --show the settings in force')
  .argument('<name>')
  .argument('[settings...]', 'name=value: redis.conf directives (as create --config), maxmemory=SIZE')
  .option('--show', 'the settings ovl renders (its own or the cluster\'s) and the instances whose live value differs')
  .option('--check', 'say which settings go live and which need a rolling restart; change nothing')
  .option('--yes', 'accept restarts that cost an outage (memcache -m empties each node; shards without a replica)')
  .option('--wait', 'follow the task until it is done (schedules in-process when no scheduler runs)')
  .addOption(inventoryOption())
  .action(async (name: string, settings: string[], o) => {
    process.exitCode = await (await import('./commands/config.js')).clusterConfig(name, settings, o, out);
  });
cluster
  .command('upgrade')
  .description('rolling upgrade to another version of the binaries (on every host of the cluster: cache-binaries), in the order of restart --rolling')
  .argument('<name>')
  .requiredOption('--version <v>', 'the version to run')
  .option('--yes', 'accept restarting in place what has no replica (an outage of that shard)')
  .option('--check', 'print the order; change nothing')
  .option('--no-wait', 'queue the task and return')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    process.exitCode = await (await import('./commands/roll.js')).clusterRoll(name, o, out);
  });
cluster
  .command('delete')
  .description('stop every process of the cluster, remove its directories and keys, free its ports')
  .argument('<name>')
  .option('-y, --yes', 'delete without asking (a script, a pipeline); without it ovl asks on a terminal, and refuses elsewhere')
  .option('--no-wait', 'queue the task and return')
  .option('--json', 'the task record as JSON on stdout when it ends (progress on stderr)')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    await (await clusterCmd()).confirmDelete(name, !!o.yes);
    process.exitCode = await (await clusterCmd()).clusterTask('delete', name, o, out);
  });
cluster
  .command('scale')
  .description('grow or shrink a running cluster live: shards (slots moved to or off them), replicas per shard, memcache nodes')
  .argument('<name>')
  .addOption(new Option('--masters <n>', 'redis_cluster: shards (slots are moved); redis: master groups').argParser(int('--masters', 1)))
  .addOption(new Option('--replicas <n>', 'redis_cluster, redis: replicas per master').argParser(int('--replicas', 0)))
  .addOption(new Option('--nodes <n>', 'memcache: nodes').argParser(int('--nodes', 1)))
  .option('--force', 'allow a Redis Cluster below 3 masters')
  .option('--wait', 'follow the task until it is done (schedules in-process when no scheduler runs)')
  .option('--check', 'show what would be added, removed and moved; change nothing')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    process.exitCode = await (await import('./commands/reshape.js')).clusterScale(name, o, out);
  });
cluster
  .command('rebalance')
  .description('even the slots of a Redis Cluster over its masters (finishing slots left open by an interrupted migration)')
  .argument('<name>')
  .addOption(new Option('--threshold <percent>', 'leave masters alone that are at most this far off their share (as redis-cli)').default(2).argParser(percent))
  .option('--no-wait', 'queue the task and return')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    process.exitCode = await (await import('./commands/reshape.js')).clusterRebalance(name, o, out);
  });
cluster
  .command('failover')
  .description('planned switchover: the named replica becomes its shard\'s master once it has every write (nothing lost); the plan follows')
  .argument('<name>')
  .option('--instance <ip:port>', 'the replica that takes over')
  .option('--wait', 'follow the task until it is done (schedules in-process when no scheduler runs)')
  .option('--check', 'say what would change; change nothing')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    process.exitCode = await (await import('./commands/failover.js')).clusterFailover(name, o, out);
  });
cluster
  .command('password')
  .description('new passwords for a cluster with ACL users, with no failed client request: --rotate, then --drop-old once clients use the new one')
  .argument('<name>')
  .option('--rotate', 'accept a new application password beside the old one (give it with --password-env or --password-file)')
  .option('--password-env <NAME>', 'the new application password from this environment variable')
  .option('--password-file <path>', 'the new application password from this file')
  .option('--drop-old', 'accept only the newest application password (with --rotate: replace the old one at once)')
  .option('--rotate-admin', "give ovl's own user a new password")
  .option('--wait', 'follow the task until it is done (schedules in-process when no scheduler runs)')
  .option('--check', 'say what would change; change nothing')
  .addOption(inventoryOption())
  .action(async (name: string, o) => {
    process.exitCode = await (await import('./commands/password.js')).clusterPassword(name, o, out);
  });

const etcd = program.command('etcd').description('the fleet\'s state store: snapshots and restores');
etcd
  .command('snapshot')
  .description('save a snapshot of etcd on a serving member (/data/backup/etcd) and copy it to <inventory>.backup/etcd/; the newest etcd_snapshots_kept (10) are kept on both')
  .addOption(inventoryOption())
  .action(async (o) => {
    process.exitCode = await (await import('./commands/etcd.js')).etcdSnapshot(o, out);
  });
etcd
  .command('restore')
  .description('rebuild every etcd member from a snapshot file (same members, new data dirs; the old ones kept aside)')
  .argument('<snapshot>', 'a file saved by `ovl etcd snapshot`')
  .option('--yes', 'do it: what etcd holds now is replaced')
  .addOption(inventoryOption())
  .action(async (file: string, o) => {
    process.exitCode = await (await import('./commands/etcd.js')).etcdRestore(file, o, out);
  });

program
  .command('monitoring')
  .description("Prometheus's view of the fleet")
  .command('sync')
  .description('write the scrape targets again from etcd on every host of server.prometheus (the scheduler does after each task)')
  .addOption(inventoryOption())
  .action(async (o) => {
    process.exitCode = await (await import('./commands/monitoring.js')).monitoringSync(o, out);
  });

program
  .command('scheduler')
  .description('run the scheduler: one leader at a time (etcd election), runs every task')
  .addOption(new Option('--lease-ttl <seconds>', 'leadership lease: after this long without keep-alive another scheduler takes over (a machine overloaded for longer must not run tasks twice)').default(15).argParser(int('--lease-ttl', 5)))
  .option('--metrics <address:port>', "serve ovl's view (/metrics) and memcache's stats (/memcache) for Prometheus at this address (port 0: any free one); registered in etcd, so Prometheus finds it")
  .addOption(new Option('--check-every <seconds>', 'while leading, check every cluster this often (the result is in /metrics)').default(30).argParser(int('--check-every', 5)))
  .option('--json', 'its log as JSON lines: {"at", "message"}')
  .addOption(inventoryOption())
  .action(async (o) => {
    process.exitCode = await (await clusterCmd()).scheduler(o, out);
  });

program
  .command('completion')
  .description('print a shell completion script for ovl')
  .argument('<shell>', 'bash or zsh')
  .action(async (shell: string) => {
    const { bashCompletion, zshCompletion } = await import('./completion.js');
    if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion ${shell}: bash or zsh`);
    readOnly = true;
    out(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
  });

addExamples(program);
// -q and -v on every command: bootstrap's -v prints the steps already ok; elsewhere it shows the
// in-process scheduler's log and where the time goes (OVL_TRACE).
for (const c of leafCommands(program)) {
  if (!c.options.some((o) => o.short === '-q')) c.option('-q, --quiet', 'print only data (--json) and errors; the exit code says the rest');
  if (!c.options.some((o) => o.short === '-v')) c.option('-v, --verbose', "also print the scheduler's log when it runs in this process, and where the time goes");
}
program.hook('preAction', (_, action) => {
  const o = action.opts() as { quiet?: boolean; verbose?: boolean };
  quiet = !!o.quiet;
  if (o.verbose && action.name() !== 'bootstrap') process.env.OVL_TRACE = '1';
});

// `-o json` / `--output json` (kubectl's habit) mean --json.
const isOutput = (a: string | undefined) => a === '-o' || a === '--output';
const argv = process.argv.flatMap((a, i, all) => {
  if (isOutput(a) && all[i + 1] === 'json') return [];
  if (isOutput(all[i - 1]) && a === 'json') return ['--json'];
  return [a === '-ojson' || a === '--output=json' ? '--json' : a];
});
const jsonErrors = argv.includes('--json');

program.parseAsync(argv).catch((e: unknown) => {
  // With --json, a script reads the error as an object: its stable code and the message.
  if (jsonErrors && !(e instanceof LeadershipLost)) {
    const code = (e as { code?: unknown }).code;
    process.stderr.write(`${JSON.stringify({ error: { code: typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'ERROR', message: (e as Error).message } })}\n`);
    process.exitCode = failedCode;
    return;
  }
  if (e instanceof LeadershipLost) {
    // At once: the tasks still in flight here belong to the next leader now.
    process.stderr.write(`ovl ${e.message}\n`);
    process.exit(e.exitCode);
  }
  if (e instanceof UsageError) {
    process.stderr.write(`ovl: ${e.message}\n${readOnly ? '' : 'Nothing was changed.\n'}`);
    process.exitCode = failedCode;
    return;
  }
  if (e instanceof InventoryError) {
    process.stderr.write(`${e.message}\n${readOnly ? '' : 'Nothing was changed on any host.\n'}`);
    process.exitCode = failedCode;
    return;
  }
  process.stderr.write(`ovl: ${(e as Error).message}\n`);
  process.exitCode = failedCode;
});
