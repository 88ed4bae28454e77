// The scripting API as a user gets it: `npm pack`, the tarball installed in a fresh directory, and
// a zx script there that imports `ovl` and runs a cluster's life on the shared sandbox fleet
// (create with progress, list, get, check, hosts, typed errors, restart, delete). Then the example
// scripts of scripts/ops/ against the same fleet: capacity, check-and-notify posting an unhealthy
// cluster to a webhook this test serves, and drain-host switching a host's masters away.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { projectRoot } from '../../src/paths.js';
import { etcdOf, fleet, onHost, ovl, shownInstances } from '../helpers/fleet.js';

let info: SandboxInfo;
const dir = mkdtempSync(join(tmpdir(), 'ovl-api-'));
const CLUSTERS = ['api1', 'api2', 'api3', 'api4'];

before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  for (const c of CLUSTERS) ovl(['cluster', 'delete', '--yes', c, '-i', info.inventory]);
});

after(() => {
  for (const c of CLUSTERS) ovl(['cluster', 'delete', '--yes', c, '-i', info.inventory]);
  rmSync(dir, { recursive: true, force: true });
});

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
};

test("npm pack's tarball installs in a fresh directory, and a zx script there drives a cluster through import { openFleet } from 'ovl'", () => {
  const pack = run('npm', ['pack', '--pack-destination', dir], projectRoot);
  assert.equal(pack.code, 0, pack.out);
  const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
  const app = join(dir, 'app');
  assert.equal(run('mkdir', ['-p', app], dir).code, 0);
  writeFileSync(join(app, 'package.json'), '{ "name": "ops-scripts", "private": true, "type": "module" }\n');
  // The registry is asked only for what the npm cache of this checkout's install lacks.
  const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
  assert.equal(install.code, 0, install.out);
  writeFileSync(
    join(app, 'life.mjs'),
    `#!/usr/bin/env zx
import { openFleet, NotFound, bootstrap } from 'ovl';
const out = { steps: [] };
// Day 1 needs no etcd: bootstrap on its own; then the fleet's own call.
const recap = (r) => r.recap.map((h) => [h.host, h.ok > 0, h.changed, h.failed]);
out.bootstrapped = recap(await bootstrap(process.env.INV, { only: ['data-layout'], check: true }));
const fleet = await openFleet(process.env.INV);
try {
  out.fleetBootstrapped = recap(await fleet.bootstrap({ only: ['data-layout'], limit: ['h1'], check: true }));
  out.create = (await fleet.clusters.create({ name: 'api1', type: 'memcache', nodes: 2, maxmemory: '16mb' }, { onProgress: (s) => out.steps.push(s) })).state;
  out.listed = (await fleet.clusters.list()).filter((c) => c.name === 'api1').map((c) => [c.name, c.type, c.nodes, c.maxmemoryMB, c.state]);
  const c = await fleet.clusters.get('api1');
  out.instances = (await c.instances()).map((i) => \`\${i.address}:\${i.port}\`).sort();
  out.check = await c.check();
  out.hosts = (await fleet.hosts.list()).map((h) => ({ name: h.name, instances: h.used.instances, usedMemMB: h.used.memMB, freeMemMB: h.free.memMB, memMB: h.memMB }));
  try { await fleet.clusters.get('nope'); } catch (e) { out.notFound = [e instanceof NotFound, e.code, e.message]; }
  try { await c.restart({ instance: '192.0.2.1:1' }); } catch (e) { out.badInstance = [e.code, e.message]; }
  out.restart = (await c.restart()).state;
  out.scaled = (await c.scale({ nodes: 3 })).state;
  out.nodesAfter = (await c.instances()).length;
  out.sameShape = await c.scale({ nodes: 3 });
  try { await c.configure({ maxmemory: '24mb' }); } catch (e) { out.needsYes = e.code; }
  out.configured = (await c.configure({ maxmemory: '24mb' }, { yes: true })).state;
  out.maxmemoryAfter = (await (await fleet.clusters.get('api1')).plan()).maxmemoryMB;
  // memcache nodes restarted in place lose their keys: an outage that needs yes.
  try { await c.roll(); } catch (e) { out.rollNeedsYes = e.code; }
  out.rolled = (await c.roll({ yes: true })).state;
  try { await c.passwords({ rotate: 'new one' }); } catch (e) { out.noPasswords = [e.code, e.message]; }
  out.deleted = (await c.delete()).state;
  out.after = (await fleet.clusters.list()).some((x) => x.name === 'api1');
} finally {
  await fleet.close();
}
console.log(JSON.stringify(out));
`,
  );
  const r = run(process.execPath, [join(app, 'node_modules', 'zx', 'build', 'cli.js'), 'life.mjs'], app, { INV: info.inventory });
  assert.equal(r.code, 0, r.out);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown> & { check: { healthy: boolean; problems: unknown[]; nodes: unknown[] }; hosts: { instances: number; usedMemMB: number; freeMemMB: number; memMB: number }[]; steps: string[] };
  // The shared fleet is bootstrapped: a check changes nothing, on every host or the one limited to.
  const hosts = (out.bootstrapped as [string, boolean, number, number][]);
  assert.ok(hosts.length >= 3 && hosts.every(([, ok, changed, failed]) => ok && changed === 0 && failed === 0), JSON.stringify(hosts));
  assert.deepEqual(out.fleetBootstrapped, [['h1', true, 0, 0]]);
  assert.equal(out.create, 'done');
  assert.ok(out.steps.length > 0, 'progress reached onProgress');
  assert.deepEqual(out.listed, [['api1', 'memcache', 2, 16, 'running']]);
  assert.equal((out.instances as string[]).length, 2);
  assert.equal(out.check.healthy, true, JSON.stringify(out.check.problems));
  assert.equal(out.check.nodes.length, 2);
  assert.ok(out.hosts.reduce((n, h) => n + h.instances, 0) >= 2);
  // api1's two nodes reserve 16 MB + 10 % each on the hosts they are on.
  assert.ok(out.hosts.filter((h) => h.instances > 0).every((h) => h.usedMemMB >= 17 && h.freeMemMB === h.memMB - h.usedMemMB), JSON.stringify(out.hosts));
  assert.deepEqual(out.notFound, [true, 'NOT_FOUND', 'no cluster named nope (ovl cluster list)']);
  assert.deepEqual((out.badInstance as string[])[0], 'NOT_FOUND');
  assert.match((out.badInstance as string[])[1]!, /--instance 192\.0\.2\.1:1: not an instance of api1; its instances are /);
  assert.equal(out.restart, 'done');
  assert.deepEqual([out.scaled, out.nodesAfter, out.sameShape], ['done', 3, null]);
  assert.deepEqual([out.needsYes, out.configured, out.maxmemoryAfter], ['USAGE', 'done', 24]);
  assert.deepEqual([out.rollNeedsYes, out.rolled], ['USAGE', 'done']);
  assert.deepEqual(out.noPasswords, ['USAGE', 'api1 is memcache: memcached runs without passwords']);
  assert.equal(out.deleted, 'done');
  assert.equal(out.after, false);
});

test('scripts/ops: capacity per host as data; check-and-notify posts an unhealthy cluster to the webhook and exits 1', async () => {
  const c = ovl(['cluster', 'create', 'api2', '--type', 'memcache', '--nodes', '2', '--maxmemory', '16mb', '--wait', '-i', info.inventory]);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  const zx = (script: string, args: string[]) => run(process.execPath, [join(projectRoot, 'node_modules', 'zx', 'build', 'cli.js'), join(projectRoot, 'scripts', 'ops', script), ...args, '-i', info.inventory], projectRoot);

  const cap = zx('capacity.mjs', ['--json']);
  assert.equal(cap.code, 0, cap.out);
  const { hosts, total } = JSON.parse(cap.stdout) as { hosts: { name: string; used: { instances: number; memMB: number } }[]; total: { instances: number; usedMemMB: number } };
  const api2 = shownInstances(info.inventory, 'api2');
  for (const i of api2) assert.ok(hosts.find((h) => h.name === i.host)!.used.instances >= 1, `${i.host} counts api2's instance`);
  assert.equal(total.instances, hosts.reduce((n, h) => n + h.used.instances, 0));
  assert.ok(total.usedMemMB >= 2 * 16);
  const table = zx('capacity.mjs', []);
  assert.equal(table.code, 0, table.out);
  assert.match(table.stdout, /^HOST\s+INSTANCES\s+MASTERS\s+MEMORY RESERVED\s+PORTS FREE$/m);
  assert.match(table.stdout, /^total\s+\d+\s+\d+\s+\d+ of \d+ MB \(\d+%\)\s+\d+$/m);

  // One memcached of api2 stopped: the script posts api2 with that instance, and exits 1.
  const posted: { inventory: string; unhealthy: { cluster: string; problems: { instance: string; problem: string }[] }[] }[] = [];
  const hook: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      posted.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  // zx runs as a child that this process waits for without blocking: the webhook answers meanwhile.
  const notifyRun = (url: string) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const p = spawn(process.execPath, [join(projectRoot, 'node_modules', 'zx', 'build', 'cli.js'), join(projectRoot, 'scripts', 'ops', 'check-and-notify.mjs'), '--webhook', url, '-i', info.inventory], { cwd: projectRoot });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
  try {
    const victim = api2[0]!;
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/chat`;
    // SIGSTOP: it holds its port but answers nothing, and its supervisor starts no other.
    const pid = onHost(info, victim.host, `cat /data/memcache/${victim.port}/memcache.pid`).stdout.trim();
    assert.match(pid, /^\d+$/);
    assert.equal(onHost(info, victim.host, `kill -STOP ${pid}`).code, 0);
    try {
      const notify = await notifyRun(url);
      assert.equal(notify.code, 1, notify.out);
      assert.match(notify.out, /^api2: NOT healthy, \d+ problems?$/m);
      assert.equal(posted.length, 1);
      const mine = posted[0]!.unhealthy.find((u) => u.cluster === 'api2');
      assert.ok(mine, JSON.stringify(posted));
      assert.ok(mine.problems.some((p) => p.instance === `${victim.address}:${victim.port}` && /does not answer/.test(p.problem)), JSON.stringify(mine));
    } finally {
      onHost(info, victim.host, `kill -CONT ${pid}`);
    }
    // api2 answers again: it is not posted (nor anything, on a fleet whose other clusters are healthy).
    const again = await notifyRun(url);
    assert.match(again.out, /^api2: healthy$/m);
    if (again.code === 0) assert.equal(posted.length, 1);
  } finally {
    hook.close();
  }
});

test('scripts/ops/drain-host: every master on the host hands over to a replica elsewhere; a cluster whose master has no replica elsewhere is refused untouched', () => {
  for (const [name, replicas] of [['api3', '1'], ['api4', '0']] as const) {
    const c = ovl(['cluster', 'create', name, '--type', 'redis_cluster', '--masters', '3', '--replicas', replicas, '--maxmemory', '16mb', '--wait', '-i', info.inventory]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
  }
  // A host with a master of each, where the fleet has one (3 masters each on 4 hosts: it has).
  const masterHosts = (name: string) => shownInstances(info.inventory, name).filter((i) => i.role === 'master').map((i) => i.host);
  const host = masterHosts('api3').find((h) => masterHosts('api4').includes(h)) ?? masterHosts('api3')[0]!;
  const mastersOn = (name: string) => shownInstances(info.inventory, name).filter((i) => i.host === host && i.role === 'master').length;
  const api4Before = mastersOn('api4');
  const zx = (args: string[]) => run(process.execPath, [join(projectRoot, 'node_modules', 'zx', 'build', 'cli.js'), join(projectRoot, 'scripts', 'ops', 'drain-host.mjs'), ...args, '-i', info.inventory], projectRoot);

  const check = zx([host, '--check']);
  assert.match(check.stdout, /^api3: shard \d+: master \S+ -> \S+ \(h\d\) \(--check: not done\)$/m);
  assert.ok(mastersOn('api3') > 0, '--check switches nothing');

  const r = zx([host]);
  assert.equal(r.code, api4Before ? 1 : 0, r.out);
  assert.match(r.stdout, /^api3: shard \d+: master \S+ -> \S+ \(h\d\)$/m);
  assert.equal(mastersOn('api3'), 0, `no master of api3 left on ${host}`);
  assert.equal(ovl(['cluster', 'check', 'api3', '-i', info.inventory]).code, 0);
  if (api4Before) {
    assert.match(r.stdout, /^api4: refused: master \S+ \(shard \d+\) has no replica on another host/m);
    assert.equal(mastersOn('api4'), api4Before, 'api4 untouched');
  }
});

test('scripts/ops/rolling-restart-host: every instance on the host restarted one at a time, its cluster healthy before the next; a master with no replica elsewhere skipped', () => {
  const api3 = shownInstances(info.inventory, 'api3');
  const host = api3.find((i) => i.role === 'replica' && shownInstances(info.inventory, 'api4').some((m) => m.host === i.host))?.host ?? api3[0]!.host;
  const pidOf = (i: { host: string; port: number }) => onHost(info, i.host, `cat /data/redis_cluster/${i.port}/redis.pid`).stdout.trim();
  const here = api3.filter((i) => i.host === host);
  const before = new Map(here.map((i) => [i.port, pidOf(i)]));
  const api4Here = shownInstances(info.inventory, 'api4').filter((i) => i.host === host).length;
  const r = run(process.execPath, [join(projectRoot, 'node_modules', 'zx', 'build', 'cli.js'), join(projectRoot, 'scripts', 'ops', 'rolling-restart-host.mjs'), host, '-i', info.inventory], projectRoot);
  assert.equal(r.code, api4Here ? 1 : 0, r.out);
  for (const i of here) {
    assert.match(r.stdout, new RegExp(`^api3: ${i.address.replace(/\./g, '\\.')}:${i.port} restarted, cluster healthy`, 'm'));
    assert.notEqual(pidOf(i), before.get(i.port), `${i.address}:${i.port} is a new process`);
  }
  if (api4Here) assert.match(r.stdout, /^api4: \S+ skipped: master of shard \d+ with no replica elsewhere/m);
  assert.equal(ovl(['cluster', 'check', 'api3', '-i', info.inventory]).code, 0);
});

test('ovl doctor: one line per check, exit 0 on the bootstrapped fleet; a host that does not answer fails its line and the exit code', () => {
  const ok = ovl(['doctor', info.inventory]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^ok {4}inventory .*: valid \(4 hosts; /m);
  assert.match(ok.stdout, /^ok {4}ssh key .*: readable$/m);
  for (const h of info.hosts) assert.match(ok.stdout, new RegExp(`^ok {4}host ${h.name} \\(${h.address.replace(/\./g, '\\.')}\\): reachable over SSH`, 'm'));
  assert.match(ok.stdout, /^ok {4}etcd: answers at .* \(\d+ members?\)$/m);
  assert.match(ok.stdout, /^ok {4}redis \S+: on 4 cache hosts$/m);
  assert.match(ok.stdout, /^all good$/m);
  // No inventory at hand: the read-only commands reach etcd from $OVL_ETCD_ENDPOINTS and the PKI directory.
  const listed = ovl(['cluster', 'list', '--json'], { OVL_ETCD_ENDPOINTS: etcdOf(info.inventory).endpoints.join(','), OVL_PKI_DIR: info.inventory.replace(/\.yml$/, '.pki') });
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok((JSON.parse(listed.stdout) as { name: string }[]).some((c) => c.name === 'api3'));
  // The same fleet with a fifth host nobody runs (an unused loopback address).
  const inv5 = `${info.inventory}.doctor.yml`;
  const text = readFileSync(info.inventory, 'utf8');
  const last = info.hosts.at(-1)!;
  const ghost = last.address.replace(/\.\d+$/, '.250');
  writeFileSync(inv5, text.replace(/^hosts:\n/m, `hosts:\n  - name: ghost\n    address: ${ghost}\n`));
  try {
    const bad = ovl(['doctor', inv5]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, new RegExp(`^FAIL {2}host ghost \\(${ghost.replace(/\./g, '\\.')}\\): NOT reachable: `, 'm'));
    assert.match(bad.stdout, /^FAIL {2}redis \S+: missing on ghost /m);
    assert.match(bad.stdout, /^\d+ checks? failed$/m);
  } finally {
    rmSync(inv5, { force: true });
  }
});
