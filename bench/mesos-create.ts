// Benchmark: creating a Redis Cluster through Mesos offers against the fleet path (placement and
// start over SSH), on the same sandbox hosts in the same run, and what an instance costs beyond
// Redis itself under Mesos. Run through `npx tsx bench/cluster-create.ts --mesos [--masters 30]`.
//
// The sandbox (4 hosts) gets etcd, the cache binaries, ZooKeeper, a Mesos master and an agent on
// every host, from the Mesos build the e2e tests use (test/helpers/mesos.ts); without one it says
// where to put it and exits 2. Both sides: `ovl cluster create bM --type redis_cluster --masters M
// --replicas 1 --maxmemory 16mb --wait` with an `ovl scheduler` daemon for the inventory running,
// timed from process start to exit (its consistency check passed), then memory read from /proc
// (the sandbox hosts share this machine's pid namespace): each redis-server, and under Mesos the
// processes of its container (the command executor and the containerizer's launch helper). RSS
// counts libmesos's shared pages in every process; PSS shares them out. Mesos's own part of the
// create (first LAUNCH to last TASK_RUNNING, from the scheduler's log) is the floor of this path.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { projectRoot } from '../src/paths.js';
import { sandboxDown, sandboxUp } from '../src/sandbox/sandbox.js';
import { realMesos } from '../test/helpers/mesos.js';
import { ensurePeers, timed } from './peers.js';

const NAME = 'benchmesos';
const HOSTS = 4;
const ovlBin = join(projectRoot, 'bin', 'ovl.js');

interface Mem {
  rssKB: number;
  pssKB: number;
}

function memOf(pid: number): Mem {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rssKB: kb('Rss'), pssKB: kb('Pss') };
}

const parentOf = (pid: number) => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const commOf = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

/** Per instance of the cluster on these addresses: redis-server alone, and with its Mesos container's processes. */
function memory(addresses: string[]): { instances: number; redis: Mem; container: Mem } {
  const sum = (a: Mem, b: Mem) => ({ rssKB: a.rssKB + b.rssKB, pssKB: a.pssKB + b.pssKB });
  let redis: Mem = { rssKB: 0, pssKB: 0 };
  let container: Mem = { rssKB: 0, pssKB: 0 };
  let instances = 0;
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    const pid = Number(d);
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.startsWith('/data/lib/redis/') || !addresses.some((a) => cmd.includes(`${a}:`))) continue;
      const own = memOf(pid);
      instances++;
      redis = sum(redis, own);
      container = sum(container, own);
      // Up the tree while the processes are Mesos's: mesos-executor, then mesos-containerizer launch.
      for (let p = parentOf(pid); p > 1 && /^mesos-/.test(commOf(p)); p = parentOf(p)) container = sum(container, memOf(p));
    } catch {
      // gone meanwhile
    }
  }
  const per = (m: Mem) => ({ rssKB: Math.round(m.rssKB / Math.max(1, instances)), pssKB: Math.round(m.pssKB / Math.max(1, instances)) });
  return { instances, redis: per(redis), container: per(container) };
}

function daemon(inventory: string, log: string): ChildProcess {
  return spawn(process.execPath, [ovlBin, 'scheduler', '-i', inventory], { stdio: ['ignore', openSync(log, 'w'), openSync(log, 'a')] });
}

async function stopDaemon(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

export async function mesosBench(masters: number[]): Promise<void> {
  ensurePeers('bench/cluster-create --mesos', [{ command: 'redis-server', pkg: 'redis-server' }]);
  const mesos = await realMesos();
  if ('skip' in mesos) {
    console.error(`bench/cluster-create --mesos: ${mesos.skip}`);
    process.exit(2);
  }
  if (spawnSync('npx', ['tsc', '-p', '.'], { cwd: projectRoot, stdio: 'inherit' }).status !== 0) throw new Error('build failed');
  const resultsDir = join(projectRoot, 'bench', 'results');
  const stamp = new Date().toISOString().replace(/[:.]/g, '');
  mkdirSync(resultsDir, { recursive: true });
  const info = await sandboxUp({ name: NAME, hosts: HOSTS, net: '127.0.17', inventory: join(resultsDir, `${NAME}.yml`), log: () => {} });
  const onMesos = join(resultsDir, `${NAME}-mesos.yml`);
  const base = parseYaml(readFileSync(info.inventory, 'utf8')) as Record<string, any>;
  base.vars.mesos_cluster = NAME;
  base.artifacts.mesos = [{ version: mesos.version, files: mesos.files }];
  for (const h of base.hosts as { name: string; vars?: object }[]) h.vars = { mesos_cgroups_root: `ovl-bench-${h.name}` };
  base.components = ['data-layout', 'etcd', 'cache-binaries', 'zookeeper', 'mesos-master', 'mesos-agent'];
  base.server = { ...base.server, zookeeper: ['h1'], 'mesos-master': ['h1'], 'mesos-agent': info.hosts.map((h) => h.name) };
  writeFileSync(onMesos, toYaml({ ...base, scheduler: { resources: 'mesos', mesos_master: `${info.hosts[0]!.address}:5050` } }));
  const rows: { masters: number; fleetS: number | null; mesosS: number | null; fleetMem?: Mem; mesosMem?: Mem; redisMem?: Mem; launchS?: number }[] = [];
  try {
    const b = await timed(process.execPath, [ovlBin, 'bootstrap', onMesos]);
    if (b.code !== 0) throw new Error(`bootstrap failed:\n${b.out.slice(-3000)}`);
    const cores = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim());
    for (const m of masters) {
      const row: (typeof rows)[number] = { masters: m, fleetS: null, mesosS: null };
      for (const side of ['fleet', 'mesos'] as const) {
        // The fleet path's inventory is the same without scheduler.resources: mesos.
        const inv = side === 'mesos' ? onMesos : info.inventory;
        const schedLog = join(resultsDir, `mesos-create-${side}-scheduler-${stamp}.log`);
        const sched = daemon(inv, schedLog);
        try {
          const name = `${side[0]}${m}`;
          const r = await timed(process.execPath, [ovlBin, 'cluster', 'create', name, '--type', 'redis_cluster', '--masters', String(m), '--replicas', '1', '--maxmemory', '16mb', '--wait', '-i', inv]);
          if (r.code !== 0) console.log(`  ${side}: create failed:\n${r.out.trim().split('\n').slice(-5).join('\n')}`);
          else {
            const addrs = info.hosts.map((h) => h.address);
            const mem = memory(addrs);
            if (side === 'fleet') {
              row.fleetS = r.s;
              row.fleetMem = mem.redis;
            } else {
              row.mesosS = r.s;
              row.mesosMem = mem.container;
              row.redisMem = mem.redis;
              // Mesos's own part: from the first LAUNCH to the last TASK_RUNNING (the scheduler's
              // "launching" and "releasing" steps), when nothing of ovl runs.
              const at = (step: string) => Date.parse(readFileSync(schedLog, 'utf8').split('\n').find((l) => l.includes(`create-${name}-`) && l.includes(`: ${step}`))?.split(' ')[0] ?? '');
              row.launchS = (at('releasing') - at('launching')) / 1000;
            }
            console.log(`  ${side}: ${r.s.toFixed(1)} s; per instance (${mem.instances}): redis-server RSS ${mem.redis.rssKB} KB, PSS ${mem.redis.pssKB} KB${side === 'mesos' ? `; with its container's Mesos processes RSS ${mem.container.rssKB} KB, PSS ${mem.container.pssKB} KB` : ''}`);
          }
          // A failed create was rolled back already.
          const d = await timed(process.execPath, [ovlBin, 'cluster', 'delete', '--yes', name, '-i', inv]);
          if (d.code !== 0 && r.code === 0) throw new Error(`delete ${name} failed: ${d.out.slice(-2000)}`);
        } finally {
          await stopDaemon(sched);
        }
      }
      rows.push(row);
    }
    console.log('\nmasters | fleet (s) | Mesos (s) | Mesos / fleet | memory per instance, Mesos / fleet (PSS; RSS)');
    for (const r of rows) {
      const t = r.fleetS && r.mesosS ? `${(r.mesosS / r.fleetS).toFixed(2)}x` : '-';
      const mem = r.fleetMem && r.mesosMem ? `${(r.mesosMem.pssKB / r.fleetMem.pssKB).toFixed(2)}x; ${(r.mesosMem.rssKB / r.fleetMem.rssKB).toFixed(2)}x` : '-';
      console.log(`${String(r.masters).padStart(7)} | ${(r.fleetS?.toFixed(1) ?? '-').padStart(9)} | ${(r.mesosS?.toFixed(1) ?? '-').padStart(9)} | ${t.padStart(13)} | ${mem}`);
    }
    // The floor: Mesos launching the tasks (nothing of ovl runs meanwhile); ovl's part is the rest.
    for (const r of rows) {
      if (!r.mesosS || !r.launchS || !r.fleetS) continue;
      const own = r.mesosS - r.launchS;
      console.log(`M = ${r.masters}: Mesos launching ${2 * r.masters} tasks (first LAUNCH to last TASK_RUNNING): ${r.launchS.toFixed(1)} s, the floor of this path here; ovl's part ${own.toFixed(1)} s = ${(own / r.fleetS).toFixed(2)}x the fleet path`);
    }
    writeFileSync(join(resultsDir, `mesos-create-${stamp}.json`), JSON.stringify({ hosts: HOSTS, mesos: mesos.version, cores, rows }, null, 2));
  } finally {
    await sandboxDown(NAME, undefined, () => {});
    // The agents' cgroups live in the machine's hierarchy: removed once empty.
    spawnSync('sh', ['-c', 'for d in /sys/fs/cgroup/*/ovl-bench-h*; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; true']);
  }
}
