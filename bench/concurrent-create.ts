// Benchmark: many creates queued at once against one create, on the same sandbox fleet in the
// same run. Each batch is queued while no scheduler runs, then one `ovl scheduler` starts; the
// time is from its start to the last task's end. The goal (issue 25): no task fails, and a
// batch of 100 takes at most about 1.5 times one create (the scheduler runs tasks of different
// clusters side by side; only their allocation commits are made one at a time).
//
//   npx tsx bench/concurrent-create.ts [--creates 1,20,100] [--hosts 4] [--masters 3] [--replicas 1]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listTasks, type Task } from '../src/cluster/task-store.js';
import { loadFleet } from '../src/inventory/fleet.js';
import { projectRoot } from '../src/paths.js';
import { sandboxDown, sandboxUp } from '../src/sandbox/sandbox.js';
import { etcdAccess, withEtcd, type EtcdAccess } from '../src/state/etcd.js';
import { mapLimit } from '../src/util/semaphore.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const SIZES = (args.get('creates') ?? '1,20,100').split(',').map(Number);
const HOSTS = Number(args.get('hosts') ?? 4);
const MASTERS = args.get('masters') ?? '3';
const REPLICAS = args.get('replicas') ?? '1';
const NAME = 'benchconc';
const ovlBin = join(projectRoot, 'bin', 'ovl.js');

function ovl(argv: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [ovlBin, ...argv], { env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

async function mustOvl(argv: string[]): Promise<void> {
  const r = await ovl(argv);
  if (r.code !== 0) throw new Error(`ovl ${argv.join(' ')} failed:\n${r.out}`);
}

const ended = (t: Task) => t.state === 'done' || t.state === 'failed';

/**
 * The floor under a batch: the CPU its redis-server processes used from their start to the
 * batch's end (cumulative, from ps), spread over every core. No scheduler could start and form
 * the same clusters faster on this machine.
 */
function redisCpuFloor(): number {
  const pids = spawnSync('ps', ['-C', 'redis-server', '-o', 'pid='], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  let ticks = 0;
  for (const pid of pids) {
    try {
      // utime and stime, in clock ticks (100 a second on Linux), after the command's parenthesis.
      const f = readFileSync(`/proc/${pid.trim()}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // Exited meanwhile.
    }
  }
  return ticks / 100 / cpus().length;
}

/** Start a scheduler, wait until every task of `prefix` has ended; seconds and the failed ones. */
async function runBatch(inventory: string, endpoints: EtcdAccess, prefix: string, n: number): Promise<{ s: number; failed: Task[] }> {
  const t0 = performance.now();
  const sched: ChildProcess = spawn(process.execPath, [ovlBin, 'scheduler', '--lease-ttl', '60', '-i', inventory], { stdio: 'ignore' });
  try {
    for (;;) {
      const mine = (await withEtcd(endpoints, listTasks)).filter((t) => t.cluster.startsWith(prefix) && t.kind === 'create');
      if (mine.length === n && mine.every(ended)) return { s: (performance.now() - t0) / 1000, failed: mine.filter((t) => t.state === 'failed') };
      if (sched.exitCode !== null) throw new Error(`the scheduler exited (${sched.exitCode})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    sched.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const build = spawnSync('npx', ['tsc', '-p', '.'], { cwd: projectRoot, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const resultsDir = join(projectRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const info = await sandboxUp({ name: NAME, hosts: HOSTS, net: '127.0.15', inventory: join(resultsDir, `${NAME}.yml`), log: () => {} });
  const inv = ['-i', info.inventory];
  try {
    await mustOvl(['bootstrap', info.inventory]);
    const endpoints = etcdAccess(loadFleet(info.inventory));
    console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB; ${HOSTS} sandbox hosts`);
    console.log(`each create: redis_cluster ${MASTERS}x${REPLICAS}, 16 MB per instance`);
    const rows: { creates: number; s: number; failed: number; floor: number }[] = [];
    for (const n of SIZES) {
      const prefix = `c${n}x`;
      // Queued with no scheduler running, as a script's burst finds a busy leader.
      await mapLimit(Array.from({ length: n }, (_, i) => `${prefix}${i}`), 8, (name) =>
        mustOvl(['cluster', 'create', name, '--type', 'redis_cluster', '--masters', MASTERS, '--replicas', REPLICAS, '--maxmemory', '16mb', ...inv]),
      );
      const r = await runBatch(info.inventory, endpoints, prefix, n);
      const floor = redisCpuFloor();
      for (const t of r.failed) console.log(`  failed: ${t.id}: ${t.error}`);
      console.log(`${n} create(s): ${r.s.toFixed(1)} s, ${r.failed.length} failed; Redis's own CPU over ${cpus().length} cores: ${floor.toFixed(1)} s`);
      rows.push({ creates: n, s: r.s, failed: r.failed.length, floor });
      const names = JSON.parse((await ovl(['cluster', 'list', '--json', ...inv])).out) as { name: string }[];
      await mapLimit(names, 8, (c) => mustOvl(['cluster', 'delete', '--yes', c.name, '--no-wait', ...inv]));
      await runDeletes(info.inventory, endpoints);
    }
    const one = rows.find((r) => r.creates === 1)?.s;
    console.log('\ncreates | batch (s) | one create (s) | batch / one | Redis CPU floor (s) | batch / floor | failed');
    for (const r of rows) {
      const cells = [r.s.toFixed(1).padStart(9), (one?.toFixed(1) ?? '-').padStart(14), (one ? `${(r.s / one).toFixed(2)}x` : '-').padStart(11), r.floor.toFixed(1).padStart(19), `${(r.s / r.floor).toFixed(2)}x`.padStart(13)];
      console.log(`${String(r.creates).padStart(7)} | ${cells.join(' | ')} | ${r.failed}`);
    }
    const big = rows.find((r) => r.creates === 100);
    if (big && one) console.log(`${big.failed === 0 && big.s / one <= 1.5 ? 'PASS' : 'MISS'} 100 creates at once: 0 failed and at most 1.5x one create`);
    writeFileSync(join(resultsDir, `concurrent-create-${new Date().toISOString().replace(/[:.]/g, '')}.json`), JSON.stringify({ hosts: HOSTS, masters: MASTERS, replicas: REPLICAS, rows }, null, 2));
  } finally {
    await sandboxDown(NAME, undefined, () => {});
  }
}

/** Run the queued deletes to their end (between sizes: each batch starts on an empty fleet). */
async function runDeletes(inventory: string, endpoints: EtcdAccess): Promise<void> {
  const sched = spawn(process.execPath, [ovlBin, 'scheduler', '-i', inventory], { stdio: 'ignore' });
  try {
    while ((await withEtcd(endpoints, listTasks)).some((t) => !ended(t))) await new Promise((r) => setTimeout(r, 200));
  } finally {
    sched.kill('SIGTERM');
  }
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.message}`);
  process.exit(1);
});
