// Benchmark: how long writes stop when a Redis Cluster shard changes master, three ways on the
// same 3 masters x 1 replica cluster in the same run:
//   ovl:        `ovl cluster failover NAME --instance <replica> --wait`
//   by hand:    CLUSTER FAILOVER sent to the replica (what an operator types; ovl's floor)
//   automatic:  the master SIGKILLed; its replica takes over after cluster-node-timeout
//
//   npx tsx bench/failover.ts [--hosts 4]
//
// A client (ioredis Cluster) writes keys of one slot of the shard one after another the whole
// time; the pause is the longest time between two acknowledged writes while the change runs.
// Every acknowledged write is read back at the end.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { loadFleet } from '../src/inventory/fleet.js';
import { projectRoot } from '../src/paths.js';
import { sandboxDown, sandboxUp, type SandboxInfo } from '../src/sandbox/sandbox.js';
import { Remote } from '../src/ssh/remote.js';
import { runScript } from '../src/ssh/transport.js';
import { liveWriter } from '../test/helpers/live-writer.js';
import { ensurePeers, timed } from './peers.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const HOSTS = Number(args.get('hosts') ?? 4);
const NAME = 'benchfo';
const CLUSTER = 'bf';
const ovlBin = join(projectRoot, 'bin', 'ovl.js');

interface Inst {
  host: string;
  address: string;
  port: number;
  role: string;
  id: string;
  shard: number;
  slots?: [number, number][];
}

async function ovl(info: SandboxInfo, argv: string[]): Promise<{ s: number; out: string }> {
  const r = await timed(process.execPath, [ovlBin, ...argv, '-i', info.inventory]);
  if (r.code !== 0) throw new Error(`ovl ${argv.join(' ')} failed:\n${r.out.trim().split('\n').slice(-8).join('\n')}`);
  return r;
}

async function instances(info: SandboxInfo): Promise<Inst[]> {
  return (JSON.parse((await ovl(info, ['cluster', 'show', CLUSTER, '--json', '--no-probe'])).out) as { instances: Inst[] }).instances;
}

/** ROLE of a node: 'master' or 'slave'. */
async function roleOf(i: Inst): Promise<string> {
  const r = new Redis({ host: i.address, port: i.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    return ((await r.call('ROLE')) as string[])[0]!;
  } catch {
    return 'down';
  } finally {
    r.disconnect();
  }
}

async function until(what: string, ms: number, done: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A hash tag whose slot shard 0's master holds: every write then waits on that shard. */
async function tagOfShard0(c: Cluster, master: Inst): Promise<string> {
  for (let t = 0; ; t++) {
    const slot = Number(await c.cluster('KEYSLOT', `{t${t}}`));
    if (master.slots!.some(([a, b]) => a <= slot && slot <= b)) return `{t${t}}`;
  }
}

interface Measured {
  pauseMs: number;
  writes: number;
  lost: number;
  errors: number;
}

/** Run `change` with a writer on the shard; the longest gap between acknowledged writes. */
async function measure(c: Cluster, tag: string, label: string, change: () => Promise<void>): Promise<Measured> {
  const w = liveWriter(c, `${tag}:${label}`, { pauseEvery: 0, afterErrorMs: 5 });
  await new Promise((r) => setTimeout(r, 1000));
  await change();
  // Writes go on for a while after the change, so a pause at its very end counts.
  const n = w.acked.length;
  await until('writes going on after the change', 120_000, async () => w.acked.length > n + 100);
  await new Promise((r) => setTimeout(r, 1000));
  await w.stop();
  // Read back once every node agrees again (right after a failover some answer CLUSTERDOWN).
  let lost: number[] | undefined;
  for (let tries = 0; !lost; tries++) {
    lost = await w.lost().catch((e: Error) => {
      if (tries > 50) throw e;
      return new Promise<undefined>((r) => setTimeout(() => r(undefined), 200));
    });
  }
  return { pauseMs: w.longestGapMs(), writes: w.acked.length, lost: lost.length, errors: w.errors.length };
}

async function main(): Promise<void> {
  ensurePeers('bench/failover', [{ command: 'redis-server', pkg: 'redis-server' }]);
  const build = spawnSync('npx', ['tsc', '-p', '.'], { cwd: projectRoot, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const resultsDir = join(projectRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const info = await sandboxUp({ name: NAME, hosts: HOSTS, net: '127.0.16', inventory: join(resultsDir, `${NAME}.yml`), log: () => {} });
  let c: Cluster | undefined;
  try {
    const b = await timed(process.execPath, [ovlBin, 'bootstrap', info.inventory]);
    if (b.code !== 0) throw new Error(`bootstrap failed:\n${b.out}`);
    await ovl(info, ['cluster', 'delete', '--yes', CLUSTER]).catch(() => undefined);
    await ovl(info, ['cluster', 'create', CLUSTER, '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '256mb', '--wait']);
    const insts = await instances(info);
    const master = insts.find((i) => i.role === 'master' && i.shard === 0)!;
    const replica = insts.find((i) => i.role === 'replica' && i.shard === 0)!;
    c = new Cluster([{ host: master.address, port: master.port }]);
    const tag = await tagOfShard0(c, master);
    console.log(`3 masters x 1 replica on ${HOSTS} sandbox hosts; writes to slot of ${tag} (shard 0: ${master.address}:${master.port}, replica ${replica.address}:${replica.port})`);

    const byOvl = await measure(c, tag, 'ovl', async () => {
      await ovl(info, ['cluster', 'failover', CLUSTER, '--instance', `${replica.address}:${replica.port}`, '--wait']);
    });
    console.log(`ovl cluster failover:     writes paused ${byOvl.pauseMs} ms (${byOvl.writes} writes, ${byOvl.lost} lost, ${byOvl.errors} errors)`);

    // Back by hand: the old master is the replica now.
    const byHand = await measure(c, tag, 'hand', async () => {
      const r = new Redis({ host: master.address, port: master.port });
      try {
        await r.call('CLUSTER', 'FAILOVER');
      } finally {
        r.disconnect();
      }
      await until('CLUSTER FAILOVER by hand', 30_000, async () => (await roleOf(master)) === 'master');
    });
    console.log(`CLUSTER FAILOVER by hand: writes paused ${byHand.pauseMs} ms (${byHand.writes} writes, ${byHand.lost} lost, ${byHand.errors} errors)`);

    const remote = await Remote.connect(loadFleet(info.inventory).hosts.find((h) => h.name === master.host)!, { acceptNewHostKeys: false });
    let auto: Measured;
    try {
      auto = await measure(c, tag, 'auto', async () => {
        await runScript(remote, `kill -9 $(cat /data/redis_cluster/${master.port}/redis.pid)`);
        await until('automatic failover', 120_000, async () => (await roleOf(replica)) === 'master');
      });
    } finally {
      remote.close();
    }
    console.log(`master killed (automatic): writes paused ${auto.pauseMs} ms (${auto.writes} writes, ${auto.lost} lost, ${auto.errors} errors)`);
    await ovl(info, ['cluster', 'restart', CLUSTER]);

    const vsHand = byOvl.pauseMs / Math.max(1, byHand.pauseMs);
    const vsAuto = auto.pauseMs / Math.max(1, byOvl.pauseMs);
    console.log(`\novl / by hand: ${vsHand.toFixed(2)} (goal <= 1.20); automatic / ovl: ${vsAuto.toFixed(1)}x (goal >= 10x)`);
    const ok = vsHand <= 1.2 && vsAuto >= 10 && byOvl.lost === 0;
    console.log(`${ok ? 'PASS' : 'MISS'} ovl's planned failover pauses writes no longer than CLUSTER FAILOVER + 20 %, at least 10x shorter than an automatic failover, nothing lost`);
    writeFileSync(join(resultsDir, `failover-${new Date().toISOString().replace(/[:.]/g, '')}.json`), JSON.stringify({ hosts: HOSTS, ovl: byOvl, byHand, automatic: auto }, null, 2));
  } finally {
    c?.disconnect();
    await ovl(info, ['cluster', 'delete', '--yes', CLUSTER]).catch(() => undefined);
    await sandboxDown(NAME, undefined, () => {});
  }
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.message}`);
  process.exit(1);
});
