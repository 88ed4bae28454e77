// ACL users and password rotation on the shared sandbox fleet over real SSH: the application's
// user cannot administer, ovl's checks and redis-cli still work, and a rotation (new password
// beside the old, then the old dropped; ovl's own password too) fails no client request, while
// a client writes through it and another logs in afresh for every request.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { getSecret } from '../../src/cluster/store.js';
import { withEtcd, type EtcdAccess } from '../../src/state/etcd.js';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { etcdOf, fleet, onHost, ovl, ovlAsync, shownInstances } from '../helpers/fleet.js';
import { liveWriter } from '../helpers/live-writer.js';

let info: SandboxInfo;
let endpoints: EtcdAccess;
const inv = () => ['-i', info.inventory];
const P1 = 'first "app" pw';
const P2 = 'second app pw';
const sha = (p: string) => createHash('sha256').update(p).digest('hex');

before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  endpoints = etcdOf(info.inventory);
  ovl(['cluster', 'delete', '--yes', 'acl', ...inv()]);
});

after(() => {
  ovl(['cluster', 'delete', '--yes', 'acl', ...inv()]);
});

const instances = () => shownInstances(info.inventory, 'acl');

/** A fresh connection, AUTH (one argument: the application's user), one command. */
async function asApp(i: { address: string; port: number }, password: string, ...cmd: string[]): Promise<unknown> {
  return as(i, [password], cmd);
}

async function as(i: { address: string; port: number }, login: string[], cmd: string[]): Promise<unknown> {
  const c = new Redis({ host: i.address, port: i.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.call('AUTH', ...login);
    return await c.call(cmd[0]!, ...cmd.slice(1));
  } finally {
    c.disconnect();
  }
}

test('ACL users: the application cannot administer, ovl and redis-cli work; a rotation and ovl\'s own fail no request; nothing secret is shown or stored in clear', async () => {
  const made = ovl(['cluster', 'create', 'acl', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', '--password-env', 'APP_PW', '--app-acl', '-flushall', '--wait', ...inv()], { APP_PW: P1 });
  assert.equal(made.code, 0, made.stdout + made.stderr);
  const all = instances();
  const masters = all.filter((i) => i.role === 'master');
  const m = masters[0]!;

  // What the application's user may not do, and may.
  assert.equal(await asApp(m, P1, 'PING'), 'PONG');
  await assert.rejects(asApp(m, P1, 'CONFIG', 'GET', 'maxmemory'), /NOPERM/);
  await assert.rejects(asApp(m, P1, 'FLUSHALL'), /NOPERM/, '--app-acl -flushall');
  await assert.rejects(asApp(m, P1, 'CLUSTER', 'FORGET', all[1]!.id), /NOPERM/);
  await assert.rejects(asApp(m, P1, 'SHUTDOWN'), /NOPERM/);
  const check = ovl(['cluster', 'check', 'acl', ...inv()]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const cli = spawnSync('redis-cli', ['--cluster', 'check', `${m.address}:${m.port}`, '-a', P1, '--no-auth-warning'], { encoding: 'utf8' });
  assert.match(cli.stdout, /\[OK\] All 16384 slots covered/, cli.stdout + cli.stderr);
  const shown = ovl(['cluster', 'show', 'acl', ...inv()]);
  assert.match(shown.stdout, /ACL users default \(application\), ovl, replica/);
  // redis.conf has hashes, not the passwords (but masterauth, which replication sends in clear).
  const conf = onHost(info, m.host, `cat /data/redis_cluster/${m.port}/redis.conf`).stdout;
  assert.match(conf, new RegExp(`^user default on #${sha(P1)} `, 'm'));
  assert.ok(!conf.includes('app" pw') && !conf.includes('requirepass'), conf);

  // Rotation under two clients: one writing on connections it keeps, one logging in afresh for
  // every request with the password the operator has handed out so far.
  const writer = new Cluster([{ host: m.address, port: m.port }], { redisOptions: { password: P1 } });
  const w = liveWriter(writer, 'rot');
  let handedOut = P1;
  let oldAdmin = '';
  let fresh = 0;
  const freshErrors: string[] = [];
  let stopFresh = false;
  const freshLoop = (async () => {
    for (let k = 0; !stopFresh; k++) {
      const pw = handedOut;
      await asApp(masters[k % masters.length]!, pw, 'PING').then(() => void fresh++, (e: Error) => void freshErrors.push(`${pw === P1 ? 'old' : 'new'} password: ${e.message}`));
    }
  })();
  try {
    const rotate = await ovlAsync(['cluster', 'password', 'acl', '--rotate', '--password-env', 'NEW_PW', '--wait', ...inv()], { NEW_PW: P2 });
    assert.equal(rotate.code, 0, rotate.stdout + rotate.stderr);
    assert.match(rotate.stdout, /the new application password is accepted beside the old one/);
    assert.match(rotate.stdout, /once every client logs in with the new password: ovl cluster password acl --drop-old/);
    for (const i of all) assert.equal(await asApp(i, P1, 'PING'), 'PONG', `${i.address}:${i.port} still takes the old one`);
    handedOut = P2;
    // A second rotation before the first ends is refused, and changes nothing.
    const again = ovl(['cluster', 'password', 'acl', '--rotate', '--password-env', 'NEW_PW', ...inv()], { NEW_PW: 'third' });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /a rotation is under way.*--drop-old/);
    const drop = await ovlAsync(['cluster', 'password', 'acl', '--drop-old', '--wait', ...inv()]);
    assert.equal(drop.code, 0, drop.stdout + drop.stderr);
    oldAdmin = (await withEtcd(endpoints, (e) => getSecret(e, 'acl')))!.admin![0]!;
    const admin = await ovlAsync(['cluster', 'password', 'acl', '--rotate-admin', '--wait', ...inv()]);
    assert.equal(admin.code, 0, admin.stdout + admin.stderr);
    assert.match(admin.stdout, /ovl's own user has a new password/);
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    stopFresh = true;
    await freshLoop;
    await w.stop();
  }
  assert.deepEqual(freshErrors, [], 'no login failed during the rotation');
  assert.ok(fresh > 20, `the fresh-login client ran (${fresh} requests)`);
  assert.deepEqual(w.errors, [], 'no write failed');
  assert.deepEqual(await w.lost(), [], 'every acknowledged write is there');
  writer.disconnect();

  for (const i of all) {
    await assert.rejects(asApp(i, P1, 'PING'), /WRONGPASS/, `${i.address}:${i.port} refuses the old password`);
    assert.equal(await asApp(i, P2, 'PING'), 'PONG');
  }
  // ovl's own user: the new password works, the old one no longer; the checks use the new one.
  const auth = await withEtcd(endpoints, (e) => getSecret(e, 'acl'));
  assert.equal(auth?.admin?.length, 1);
  assert.deepEqual(auth?.app, [P2]);
  const adminPw = auth!.admin![0]!;
  assert.equal(await as(m, ['ovl', adminPw], ['CONFIG', 'GET', 'maxmemory']).then((r) => (r as string[])[0]), 'maxmemory');
  await assert.rejects(asApp(m, adminPw, 'PING'), /WRONGPASS/, 'the admin password is not the application\'s');
  assert.notEqual(oldAdmin, adminPw);
  for (const i of all) await assert.rejects(as(i, ['ovl', oldAdmin], ['PING']), /WRONGPASS/, `${i.address}:${i.port} refuses ovl's old password`);
  assert.equal(ovl(['cluster', 'check', 'acl', ...inv()]).code, 0);
  // Every redis.conf follows (a restart keeps what runs).
  for (const i of all) {
    const c = onHost(info, i.host, `cat /data/redis_cluster/${i.port}/redis.conf`).stdout;
    assert.match(c, new RegExp(`^user default on #${sha(P2)} ~`, 'm'), `${i.host}:${i.port}`);
    assert.ok(!c.includes(sha(P1)), `${i.host}:${i.port} lost the old password`);
  }
  // No password in etcd outside the sealed record, task records included.
  const stored = await withEtcd(endpoints, async (e) => ({ ...(await e.getAll().prefix('/overlord/task/').strings()), ...(await e.getAll().prefix('/overlord/clusters/acl/').strings()) }));
  for (const [k, v] of Object.entries(stored)) for (const secret of [P1, P2, auth!.admin![0]!, auth!.replica!]) assert.ok(!v.includes(secret), k);
  const sealed = await withEtcd(endpoints, (e) => e.get('/overlord/secrets/acl').string());
  assert.match(sealed!, /^\{"sealed":"v2:[A-Za-z0-9+/=]+"\}$/);
});
