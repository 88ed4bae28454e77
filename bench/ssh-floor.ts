// The floor under a no-op bootstrap of a large fleet: how long OpenSSH's own client takes to open
// a connection to every host of a sandbox at once and run one command, against ovl's start-up,
// connections and facts (`ovl bootstrap --only data-layout`, a no-op after a first run) on the same
// hosts in the same run.
//
//   npx tsx bench/ssh-floor.ts [--hosts 100] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../src/paths.js';
import { sandboxDown, sandboxUp } from '../src/sandbox/sandbox.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const HOSTS = arg('--hosts', 100);
const RUNS = arg('--runs', 3);
const NAME = 'sshfloor';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: '1' } });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - t0) / 1e9) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-500)}`))));
  });
}

async function main(): Promise<void> {
  if (spawnSync('ssh', ['-V']).error) throw new Error('the OpenSSH client is missing: apt-get install -y openssh-client');
  const log = () => {};
  await sandboxDown(NAME, undefined, log);
  const info = await sandboxUp({ name: NAME, hosts: HOSTS, net: '127.0.16', inventory: join(projectRoot, 'bench', 'results', `${NAME}.yml`), log });
  try {
    // Every host at once, as ovl connects to them (forks 50 by default: the same bound here).
    const script = info.hosts
      .map((h) => `ssh -i ${info.fleetKey} -o UserKnownHostsFile=${info.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes root@${h.address} true`)
      .join('\n');
    const ovlArgs = [join(projectRoot, 'bin', 'ovl.js'), 'bootstrap', info.inventory, '--only', 'data-layout'];
    await timed(process.execPath, ovlArgs); // the first run makes the tree
    const openssh: number[] = [];
    const ovl: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      openssh.push(await timed('sh', ['-c', `printf '%s\\n' "$0" | xargs -P 50 -I{} sh -c {}`, script]));
      ovl.push(await timed(process.execPath, ovlArgs));
    }
    const o = median(openssh);
    const v = median(ovl);
    console.log(`${HOSTS} hosts, median of ${RUNS}: OpenSSH connect + true on every host ${o.toFixed(2)} s; ` +
      `ovl bootstrap --only data-layout (no-op: start-up, connections, facts, one probe) ${v.toFixed(2)} s = ${(v / o).toFixed(2)}x the floor`);
    console.log(`runs: OpenSSH ${openssh.map((x) => x.toFixed(2)).join(', ')}; ovl ${ovl.map((x) => x.toFixed(2)).join(', ')}`);
  } finally {
    await sandboxDown(NAME, undefined, log);
  }
}

main().catch((e: unknown) => {
  console.error(`bench/ssh-floor: ${(e as Error).message}`);
  process.exit(1);
});
