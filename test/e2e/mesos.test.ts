// The Mesos components against the shared e2e fleet: an inventory naming no Mesos binaries is
// refused before any host is contacted; real Mesos daemons (a build of Apache Mesos, see
// test/helpers/mesos.ts) run from an artifact, and a cluster is created through their offers;
// STAND-INS for the binaries (small node scripts answering the master's endpoints) show what a
// real Mesos cannot: the exact flags each daemon received. Rendered files for more layouts:
// test/unit/mesos-runbooks.test.ts.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getTask } from '../../src/cluster/task-store.js';
import { stopScript } from '../../src/ops/service.js';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { bootstrapJson, fleet, onHost, ovl, ovlAsync, schedulerProcess, total, until, etcdOf } from '../helpers/fleet.js';
import { liveWriter } from '../helpers/live-writer.js';
import { Cluster } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import { listInstances } from '../../src/cluster/store.js';
import { withEtcd } from '../../src/state/etcd.js';
import { realMesos } from '../helpers/mesos.js';

function dataTree(info: SandboxInfo, host: string): string {
  const r = onHost(info, host, `find /data /etc/mesos /etc/mesos-master /etc/apt/sources.list.d -printf '%p %y %m %s %T@\\n' 2>/dev/null | sort`);
  return r.stdout;
}

test('mesos-master with neither artifacts.mesos nor mesos_apt_repository: refused with what to add, no host contacted or changed', async () => {
  const info = await fleet();
  const inv = `${info.inventory}.mesos.yml`;
  const hosts = info.hosts.map((h) => `  - { name: ${h.name}, address: ${h.address} }`).join('\n');
  writeFileSync(
    inv,
    `vars:\n  ssh: { user: root, key: ${info.fleetKey}, known_hosts: ${info.knownHosts} }\nhosts:\n${hosts}\n` +
      'components: [data-layout, zookeeper, mesos-master]\nserver:\n  data-layout: all\n  zookeeper: [h1, h2, h3]\n  mesos-master: [h1, h2, h3]\n',
  );
  try {
    const trees = info.hosts.map((h) => dataTree(info, h.name));
    const sshLog = () => info.hosts.map((h) => readFileSync(`${h.dir}/sshd.log`, 'utf8').split('\n').length);
    // sshd logs the end of the sessions above a little after they close: wait for quiet logs.
    let before = sshLog();
    for (let quiet = 0; quiet < 10; ) {
      await new Promise((r) => setTimeout(r, 200));
      const now = sshLog();
      quiet = JSON.stringify(now) === JSON.stringify(before) ? quiet + 1 : 0;
      before = now;
    }
    const r = ovl(['bootstrap', inv]);
    assert.deepEqual(sshLog(), before, 'no host was contacted');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const file = inv.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(r.stderr, new RegExp(`${file}:\\d+:\\d+: mesos-master needs the Mesos binaries: name an artifact under artifacts\\.mesos or set mesos_apt_repository`));
    assert.match(r.stderr, /fix: add under artifacts: mesos: \[ \{ version: .*mesos-master: .*\} \], or under vars: mesos_apt_repository: "deb /);
    assert.match(r.stderr, /Nothing was changed on any host/);
    assert.deepEqual(info.hosts.map((h) => dataTree(info, h.name)), trees, 'no host changed');
  } finally {
    rmSync(inv, { force: true });
  }
});

/** Stand-in mesos-master: /master/health, /master/state (it leads), /master/slaves (GET lists, POST registers). */
const FAKE_MASTER = `
const http = require('node:http');
const args = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => a.slice(2).split(/=(.*)/s).slice(0, 2)));
const slaves = [];
http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d)).on('end', () => {
    if (req.method === 'POST' && req.url === '/master/slaves') { slaves.push(JSON.parse(body)); return res.end(); }
    const out = { '/master/health': '', '/master/state': JSON.stringify({ leader: 'master@' + args.ip + ':' + args.port, flags: args }), '/master/slaves': JSON.stringify({ slaves }) }[req.url];
    res.writeHead(out === undefined ? 404 : 200).end(out ?? '');
  });
}).listen(Number(args.port), args.ip);
`;

/** Stand-in mesos-agent: registers hostname, pid and its flags with the stand-in master, then idles. */
const fakeAgent = (master: string) => `
const http = require('node:http');
const args = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => { const [k, v] = a.slice(2).split(/=(.*)/s); return [k, v ?? 'true']; }));
const me = JSON.stringify({ hostname: args.hostname, pid: 'slave(1)@' + args.ip + ':' + args.port, flags: args });
const register = () => http.request('http://${master}/master/slaves', { method: 'POST' }, (r) => r.resume()).on('error', () => setTimeout(register, 500)).end(me);
register();
setInterval(() => {}, 1 << 30);
`;

const CGROUPS_ROOT = (host: string) => `ovl-e2e-${host}`;
const MESOS_PATHS = '/data/mesos /data/lib/mesos /etc/mesos /etc/mesos-master /etc/mesos-slave /data/log/mesos/mesos-master.service.log /data/log/mesos/mesos-agent.service.log';

function cleanMesos(info: SandboxInfo): void {
  for (const h of info.hosts) {
    const stop = ['mesos-master', 'mesos-agent'].map((name) => stopScript({ name, command: [], dir: '/data/mesos', log: '' }, false)).join('\n');
    const zk = stopScript({ name: 'zookeeper', command: [], dir: '/data/zookeeper', log: '' }, false);
    // The agent's cgroups (cgroups v1 is the machine's, not the sandbox host's): removed once empty.
    const cgroups = `for d in /sys/fs/cgroup/*/${CGROUPS_ROOT(h.name)}; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`;
    const r = onHost(info, h.name, `${stop}\n${zk}\n${cgroups}\nrm -rf ${MESOS_PATHS} /data/zookeeper /data/log/zookeeper /data/var/ovl/pending/mesos-master.restart /data/var/ovl/pending/mesos-agent.restart /data/var/ovl/pending/zookeeper.restart`);
    assert.equal(r.code, 0, r.stderr);
  }
}

test('with stand-in binaries: zookeeper, then mesos-master, then mesos-agent; /etc files and flags on the hosts; the agents registered; a re-run changes nothing', async (t) => {
  // The stand-ins run with this node; a sandbox host sees it only outside /root, /etc and /data.
  if (/^\/(root|etc|data)\//.test(process.execPath)) return t.skip(`node at ${process.execPath} is not visible on sandbox hosts`);
  const info = await fleet();
  cleanMesos(info);
  const dir = mkdtempSync(join(tmpdir(), 'ovl-fake-mesos-'));
  const inv = `${info.inventory}.mesos-standin.yml`;
  const [h1, h2, h3] = info.hosts.map((h) => h.address);
  writeFileSync(join(dir, 'mesos-master'), `#!${process.execPath}\n${FAKE_MASTER}`);
  writeFileSync(join(dir, 'mesos-agent'), `#!${process.execPath}\n${fakeAgent(`${h1}:5050`)}`);
  for (const f of ['mesos-master', 'mesos-agent']) chmodSync(join(dir, f), 0o755);
  const hosts = info.hosts.map((h) => `  - { name: ${h.name}, address: ${h.address} }`).join('\n');
  writeFileSync(
    inv,
    `vars:\n  ssh: { user: root, key: ${info.fleetKey}, known_hosts: ${info.knownHosts} }\n  cache_ports: { from: 7000, to: 7999 }\n  mesos_cluster: e2e\n` +
      `artifacts:\n  mesos:\n    - version: "0.0.0-standin"\n      files: { mesos-master: ${dir}/mesos-master, mesos-agent: ${dir}/mesos-agent }\n` +
      `hosts:\n${hosts}\ncomponents: [data-layout, zookeeper, mesos-master, mesos-agent]\n` +
      'server:\n  data-layout: [h1, h2, h3]\n  zookeeper: [h1]\n  mesos-master: [h1]\n  mesos-agent: [h2, h3]\n',
  );
  try {
    const r = bootstrapJson([inv]);
    assert.equal(r.code, 0, JSON.stringify(r.recap.hosts) + r.stderr);
    // Components strictly in order: every zookeeper result before any mesos-master one, and so on.
    const order = r.recap.results.map((x) => x.component).filter((c, i, all) => c !== all[i - 1]);
    assert.deepEqual(order, ['data-layout', 'zookeeper', 'mesos-master', 'mesos-agent']);
    assert.ok(r.recap.results.some((x) => x.host === 'h1' && x.title.startsWith('a leading mesos master') && x.status === 'ok'));

    const zk = `zk://${h1}:2181/mesos`;
    const master = onHost(info, 'h1', 'cat /etc/mesos/zk /etc/mesos-master/quorum /etc/mesos-master/ip /etc/mesos-master/hostname /etc/mesos-master/cluster /etc/mesos-master/work_dir /etc/mesos-master/log_dir');
    assert.equal(master.stdout, `${zk}\n1\n${h1}\n${h1}\ne2e\n/data/mesos/master\n/data/log/mesos\n`);
    const state = (await (await fetch(`http://${h1}:5050/master/state`)).json()) as { flags: Record<string, string> };
    assert.deepEqual(state.flags, { zk, quorum: '1', ip: h1, hostname: h1, port: '5050', cluster: 'e2e', work_dir: '/data/mesos/master', log_dir: '/data/log/mesos' });

    const slaves = ((await (await fetch(`http://${h1}:5050/master/slaves`)).json()) as { slaves: { hostname: string; flags: Record<string, string> }[] }).slaves;
    assert.deepEqual(slaves.map((s) => s.hostname).sort(), ['h2', 'h3']);
    for (const [name, address] of [['h2', h2], ['h3', h3]] as const) {
      const cg = onHost(info, name, '[ -d /sys/fs/cgroup/cpu ] || [ -f /sys/fs/cgroup/cgroup.controllers ] && echo yes || echo no').stdout.trim();
      const isolation = cg === 'yes' ? 'cgroups/cpu,cgroups/mem' : 'posix/cpu,posix/mem';
      const files = onHost(info, name, 'cat /etc/mesos/zk /etc/mesos-slave/containerizers /etc/mesos-slave/isolation /etc/mesos-slave/ip /etc/mesos-slave/hostname /etc/mesos-slave/work_dir /etc/mesos-slave/resources');
      assert.equal(files.stdout, `${zk}\nmesos\n${isolation}\n${address}\n${name}\n/data/mesos/agent\nports:[7000-7999,17000-17999]\n`);
      assert.deepEqual(slaves.find((s) => s.hostname === name)!.flags, {
        master: zk,
        ip: address,
        hostname: name,
        port: '5051',
        work_dir: '/data/mesos/agent',
        log_dir: '/data/log/mesos',
        containerizers: 'mesos',
        isolation,
        resources: 'ports:[7000-7999,17000-17999]',
        launcher_dir: '/data/lib/mesos/0.0.0-standin/bin',
        // The sandbox hosts have no systemd as PID 1.
        'no-systemd_enable_support': 'true',
        executor_environment_variables: JSON.stringify({ LD_LIBRARY_PATH: '/data/lib/mesos/0.0.0-standin/bin', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }),
      });
    }
    const again = bootstrapJson([inv]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(total(again.recap, 'changed'), 0, JSON.stringify(again.recap.results.filter((x) => x.status === 'changed')));
  } finally {
    cleanMesos(info);
    rmSync(inv, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

interface MasterState {
  leader?: string;
  slaves: { hostname: string; resources: { ports?: string; mem?: number } }[];
  frameworks: { id: string; name: string; active: boolean; tasks: { id: string; name: string; state: string; slave_id: string }[]; completed_tasks: { id: string; name: string; state: string }[] }[];
}

test('real Mesos: ZooKeeper and masters x3, an agent on every host from the build; a Redis Cluster of 16 MB instances (cgroups limits) created through offers with the scheduler killed mid-create; an instance killed is relaunched, restart and --rolling (live writer) launch through Mesos, the leading master killed during a create, scale --replicas 2 and back, an agent lost for good has its instances moved; Mesos and ovl agree after each; delete kills every task', async (t) => {
  const mesos = await realMesos();
  if ('skip' in mesos) return t.skip(mesos.skip);
  const info = await fleet();
  cleanMesos(info);
  const masters = info.hosts.slice(0, 3);
  const inv = `${info.inventory}.mesos-real.yml`;
  const base = parseYaml(readFileSync(info.inventory, 'utf8')) as Record<string, any>;
  // Every host an agent; h1..h3 also ZooKeeper's and the masters' (quorum 2).
  const agents = info.hosts.map((h) => h.name);
  base.vars.mesos_cluster = 'e2e';
  // An agent that stops answering is removed after 3 pings of 2 s (Mesos's default: 5 of 15 s).
  base.vars.mesos_agent_ping_timeout = 2;
  base.vars.mesos_max_agent_ping_timeouts = 3;
  base.artifacts.mesos = [{ version: mesos.version, files: mesos.files }];
  for (const h of base.hosts as { name: string; vars?: object }[]) if (agents.includes(h.name)) h.vars = { mesos_cgroups_root: CGROUPS_ROOT(h.name) };
  base.components = ['data-layout', 'etcd', 'cache-binaries', 'zookeeper', 'mesos-master', 'mesos-agent'];
  base.server = { ...base.server, zookeeper: masters.map((h) => h.name), 'mesos-master': masters.map((h) => h.name), 'mesos-agent': agents };
  // The scheduler finds the leading master as the daemons do: through ZooKeeper.
  base.scheduler = { resources: 'mesos', mesos_master: `zk://${masters.map((h) => `${h.address}:2181`).join(',')}/mesos` };
  writeFileSync(inv, toYaml(base));
  /** The leading master's state, asked of any master that answers (the others redirect to it). */
  const state = async (): Promise<MasterState> => {
    let last: unknown;
    for (const m of masters) {
      try {
        const r = await fetch(`http://${m.address}:5050/master/state`, { signal: AbortSignal.timeout(10_000) });
        if (r.ok) return (await r.json()) as MasterState;
        last = `${m.address}: ${r.status}`;
      } catch (e) {
        last = e;
      }
    }
    throw new Error(`no master answered /master/state: ${String(last)}`);
  };
  // Known once bootstrap made the client certificate (this test may run on a fresh fleet).
  let endpoints!: ReturnType<typeof etcdOf>;
  const records = async () => [...(await withEtcd(endpoints, (e) => listInstances(e, 'onmesos'))).values()];
  /** ip:port -> the id of the Mesos task running it. */
  const runningTasks = async () => {
    const fw = (await state()).frameworks.find((f) => f.name === 'ovl');
    return new Map((fw?.tasks ?? []).filter((x) => x.state === 'TASK_RUNNING').map((x) => [x.name.split(' ')[1]!, x.id]));
  };
  /** Mesos runs exactly the instances ovl's records say are up, and each once. */
  const agree = async (when: string) => {
    const fw = (await state()).frameworks.find((f) => f.name === 'ovl')!;
    const live = fw.tasks.filter((x) => x.state === 'TASK_RUNNING').map((x) => x.name.split(' ')[1]!).sort();
    const up = (await records()).filter((i) => i.state === 'up').map((i) => `${i.address}:${i.port}`).sort();
    const all = (await records()).map((i) => `${i.address}:${i.port}`).sort();
    assert.deepEqual(live, all, `${when}: Mesos runs every instance once (${JSON.stringify(fw.tasks.map((x) => [x.name, x.state]))})`);
    assert.deepEqual(up, all, `${when}: ovl's records say every instance is up`);
  };
  /** What the tasks printed (their sandboxes' stdout on the agents), for failure messages. */
  const sandboxes = (lines = 5) => agents.map((h) => onHost(info, h, `for f in $(find /data/mesos/agent -path '*/runs/*' -name stdout 2>/dev/null); do echo "== $f"; tail -n ${lines} "$f"; done`).stdout).join('');
  const children: ChildProcess[] = [];
  try {
    const r = bootstrapJson([inv]);
    assert.equal(r.code, 0, JSON.stringify(r.recap.results.filter((x) => x.status === 'failed')) + r.stderr);
    endpoints = etcdOf(inv);
    const s = await state();
    assert.ok(masters.some((m) => s.leader === `master@${m.address}:5050`), `a master leads: ${s.leader}`);
    assert.deepEqual(s.slaves.map((a) => a.hostname).sort(), agents);
    for (const a of s.slaves) assert.equal(a.resources.ports, '[7000-7999, 17000-17999]', a.hostname);

    // Instances as small as the fleet path allows, under the agents' memory limits where the hosts
    // have cgroups: each task's limit must hold its executor too.
    const isolation = onHost(info, agents[0]!, 'cat /etc/mesos-slave/isolation').stdout.trim();
    const cgroups = onHost(info, agents[0]!, '[ -d /sys/fs/cgroup/memory ] && echo yes').stdout.trim() === 'yes';
    if (cgroups) assert.equal(isolation, 'cgroups/cpu,cgroups/mem');
    // The scheduler killed during the create, right after its first LAUNCH: the next one (a daemon,
    // as in production: it also relaunches what fails between tasks) fails over to the same
    // framework and finishes the create, launching no instance twice.
    const faulty = schedulerProcess(inv, { OVL_FAULT_PAUSE: 'mesos-launched:600000' });
    children.push(faulty.p);
    await until(() => /: leader;/.test(faulty.out()), 60_000);
    const queued = ovl(['cluster', 'create', 'onmesos', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', '-i', inv]);
    assert.equal(queued.code, 0, queued.stdout + queued.stderr);
    await until(() => faulty.out().includes('fault point mesos-launched'), 120_000);
    assert.match(faulty.out(), /fault point mesos-launched/);
    const frameworkId = (await state()).frameworks.find((f) => f.name === 'ovl')!.id;
    faulty.p.kill('SIGKILL');
    await faulty.exited;
    const sched = schedulerProcess(inv, {});
    children.push(sched.p);
    const taskId = /^task (\S+):/m.exec(queued.stdout)![1]!;
    const taskOf = () => withEtcd(endpoints, (e) => getTask(e, taskId));
    await until(async () => ['done', 'failed'].includes((await taskOf())?.state ?? ''), 240_000);
    assert.equal((await taskOf())?.state, 'done', `${(await taskOf())?.error}\n${sched.out().slice(-3000)}\n${sandboxes()}`);
    const frameworks = (await state()).frameworks.filter((f) => f.name === 'ovl');
    assert.deepEqual(frameworks.map((f) => [f.id, f.active]), [[frameworkId, true]], 'the same framework, failed over');
    const fw = frameworks[0]!;
    assert.equal(fw.tasks.filter((x) => x.state === 'TASK_RUNNING').length, 6, JSON.stringify(fw.tasks));
    assert.deepEqual(fw.completed_tasks.filter((x) => x.name.startsWith('onmesos ')), [], 'no launch failed or was repeated');
    const check = () => ovlAsync(['cluster', 'check', 'onmesos', '-i', inv]);
    let c = await check();
    assert.equal(c.code, 0, c.stdout + c.stderr);
    await agree('after the create');

    // An instance killed under Mesos is relaunched by the scheduler on its own, on its agent,
    // with its identity: the cluster is whole again and Mesos's list and ovl's records agree.
    const victim = (await records()).find((i) => i.role === 'master')!;
    const victimAddr = `${victim.address}:${victim.port}`;
    const taskBefore = (await runningTasks()).get(victimAddr);
    assert.ok(taskBefore, `${victimAddr} runs as a Mesos task`);
    const killed = onHost(info, victim.host, `pkill -9 -f '[r]edis-server ${victimAddr}'`);
    assert.equal(killed.code, 0, killed.stderr);
    await until(async () => {
      const t = (await runningTasks()).get(victimAddr);
      return !!t && t !== taskBefore && (await check()).code === 0;
    }, 120_000);
    const relaunched = (await runningTasks()).get(victimAddr);
    assert.ok(relaunched && relaunched !== taskBefore, `${victimAddr} relaunched as a new Mesos task: ${sched.out().slice(-3000)}`);
    assert.equal(((await records()).find((i) => i.id === victim.id) ?? {}).host, victim.host, 'relaunched on its own host, same identity');
    c = await check();
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.ok((await state()).frameworks.find((f) => f.name === 'ovl')!.completed_tasks.some((x) => x.id === taskBefore && x.state === 'TASK_FAILED'), 'the killed instance\'s task failed');
    await agree('after the relaunch');

    // A named restart and a rolling restart (with a live writer) go through Mesos: KILL, LAUNCH.
    const named = (await records()).find((i) => i.role === 'replica')!;
    const namedAddr = `${named.address}:${named.port}`;
    const namedBefore = (await runningTasks()).get(namedAddr);
    const restarted = await ovlAsync(['cluster', 'restart', 'onmesos', '--instance', namedAddr, '-i', inv]);
    assert.equal(restarted.code, 0, restarted.stdout + restarted.stderr);
    assert.notEqual((await runningTasks()).get(namedAddr), namedBefore);
    assert.ok((await state()).frameworks.find((f) => f.name === 'ovl')!.completed_tasks.some((x) => x.id === namedBefore && x.state === 'TASK_KILLED'), 'the restart killed its task');
    await agree('after restart --instance');

    const before = await runningTasks();
    const seed = (await records())[0]!;
    const client = new Cluster([{ host: seed.address, port: seed.port }]);
    try {
      const w = liveWriter(client, 'live');
      const roll = await ovlAsync(['cluster', 'restart', 'onmesos', '--rolling', '-i', inv]);
      assert.equal(roll.code, 0, roll.stdout + roll.stderr + sandboxes(15));
      await w.stop();
      assert.deepEqual(await w.lost(), [], 'every acknowledged write is there');
    } finally {
      client.disconnect();
    }
    const after = await runningTasks();
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    for (const [addr, id] of after) assert.notEqual(id, before.get(addr), `${addr} restarted as a new Mesos task`);
    c = await check();
    assert.equal(c.code, 0, c.stdout + c.stderr);
    await agree('after the rolling restart');

    // The leading master killed (with its supervisor: it stays down) while a create launches: the
    // scheduler finds the next leader through ZooKeeper, fails over to the same framework there and
    // the create finishes, its instances launched once each.
    const fwId = (await state()).frameworks.find((f) => f.name === 'ovl')!.id;
    const leading = (await state()).leader!;
    const leaderHost = masters.find((m) => leading === `master@${m.address}:5050`)!;
    const second = ovl(['cluster', 'create', 'second', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '16mb', '-i', inv]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const secondTask = /^task (\S+):/m.exec(second.stdout)![1]!;
    const secondTasks = async () => ((await state()).frameworks.find((f) => f.name === 'ovl')?.tasks ?? []).filter((x) => x.name.startsWith('second '));
    await until(async () => (await secondTasks()).length > 0, 120_000);
    const launchedBefore = (await secondTasks()).length;
    assert.ok(launchedBefore > 0, 'the create launched its first task');
    const secondOf = () => withEtcd(endpoints, (e) => getTask(e, secondTask));
    assert.notEqual((await secondOf())?.state, 'done', 'the create is under way when the master dies');
    const pids = ['mesos-master.supervisor.pid', 'mesos-master.pid'].map((f) => `"$(cat /data/mesos/${f})"`).join(' ');
    const killedMaster = onHost(info, leaderHost.name, `kill -KILL ${pids}`);
    assert.equal(killedMaster.code, 0, killedMaster.stderr);
    await until(async () => ['done', 'failed'].includes((await secondOf())?.state ?? ''), 300_000);
    assert.equal((await secondOf())?.state, 'done', `${(await secondOf())?.error}\n${sched.out().slice(-3000)}`);
    const failedOver = await state();
    assert.notEqual(failedOver.leader, leading, 'another master leads');
    assert.match(sched.out(), new RegExp(`subscribed to ${failedOver.leader!.replace('master@', '').replace(/\./g, '\\.')} as framework ${fwId}`), 'the scheduler followed the new leader');
    const fw2 = failedOver.frameworks.filter((f) => f.name === 'ovl');
    assert.deepEqual(fw2.map((f) => [f.id, f.active]), [[fwId, true]], 'the same framework, on the new leader');
    const secondRunning = fw2[0]!.tasks.filter((x) => x.name.startsWith('second ') && x.state === 'TASK_RUNNING');
    assert.equal(secondRunning.length, 6, JSON.stringify(fw2[0]!.tasks));
    assert.deepEqual(fw2[0]!.completed_tasks.filter((x) => x.name.startsWith('second ')), [], `no launch failed or was repeated (${launchedBefore} launched before the kill)`);
    const c2 = await ovlAsync(['cluster', 'check', 'second', '-i', inv]);
    assert.equal(c2.code, 0, c2.stdout + c2.stderr);
    const delSecond = await ovlAsync(['cluster', 'delete', '--yes', 'second', '-i', inv]);
    assert.equal(delSecond.code, 0, delSecond.stdout + delSecond.stderr);
    await until(async () => (await secondTasks()).length === 0, 60_000);
    c = await check();
    assert.equal(c.code, 0, c.stdout + c.stderr);
    await agree('after the master failover');

    // A scale through Mesos: a replica more per shard launched as Mesos tasks, then taken away
    // again (killed through Mesos); Mesos and ovl agree after each.
    for (const [replicas, tasks] of [[2, 9], [1, 6]] as const) {
      const scaled = await ovlAsync(['cluster', 'scale', 'onmesos', '--replicas', String(replicas), '--wait', '-i', inv]);
      assert.equal(scaled.code, 0, scaled.stdout + scaled.stderr + sched.out().slice(-3000));
      await until(async () => (await runningTasks()).size === tasks, 30_000);
      assert.equal((await runningTasks()).size, tasks, `${tasks} tasks run after scale --replicas ${replicas}`);
      c = await check();
      assert.equal(c.code, 0, c.stdout + c.stderr);
      await agree(`after scale --replicas ${replicas}`);
    }

    // An agent lost for good (its daemon and instances gone): once the master removes it, its
    // instances are moved to other agents, never next to a member of their shard.
    const recs = await records();
    const lostHost = agents.find((h) => recs.some((i) => i.host === h) && recs.filter((i) => i.host === h).every((i) => i.role === 'replica')) ?? recs.find((i) => i.role === 'replica')!.host;
    const lostAddr = info.hosts.find((h) => h.name === lostHost)!.address;
    const gone = onHost(info, lostHost, `${stopScript({ name: 'mesos-agent', command: [], dir: '/data/mesos', log: '' }, false)}\npkill -9 -f '[r]edis-server ${lostAddr}:' ; true`);
    assert.equal(gone.code, 0, gone.stderr);
    await until(async () => {
      const now = await records();
      return now.length === 6 && now.every((i) => i.host !== lostHost && i.state === 'up') && (await runningTasks()).size === 6 && (await check()).code === 0;
    }, 240_000);
    const moved = await records();
    assert.deepEqual(moved.filter((i) => i.host === lostHost).map((i) => `${i.address}:${i.port}`), [], `nothing left on ${lostHost}: ${sched.out().slice(-3000)}`);
    for (const i of moved) for (const j of moved) if (i !== j && i.shard === j.shard) assert.notEqual(i.host, j.host, `shard ${i.shard} on one host`);
    c = await check();
    assert.equal(c.code, 0, c.stdout + c.stderr);
    await agree('after the agent was lost');

    const del = await ovlAsync(['cluster', 'delete', '--yes', 'onmesos', '-i', inv]);
    assert.equal(del.code, 0, del.stdout + del.stderr);
    // The executors report their instances' end to the master shortly after.
    await until(async () => (await runningTasks()).size === 0, 30_000);
    assert.deepEqual([...(await runningTasks()).keys()], [], 'no task runs after the delete');
    // Killed through Mesos (its executors stopped the instances), not failed under it.
    // Every task of the cluster but the one whose instance was killed and those of the lost agent.
    const ended = (await state()).frameworks.find((f) => f.name === 'ovl')!.completed_tasks.filter((x) => x.name.startsWith('onmesos ') && x.id !== taskBefore && !x.name.startsWith(`onmesos ${lostAddr}:`));
    assert.ok(ended.length >= 6, JSON.stringify(ended));
    assert.deepEqual([...new Set(ended.map((x) => x.state))], ['TASK_KILLED'], JSON.stringify(ended));
  } finally {
    for (const p of children) p.kill('SIGKILL');
    for (const name of ['onmesos', 'second']) ovl(['cluster', 'delete', '--yes', name, '-i', inv]);
    cleanMesos(info);
    rmSync(inv, { force: true });
  }
});
