// `ovl bootstrap` against a real sandbox fleet over real SSH.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadFleet } from '../../src/inventory/fleet.js';
import { ensureCA, ensureLeaf, pkiDir } from '../../src/pki/fleet-pki.js';
import { memberRequest } from '../../src/pki/etcd-certs.js';
import { withEtcd } from '../../src/state/etcd.js';
import { tcpOpen } from '../../src/ops/wait.js';
import { DATA_LAYOUT } from '../../runbooks/data-layout.js';
import { sandboxStartHost, sandboxStopHost, type SandboxInfo } from '../../src/sandbox/sandbox.js';
import { bootstrapJson, etcdOf, fleet, FLEET, freshFleet, onHost, ovl, ovlAsync, ovlProcess, total } from '../helpers/fleet.js';
import { liveWriter } from '../helpers/live-writer.js';
import { getKey } from '../../src/state/etcd-http.js';
import { Redis } from 'ioredis';

const quiet = () => {};
const ETCD_HOSTS = ['h1', 'h2', 'h3'];

/** Every path under /data with its type, mode, size and mtime: what "changed nothing" means. */
function dataTree(info: SandboxInfo, host: string): string {
  const r = onHost(info, host, `find /data -printf '%p %y %m %s %T@\\n' | sort`);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function etcdPid(info: SandboxInfo, host: string): string {
  return onHost(info, host, 'cat /data/etcd/etcd.pid').stdout.trim();
}

/** Run ovl, counting every 25 ms how many of the members accept connections: the fewest seen. */
async function fewestUp(args: string[], members: string[]): Promise<{ code: number; fewest: number }> {
  const run = ovlProcess(args, 'ignore');
  const exited = new Promise<number>((r) => run.once('exit', (code) => r(code ?? -1)));
  let done = false;
  void exited.then(() => (done = true));
  let fewest = members.length;
  while (!done) {
    const up = (await Promise.all(members.map((a) => tcpOpen(a, 2379, 200)))).filter(Boolean).length;
    fewest = Math.min(fewest, up);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { code: await exited, fewest };
}

test('fresh bootstrap: every step ok or changed, a 3-member etcd answers on each member, capacity registered', async () => {
  const info = await freshFleet();
  const r = bootstrapJson([info.inventory]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(total(r.recap, 'failed'), 0);
  assert.ok(total(r.recap, 'changed') > 0);
  assert.deepEqual(new Set(r.recap.results.map((x) => x.status)), new Set(['changed', 'ok']));

  const members = info.hosts.filter((h) => ETCD_HOSTS.includes(h.name));
  const listed = await withEtcd(etcdOf(info.inventory, members.slice(0, 1)), (c) => c.cluster.memberList({}));
  assert.deepEqual(listed.members.map((m) => m.name).sort(), ETCD_HOSTS);
  for (const [i, m] of members.entries()) {
    await withEtcd(etcdOf(info.inventory, [m]), (c) => c.put(`/test/written-on-${i}`).value(`v${i}`).exec());
  }
  for (const m of members) {
    const got = await withEtcd(etcdOf(info.inventory, [m]), async (c) => Promise.all(members.map((_, i) => c.get(`/test/written-on-${i}`).string())));
    assert.deepEqual(got, members.map((_, i) => `v${i}`), `every write is readable at ${m.name}`);
  }
  const caps = await withEtcd(etcdOf(info.inventory), (c) => c.getAll().prefix('/overlord/fleet/hosts/').json());
  assert.deepEqual(Object.keys(caps).sort(), info.hosts.map((h) => `/overlord/fleet/hosts/${h.name}`).sort());
  const h1 = caps['/overlord/fleet/hosts/h1'] as { address: string; ports: { from: number }; versions: Record<string, string[]> };
  assert.equal(h1.address, info.hosts[0]!.address);
  assert.ok(h1.versions.redis?.length && h1.versions.memcache?.length);

  for (const h of info.hosts) {
    const bins = onHost(info, h.name, 'ls /data/lib/redis/*/bin /data/lib/memcache/*/bin; stat -c %a /data/log/executor /data/var/overlord/tmp');
    assert.match(bins.stdout, /redis-server/);
    assert.match(bins.stdout, /redis-cli/);
    assert.match(bins.stdout, /memcached/);
    assert.match(bins.stdout, /755\n755\n$/);
  }
});

test('second run changes nothing and says so', async () => {
  const info = await fleet();
  const pids = ETCD_HOSTS.map((h) => etcdPid(info, h));
  const r = ovl(['bootstrap', info.inventory]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /No changes: all \d+ host\(s\) already as the inventory says/);
  assert.doesNotMatch(r.stdout, / changed /);
  const j = bootstrapJson([info.inventory]);
  assert.equal(total(j.recap, 'changed'), 0);
  assert.deepEqual(ETCD_HOSTS.map((h) => etcdPid(info, h)), pids, 'etcd was not restarted');
});

test('etcd answers only over TLS with a client certificate of the fleet CA: curl and etcdctl without one get nothing', async () => {
  const info = await fleet();
  const pki = pkiDir(loadFleet(info.inventory));
  const h1 = info.hosts[0]!.address;
  const key = Buffer.from('/overlord/').toString('base64');
  const curl = (url: string, ...args: string[]) =>
    spawnSync('curl', ['-sS', '--max-time', '5', ...args, '-X', 'POST', '-d', JSON.stringify({ key }), `${url}/v3/kv/range`], { encoding: 'utf8' });
  const ca = ['--cacert', join(pki, 'ca.crt')];
  const mine = curl(`https://${h1}:2379`, ...ca, '--cert', join(pki, 'client.crt'), '--key', join(pki, 'client.key'));
  assert.equal(mine.status, 0, mine.stderr);
  assert.match(mine.stdout, /"header"/, 'the fleet client certificate is served');
  const plain = curl(`http://${h1}:2379`);
  assert.notEqual(plain.status, 0, 'a plain-HTTP request gets no answer');
  assert.equal(plain.stdout, '');
  const certless = curl(`https://${h1}:2379`, ...ca);
  assert.notEqual(certless.status, 0, 'a request without a client certificate is refused');
  assert.equal(certless.stdout, '');
  // A certificate from another CA, with the right names, is refused as well.
  const other = mkdtempSync(join(tmpdir(), 'ovl-other-ca-'));
  try {
    const otherCa = await ensureCA(other);
    await ensureLeaf(other, 'client', otherCa, { name: 'ovl', ips: [], dns: [], usage: 'client', days: 30 }, 1);
    const foreign = curl(`https://${h1}:2379`, ...ca, '--cert', join(other, 'client.crt'), '--key', join(other, 'client.key'));
    assert.notEqual(foreign.status, 0, 'a certificate from another CA is refused');
    assert.equal(foreign.stdout, '');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
  const etcdctl = (...args: string[]) =>
    spawnSync('etcdctl', [`--endpoints=https://${h1}:2379`, '--dial-timeout=3s', '--command-timeout=5s', ...args, 'get', '--prefix', '/overlord/'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
  const refused = etcdctl(`--cacert=${join(pki, 'ca.crt')}`);
  assert.notEqual(refused.status, 0, 'etcdctl without a client certificate is refused');
  assert.equal(refused.stdout, '');
  const allowed = etcdctl(`--cacert=${join(pki, 'ca.crt')}`, `--cert=${join(pki, 'client.crt')}`, `--key=${join(pki, 'client.key')}`);
  assert.equal(allowed.status, 0, allowed.stderr);
  assert.match(allowed.stdout, /\/overlord\/fleet\/hosts\/h1/);

  // The PKI directory missing on this machine: bootstrap makes no new CA for a running etcd.
  renameSync(pki, `${pki}.away`);
  try {
    const r = ovl(['bootstrap', info.inventory, '--only', 'etcd']);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stdout + r.stderr, /etcd runs on h1, h2, h3 but \S+ has no CA \(ca\.crt\).*Nothing was changed: copy that directory/);
    assert.equal(existsSync(pki), false, 'no CA was made');
  } finally {
    renameSync(`${pki}.away`, pki);
  }
});

test('a config change on every member restarts them one at a time: two of three always answer, each restarted once', async () => {
  const info = await fleet();
  const pids = ETCD_HOSTS.map((h) => etcdPid(info, h));
  for (const h of ETCD_HOSTS) assert.equal(onHost(info, h, `echo '# drift' >> /data/etcd/etcd.conf.yml`).code, 0);
  const members = ETCD_HOSTS.map((h) => info.hosts.find((x) => x.name === h)!.address);
  const { code, fewest } = await fewestUp(['bootstrap', info.inventory, '--only', 'etcd'], members);
  assert.equal(code, 0);
  assert.ok(fewest >= 2, `at one moment only ${fewest} of 3 etcd members answered`);
  ETCD_HOSTS.forEach((h, i) => assert.notEqual(etcdPid(info, h), pids[i], `${h} restarted`));
  assert.equal(total(bootstrapJson([info.inventory]).recap, 'changed'), 0);
});

test('certificates near their end are issued again and the members restart one at a time; --check shows the expiry dates', async () => {
  const info = await fleet();
  // The PKI directory's member certificates end in 10 days: within tls_renew_days (30).
  const inv = loadFleet(info.inventory);
  const dir = pkiDir(inv);
  const ca = await ensureCA(dir);
  for (const h of ETCD_HOSTS) {
    rmSync(join(dir, 'etcd', `${h}.crt`));
    await ensureLeaf(dir, `etcd/${h}`, ca, memberRequest(inv.hosts.find((x) => x.name === h)!, 10), 1);
  }
  const endOf = (h: string) => new Date(onHost(info, h, 'openssl x509 -in /data/etcd/tls/member.crt -noout -enddate').stdout.trim().replace('notAfter=', ''));
  const check = ovl(['bootstrap', info.inventory, '--only', 'etcd', '--check']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /etcd certificate \/data\/etcd\/tls\/member\.crt \(valid until 20\d\d-\d\d-\d\d\)/);
  const pids = ETCD_HOSTS.map((h) => etcdPid(info, h));
  const members = ETCD_HOSTS.map((h) => info.hosts.find((x) => x.name === h)!.address);
  const { code, fewest } = await fewestUp(['bootstrap', info.inventory, '--only', 'etcd'], members);
  assert.equal(code, 0);
  assert.ok(fewest >= 2, `at one moment only ${fewest} of 3 etcd members answered`);
  ETCD_HOSTS.forEach((h, i) => {
    assert.ok(endOf(h).getTime() > Date.now() + 800 * 86_400_000, `${h} has a renewed certificate (ends ${endOf(h).toISOString()})`);
    assert.notEqual(etcdPid(info, h), pids[i], `${h} restarted`);
  });
  assert.equal(total(bootstrapJson([info.inventory, '--only', 'etcd']).recap, 'changed'), 0);
  assert.equal((await withEtcd(etcdOf(info.inventory), (c) => c.cluster.memberList({}))).members.length, 3);
});

test('a config change restarts etcd exactly once; a restart owed by a failed run happens on the next run', async () => {
  const info = await fleet();
  const before = etcdPid(info, 'h1');
  assert.equal(onHost(info, 'h1', `echo '# drift' >> /data/etcd/etcd.conf.yml`).code, 0);
  const r = bootstrapJson([info.inventory]);
  assert.equal(r.code, 0);
  const restarts = r.recap.results.filter((x) => x.title.startsWith('handler: restart etcd') && x.status === 'changed');
  assert.deepEqual(restarts.map((x) => x.host), ['h1']);
  const afterFirst = etcdPid(info, 'h1');
  assert.notEqual(afterFirst, before);
  assert.equal(total(bootstrapJson([info.inventory]).recap, 'changed'), 0, 'no second restart');
  assert.equal(etcdPid(info, 'h1'), afterFirst);

  // The run fails after the config changed (the supervisor script's path is blocked):
  // the restart is owed, and the next run pays it.
  assert.equal(onHost(info, 'h2', `echo '# drift' >> /data/etcd/etcd.conf.yml && rm /data/etcd/etcd.supervise.sh && mkdir /data/etcd/etcd.supervise.sh`).code, 0);
  const h2before = etcdPid(info, 'h2');
  const failed = bootstrapJson([info.inventory, '--only', 'etcd']);
  assert.notEqual(failed.code, 0);
  assert.equal(failed.recap.hosts.find((h) => h.host === 'h2')!.failed, 1);
  assert.equal(etcdPid(info, 'h2'), h2before, 'not restarted by the failed run');
  assert.equal(onHost(info, 'h2', 'rmdir /data/etcd/etcd.supervise.sh').code, 0);
  const healed = bootstrapJson([info.inventory, '--only', 'etcd']);
  assert.equal(healed.code, 0);
  const owed = healed.recap.results.filter((x) => x.host === 'h2' && x.title.startsWith('handler: restart etcd'));
  assert.equal(owed.length, 1);
  assert.equal(owed[0]!.status, 'changed');
  assert.notEqual(etcdPid(info, 'h2'), h2before);
  assert.equal(total(bootstrapJson([info.inventory]).recap, 'changed'), 0);
  // Nothing to change: exit 0 with --detailed-exitcode.
  const settled = ovl(['bootstrap', info.inventory, '--check', '--detailed-exitcode']);
  assert.equal(settled.code, 0, settled.stdout + settled.stderr);
});

test('--check on a fresh fleet lists the planned changes with diffs and changes nothing on any host', async () => {
  const info = await freshFleet();
  const before = info.hosts.map((h) => dataTree(info, h.name));
  const r = bootstrapJson([info.inventory, '--check']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.recap.check, true);
  for (const h of info.hosts) {
    const tree = r.recap.results.find((x) => x.host === h.name && x.title.startsWith('the /data tree'));
    assert.equal(tree?.status, 'changed', `${h.name}: the /data tree is planned`);
    for (const d of DATA_LAYOUT) assert.ok(tree!.reason.includes(d), `${h.name}: ${d} would be created`);
  }
  const conf = r.recap.results.find((x) => x.host === 'h1' && x.title.includes('etcd.conf.yml'));
  assert.ok(conf?.diff?.includes('+initial-cluster-state: new'), 'the config diff is shown');
  assert.ok(conf?.diff?.includes('+  client-cert-auth: true'), 'etcd is planned with mutual TLS');
  const key = r.recap.results.find((x) => x.host === 'h1' && x.title === 'file /data/etcd/tls/member.key');
  assert.equal(key?.diff, '(secret content not shown)');
  assert.doesNotMatch(r.stdout, /PRIVATE KEY|BEGIN CERTIFICATE/, 'no key or certificate content in the output');
  assert.deepEqual(info.hosts.map((h) => dataTree(info, h.name)), before);
  assert.equal(await tcpOpen(info.hosts[0]!.address, 2379), false, 'no etcd was started');
  // For a pipeline: changes pending exit 2 with --detailed-exitcode (and still change nothing).
  const detailed = ovl(['bootstrap', info.inventory, '--check', '--detailed-exitcode', '--only', 'data-layout']);
  assert.equal(detailed.code, 2, detailed.stdout + detailed.stderr);
  assert.deepEqual(info.hosts.map((h) => dataTree(info, h.name)), before);
});

test('a fleet whose etcd runs plain HTTP moves to TLS member by member: etcd keeps a quorum and a cluster keeps serving throughout', async (t) => {
  const info = await freshFleet();
  const plainInv = `${info.inventory}.plain.yml`;
  t.after(async () => {
    rmSync(plainInv, { force: true });
    rmSync(`${info.inventory}.plain.known_hosts`, { force: true });
    await freshFleet(); // the next tests start from hosts without etcd
  });
  writeFileSync(plainInv, readFileSync(info.inventory, 'utf8').replace('  cache_ports:', '  etcd_tls: false\n  cache_ports:'));
  copyFileSync(info.knownHosts, `${info.inventory}.plain.known_hosts`);
  const plain = bootstrapJson([plainInv, '--only', 'data-layout,etcd,cache-binaries']);
  assert.equal(plain.code, 0, JSON.stringify(plain.recap.hosts));
  const conf = onHost(info, 'h1', 'cat /data/etcd/etcd.conf.yml').stdout;
  assert.match(conf, /listen-client-urls: http:\/\//);
  assert.doesNotMatch(conf, /client-cert-auth/);
  const made = ovl(['cluster', 'create', 'moving', '--type', 'redis', '--masters', '1', '--replicas', '1', '--maxmemory', '16mb', '--wait', '-i', plainInv]);
  assert.equal(made.code, 0, made.stdout + made.stderr);

  // --check says what would happen, and changes nothing.
  const pids = ETCD_HOSTS.map((h) => etcdPid(info, h));
  const check = ovl(['bootstrap', info.inventory, '--only', 'etcd', '--check']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /etcd over mutual TLS \(would be from plain HTTP to mutual TLS, one member at a time/);
  assert.deepEqual(ETCD_HOSTS.map((h) => etcdPid(info, h)), pids, '--check restarted nothing');

  // While it moves: a Redis client writes, and etcd is read every 50 ms through any member, plain or TLS.
  const tlsAccess = etcdOf(info.inventory);
  const anyMember = { ...tlsAccess, endpoints: [...tlsAccess.endpoints, ...tlsAccess.endpoints.map((u) => u.replace('https:', 'http:'))] };
  const planKey = '/overlord/clusters/moving/plan';
  const [m] = (JSON.parse(ovl(['cluster', 'show', 'moving', '--json', '--no-probe', '-i', plainInv]).stdout) as { instances: { address: string; port: number; role: string }[] }).instances.filter((i) => i.role === 'master');
  const redis = new Redis({ host: m!.address, port: m!.port });
  const w = liveWriter(redis, 'tlsmove');
  let reads = 0;
  const missed: string[] = [];
  let stop = false;
  const monitor = (async () => {
    while (!stop) {
      const t0 = Date.now();
      await getKey(anyMember, planKey, 1000).then((v) => (v ? reads++ : missed.push('plan key empty')), (e: Error) => missed.push(e.message));
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (Date.now() - t0))));
    }
  })();
  let r;
  try {
    r = await ovlAsync(['bootstrap', info.inventory, '--only', 'etcd']);
  } finally {
    stop = true;
    await monitor;
    await w.stop();
  }
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /etcd moved from plain HTTP to mutual TLS, one member at a time, the leader last: .*\(9 restarts in 3 rounds/);
  assert.deepEqual(missed, [], 'etcd answered every read during the move');
  assert.ok(reads > 20, `${reads} reads`);
  assert.deepEqual(w.errors, []);
  assert.deepEqual(await w.lost(), [], 'every acknowledged write is there');
  redis.disconnect();

  // After: TLS only, every peer URL https, the cluster seen through TLS, and a re-run changes nothing.
  for (const h of info.hosts.filter((x) => ETCD_HOSTS.includes(x.name))) {
    const curl = spawnSync('curl', ['-s', '-m', '3', `http://${h.address}:2379/health`], { encoding: 'utf8' });
    assert.doesNotMatch(curl.stdout, /health/, `${h.name} serves no plain HTTP`);
  }
  const members = await withEtcd(tlsAccess, (c) => c.cluster.memberList({}));
  assert.equal(members.members.length, 3);
  for (const mm of members.members) assert.match(mm.peerURLs.join(','), /^https:\/\/[^,]+$/);
  assert.equal(ovl(['cluster', 'check', 'moving', '-i', info.inventory]).code, 0);
  const again = bootstrapJson([info.inventory, '--only', 'etcd']);
  assert.equal(again.code, 0);
  assert.equal(total(again.recap, 'changed'), 0, JSON.stringify(again.recap.hosts));
  assert.equal(ovl(['cluster', 'delete', '--yes', 'moving', '-i', info.inventory]).code, 0);
});

test('a host down: the others finish, the recap names it, exit code non-zero; once it is back a re-run converges', async () => {
  const info = await freshFleet();
  await sandboxStopHost(FLEET.name, 'h3', undefined, quiet);
  let r;
  try {
    r = bootstrapJson([info.inventory]);
  } finally {
    await sandboxStartHost(FLEET.name, 'h3', undefined, quiet);
  }
  assert.notEqual(r.code, 0);
  const h3 = r.recap.hosts.find((h) => h.host === 'h3')!;
  assert.equal(h3.unreachable, true);
  assert.equal(h3.failed, 1, 'one failure: the connection');
  assert.match(h3.error ?? '', /cannot connect to h3/);
  for (const h of r.recap.hosts.filter((x) => x.host !== 'h3')) assert.equal(h.failed, 0, `${h.host} finished`);

  const again = bootstrapJson([info.inventory]);
  assert.equal(again.code, 0, JSON.stringify(again.recap.hosts));
  assert.ok(again.recap.hosts.find((h) => h.host === 'h3')!.changed > 0);
  assert.equal(total(again.recap, 'changed'), again.recap.hosts.find((h) => h.host === 'h3')!.changed, 'only h3 had work left');
  const members = await withEtcd(etcdOf(info.inventory, [info.hosts[2]!]), (c) => c.cluster.memberList({}));
  assert.deepEqual(members.members.map((m) => m.name).sort(), ETCD_HOSTS);
  assert.equal(total(bootstrapJson([info.inventory]).recap, 'changed'), 0);
});

test('host keys: unknown keys need --accept-new-host-keys, a changed key stops that host', async () => {
  const info = await fleet();
  const saved = readFileSync(info.knownHosts, 'utf8');
  try {
    writeFileSync(info.knownHosts, saved.split('\n').filter((l) => !l.startsWith(`${info.hosts[0]!.address} `)).join('\n'));
    const unknown = bootstrapJson([info.inventory, '--only', 'data-layout']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.recap.hosts[0]!.error ?? '', /unknown host key for h1 .*SHA256:.*--accept-new-host-keys/);
    assert.equal(unknown.recap.hosts.filter((h) => h.failed).length, 1);

    const accepted = bootstrapJson([info.inventory, '--only', 'data-layout', '--accept-new-host-keys']);
    assert.equal(accepted.code, 0);
    assert.ok(readFileSync(info.knownHosts, 'utf8').includes(`${info.hosts[0]!.address} ssh-ed25519 `));

    // h2's entry replaced by h1's key: h2 now offers a key that differs from the recorded one.
    const lines = readFileSync(info.knownHosts, 'utf8').split('\n');
    const h1key = lines.find((l) => l.startsWith(`${info.hosts[0]!.address} `))!.split(' ').slice(1).join(' ');
    writeFileSync(info.knownHosts, lines.map((l) => (l.startsWith(`${info.hosts[1]!.address} `) ? `${info.hosts[1]!.address} ${h1key}` : l)).join('\n'));
    const changed = bootstrapJson([info.inventory, '--only', 'data-layout', '--accept-new-host-keys']);
    assert.notEqual(changed.code, 0);
    assert.match(changed.recap.hosts.find((h) => h.host === 'h2')!.error ?? '', /HOST KEY CHANGED for h2/);
  } finally {
    writeFileSync(info.knownHosts, saved);
  }
});

test('bad inventories are refused before any connection, with file:line and a fix', async (t) => {
  const info = await fleet();
  const good = readFileSync(info.inventory, 'utf8');
  const bad = `${info.inventory}.bad.yml`;
  // Also on failure: they sit beside the real inventories and would outlive the run.
  t.after(() => {
    for (const f of [bad, `${info.inventory}.bad.known_hosts`]) rmSync(f, { force: true });
  });
  const sshLogLines = () => info.hosts.map((h) => readFileSync(`${h.dir}/sshd.log`, 'utf8').split('\n').length);
  copyFileSync(info.knownHosts, `${info.inventory}.bad.known_hosts`);
  const cases: [string, string, RegExp][] = [
    ['unknown component', good.replace('components: [data-layout, etcd, cache-binaries]', 'components: [data-layout, etcd, cache-binaries, redis-proxy]'), /:\d+:\d+: .*redis-proxy/],
    ['shell metacharacters in a host name', good.replace('name: h2,', 'name: "h2;reboot",'), /h2;reboot.* not a valid/],
    ['duplicate address', good.replace(info.hosts[1]!.address + ' }', info.hosts[0]!.address + ' }'), /duplicate|already/i],
    ['bad YAML', good.replace('hosts:', 'hosts: [\n'), /:\d+:\d+:/],
    ['server names a missing host', good.replace('etcd: [h1, h2, h3]', 'etcd: [h1, h2, h9]'), /h9/],
  ];
  for (const [what, text, pattern] of cases) {
    writeFileSync(bad, text);
    const before = sshLogLines();
    const r = ovl(['bootstrap', bad]);
    assert.equal(r.code, 1, what);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `), `${what}: names file:line:col`);
    assert.match(r.stderr, pattern, what);
    assert.match(r.stderr, /fix: /, `${what}: says how to fix it`);
    assert.match(r.stderr, /Nothing was changed on any host/);
    assert.deepEqual(sshLogLines(), before, `${what}: no host was contacted`);
  }
});

test('an even etcd member count is refused unless allowed; a host added to server.etcd joins the running cluster', async (t) => {
  const info = await fleet();
  assert.equal(ovl(['bootstrap', info.inventory]).code, 0);
  const grown = `${info.inventory}.grown.yml`;
  t.after(() => {
    for (const f of [grown, `${info.inventory}.grown.known_hosts`]) rmSync(f, { force: true });
  });
  const four = readFileSync(info.inventory, 'utf8').replace('etcd: [h1, h2, h3]', 'etcd: [h1, h2, h3, h4]');
  writeFileSync(grown, four);
  copyFileSync(info.knownHosts, `${info.inventory}.grown.known_hosts`);
  const refused = ovl(['bootstrap', grown, '--only', 'etcd']);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /Nothing was changed on any host/);
  assert.match(refused.stderr, /grown\.yml:\d+:\d+: .*etcd needs an odd number of members.*lists 4/);
  assert.match(refused.stderr, /etcd_allow_even: true/);
  assert.equal(onHost(info, 'h4', 'test -e /data/etcd/etcd.conf.yml; echo $?').stdout.trim(), '1', 'nothing was written on h4');
  writeFileSync(grown, four.replace('  cache_ports:', '  etcd_allow_even: true\n  cache_ports:'));
  const r = bootstrapJson([grown, '--only', 'etcd']);
  assert.equal(r.code, 0, JSON.stringify(r.recap.hosts));
  assert.equal(r.recap.results.find((x) => x.host === 'h4' && x.title.includes('registered in the cluster'))?.status, 'changed');
  assert.deepEqual(r.recap.hosts.filter((h) => h.changed).map((h) => h.host), ['h4'], 'the running members are not touched');
  const h4 = etcdOf(grown, [info.hosts[3]!]);
  const members = await withEtcd(h4, (c) => c.cluster.memberList({}));
  assert.deepEqual(members.members.map((m) => m.name).sort(), ['h1', 'h2', 'h3', 'h4']);
  await withEtcd(h4, (c) => c.put('/test/on-h4').value('joined').exec());
  assert.equal(await withEtcd(etcdOf(grown, [info.hosts[0]!]), (c) => c.get('/test/on-h4').string()), 'joined');
  assert.equal(total(bootstrapJson([grown, '--only', 'etcd']).recap, 'changed'), 0);
});

test('a member dropped from server.etcd is drift (exit 2) until --prune removes it and stops its etcd', async () => {
  const info = await fleet();
  const h4 = etcdOf(info.inventory, [info.hosts[3]!]);
  const members = async () => (await withEtcd(etcdOf(info.inventory), (c) => c.cluster.memberList({}))).members.map((m) => m.name).sort();
  assert.deepEqual(await members(), ['h1', 'h2', 'h3', 'h4'], 'the test before this one made h4 a member');
  const drift = ovl(['bootstrap', info.inventory, '--only', 'etcd']);
  assert.equal(drift.code, 2, drift.stdout);
  assert.match(drift.stdout, /member h4 \(https:\/\/[\d.]+:2380\) runs but is not in server\.etcd: `ovl bootstrap --prune` removes it/);
  assert.deepEqual(await members(), ['h1', 'h2', 'h3', 'h4'], 'nothing removed without --prune');

  const pruned = bootstrapJson([info.inventory, '--only', 'etcd', '--prune']);
  assert.equal(pruned.code, 0, JSON.stringify(pruned.recap.hosts));
  assert.match(pruned.recap.results.find((x) => x.title === 'etcd members are those of server.etcd')!.reason, /^removed h4 /);
  assert.deepEqual(await members(), ['h1', 'h2', 'h3']);
  assert.equal(onHost(info, 'h4', 'test -s /data/etcd/etcd.pid; echo $?').stdout.trim(), '1', 'etcd on h4 is stopped');
  assert.match(onHost(info, 'h4', 'ls /data/etcd').stdout, /data\.removed-/, 'its data is kept aside');
  await assert.rejects(withEtcd(h4, (c) => c.get('/test/on-h4').string(), 2000));
  assert.equal(total(bootstrapJson([info.inventory, '--only', 'etcd']).recap, 'changed'), 0, 'a re-run has nothing to do');
});
