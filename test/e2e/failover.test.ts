// `ovl cluster failover` on the shared sandbox fleet over real SSH: a planned switchover with a
// client writing the whole time (every acknowledged write read back), the plan, the files on the
// hosts and `check` following the new roles, and a later `restart` keeping them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cluster } from 'ioredis';
import { getTask } from '../../src/cluster/task-store.js';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import type { ChildProcess } from 'node:child_process';
import { withEtcd } from '../../src/state/etcd.js';
import { ask, fleet, onHost, ovl, ovlAsync, schedulerProcess, until, type ShownInstance, etcdOf } from '../helpers/fleet.js';
import { followMaster, liveWriter } from '../helpers/live-writer.js';

let info: SandboxInfo;
const inv = () => ['-i', info.inventory];
const addr = (i: { address: string; port: number }) => `${i.address}:${i.port}`;

type Inst = ShownInstance;

function show(name: string): { instances: Inst[] } {
  const r = ovl(['cluster', 'show', name, '--json', '--no-probe', ...inv()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { instances: Inst[] };
}

const role = async (i: Inst) => (await ask(i, 'ROLE')) as unknown[];

/** A file of an instance's directory on its host. */
const fileOf = (type: string, i: Inst, name: string) => onHost(info, i.host, `cat /data/${type}/${i.port}/${name}`).stdout;

before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  for (const name of ['fo', 'fop']) ovl(['cluster', 'delete', '--yes', name, ...inv()]);
});

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const name of ['fo', 'fop']) ovl(['cluster', 'delete', '--yes', name, ...inv()]);
});

test('redis_cluster: failover to a replica under a live writer loses nothing; plan, files and check follow; restart keeps the new roles; bad requests change nothing', async () => {
  const made = ovl(['cluster', 'create', 'fo', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const before = show('fo').instances;
  const oldMaster = before.find((i) => i.role === 'master' && i.shard === 0)!;
  const replica = before.find((i) => i.role === 'replica' && i.masterId === oldMaster.id)!;

  // Bad requests: a master, an unknown address, a replica that does not answer.
  const ofMaster = ovl(['cluster', 'failover', 'fo', '--instance', addr(oldMaster), '--wait', ...inv()]);
  assert.notEqual(ofMaster.code, 0);
  assert.match(ofMaster.stderr, new RegExp(`is the master of shard 0 already; name one of its replicas \\(${addr(replica)}\\)`));
  const unknown = ovl(['cluster', 'failover', 'fo', '--instance', '127.0.0.1:1', '--wait', ...inv()]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /not an instance of fo; its replicas are/);
  onHost(info, replica.host, `kill -STOP $(cat /data/redis_cluster/${replica.port}/redis.pid)`);
  try {
    const down = ovl(['cluster', 'failover', 'fo', '--instance', addr(replica), '--wait', ...inv()]);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, /does not answer .*a replica that is down cannot take over/);
  } finally {
    onHost(info, replica.host, `kill -CONT $(cat /data/redis_cluster/${replica.port}/redis.pid)`);
  }
  const check = ovl(['cluster', 'failover', 'fo', '--instance', addr(replica), '--check', ...inv()]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`would change: ${addr(replica)} \\(${replica.host}\\) becomes the master of shard 0 with slots ${oldMaster.slots!.map(([a, b]) => `${a}-${b}`).join(',')} in place of ${addr(oldMaster)}`));
  assert.deepEqual(show('fo').instances, before, '--check and the refused requests changed nothing');

  const c = new Cluster([{ host: oldMaster.address, port: oldMaster.port }]);
  try {
    const w = liveWriter(c, 'live');
    await new Promise((r) => setTimeout(r, 500));
    const r = await ovlAsync(['cluster', 'failover', 'fo', '--instance', addr(replica), '--wait', ...inv()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`failed over: ${addr(replica)} \\(${replica.host}\\) is the master of shard 0, ${addr(oldMaster)} replicates it; writes paused \\d+ ms`));
    await new Promise((res) => setTimeout(res, 500));
    await w.stop();
    assert.deepEqual(await w.lost(), [], 'every acknowledged write is there');
    assert.deepEqual(w.errors, [], 'the writer saw only what its redirection handles');
    assert.ok(w.acked.length > 50, `${w.acked.length} writes`);
    console.log(`failover: ${w.acked.length} writes, longest gap between two acknowledged writes ${w.longestGapMs()} ms; ${r.stdout.trim().split('\n').pop()}`);

    const after = show('fo').instances;
    const nowMaster = after.find((i) => i.id === replica.id)!;
    const nowReplica = after.find((i) => i.id === oldMaster.id)!;
    assert.equal(nowMaster.role, 'master');
    assert.deepEqual(nowMaster.slots, oldMaster.slots);
    assert.equal(nowReplica.role, 'replica');
    assert.equal(nowReplica.masterId, replica.id);
    assert.match(fileOf('redis_cluster', nowMaster, 'meta.toml'), /role = "master"/);
    assert.match(fileOf('redis_cluster', nowReplica, 'meta.toml'), /role = "replica"/);
    assert.equal(ovl(['cluster', 'check', 'fo', ...inv()]).code, 0, 'check passes with the new roles');

    // restart used to fail the shard back to the planned master: the plan is the new one now.
    const again = ovl(['cluster', 'restart', 'fo', ...inv()]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.doesNotMatch(again.stdout, /failed back/);
    assert.equal((await role(nowMaster))[0], 'master');
    assert.deepEqual((await role(nowReplica)).slice(0, 2), ['slave', replica.address]);
    assert.equal(await c.get('live:0'), 'w0');

    // Back to the first master, the scheduler killed once Redis has switched and before the plan
    // says so: the next scheduler finds the switch made and records it.
    const w2 = liveWriter(c, 'back');
    const sched = schedulerProcess(info.inventory, { OVL_FAULT_PAUSE: 'switched:600000' });
    children.push(sched.p);
    const q = ovl(['cluster', 'failover', 'fo', '--instance', addr(oldMaster), ...inv()]);
    assert.equal(q.code, 0, q.stdout + q.stderr);
    await until(() => sched.out().includes('fault point switched'), 120_000);
    assert.match(sched.out(), /fault point switched/);
    sched.p.kill('SIGKILL');
    await sched.exited;
    const id = /^task (\S+):/m.exec(q.stdout)![1]!;
    const endpoints = etcdOf(info.inventory);
    const taskOf = () => withEtcd(endpoints, (e) => getTask(e, id));
    assert.equal((await taskOf())?.state, 'running');
    assert.equal(show('fo').instances.find((i) => i.id === oldMaster.id)!.role, 'replica', 'the plan is not changed before the kill');
    const next = schedulerProcess(info.inventory, {});
    children.push(next.p);
    await until(async () => ['done', 'failed'].includes((await taskOf())?.state ?? ''), 120_000);
    next.p.kill('SIGTERM');
    await next.exited;
    const t = await taskOf();
    assert.equal(t?.state, 'done', `${t?.error ?? ''}\n${next.out()}`);
    assert.match(t!.step, /switched by an earlier run/);
    await w2.stop();
    assert.deepEqual(await w2.lost(), []);
    assert.deepEqual(w2.errors, []);
    const back = show('fo').instances;
    assert.equal(back.find((i) => i.id === oldMaster.id)!.role, 'master');
    assert.equal(back.find((i) => i.id === replica.id)!.masterId, oldMaster.id);
    assert.equal(ovl(['cluster', 'check', 'fo', ...inv()]).code, 0);
  } finally {
    c.disconnect();
  }
});

test('plain redis: failover to the replica with writes paused, nothing lost; redis.conf on both hosts follows', async () => {
  const made = ovl(['cluster', 'create', 'fop', '--type', 'redis', '--masters', '1', '--replicas', '1', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const insts = show('fop').instances;
  const oldMaster = insts.find((i) => i.role === 'master')!;
  const replica = insts.find((i) => i.role === 'replica')!;
  const client = followMaster(insts);
  try {
    const w = liveWriter(client, 'live');
    await new Promise((r) => setTimeout(r, 500));
    const r = await ovlAsync(['cluster', 'failover', 'fop', '--instance', addr(replica), '--wait', ...inv()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /writes paused \d+ ms/);
    await new Promise((res) => setTimeout(res, 300));
    await w.stop();
    assert.deepEqual(w.errors, []);
    assert.deepEqual(await w.lost(), [], 'every acknowledged write is on the new master');
    assert.ok(w.acked.length > 50, `${w.acked.length} writes`);
    assert.equal((await role(replica))[0], 'master');
    assert.deepEqual((await role(oldMaster)).slice(0, 4), ['slave', replica.address, replica.port, 'connected']);
    const after = show('fop').instances;
    assert.equal(after.find((i) => i.id === replica.id)!.role, 'master');
    assert.equal(after.find((i) => i.id === oldMaster.id)!.masterId, replica.id);
    // A process started again from its redis.conf comes back in its new role.
    assert.doesNotMatch(fileOf('redis', replica, 'redis.conf'), /^replicaof /m);
    assert.match(fileOf('redis', oldMaster, 'redis.conf'), new RegExp(`^replicaof ${replica.address.replaceAll('.', '\\.')} ${replica.port}$`, 'm'));
    assert.equal(ovl(['cluster', 'check', 'fop', ...inv()]).code, 0);
  } finally {
    client.close();
  }
});
