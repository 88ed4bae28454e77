// Inventory loading and validation: node --import tsx --test test/unit/inventory.test.ts
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { InventoryError, loadInventory, type Problem } from '../../src/inventory/load.js';
import { selectHosts } from '../../src/inventory/select.js';
import { redact } from '../../src/redact.js';
import { projectRoot } from '../../src/paths.js';
import { COMPONENTS } from '../../runbooks/components.js';
import { RUNBOOKS } from '../../runbooks/index.js';

const KNOWN = ['data-layout', 'etcd', 'cache-binaries', 'zookeeper', 'mesos-master', 'mesos-agent', 'node-exporter', 'redis-exporter', 'alertmanager', 'prometheus'];

// A temp dir with a fake key and fake binaries; relative paths in the inventories point here.
const dir = mkdtempSync(join(tmpdir(), 'ovl-inv-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'id_test'), 'not really a key\n');
mkdirSync(join(dir, 'bin'));
for (const b of ['etcd', 'etcdctl', 'redis-server', 'redis-cli', 'memcached']) writeFileSync(join(dir, 'bin', b), '');

// The valid base inventory. Tests replace whole lines by number, so the numbers below stay true.
const BASE = `vars:
  ssh:
    key: id_test
artifacts:
  etcd:
    - version: "3.4.23"
      files: { etcd: bin/etcd, etcdctl: bin/etcdctl }
  redis:
    - version: "7.0.15"
      files: { redis-server: bin/redis-server, redis-cli: bin/redis-cli }
hosts:
  - name: cache-01
    address: 10.20.0.11
  - name: cache-02
    address: 10.20.0.12
  - name: cache-03
    address: 10.20.0.13
components: [data-layout, etcd, cache-binaries]
server:
  data-layout: all
  etcd: [cache-01, cache-02, cache-03]
  cache-binaries: all
`;

/** BASE with lines replaced (1-based); a replacement may hold several lines (only safe at the end). */
function edit(lines: Record<number, string>): string {
  const out = BASE.split('\n');
  for (const [n, text] of Object.entries(lines)) out[Number(n) - 1] = text;
  return out.join('\n');
}

let seq = 0;
function write(text: string, name?: string): string {
  const file = join(dir, name ?? `inv-${++seq}.yml`);
  writeFileSync(file, text);
  return file;
}

/** Load `text` expecting an InventoryError; returns its problems. */
function problemsOf(text: string, checkLocalFiles = true): Problem[] {
  const file = write(text);
  try {
    loadInventory(file, { knownComponents: KNOWN, checkLocalFiles });
  } catch (e) {
    assert.ok(e instanceof InventoryError, `expected an InventoryError, got ${e}`);
    for (const p of e.problems) assert.equal(p.file, file);
    return e.problems;
  }
  assert.fail(`expected ${file} to be refused`);
}

/** Assert one problem mentions `message` and sits at line (and column). */
function expectProblem(
  problems: Problem[],
  want: { line: number; column?: number; message: string | RegExp; fix: string | RegExp },
): Problem {
  const matches = (s: string, m: string | RegExp) => (typeof m === 'string' ? s.includes(m) : m.test(s));
  const p = problems.find((x) => matches(x.message, want.message));
  assert.ok(p, `no problem matching ${want.message}; got:\n${problems.map((x) => `${x.line}:${x.column} ${x.message}`).join('\n')}`);
  assert.equal(p.line, want.line, `line of: ${p.message}`);
  if (want.column !== undefined) assert.equal(p.column, want.column, `column of: ${p.message}`);
  assert.ok(matches(p.fix, want.fix), `fix of "${p.message}" is "${p.fix}", expected ${want.fix}`);
  return p;
}

/** Column (1-based) of `needle` in line `n` of `text`. */
function col(text: string, n: number, needle: string): number {
  const i = text.split('\n')[n - 1]!.indexOf(needle);
  assert.ok(i >= 0, `${needle} not on line ${n}`);
  return i + 1;
}

test('the base inventory is valid', () => {
  const inv = loadInventory(write(BASE), { knownComponents: KNOWN });
  assert.deepEqual(inv.server.etcd, ['cache-01', 'cache-02', 'cache-03']);
});

test('unknown component, with a suggestion', () => {
  const t = edit({ 18: 'components: [data-layout, etcd, cache-binary]' });
  expectProblem(problemsOf(t), { line: 18, column: col(t, 18, 'cache-binary'), message: 'unknown component "cache-binary"', fix: 'did you mean `cache-binaries`?' });
});

test('server naming a host that is not in hosts', () => {
  const t = edit({ 21: '  etcd: [cache-01, cache-02, cache-07]' });
  expectProblem(problemsOf(t), {
    line: 21,
    column: col(t, 21, 'cache-07'),
    message: 'server.etcd names host "cache-07", which is not in `hosts`',
    fix: /hosts are: cache-01, cache-02, cache-03/,
  });
});

test('duplicate address', () => {
  const t = edit({ 15: '    address: 10.20.0.11' });
  expectProblem(problemsOf(t), { line: 15, column: 14, message: 'address 10.20.0.11 of host "cache-02" is already used by host "cache-01" (line 12)', fix: 'its own address' });
});

test('duplicate host name', () => {
  const t = edit({ 14: '  - name: cache-01' });
  expectProblem(problemsOf(t), { line: 14, column: 11, message: 'host "cache-01" is defined twice (first at line 12)', fix: 'unique name' });
});

test('bad YAML: unclosed bracket', () => {
  const ps = problemsOf(edit({ 18: 'components: [data-layout, etcd, cache-binaries' }));
  expectProblem(ps, { line: 19, column: 1, message: /YAML syntax error: .*end with a \]/, fix: 'every [ and { opened above is closed' });
});

test('bad YAML: bad indentation', () => {
  const ps = problemsOf(edit({ 13: '  address: 10.20.0.11' }));
  expectProblem(ps, { line: 13, column: 1, message: 'YAML syntax error: All mapping items must start at the same column', fix: 'same column, with spaces' });
});

test('bad YAML: duplicate key', () => {
  const ps = problemsOf(edit({ 22: '  etcd: all' }));
  expectProblem(ps, { line: 22, column: 3, message: 'Map keys must be unique', fix: 'two keys with the same name' });
});

test('wrong type: port "abc"', () => {
  const t = edit({ 2: '  ssh: { key: id_test, port: "abc" }', 3: '' });
  expectProblem(problemsOf(t), { line: 2, column: col(t, 2, '"abc"'), message: 'vars.ssh.port must be a number, got "abc"', fix: 'port number from 1 to 65535' });
});

test('wrong type: hosts is a string', () => {
  const t = edit({ 11: 'hosts: cache-01', 12: '', 13: '', 14: '', 15: '', 16: '', 17: '' });
  expectProblem(problemsOf(t), { line: 11, column: 8, message: 'hosts must be a list, got "cache-01"', fix: 'write hosts as a list' });
});

test('wrong type: a version YAML reads as a number', () => {
  const t = edit({ 9: '    - version: 7.0' });
  expectProblem(problemsOf(t), { line: 9, column: 16, message: 'artifacts.redis[0].version must be text, got 7.0 (YAML reads it as 7)', fix: 'quote it so YAML reads it as text, e.g. version: "7.0"' });
});

test('host names with shell metacharacters are refused, all of them reported', () => {
  const t = edit({ 12: '  - name: "cache-01; rm -rf /"', 14: '  - name: $(reboot)', 16: '  - name: "cache 03`id`"' });
  const ps = problemsOf(t);
  const fix = "use lower-case letters, digits and '-' (e.g. cache-01)";
  expectProblem(ps, { line: 12, column: 11, message: 'host "cache-01; rm -rf /" is not a valid name', fix });
  expectProblem(ps, { line: 14, column: 11, message: 'host "$(reboot)" is not a valid name', fix });
  expectProblem(ps, { line: 16, column: 11, message: 'host "cache 03`id`" is not a valid name', fix });
  // and the formatted message has one block per problem, in file order
  const file = join(dir, `inv-${seq}.yml`);
  const msg = (() => {
    try {
      loadInventory(file, { knownComponents: KNOWN });
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  })();
  assert.ok(msg.startsWith(`${file}:12:11: host "cache-01; rm -rf /" is not a valid name\n  fix: ${fix}\n`), msg);
});

test('a name with a newline or NUL', () => {
  const t = edit({ 12: '  - name: "cache-01\\nx"', 3: '    key: "id_test\\u0000"' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 12, column: 11, message: /host name "cache-01\\nx" contains a line break; it is not a valid name/, fix: 'cache-01' });
  expectProblem(ps, { line: 3, column: 10, message: 'contains a NUL byte', fix: 'one line' });
});

test('invalid address', () => {
  const ps = problemsOf(edit({ 13: '    address: 10.20.0.300', 15: '    address: "host;name"' }));
  expectProblem(ps, { line: 13, column: 14, message: 'address "10.20.0.300" of host "cache-01" is not a valid IPv4 address', fix: '10.20.0.11' });
  expectProblem(ps, { line: 15, column: 14, message: 'address "host;name" of host "cache-02" is not a valid address', fix: 'DNS name' });
});

test('unknown top-level key, with a suggestion', () => {
  const t = edit({ 18: 'compnents: [data-layout, etcd, cache-binaries]' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 18, column: 1, message: 'unknown top-level key `compnents`', fix: 'did you mean `components`?' });
  expectProblem(ps, { line: 1, column: 1, message: 'the inventory has no `components`', fix: 'add `components:`' });
});

test('unknown key inside a host, with a suggestion', () => {
  const t = edit({ 13: '    adress: 10.20.0.11', 15: '    address: 10.20.0.12\n    ssh: { prot: 2222 }' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 16, column: 12, message: 'unknown key `prot` in ssh of host "cache-02"', fix: 'did you mean `port`?' });
  expectProblem(ps, { line: 13, column: 5, message: 'unknown key `adress` in host "cache-01"', fix: 'did you mean `address`?' });
  expectProblem(ps, { line: 12, column: 5, message: 'host "cache-01" has no `address`', fix: 'add `address:`' });
});

test('etcd component without an etcd artifact', () => {
  const t = edit({ 5: '', 6: '', 7: '' });
  expectProblem(problemsOf(t), { line: 18, column: col(t, 18, 'etcd'), message: 'component etcd needs an etcd artifact', fix: 'etcd: [ { version: "3.4.23"' });
});

test('cache-binaries without redis or memcache artifacts', () => {
  const t = edit({ 8: '', 9: '', 10: '' });
  expectProblem(problemsOf(t), { line: 18, column: col(t, 18, 'cache-binaries'), message: 'needs a redis or memcache artifact', fix: 'redis: [' });
});

test('bad version string', () => {
  const t = edit({ 6: '    - version: "3.4.23; reboot"' });
  expectProblem(problemsOf(t), { line: 6, column: 16, message: 'etcd version "3.4.23; reboot" is not a valid version', fix: 'version: "3.4.23"' });
});

test('bad binary name and missing artifact file, with the resolved path', () => {
  const t = edit({ 7: '      files: { etcd: bin/etcd, "etcd ctl": bin/etcdctl, etcdutl: bin/etcdutl }' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 7, column: col(t, 7, '"etcd ctl"'), message: 'binary name "etcd ctl" of etcd 3.4.23 is not valid', fix: 'redis-server' });
  expectProblem(ps, { line: 7, column: col(t, 7, 'bin/etcdutl'), message: `file etcdutl of etcd 3.4.23 not found: ${join(dir, 'bin/etcdutl')}`, fix: `relative to the inventory's directory ${dir}` });
});

test('missing ssh key file, with the resolved path', () => {
  const t = edit({ 3: '    key: keys/id_missing' });
  expectProblem(problemsOf(t), {
    line: 3,
    column: 10,
    message: `ssh key (written "keys/id_missing") not found: ${join(dir, 'keys/id_missing')}`,
    fix: `ssh-keygen -t ed25519 -f ${join(dir, 'keys/id_missing')}`,
  });
  // checkLocalFiles: false skips it
  assert.doesNotThrow(() => loadInventory(write(t), { knownComponents: KNOWN, checkLocalFiles: false }));
});

test('no ssh key at all', () => {
  const t = edit({ 2: '  forks: 5', 3: '' });
  expectProblem(problemsOf(t), { line: 2, message: 'no ssh key for any host: `vars.ssh.key` is not set', fix: 'vars: { ssh: { key: ~/.ssh/ovl_fleet } }' });
});

test('port range reversed, and ports out of range', () => {
  const t = edit({ 2: '  cache_ports: { from: 7999, to: 7000 }', 3: '  ssh: { key: id_test, port: 70000 }' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 2, column: 16, message: 'vars.cache_ports is reversed: from 7999 is greater than to 7000', fix: 'cache_ports: { from: 7000, to: 7999 }' });
  expectProblem(ps, { line: 3, column: col(t, 3, '70000'), message: 'vars.ssh.port is 70000, which is not a port number', fix: '1 to 65535' });
});

test('cache_ports overlapping the etcd ports of an etcd host', () => {
  const t = edit({ 17: '    address: 10.20.0.13\n    vars: { cache_ports: "2000-3000" }' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 18, column: col(t, 18, '"2000-3000"'), message: 'cache_ports 2000-3000 of host "cache-03" contains its etcd_client_port 2379', fix: 'overlap' });
});

test("etcd's two ports equal on a host: named at the var that set it", () => {
  const t = edit({ 15: '    address: 10.20.0.12\n    vars: { etcd_peer_port: 2379 }' });
  expectProblem(problemsOf(t), {
    line: 16,
    column: col(t, 16, '2379'),
    message: 'etcd_client_port and etcd_peer_port are both 2379 on host "cache-02"',
    fix: 'give etcd 3 different ports (defaults: 2379 and 2380 and 2381)',
  });
});

test("a monitoring component's port equal to etcd's on a host they share: named, with both components", () => {
  const t = edit({ 17: '    address: 10.20.0.13\n    vars: { node_exporter_port: 2379 }', 18: 'components: [data-layout, etcd, cache-binaries, node-exporter]', 22: '  cache-binaries: all\n  node-exporter: all' });
  expectProblem(problemsOf(t), {
    line: 18,
    column: col(t, 18, '2379'),
    message: 'etcd_client_port (etcd) and node_exporter_port (node-exporter) are both 2379 on host "cache-03"',
    fix: 'set node_exporter_port (or etcd_client_port) to a port no other component of "cache-03" listens on',
  });
});

test('every component has rules, and the rules name only vars the loader knows', async () => {
  const { COMPONENT_RULES, DECLARED_VARS } = await import('../../runbooks/settings/index.js');
  const { FLEET_VARS } = await import('../../src/inventory/defaults.js');
  for (const name of KNOWN) assert.ok(name in COMPONENT_RULES, `${name} declares its rules in runbooks/settings/`);
  for (const [name, rules] of Object.entries(COMPONENT_RULES)) {
    for (const v of rules.ports ?? []) assert.ok(FLEET_VARS.includes(v) || v in DECLARED_VARS, `${name}: port var ${v}`);
  }
});

test('an even number of zookeeper members', () => {
  const t = edit({ 18: 'components: [data-layout, etcd, cache-binaries, zookeeper]', 22: '  cache-binaries: all\n  zookeeper: [cache-01, cache-02]' });
  expectProblem(problemsOf(t), { line: 23, column: 14, message: 'ZooKeeper needs an odd number of members (1, 3 or 5); server.zookeeper lists 2', fix: 'add or remove one host' });
});

test('an even number of etcd members is refused, unless etcd_allow_even says it is meant', () => {
  const t = edit({ 21: '  etcd: [cache-01, cache-02]' });
  expectProblem(problemsOf(t), { line: 18, message: 'etcd needs an odd number of members (1, 3 or 5); server.etcd lists 2', fix: 'etcd_allow_even: true' });
  const allowed = edit({ 1: 'vars:\n  etcd_allow_even: true', 21: '  etcd: [cache-01, cache-02]' });
  assert.deepEqual(loadInventory(write(allowed), { knownComponents: KNOWN }).server.etcd, ['cache-01', 'cache-02']);
});

test('a component without a server entry, and a server entry without a component', () => {
  const t = edit({ 22: '  cache-binaris: all' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 18, column: col(t, 18, 'cache-binaries'), message: 'component "cache-binaries" has no entry in `server`', fix: 'cache-binaries: all' });
  expectProblem(ps, { line: 22, column: 3, message: 'server has an entry for "cache-binaris", which is not in `components`', fix: 'did you mean `cache-binaries`?' });
});

test('duplicate component, empty host list, a bare host name in server', () => {
  const t = edit({ 18: 'components: [data-layout, etcd, cache-binaries, etcd]', 20: '  data-layout: cache-01', 21: '  etcd: []' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 18, column: col(t, 18, 'etcd]'), message: 'component "etcd" is listed twice', fix: 'list each component once' });
  expectProblem(ps, { line: 20, column: 16, message: 'server.data-layout must be `all` or a list of host names, got "cache-01"', fix: 'data-layout: [cache-01]' });
  expectProblem(ps, { line: 21, column: 9, message: 'server.etcd lists no hosts', fix: 'name at least one host' });
});

test('mesos scheduler without mesos_master; enum typo', () => {
  expectProblem(problemsOf(BASE + 'scheduler: { resources: mesos }\n'), {
    line: 23,
    column: 12,
    message: 'scheduler.resources is mesos but scheduler.mesos_master is not set',
    fix: 'mesos_master: "zk://10.20.0.11:2181,',
  });
  // The forms Mesos's own daemons take: zk://servers/path, or masters tried in turn.
  for (const good of ['zk://10.0.0.1:2181,zk-2.example:2181/mesos', '10.0.0.1:5050', 'm1.example:5050,10.0.0.2:5050']) {
    const inv = loadInventory(write(BASE + `scheduler: { resources: mesos, mesos_master: "${good}" }\n`), { knownComponents: KNOWN });
    assert.equal(inv.scheduler.mesos_master, good);
  }
  expectProblem(problemsOf(BASE + 'scheduler: { resources: mesos, mesos_master: "zk://10.0.0.1:2181" }\n'), {
    line: 23,
    message: 'scheduler.mesos_master "zk://10.0.0.1:2181": a zk:// address needs a path after the servers',
    fix: 'zk://10.20.0.11:2181,10.20.0.12:2181,10.20.0.13:2181/mesos',
  });
  expectProblem(problemsOf(BASE + 'scheduler: { resources: mesos, mesos_master: "10.0.0.1:5050,10.0.0.2" }\n'), {
    line: 23,
    message: 'scheduler.mesos_master "10.0.0.1:5050,10.0.0.2": it is neither host:port[,host:port...] nor zk://',
    fix: '"10.20.0.11:5050,10.20.0.12:5050"',
  });
  expectProblem(problemsOf(BASE + 'scheduler: { resources: mesos, mesos_master: "zk://10.0.0.1:99999/mesos" }\n'), {
    line: 23,
    message: /ZooKeeper servers "10\.0\.0\.1:99999" are not host:port/,
    fix: 'zk://',
  });
  expectProblem(problemsOf(BASE + 'scheduler: { resources: mezos }\n'), { line: 23, column: 25, message: 'scheduler.resources must be one of fleet, mesos, got "mezos"', fix: 'did you mean `mesos`?' });
});

test('a passphrase written where the env var name goes is not echoed', () => {
  const t = edit({ 3: '    key: id_test\n    passphrase_env: "hunter2 is my passphrase"' });
  const ps = problemsOf(t);
  const p = expectProblem(ps, { line: 4, column: 21, message: 'must be the NAME of an environment variable (value not shown)', fix: 'OVL_SSH_PASSPHRASE' });
  assert.ok(!p.message.includes('hunter2') && !p.fix.includes('hunter2'));
  // a numeric passphrase is a type error: still not echoed
  const q = expectProblem(problemsOf(edit({ 3: '    key: id_test\n    passphrase_env: 271828' })), {
    line: 4,
    column: 21,
    message: 'vars.ssh.passphrase_env must be text, got <redacted>',
    fix: 'never the passphrase itself',
  });
  assert.ok(!q.message.includes('271828') && !q.fix.includes('271828'));
});

test('a misspelt known var is refused, other vars pass through', () => {
  const t = edit({ 3: '    key: id_test\n  cache_prots: "7000-7100"\n  maxmemory_policy: allkeys-lru' });
  expectProblem(problemsOf(t), { line: 4, column: 3, message: 'unknown var `cache_prots` in vars', fix: 'did you mean `cache_ports`?' });
  const inv = loadInventory(write(edit({ 3: '    key: id_test\n  maxmemory_policy: allkeys-lru' })), { knownComponents: KNOWN });
  assert.equal(inv.hosts[0]!.vars.maxmemory_policy, 'allkeys-lru');
});

test('file missing, empty, or not a mapping', () => {
  const missing = join(dir, 'nope.yml');
  assert.throws(
    () => loadInventory(missing, { knownComponents: KNOWN }),
    (e: unknown) => {
      assert.ok(e instanceof InventoryError);
      assert.equal(e.problems[0]!.line, 0);
      assert.match(e.message, /nope\.yml: cannot read the inventory: no such file\n {2}fix: check the path/);
      return true;
    },
  );
  expectProblem(problemsOf(''), { line: 1, column: 1, message: 'the inventory is empty', fix: 'write a mapping with the keys vars, artifacts, hosts' });
  expectProblem(problemsOf('- a\n- b\n'), { line: 1, column: 1, message: 'the inventory must be a mapping, got a list', fix: 'write a mapping' });
});

test('the file path is reported as given', () => {
  const file = write(edit({ 14: '  - name: cache-01' }), 'relative.yml');
  const rel = relative(process.cwd(), file);
  try {
    loadInventory(rel, { knownComponents: KNOWN });
    assert.fail('expected a problem');
  } catch (e) {
    assert.ok((e as Error).message.startsWith(`${rel}:14:11: `));
  }
});

test('a valid inventory resolves: defaults, merged vars, `all` in host order, paths', () => {
  mkdirSync(join(dir, 'site'), { recursive: true });
  const text = `# comment
vars:
  ssh:
    key: ../id_test
    passphrase_env: OVL_TEST_PASSPHRASE
  cache_ports: "7000-7100"
  forks: 4
  redis_password: hunter2
  etcd_allow_even: true
artifacts:
  etcd:
    - version: "3.4.23"
      tarball: ../bin/etcd
      files: { etcd: etcd-v3.4.23-linux-amd64/etcd }
  memcache:
    - version: "1.6.18"
      files: { memcached: ../bin/memcached }
hosts:
  - name: cache-02
    address: 10.20.0.12
  - name: cache-01
    address: cache-01.example.internal
    ssh: { user: deploy, port: 2222 }
    vars:
      cache_ports: { from: 7200, to: 7300 }
      etcd_client_port: 12379
components: [data-layout, etcd, cache-binaries]
server:
  data-layout: all
  etcd: [cache-01, cache-02]
  cache-binaries: [cache-01]
`;
  const file = write(text, 'site/edge.yml');
  const inv = loadInventory(file, { knownComponents: KNOWN });
  assert.equal(inv.file, resolve(file));
  assert.deepEqual(inv.components, ['data-layout', 'etcd', 'cache-binaries']);
  assert.deepEqual(inv.server, { 'data-layout': ['cache-02', 'cache-01'], etcd: ['cache-02', 'cache-01'], 'cache-binaries': ['cache-01'] });
  assert.deepEqual(inv.vars, {
    cache_ports: { from: 7000, to: 7100 },
    etcd_client_port: 2379,
    etcd_peer_port: 2380,
    etcd_cluster_token: 'ovl-edge',
    zookeeper_client_port: 2181,
    forks: 4,
    redis_password: 'hunter2',
    etcd_allow_even: true,
  });
  const [h2, h1] = inv.hosts;
  assert.equal(h2!.name, 'cache-02');
  assert.equal(h2!.line, 19);
  assert.deepEqual(h2!.ssh, {
    user: 'root',
    port: 22,
    key: join(dir, 'id_test'),
    passphraseEnv: 'OVL_TEST_PASSPHRASE',
    knownHosts: join(dir, 'site', 'edge.known_hosts'),
  });
  assert.deepEqual(h2!.vars, inv.vars);
  assert.equal(h1!.address, 'cache-01.example.internal');
  assert.equal(h1!.line, 21);
  assert.deepEqual(h1!.ssh, { ...h2!.ssh, user: 'deploy', port: 2222 });
  assert.deepEqual(h1!.vars.cache_ports, { from: 7200, to: 7300 });
  assert.equal(h1!.vars.etcd_client_port, 12379);
  assert.equal(h1!.vars.forks, 4);
  assert.deepEqual(inv.artifacts, {
    etcd: [{ version: '3.4.23', files: { etcd: 'etcd-v3.4.23-linux-amd64/etcd' }, tarball: join(dir, 'bin', 'etcd') }],
    memcache: [{ version: '1.6.18', files: { memcached: join(dir, 'bin', 'memcached') } }],
  });
  assert.deepEqual(inv.scheduler, { resources: 'fleet' });
});

test('inventories/prod.yml loads (structure only: its key and binaries are not on this machine)', () => {
  const inv = loadInventory(join(projectRoot, 'inventories/prod.yml'), { knownComponents: KNOWN, checkLocalFiles: false });
  assert.deepEqual(
    inv.hosts.map((h) => [h.name, h.address]),
    [1, 2, 3, 4, 5, 6].map((n) => [`cache-0${n}`, `10.20.0.1${n}`]),
  );
  assert.deepEqual(inv.server.etcd, ['cache-01', 'cache-02', 'cache-03']);
  assert.equal(inv.server['data-layout']!.length, 6);
  assert.ok(inv.artifacts.etcd?.length && inv.artifacts.redis?.length);
  assert.equal(inv.hosts[5]!.ssh.port, 2222);
  assert.equal(inv.hosts[0]!.ssh.knownHosts, join(projectRoot, 'inventories', 'prod.known_hosts'));
});

test('selectHosts: --limit (names and globs), --only, unknown names', () => {
  const inv = loadInventory(join(projectRoot, 'inventories/prod.yml'), { knownComponents: KNOWN, checkLocalFiles: false });
  const all = selectHosts(inv, {});
  assert.deepEqual(all.components, ['data-layout', 'etcd', 'cache-binaries']);
  assert.equal(all.hosts.size, 6);

  const some = selectHosts(inv, { limit: ['cache-05', 'cache-02'] });
  assert.deepEqual([...some.hosts], ['cache-02', 'cache-05']);

  assert.deepEqual([...selectHosts(inv, { limit: ['cache-0*'] }).hosts].length, 6);
  assert.deepEqual([...selectHosts(inv, { limit: ['cache-0?', 'cache-01'] }).hosts].length, 6);

  const etcd = selectHosts(inv, { only: ['etcd,data-layout'] });
  assert.deepEqual(etcd.components, ['data-layout', 'etcd']); // deployment order
  assert.equal(etcd.hosts.size, 6);

  const onlyEtcd = selectHosts(inv, { only: ['etcd'], limit: ['cache-0*'] });
  assert.deepEqual([...onlyEtcd.hosts], ['cache-01', 'cache-02', 'cache-03']);

  assert.throws(() => selectHosts(inv, { limit: ['cache-07', 'cache-1*'] }), /--limit: no host matches "cache-07", "cache-1\*".*the hosts of .* are: cache-01, cache-02/);
  assert.throws(() => selectHosts(inv, { only: ['etc'] }), /--only: unknown component "etc" \(did you mean etcd\?\); the components of .* are: data-layout, etcd, cache-binaries/);
  assert.throws(() => selectHosts(inv, { only: ['etcd'], limit: ['cache-05'] }), /selects no host running etcd: etcd runs on cache-01, cache-02, cache-03/);
  // `--limit "$HOSTS"` with HOSTS empty: refused, not taken as every host.
  assert.throws(() => selectHosts(inv, { limit: [] }), /--limit: no host given/);
  assert.throws(() => selectHosts(inv, { only: [' , '] }), /--only: no component given; name at least one of: data-layout, etcd, cache-binaries/);
});

test('redact: secret-looking keys, but not ssh.key, etcd_cluster_token or *_env names', () => {
  const input = {
    vars: {
      ssh: { user: 'root', key: '~/.ssh/ovl_fleet', passphrase_env: 'OVL_SSH_PASSPHRASE' },
      etcd_cluster_token: 'ovl-prod',
      redis_password: 'hunter2',
      requirepass: { nested: 'x' },
      api_token: 'abc',
      aws_secret_access_key: 'def',
      tls: { key: '/etc/tls/key.pem' },
      cache_ports: { from: 7000, to: 7999 },
    },
    hosts: [{ name: 'cache-01', ssh: { key: '/k', passphraseEnv: 'P' }, vars: { masterauth_password: 'p' } }],
  };
  const out = redact(input) as typeof input;
  assert.deepEqual(out, {
    vars: {
      ssh: { user: 'root', key: '~/.ssh/ovl_fleet', passphrase_env: 'OVL_SSH_PASSPHRASE' },
      etcd_cluster_token: 'ovl-prod',
      redis_password: '<redacted>',
      requirepass: '<redacted>',
      api_token: '<redacted>',
      aws_secret_access_key: '<redacted>',
      tls: { key: '<redacted>' },
      cache_ports: { from: 7000, to: 7999 },
    },
    hosts: [{ name: 'cache-01', ssh: { key: '/k', passphraseEnv: 'P' }, vars: { masterauth_password: '<redacted>' } }],
  });
  assert.equal(input.vars.redis_password, 'hunter2', 'the input is not modified');
  assert.notEqual(out.vars.ssh, input.vars.ssh, 'a deep copy');
  assert.equal(redact('plain'), 'plain');
});

test('the component names inventories are checked against are exactly the runbooks, each under its own name', () => {
  assert.deepEqual(Object.keys(RUNBOOKS).sort(), [...COMPONENTS].sort());
  for (const [name, runbook] of Object.entries(RUNBOOKS)) assert.equal(runbook.name, name);
});

test("a runbook's vars are checked before any connection: a shell command where a path is expected, a heap size, a port", () => {
  const t = edit({
    3: '    key: id_test\n  zookeeper_java: "/usr/bin/java; touch /x"\n  zookeeper_heap: 2GB\n  mesos_agent_port: 70000',
  });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 4, column: col(t, 4, '"/usr/bin/java'), message: 'vars.zookeeper_java must be an absolute path of letters, digits and _ . / -, got "/usr/bin/java; touch /x"', fix: 'zookeeper_java: /usr/bin/java' });
  expectProblem(ps, { line: 5, column: col(t, 5, '2GB'), message: 'vars.zookeeper_heap must be a JVM size like "256m" or "1g", got "2GB"', fix: 'zookeeper_heap: "256m"' });
  expectProblem(ps, { line: 6, column: col(t, 6, '70000'), message: 'vars.mesos_agent_port must be a whole number from 1 to 65535, got 70000', fix: 'mesos_agent_port: 5051' });
});

test("a runbook's var set on one host is checked there, and a misspelt one is named", () => {
  const t = edit({ 13: '    address: 10.20.0.11\n    vars: { mesos_apt_repository: "deb http://repos.example/mesos bookworm main; reboot", zookeper_heap: 1g }' });
  const ps = problemsOf(t);
  expectProblem(ps, { line: 14, message: 'vars.mesos_apt_repository of host "cache-01" must be a sources.list line', fix: 'mesos_apt_repository: "deb http://repos.example/mesos bookworm main"' });
  expectProblem(ps, { line: 14, message: 'unknown var `zookeper_heap`', fix: 'did you mean `zookeeper_heap`?' });
});

test("valid runbook vars pass, and every var a runbook reads is declared with an example that passes its own rule", async () => {
  const t = edit({ 3: '    key: id_test\n  zookeeper_java: /opt/jdk/bin/java\n  zookeeper_heap: 512m\n  mesos_agent_cpus: 7.5' });
  loadInventory(write(t), { knownComponents: KNOWN, checkLocalFiles: true });
  const { DECLARED_VARS } = await import('../../runbooks/settings/index.js');
  const { parse } = await import('yaml');
  for (const [name, spec] of Object.entries(DECLARED_VARS)) assert.ok(spec.schema.safeParse(parse(spec.example)).success, `${name}: its example ${spec.example}`);
});
