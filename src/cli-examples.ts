// The examples that end each command's --help, by command path: one place, so every command has
// them (a unit test walks the command tree and asks for each).
import type { Command } from 'commander';

export const EXAMPLES: Record<string, string[]> = {
  bootstrap: ['ovl bootstrap inventories/prod.yml --check            # what would change, with diffs', 'ovl bootstrap inventories/prod.yml --only cache-binaries --limit cache-0*', 'ovl bootstrap inventories/prod.yml --check --detailed-exitcode   # CI: exit 2 when changes are pending'],
  doctor: ['ovl doctor inventories/prod.yml     # exit 0 when every line is ok'],
  completion: ['ovl completion bash > /etc/bash_completion.d/ovl', 'source <(ovl completion zsh)      # in ~/.zshrc'],
  'inventory check': ['ovl inventory check inventories/prod.yml'],
  'cluster create': ['ovl cluster create orders --type redis_cluster --masters 3 --replicas 1 --maxmemory 256mb --wait', 'ovl cluster create sessions --type redis --password-env SESSIONS_PW --tls --maxmemory 1gb --wait', 'ovl cluster create pages --type memcache --nodes 4 --maxmemory 512mb --check'],
  'cluster list': ['ovl cluster list', 'ovl cluster list -o json'],
  'cluster show': ['ovl cluster show orders', 'ovl cluster show orders --json --no-probe'],
  'cluster check': ['ovl cluster check orders', 'ovl cluster check --all --json     # a monitoring job: exit 0 healthy, 1 not, 3 cannot check'],
  'cluster restart': ['ovl cluster restart orders                        # start what is down', 'ovl cluster restart orders --instance 10.20.0.12:7001', 'ovl cluster restart orders --move                 # a host lost for good', 'ovl cluster restart orders --rolling --check       # the order, shard by shard'],
  'cluster config': ['ovl cluster config orders maxmemory-policy=allkeys-lru --wait', 'ovl cluster config orders --show'],
  'cluster upgrade': ['ovl cluster upgrade orders --version 7.2.4 --check', 'ovl cluster upgrade orders --version 7.2.4 --wait'],
  'cluster delete': ['ovl cluster delete orders            # asks you to type the name', 'ovl cluster delete orders --yes      # in a script'],
  'cluster scale': ['ovl cluster scale orders --masters 6 --check', 'ovl cluster scale orders --masters 6 --wait', 'ovl cluster scale orders --replicas 2 --wait', 'ovl cluster scale pages --nodes 6 --wait'],
  'cluster rebalance': ['ovl cluster rebalance orders --wait', 'ovl cluster rebalance orders --threshold 5'],
  'cluster failover': ['ovl cluster failover orders --instance 10.20.0.12:7001 --check', 'ovl cluster failover orders --instance 10.20.0.12:7001 --wait'],
  'cluster password': ['ovl cluster password sessions --rotate --password-env NEW_PW --wait', 'ovl cluster password sessions --drop-old --wait', 'ovl cluster password sessions --rotate-admin --wait'],
  'etcd snapshot': ['ovl etcd snapshot -i inventories/prod.yml'],
  'etcd restore': ['ovl etcd restore inventories/prod.backup/etcd/etcd-20261206T010000Z.db --yes -i inventories/prod.yml'],
  'monitoring sync': ['ovl monitoring sync -i inventories/prod.yml'],
  scheduler: ['ovl scheduler -i inventories/prod.yml --metrics 10.20.0.5:9464', 'ovl scheduler -i inventories/prod.yml --json     # log as JSON lines'],
  'sandbox up': ['ovl sandbox up --hosts 3 --name sandbox --net 127.0.1 --inventory inventories/sandbox.yml'],
  'sandbox down': ['ovl sandbox down --name sandbox'],
  'sandbox status': ['ovl sandbox status --name sandbox'],
  'sandbox reset': ['ovl sandbox reset --name sandbox'],
  'sandbox stop-host': ['ovl sandbox stop-host h2 --name sandbox     # a host that stops answering'],
  'sandbox start-host': ['ovl sandbox start-host h2 --name sandbox'],
};

/** The path of a command under the program ("cluster create"). */
export function commandPath(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x?.parent; x = x.parent) names.unshift(x.name());
  return names.join(' ');
}

/** Every command with no subcommand of its own. */
export function leafCommands(c: Command): Command[] {
  return c.commands.length ? c.commands.flatMap(leafCommands) : [c];
}

/** Each leaf command's --help ends with its examples. */
export function addExamples(program: Command): void {
  for (const c of leafCommands(program)) {
    const ex = EXAMPLES[commandPath(c)];
    if (ex) c.addHelpText('after', `\nExamples:\n${ex.map((e) => `  ${e}`).join('\n')}`);
  }
}
