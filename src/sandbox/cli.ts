import { Command, InvalidArgumentError } from 'commander';
import { table } from '../ui/table.js';

// The sandbox module loads on use: other commands need none of it.
const sandboxModule = () => import('./sandbox.js');

function count(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 254) throw new InvalidArgumentError('a number from 1 to 254');
  return n;
}

const NAME_OPT = ['--name <name>', 'name of the sandbox', 'sandbox'] as const;

export function registerSandboxCommands(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('real hosts on this machine: one sshd per host in its own mount + UTS namespace (needs root)');

  sandbox
    .command('up')
    .description('start the sandbox hosts (idempotent; a larger --hosts adds hosts) and write an inventory for them')
    .option('--hosts <n>', 'number of hosts', count, 3)
    .option(...NAME_OPT)
    .option('--net <prefix>', 'first three octets of the host addresses (host N gets <prefix>.N)', '127.0.1')
    .option('--inventory <path>', 'where to write the inventory (default: inventories/<name>.yml)')
    .option('--state-dir <dir>', 'where the sandbox keeps its keys and host directories (default: /var/lib/ovl-sandbox/<name>)')
    .action(async (o: { hosts: number; name: string; net: string; inventory?: string; stateDir?: string }) => {
      const info = await (await sandboxModule()).sandboxUp({ name: o.name, hosts: o.hosts, net: o.net, inventory: o.inventory, stateDir: o.stateDir });
      const first = info.hosts[0]!;
      console.log(`inventory: ${info.inventory}`);
      console.log(`ssh in:    ssh -i ${info.fleetKey} -o UserKnownHostsFile=${info.knownHosts} root@${first.address}`);
    });

  sandbox
    .command('down')
    .description('stop every process of the sandbox hosts and remove its state, inventory and known_hosts')
    .option(...NAME_OPT)
    .option('--state-dir <dir>', 'state directory, if not the default')
    .action(async (o: { name: string; stateDir?: string }) => {
      await (await sandboxModule()).sandboxDown(o.name, o.stateDir);
    });

  sandbox
    .command('status')
    .description('show the sandbox hosts: sshd alive, processes running on each')
    .option(...NAME_OPT)
    .option('--state-dir <dir>', 'state directory, if not the default')
    .option('--json', 'print JSON')
    .action(async (o: { name: string; stateDir?: string; json?: boolean }) => {
      const st = await (await sandboxModule()).sandboxStatus(o.name, o.stateDir);
      if (o.json) {
        console.log(JSON.stringify(st, null, 2));
        return;
      }
      if (!st.up) {
        console.log(`the sandbox "${st.name}" is not up`);
        return;
      }
      console.log(`sandbox "${st.name}": ${st.hosts.length} host(s), inventory ${st.inventory}`);
      const rows = st.hosts.map((h) => [h.name, h.address, h.alive ? 'up' : 'down', h.pid === null ? '-' : String(h.pid), String(h.others)]);
      for (const l of table(['HOST', 'ADDRESS', 'SSHD', 'PID', 'OTHER PROCS'], rows)) console.log(l);
    });

  sandbox
    .command('reset')
    .description('make every host fresh (kill its processes, empty /data and its /etc changes) without restarting sshd')
    .option(...NAME_OPT)
    .option('--state-dir <dir>', 'state directory, if not the default')
    .action(async (o: { name: string; stateDir?: string }) => {
      await (await sandboxModule()).sandboxReset(o.name, o.stateDir);
    });

  sandbox
    .command('stop-host <host>')
    .description("stop one host's sshd (a host down); processes started on it keep running")
    .option(...NAME_OPT)
    .option('--state-dir <dir>', 'state directory, if not the default')
    .action(async (host: string, o: { name: string; stateDir?: string }) => {
      await (await sandboxModule()).sandboxStopHost(o.name, host, o.stateDir);
    });

  sandbox
    .command('start-host <host>')
    .description("start one host's sshd again, with the same /data and /etc")
    .option(...NAME_OPT)
    .option('--state-dir <dir>', 'state directory, if not the default')
    .action(async (host: string, o: { name: string; stateDir?: string }) => {
      await (await sandboxModule()).sandboxStartHost(o.name, host, o.stateDir);
    });
}
