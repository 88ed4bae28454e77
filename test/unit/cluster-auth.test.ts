// ACL users: what redis.conf and the live commands say (no host), and a real redis-server pair
// started from the rendered files: the application's user cannot administer, ovl's checks pass,
// replication logs in as its own user, and a rotation keeps both passwords valid until dropped.
import assert from 'node:assert/strict';
import { createHash, randomInt } from 'node:crypto';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { withAdmin } from '../../src/cluster/admin.js';
import { inspect } from 'node:util';
import { aclUsers, badAppRule, newClusterAuth, ovlLogin, passwordCommands, unprintable, type ClusterAuth } from '../../src/cluster/auth.js';
import { waitHealthy } from '../../src/cluster/check.js';
import { place } from '../../src/cluster/placement.js';
import { renderRedisConf } from '../../src/cluster/redisconf.js';
import { passwordChange } from '../../src/commands/password.js';
import { LocalRig, loopbackHosts } from '../helpers/local-redis.js';

const NET = process.env.OVL_TEST_NET ?? `127.9.${randomInt(1, 255)}`;
const sha = (p: string) => createHash('sha256').update(p).digest('hex');
const AUTH: ClusterAuth = { app: ['app pw"1'], admin: ['a'.repeat(64)], replica: 'r'.repeat(64) };

function redisPlan(version = '7.0.15', from = 21400) {
  return place({ name: 'acl', type: 'redis', version, masters: 1, replicas: 1, maxmemoryMB: 16 }, loopbackHosts(2, NET, { from, to: from + 9 }));
}

test('redis.conf of an ACL cluster: three users with hashed passwords, masteruser, no requirepass, no clear application or ovl password', () => {
  const p = redisPlan();
  const conf = renderRedisConf(p, p.instances[1]!, { auth: AUTH });
  const users = conf.split('\n').filter((l) => l.startsWith('user '));
  assert.deepEqual(users, [
    `user default on #${sha('app pw"1')} ~* &* +@all -@admin`,
    `user ovl on #${sha('a'.repeat(64))} ~* &* +@all`,
    `user replica on #${sha('r'.repeat(64))} +psync +replconf +ping`,
  ]);
  assert.match(conf, /^masteruser replica$/m);
  assert.match(conf, new RegExp(`^masterauth ${'r'.repeat(64)}$`, 'm'));
  assert.match(conf, /^protected-mode yes$/m);
  assert.doesNotMatch(conf, /requirepass/);
  assert.ok(!conf.includes('app pw') && !conf.includes('a'.repeat(64)), 'only hashes of the application and ovl passwords');
  // Before ACL users: requirepass and masterauth, as clusters made then have them.
  const legacy = renderRedisConf(p, p.instances[1]!, { auth: { app: ['old'] } });
  assert.match(legacy, /^requirepass old$/m);
  assert.match(legacy, /^masterauth old$/m);
  assert.doesNotMatch(legacy, /^user |^masteruser/m);
});

test('ACL rules follow the version: Redis 6.0 has no channel rules and files CLUSTER reads under @admin; --app-acl rules are checked', () => {
  const [app60] = aclUsers(AUTH, '6.0.16');
  assert.deepEqual(app60!.rules.slice(2, 12), ['~*', '+@all', '-@admin', '+cluster|slots', '+cluster|nodes', '+cluster|info', '+cluster|keyslot', '+cluster|countkeysinslot', '+cluster|getkeysinslot', '+cluster|myid']);
  assert.ok(app60!.rules.includes('+client|setname'), 'Redis 6 files CLIENT under @admin: SETNAME is given back');
  assert.deepEqual(aclUsers(AUTH, '6.2.14')[0]!.rules.slice(2, 4), ['~*', '&*']);
  assert.deepEqual(aclUsers(AUTH, '7.2.4', ['+config|get'])[0]!.rules.slice(-1), ['+config|get']);
  assert.deepEqual(aclUsers({ app: ['x'] }, '7.0.15'), [], 'no users for requirepass clusters');
  const monitor = aclUsers({ ...AUTH, monitor: 'm'.repeat(64) }, '7.0.15')[3]!;
  assert.equal(monitor.name, 'monitor');
  assert.ok(monitor.rules.includes('-@all') && monitor.rules.includes('+info') && !monitor.rules.some((r) => r.startsWith('~')), 'the monitoring user reads INFO and no key');
  assert.throws(() => aclUsers(AUTH, '5.0.14'), /redis 5\.0\.14 has no ACL users/);
  for (const bad of ['>pw', 'nopass', 'on', '~secret*', 'resetpass', '+config get']) assert.match(badAppRule(bad) ?? '', /--app-acl/, bad);
  for (const good of ['+config|get', '-keys', '+@admin', '-@dangerous']) assert.equal(badAppRule(good), undefined, good);
  assert.equal(newClusterAuth('pw', '5.0.14').admin, undefined, 'Redis 5: requirepass');
  const made = newClusterAuth('pw', '7.0.15');
  assert.match(made.admin![0]!, /^[0-9a-f]{64}$/);
  assert.match(made.monitor!, /^[0-9a-f]{64}$/);
  assert.deepEqual(ovlLogin(made), { username: 'ovl', password: made.admin![0] });
  assert.deepEqual(ovlLogin({ app: ['pw'] }), { password: 'pw' });
});

test('live password commands: one ACL SETUSER per user with exactly the recorded passwords, then masterauth', () => {
  const a: ClusterAuth = { app: ['new', 'old'], admin: ['adm'], replica: 'rep' };
  assert.deepEqual(passwordCommands(a), [
    ['ACL', 'SETUSER', 'default', 'on', 'resetpass', `#${sha('new')}`, `#${sha('old')}`],
    ['ACL', 'SETUSER', 'ovl', 'on', 'resetpass', `#${sha('adm')}`],
    ['ACL', 'SETUSER', 'replica', 'on', 'resetpass', `#${sha('rep')}`],
    ['CONFIG', 'SET', 'masterauth', 'rep'],
  ]);
  assert.deepEqual(passwordCommands({ app: ['x'] }), []);
  // Read from etcd, a record prints as nothing, by JSON or console.log.
  const read = unprintable({ app: ['app-secret'], admin: ['adm-secret'], replica: 'rep-secret' });
  assert.doesNotMatch(JSON.stringify({ job: read }) + inspect(read) + inspect({ job: read }), /secret/);
  assert.equal(read.admin![0], 'adm-secret');
});

test('rotation requests: --rotate keeps the old password beside the new, --drop-old leaves the newest, mistakes refused', () => {
  const a: ClusterAuth = { app: ['old'], admin: ['adm'], replica: 'rep' };
  assert.deepEqual(passwordChange('orders', a, { rotate: true }, 'new').auth.app, ['new', 'old']);
  assert.deepEqual(passwordChange('orders', { ...a, app: ['new', 'old'] }, { dropOld: true }, undefined).auth.app, ['new']);
  assert.deepEqual(passwordChange('orders', a, { rotate: true, dropOld: true }, 'new').auth.app, ['new']);
  assert.deepEqual(passwordChange('orders', a, { rotateAdmin: true }, undefined).auth, a);
  assert.throws(() => passwordChange('orders', a, { rotate: true }, undefined), /--rotate: give the new application password with --password-env/);
  assert.throws(() => passwordChange('orders', a, { rotate: true }, 'old'), /accepts that password already/);
  assert.throws(() => passwordChange('orders', { ...a, app: ['n', 'o'] }, { rotate: true }, 'newer'), /rotation is under way.*--drop-old/);
  assert.throws(() => passwordChange('orders', { ...a, app: ['n', 'o'] }, { rotate: true }, 'o'), /rotation is under way/);
  // The same rotation again (the first missed an instance): the record stays, the task sets it again.
  assert.deepEqual(passwordChange('orders', { ...a, app: ['n', 'o'] }, { rotate: true }, 'n').auth.app, ['n', 'o']);
  assert.throws(() => passwordChange('orders', a, {}, undefined), /say what to change/);
  assert.throws(() => passwordChange('orders', a, {}, 'x'), /goes with --rotate/);
});

const rigs: LocalRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.cleanup(process.env.OVL_KEEP_RIG === '1')));
});

test('a real master and replica with ACL users: the application cannot administer, replication and checks work, a rotation keeps both passwords until dropped', async () => {
  const p = redisPlan('7.0.15', 21420);
  const r = new LocalRig();
  rigs.push(r);
  r.start(p, { auth: AUTH });
  // Healthy: ovl logs in as its user, and the replica's link is up through the replica user.
  const report = await waitHealthy(p, { auth: AUTH, timeoutMs: 20_000 });
  assert.equal(report.healthy, true, report.problems.join('\n'));
  const [m] = p.instances;
  const app = async (password: string, fn: (c: Redis) => Promise<unknown>) => {
    // AUTH by hand: a refused one is then the command's error, not a closed connection.
    const c = new Redis({ host: m!.address, port: m!.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.call('AUTH', password);
      return await fn(c);
    } finally {
      c.disconnect();
    }
  };
  assert.equal(await app('app pw"1', (c) => c.set('k', 'v')), 'OK');
  await assert.rejects(app('app pw"1', (c) => c.call('CONFIG', 'GET', 'maxmemory')), /NOPERM/);
  await assert.rejects(app('app pw"1', (c) => c.call('SHUTDOWN')), /NOPERM/);
  await assert.rejects(app('app pw"1', (c) => c.call('REPLICAOF', 'NO', 'ONE')), /NOPERM/);
  // The replica user can replicate only.
  await assert.rejects(withAdmin(m!, { auth: { app: [], admin: undefined } }, (c) => c.call('AUTH', 'replica', 'r'.repeat(64)).then(() => c.get('k'))), /NOPERM/);

  const rotated: ClusterAuth = { ...AUTH, app: ['new-pw', 'app pw"1'] };
  for (const i of p.instances) await withAdmin(i, { auth: AUTH }, async (c) => {
    for (const cmd of passwordCommands(rotated)) await c.call(cmd[0]!, ...cmd.slice(1));
  });
  assert.equal(await app('new-pw', (c) => c.get('k')), 'v');
  assert.equal(await app('app pw"1', (c) => c.get('k')), 'v');
  const dropped: ClusterAuth = { ...AUTH, app: ['new-pw'] };
  for (const i of p.instances) await withAdmin(i, { auth: AUTH }, async (c) => {
    for (const cmd of passwordCommands(dropped)) await c.call(cmd[0]!, ...cmd.slice(1));
  });
  await assert.rejects(app('app pw"1', (c) => c.get('k')), /WRONGPASS/);
  assert.equal(await app('new-pw', (c) => c.get('k')), 'v');
  assert.equal((await waitHealthy(p, { auth: dropped, timeoutMs: 10_000 })).healthy, true);
});
