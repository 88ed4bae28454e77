// `ovl cluster restart --rolling` and `ovl cluster upgrade` on the shared sandbox fleet over real
// SSH, with a client writing through the cluster and a monitor sampling every instance's port
// every 50 ms: never two members of a shard down at once, every instance restarted, nothing
// lost; the upgrade's scheduler SIGKILLed mid-roll and the next one finishing it.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Cluster } from 'ioredis';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { ask, fleet, killAndFinish, onHost, ovl, ovlAsync, schedulerProcess, until, type ShownInstance } from '../helpers/fleet.js';
import { followMaster, liveWriter } from '../helpers/live-writer.js';
import { monitor } from '../helpers/port-monitor.js';

let info: SandboxInfo;
let second: string;
let upgradeInventory: string;
const children: ChildProcess[] = [];
const inv = () => ['-i', info.inventory];
const addr = (i: { address: string; port: number }) => `${i.address}:${i.port}`;

function show(name: string): { config: { version: string }; instances: ShownInstance[] } {
  const r = ovl(['cluster', 'show', name, '--json', '--no-probe', ...inv()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ReturnType<typeof show>;
}

async function pids(insts: ShownInstance[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const i of insts) out.set(addr(i), /process_id:(\d+)/.exec(String(await ask(i, 'INFO', 'server')))![1]!);
  return out;
}

before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  for (const name of ['rr', 'up', 'rp', 'uf']) ovl(['cluster', 'delete', '--yes', name, ...inv()]);
  // Only one Redis is packaged here: the same binaries registered under a second version name.
  const text = readFileSync(info.inventory, 'utf8');
  const m = /( {2}redis:\n {4}- version: "([^"]+)"\n( {6}files: .*\n))/.exec(text)!;
  second = `${m[2]}-b`;
  upgradeInventory = info.inventory.replace(/\.yml$/, '-upgrade.yml');
  writeFileSync(upgradeInventory, text.replace(m[1]!, `${m[1]}    - version: "${second}"\n${m[3]}`));
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const name of ['rr', 'up', 'rp', 'uf']) ovl(['cluster', 'delete', '--yes', name, ...inv()]);
  // The fleet's capacity as the shared inventory says, for the test files after this one.
  ovl(['bootstrap', info.inventory]);
  rmSync(upgradeInventory, { force: true });
});

test('rolling restart of a 3x1 Redis Cluster under a live writer: every instance restarted, never two of a shard down, nothing lost, planned roles at the end', async () => {
  const made = ovl(['cluster', 'create', 'rr', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const insts = show('rr').instances;
  const check = ovl(['cluster', 'restart', 'rr', '--rolling', '--check', ...inv()]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const s0 = insts.filter((i) => i.shard === 0);
  assert.match(check.stdout, new RegExp(`^shard 0: restart ${addr(s0[1]!)} \\(${s0[1]!.host}\\); switch to ${addr(s0[1]!)}; restart ${addr(s0[0]!)} \\(${s0[0]!.host}\\); switch back to it$`, 'm'));
  assert.match(check.stdout, /^no outage/m);
  const before = await pids(insts);

  const c = new Cluster([{ host: insts[0]!.address, port: insts[0]!.port }]);
  const mon = monitor(insts);
  try {
    const w = liveWriter(c, 'live');
    const r = await ovlAsync(['cluster', 'restart', 'rr', '--rolling', ...inv()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /restarted: 6 instances, one at a time; writes paused at most \d+ ms by a switchover/);
    await w.stop();
    await mon.stop();
    assert.deepEqual(await w.lost(), [], 'every acknowledged write is there');
    assert.deepEqual(w.errors, [], 'the writer saw only what its redirection handles');
    assert.ok(mon.worst().count <= 1, `two members of a shard down at once: ${mon.worst().at}`);
    const after = await pids(insts);
    for (const i of insts) assert.notEqual(after.get(addr(i)), before.get(addr(i)), `${addr(i)} was restarted`);
    assert.deepEqual(show('rr').instances.map((i) => [addr(i), i.role]), insts.map((i) => [addr(i), i.role]), 'the planned roles');
    for (const i of insts) {
      const role = ((await ask(i, 'ROLE')) as string[])[0];
      assert.equal(role, i.role === 'master' ? 'master' : 'slave', `${addr(i)} in its planned role`);
    }
    assert.equal(ovl(['cluster', 'check', 'rr', ...inv()]).code, 0);
    console.log(`rolling restart: ${w.acked.length} writes, longest gap ${w.longestGapMs()} ms; ${r.stdout.trim().split('\n').pop()}`);
  } finally {
    c.disconnect();
    await mon.stop();
  }
});

test('upgrade to a second version under a live writer, the scheduler SIGKILLed with an instance stopped: the next finishes; refusals change nothing', async () => {
  const made = ovl(['cluster', 'create', 'up', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const insts = show('up').instances;
  const version = show('up').config.version;
  const missing = ovl(['cluster', 'upgrade', 'up', '--version', second, ...inv()]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, new RegExp(`redis ${second.replace(/[.+]/g, '\\$&')} is not installed on h\\d`));
  const b = ovl(['bootstrap', upgradeInventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const down = ovl(['cluster', 'upgrade', 'up', '--version', '6.0.0', '-i', upgradeInventory]);
  assert.notEqual(down.code, 0);
  assert.match(down.stderr, /redis 6\.0\.0 is not installed on h\d/);
  assert.equal(show('up').config.version, version, 'refusals changed nothing');

  const c = new Cluster([{ host: insts[0]!.address, port: insts[0]!.port }]);
  try {
    const w = liveWriter(c, 'live');
    const sched = schedulerProcess(upgradeInventory, { OVL_FAULT_PAUSE: 'roll-stopped:600000' });
    children.push(sched.p);
    const q = ovl(['cluster', 'upgrade', 'up', '--version', second, '--no-wait', '-i', upgradeInventory]);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    await until(() => sched.out().includes('fault point roll-stopped'), 120_000);
    assert.match(sched.out(), /fault point roll-stopped/);
    const { task: t, out } = await killAndFinish(sched, q.stdout, info, children, { inventory: upgradeInventory, ms: 300_000 });
    assert.equal(t?.state, 'done', `${t?.error ?? ''}\n${out}`);
    await w.stop();
    assert.deepEqual(await w.lost(), []);
    assert.deepEqual(w.errors, []);
    const s = show('up');
    assert.equal(s.config.version, second);
    assert.deepEqual(s.instances.filter((i) => ((i as { version?: string }).version ?? second) !== second).map(addr), [], 'every instance on the new version');
    for (const i of insts) assert.match(onHost(info, i.host, `readlink /proc/$(cat /data/redis_cluster/${i.port}/redis.pid)/exe`).stdout, new RegExp(`/data/lib/redis/${second.replace(/[.+]/g, '\\$&')}/bin/redis-server`));
    assert.equal(ovl(['cluster', 'check', 'up', ...inv()]).code, 0);
  } finally {
    c.disconnect();
    // The fleet's capacity as the shared inventory says (one version) for what follows.
    ovl(['cluster', 'delete', '--yes', 'up', ...inv()]);
    ovl(['bootstrap', info.inventory]);
  }
});

test('an upgrade stopped by an instance that does not start: the shard keeps serving, the step is named; the same command again goes on from there', async () => {
  const b = ovl(['bootstrap', upgradeInventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  try {
    const made = ovl(['cluster', 'create', 'uf', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '64mb', '--version', second.replace(/-b$/, ''), '--wait', ...inv()]);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    const insts = show('uf').instances;
    // Roll order: each shard's replica, then its master. The host whose first instance comes last.
    const order = [...new Set(insts.map((i) => i.shard))].sort().flatMap((sh) => [...insts.filter((i) => i.shard === sh && i.role === 'replica'), ...insts.filter((i) => i.shard === sh && i.role === 'master')]);
    const firstAt = (h: string) => order.findIndex((i) => i.host === h);
    const host = [...new Set(insts.map((i) => i.host))].sort((a, z) => firstAt(z) - firstAt(a))[0]!;
    assert.ok(firstAt(host) >= 1, 'some instance restarts before the broken host');
    // The new version's binary broken on that host: its instances cannot start on it.
    const bin = `/data/lib/redis/${second}/bin/redis-server`;
    onHost(info, host, `printf '#!/bin/sh\\nexit 1\\n' > ${bin}`);
    const first = ovl(['cluster', 'upgrade', 'uf', '--version', second, '-i', upgradeInventory]);
    assert.equal(first.code, 2, first.stdout + first.stderr);
    const broken = order[firstAt(host)]!;
    assert.match(first.stdout, new RegExp(`${addr(broken).replaceAll('.', '\\.')} \\(${host}\\) did not start: .*the roll stopped there`));
    const before = await pids(order.slice(0, firstAt(host)));
    const roles = await Promise.all(insts.filter((i) => i.shard === broken.shard && i.id !== broken.id).map(async (i) => ((await ask(i, 'ROLE')) as string[])[0]));
    assert.deepEqual(roles, ['master'], `shard ${broken.shard} still serves from its other member`);
    // cache-binaries puts the binary back (checksums); then the same command goes on.
    const fix = ovl(['bootstrap', upgradeInventory]);
    assert.equal(fix.code, 0, fix.stdout + fix.stderr);
    const again = ovl(['cluster', 'upgrade', 'uf', '--version', second, '-i', upgradeInventory]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, new RegExp(`going on after task \\S+, which restarted ${firstAt(host)} before it failed`));
    assert.deepEqual(await pids(order.slice(0, firstAt(host))), before, 'what the first run restarted is not restarted again');
    assert.equal(ovl(['cluster', 'check', 'uf', ...inv()]).code, 0);
  } finally {
    ovl(['cluster', 'delete', '--yes', 'uf', ...inv()]);
    ovl(['bootstrap', info.inventory]);
  }
});

test('plain redis 1+1: rolling restart through FAILOVER and back, the scheduler SIGKILLed right after the first switch: the next records it and finishes; nothing lost', async () => {
  const made = ovl(['cluster', 'create', 'rp', '--type', 'redis', '--masters', '1', '--replicas', '1', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const insts = show('rp').instances;
  const before = await pids(insts);
  const client = followMaster(insts);
  const mon = monitor(insts);
  try {
    const w = liveWriter(client, 'live');
    const sched = schedulerProcess(info.inventory, { OVL_FAULT_PAUSE: 'roll-switched:600000' });
    children.push(sched.p);
    // Asynchronously: a blocking spawn would stall the monitor's timers into false alarms.
    const q = await ovlAsync(['cluster', 'restart', 'rp', '--rolling', '--no-wait', ...inv()]);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    await until(() => sched.out().includes('fault point roll-switched'), 120_000);
    assert.match(sched.out(), /fault point roll-switched/);
    const { task: t, out } = await killAndFinish(sched, q.stdout, info, children, { ms: 240_000 });
    assert.equal(t?.state, 'done', `${t?.error ?? ''}\n${out}`);
    await w.stop();
    await mon.stop();
    assert.deepEqual(w.errors, []);
    assert.deepEqual(await w.lost(), [], 'every acknowledged write is on the master');
    assert.ok(mon.worst().count <= 1, `both down at once: ${mon.worst().at}`);
    const after = await pids(insts);
    for (const i of insts) assert.notEqual(after.get(addr(i)), before.get(addr(i)), `${addr(i)} was restarted`);
    assert.deepEqual(show('rp').instances.map((i) => [addr(i), i.role]), insts.map((i) => [addr(i), i.role]), 'the planned roles again');
    const master = insts.find((i) => i.role === 'master')!;
    const replica = insts.find((i) => i.role === 'replica')!;
    assert.doesNotMatch(onHost(info, master.host, `cat /data/redis/${master.port}/redis.conf`).stdout, /^replicaof /m);
    assert.match(onHost(info, replica.host, `cat /data/redis/${replica.port}/redis.conf`).stdout, new RegExp(`^replicaof ${master.address.replaceAll('.', '\\.')} ${master.port}$`, 'm'));
    assert.equal(ovl(['cluster', 'check', 'rp', ...inv()]).code, 0);
  } finally {
    client.close();
    await mon.stop();
  }
});
