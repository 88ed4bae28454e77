// The zookeeper component against the shared e2e fleet: real ZooKeeper (Debian's package) on h1..h3.
// The fleet is shared with the other e2e files: this file stops what it started and removes
// /data/zookeeper at the end, and never resets the fleet (that would stop their etcd too).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { stopScript } from '../../src/ops/service.js';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { fourLetter, ZK_CONFIG, ZK_DIR, ZK_LOG_DIR, zkMode, type ZkMode } from '../../runbooks/zookeeper.js';
import { bootstrapJson, fleet, onHost, total } from '../helpers/fleet.js';

const ZK = '/usr/share/zookeeper/bin/zkCli.sh';
let info: SandboxInfo;
let inventory: string;

/** An inventory of the e2e fleet with only data-layout and zookeeper on `members`. */
function writeInventory(members: string[], extraVars = ''): string {
  const hosts = info.hosts.map((h) => `  - { name: ${h.name}, address: ${h.address} }`).join('\n');
  writeFileSync(
    inventory,
    `# Written by test/e2e/zookeeper.test.ts\nvars:\n  ssh: { user: root, key: ${info.fleetKey}, known_hosts: ${info.knownHosts} }\n${extraVars}` +
      `hosts:\n${hosts}\ncomponents: [data-layout, zookeeper]\nserver:\n  data-layout: [${members.join(', ')}]\n  zookeeper: [${members.join(', ')}]\n`,
  );
  return inventory;
}

const address = (host: string) => info.hosts.find((h) => h.name === host)!.address;
const modes = (hosts: string[]): Promise<(ZkMode | null)[]> => Promise.all(hosts.map((h) => zkMode(address(h), 2181)));
const pid = (host: string) => onHost(info, host, `cat ${ZK_DIR}/zookeeper.pid`).stdout.trim();

/** Stop the supervised zookeeper (if any) and remove everything the component left on the host. */
function removeZookeeper(host: string): void {
  const spec = { name: 'zookeeper', command: [], dir: ZK_DIR, log: `${ZK_LOG_DIR}/zookeeper.log` };
  const r = onHost(info, host, `${stopScript(spec, false)}\nrm -rf ${ZK_DIR} ${ZK_LOG_DIR} /data/var/ovl/pending/zookeeper.restart`);
  assert.equal(r.code, 0, r.stderr);
}

function zkCli(host: string, ...args: string[]): string {
  const r = spawnSync(ZK, ['-server', `${address(host)}:2181`, ...args], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, `zkCli ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

before(async () => {
  info = await fleet();
  inventory = `${info.inventory}.zookeeper.yml`;
  for (const h of info.hosts) removeZookeeper(h.name);
});

after(() => {
  if (!info) return;
  for (const h of info.hosts) removeZookeeper(h.name);
  rmSync(inventory, { force: true });
});

test('one member runs standalone; growing to three keeps its data: one leader, two followers, a znode written before is read on another member', async () => {
  const one = bootstrapJson([writeInventory(['h1'])]);
  assert.equal(one.code, 0, JSON.stringify(one.recap.hosts) + one.stderr);
  assert.deepEqual(await modes(['h1']), ['standalone']);
  assert.match(zkCli('h1', 'create', '/ovl-e2e', 'written-on-h1'), /Created \/ovl-e2e/);

  const three = bootstrapJson([writeInventory(['h1', 'h2', 'h3'])]);
  assert.equal(three.code, 0, JSON.stringify(three.recap.hosts) + three.stderr);
  assert.equal(total(three.recap, 'failed'), 0);
  const roll = three.recap.results.filter((r) => r.title.startsWith('zookeeper (re)started in turn'));
  assert.deepEqual(
    roll.map((r) => [r.host, r.status, r.reason.replace(/ [\d.]+ s$/, '').split(' ')[0]]).sort(),
    [['h1', 'changed', 'restarted'], ['h2', 'changed', 'started'], ['h3', 'changed', 'started']],
    'the old member restarted with the new member list, the new ones started after it',
  );
  const m = await modes(['h1', 'h2', 'h3']);
  assert.equal(m.filter((x) => x === 'leader').length, 1, `modes: ${m.join(', ')}`);
  assert.equal(m.filter((x) => x === 'follower').length, 2, `modes: ${m.join(', ')}`);
  assert.match(zkCli('h2', 'get', '/ovl-e2e'), /^written-on-h1$/m, 'the znode written on the standalone member is read on h2');

  // Every member has its number, binds its own address only, and answers the whitelisted words.
  for (const [i, h] of ['h1', 'h2', 'h3'].entries()) {
    const r = onHost(info, h, `cat ${ZK_DIR}/data/myid; grep -E '^(clientPortAddress|server\\.)' ${ZK_CONFIG}`);
    assert.equal(r.stdout, `${i + 1}\nclientPortAddress=${address(h)}\n` + ['h1', 'h2', 'h3'].map((x, j) => `server.${j + 1}=${address(x)}:2888:3888\n`).join(''));
    assert.equal(await fourLetter(address(h), 2181, 'ruok'), 'imok');
  }
});

test('a second bootstrap changes nothing and restarts nothing', async () => {
  const pids = ['h1', 'h2', 'h3'].map(pid);
  const r = bootstrapJson([inventory]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(total(r.recap, 'changed'), 0, JSON.stringify(r.recap.results.filter((x) => x.status === 'changed')));
  assert.deepEqual(['h1', 'h2', 'h3'].map(pid), pids);
});

test('--check shows the zoo.cfg diff of a changed var and changes nothing', async () => {
  const before = ['h1', 'h2', 'h3'].map((h) => onHost(info, h, `cat ${ZK_CONFIG}`).stdout);
  const pids = ['h1', 'h2', 'h3'].map(pid);
  const r = bootstrapJson([writeInventory(['h1', 'h2', 'h3'], '  zookeeper_tick_time: 3000\n'), '--check']);
  assert.equal(r.code, 0, r.stderr);
  const diffs = r.recap.results.filter((x) => x.title.includes(ZK_CONFIG) && x.status === 'changed');
  assert.deepEqual(diffs.map((x) => x.host).sort(), ['h1', 'h2', 'h3']);
  for (const d of diffs) assert.match(d.diff ?? '', /^-tickTime=2000\n\+tickTime=3000$/m);
  assert.deepEqual(['h1', 'h2', 'h3'].map((h) => onHost(info, h, `cat ${ZK_CONFIG}`).stdout), before);
  assert.deepEqual(['h1', 'h2', 'h3'].map(pid), pids);
  writeInventory(['h1', 'h2', 'h3']);
});

test('a fresh three-member ensemble starts together and elects one leader', async () => {
  for (const h of ['h1', 'h2', 'h3']) removeZookeeper(h);
  const r = bootstrapJson([writeInventory(['h1', 'h2', 'h3'])]);
  assert.equal(r.code, 0, JSON.stringify(r.recap.hosts) + r.stderr);
  const started = r.recap.results.filter((x) => x.title === 'service zookeeper running' && x.status === 'changed');
  assert.deepEqual(started.map((x) => x.host).sort(), ['h1', 'h2', 'h3'], 'started in the hosts phase, not deferred');
  const m = await modes(['h1', 'h2', 'h3']);
  assert.deepEqual([...m].sort(), ['follower', 'follower', 'leader']);
  assert.equal(await zkMode(address('h4'), 2181), null, 'nothing on h4');
});
