// Benchmark: ovl's reads and writes of etcd at fleet scale. A local etcd (Debian's etcd-server)
// gets 20,000 hosts and clusters written through the store's own functions, no process behind
// them (test/helpers/state-fixture.ts), first --small then --clusters of them; at each size:
//
//   floor      `ovl --version`: the CLI's own start-up, which every command pays
//   etcd floor `ovl cluster show` of a cluster that does not exist: start-up, the etcd client
//              loaded, connected, one read (what every command that asks etcd pays, at any size)
//   list       `ovl cluster list` (OVL_ETCD_ENDPOINTS, as from an operator's laptop)
//   show       `ovl cluster show NAME --no-probe` (the probe would ask the instances, which do not run)
//   capacity   the read that precedes a placement (fleetCapacity) from etcd, as a CLI makes it, and
//              from the leading scheduler's copy followed by a watch (capacity.ts); its floor:
//              the same two prefixes read by the etcd client without a value parsed
//   place      a 3 x 1 Redis Cluster placed on that fleet and committed (commitPlan), in process
//   wake-up    what the scheduler reads on a wake-up with 100 tasks queued (the queue), against
//              reading every task as it did before the queue existed
//
//   npx tsx bench/state-scale.ts [--hosts 20000] [--small 500] [--clusters 5000] [--rounds 3]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CapacityCache, fleetCapacity } from '../src/cluster/capacity.js';
import { place } from '../src/cluster/placement.js';
import { commitPlan } from '../src/cluster/store.js';
import { listTasks, newTask, openTasks, putTask } from '../src/cluster/task-store.js';
import { projectRoot } from '../src/paths.js';
import { startLocalEtcd } from '../test/helpers/local-etcd.js';
import { allocPrefix, capacityPrefix } from '../src/state/keys.js';
import { syntheticFleet } from '../test/helpers/fleets.js';
import { fixtureName, registerHosts, writeClusters } from '../test/helpers/state-fixture.js';
import { benchArgs, median, writeResult } from './local.js';
import { ensurePeers } from './peers.js';

const args = benchArgs();
const HOSTS = Number(args.get('hosts') ?? 20000);
const SIZES = [Number(args.get('small') ?? 500), Number(args.get('clusters') ?? 5000)];
const ROUNDS = Number(args.get('rounds') ?? 3);

ensurePeers('state-scale', [{ command: 'etcd', pkg: 'etcd-server' }]);
if (!existsSync(join(projectRoot, 'dist', 'src', 'cli.js'))) {
  console.error('state-scale: the CLI is not built: npm run build');
  process.exit(2);
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await f();
  return { ms: ms(t0), value };
}

const etcd = await startLocalEtcd();
const { url, client: c } = etcd;

function cli(argv: string[], exit = 0): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'ovl.js'), ...argv], { encoding: 'utf8', env: { ...process.env, OVL_ETCD_ENDPOINTS: url } });
  const t = ms(t0);
  if (r.status !== exit) throw new Error(`ovl ${argv.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return t;
}

interface Row {
  clusters: number;
  floorMs: number;
  etcdFloorMs: number;
  listMs: number;
  showMs: number;
  capacityMs: number;
  rawCapacityMs: number;
  cachedCapacityMs: number;
  placeMs: number;
  wakeMs: number;
  allTasksMs: number;
  tasks: number;
  keys: number;
  dbMB: number;
}
const rows: Row[] = [];
try {
  const hosts = syntheticFleet('random', HOSTS, 7);
  let t = await timed(() => registerHosts(c, hosts));
  console.log(`${HOSTS} hosts registered in ${(t.ms / 1000).toFixed(1)} s`);
  let written = 0;
  for (const size of SIZES) {
    t = await timed(() => writeClusters(c, written, size));
    written = size;
    // etcd settles (its backend commits what was just written) before anything is timed.
    await new Promise((r) => setTimeout(r, 5000));
    const status = await c.maintenance.status();
    const keys = Number((await c.getAll().prefix('/overlord/').count()));
    console.log(`${size} clusters written (${(t.ms / 1000).toFixed(1)} s); ${keys} keys, ${(Number(status.dbSize) / 2 ** 20).toFixed(0)} MB`);
    const rounds = async (f: (k: number) => unknown) => {
      const out: number[] = [];
      for (let k = 0; k < ROUNDS; k++) out.push((await timed(async () => f(k))).ms);
      return median(out);
    };
    const floorMs = await rounds(() => cli(['--version']));
    const etcdFloorMs = await rounds(() => cli(['cluster', 'show', 'no-such-cluster', '--no-probe'], 1));
    const listMs = await rounds(() => cli(['cluster', 'list']));
    const showMs = await rounds((k) => cli(['cluster', 'show', fixtureName((k * 997) % size), '--no-probe']));
    const capacityMs = await rounds(() => fleetCapacity(c));
    const rawCapacityMs = await rounds(() => Promise.all([c.getAll().prefix(capacityPrefix).exec(), c.getAll().prefix(allocPrefix).exec()]));
    const cache = await CapacityCache.follow(c, console.log);
    const cachedCapacityMs = await rounds(() => fleetCapacity(c));
    await cache.close();
    // Placement and commit only: the capacity read is its own column.
    const placeOnly: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      const req = { name: `q${size}-${k}`, type: 'redis_cluster' as const, version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 256 };
      const read = await fleetCapacity(c);
      const t0 = process.hrtime.bigint();
      const plan = place(req, read.hosts);
      await commitPlan(c, plan, { ...req, state: 'running', task: 'bench', auth: false, created: new Date().toISOString() }, read);
      placeOnly.push(ms(t0));
    }
    const queued = [];
    for (let k = 0; k < 100; k++) queued.push(await newTask(c, 'create', `w${size}-${k}`, { request: { name: `w${size}-${k}`, type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 64 } }));
    const wakeMs = await rounds(async () => {
      const open = await openTasks(c);
      if (open.length !== 100) throw new Error(`the queue holds ${open.length} tasks, not 100`);
    });
    let tasks = 0;
    const allTasksMs = await rounds(async () => (tasks = (await listTasks(c)).length));
    for (const q of queued) await putTask(c, { ...q, state: 'failed', error: 'benchmark' });
    const row: Row = { clusters: size, floorMs, etcdFloorMs, listMs, showMs, capacityMs, rawCapacityMs, cachedCapacityMs, placeMs: median(placeOnly), wakeMs, allTasksMs, tasks, keys, dbMB: Number(status.dbSize) / 2 ** 20 };
    rows.push(row);
    const f = (x: number) => `${x.toFixed(0)} ms`;
    console.log(
      `${size} clusters: floor ${f(floorMs)}, etcd floor ${f(etcdFloorMs)}, list ${f(listMs)}, show ${f(showMs)} (etcd floor + ${f(showMs - etcdFloorMs)}), ` +
        `capacity ${f(capacityMs)} (floor ${f(rawCapacityMs)}, cached ${f(cachedCapacityMs)}), place + commit ${f(row.placeMs)}, wake-up ${f(wakeMs)} (every task: ${f(allTasksMs)}, ${tasks} tasks)`,
    );
  }
  const [a, b] = rows;
  if (a && b) {
    const g = (k: keyof Row) => `${(Number(b[k]) / Number(a[k])).toFixed(2)}x`;
    console.log(`growth ${a.clusters} -> ${b.clusters} clusters: list ${g('listMs')}, show ${g('showMs')}, capacity ${g('capacityMs')}, place ${g('placeMs')}, wake-up ${g('wakeMs')}`);
  }
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
  console.log(`results: ${writeResult('state-scale', { hosts: HOSTS, rows })}`);
} finally {
  await etcd.stop();
}
