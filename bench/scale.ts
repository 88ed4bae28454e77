// Benchmark: scaling a Redis Cluster holding data, ovl against redis-cli, on the same sandbox
// hosts in the same run.
//
//   npx tsx bench/scale.ts [--keys 1000000] [--hosts 4] [--peer no]   (no: ovl's side alone, while working on it)
//
// Both sides start from a 3 masters x 1 replica cluster made by `ovl cluster create` and loaded
// with --keys keys of 100 bytes.
// ovl: `ovl cluster scale NAME --masters 6 --wait` (three shards of a master and a replica
// each), then `--masters 3`, with a client writing through the cluster the whole time; every
// write it got acknowledged is read back at the end.
// redis-cli: three empty cluster nodes started on the same hosts (the same redis.conf template),
// `--cluster add-node` for each, then `--cluster rebalance --cluster-use-empty-masters` (tried
// again while the nodes do not agree yet, as an operator would); back: `--cluster rebalance
// --cluster-weight <id>=0` for the three, then `--cluster del-node` for each. It adds no
// replicas: its side does less work than ovl's.
// Each side is timed from the command to its end; keys moved are what the new masters held
// after scaling out (redis-cli) or what ovl says it moved.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { heldRedisCommand, stopScript, type InstanceSetup } from '../src/cluster/hostops.js';
import { newNodeId } from '../src/cluster/nodeid.js';
import { renderRedisConf } from '../src/cluster/redisconf.js';
import { startTogether } from '../src/cluster/together.js';
import type { Plan, PlannedInstance } from '../src/cluster/types.js';
import { loadFleet } from '../src/inventory/fleet.js';
import { projectRoot, remote } from '../src/paths.js';
import { sandboxDown, sandboxUp, type SandboxInfo } from '../src/sandbox/sandbox.js';
import { Remote } from '../src/ssh/remote.js';
import { runScript } from '../src/ssh/transport.js';
import { ensurePeers, timed } from './peers.js';
import { waitHealthy } from '../src/cluster/check.js';
import { liveOwners } from '../src/cluster/migrate.js';
import { place } from '../src/cluster/placement.js';
import { reshardMoves, slotList } from '../src/cluster/reshard.js';
import { liveWriter } from '../test/helpers/live-writer.js';
import { LocalRig, loopbackHosts } from '../test/helpers/local-redis.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const KEYS = Number(args.get('keys') ?? 1_000_000);
const HOSTS = Number(args.get('hosts') ?? 4);
const PEER = args.get('peer') !== 'no';
const NAME = 'benchsc';
const PEER_PORT = 20000;
const ovlBin = join(projectRoot, 'bin', 'ovl.js');
let VERSION = '';


async function ovl(info: SandboxInfo, argv: string[], stamp = false): Promise<{ s: number; out: string }> {
  const r = await timed(process.execPath, [ovlBin, ...argv, '-i', info.inventory], stamp);
  if (r.code !== 0) throw new Error(`ovl ${argv.join(' ')} failed:\n${r.out.trim().split('\n').slice(-8).join('\n')}`);
  return r;
}

interface Inst {
  address: string;
  port: number;
  role: string;
  id: string;
}

async function instances(info: SandboxInfo, name: string): Promise<Inst[]> {
  return (JSON.parse((await ovl(info, ['cluster', 'show', name, '--json', '--no-probe'])).out) as { instances: Inst[] }).instances;
}

const value = 'x'.repeat(100);

async function load(c: Cluster): Promise<void> {
  for (let i = 0; i < KEYS; i += 10_000) await Promise.all(Array.from({ length: Math.min(10_000, KEYS - i) }, (_, j) => c.set(`k:${i + j}`, value)));
}

/** Keys held by the masters (DBSIZE), each asked directly. */
async function keyCount(masters: { address: string; port: number }[]): Promise<number> {
  let n = 0;
  for (const m of masters) {
    const r = new Redis({ host: m.address, port: m.port, lazyConnect: true });
    try {
      n += await r.dbsize();
    } finally {
      r.disconnect();
    }
  }
  return n;
}

async function liveMasters(seed: Inst): Promise<{ address: string; port: number; id: string }[]> {
  const r = new Redis({ host: seed.address, port: seed.port, lazyConnect: true });
  try {
    return String(await r.call('CLUSTER', 'NODES'))
      .split('\n')
      .filter((l) => l.includes('master') && !l.includes('fail'))
      .map((l) => {
        const [id, addr] = l.split(' ');
        const [host, port] = addr!.split('@')[0]!.split(':');
        return { id: id!, address: host!, port: Number(port) };
      });
  } finally {
    r.disconnect();
  }
}

/** A steady client writing through the cluster (live-writer.ts); what it got acknowledged. */
function writer(c: Cluster) {
  const w = liveWriter(c, 'live');
  return {
    async finish(): Promise<{ writes: number; lost: number; errors: number; messages: string[] }> {
      await w.stop();
      return { writes: w.acked.length, lost: (await w.lost()).length, errors: w.errors.length, messages: [...new Set(w.errors)] };
    },
  };
}

interface Side {
  outS: number;
  outKeys: number;
  inS: number;
  inKeys: number;
  before: number;
  after: number;
}

async function ovlSide(info: SandboxInfo): Promise<Side & { live: { writes: number; lost: number; errors: number; messages: string[] }; steps: string[] }> {
  const name = 'bo';
  await ovl(info, ['cluster', 'create', name, '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '1gb', '--wait']);
  const seed = (await instances(info, name)).find((i) => i.role === 'master')!;
  const c = new Cluster([{ host: seed.address, port: seed.port }], { enableAutoPipelining: true });
  try {
    await load(c);
    const before = await keyCount(await liveMasters(seed));
    // The writer has a client of its own, as an application would (no auto-pipelining).
    const wc = new Cluster([{ host: seed.address, port: seed.port }]);
    const w = writer(wc);
    const moved = (out: string) => Number(/moved \d+ slots, (\d+) keys/.exec(out)?.[1] ?? NaN);
    const up = await ovl(info, ['cluster', 'scale', name, '--masters', '6', '--wait'], true);
    const down = await ovl(info, ['cluster', 'scale', name, '--masters', '3', '--wait'], true);
    const live = await w.finish();
    wc.disconnect();
    for (const r of [up, down]) console.log(`  ovl ${r === up ? 'out' : 'in'}: ${/moved \d+ slots.*/.exec(r.out)?.[0] ?? ''}`);
    const steps = [up, down].flatMap((r) => r.out.split('\n').filter((l) => l.trim()));
    const after = (await keyCount(await liveMasters(seed))) - live.writes;
    return { outS: up.s, outKeys: moved(up.out), inS: down.s, inKeys: moved(down.out), before, after, live, steps };
  } finally {
    c.disconnect();
    await ovl(info, ['cluster', 'delete', '--yes', name]).catch(() => undefined);
  }
}

/**
 * Run redis-cli until it succeeds, as an operator would: again while the nodes do not agree yet,
 * and after `--cluster fix` when a failed run left slots open. Its tries, and why each failed.
 */
async function untilDone(argv: string[], entry: string, deadlineS = 600): Promise<{ tries: number; why: string[] }> {
  const end = Date.now() + deadlineS * 1000;
  const why: string[] = [];
  for (let tries = 1; ; tries++) {
    const r = await timed('redis-cli', argv);
    // A del-node whose node an earlier try removed already is done too.
    if ((r.code === 0 && !/\[ERR\]/.test(r.out)) || (tries > 1 && /No such node ID/.test(r.out))) return { tries, why };
    // eslint-disable-next-line no-control-regex
    const plain = r.out.replace(/\x1b\[[0-9;]*m/g, '');
    why.push((/\[ERR\][^\n]*|\*\*\*[^\n]*|ERR[^\n]*/.exec(plain)?.[0] ?? plain.slice(-120)).trim());
    if (Date.now() > end) throw new Error(`redis-cli ${argv.join(' ')}: ${plain.slice(-400)}`);
    if (/open|fix your cluster/i.test(plain)) await timed('redis-cli', ['--cluster', 'fix', entry, '--cluster-yes']);
    else await new Promise((res) => setTimeout(res, 500));
  }
}

async function peerSide(info: SandboxInfo, remotes: Map<string, Remote>): Promise<Side & { tries: string }> {
  const name = 'bp';
  await ovl(info, ['cluster', 'create', name, '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '1gb', '--wait']);
  const seed = (await instances(info, name)).find((i) => i.role === 'master')!;
  const entry = `${seed.address}:${seed.port}`;
  // Three empty cluster nodes, one per host after the first ones, started as ovl starts its own.
  const added: PlannedInstance[] = Array.from({ length: 3 }, (_, n) => {
    const h = info.hosts[(n + 1) % info.hosts.length]!;
    return { id: newNodeId(), host: h.name, address: h.address, port: PEER_PORT + n, role: 'master', shard: n };
  });
  const plan: Plan = { cluster: 'peer', type: 'redis_cluster', version: VERSION, maxmemoryMB: 1024, instances: added };
  const setup = (i: PlannedInstance): InstanceSetup => {
    const dir = `/data/bench-peer/${i.port}`;
    const command = [remote.bin('redis', VERSION, 'redis-server'), `${dir}/redis.conf`];
    return { addr: `${i.address}:${i.port}`, id: i.id, dir, pidfile: `${dir}/redis.pid`, files: [{ name: 'redis.conf', content: renderRedisConf(plan, i, { dir }), mode: 0o644 }], meta: `id = "${i.id}"\n`, command, heldCommand: heldRedisCommand(command, dir) };
  };
  const hosts = [...new Set(added.map((i) => i.host))];
  const c = new Cluster([{ host: seed.address, port: seed.port }], { enableAutoPipelining: true });
  try {
    await load(c);
    const before = await keyCount(await liveMasters(seed));
    const { reports } = await startTogether(hosts.map((h) => ({ host: h, remote: async () => remotes.get(h)!, setups: added.filter((i) => i.host === h).map(setup) })));
    const bad = [...reports.values()].filter((x) => x.status === 'failed');
    if (bad.length) throw new Error(bad.map((b) => `${b.addr} ${b.detail}`).join('; '));
    let t0 = performance.now();
    for (const a of added) await untilDone(['--cluster', 'add-node', `${a.address}:${a.port}`, entry], entry);
    const outTries = await untilDone(['--cluster', 'rebalance', entry, '--cluster-use-empty-masters'], entry);
    const outS = (performance.now() - t0) / 1000;
    const outKeys = await keyCount(added);
    // What scaling in moves back: everything the added masters hold.
    const inKeys = outKeys;
    t0 = performance.now();
    const ids = await Promise.all(added.map(async (a) => {
      const r = new Redis({ host: a.address, port: a.port, lazyConnect: true });
      try {
        return String(await r.call('CLUSTER', 'MYID'));
      } finally {
        r.disconnect();
      }
    }));
    const inTries = await untilDone(['--cluster', 'rebalance', entry, '--cluster-weight', ...ids.map((id) => `${id}=0`)], entry);
    for (const id of ids) await untilDone(['--cluster', 'del-node', entry, id], entry);
    const inS = (performance.now() - t0) / 1000;
    const after = await keyCount(await liveMasters(seed));
    return { outS, outKeys, inS, inKeys, before, after, tries: `rebalance run ${outTries.tries} time(s) out${outTries.why.length ? ` (${outTries.why.join('; ')})` : ''}, ${inTries.tries} in${inTries.why.length ? ` (${inTries.why.join('; ')})` : ''}` };
  } finally {
    c.disconnect();
    await Promise.all(hosts.map((h) => runScript(remotes.get(h)!, stopScript(added.filter((i) => i.host === h).map(setup), true)).catch(() => undefined)));
    await ovl(info, ['cluster', 'delete', '--yes', name]).catch(() => undefined);
  }
}

/**
 * The floor under both sides: the same keys moved by MIGRATE alone, between plain (non-cluster)
 * redis-server processes on the sandbox addresses, three source/target pairs at once, batches of
 * 1,000 keys sent back to back: no slot protocol, no cluster, no client. Keys per second.
 */
async function migrateFloor(info: SandboxInfo, keys: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-floor-'));
  const procs: ReturnType<typeof spawn>[] = [];
  const node = (k: number) => ({ host: info.hosts[k % info.hosts.length]!.address, port: 21000 + k });
  try {
    for (let k = 0; k < 6; k++) {
      const { host, port } = node(k);
      procs.push(spawn('redis-server', ['--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `f${k}.rdb`], { stdio: 'ignore' }));
    }
    const clients = Array.from({ length: 6 }, (_, k) => new Redis({ ...node(k), retryStrategy: (n) => (n > 50 ? null : 100) }));
    const per = Math.ceil(keys / 3);
    await Promise.all([0, 1, 2].map(async (k) => {
      for (let i = 0; i < per; i += 10_000) {
        const p = clients[k]!.pipeline();
        for (let j = i; j < Math.min(per, i + 10_000); j++) p.set(`k:${k}:${j}`, value);
        await p.exec();
      }
    }));
    const t0 = performance.now();
    await Promise.all([0, 1, 2].map(async (k) => {
      const src = clients[k]!;
      const dst = node(k + 3);
      for (let i = 0; i < per; i += 16_000) {
        const p = src.pipeline();
        for (let b = i; b < Math.min(per, i + 16_000); b += 1000) {
          const batch = Array.from({ length: Math.min(1000, per - b) }, (_, j) => `k:${k}:${b + j}`);
          p.call('MIGRATE', dst.host, String(dst.port), '', '0', '60000', 'REPLACE', 'KEYS', ...batch);
        }
        await p.exec();
      }
    }));
    const s = (performance.now() - t0) / 1000;
    for (const c of clients) c.disconnect();
    return (per * 3) / s;
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The floor of a Redis Cluster: what Redis itself needs to move the keys when a slot's keys can
 * only go in MIGRATEs of their own (MIGRATE refuses keys of several slots). Six cluster nodes
 * (no replicas) as local processes on the sandbox addresses, 3 holding --keys keys, slots moved
 * to the 3 others as ovl would move them; every slot is set IMPORTING and MIGRATING and its keys
 * listed before the clock starts, then the three sources send one MIGRATE per slot back to back,
 * at once. Keys per second.
 */
async function clusterFloor(replicas: 0 | 1): Promise<{ keysPerS: number; moved: number }> {
  const rig = new LocalRig();
  const clients: Redis[] = [];
  try {
    const plan = place({ name: 'floor', type: 'redis_cluster', version: VERSION, masters: 6, replicas, maxmemoryMB: 4096 }, loopbackHosts(HOSTS, '127.0.15', { from: 21100, to: 21119 }));
    const masters = plan.instances.filter((i) => i.role === 'master');
    masters.forEach((m, i) => (m.slots = i < 3 ? [[Math.ceil((i * 16384) / 3), Math.ceil(((i + 1) * 16384) / 3) - 1]] : []));
    rig.start(plan);
    const h = await waitHealthy(plan, { timeoutMs: 60_000 });
    if (!h.healthy) throw new Error(`floor cluster not healthy: ${h.problems.join('; ')}`);
    const c = new Cluster([{ host: masters[0]!.address, port: masters[0]!.port }]);
    await load(c);
    c.disconnect();
    const client = new Map(masters.map((m) => {
      const r = new Redis({ host: m.address, port: m.port });
      clients.push(r);
      return [m.id, r];
    }));
    const moves = reshardMoves(await liveOwners(masters), masters.map((m) => m.id));
    const bySource = new Map<string, { slot: number; to: (typeof masters)[number]; keys: string[] }[]>();
    for (const mv of moves) {
      const slots = slotList(mv.slots);
      const to = masters.find((m) => m.id === mv.to)!;
      const src = client.get(mv.from)!;
      const dst = client.get(mv.to)!;
      const p = dst.pipeline();
      for (const x of slots) p.call('CLUSTER', 'SETSLOT', String(x), 'IMPORTING', mv.from);
      await p.exec();
      const q = src.pipeline();
      for (const x of slots) q.call('CLUSTER', 'SETSLOT', String(x), 'MIGRATING', mv.to);
      for (const x of slots) q.call('CLUSTER', 'GETKEYSINSLOT', String(x), '100000');
      const res = ((await q.exec()) ?? []).slice(slots.length).map(([, v]) => v as string[]);
      const list = bySource.get(mv.from) ?? [];
      slots.forEach((x, i) => res[i]!.length && list.push({ slot: x, to, keys: res[i]! }));
      bySource.set(mv.from, list);
    }
    let moved = 0;
    const t0 = performance.now();
    await Promise.all([...bySource].map(async ([from, list]) => {
      const src = client.get(from)!;
      for (let i = 0; i < list.length; i += 256) {
        const p = src.pipeline();
        for (const s of list.slice(i, i + 256)) p.call('MIGRATE', s.to.address, String(s.to.port), '', '0', '60000', 'REPLACE', 'KEYS', ...s.keys);
        const bad = ((await p.exec()) ?? []).find(([e, v]) => e || v !== 'OK');
        if (bad) throw new Error(`floor MIGRATE: ${String(bad[0] ?? bad[1])}`);
        moved += list.slice(i, i + 256).reduce((n, s) => n + s.keys.length, 0);
      }
    }));
    return { keysPerS: moved / ((performance.now() - t0) / 1000), moved };
  } finally {
    for (const r of clients) r.disconnect();
    await rig.cleanup();
  }
}

async function main(): Promise<void> {
  ensurePeers('bench/scale', [{ command: 'redis-cli', pkg: 'redis-tools' }, { command: 'redis-server', pkg: 'redis-server' }]);
  VERSION = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)![1]!;
  const build = spawnSync('npx', ['tsc', '-p', '.'], { cwd: projectRoot, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const resultsDir = join(projectRoot, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const info = await sandboxUp({ name: NAME, hosts: HOSTS, net: '127.0.15', inventory: join(resultsDir, `${NAME}.yml`), log: () => {} });
  const remotes = new Map<string, Remote>();
  try {
    const b = await timed(process.execPath, [ovlBin, 'bootstrap', info.inventory]);
    if (b.code !== 0) throw new Error(`bootstrap failed:\n${b.out}`);
    for (const h of loadFleet(info.inventory).hosts) remotes.set(h.name, await Remote.connect(h, { acceptNewHostKeys: false }));
    console.log(`3 masters x 1 replica, ${KEYS} keys of 100 bytes, ${HOSTS} sandbox hosts, redis ${VERSION}`);
    const o = await ovlSide(info);
    console.log(`ovl:       out ${o.outS.toFixed(1)} s (${o.outKeys} keys moved), in ${o.inS.toFixed(1)} s (${o.inKeys} keys); keys ${o.before} before, ${o.after} after; live writer: ${o.live.writes} writes, ${o.live.lost} lost, ${o.live.errors} errors${o.live.messages.length ? ` (${o.live.messages.join('; ')})` : ''}`);
    for (const line of o.steps) console.log(`  ${line}`);
    if (!PEER) return;
    const p = await peerSide(info, remotes);
    console.log(`redis-cli: out ${p.outS.toFixed(1)} s (${p.outKeys} keys moved), in ${p.inS.toFixed(1)} s (${p.inKeys} keys); keys ${p.before} before, ${p.after} after; ${p.tries}`);
    const floor = await migrateFloor(info, o.outKeys || KEYS / 2);
    console.log(`MIGRATE alone (3 pairs of plain redis-server, batches of 1,000): ${Math.round(floor)} keys/s`);
    const cf = await clusterFloor(0);
    console.log(`MIGRATE alone in a cluster (one per slot, 3 sources at once, no replicas): ${Math.round(cf.keysPerS)} keys/s (${cf.moved} keys)`);
    const cfr = await clusterFloor(1);
    console.log(`the same with a replica per master (what a scale with replicas makes Redis do): ${Math.round(cfr.keysPerS)} keys/s (${cfr.moved} keys)`);
    const rate = (k: number, s: number) => Math.round(k / s);
    console.log('\ndirection | ovl (s) | ovl keys/s | redis-cli (s) | redis-cli keys/s | redis-cli / ovl');
    console.log(`out       | ${o.outS.toFixed(1).padStart(7)} | ${String(rate(o.outKeys, o.outS)).padStart(10)} | ${p.outS.toFixed(1).padStart(13)} | ${String(rate(p.outKeys, p.outS)).padStart(16)} | ${(p.outS / o.outS).toFixed(1)}x`);
    console.log(`in        | ${o.inS.toFixed(1).padStart(7)} | ${String(rate(o.inKeys, o.inS)).padStart(10)} | ${p.inS.toFixed(1).padStart(13)} | ${String(rate(p.inKeys, p.inS)).padStart(16)} | ${(p.inS / o.inS).toFixed(1)}x`);
    const ok = p.outS / o.outS >= 4 && p.inS / o.inS >= 4 && o.live.lost === 0 && o.after === o.before;
    console.log(`${ok ? 'PASS' : 'MISS'} each direction at least 4x faster than redis-cli, with a live writer and 0 keys lost`);
    console.log(`moving keys: ovl ${(rate(o.outKeys, o.outS) / floor).toFixed(2)} / ${(rate(o.inKeys, o.inS) / floor).toFixed(2)} of the MIGRATE floor (out / in, whole scale included), redis-cli ${(rate(p.outKeys, p.outS) / floor).toFixed(2)} / ${(rate(p.inKeys, p.inS) / floor).toFixed(2)}`);
    console.log(`moving keys: ovl ${(rate(o.outKeys, o.outS) / cf.keysPerS).toFixed(2)} / ${(rate(o.inKeys, o.inS) / cf.keysPerS).toFixed(2)} of the cluster floor; at the cluster floor the keys alone would take ${(o.outKeys / cf.keysPerS).toFixed(1)} / ${(o.inKeys / cf.keysPerS).toFixed(1)} s, redis-cli / 4 is ${(p.outS / 4).toFixed(1)} / ${(p.inS / 4).toFixed(1)} s`);
    console.log(`with replicas: at that floor the keys alone would take ${(o.outKeys / cfr.keysPerS).toFixed(1)} / ${(o.inKeys / cfr.keysPerS).toFixed(1)} s; ovl's whole scale is ${(o.outS / (o.outKeys / cfr.keysPerS)).toFixed(2)}x / ${(o.inS / (o.inKeys / cfr.keysPerS)).toFixed(2)}x that`);
    writeFileSync(join(resultsDir, `scale-${new Date().toISOString().replace(/[:.]/g, '')}.json`), JSON.stringify({ keys: KEYS, hosts: HOSTS, version: VERSION, ovl: o, redisCli: p, migrateFloorKeysPerS: Math.round(floor), clusterFloorKeysPerS: Math.round(cf.keysPerS), clusterFloorWithReplicasKeysPerS: Math.round(cfr.keysPerS) }, null, 2));
  } finally {
    for (const r of remotes.values()) r.close();
    await sandboxDown(NAME, undefined, () => {});
  }
}

main().catch((e: Error) => {
  console.error(`bench failed: ${e.message}`);
  process.exit(1);
});
