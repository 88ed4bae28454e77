// Benchmark: creating a Redis Cluster with ovl (pre-rendered nodes.conf, every host's instances
// started in one go) against `redis-cli --cluster create` on the same sandbox hosts, in the same
// run, from "request submitted" to "the same consistency check passes" (src/cluster/check.ts).
//
//   npx tsx bench/cluster-create.ts [--masters 3,30,100,300] [--hosts 10] [--timeout 300]
//   npx tsx bench/cluster-create.ts --mesos [--masters 30]   (through Mesos against the fleet path)
//
// ovl: `ovl cluster create bM --type redis_cluster --masters M --replicas 1 --wait`, timed from
// process start to exit (it exits once its consistency check passes), then deleted.
// redis-cli: the same number of redis-server processes with the same redis.conf (rendered by
// the same template, minus nodes.conf), started over SSH by the same host script, then
// `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`; the timer stops when
// the consistency check passes against the layout redis-cli chose, or its time is up (--timeout,
// and at least 4 times ovl's: a side that never converges still shows a ratio). Both sides are
// measured on the same 10-host sandbox; everything started is stopped at the end, also on failure.
// A third line per M, "Redis alone", is the floor under both: the same start-up with nothing
// else running, timed by Redis's own log.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { checkCluster } from '../src/cluster/check.js';
import { heldRedisCommand, instanceSetup, stopScript, type InstanceSetup } from '../src/cluster/hostops.js';
import { place } from '../src/cluster/placement.js';
import { startTogether } from '../src/cluster/together.js';
import { newNodeId } from '../src/cluster/nodeid.js';
import { renderRedisConf } from '../src/cluster/redisconf.js';
import { instanceDir, type Plan, type PlannedInstance } from '../src/cluster/types.js';
import { shq } from '../src/shell.js';
import { loadFleet } from '../src/inventory/fleet.js';
import { projectRoot, remote } from '../src/paths.js';
import { sandboxDown, sandboxUp, type SandboxInfo } from '../src/sandbox/sandbox.js';
import { Remote } from '../src/ssh/remote.js';
import { runScript } from '../src/ssh/transport.js';
import { mapLimit } from '../src/util/semaphore.js';
import { ensurePeers, timed } from './peers.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const MASTERS = (args.get('masters') ?? '3,30,100,300').split(',').map(Number);
const HOSTS = Number(args.get('hosts') ?? 10);
const TIMEOUT_S = Number(args.get('timeout') ?? 300);
const NAME = 'benchcc';
// Read in main(), after the peer check (redis-server may not be installed yet).
let VERSION = '';
const PEER_PORT_BASE = 20000;
const FLOOR_PORT_BASE = 25000;

const ovlBin = join(projectRoot, 'bin', 'ovl.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/**
 * Settings both sides get for M masters. At M = 300 (600 nodes on this machine's 2 cores) the
 * cluster cron at hz 10 alone needs about 4 cores (measured: 0.42 cores at 200 nodes, growing
 * with the square of the node count), so neither side could ever pass: hz 1 there.
 */
const configFor = (m: number): Record<string, string> | undefined => (m >= 300 ? { hz: '1' } : undefined);

async function ovlCreate(info: SandboxInfo, m: number): Promise<number | null> {
  const name = `b${m}`;
  const config = Object.entries(configFor(m) ?? {}).flatMap(([k, v]) => ['--config', `${k}=${v}`]);
  const r = await timed(process.execPath, [ovlBin, 'cluster', 'create', name, '--type', 'redis_cluster', '--masters', String(m), '--replicas', '1', '--maxmemory', '16mb', ...config, '--wait', '-i', info.inventory]);
  if (r.code !== 0) console.log(`  ovl create ${name} failed:\n${r.out.trim().split('\n').slice(-5).join('\n')}`);
  const d = await timed(process.execPath, [ovlBin, 'cluster', 'delete', '--yes', name, '-i', info.inventory]);
  if (d.code !== 0) throw new Error(`ovl cluster delete ${name} failed: ${d.out}`);
  return r.code === 0 ? r.s : null;
}

/**
 * The layout redis-cli chose, as a plan the consistency check understands: each node's own
 * line (`myself`) says its role, master and slots as redis-cli set them, before gossip has
 * told the other nodes.
 */
async function planFromCluster(name: string, insts: PlannedInstance[]): Promise<Plan> {
  const planned = await mapLimit(insts, 64, async (base) => {
    const c = new Redis({ host: base.address, port: base.port, lazyConnect: true });
    try {
      const mine = String(await c.call('CLUSTER', 'NODES')).split('\n').find((l) => l.includes('myself'))!;
      const [id, , flags, master, , , epoch, , ...slots] = mine.trim().split(' ');
      const isMaster = flags!.includes('master');
      return {
        ...base,
        id: id!,
        role: isMaster ? ('master' as const) : ('replica' as const),
        masterId: isMaster ? undefined : master,
        configEpoch: Number(epoch),
        slots: isMaster ? slots.map((r) => r.split('-').map(Number)).map(([a, b]) => [a!, b ?? a!] as [number, number]) : undefined,
      };
    } finally {
      c.disconnect();
    }
  });
  const shardOf = new Map(planned.filter((i) => i.role === 'master').map((i, n) => [i.id, n]));
  for (const i of planned) i.shard = shardOf.get(i.role === 'master' ? i.id : i.masterId!) ?? 0;
  return { cluster: name, type: 'redis_cluster', version: VERSION, maxmemoryMB: 16, instances: planned };
}

async function peerCreate(info: SandboxInfo, remotes: Map<string, Remote>, m: number, timeoutS: number): Promise<number | null> {
  // Same hosts, same config template; ports of their own so nothing collides with ovl's.
  const insts: PlannedInstance[] = Array.from({ length: 2 * m }, (_, n) => {
    const h = info.hosts[n % info.hosts.length]!;
    return { id: newNodeId(), host: h.name, address: h.address, port: PEER_PORT_BASE + Math.floor(n / info.hosts.length), role: 'master', shard: n };
  });
  const plan: Plan = { cluster: 'peer', type: 'redis_cluster', version: VERSION, maxmemoryMB: 16, config: configFor(m), instances: insts };
  const setup = (i: PlannedInstance): InstanceSetup => {
    const dir = `/data/bench-peer/${i.port}`;
    const command = [remote.bin('redis', VERSION, 'redis-server'), `${dir}/redis.conf`];
    return {
      addr: `${i.address}:${i.port}`,
      id: i.id,
      dir,
      pidfile: `${dir}/redis.pid`,
      files: [{ name: 'redis.conf', content: renderRedisConf(plan, i, { dir }), mode: 0o644 }],
      meta: `id = "${i.id}"\n`,
      command,
      heldCommand: heldRedisCommand(command, dir),
    };
  };
  const byHost = (list: PlannedInstance[]) => [...new Set(list.map((i) => i.host))].map((h) => [h, list.filter((i) => i.host === h)] as const);
  const t0 = performance.now();
  let result: number | null = null;
  try {
    // The same start-up as ovl's: every host installs and launches its processes held, then
    // all are let go at once.
    const { reports } = await startTogether(byHost(insts).map(([h, list]) => ({ host: h, remote: async () => remotes.get(h)!, setups: list.map(setup) })));
    const bad = [...reports.values()].filter((x) => x.status === 'failed');
    if (bad.length) throw new Error(bad.map((b) => `${b.addr} ${b.detail}`).join('; '));
    const create = await timed('redis-cli', ['--cluster', 'create', ...insts.map((i) => `${i.address}:${i.port}`), '--cluster-replicas', '1', '--cluster-yes']);
    if (create.code !== 0) throw new Error(`redis-cli --cluster create: ${create.out.slice(-500)}`);
    const peerPlan = await planFromCluster('peer', insts);
    const deadline = t0 + timeoutS * 1000;
    let last: string[] = [];
    while (performance.now() < deadline) {
      const report = await checkCluster(peerPlan);
      if (report.healthy) {
        result = (performance.now() - t0) / 1000;
        break;
      }
      last = report.problems;
      await sleep(250);
    }
    if (result === null) console.log(`  redis-cli: not healthy within ${timeoutS} s; last problems: ${last.slice(0, 5).join('; ')}${last.length > 5 ? ` (+${last.length - 5})` : ''}`);
  } finally {
    await mapLimit(byHost(insts), 64, async ([h, list]) => {
      await runScript(remotes.get(h)!, stopScript(list.map(setup), true));
    });
  }
  return result;
}

/**
 * The floor under both: ovl's own start-up of the same pre-rendered cluster (placed, rendered,
 * launched held, released at once), with nothing else running — no CLI, no scheduler, no etcd
 * records, no check. The time is Redis's own: from the release to the last node's line in its
 * console.log saying it is ready (a master's "Cluster state changed: ok", a replica's "sync:
 * Finished"), read once a second over SSH.
 */
async function redisAlone(info: SandboxInfo, remotes: Map<string, Remote>, m: number): Promise<{ launchS: number; formS: number | null }> {
  const hosts = info.hosts.map((h) => ({ name: h.name, address: h.address, cpu: 2, memMB: 1 << 20, usedMemMB: 0, ports: { from: FLOOR_PORT_BASE, to: FLOOR_PORT_BASE + 999 }, usedPorts: [], versions: { redis: [VERSION] } }));
  const plan = place({ name: 'floor', type: 'redis_cluster', version: VERSION, masters: m, replicas: 1, maxmemoryMB: 16, config: configFor(m) }, hosts);
  const setups = new Map(plan.instances.map((i) => [i, instanceSetup(plan, i, { task: 'bench-floor' })]));
  const onHost = (h: string) => plan.instances.filter((i) => i.host === h);
  const used = info.hosts.map((h) => h.name).filter((h) => onHost(h).length);
  try {
    const t0 = Date.now();
    const { releasedAt, reports } = await startTogether(used.map((h) => ({ host: h, remote: async () => remotes.get(h)!, setups: onHost(h).map((i) => setups.get(i)!) })));
    const bad = [...reports.values()].filter((x) => x.status === 'failed');
    if (bad.length) throw new Error(bad.map((b) => `${b.addr} ${b.detail}`).join('; '));
    const launchS = (releasedAt - t0) / 1000;
    const readyAt = new Map<string, number>();
    while (Date.now() < releasedAt + TIMEOUT_S * 1000 && readyAt.size < plan.instances.length) {
      await sleep(1000);
      await mapLimit(used, 16, async (h) => {
        const lines = onHost(h).map((i) => {
          const log = shq(`${instanceDir(plan.type, i.port)}/console.log`);
          // A replica is ready once its first sync is done: a partial one from its seed history
          // (rdb.ts), or a full one.
          const pattern = i.role === 'master' ? 'Cluster state changed: ok' : 'sync: (Finished with success|Master accepted a Partial Resynchronization)';
          return `echo "${i.address}:${i.port}|$(grep -E -m1 -h ${shq(pattern)} ${log} 2>/dev/null | cut -d' ' -f2-5)"`;
        });
        const r = await runScript(remotes.get(h)!, lines.join('\n'));
        for (const l of r.stdout.split('\n')) {
          const [addr, when] = l.split('|');
          if (addr && when) readyAt.set(addr, new Date(when).getTime());
        }
      });
    }
    return { launchS, formS: readyAt.size === plan.instances.length ? (Math.max(...readyAt.values()) - releasedAt) / 1000 : null };
  } finally {
    await mapLimit(used, 64, (h) => runScript(remotes.get(h)!, stopScript(onHost(h).map((i) => setups.get(i)!), true)));
  }
}

async function main(): Promise<void> {
  // Through Mesos against the fleet path: bench/mesos-create.ts.
  if (process.argv.includes('--mesos')) {
    const at = process.argv.indexOf('--masters');
    return (await import('./mesos-create.js')).mesosBench((at > 0 ? process.argv[at + 1]! : '30').split(',').map(Number));
  }
  ensurePeers('bench/cluster-create', [{ command: 'redis-cli', pkg: 'redis-tools' }, { command: 'redis-server', pkg: 'redis-server' }]);
  VERSION = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)![1]!;
  const build = spawnSync('npx', ['tsc', '-p', '.'], { cwd: projectRoot, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const resultsDir = join(projectRoot, 'bench', 'results');
  const stamp = new Date().toISOString().replace(/[:.]/g, '');
  mkdirSync(resultsDir, { recursive: true });
  const info = await sandboxUp({ name: NAME, hosts: HOSTS, net: '127.0.14', inventory: join(resultsDir, `${NAME}.yml`), log: () => {} });
  const remotes = new Map<string, Remote>();
  // A scheduler daemon, as in production (it keeps its SSH connections between tasks). Its
  // lease outlasts three minutes of overload: at M = 300 this machine's 2 cores are saturated
  // by the forming nodes alone for over a minute ("Redis alone" below: 61 s), and etcd, on
  // the same cores, then missed a 60 s lease's keep-alives (the create --wait then finishes
  // the task in its own process, which is what a lost leader leaves it to).
  let scheduler: ReturnType<typeof spawn> | undefined;
  const stop = async () => {
    if (scheduler && scheduler.exitCode === null) {
      const exited = new Promise((r) => scheduler!.once('exit', r));
      scheduler.kill('SIGTERM');
      const t = setTimeout(() => scheduler!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    for (const r of remotes.values()) r.close();
    await sandboxDown(NAME, undefined, () => {});
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    const b = await timed(process.execPath, [ovlBin, 'bootstrap', info.inventory]);
    if (b.code !== 0) throw new Error(`bootstrap failed:\n${b.out}`);
    // Its log (every step, with times) beside the results: where a create's time goes.
    const schedulerLog = join(resultsDir, `cluster-create-scheduler-${stamp}.log`);
    scheduler = spawn(process.execPath, [ovlBin, 'scheduler', '--lease-ttl', '180', '-i', info.inventory], { stdio: ['ignore', openSync(schedulerLog, 'w'), 'inherit'] });
    console.log(`scheduler log: ${schedulerLog}`);
    const inv = loadFleet(info.inventory);
    for (const h of inv.hosts) remotes.set(h.name, await Remote.connect(h, { acceptNewHostKeys: false }));
    const rows: { masters: number; ovl: number | null; peer: number | null; peerTimeoutS: number; floor: { launchS: number; formS: number | null } }[] = [];
    for (const m of MASTERS) {
      console.log(`M = ${m} (x1 replica, ${2 * m} processes on ${HOSTS} hosts)${configFor(m) ? `, both sides with ${Object.entries(configFor(m)!).map(([k, v]) => `${k} ${v}`).join(', ')}` : ''}`);
      const ovl = await ovlCreate(info, m);
      console.log(`  ovl:       ${ovl === null ? 'failed' : `${ovl.toFixed(1)} s`}`);
      // redis-cli gets at least 4 times ovl's time: one that never converges then still shows a ratio of 4.
      const peerTimeoutS = Math.max(TIMEOUT_S, Math.ceil(4 * (ovl ?? 0)));
      const peer = await peerCreate(info, remotes, m, peerTimeoutS);
      console.log(`  redis-cli: ${peer === null ? `> ${peerTimeoutS} s` : `${peer.toFixed(1)} s`}`);
      const floor = await redisAlone(info, remotes, m);
      console.log(`  Redis alone (ovl's start-up of the same cluster, nothing else running): launched held in ${floor.launchS.toFixed(1)} s, every node ready ${floor.formS === null ? `not within ${TIMEOUT_S} s` : `${floor.formS.toFixed(1)} s`} after the release`);
      rows.push({ masters: m, ovl, peer, peerTimeoutS, floor });
    }
    const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(1));
    console.log('\nmasters | ovl (s) | redis-cli (s) | redis-cli / ovl | Redis alone: launch + forming (s)');
    // A redis-cli side that timed out took at least its timeout: the ratio it proves is timeout / ovl.
    const proven = (r: (typeof rows)[number]) => (r.ovl ? (r.peer ?? r.peerTimeoutS) / r.ovl : null);
    for (const r of rows) {
      const x = proven(r);
      const ratio = x === null ? '-' : `${r.peer === null ? '> ' : ''}${x.toFixed(1)}x`;
      console.log(`${String(r.masters).padStart(7)} | ${fmt(r.ovl).padStart(7)} | ${fmt(r.peer).padStart(13)} | ${ratio.padStart(15)} | ${r.floor.launchS.toFixed(1)} + ${fmt(r.floor.formS)}`);
    }
    const at = (m: number) => rows.find((r) => r.masters === m);
    const goal = (ok: boolean, text: string) => console.log(`${ok ? 'PASS' : 'MISS'} ${text}`);
    const faster = (r: (typeof rows)[number], x: number) => (proven(r) ?? 0) >= x;
    const r100 = at(100);
    if (r100) goal(!!r100.ovl && r100.ovl < 5 && faster(r100, 6), 'M = 100: full check in < 5 s and >= 6x faster than redis-cli');
    const r300 = at(300);
    if (r300) goal(faster(r300, 3), 'M = 300: passing, and >= 3x faster than redis-cli');
    writeFileSync(join(resultsDir, `cluster-create-${stamp}.json`), JSON.stringify({ hosts: HOSTS, version: VERSION, timeoutS: TIMEOUT_S, rows }, null, 2));
  } finally {
    await stop();
  }
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.message}`);
  process.exit(1);
});
