// mesos-master and mesos-agent, planned for fake hosts (no SSH): the files they render, the order
// of their operations, and the failure when the inventory names no Mesos binaries.
// node --import tsx --test test/unit/mesos-runbooks.test.ts
import assert from 'node:assert/strict';
import { BOUNDARY, planFromProbe } from '../../src/ops/facts.js';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RUNBOOKS } from '../../runbooks/index.js';
import { mesosAgent } from '../../runbooks/mesos-agent.js';
import { masterQuorum, mesosMaster } from '../../runbooks/mesos-master.js';
import { zkUrl } from '../../runbooks/mesos.js';
import type { ComponentRun, HostPlan, Runbook } from '../../src/engine/runbook.js';
import { InventoryError, loadInventory } from '../../src/inventory/load.js';
import { hostByName, hostsOf, type Inventory } from '../../src/inventory/types.js';
import type { HostFacts } from '../../src/ops/facts.js';
import type { HostContext, Operation, Step } from '../../src/ops/types.js';
import { projectRoot } from '../../src/paths.js';
import type { Remote } from '../../src/ssh/remote.js';

const dir = mkdtempSync(join(tmpdir(), 'ovl-mesos-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'id_test'), 'not really a key\n');
mkdirSync(join(dir, 'bin'));
// Stand-ins for the Mesos binaries: scripts that serve nothing.
for (const b of ['mesos-master', 'mesos-agent', 'mesos-slave', 'mesos-executor']) {
  writeFileSync(join(dir, 'bin', b), `#!/bin/sh\n# stand-in for ${b}\nexec sleep 3600\n`);
  chmodSync(join(dir, 'bin', b), 0o755);
}
writeFileSync(join(dir, 'mesos-archive-keyring.gpg'), 'not really a keyring\n');

const KNOWN = Object.keys(RUNBOOKS);

/** An inventory: 3 (or `masters`) masters next to 3 zookeepers, agents on the rest. */
function inventory(o: { masters?: number; artifact?: string | null; vars?: string; components?: string; hostVars?: Record<string, string> } = {}): string {
  const masters = o.masters ?? 3;
  const names = Array.from({ length: Math.max(masters, 3) + 2 }, (_, i) => `cache-0${i + 1}`);
  const agents = names.slice(-2);
  const artifact =
    o.artifact === null
      ? ''
      : `artifacts:\n  mesos:\n    - version: "1.11.0"\n      files: ${o.artifact ?? '{ mesos-master: bin/mesos-master, mesos-agent: bin/mesos-agent, mesos-executor: bin/mesos-executor }'}\n`;
  const text =
    `vars:\n  ssh: { key: id_test }\n  cache_ports: "7000-7999"\n${o.vars ?? ''}` +
    artifact +
    `hosts:\n${names.map((n, i) => `  - name: ${n}\n    address: 10.20.0.${11 + i}\n${o.hostVars?.[n] ? `    vars: ${o.hostVars[n]}\n` : ''}`).join('')}` +
    `components: ${o.components ?? '[data-layout, zookeeper, mesos-master, mesos-agent]'}\n` +
    `server:\n  data-layout: all\n  zookeeper: [${names.slice(0, 3).join(', ')}]\n  mesos-master: [${names.slice(0, masters).join(', ')}]\n  mesos-agent: [${agents.join(', ')}]\n`;
  const file = join(dir, `inv-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, text);
  return file;
}

const load = (file: string) => loadInventory(file, { knownComponents: KNOWN });

/** A remote that fails the test if anything tries to reach the host. */
const noRemote = new Proxy({}, {
  get(_t, prop) {
    throw new Error(`the host must not be contacted (remote.${String(prop)})`);
  },
}) as unknown as Remote;

function ctx(inv: Inventory, name: string, facts: Partial<HostFacts> = {}): HostContext {
  return {
    host: hostByName(inv, name),
    inv,
    remote: noRemote,
    check: false,
    facts: { os: 'debian 12', arch: 'x86_64', hostname: name, cpu: 4, memMB: 8192, addresses: [hostByName(inv, name).address], systemd: false, ...facts },
  };
}

async function plan<S>(rb: Runbook<S>, inv: Inventory, host: string, facts: Partial<HostFacts> = {}): Promise<{ hp: HostPlan; c: HostContext }> {
  const hosts = hostsOf(inv, rb.name).map((h) => ctx(inv, h.name, h.name === host ? facts : {}));
  const comp: ComponentRun = { name: rb.name, inv, check: false, prune: false, allHosts: hostsOf(inv, rb.name), hosts };
  const shared = (rb.prepare ? await rb.prepare(comp) : undefined) as S;
  const c = hosts.find((h) => h.host.name === host)!;
  return { hp: rb.host(c, comp, shared), c };
}

/** What a file operation would write on a host where the file does not exist yet. */
function rendered(ops: Operation[], c: HostContext, path: string, fact = ''): string {
  const op = ops.find((o) => o.title.includes(path));
  assert.ok(op, `an operation writes ${path}; titles: ${ops.map((o) => o.title).join(' | ')}`);
  // A cgroups fact (when given) comes first in the probe's output, then the file's own.
  const p = planFromProbe(op, fact ? `${fact.trimEnd()}\n${BOUNDARY}\nabsent\n` : 'absent\n', c);
  assert.ok(p.change, `${path} would be created`);
  const write = p.steps.find((s): s is Extract<Step, { kind: 'exec' }> => s.kind === 'exec' && typeof s.stdin === 'string');
  assert.ok(write, `${path}: a write step`);
  return write.stdin as string;
}

const supervisor = (ops: Operation[], c: HostContext, name: string, fact = '') => rendered(ops, c, `/data/mesos/${name}.supervise.sh`, fact);

test('mesos-master: /etc/mesos/zk from server.zookeeper, quorum 2 of 3, ip/hostname/cluster, work and log dirs; the same values as flags', async () => {
  const inv = load(inventory({ vars: '  zookeeper_client_port: 2191\n  mesos_cluster: prod-cache\n' }));
  const { hp, c } = await plan(mesosMaster, inv, 'cache-02');
  const ops = hp.operations;
  const zk = 'zk://10.20.0.11:2191,10.20.0.12:2191,10.20.0.13:2191/mesos';
  assert.equal(rendered(ops, c, '/etc/mesos/zk'), `${zk}\n`);
  assert.equal(rendered(ops, c, '/etc/mesos-master/quorum'), '2\n');
  assert.equal(rendered(ops, c, '/etc/mesos-master/ip'), '10.20.0.12\n');
  assert.equal(rendered(ops, c, '/etc/mesos-master/hostname'), '10.20.0.12\n');
  assert.equal(rendered(ops, c, '/etc/mesos-master/cluster'), 'prod-cache\n');
  assert.equal(rendered(ops, c, '/etc/mesos-master/work_dir'), '/data/mesos/master\n');
  assert.equal(rendered(ops, c, '/etc/mesos-master/log_dir'), '/data/log/mesos\n');
  const sup = supervisor(ops, c, 'mesos-master');
  assert.ok(
    sup.includes(
      `/data/lib/mesos/1.11.0/bin/mesos-master --zk=${zk} --quorum=2 --ip=10.20.0.12 --hostname=10.20.0.12 --port=5050 --cluster=prod-cache --work_dir=/data/mesos/master --log_dir=/data/log/mesos`,
    ),
    sup,
  );
  assert.match(sup, /export LD_LIBRARY_PATH=\/data\/lib\/mesos\/1\.11\.0\/bin/);
  assert.deepEqual(Object.keys(hp.handlers ?? {}), ['restart']);
  for (const o of ops.filter((x) => x.title.startsWith('/etc/'))) assert.deepEqual(o.notify, ['restart'], `${o.title} restarts the master`);
  // The handler only records the debt: the engine's rolling restart pays it, one master at a time.
  assert.ok(mesosMaster.rolling, 'mesos-master restarts in turn');
  assert.match(planFromProbe(hp.handlers!.restart!.operation, 'pending\n', c).reason, /one at a time, leader last/);
});

test('mesos-master: quorum is a majority of server.mesos-master (1 of 1, 2 of 3, 3 of 5)', async () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(masterQuorum), [1, 2, 2, 3, 3]);
  for (const [n, q] of [[1, 1], [3, 2], [5, 3]] as const) {
    const inv = load(inventory({ masters: n }));
    const { hp, c } = await plan(mesosMaster, inv, 'cache-01');
    assert.equal(rendered(hp.operations, c, '/etc/mesos-master/quorum'), `${q}\n`, `${n} masters`);
    assert.match(supervisor(hp.operations, c, 'mesos-master'), new RegExp(` --quorum=${q} `));
  }
});

test('mesos-master: operations in order: directories, binaries, /etc files, service; nothing contacts the host while planning', async () => {
  const inv = load(inventory());
  const { hp } = await plan(mesosMaster, inv, 'cache-01');
  assert.deepEqual(
    hp.operations.map((o) => o.title.replace(/ = .*/, '').replace(/ \(.*\)$/, '')),
    [
      'directory /data/mesos',
      'directory /data/mesos/master',
      'directory /data/log/mesos',
      'artifact /data/lib/mesos/1.11.0/bin/mesos-master',
      'artifact /data/lib/mesos/1.11.0/bin/mesos-agent',
      'artifact /data/lib/mesos/1.11.0/bin/mesos-executor',
      '/etc/mesos/zk',
      '/etc/mesos-master/quorum',
      '/etc/mesos-master/ip',
      '/etc/mesos-master/hostname',
      '/etc/mesos-master/cluster',
      '/etc/mesos-master/work_dir',
      '/etc/mesos-master/log_dir',
      'template supervise.sh.hbs -> /data/mesos/mesos-master.supervise.sh',
      'service mesos-master running',
    ],
  );
  const waits = mesosMaster.after!(ctx(inv, 'cache-01'), { name: 'mesos-master', inv, check: false, prune: false, allHosts: [], hosts: [] }, { files: [], keys: new Map() });
  assert.deepEqual(
    waits.map((w) => [w.title, w.waits]),
    [
      ['mesos-master cache-01 healthy (http://10.20.0.11:5050/master/health answers 200)', true],
      ['a leading mesos master (/master/state names a leader)', true],
    ],
  );
});

test('mesos-master from a package repository: signing key, sources list, package mesos, /usr/sbin/mesos-master', async () => {
  const inv = load(inventory({ artifact: null, vars: '  mesos_apt_repository: "deb http://repos.example/mesos bookworm main"\n  mesos_apt_signed_by: mesos-archive-keyring.gpg\n' }));
  const { hp, c } = await plan(mesosMaster, inv, 'cache-01');
  const titles = hp.operations.map((o) => o.title);
  assert.deepEqual(titles.slice(3, 6), ['artifact /etc/apt/keyrings/ovl-mesos.gpg', 'template mesos-apt.list.hbs -> /etc/apt/sources.list.d/ovl-mesos.list', 'package mesos']);
  assert.match(rendered(hp.operations, c, '/etc/apt/sources.list.d/ovl-mesos.list'), /^deb \[signed-by=\/etc\/apt\/keyrings\/ovl-mesos\.gpg\] http:\/\/repos\.example\/mesos bookworm main$/m);
  const sup = supervisor(hp.operations, c, 'mesos-master');
  assert.match(sup, /^ {2}\/usr\/sbin\/mesos-master --zk=zk:\/\/10\.20\.0\.11:2181,10\.20\.0\.12:2181,10\.20\.0\.13:2181\/mesos /m);
  assert.doesNotMatch(sup, /LD_LIBRARY_PATH/);
});

test('mesos-agent: ports resource is the cache port range, isolation from the cgroup fact, work dir, same values as flags', async () => {
  const inv = load(inventory({ hostVars: { 'cache-05': '{ cache_ports: { from: 7000, to: 7499 }, mesos_attributes: "rack:r2" }' }, vars: '  mesos_agent_mem: 6144\n' }));
  const { hp, c } = await plan(mesosAgent, inv, 'cache-05', { hostname: 'cache-05.dc1' });
  const ops = hp.operations;
  assert.equal(rendered(ops, c, '/etc/mesos/zk'), 'zk://10.20.0.11:2181,10.20.0.12:2181,10.20.0.13:2181/mesos\n');
  assert.equal(rendered(ops, c, '/etc/mesos-slave/resources'), 'mem:6144;ports:[7000-7499,17000-17499]\n');
  assert.equal(rendered(ops, c, '/etc/mesos-slave/containerizers'), 'mesos\n');
  assert.equal(rendered(ops, c, '/etc/mesos-slave/ip'), '10.20.0.15\n');
  assert.equal(rendered(ops, c, '/etc/mesos-slave/hostname'), 'cache-05.dc1\n');
  assert.equal(rendered(ops, c, '/etc/mesos-slave/work_dir'), '/data/mesos/agent\n');
  assert.equal(rendered(ops, c, '/etc/mesos-slave/attributes'), 'rack:r2\n');
  // The isolation (file and flag) follows the host's cgroups, read in the probe.
  const iso = ops.find((o) => o.title.startsWith('/etc/mesos-slave/isolation'))!;
  assert.match(iso.fact?.probe ?? '', /\[ -d \/sys\/fs\/cgroup\/cpu \] \|\| \[ -f \/sys\/fs\/cgroup\/cgroup\.controllers \]/);
  assert.equal(rendered(ops, c, '/etc/mesos-slave/isolation', 'cgroups\n'), 'cgroups/cpu,cgroups/mem\n');
  assert.equal(rendered(ops, c, '/etc/mesos-slave/isolation', 'no-cgroups\n'), 'posix/cpu,posix/mem\n');
  const withCg = supervisor(ops, c, 'mesos-agent', 'cgroups\n');
  assert.ok(
    withCg.includes(
      '/data/lib/mesos/1.11.0/bin/mesos-agent --master=zk://10.20.0.11:2181,10.20.0.12:2181,10.20.0.13:2181/mesos --ip=10.20.0.15 --hostname=cache-05.dc1 --port=5051 ' +
        "--work_dir=/data/mesos/agent --log_dir=/data/log/mesos --containerizers=mesos --isolation=cgroups/cpu,cgroups/mem '--resources=mem:6144;ports:[7000-7499,17000-17499]' " +
        '--attributes=rack:r2 --no-systemd_enable_support --launcher_dir=/data/lib/mesos/1.11.0/bin',
    ),
    withCg,
  );
  assert.match(supervisor(ops, c, 'mesos-agent', 'no-cgroups\n'), / --isolation=posix\/cpu,posix\/mem /);
  // Where systemd is PID 1 the agent uses it (the flag would only be needed without it).
  const withSystemd = await plan(mesosAgent, inv, 'cache-05', { systemd: true });
  const unit = rendered(withSystemd.hp.operations, withSystemd.c, '/etc/systemd/system/ovl-mesos-agent.service', 'cgroups\n');
  assert.match(unit, /^ExecStart=\/data\/lib\/mesos\/1\.11\.0\/bin\/mesos-agent /m);
  assert.doesNotMatch(unit, /systemd_enable_support/);

  // The other agent: the global range, no attributes file, cpus/mem from the inventory only.
  const other = await plan(mesosAgent, inv, 'cache-04');
  assert.equal(rendered(other.hp.operations, other.c, '/etc/mesos-slave/resources'), 'mem:6144;ports:[7000-7999,17000-17999]\n');
  assert.ok(!other.hp.operations.some((o) => o.title.includes('attributes')));
});

test('mesos-agent: order; mesos_isolation overrides the fact; the agent binary may be mesos-slave (older Mesos); master checked at /master/slaves', async () => {
  const inv = load(inventory({ artifact: '{ mesos-master: bin/mesos-master, mesos-slave: bin/mesos-slave }', vars: '  mesos_isolation: "posix/cpu,posix/mem"\n  mesos_agent_cpus: 3.5\n' }));
  const { hp, c } = await plan(mesosAgent, inv, 'cache-04');
  assert.deepEqual(
    hp.operations.map((o) => o.title.replace(/ = .*/, '').replace(/ \(.*\)$/, '')),
    [
      'directory /data/mesos',
      'directory /data/mesos/agent',
      'directory /data/log/mesos',
      'artifact /data/lib/mesos/1.11.0/bin/mesos-master',
      'artifact /data/lib/mesos/1.11.0/bin/mesos-slave',
      '/etc/mesos/zk',
      '/etc/mesos-slave/containerizers',
      '/etc/mesos-slave/isolation',
      '/etc/mesos-slave/ip',
      '/etc/mesos-slave/hostname',
      '/etc/mesos-slave/work_dir',
      '/etc/mesos-slave/resources',
      'template supervise.sh.hbs -> /data/mesos/mesos-agent.supervise.sh',
      'service mesos-agent running',
    ],
  );
  assert.equal(rendered(hp.operations, c, '/etc/mesos-slave/isolation'), 'posix/cpu,posix/mem\n');
  assert.equal(rendered(hp.operations, c, '/etc/mesos-slave/resources'), 'cpus:3.5;ports:[7000-7999,17000-17999]\n');
  const sup = supervisor(hp.operations, c, 'mesos-agent', 'cgroups\n');
  assert.match(sup, /\/data\/lib\/mesos\/1\.11\.0\/bin\/mesos-slave --master=/);
  assert.match(sup, / --isolation=posix\/cpu,posix\/mem /);
  const [wait] = mesosAgent.after!(c, { name: 'mesos-agent', inv, check: false, prune: false, allHosts: [], hosts: [] }, { files: [], keys: new Map() });
  assert.equal(wait!.title, 'mesos agent cache-04 (10.20.0.14:5051) listed by the master (/master/slaves)');
});

test('no Mesos binaries named: the inventory is refused (file:line, what to add), and the runbooks fail the host before any operation', async () => {
  const file = inventory({ artifact: null });
  assert.throws(
    () => load(file),
    (e: unknown) => {
      assert.ok(e instanceof InventoryError);
      const msg = e.message;
      assert.match(msg, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: mesos-master needs the Mesos binaries: name an artifact under artifacts\\.mesos or set mesos_apt_repository`, 'm'));
      assert.match(msg, /mesos-agent needs the Mesos binaries/);
      assert.match(msg, /fix: add under artifacts: mesos: \[ \{ version: "1\.11\.0", files: \{ mesos-master: .*mesos_apt_repository: "deb /);
      return true;
    },
  );
  // Only one host has a repository: the other one is named.
  const partial = inventory({ artifact: null, components: '[data-layout, zookeeper, mesos-master]', hostVars: { 'cache-01': '{ mesos_apt_repository: "deb http://repos.example/mesos bookworm main" }' } });
  assert.throws(() => load(partial), /mesos-master needs the Mesos binaries: .*cache-02, cache-03 have neither/);

  // The runbooks check it too (an inventory object built without the loader's check).
  const inv = load(inventory());
  const bare: Inventory = { ...inv, artifacts: {} };
  for (const rb of [mesosMaster, mesosAgent] as Runbook<unknown>[]) {
    const host = hostsOf(bare, rb.name)[0]!.name;
    await assert.rejects(plan(rb, bare, host), (e: Error) => {
      assert.equal(
        e.message.split(' (e.g.')[0],
        `${rb.name} needs the Mesos binaries: name an artifact under artifacts.mesos`,
      );
      assert.ok(e.message.includes(`or set mesos_apt_repository (e.g. vars: { mesos_apt_repository: "deb http://repos.example/mesos bookworm main"`));
      assert.ok(e.message.includes(`in ${bare.file}`), 'names the inventory file');
      return true;
    });
  }
});

test('mesos-master after zookeeper, mesos-agent after mesos-master: a wrong order fails the host with the reason', async () => {
  const inv = load(inventory({ components: '[data-layout, mesos-master, zookeeper, mesos-agent]' }));
  await assert.rejects(plan(mesosMaster, inv, 'cache-01'), /zookeeper must come before mesos-master in `components`/);
  const agentFirst = load(inventory({ components: '[data-layout, zookeeper, mesos-agent, mesos-master]' }));
  await assert.rejects(plan(mesosAgent, agentFirst, 'cache-04'), /mesos-master must come before mesos-agent in `components`/);
});

test('inventories/prod-mesos.yml loads (structure only) and is the layout of seed 002', () => {
  const inv = loadInventory(join(projectRoot, 'inventories/prod-mesos.yml'), { knownComponents: KNOWN, checkLocalFiles: false });
  assert.deepEqual(inv.components, ['data-layout', 'etcd', 'zookeeper', 'mesos-master', 'cache-binaries', 'mesos-agent']);
  assert.equal(inv.server.zookeeper!.length, 3);
  assert.deepEqual(inv.server['mesos-master'], inv.server.zookeeper);
  assert.ok(inv.server['mesos-agent']!.length >= 3);
  assert.equal(inv.scheduler.resources, 'mesos');
  // The scheduler finds the leader where the masters and agents do.
  assert.equal(inv.scheduler.mesos_master, zkUrl(hostsOf(inv, 'mesos-master')[0]!, inv, 'mesos-master'));
});
