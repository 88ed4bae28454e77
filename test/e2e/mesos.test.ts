// The Mesos components against the shared e2e fleet. Mesos itself cannot run here (not packaged for
// these machines), so: an inventory naming no Mesos binaries is refused before any host is
// contacted; and the runbooks run for real over SSH with STAND-INS for the binaries (small node
// scripts that answer the master's HTTP endpoints the runbooks wait for, and an agent that
// registers its flags with that master) to check files, flags, order and waits on real hosts.
// Rendered files for more layouts: test/unit/mesos-runbooks.test.ts.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stopScript } from '../../src/ops/service.js';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { bootstrapJson, fleet, onHost, ovl, total } from '../helpers/fleet.js';

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
const args = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => a.slice(2).split(/=(.*)/s).slice(0, 2)));
const me = JSON.stringify({ hostname: args.hostname, pid: 'slave(1)@' + args.ip + ':' + args.port, flags: args });
const register = () => http.request('http://${master}/master/slaves', { method: 'POST' }, (r) => r.resume()).on('error', () => setTimeout(register, 500)).end(me);
register();
setInterval(() => {}, 1 << 30);
`;

const MESOS_PATHS = '/data/mesos /data/lib/mesos /etc/mesos /etc/mesos-master /etc/mesos-slave /data/log/mesos/mesos-master.service.log /data/log/mesos/mesos-agent.service.log';

function cleanMesos(info: SandboxInfo): void {
  for (const h of info.hosts) {
    const stop = ['mesos-master', 'mesos-agent'].map((name) => stopScript({ name, command: [], dir: '/data/mesos', log: '' }, false)).join('\n');
    const zk = stopScript({ name: 'zookeeper', command: [], dir: '/data/zookeeper', log: '' }, false);
    const r = onHost(info, h.name, `${stop}\n${zk}\nrm -rf ${MESOS_PATHS} /data/zookeeper /data/log/zookeeper /data/var/ovl/pending/mesos-master.restart /data/var/ovl/pending/mesos-agent.restart /data/var/ovl/pending/zookeeper.restart`);
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
