// `ovl cluster config` on the shared sandbox fleet over real SSH: settings Redis takes live set
// on every node, in the plan, in redis.conf on the hosts and in the memory reservation, kept by a
// restart; a directive applied by a rolling restart under a live writer; bad requests refused
// with nothing changed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cluster } from 'ioredis';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { withEtcd } from '../../src/state/etcd.js';
import { ask, fleet, onHost, ovl, ovlAsync, type ShownInstance, etcdOf } from '../helpers/fleet.js';
import { liveWriter } from '../helpers/live-writer.js';
import { memcacheTalk } from '../helpers/memcache.js';
import { monitor } from '../helpers/port-monitor.js';

let info: SandboxInfo;
const inv = () => ['-i', info.inventory];
const addr = (i: { address: string; port: number }) => `${i.address}:${i.port}`;

function show(name: string): { config: { maxmemoryMB: number; config?: Record<string, string> }; instances: ShownInstance[] } {
  const r = ovl(['cluster', 'show', name, '--json', '--no-probe', ...inv()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ReturnType<typeof show>;
}

/** CONFIG GET of one directive on every instance, as ip:port -> value. */
async function live(insts: ShownInstance[], name: string): Promise<string[]> {
  return Promise.all(insts.map(async (i) => ((await ask(i, 'CONFIG', 'GET', name)) as string[])[1]!));
}

const conf = (i: ShownInstance) => onHost(info, i.host, `cat /data/redis_cluster/${i.port}/redis.conf`).stdout;

before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  for (const name of ['cf', 'cfm']) ovl(['cluster', 'delete', '--yes', name, ...inv()]);
});

after(() => {
  for (const name of ['cf', 'cfm']) ovl(['cluster', 'delete', '--yes', name, ...inv()]);
});

test('live settings (maxmemory, maxmemory-policy) reach every node, the plan, redis.conf and the reservation, and survive a restart; appendonly by a rolling restart under a live writer; bad requests change nothing', async () => {
  const made = ovl(['cluster', 'create', 'cf', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const insts = show('cf').instances;
  const policy = await live(insts, 'maxmemory-policy');

  // Refused before anything is queued or changed.
  for (const [args, why] of [
    [['bind=1.2.3.4'], /bind is set by ovl and cannot be overridden/],
    [['rename-command=CONFIG ""'], /rename-command CONFIG: ovl needs CONFIG/],
    [['no-such-directive=1'], /does not know no-such-directive/],
    [['maxmemory=1000000mb'], /maxmemory=1000000mb does not fit: h\d would need/],
    [['maxmemory=lots'], /a size such as 512mb/],
  ] as const) {
    const r = ovl(['cluster', 'config', 'cf', ...args, ...inv()]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, why);
  }
  // A value Redis refuses: its own error, nothing changed anywhere.
  const bogus = ovl(['cluster', 'config', 'cf', 'maxmemory-policy=sometimes', '--wait', ...inv()]);
  assert.equal(bogus.code, 2, bogus.stdout + bogus.stderr);
  assert.match(bogus.stdout, /redis refuses maxmemory-policy=sometimes: ERR CONFIG SET failed/);
  assert.deepEqual(await live(insts, 'maxmemory-policy'), policy);
  assert.equal(show('cf').config.config?.['maxmemory-policy'], undefined);

  const check = ovl(['cluster', 'config', 'cf', 'maxmemory=96mb', 'maxmemory-policy=allkeys-lru', 'appendonly=yes', '--check', ...inv()]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^live \(CONFIG SET on every instance, then redis\.conf\): maxmemory=96mb maxmemory-policy=allkeys-lru$/m);
  assert.match(check.stdout, /^by a rolling restart .*: appendonly=yes$/m);
  assert.deepEqual(await live(insts, 'maxmemory-policy'), policy, '--check changed nothing');

  const set = ovl(['cluster', 'config', 'cf', 'maxmemory=96mb', 'maxmemory-policy=allkeys-lru', '--wait', ...inv()]);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(set.stdout, /settings in force: maxmemory=96mb maxmemory-policy=allkeys-lru \(live: maxmemory, maxmemory-policy\)$/m);
  assert.deepEqual(await live(insts, 'maxmemory'), insts.map(() => String(96 * 1024 * 1024)));
  assert.deepEqual(await live(insts, 'maxmemory-policy'), insts.map(() => 'allkeys-lru'));
  for (const i of insts) {
    assert.match(conf(i), /^maxmemory 96mb$/m);
    assert.match(conf(i), /^maxmemory-policy allkeys-lru$/m);
  }
  const s = show('cf');
  assert.equal(s.config.maxmemoryMB, 96);
  assert.equal(s.config.config?.['maxmemory-policy'], 'allkeys-lru');
  const endpoints = etcdOf(info.inventory);
  const reserved = await withEtcd(endpoints, async (c) => Object.values(await c.getAll().prefix('/overlord/alloc/').strings()).flatMap((v) => Object.values(JSON.parse(v) as Record<string, { cluster: string; memMB: number }>)).filter((a) => a.cluster === 'cf').map((a) => a.memMB));
  assert.deepEqual(reserved, insts.map(() => Math.ceil(96 * 1.1)), 'the reservation follows maxmemory');
  const shown = ovl(['cluster', 'config', 'cf', '--show', ...inv()]);
  assert.match(shown.stdout, /^maxmemory-policy +allkeys-lru +cluster +-$/m);
  // A restart renders the same file: the setting stays.
  const again = ovl(['cluster', 'restart', 'cf', '--instance', addr(insts[0]!), ...inv()]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.deepEqual(await live([insts[0]!], 'maxmemory-policy'), ['allkeys-lru']);

  // appendonly: by a rolling restart, with a client writing the whole time.
  const c = new Cluster([{ host: insts[0]!.address, port: insts[0]!.port }]);
  const mon = monitor(insts);
  try {
    const w = liveWriter(c, 'live');
    const r = await ovlAsync(['cluster', 'config', 'cf', 'appendonly=yes', '--wait', ...inv()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /by a rolling restart: appendonly/);
    await w.stop();
    await mon.stop();
    assert.ok(mon.worst().count <= 1, `two members of a shard down at once: ${mon.worst().at}`);
    assert.deepEqual(await w.lost(), []);
    assert.deepEqual(w.errors, []);
    assert.deepEqual(await live(insts, 'appendonly'), insts.map(() => 'yes'));
    for (const i of insts) assert.match(conf(i), /^appendonly yes$/m);
    assert.equal(ovl(['cluster', 'check', 'cf', ...inv()]).code, 0);
  } finally {
    c.disconnect();
    await mon.stop();
  }
});

test('memcache: its memory (-m) only with --yes, by restarting each node in place; the plan follows', async () => {
  const made = ovl(['cluster', 'create', 'cfm', '--type', 'memcache', '--nodes', '2', '--maxmemory', '64mb', '--wait', ...inv()]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const insts = show('cfm').instances;
  const limit = async () => Promise.all(insts.map(async (i) => Number(/STAT limit_maxbytes (\d+)/.exec(await memcacheTalk(i.address, i.port, 'stats\r\nquit\r\n'))![1])));
  const refused = ovl(['cluster', 'config', 'cfm', 'maxmemory=96mb', '--wait', ...inv()]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /a restart empties the node: give --yes/);
  assert.match(ovl(['cluster', 'config', 'cfm', 'maxmemory-policy=x', ...inv()]).stderr, /a memcache cluster has one setting, its memory/);
  assert.deepEqual(await limit(), insts.map(() => 64 * 1024 * 1024), 'nothing changed');
  const r = ovl(['cluster', 'config', 'cfm', 'maxmemory=96mb', '--yes', '--wait', ...inv()]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(await limit(), insts.map(() => 96 * 1024 * 1024));
  assert.equal(show('cfm').config.maxmemoryMB, 96);
  assert.equal(ovl(['cluster', 'check', 'cfm', ...inv()]).code, 0);
});
