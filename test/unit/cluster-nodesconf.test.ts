import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memcacheArgs } from '../../src/cluster/memcacheargs.js';
import { renderJoiningMasterNodesConf, renderJoiningNodesConf, renderNodesConf, renderNodesConfs } from '../../src/cluster/nodesconf.js';
import { redisFiles } from '../../src/cluster/hostops.js';
import { placeChunk, placeDist, validateRequest } from '../../src/cluster/placement.js';
import { parseConfig } from '../../src/commands/cluster.js';
import { redisQuote, renderRedisConf } from '../../src/cluster/redisconf.js';
import type { ClusterRequest, HostCapacity, Plan } from '../../src/cluster/types.js';

function fleet(n: number): HostCapacity[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `h${i + 1}`,
    address: `10.1.0.${i + 1}`,
    cpu: 8,
    memMB: 64 * 1024,
    ports: { from: 7000, to: 7999 },
    usedPorts: [],
    usedMemMB: 0,
    versions: { redis: ['7.0.15', '4.0.11'], memcache: ['1.6.18'] },
  }));
}

const clusterReq = (masters: number, replicas: number): ClusterRequest => ({
  name: 'c1',
  type: 'redis_cluster',
  version: '7.0.15',
  masters,
  replicas,
  maxmemoryMB: 256,
});

interface Line {
  id: string;
  addr: string;
  flags: string[];
  master: string;
  epoch: number;
  link: string;
  slots: string[];
}

/** Parse nodes.conf the way Redis reads it (cluster.c clusterLoadConfig). */
function parse(text: string): { lines: Line[]; vars: string[] } {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const rows = text.trimEnd().split('\n');
  const vars = rows.pop()!.split(' ');
  const lines = rows.map((row) => {
    const f = row.split(' ');
    assert.ok(f.length >= 8, `line has at least 8 fields: ${row}`);
    return { id: f[0]!, addr: f[1]!, flags: f[2]!.split(','), master: f[3]!, epoch: Number(f[6]), link: f[7]!, slots: f.slice(8) };
  });
  return { lines, vars };
}

function checkNodesConf(plan: Plan): void {
  const byId = new Map(plan.instances.map((i) => [i.id, i]));
  const masters = plan.instances.filter((i) => i.role === 'master');
  for (const self of plan.instances) {
    const { lines, vars } = parse(renderNodesConf(plan, self.id));
    assert.equal(lines.length, plan.instances.length);
    const mine = lines.filter((l) => l.flags.includes('myself'));
    assert.equal(mine.length, 1, 'exactly one myself line');
    assert.equal(mine[0]!.id, self.id, 'the myself line is the node itself');
    if (self.role === 'replica') {
      assert.deepEqual(mine[0]!.flags, ['myself', 'slave']);
      assert.equal(mine[0]!.master, self.masterId, 'replica own line names its master');
    } else {
      assert.deepEqual(mine[0]!.flags, ['myself', 'master']);
    }
    const owner = new Int32Array(16384).fill(-1);
    const epochs = new Set<number>();
    for (const l of lines) {
      const inst = byId.get(l.id)!;
      assert.ok(inst, `line for a planned instance ${l.id}`);
      assert.equal(l.addr, `${inst.address}:${inst.port}@${inst.port + 10000}`);
      assert.equal(l.link, 'connected');
      if (l.flags.includes('master')) {
        assert.equal(inst.role, 'master');
        assert.equal(l.master, '-');
        epochs.add(l.epoch);
        for (const s of l.slots) {
          const [from, to] = s.includes('-') ? s.split('-').map(Number) : [Number(s), Number(s)];
          for (let k = from!; k <= to!; k++) {
            assert.equal(owner[k], -1, `slot ${k} once`);
            owner[k] = 1;
          }
        }
      } else {
        assert.ok(l.flags.includes('slave'));
        assert.equal(l.master, inst.masterId);
        assert.equal(l.slots.length, 0);
        assert.equal(l.epoch, byId.get(inst.masterId!)!.configEpoch, "replica line carries its master's epoch");
      }
    }
    assert.ok(owner.every((o) => o === 1), 'every slot covered');
    assert.equal(epochs.size, masters.length, 'master epochs distinct');
    assert.deepEqual(vars, ['vars', 'currentEpoch', String(masters.length), 'lastVoteEpoch', '0']);
  }
}

test('nodes.conf 3x1: parses back, one myself per file, slots once, epochs distinct', () => {
  checkNodesConf(placeChunk(clusterReq(3, 1), fleet(3)));
});

test('nodes.conf 20x2 on 5 hosts and 7x0', () => {
  checkNodesConf(placeChunk(clusterReq(20, 2), fleet(5)));
  checkNodesConf(placeChunk(clusterReq(7, 0), fleet(2)));
});

test('nodes.conf: exact text of a small cluster', () => {
  let n = 0;
  const plan = placeChunk(clusterReq(2, 1), fleet(2), { newId: () => (++n).toString(16).padStart(40, '0') });
  const id = (k: number) => k.toString(16).padStart(40, '0');
  assert.equal(
    renderNodesConf(plan, id(2)),
    [
      `${id(1)} 10.1.0.1:7000@17000 master - 0 0 1 connected 0-8191`,
      `${id(2)} 10.1.0.2:7001@17001 myself,slave ${id(1)} 0 0 1 connected`,
      `${id(3)} 10.1.0.2:7000@17000 master - 0 0 2 connected 8192-16383`,
      `${id(4)} 10.1.0.1:7001@17001 slave ${id(3)} 0 0 2 connected`,
      'vars currentEpoch 2 lastVoteEpoch 0',
      '',
    ].join('\n'),
  );
  assert.throws(() => renderNodesConf(plan, 'f'.repeat(40)), /not in plan/);
});

test('nodes.conf of every node at once: the same files as one at a time', () => {
  for (const plan of [placeChunk(clusterReq(1, 0), fleet(1)), placeChunk(clusterReq(3, 1), fleet(3)), placeChunk(clusterReq(20, 2), fleet(5))]) {
    const all = renderNodesConfs(plan);
    assert.deepEqual([...all.keys()], plan.instances.map((i) => i.id));
    for (const i of plan.instances) assert.equal(all.get(i.id), renderNodesConf(plan, i.id), `${plan.instances.length} nodes: ${i.id}`);
  }
});

test('redis.conf: cluster instance', () => {
  const plan = placeChunk(clusterReq(3, 1), fleet(3));
  const inst = plan.instances[1]!;
  const conf = renderRedisConf(plan, inst);
  const directives = conf.split('\n').filter((l) => l && !l.startsWith('#'));
  const get = (k: string) => directives.filter((l) => l.split(' ')[0] === k).map((l) => l.slice(k.length + 1));
  assert.deepEqual(get('bind'), [inst.address]);
  assert.deepEqual(get('bind-source-addr'), [], 'announced, not bound: binding every bus socket does not scale');
  assert.deepEqual(get('cluster-announce-ip'), [inst.address]);
  assert.deepEqual(get('replica-announce-ip'), [inst.address]);
  assert.deepEqual(get('port'), [String(inst.port)]);
  assert.deepEqual(get('protected-mode'), ['no']);
  assert.deepEqual(get('daemonize'), ['no']);
  assert.deepEqual(get('dir'), [`/data/redis_cluster/${inst.port}`]);
  assert.deepEqual(get('pidfile'), [`/data/redis_cluster/${inst.port}/redis.pid`]);
  assert.deepEqual(get('logfile'), ['""']);
  assert.deepEqual(get('maxmemory'), ['256mb']);
  assert.deepEqual(get('cluster-enabled'), ['yes']);
  assert.deepEqual(get('cluster-config-file'), ['nodes.conf']);
  assert.deepEqual(get('repl-diskless-sync-delay'), ['0']);
  assert.deepEqual(get('replicaof'), [], 'no replicaof in cluster mode');
  assert.deepEqual(get('requirepass'), []);
  // Every directive appears once.
  const keys = directives.map((l) => l.split(' ')[0]);
  assert.equal(new Set(keys).size, keys.length, 'no directive twice');
});

test('redis.conf: password, extra settings, forbidden overrides', () => {
  const plan = placeChunk(clusterReq(3, 1), fleet(3));
  const conf = renderRedisConf(plan, plan.instances[0]!, { auth: { app: ['p@ss w"rd'] }, extra: { hz: '50', 'io-threads': '2' } });
  assert.match(conf, /^requirepass "p@ss w\\"rd"$/m);
  assert.match(conf, /^masterauth "p@ss w\\"rd"$/m);
  assert.match(conf, /^protected-mode yes$/m);
  assert.match(conf, /^hz 50$/m);
  assert.doesNotMatch(conf, /^hz 10$/m);
  assert.match(conf, /^io-threads 2$/m);
  assert.throws(() => renderRedisConf(plan, plan.instances[0]!, { extra: { port: '1' } }), /set by ovl/);
  assert.throws(() => renderRedisConf(plan, plan.instances[0]!, { extra: { maxmemory: '1gb' } }), /use that option/);
  assert.throws(() => renderRedisConf(plan, plan.instances[0]!, { extra: { loadmodule: '/tmp/x.so' } }), /no.* modules|none can be loaded/);
  assert.throws(() => renderRedisConf(plan, plan.instances[0]!, { extra: { hz: '1\ninclude /etc/x' } }), /invalid value/);
  assert.equal(redisQuote('simple-Pass.1'), 'simple-Pass.1');
  assert.equal(redisQuote('a b'), '"a b"');
  assert.equal(redisQuote('x\\y'), '"x\\\\y"');
});

test('redis.conf: standalone replica points at its master; old versions get old keywords', () => {
  const req: ClusterRequest = { name: 'r1', type: 'redis', version: '7.0.15', masters: 1, replicas: 1, maxmemoryMB: 64 };
  const plan = placeDist(req, fleet(2));
  const master = plan.instances[0]!;
  const replica = plan.instances[1]!;
  const conf = renderRedisConf(plan, replica);
  assert.match(conf, new RegExp(`^replicaof ${master.address.replace(/\./g, '\\.')} ${master.port}$`, 'm'));
  assert.match(conf, /^dir \/data\/redis\/\d+$/m);
  assert.doesNotMatch(conf, /cluster-enabled/);
  assert.doesNotMatch(renderRedisConf(plan, master), /^replicaof/m);
  const old = placeDist({ ...req, version: '4.0.11' }, fleet(2));
  const oldConf = renderRedisConf(old, old.instances[1]!);
  assert.match(oldConf, /^slaveof /m);
  assert.match(oldConf, /^slave-read-only yes$/m);
  assert.match(oldConf, new RegExp(`^slave-announce-ip ${old.instances[1]!.address.replace(/\./g, '\\.')}$`, 'm'));
  assert.doesNotMatch(oldConf, /cluster-announce-ip|dynamic-hz|^replica/m);
});

test('memcache arguments', () => {
  const req: ClusterRequest = { name: 'm1', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 3, maxmemoryMB: 1024 };
  const plan = placeDist(req, fleet(3));
  const inst = plan.instances[2]!;
  assert.deepEqual(memcacheArgs(plan, inst), ['-l', inst.address, '-p', String(inst.port), '-U', '0', '-m', '1024', '-c', '4096', '-t', '4', '-u', 'nobody']);
  assert.deepEqual(memcacheArgs(plan, inst, { conns: 10000, threads: 8, user: 'memcache', extra: ['-I 2m'] }).slice(8), ['-c', '10000', '-t', '8', '-u', 'memcache', '-I', '2m']);
  assert.throws(() => memcacheArgs(plan, inst, { extra: ['; rm -rf /'] }), /invalid memcached option/);
});

test('redis.conf: the node timeout grows with the cluster so each node pings about 20 peers a second', () => {
  const timeout = (masters: number) => {
    const plan = placeChunk(clusterReq(masters, 1), fleet(10));
    return Number(/^cluster-node-timeout (\d+)$/m.exec(renderRedisConf(plan, plan.instances[0]!))![1]);
  };
  assert.equal(timeout(3), 15000, "Redis's default for small clusters");
  assert.equal(timeout(75), 15000);
  assert.equal(timeout(100), 20000);
  assert.equal(timeout(300), 60000);
  const plan = placeChunk(clusterReq(300, 1), fleet(10));
  assert.match(renderRedisConf({ ...plan, config: { 'cluster-node-timeout': '15000' } }, plan.instances[0]!), /^cluster-node-timeout 15000$/m, 'the user decides');
});

test('cluster requests: --config settings are checked before anything is placed', () => {
  const plan = placeChunk({ ...clusterReq(3, 1), config: { 'maxmemory-policy': 'volatile-lru', 'io-threads': '2' } }, fleet(3));
  assert.deepEqual(plan.config, { 'maxmemory-policy': 'volatile-lru', 'io-threads': '2' }, 'the plan carries them');
  const conf = renderRedisConf(plan, plan.instances[0]!);
  assert.match(conf, /^maxmemory-policy volatile-lru$/m);
  assert.doesNotMatch(conf, /^maxmemory-policy allkeys-lru$/m);
  assert.match(conf, /^io-threads 2$/m);
  assert.throws(() => validateRequest({ ...clusterReq(3, 1), config: { bind: '0.0.0.0' } }), /bind is set by ovl/);
  assert.throws(() => validateRequest({ ...clusterReq(3, 1), config: { 'Bad Name': '1' } }), /invalid redis.conf directive/);
  assert.throws(() => validateRequest({ ...clusterReq(3, 1), config: { save: '900 1\nslaveof x 1' } }), /one line/);
  assert.throws(() => validateRequest({ name: 'm', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 64, config: { hz: '1' } }), /memcache takes no/);
  assert.deepEqual(parseConfig(['hz=1', 'save=900 1']), { hz: '1', save: '900 1' });
  assert.equal(parseConfig(undefined), undefined);
  assert.throws(() => parseConfig(['hz']), /write name=value/);
  assert.throws(() => parseConfig(['hz=1', 'hz=2']), /given twice/);
});

test('a node joining a running cluster knows only itself: myself,master, no slots, epoch 0', () => {
  const plan = placeChunk(clusterReq(3, 1), fleet(3));
  const inst = plan.instances.find((i) => i.role === 'master')!;
  const text = renderJoiningNodesConf(inst);
  assert.equal(text.trim(), `${inst.id} ${inst.address}:${inst.port}@${inst.port + 10000} myself,master - 0 0 0 connected\nvars currentEpoch 0 lastVoteEpoch 0`);
});

test("a master a scale adds knows the cluster as planned, not the other joiners; restart --move's joiner and a scale's replica know only themselves", () => {
  let n = 0;
  const id = (k: number) => k.toString(16).padStart(40, '0');
  const base = placeChunk(clusterReq(2, 1), fleet(2), { newId: () => id(++n) });
  const joiner = (k: number, role: 'master' | 'replica', extra: object) => ({ id: id(k), host: 'h', address: '10.1.0.3', port: 7000 + k, role, shard: 9, joining: true, ...extra });
  const plan: Plan = { ...base, instances: [...base.instances, joiner(5, 'master', { slots: [], configEpoch: 3 }), joiner(6, 'master', { slots: [], configEpoch: 4 }), joiner(7, 'replica', { masterId: id(5) })] as Plan['instances'] };
  assert.equal(
    renderJoiningMasterNodesConf(plan, id(5)),
    [
      `${id(1)} 10.1.0.1:7000@17000 master - 0 0 1 connected 0-8191`,
      `${id(2)} 10.1.0.2:7001@17001 slave ${id(1)} 0 0 1 connected`,
      `${id(3)} 10.1.0.2:7000@17000 master - 0 0 2 connected 8192-16383`,
      `${id(4)} 10.1.0.1:7001@17001 slave ${id(3)} 0 0 2 connected`,
      `${id(5)} 10.1.0.3:7005@17005 myself,master - 0 0 3 connected`,
      'vars currentEpoch 3 lastVoteEpoch 0',
      '',
    ].join('\n'),
  );
  const nodesConf = (k: number, scaleJoin: boolean) => redisFiles(plan, plan.instances.find((i) => i.id === id(k))!, { scaleJoin }).find((f) => f.name === 'nodes.conf')!.content;
  assert.equal(nodesConf(5, true), renderJoiningMasterNodesConf(plan, id(5)));
  assert.equal(nodesConf(5, false), renderJoiningNodesConf(plan.instances[4]!), 'restart --move: only itself');
  assert.equal(nodesConf(7, true), renderJoiningNodesConf(plan.instances[6]!), "a scale's replica joins by CLUSTER REPLICATE");
});
