// ovl's own metrics and the memcache endpoint as Prometheus reads them: the scheduler's /metrics
// from a view of the fleet (tasks, checks, plans, certificates), memcached's stats from a real
// memcached on loopback, and the targets that send Prometheus to both.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkRecord } from '../../src/cluster/check-all.js';
import { waitHealthy } from '../../src/cluster/check.js';
import { place } from '../../src/cluster/placement.js';
import type { Task } from '../../src/cluster/task-store.js';
import type { Plan } from '../../src/cluster/types.js';
import { memcacheMetrics } from '../../src/monitoring/memcache-metrics.js';
import { parseListen, serveMetrics } from '../../src/monitoring/metrics-server.js';
import { mastersWithoutRemoteReplica, OvlMetrics, readCertificates } from '../../src/monitoring/ovl-metrics.js';
import { memcacheTargets, ovlTargets } from '../../src/monitoring/targets.js';
import { ensureCA } from '../../src/pki/fleet-pki.js';
import { LocalRig, loopbackHosts } from '../helpers/local-redis.js';
import { dashboardLink } from '../../src/commands/cluster.js';
import type { Inventory } from '../../src/inventory/types.js';

const NET = `127.9.${randomInt(1, 255)}`;
const capacity = loopbackHosts(3, NET, { from: 22000, to: 22009 });
const orders = place({ name: 'orders', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 16 }, capacity);
const pages = place({ name: 'pages', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 16 }, capacity);
const rig = new LocalRig();
const dir = mkdtempSync(join(tmpdir(), 'ovl-metrics-'));
after(async () => {
  await rig.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The value of one sample of the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

const task = (id: string, kind: Task['kind'], state: Task['state']) => ({ id, kind, state, cluster: 'orders', step: '', created: '', updated: '' }) as Task;

test("the leader's /metrics: tasks by kind and state, each cluster's last check, lonely masters, certificate ends; a waiting scheduler only says it waits", async () => {
  const m = new OvlMetrics();
  m.taskEnded(task('t1', 'create', 'done'), 12_000);
  m.taskEnded(task('t2', 'scale', 'failed'), 200_000);
  // orders: a master's replica moved onto its own host (a restart --move that had nowhere else).
  const m0 = orders.instances.find((i) => i.role === 'master')!;
  const lonely: Plan = { ...orders, cluster: 'lonely', instances: orders.instances.map((i) => (i.masterId === m0.id ? { ...i, host: m0.host } : i)) };
  const unhealthy = checkRecord({ healthy: false, problems: ['a', 'b'], nodes: [{ answered: false }, { answered: true }] as never, ms: 40 }, 'cli', { lastHealthy: '2026-12-01T00:00:00.000Z' } as never, new Date('2026-12-06T00:00:00Z'));
  const healthy = checkRecord({ healthy: true, problems: [], nodes: [{ answered: true }] as never, ms: 5 }, 's1', null, new Date('2026-12-06T00:00:10Z'));
  const text = await m.render({
    leader: true,
    tasks: [task('a', 'create', 'done'), task('b', 'create', 'running'), task('c', 'scale', 'pending'), task('d', 'create', 'done')],
    plans: [orders, lonely, pages],
    checks: new Map([['lonely', unhealthy], ['orders', healthy]]),
    certificates: [{ name: 'etcd-h1', notAfter: new Date('2027-01-01T00:00:00Z') }],
  });
  assert.equal(sample(text, 'ovl_scheduler_leader'), 1);
  assert.equal(sample(text, 'ovl_tasks', { kind: 'create', state: 'done' }), 2);
  assert.equal(sample(text, 'ovl_tasks', { kind: 'create', state: 'running' }), 1);
  assert.equal(sample(text, 'ovl_tasks', { kind: 'create', state: 'failed' }), 0);
  assert.equal(sample(text, 'ovl_tasks', { kind: 'scale', state: 'pending' }), 1);
  assert.equal(sample(text, 'ovl_task_duration_seconds_count', { kind: 'create', state: 'done' }), 1);
  assert.equal(sample(text, 'ovl_task_duration_seconds_bucket', { kind: 'scale', state: 'failed', le: '120' }), 0);
  assert.equal(sample(text, 'ovl_task_duration_seconds_bucket', { kind: 'scale', state: 'failed', le: '300' }), 1);
  assert.equal(sample(text, 'ovl_cluster_check_healthy', { cluster: 'lonely', type: 'redis_cluster' }), 0);
  assert.equal(sample(text, 'ovl_cluster_check_problems', { cluster: 'lonely' }), 2);
  assert.equal(sample(text, 'ovl_cluster_check_down_instances', { cluster: 'lonely' }), 1);
  assert.equal(sample(text, 'ovl_cluster_last_healthy_timestamp_seconds', { cluster: 'lonely' }), Date.parse('2026-12-01T00:00:00Z') / 1000);
  assert.equal(sample(text, 'ovl_cluster_check_healthy', { cluster: 'orders' }), 1);
  assert.equal(sample(text, 'ovl_cluster_check_timestamp_seconds', { cluster: 'orders' }), Date.parse('2026-12-06T00:00:10Z') / 1000);
  assert.equal(sample(text, 'ovl_cluster_check_healthy', { cluster: 'pages' }), undefined, 'never checked: no series');
  assert.equal(sample(text, 'ovl_cluster_masters_without_remote_replica', { cluster: 'lonely' }), 1);
  assert.equal(sample(text, 'ovl_cluster_masters_without_remote_replica', { cluster: 'orders' }), 0);
  assert.equal(sample(text, 'ovl_certificate_expiry_timestamp_seconds', { certificate: 'etcd-h1' }), Date.parse('2027-01-01T00:00:00Z') / 1000);

  // The next scrape of a waiting scheduler: no fleet series (the leader serves them), its own histogram stays.
  const waiting = await m.render({ leader: false, tasks: [], plans: [], checks: new Map(), certificates: [] });
  assert.equal(sample(waiting, 'ovl_scheduler_leader'), 0);
  assert.equal(sample(waiting, 'ovl_cluster_check_healthy', { cluster: 'lonely' }), undefined);
  assert.equal(sample(waiting, 'ovl_task_duration_seconds_count', { kind: 'create', state: 'done' }), 1);
});

test('a master counts as lonely only in a cluster planned with replicas', () => {
  assert.equal(mastersWithoutRemoteReplica(orders), 0);
  const noReplicas = place({ name: 'solo', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 0, maxmemoryMB: 16 }, capacity);
  assert.equal(mastersWithoutRemoteReplica(noReplicas), 0);
  assert.equal(mastersWithoutRemoteReplica(pages), 0);
});

test("the fleet's certificates: each *.crt of the PKI directory with its end date; no directory, none", async () => {
  await ensureCA(join(dir, 'pki'));
  mkdirSync(join(dir, 'pki', 'redis'));
  copyFileSync(join(dir, 'pki', 'ca.crt'), join(dir, 'pki', 'redis', 'h1.crt'));
  const certs = readCertificates(join(dir, 'pki'));
  assert.deepEqual(certs.map((c) => c.name), ['ca', 'redis/h1']);
  const years = (certs[0]!.notAfter.getTime() - Date.now()) / (365 * 86_400_000);
  assert.ok(years > 9 && years < 11, `a fresh CA ends in about ten years (${years.toFixed(1)})`);
  assert.deepEqual(readCertificates(join(dir, 'none')), []);
});

test('memcache stats as memcached_exporter names them, from a real memcached; 0 up when it stops answering', async () => {
  rig.start(pages);
  await waitHealthy(pages, { timeoutMs: 10_000 });
  const node = pages.instances[0]!;
  // One set, one hit, two misses.
  await new Promise<void>((resolve, reject) => {
    const s = connect(node.port, node.address, () => s.write('set k 0 0 1\r\nv\r\nget k\r\nget nope\r\nget nope2\r\nquit\r\n'));
    s.on('error', reject).on('close', () => resolve()).resume();
  });
  const text = await memcacheMetrics(node.address, node.port);
  assert.equal(sample(text, 'memcached_up'), 1);
  assert.equal(sample(text, 'memcached_commands_total', { command: 'get', status: 'hit' }), 1);
  assert.equal(sample(text, 'memcached_commands_total', { command: 'get', status: 'miss' }), 2);
  assert.equal(sample(text, 'memcached_commands_total', { command: 'set', status: 'hit' }), 1);
  assert.equal(sample(text, 'memcached_limit_bytes'), 16 * 1024 * 1024);
  assert.equal(sample(text, 'memcached_current_items'), 1);
  assert.equal(sample(text, 'memcached_version', { version: '1.6.18' }), 1);
  assert.ok(sample(text, 'memcached_current_connections')! >= 1);
  await rig.kill(node);
  const gone = await memcacheMetrics(node.address, node.port, 500);
  assert.equal(sample(gone, 'memcached_up'), 0);
  assert.equal(sample(gone, 'memcached_current_items'), undefined);
});

test('the endpoint serves /metrics and /memcache of known instances only; --metrics must name an address', async () => {
  const { server, address } = await serveMetrics(parseListen(`${NET}.9:0`), { ovl: async () => 'ovl_scheduler_leader 1\n', memcache: async (t) => (t === '10.0.0.1:7000' ? 'memcached_up 1\n' : undefined) }, () => {});
  try {
    const get = async (path: string) => {
      const r = await fetch(`http://${address}${path}`);
      return { code: r.status, type: r.headers.get('content-type'), body: await r.text() };
    };
    assert.deepEqual(await get('/metrics'), { code: 200, type: 'text/plain; version=0.0.4; charset=utf-8', body: 'ovl_scheduler_leader 1\n' });
    assert.equal((await get('/memcache?target=10.0.0.1:7000')).body, 'memcached_up 1\n');
    const other = await get('/memcache?target=192.0.2.1:11211');
    assert.equal(other.code, 404);
    assert.match(other.body, /not a memcache instance of this fleet/);
  } finally {
    server.close();
  }
  assert.throws(() => parseListen('0.0.0.0:9464'), /give the address Prometheus reaches this host at/);
  assert.throws(() => parseListen('h1:9464'), /is not ADDRESS:PORT/);
  assert.deepEqual(parseListen('10.20.0.5:9464'), { host: '10.20.0.5', port: 9464 });
});

test("memcache instances are scraped through the first running scheduler; none running, they are named; the schedulers' own targets", () => {
  const { groups, unscraped } = memcacheTargets([orders, pages], ['10.0.0.8:9464', '10.0.0.9:9464']);
  assert.deepEqual(unscraped, []);
  assert.deepEqual(
    groups,
    pages.instances.map((i) => ({ targets: ['10.0.0.8:9464'], labels: { __param_target: `${i.address}:${i.port}`, instance: `${i.address}:${i.port}`, cluster: 'pages', type: 'memcache', role: i.role, shard: String(i.shard), host: i.host } })),
  );
  assert.deepEqual(memcacheTargets([pages], []), { groups: [], unscraped: ['pages (memcache: scraped through ovl scheduler --metrics, and none runs)'] });
  assert.deepEqual(ovlTargets(['10.0.0.8:9464']), [{ targets: ['10.0.0.8:9464'], labels: {} }]);
});

test("show's dashboard link: the inventory's grafana_url, the shipped dashboard, the cluster as its variable; none for memcache or without a Grafana", () => {
  const inv = { vars: { grafana_url: 'https://grafana.example.com/' } } as unknown as Inventory;
  assert.equal(dashboardLink(inv, 'orders', 'redis_cluster'), 'https://grafana.example.com/d/ovl-redis/ovl-redis?var-cluster=orders');
  assert.equal(dashboardLink(inv, 'pages', 'memcache'), undefined);
  assert.equal(dashboardLink({ vars: {} } as unknown as Inventory, 'orders', 'redis'), undefined);
});

test('a check record counts what the check found and carries the last healthy time over', () => {
  const at = new Date('2026-12-06T01:00:00Z');
  const bad = checkRecord({ healthy: false, problems: ['x'], nodes: [{ answered: false }] as never, ms: 9 }, 'cli', null, at);
  assert.deepEqual(bad, { at: at.toISOString(), healthy: false, problems: 1, instances: 1, down: 1, ms: 9, lastHealthy: undefined, by: 'cli' });
  const good = checkRecord({ healthy: true, problems: [], nodes: [{ answered: true }] as never, ms: 3 }, 's1', bad, new Date('2026-12-06T01:00:30Z'));
  assert.equal(good.lastHealthy, '2026-12-06T01:00:30.000Z');
  assert.equal(checkRecord({ healthy: false, problems: [], nodes: [] as never, ms: 1 }, 's1', good, new Date('2026-12-06T01:01:00Z')).lastHealthy, good.lastHealthy);
});
