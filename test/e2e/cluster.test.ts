// `ovl cluster` and `ovl scheduler` on a bootstrapped sandbox fleet over real SSH.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { fleetCapacity } from '../../src/cluster/capacity.js';
import { cancelCreate, listTasks, newTask, pruneTasks, putTask, startTask, TASK_HISTORY, type CreateTask, type Task } from '../../src/cluster/task-store.js';
import { projectRoot } from '../../src/paths.js';
import { place } from '../../src/cluster/placement.js';
import { withEtcd, type EtcdAccess } from '../../src/state/etcd.js';
import { taskKey } from '../../src/state/keys.js';
import { sandboxStartHost, sandboxStopHost, type SandboxInfo } from '../../src/sandbox/sandbox.js';
import { FLEET, fleet, onHost, ovl, ovlProcess, etcdOf } from '../helpers/fleet.js';
import { memcacheTalk } from '../helpers/memcache.js';

let info: SandboxInfo;
let endpoints: EtcdAccess;
const children: ChildProcess[] = [];

interface Shown {
  config: { state: string };
  instances: { host: string; address: string; port: number; role: string; id: string; masterId?: string; shard: number; state: string; now?: { answered: boolean; problems: string[] } }[];
}

function inv(): string[] {
  return ['-i', info.inventory];
}

function show(name: string): Shown {
  const r = ovl(['cluster', 'show', name, '--json', ...inv()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Shown;
}

function create(name: string, args: string[]) {
  return ovl(['cluster', 'create', name, ...args, '--wait', ...inv()]);
}

/** Processes running in an instance directory of this type, per host (from /proc, over SSH). */
function instanceProcesses(type: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const h of info.hosts) {
    // Sandbox hosts share the machine's pid namespace: count only this host's mount namespace.
    const r = onHost(info, h.name, `me=$(readlink /proc/self/ns/mnt); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$me" ] && readlink $p/cwd; done 2>/dev/null | grep '^/data/${type}/' | sort`);
    m.set(h.name, r.stdout.split('\n').filter(Boolean));
  }
  return m;
}

async function clusterKeys(name: string): Promise<string[]> {
  return withEtcd(endpoints, async (c) => {
    const keys = await c.getAll().prefix('/overlord/').keys();
    const allocs = await c.getAll().prefix('/overlord/alloc/').strings();
    const held = Object.entries(allocs).filter(([, v]) => v.includes(`"cluster":"${name}"`)).map(([k]) => k);
    // A task's entry in its cluster's history index belongs to the task record (one without
    // its record would be a leak, and is listed).
    const indexed = (k: string) => k.startsWith(`/overlord/tasks-of/${name}/`) && keys.includes(`/overlord/task/${k.slice(`/overlord/tasks-of/${name}/`.length)}`);
    return [...keys.filter((k) => !indexed(k) && (k.includes(`/${name}/`) || k.endsWith(`/${name}`) || (k.startsWith('/overlord/task/') && k.includes(`-${name}-`)))), ...held];
  });
}


function assertAntiAffinity(s: Shown): void {
  const byId = new Map(s.instances.map((i) => [i.id, i]));
  for (const i of s.instances.filter((x) => x.role === 'replica')) {
    assert.notEqual(i.host, byId.get(i.masterId!)!.host, `replica ${i.address}:${i.port} shares a host with its master`);
  }
}

async function writeAndReadThroughCluster(s: Shown, n: number): Promise<void> {
  const m = s.instances.find((i) => i.role === 'master')!;
  const c = new Cluster([{ host: m.address, port: m.port }], { enableReadyCheck: true });
  try {
    for (let i = 0; i < n; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => c.set(`key:${i + j}`, `value-${i + j}`)));
    }
    for (let i = 0; i < n; i += 500) {
      const got = await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => c.get(`key:${i + j}`)));
      got.forEach((v, j) => assert.equal(v, `value-${i + j}`));
    }
  } finally {
    c.disconnect();
  }
}

function redisCliCheck(s: Shown): void {
  const m = s.instances.find((i) => i.role === 'master')!;
  const r = spawnSync('redis-cli', ['--cluster', 'check', `${m.address}:${m.port}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\[OK\] All 16384 slots covered/);
  assert.doesNotMatch(r.stdout, /\[ERR\]|\[WARNING\]/);
}

/** The pid of each instance's redis-server, from its own INFO (sandbox hosts share the machine's pids). */
function redisPids(insts: { address: string; port: number }[]): Promise<number[]> {
  return Promise.all(
    insts.map(async (i) => {
      const n = new Redis({ host: i.address, port: i.port, lazyConnect: true });
      try {
        return Number(/process_id:(\d+)/.exec(String(await n.info('server')))![1]);
      } finally {
        n.disconnect();
      }
    }),
  );
}

/** Full syncs the masters made (INFO stats): none, when every replica started from its
 * master's seed history (src/cluster/rdb.ts). */
async function fullSyncs(s: Shown): Promise<number> {
  let n = 0;
  for (const m of s.instances.filter((i) => i.role === 'master')) {
    const c = new Redis({ host: m.address, port: m.port, lazyConnect: true });
    try {
      n += Number(String(await c.info('stats')).match(/sync_full:(\d+)/)![1]);
    } finally {
      c.disconnect();
    }
  }
  return n;
}

before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  endpoints = etcdOf(info.inventory);
  // Clusters left by an earlier, interrupted run of these tests.
  const listed = ovl(['cluster', 'list', '--json', ...inv()]);
  for (const c of JSON.parse(listed.stdout) as { name: string }[]) ovl(['cluster', 'delete', '--yes', c.name, ...inv()]);
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
});

test('redis_cluster 3x1: redis-cli --cluster check passes, 10,000 keys round-trip, no master shares a host with its replica', async () => {
  const r = create('orders', ['--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '64mb']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`connect: redis-cli -c -h ${FLEET.net.replaceAll('.', '\\.')}\\.\\d+ -p \\d+`));
  const s = show('orders');
  assert.equal(s.instances.length, 6);
  assert.ok(s.instances.every((i) => i.state === 'up'));
  assert.equal(new Set(s.instances.filter((i) => i.role === 'master').map((i) => i.host)).size, 3);
  assertAntiAffinity(s);
  redisCliCheck(s);
  assert.equal(await fullSyncs(s), 0, 'a replica of a new cluster needed a full sync');
  await writeAndReadThroughCluster(s, 10_000);
  assert.equal(ovl(['cluster', 'check', 'orders', ...inv()]).code, 0);
  // Its reader gone before it writes (`ovl cluster check orders | head -0`): the same verdict, no stack trace.
  const p = ovlProcess(['cluster', 'check', 'orders', ...inv()], ['ignore', 'pipe', 'pipe']);
  p.stdout!.destroy();
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const code = await new Promise((r) => p.once('exit', r));
  assert.equal(code, 0, err);
  assert.equal(err, '');
});

test('redis_cluster with more masters than hosts (12x1 on 4 hosts): same checks, masters spread evenly, --config applied', async () => {
  const r = create('wide', ['--type', 'redis_cluster', '--masters', '12', '--replicas', '1', '--maxmemory', '32mb', '--config', 'maxmemory-policy=volatile-lru']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const s = show('wide');
  assert.equal(s.instances.length, 24);
  const one = s.instances[5]!;
  const c = new Redis({ host: one.address, port: one.port, lazyConnect: true });
  try {
    assert.deepEqual(await c.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'volatile-lru'], '--config reached redis.conf');
  } finally {
    c.disconnect();
  }
  assert.notEqual(onHost(info, one.host, `test -e /data/redis_cluster/${one.port}/start.gate`).code, 0, 'the start gate is removed once the node runs');
  const perHost = info.hosts.map((h) => s.instances.filter((i) => i.host === h.name && i.role === 'master').length);
  assert.deepEqual(perHost, [3, 3, 3, 3]);
  assertAntiAffinity(s);
  redisCliCheck(s);
  await writeAndReadThroughCluster(s, 10_000);
});

test('a redis process killed: check names it and exits non-zero, restart heals it with its identity', async () => {
  const s = show('orders');
  const victim = s.instances.find((i) => i.role === 'master')!;
  const dir = `/data/redis_cluster/${victim.port}`;
  assert.equal(onHost(info, victim.host, `kill -9 $(cat ${dir}/redis.pid)`).code, 0);
  await new Promise((r) => setTimeout(r, 300));
  const bad = ovl(['cluster', 'check', 'orders', ...inv()]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, new RegExp(`${victim.address.replace(/\./g, '\\.')}:${victim.port} \\(${victim.host}\\): does not answer`));
  // etcd still records it up (no task has run since); show says both.
  const shown = ovl(['cluster', 'show', 'orders', ...inv()]);
  assert.match(shown.stdout, /now: NOT healthy: 1 of 6 instances down/);
  assert.match(shown.stdout, new RegExp(`^${victim.address.replace(/\./g, '\\.')}:${victim.port} +${victim.host} +master .* up +down: does not answer`, 'm'));
  assert.deepEqual(show('orders').instances.filter((i) => !i.now!.answered).map((i) => i.id), [victim.id]);
  const healed = ovl(['cluster', 'restart', 'orders', ...inv()]);
  assert.equal(healed.code, 0, healed.stdout + healed.stderr);
  assert.match(healed.stdout, /1 started, 5 were running/);
  assert.equal(ovl(['cluster', 'check', 'orders', ...inv()]).code, 0);
  assert.match(ovl(['cluster', 'show', 'orders', ...inv()]).stdout, /now: healthy \(6 instances asked/);
  const myid = new Redis({ host: victim.address, port: victim.port, lazyConnect: true });
  try {
    assert.equal(await myid.call('CLUSTER', 'MYID'), victim.id, 'same node id after the restart');
  } finally {
    myid.disconnect();
  }
});

test('a master down past the node timeout: its replica takes over; restart brings it back as master, as planned, data kept', async () => {
  const r = create('failover', ['--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', '--config', 'cluster-node-timeout=1000']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const s = show('failover');
  const victim = s.instances.find((i) => i.role === 'master')!;
  const replica = s.instances.find((i) => i.masterId === victim.id)!;
  const writer = new Cluster([{ host: victim.address, port: victim.port }]);
  try {
    await writer.set('kept', 'yes');
  } finally {
    writer.disconnect();
  }
  assert.equal(onHost(info, victim.host, `kill -9 $(cat /data/redis_cluster/${victim.port}/redis.pid)`).code, 0);
  const role = async (i: { address: string; port: number }) => {
    const c = new Redis({ host: i.address, port: i.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return ((await c.call('ROLE')) as string[])[0];
    } catch {
      return 'down';
    } finally {
      c.disconnect();
    }
  };
  for (let i = 0; i < 100 && (await role(replica)) !== 'master'; i++) await new Promise((res) => setTimeout(res, 200));
  assert.equal(await role(replica), 'master', 'the replica took over');
  const healed = ovl(['cluster', 'restart', 'failover', ...inv()]);
  assert.equal(healed.code, 0, healed.stdout + healed.stderr);
  assert.match(healed.stdout, /1 started, 5 were running, 1 failed back to master/);
  assert.equal(await role(victim), 'master');
  assert.equal(await role(replica), 'slave');
  assert.equal(ovl(['cluster', 'check', 'failover', ...inv()]).code, 0);
  const reader = new Cluster([{ host: victim.address, port: victim.port }]);
  try {
    assert.equal(await reader.get('kept'), 'yes');
  } finally {
    reader.disconnect();
  }
  assert.equal(ovl(['cluster', 'delete', '--yes', 'failover', ...inv()]).code, 0);
});

test('redis 1 master + 2 replicas: a write on the master is read on both replicas', async () => {
  const r = create('sessions', ['--type', 'redis', '--masters', '1', '--replicas', '2', '--maxmemory', '32mb']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const s = show('sessions');
  assert.equal(new Set(s.instances.map((i) => i.host)).size, 3);
  assert.equal(await fullSyncs(s), 0, 'a replica of a new cluster needed a full sync');
  const master = s.instances.find((i) => i.role === 'master')!;
  const m = new Redis({ host: master.address, port: master.port });
  try {
    await m.set('greeting', 'hello');
    await m.wait(2, 5000);
  } finally {
    m.disconnect();
  }
  for (const rep of s.instances.filter((i) => i.role === 'replica')) {
    const c = new Redis({ host: rep.address, port: rep.port });
    try {
      assert.equal(await c.get('greeting'), 'hello');
      assert.match(await c.info('replication'), /role:slave/);
    } finally {
      c.disconnect();
    }
  }
});

test('memcache 4 nodes: set/get on each node', async () => {
  const r = create('pages', ['--type', 'memcache', '--nodes', '4', '--maxmemory', '16mb']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const s = show('pages');
  assert.equal(s.instances.length, 4);
  assert.ok(Math.max(...info.hosts.map((h) => s.instances.filter((i) => i.host === h.name).length)) <= 1, '4 nodes on 4 hosts: one each');
  for (const i of s.instances) {
    const out = await memcacheTalk(i.address, i.port, `set k-${i.port} 0 0 5\r\nhello\r\nget k-${i.port}\r\nquit\r\n`);
    assert.match(out, new RegExp(`STORED\r\nVALUE k-${i.port} 0 5\r\nhello\r\nEND`), `${i.address}:${i.port}`);
  }
});

test('check --all: every cluster in one run, a node down names its cluster and exits 1; bad names exit 3', async () => {
  const names = (JSON.parse(ovl(['cluster', 'list', '--json', ...inv()]).stdout) as { name: string }[]).map((c) => c.name);
  assert.ok(names.includes('orders') && names.includes('pages'), names.join(' '));
  const good = ovl(['cluster', 'check', '--all', ...inv()]);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  for (const n of names) assert.match(good.stdout, new RegExp(`^${n}: healthy \\(`, 'm'));
  assert.match(good.stdout, new RegExp(`^${names.length} clusters: ${names.length} healthy$`, 'm'));

  const victim = show('pages').instances[0]!;
  const at = `${victim.address}:${victim.port}`;
  assert.equal(onHost(info, victim.host, `kill -9 $(cat /data/memcache/${victim.port}/memcache.pid)`).code, 0);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const bad = ovl(['cluster', 'check', '--all', ...inv()]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /^pages: NOT healthy, 1 problem:$/m);
    assert.ok(bad.stdout.includes(`  ${at} (${victim.host}): does not answer`), bad.stdout);
    assert.match(bad.stdout, /^orders: healthy \(/m);
    assert.match(bad.stdout, new RegExp(`^${names.length} clusters: ${names.length - 1} healthy, 1 NOT healthy \\(pages\\)$`, 'm'));
    const json = JSON.parse(ovl(['cluster', 'check', '--all', '--json', ...inv()]).stdout) as { healthy: boolean; clusters: { name: string; report: { healthy: boolean } }[] };
    assert.equal(json.healthy, false);
    assert.deepEqual(json.clusters.filter((c) => !c.report.healthy).map((c) => c.name), ['pages']);
    assert.equal(ovl(['cluster', 'check', 'orders', 'pages', ...inv()]).code, 1);
    assert.equal(ovl(['cluster', 'check', 'orders', ...inv()]).code, 0);
  } finally {
    assert.equal(ovl(['cluster', 'restart', 'pages', ...inv()]).code, 0);
  }
  assert.equal(ovl(['cluster', 'check', '--all', ...inv()]).code, 0);
  // Usage errors are "could not check", for a monitoring job as for a typo; nothing is checked.
  for (const args of [['orders', 'nope'], [], ['orders', '--all']]) {
    const r = ovl(['cluster', 'check', ...args, ...inv()]);
    assert.equal(r.code, 3, `check ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '');
  }
  assert.match(ovl(['cluster', 'check', 'orders', 'nope', ...inv()]).stderr, /no cluster named nope/);
});

test('on a terminal, create --wait and delete show one listr2 line per task that ends with the outcome', async () => {
  const env: Record<string, string | undefined> = { ...process.env, TERM: 'xterm' };
  delete env.CI;
  // script(1) gives the command a pseudo-terminal of 120 columns, as an operator's shell would.
  const onTerminal = (args: string[]) =>
    spawnSync('script', ['-qec', `stty cols 120 rows 40; ${[process.execPath, join(projectRoot, 'bin/ovl.js'), ...args, ...inv()].map((a) => `'${a}'`).join(' ')}`, '/dev/null'], { encoding: 'utf8', env, timeout: 120_000 });
  try {
    const c = onTerminal(['cluster', 'create', 'shown', '--type', 'memcache', '--nodes', '2', '--maxmemory', '16mb', '--wait']);
    assert.equal(c.status, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /create shown: running: 2 instances healthy/);
    const d = onTerminal(['cluster', 'delete', '--yes', 'shown']);
    assert.equal(d.status, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /delete shown: deleted/);
  } finally {
    ovl(['cluster', 'delete', '--yes', 'shown', ...inv()]);
  }
});

test('two creates at once get distinct ports and are both healthy', async () => {
  const run = (name: string) =>
    new Promise<number>((resolve) => {
      const p = ovlProcess(['cluster', 'create', name, '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', '--wait', ...inv()], 'ignore');
      children.push(p);
      p.on('exit', (code) => resolve(code ?? -1));
    });
  assert.deepEqual(await Promise.all([run('twin-a'), run('twin-b')]), [0, 0]);
  const a = show('twin-a');
  const b = show('twin-b');
  const taken = new Set(a.instances.map((i) => `${i.host}:${i.port}`));
  for (const i of b.instances) assert.ok(!taken.has(`${i.host}:${i.port}`), `${i.host}:${i.port} given twice`);
  assert.equal(ovl(['cluster', 'check', 'twin-a', ...inv()]).code, 0);
  assert.equal(ovl(['cluster', 'check', 'twin-b', ...inv()]).code, 0);
  for (const n of ['twin-a', 'twin-b']) assert.equal(ovl(['cluster', 'delete', '--yes', n, ...inv()]).code, 0);
});

test('not enough resources: a clear failure, nothing left in etcd or on the hosts', async () => {
  const before = instanceProcesses('redis_cluster');
  const r = create('toobig', ['--type', 'redis_cluster', '--masters', '2', '--replicas', '4', '--maxmemory', '16mb']);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout, /needs .* on 5 distinct hosts/);
  // Only the task record stays, with the reason it failed.
  const task = r.stdout.match(/task (\S+):/)![1];
  const keys = await clusterKeys('toobig');
  assert.deepEqual(keys.filter((k) => !k.startsWith('/overlord/task/')), []);
  assert.ok(keys.includes(`/overlord/task/${task}`));
  assert.deepEqual(instanceProcesses('redis_cluster'), before);
});

test('a configuration redis-server refuses: the create fails at once naming it, and is rolled back on every host', async () => {
  const dirs = () => info.hosts.map((h) => onHost(info, h.name, 'ls /data/redis 2>/dev/null').stdout.trim()).join('|');
  const before = dirs();
  const procs = instanceProcesses('redis');
  const r = create('refused', ['--type', 'redis', '--masters', '1', '--replicas', '1', '--maxmemory', '16mb', '--config', 'maxmemory-policy=bogus']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /refuses the configuration \(check the --config settings\): 'maxmemory-policy bogus'/);
  assert.doesNotMatch(r.stdout, /moving|retrying/, 'a refused config is not retried elsewhere');
  assert.match(r.stdout, /rolled back/);
  const task = r.stdout.match(/task (\S+):/)![1];
  assert.deepEqual(await clusterKeys('refused'), [`/overlord/task/${task}`], 'only the task record is left');
  assert.equal(dirs(), before, 'no instance directory left');
  assert.deepEqual(instanceProcesses('redis'), procs);
});

test('create --check: where the instances would go, or why they cannot; nothing is written', async () => {
  const etcdKeys = () => withEtcd(endpoints, (c) => c.getAll().prefix('/overlord/').keys());
  const before = (await etcdKeys()).sort();
  const ok = ovl(['cluster', 'create', 'preview', '--type', 'redis_cluster', '--masters', '4', '--replicas', '1', '--maxmemory', '16mb', '--check', ...inv()]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /would place 8 instances on 4 hosts\. Nothing was changed\./);
  const lines = ok.stdout.split('\n');
  const rows = (header: string) => {
    const at = lines.findIndex((l) => l.startsWith(header));
    const end = lines.findIndex((l, k) => k > at && (!/\S {2,}\S/.test(l) || /^[A-Z]+ {2}/.test(l)));
    return lines.slice(at + 1, end).map((l) => l.split(/ {2,}/));
  };
  const hosts = rows('HOST ');
  assert.deepEqual(hosts.map((h) => h[1]), ['2', '2', '2', '2'], 'two instances on each of the 4 hosts');
  const instances = rows('INSTANCE ');
  assert.equal(instances.length, 8);
  for (const r of instances.filter((x) => x[2] === 'replica')) {
    assert.notEqual(instances.find((m) => m[0] === r[3])![1], r[1], 'a replica is never on its master\'s host');
  }
  const bad = ovl(['cluster', 'create', 'preview', '--type', 'redis_cluster', '--masters', '2', '--replicas', '4', '--maxmemory', '16mb', '--check', ...inv()]);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /would fail: needs .* on 5 distinct hosts.*Nothing was changed\./);
  assert.deepEqual((await etcdKeys()).sort(), before, 'no key written');
  assert.equal(ovl(['cluster', 'show', 'preview', ...inv()]).code, 1);
});

/** An `ovl scheduler` daemon, its output collected. */
function startScheduler(env: Record<string, string>, args: string[] = []) {
  const p = ovlProcess(['scheduler', ...args, ...inv()], ['ignore', 'pipe', 'pipe'], env);
  children.push(p);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return { p, out: () => out };
}

/** Until `done` holds, polling every 100 ms, `tries` times at most. */
async function until(done: () => boolean, tries: number): Promise<void> {
  for (let i = 0; i < tries && !done(); i++) await new Promise((r) => setTimeout(r, 100));
}

/** Poll `show` until the cluster's state is no longer `creating` (a minute at most). */
async function created(name: string): Promise<Shown> {
  let s = show(name);
  await until(() => (s = show(name)).config.state !== 'creating', 600);
  return s;
}

test('scheduler killed mid-create: a restarted scheduler finishes the cluster without duplicate instances', async () => {
  const first = startScheduler({ OVL_FAULT_PAUSE: 'after-first-host:60000' });
  const q = ovl(['cluster', 'create', 'resumed', '--type', 'redis_cluster', '--masters', '4', '--replicas', '1', '--maxmemory', '16mb', ...inv()]);
  assert.equal(q.code, 0, q.stderr);
  await until(() => first.out().includes('fault point after-first-host'), 300);
  assert.match(first.out(), /fault point after-first-host/, 'the first scheduler reached the middle of the create');
  first.p.kill('SIGKILL');
  const half = [...instanceProcesses('redis_cluster').values()].flat().filter((d) => d).length;
  assert.equal(show('resumed').config.state, 'creating');
  // A monitoring job's fleet-wide check meanwhile: the half-made cluster is named, not failed.
  const all = ovl(['cluster', 'check', '--all', ...inv()]);
  assert.match(all.stdout, /^resumed: not checked: being created \(task /m);
  assert.equal(all.code, 0, all.stdout + all.stderr);

  const second = startScheduler({});
  try {
    const s = await created('resumed');
    assert.equal(s.config.state, 'running', second.out());
    assert.equal(s.instances.length, 8);
    assert.equal(ovl(['cluster', 'check', 'resumed', ...inv()]).code, 0);
    const procs = instanceProcesses('redis_cluster');
    const ports = new Set(s.instances.map((i) => `${i.host}:/data/redis_cluster/${i.port}`));
    const running = [...procs].flatMap(([h, dirs]) => dirs.map((d) => `${h}:${d}`)).filter((x) => ports.has(x));
    assert.equal(running.length, 8, 'one process per planned instance, none twice');
    assert.ok(half > 0);
  } finally {
    second.p.kill('SIGTERM');
  }
});

test('etcd stalled for 25 s in the middle of a create: the scheduler waits it out, the cluster is created', async () => {
  // The lease outlasts the stall: this is about the calls made meanwhile, not about leadership.
  const sched = startScheduler({ OVL_FAULT_PAUSE: 'placed:1000' }, ['--lease-ttl', '90']);
  const etcdPids = info.hosts.flatMap((h) =>
    onHost(info, h.name, 'me=$(readlink /proc/self/ns/mnt); for p in $(pgrep -x etcd); do [ "$(readlink /proc/$p/ns/mnt)" = "$me" ] && echo $p; done; true')
      .stdout.split(/\s+/)
      .filter(Boolean)
      .map(Number),
  );
  assert.ok(etcdPids.length >= 1, 'the sandbox runs etcd');
  try {
    const q = ovl(['cluster', 'create', 'stalled', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', ...inv()]);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    await until(() => sched.out().includes('fault point placed'), 300);
    assert.match(sched.out(), /fault point placed/, 'the scheduler placed the cluster');
    // Every member stops answering while the scheduler is paused: its next write meets the stall.
    for (const p of etcdPids) process.kill(p, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, 25_000));
    } finally {
      for (const p of etcdPids) process.kill(p, 'SIGCONT');
    }
    const s = await created('stalled');
    assert.equal(s.config.state, 'running', sched.out());
    assert.equal(ovl(['cluster', 'check', 'stalled', ...inv()]).code, 0);
    assert.equal(sched.p.exitCode, null, `the scheduler still runs: ${sched.out()}`);
  } finally {
    sched.p.kill('SIGTERM');
  }
  assert.equal(ovl(['cluster', 'delete', '--yes', 'stalled', ...inv()]).code, 0);
});

test('a password from the environment: required by every node, never shown, its files 0640, and create and check use it', async () => {
  const password = 'e2e "secret" pw';
  const r = ovl(['cluster', 'create', 'vault', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', '--password-env', 'OVL_E2E_SECRET', '--wait', ...inv()], { OVL_E2E_SECRET: password });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /-a "\$PASSWORD"/, 'the connect hint asks for the password without printing it');
  const check = ovl(['cluster', 'check', 'vault', ...inv()]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const shown = ovl(['cluster', 'show', 'vault', '--json', ...inv()]);
  for (const out of [r.stdout, r.stderr, check.stdout, check.stderr, shown.stdout]) assert.ok(!out.includes('secret'), out);
  const s = show('vault');
  const m = s.instances.find((i) => i.role === 'master')!;
  const denied = spawnSync('redis-cli', ['-h', m.address, '-p', String(m.port), 'set', 'k', 'v'], { encoding: 'utf8' });
  assert.match(denied.stdout + denied.stderr, /NOAUTH/);
  const c = new Cluster([{ host: m.address, port: m.port }], { redisOptions: { password } });
  try {
    await c.set('locked', 'in');
    assert.equal(await c.get('locked'), 'in');
  } finally {
    c.disconnect();
  }
  for (const i of s.instances) {
    assert.equal(onHost(info, i.host, `stat -c %a /data/redis_cluster/${i.port}/redis.conf`).stdout.trim(), '640', `${i.host}:${i.port}`);
  }
  // etcd keeps the secret in its own key only: the instance records hold redis.conf without it.
  const stored = await withEtcd(endpoints, (e) => e.getAll().prefix('/overlord/clusters/vault/').strings());
  assert.ok(Object.keys(stored).some((k) => k.endsWith('/server.conf')));
  for (const [k, v] of Object.entries(stored)) assert.ok(!v.includes('secret'), k);
  // Its own key holds it sealed with the key beside the CA: etcd (or a snapshot of it) alone does not reveal it.
  const sealed = await withEtcd(endpoints, (e) => e.get('/overlord/secrets/vault').string());
  assert.match(sealed!, /^\{"sealed":"v2:[A-Za-z0-9+/=]+"\}$/);
  assert.ok(!sealed!.includes('secret'));
  assert.equal(ovl(['cluster', 'delete', '--yes', 'vault', ...inv()]).code, 0);
});

test('an instance that cannot start where it was placed is retried, then moved to another host; its replica follows it', async () => {
  // Where the master of a new 1+1 Redis will go: the placement ovl makes from the fleet's
  // capacity in etcd. Something else listens on that port there, so Redis cannot bind it.
  const req = { name: 'moved', type: 'redis' as const, version: '7.0.15', masters: 1, replicas: 1, maxmemoryMB: 16 };
  const planned = await withEtcd(endpoints, async (e) => place(req, (await fleetCapacity(e)).hosts));
  const target = planned.instances.find((i) => i.role === 'master')!;
  const squatter = createServer();
  await new Promise<void>((res, rej) => squatter.once('error', rej).listen(target.port, target.address, res));
  try {
    const r = create('moved', ['--type', 'redis', '--masters', '1', '--replicas', '1', '--maxmemory', '16mb']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`retrying 1 instance\\(s\\) that did not start: ${target.address.replace(/\./g, '\\.')}:${target.port}`));
    assert.match(r.stdout, new RegExp(`moving ${target.address.replace(/\./g, '\\.')}:${target.port} \\(.*Address already in use.*\\) to h\\d`));
    const s = show('moved');
    const master = s.instances.find((i) => i.role === 'master')!;
    const replica = s.instances.find((i) => i.role === 'replica')!;
    assert.notEqual(master.host, target.host);
    assert.notEqual(master.host, replica.host);
    assert.ok(s.instances.every((i) => i.state === 'up'));
    assert.equal(ovl(['cluster', 'check', 'moved', ...inv()]).code, 0);
    const mc = new Redis({ host: master.address, port: master.port });
    const rc = new Redis({ host: replica.address, port: replica.port });
    try {
      await mc.set('where', 'moved');
      await mc.wait(1, 5000);
      assert.equal(await rc.get('where'), 'moved');
    } finally {
      mc.disconnect();
      rc.disconnect();
    }
    // Nothing of it stays where it could not start.
    assert.equal(onHost(info, target.host, `ls -d /data/redis/${target.port} 2>/dev/null || true`).stdout.trim(), '');
  } finally {
    squatter.close();
  }
  assert.equal(ovl(['cluster', 'delete', '--yes', 'moved', ...inv()]).code, 0);
});

test('task history: a cluster keeps its newest finished tasks, the ones asked to be kept, and every unfinished one', async () => {
  await withEtcd(endpoints, async (c) => {
    const made: Task[] = [];
    for (let i = 0; i < TASK_HISTORY + 5; i++) {
      const t = await newTask(c, 'restart', 'history', {});
      await putTask(c, { ...t, state: i % 2 ? 'done' : 'failed' });
      made.push(t);
    }
    const queued = await newTask(c, 'restart', 'history', {});
    try {
      await pruneTasks(c, 'history', new Set([made[0]!.id]));
      const left = (await listTasks(c)).filter((t) => t.cluster === 'history').map((t) => t.id);
      assert.deepEqual(left, [made[0]!.id, ...made.slice(-TASK_HISTORY).map((t) => t.id), queued.id]);
    } finally {
      for (const t of await listTasks(c)) if (t.cluster === 'history') await c.delete().key(taskKey(t.id));
    }
  });
});

test('a create not started yet: list and show name it, a second create of the name is refused, delete cancels it; a stale claim does not block the name', async () => {
  // Two password-less creates of one name at once, in one process: both pass the first checks
  // together, so only the claim written with the task can refuse one of them.
  const { clusterCreate } = await import('../../src/commands/cluster.js');
  const out: string[] = [];
  const ask = () => clusterCreate('queued', { inventory: info.inventory, type: 'memcache', nodes: 1, maxmemory: '16mb', wait: false }, (l) => out.push(l));
  const results = await Promise.allSettled([ask(), ask()]);
  assert.deepEqual(results.filter((r) => r.status === 'fulfilled').map((r) => r.value), [0], out.join('\n'));
  const refused = results.find((r) => r.status === 'rejected');
  assert.match(String(refused?.reason), /cluster queued is being created/);
  const creates = (await withEtcd(endpoints, listTasks)).filter((t): t is CreateTask => t.cluster === 'queued' && t.kind === 'create' && t.state === 'pending');
  assert.equal(creates.length, 1, 'one create task queued');

  const listed = JSON.parse(ovl(['cluster', 'list', '--json', ...inv()]).stdout) as { name: string; state: string; task: string }[];
  assert.deepEqual(listed.filter((c) => c.name === 'queued').map((c) => [c.state, c.task]), [['queued', creates[0]!.id]]);
  const shown = ovl(['cluster', 'show', 'queued', ...inv()]);
  assert.equal(shown.code, 0, shown.stdout + shown.stderr);
  assert.match(shown.stdout, /queued: not placed yet; create task \S+: pending - waiting for the scheduler \(ovl cluster delete queued cancels it\)/);

  const cancelled = ovl(['cluster', 'delete', '--yes', 'queued', ...inv()]);
  assert.equal(cancelled.code, 0, cancelled.stdout + cancelled.stderr);
  assert.match(cancelled.stdout, /create queued cancelled before it started; nothing was placed/);
  const task = (await withEtcd(endpoints, listTasks)).find((t) => t.id === creates[0]!.id);
  assert.equal(task?.state, 'failed');
  assert.match(task?.error ?? '', /cancelled by ovl cluster delete/);
  assert.deepEqual((await clusterKeys('queued')).filter((k) => !k.startsWith('/overlord/task/')), [], 'no key of the name but the task record');
  assert.equal(ovl(['cluster', 'show', 'queued', ...inv()]).code, 1);
  // A scheduler reaching the cancelled task does not run it; one that started a task first keeps it.
  await withEtcd(endpoints, async (c) => {
    assert.equal(await startTask(c, { ...creates[0]! }), false);
    const started = await newTask(c, 'create', 'queued', { request: creates[0]!.request });
    assert.equal(await startTask(c, started), true);
    const running = await cancelCreate(c, 'queued');
    assert.deepEqual([running?.cancelled, running?.task.id, running?.task.state], [false, started.id, 'running']);
    await c.delete().key(taskKey(started.id));
  });

  // A claim left by lost etcd writes (a secret, no cluster, no task) neither blocks the name nor
  // gives a password-less create the old password.
  await withEtcd(endpoints, async (c) => {
    await c.put('/overlord/secrets/stale').value(JSON.stringify({ password: 'old' }));
  });
  const r = create('stale', ['--type', 'redis', '--masters', '1', '--replicas', '0', '--maxmemory', '16mb']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const m = show('stale').instances[0]!;
  const ping = spawnSync('redis-cli', ['-h', m.address, '-p', String(m.port), 'ping'], { encoding: 'utf8' });
  assert.equal(ping.stdout.trim(), 'PONG', ping.stdout + ping.stderr);
  assert.equal(ovl(['cluster', 'delete', '--yes', 'stale', ...inv()]).code, 0);
  assert.deepEqual(await clusterKeys('stale').then((ks) => ks.filter((k) => !k.startsWith('/overlord/task/'))), []);
});

test('a host lost: restart --move puts its instances on other hosts with new ids, data kept; the old ones are retired, named while they serve, stopped once the host answers', async () => {
  const r = create('lost', ['--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', '--config', 'cluster-node-timeout=1000']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  try {
    await hostLost();
  } finally {
    // Whatever failed, the tests after this one find no process of this cluster.
    ovl(['cluster', 'delete', '--yes', 'lost', ...inv()]);
  }
});

async function hostLost(): Promise<void> {
  const before = show('lost').instances;
  const gone = before.find((i) => i.role === 'master')!.host;
  const old = before.filter((i) => i.host === gone);
  const seed = before.find((i) => i.host !== gone)!;
  const cluster = () => new Cluster([{ host: seed.address, port: seed.port }]);
  const c = cluster();
  try {
    for (let i = 0; i < 1000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => c.set(`lost:${i + j}`, String(i + j))));
  } finally {
    c.disconnect();
  }
  const pids = await redisPids(old);
  // The host is lost: no SSH, and its processes frozen (a cut-off host's processes may outlive
  // the cut: they come back below).
  await sandboxStopHost(FLEET.name, gone, undefined, () => {});
  for (const p of pids) process.kill(p, 'SIGSTOP');
  try {
    const master = old.find((i) => i.role === 'master')!;
    const heir = before.find((i) => i.masterId === master.id)!;
    await until(() => spawnSync('redis-cli', ['-h', heir.address, '-p', String(heir.port), 'ROLE'], { encoding: 'utf8' }).stdout.startsWith('master'), 100);

    // The first try dies once the new instances are placed and started, before they join.
    const first = startScheduler({ OVL_FAULT_PAUSE: 'moved:60000' });
    assert.equal(ovl(['cluster', 'restart', 'lost', '--move', '--no-wait', ...inv()]).code, 0);
    await until(() => first.out().includes('fault point moved'), 600);
    assert.match(first.out(), /fault point moved/, first.out());
    first.p.kill('SIGKILL');
    // The next restart finishes the join.
    const moved = ovl(['cluster', 'restart', 'lost', ...inv()]);
    assert.equal(moved.code, 0, moved.stdout + moved.stderr);
    const done = await withEtcd(endpoints, async (c) => Object.values(await c.getAll().prefix('/overlord/task/').json()) as Task[]);
    const move = done.find((t) => t.cluster === 'lost' && t.kind === 'restart' && t.move)!;
    assert.equal(move.state, 'done', JSON.stringify(move));
    // Picked up again after the kill, it found the instances placed and started, and finished the join.
    assert.match(move.step, /^restarted: .*, 1 failed back to master$/);
    const after = show('lost').instances;
    assert.equal(after.length, before.length);
    assert.ok(!after.some((i) => i.host === gone), 'an instance is still planned on the lost host');
    assert.ok(!after.some((i) => old.some((o) => o.id === i.id)), 'the replacements have ids of their own');
    assertAntiAffinity(show('lost'));
    assert.equal(ovl(['cluster', 'check', 'lost', ...inv()]).code, 0);
    assert.match(ovl(['cluster', 'show', 'lost', ...inv()]).stdout, new RegExp(`^retired: ${old[0]!.address.replace(/\./g, '\\.')}:${old[0]!.port} \\(${gone}\\), replaced by `, 'm'));
    for (const i of after) {
      const nodes = spawnSync('redis-cli', ['-h', i.address, '-p', String(i.port), 'CLUSTER', 'NODES'], { encoding: 'utf8' }).stdout;
      for (const o of old) assert.ok(!nodes.includes(o.id), `${i.address}:${i.port} still knows ${o.id}`);
    }
    const read = cluster();
    try {
      for (let i = 0; i < 1000; i += 100) assert.deepEqual(await Promise.all(Array.from({ length: 100 }, (_, j) => read.get(`lost:${i + j}`))), Array.from({ length: 100 }, (_, j) => String(i + j)));
    } finally {
      read.disconnect();
    }
    // The cut-off processes come back to life: check names them until ovl can stop them.
    for (const p of pids) process.kill(p, 'SIGCONT');
    let zombies = ovl(['cluster', 'check', 'lost', ...inv()]);
    await until(() => (zombies = ovl(['cluster', 'check', 'lost', ...inv()])).code !== 0, 50);
    assert.equal(zombies.code, 1, zombies.stdout);
    for (const o of old) assert.ok(zombies.stdout.includes(`${o.address}:${o.port} (${gone}): retired (replaced by `), zombies.stdout);
  } finally {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await sandboxStartHost(FLEET.name, gone, undefined, () => {});
  }
  const healed = ovl(['cluster', 'restart', 'lost', ...inv()]);
  assert.equal(healed.code, 0, healed.stdout + healed.stderr);
  assert.match(healed.stdout, /stopped retired instances: /);
  assert.equal(ovl(['cluster', 'check', 'lost', ...inv()]).code, 0);
  assert.doesNotMatch(ovl(['cluster', 'show', 'lost', ...inv()]).stdout, /^retired:/m);
  const onGone = instanceProcesses('redis_cluster').get(gone)!;
  for (const o of old) assert.ok(!onGone.includes(`/data/redis_cluster/${o.port}`), `${o.address}:${o.port} still runs on ${gone}`);
  assert.equal(ovl(['cluster', 'delete', '--yes', 'lost', ...inv()]).code, 0);
}

test('a host down: a restart counts its instances running while they answer and failed once they do not; a delete stops the rest, names the host and keeps the keys; once the host is back a second delete finishes', async () => {
  const r = create('outage', ['--type', 'redis_cluster', '--masters', '4', '--replicas', '1', '--maxmemory', '16mb']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const planned = show('outage').instances;
  const down = planned[0]!.host;
  /** Processes of this cluster's instances per host (ports are unique on a host, so a directory names one instance). */
  const outageProcesses = () => new Map([...instanceProcesses('redis_cluster')].map(([h, dirs]) => [h, dirs.filter((d) => planned.some((i) => i.host === h && d === `/data/redis_cluster/${i.port}`))]));
  const pids = await redisPids(planned.filter((i) => i.host === down));
  await sandboxStopHost(FLEET.name, down, undefined, () => {});
  try {
    // Only its SSH is down: its instances still answer, and are running.
    const up = ovl(['cluster', 'restart', 'outage', ...inv()]);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, new RegExp(`running, though their hosts could not be reached to start them: .*\\(cannot connect to ${down} `));
    for (const i of show('outage').instances) assert.equal(i.state, 'up', `${i.address}:${i.port}`);
    // They stop answering too (frozen): the restart fails, and show stops calling them up.
    for (const p of pids) process.kill(p, 'SIGSTOP');
    const rs = ovl(['cluster', 'restart', 'outage', ...inv()]);
    assert.equal(rs.code, 2, rs.stdout + rs.stderr);
    assert.match(rs.stdout, /ovl cluster restart outage --move puts its instances on other hosts/);
    for (const i of show('outage').instances) assert.equal(i.state, i.host === down ? 'failed' : 'up', `${i.address}:${i.port}`);
    assert.match(ovl(['cluster', 'show', 'outage', ...inv()]).stdout, /^latest task \S+-restart-outage-\S+ \(restart\): failed - did not start: /m, 'show names the failed restart, not only the create');
    const d = ovl(['cluster', 'delete', '--yes', 'outage', ...inv()]);
    assert.equal(d.code, 2, d.stdout + d.stderr);
    assert.match(d.stdout, new RegExp(`${down}: stopped 0 of \\d+ instances .*run ovl cluster delete outage again once every host answers`));
    const s = show('outage');
    assert.equal(s.config.state, 'deleting');
    assert.equal(s.instances.length, planned.length, 'every instance record is kept while a host may still run instances');
  } finally {
    for (const p of pids) process.kill(p, 'SIGCONT');
    await sandboxStartHost(FLEET.name, down, undefined, () => {});
  }
  for (const [host, procs] of outageProcesses()) assert.equal(procs.length, host === down ? planned.filter((i) => i.host === down).length : 0, host);
  const again = ovl(['cluster', 'delete', '--yes', 'outage', ...inv()]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.deepEqual((await clusterKeys('outage')).filter((k) => !k.startsWith('/overlord/task/') || !k.includes('-delete-')), []);
  for (const [host, procs] of outageProcesses()) assert.deepEqual(procs, [], host);
});

test('delete: no process, directory or key of the cluster is left; a restart queued behind it fails truthfully', async () => {
  // Queued in this order with no scheduler running: the restart's --wait runs both, the delete first.
  const queued = ovl(['cluster', 'delete', '--yes', 'orders', '--no-wait', ...inv()]);
  assert.equal(queued.code, 0, queued.stdout + queued.stderr);
  assert.match(queued.stdout, /no scheduler is running: the task waits until one starts/);
  const again = create('orders', ['--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb']);
  assert.equal(again.code, 1, again.stdout + again.stderr);
  assert.match(again.stderr, /cluster orders is being deleted \(task \S+-delete-orders-\S+, pending\)/);
  const late = ovl(['cluster', 'restart', 'orders', ...inv()]);
  assert.equal(late.code, 2, late.stdout + late.stderr);
  assert.match(late.stdout, /restart orders failed: no cluster named orders/);
  for (const name of ['wide', 'sessions', 'pages', 'resumed']) {
    const r = ovl(['cluster', 'delete', '--yes', name, ...inv()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  for (const name of ['orders', 'wide', 'sessions', 'pages', 'resumed']) {
    // What is left is the record of each delete (and of the failed restart), nothing of the cluster.
    assert.deepEqual((await clusterKeys(name)).filter((k) => !k.startsWith('/overlord/task/') || !/-(delete|restart)-/.test(k)), [], name);
  }
  for (const [host, dirs] of instanceProcesses('redis_cluster')) assert.deepEqual(dirs, [], host);
  for (const [host, dirs] of instanceProcesses('memcache')) assert.deepEqual(dirs, [], host);
  for (const h of info.hosts) assert.equal(onHost(info, h.name, 'ls -A /data/redis_cluster /data/redis /data/memcache | grep -v : | grep . || true').stdout.trim(), '', h.name);
  assert.equal(ovl(['cluster', 'list', ...inv()]).stdout.trim(), 'no clusters');
  // A monitoring script tells "gone" (3: cannot check) from "not healthy" (1).
  const gone = ovl(['cluster', 'check', 'orders', ...inv()]);
  assert.equal(gone.code, 3, gone.stdout + gone.stderr);
  assert.match(gone.stderr, /no cluster named orders/);
});
