// `ovl cluster scale` and `rebalance` on the shared sandbox fleet over real SSH, each with a
// client writing through the cluster the whole time: every acknowledged write is read back.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { getTask } from '../../src/cluster/task-store.js';
import { withEtcd, type EtcdAccess } from '../../src/state/etcd.js';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { fleet, onHost, ovl, ovlAsync, schedulerProcess, until, type ShownInstance, etcdOf } from '../helpers/fleet.js';
import { liveWriter } from '../helpers/live-writer.js';
import { memcacheTalk } from '../helpers/memcache.js';

let info: SandboxInfo;
let endpoints: EtcdAccess;
const children: ChildProcess[] = [];
const inv = () => ['-i', info.inventory];

type Inst = ShownInstance;

function show(name: string): { config: { state: string; type: string; masters: number; replicas: number; nodes?: number }; instances: Inst[] } {
  const r = ovl(['cluster', 'show', name, '--json', '--no-probe', ...inv()]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as ReturnType<typeof show>;
  const mine = seen.get(name) ?? new Set<string>();
  for (const i of s.instances) mine.add(`${i.host}:/data/${s.config.type}/${i.port}`);
  seen.set(name, mine);
  return s;
}

/** Directories of running instance processes of this type, as host:dir (from /proc over SSH). */
function running(type: string): string[] {
  return info.hosts.flatMap((h) => {
    const r = onHost(info, h.name, `me=$(readlink /proc/self/ns/mnt); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$me" ] && readlink $p/cwd; done 2>/dev/null | grep '^/data/${type}/' | sort -u`);
    return r.stdout.split('\n').filter(Boolean).map((d) => `${h.name}:${d}`);
  });
}

function dirs(type: string): string[] {
  return info.hosts.flatMap((h) => onHost(info, h.name, `ls /data/${type} 2>/dev/null`).stdout.split('\n').filter(Boolean).map((p) => `${h.name}:/data/${type}/${p}`));
}

/** Ports the cluster holds in the hosts' allocations, as host:port. */
function allocated(name: string): Promise<string[]> {
  return withEtcd(endpoints, async (c) => {
    const all = await c.getAll().prefix('/overlord/alloc/').strings();
    return Object.entries(all).flatMap(([k, v]) => Object.entries(JSON.parse(v) as Record<string, { cluster: string }>).filter(([, a]) => a.cluster === name).map(([p]) => `${k.split('/').pop()}:${p}`));
  });
}

async function instanceKeys(name: string): Promise<string[]> {
  return withEtcd(endpoints, (c) => c.getAll().prefix(`/overlord/clusters/${name}/instances/`).keys());
}

/** Instances a cluster had at some point of a test (each `show` adds what it lists). */
const seen = new Map<string, Set<string>>();

/** What a user checks after a change: the instances, their processes, directories, ports and records agree. */
async function assertOnlyPlanned(name: string, type: string): Promise<void> {
  const s = show(name);
  const want = s.instances.map((i) => `${i.host}:/data/${type}/${i.port}`).sort();
  // Other clusters' instances share /data/<type>: only this cluster's, present and past, count.
  const ours = (x: string) => seen.get(name)!.has(x);
  assert.deepEqual(running(type).filter(ours).sort(), want, 'one process per planned instance, none other');
  assert.deepEqual(dirs(type).filter(ours).sort(), want, 'one directory per planned instance, none other');
  assert.deepEqual((await allocated(name)).sort(), s.instances.map((i) => `${i.host}:${i.port}`).sort(), 'ports held: the planned ones only');
  const recorded = new Set((await instanceKeys(name)).map((k) => k.split('/')[5]));
  assert.deepEqual([...recorded].sort(), s.instances.map((i) => `${i.address}:${i.port}`).sort(), 'instance records: the planned ones only');
}

function redisCliCheck(i: Inst): string {
  const r = spawnSync('redis-cli', ['--cluster', 'check', `${i.address}:${i.port}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\[OK\] All 16384 slots covered/);
  assert.doesNotMatch(r.stdout, /\[ERR\]|\[WARNING\]/);
  return r.stdout;
}

function slotsEven(s: ReturnType<typeof show>): void {
  const masters = s.instances.filter((i) => i.role === 'master');
  const share = 16384 / masters.length;
  for (const m of masters) {
    const n = (m.slots ?? []).reduce((t, [a, b]) => t + b - a + 1, 0);
    assert.ok(Math.abs(n - share) <= 1, `${m.address}:${m.port} holds ${n} slots, share ${share}`);
  }
}

async function fill(c: Cluster, n: number): Promise<void> {
  for (let i = 0; i < n; i += 2000) await Promise.all(Array.from({ length: Math.min(2000, n - i) }, (_, j) => c.set(`k:${i + j}`, `v${i + j}`)));
}

async function countMissing(c: Cluster, n: number): Promise<number> {
  let missing = 0;
  for (let i = 0; i < n; i += 2000) {
    const got = await Promise.all(Array.from({ length: Math.min(2000, n - i) }, (_, j) => c.get(`k:${i + j}`)));
    got.forEach((v, j) => v !== `v${i + j}` && missing++);
  }
  return missing;
}

async function scale(name: string, args: string[], env: Record<string, string> = {}) {
  const r = await ovlAsync(['cluster', 'scale', name, ...args, '--wait', ...inv()], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r;
}

function startScheduler(env: Record<string, string>) {
  const s = schedulerProcess(info.inventory, env);
  children.push(s.p);
  return s;
}

const taskOf = (id: string) => withEtcd(endpoints, (c) => getTask(c, id));


before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  endpoints = etcdOf(info.inventory);
  for (const name of ['grow', 'killed', 'reps', 'pages', 'plain']) ovl(['cluster', 'delete', '--yes', name, ...inv()]);
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
});

test('redis_cluster 3x1 -> 6x1 -> 3x1 holding 200,000 keys under a live writer: nothing lost, slots even, removed shards leave nothing behind', async () => {
  const made = ovl(['cluster', 'create', 'grow', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '128mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const first = show('grow').instances.find((i) => i.role === 'master')!;
  const c = new Cluster([{ host: first.address, port: first.port }]);
  try {
    await fill(c, 200_000);
    const check = ovl(['cluster', 'scale', 'grow', '--masters', '6', '--check', ...inv()]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^add +master +3 +/m);
    assert.match(check.stdout, /slots and \d+ keys to move/);
    assert.equal(show('grow').instances.length, 6, '--check wrote nothing');

    const w = liveWriter(c, 'live');
    const up = await scale('grow', ['--masters', '6']);
    assert.match(up.stdout, /moved \d+ slots, \d+ keys/);
    console.log(up.stdout.split('\n').filter((l) => !/moving slots:/.test(l)).join('\n'));
    let s = show('grow');
    assert.equal(s.instances.length, 12);
    assert.deepEqual([s.config.masters, s.config.replicas], [6, 1]);
    slotsEven(s);
    redisCliCheck(first);
    const hostsOf = new Map<number, string[]>();
    for (const i of s.instances) hostsOf.set(i.shard, [...(hostsOf.get(i.shard) ?? []), i.host]);
    for (const hs of hostsOf.values()) assert.equal(new Set(hs).size, hs.length, 'no shard has two members on one host');
    assert.equal(ovl(['cluster', 'check', 'grow', ...inv()]).code, 0);

    const down = await scale('grow', ['--masters', '3']);
    console.log(down.stdout.split('\n').filter((l) => !/moving slots:/.test(l)).join('\n'));
    assert.match(down.stdout, /scaled to 3 masters x 1 replica/);
    await w.stop();
    s = show('grow');
    assert.equal(s.instances.length, 6);
    slotsEven(s);
    redisCliCheck(s.instances.find((i) => i.role === 'master')!);
    assert.equal(ovl(['cluster', 'check', 'grow', ...inv()]).code, 0);
    await assertOnlyPlanned('grow', 'redis_cluster');
    assert.equal(await countMissing(c, 200_000), 0, 'every key written before is there');
    assert.deepEqual(await w.lost(), [], 'every acknowledged write during the scale is there');
    assert.deepEqual(w.errors, [], 'the writer saw only what its redirection handles');
    assert.ok(w.acked.length > 500, `${w.acked.length} writes during the scales`);
    // Same shape: nothing to do.
    const same = ovl(['cluster', 'scale', 'grow', '--masters', '3', ...inv()]);
    assert.equal(same.code, 0);
    assert.match(same.stdout, /nothing to do: grow has 3 masters x 1 replica already/);
  } finally {
    c.disconnect();
  }
});

test('the scheduler SIGKILLed mid-migration, after IMPORTING and between the two SETSLOT NODE calls: the next one finishes the scale, nothing lost, no open slot', async () => {
  const made = ovl(['cluster', 'create', 'killed', '--type', 'redis_cluster', '--masters', '3', '--replicas', '0', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const first = show('killed').instances[0]!;
  const c = new Cluster([{ host: first.address, port: first.port }]);
  try {
    await fill(c, 50_000);
    const w = liveWriter(c, 'live');
    for (const [masters, point] of [['5', 'slots-importing'], ['3', 'slots-target-owns']] as const) {
      const sched = startScheduler({ OVL_FAULT_PAUSE: `${point}:600000` });
      const q = ovl(['cluster', 'scale', 'killed', '--masters', masters, ...inv()]);
      assert.equal(q.code, 0, q.stdout + q.stderr);
      await until(() => sched.out().includes(`fault point ${point}`), 120_000);
      assert.match(sched.out(), new RegExp(`fault point ${point}`), sched.out());
      sched.p.kill('SIGKILL');
      await sched.exited;
      const id = /^task (\S+):/m.exec(q.stdout)![1]!;
      assert.equal((await taskOf(id))?.state, 'running', 'the killed scheduler left the task running');
      const next = startScheduler({});
      await until(async () => ['done', 'failed'].includes((await taskOf(id))?.state ?? ''), 240_000);
      next.p.kill('SIGTERM');
      await next.exited;
      const t = await taskOf(id);
      assert.equal(t?.state, 'done', `${t?.error ?? ''}\n${next.out()}`);
      const s = show('killed');
      assert.equal(s.instances.filter((i) => i.role === 'master').length, Number(masters), next.out());
      slotsEven(s);
      redisCliCheck(s.instances[0]!);
      assert.equal(ovl(['cluster', 'check', 'killed', ...inv()]).code, 0);
    }
    await w.stop();
    await assertOnlyPlanned('killed', 'redis_cluster');
    assert.equal(await countMissing(c, 50_000), 0);
    assert.deepEqual(await w.lost(), []);
    assert.deepEqual(w.errors, []);
  } finally {
    c.disconnect();
  }
});

test('replicas 1 -> 2 -> 1: the new replicas sync from their masters on hosts away from them; the removed ones are forgotten and stopped', async () => {
  const made = ovl(['cluster', 'create', 'reps', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '32mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const first = show('reps').instances[0]!;
  const c = new Cluster([{ host: first.address, port: first.port }]);
  try {
    await fill(c, 20_000);
    const w = liveWriter(c, 'live');
    await scale('reps', ['--replicas', '2']);
    let s = show('reps');
    assert.equal(s.instances.length, 9);
    for (const r of s.instances.filter((i) => i.role === 'replica')) {
      const n = new Redis({ host: r.address, port: r.port, lazyConnect: true });
      try {
        const repl = String(await n.info('replication'));
        assert.match(repl, /master_link_status:up/, `${r.address}:${r.port}`);
        assert.notEqual(r.host, s.instances.find((m) => m.id === r.masterId)!.host);
      } finally {
        n.disconnect();
      }
    }
    await scale('reps', ['--replicas', '1']);
    await w.stop();
    s = show('reps');
    assert.equal(s.instances.length, 6);
    redisCliCheck(s.instances[0]!);
    await assertOnlyPlanned('reps', 'redis_cluster');
    assert.deepEqual(await w.lost(), []);
    assert.deepEqual(w.errors, []);
  } finally {
    c.disconnect();
  }
});


test('memcache 4 -> 6 -> 4: new nodes answer empty, removed ones are gone; the output says clients need the new list', async () => {
  const made = ovl(['cluster', 'create', 'pages', '--type', 'memcache', '--nodes', '4', '--maxmemory', '16mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const before = show('pages').instances;
  for (const i of before) await memcacheTalk(i.address, i.port, 'set k 0 0 1\r\nv\r\nquit\r\n');
  const up = await scale('pages', ['--nodes', '6']);
  assert.match(up.stdout, /clients must be given the new node list/);
  const six = show('pages').instances;
  assert.equal(six.length, 6);
  for (const i of six.filter((x) => !before.some((b) => b.id === x.id))) assert.match(await memcacheTalk(i.address, i.port, 'get k\r\nquit\r\n'), /^END/);
  await scale('pages', ['--nodes', '4']);
  assert.equal(show('pages').instances.length, 4);
  await assertOnlyPlanned('pages', 'memcache');
  assert.equal(ovl(['cluster', 'check', 'pages', ...inv()]).code, 0);
});

test('plain redis 1+1 -> 1+2 -> 1+1: a write on the master is read on every replica; bad requests change nothing', async () => {
  const made = ovl(['cluster', 'create', 'plain', '--type', 'redis', '--masters', '1', '--replicas', '1', '--maxmemory', '16mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const m = show('plain').instances.find((i) => i.role === 'master')!;
  const c = new Redis({ host: m.address, port: m.port });
  try {
    await c.set('before', '1');
    await scale('plain', ['--replicas', '2']);
    const reps = show('plain').instances.filter((i) => i.role === 'replica');
    assert.equal(reps.length, 2);
    await c.set('after', '2');
    for (const r of reps) {
      const n = new Redis({ host: r.address, port: r.port });
      try {
        await until(async () => (await n.get('after')) === '2', 10_000);
        assert.deepEqual([await n.get('before'), await n.get('after')], ['1', '2']);
      } finally {
        n.disconnect();
      }
    }
    await scale('plain', ['--replicas', '1']);
    await assertOnlyPlanned('plain', 'redis');
    assert.equal(ovl(['cluster', 'check', 'plain', ...inv()]).code, 0);
  } finally {
    c.disconnect();
  }
  const bad = [
    [['pages', '--masters', '2'], /pages is memcache: its size is --nodes N/],
    [['plain', '--nodes', '3'], /--nodes is for memcache/],
    [['grow', '--masters', '2'], /fewer than 3 masters .* --force/],
    [['grow'], /say what grow should become/],
    [['nosuch', '--masters', '4'], /no cluster named nosuch/],
    [['grow', '--masters', '-1'], /--masters: expected a whole number of at least 1/],
  ] as const;
  for (const [args, why] of bad) {
    const r = ovl(['cluster', 'scale', ...args, ...inv()]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr + r.stdout, why);
  }
  for (const name of ['grow', 'killed', 'reps', 'pages', 'plain']) assert.equal(ovl(['cluster', 'delete', '--yes', name, ...inv()]).code, 0);
});
