// The monitoring components on the shared sandbox fleet over real SSH: node_exporter everywhere,
// redis_exporter on the cache hosts, Prometheus and Alertmanager on h1 with ovl's rules, and an
// `ovl scheduler --metrics` daemon. Three clusters (Redis Cluster; Redis with ACL users over TLS;
// memcache) created, and Prometheus's own API says each instance is up with ovl's labels, etcd's
// members have a leader, and the scheduler leads and judges the clusters healthy; an instance that
// stops answering is paged to a webhook this test serves, both by its exporter's series and by
// ovl's own check; a deleted cluster's targets go; `ovl monitoring sync` writes a removed target
// file again.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { bootstrapJson, fleet, onHost, ovl, ovlProcess, total, until, shownInstances } from '../helpers/fleet.js';

let info: SandboxInfo;
let inv: string;
let prom: string;
/** What Alertmanager posted to the webhook: each notification's alerts. */
const paged: { status: string; labels: Record<string, string>; at: number }[] = [];
let hook: Server;
let scheduler: ChildProcess | undefined;
const CLUSTERS = ['mon1', 'mon2', 'mon3'];

before(async () => {
  info = await fleet();
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      for (const a of (JSON.parse(body) as { alerts: { status: string; labels: Record<string, string> }[] }).alerts) paged.push({ ...a, at: Date.now() });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  inv = `${info.inventory}.monitoring.yml`;
  // The sandbox's inventory with the monitoring components, short intervals, and this test's webhook.
  writeFileSync(
    inv,
    readFileSync(info.inventory, 'utf8')
      .replace('  cache_ports:', `  prometheus_scrape_interval: 2s\n  alertmanager_group_wait: 1s\n  grafana_url: http://grafana.test:3000/\n  alertmanager_webhook_url: http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts\n  cache_ports:`)
      .replace('components: [data-layout, etcd, cache-binaries]', 'components: [data-layout, etcd, cache-binaries, node-exporter, redis-exporter, alertmanager, prometheus]')
      .replace('  cache-binaries: all', '  cache-binaries: all\n  node-exporter: all\n  redis-exporter: all\n  alertmanager: [h1]\n  prometheus: [h1]'),
  );
  copyFileSync(info.knownHosts, `${info.inventory}.monitoring.known_hosts`);
  prom = `${info.hosts.find((h) => h.name === 'h1')!.address}:9090`;
  for (const name of CLUSTERS) ovl(['cluster', 'delete', '--yes', name, '-i', inv]);
});

after(async () => {
  hook.close();
  if (scheduler && scheduler.exitCode === null && scheduler.signalCode === null) {
    scheduler.kill('SIGTERM');
    await new Promise((r) => scheduler!.once('exit', r));
  }
  for (const name of CLUSTERS) ovl(['cluster', 'delete', '--yes', name, '-i', inv]);
  rmSync(`${inv}.scheduler.log`, { force: true });
  rmSync(`${inv}.scheduler.err`, { force: true });
  rmSync(inv, { force: true });
  rmSync(`${info.inventory}.monitoring.known_hosts`, { force: true });
});

async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`http://${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  assert.equal(body.status, 'success');
  return body.data.result;
}

const instances = (name: string) => shownInstances(inv, name);

const targetsOnH1 = () => onHost(info, 'h1', 'cat /data/prometheus/targets/redis.json 2>/dev/null || echo missing').stdout;

test('bootstrap with monitoring: Prometheus scrapes every instance of every cluster with ovl\'s labels; targets follow deletes; sync repairs them', async () => {
  const first = bootstrapJson([inv]);
  assert.equal(first.code, 0, JSON.stringify(first.recap.hosts));
  const again = bootstrapJson([inv]);
  assert.equal(again.code, 0);
  assert.equal(total(again.recap, 'changed'), 0, 'a second run changes nothing');
  // Every host's node_exporter, and ovl's alert rules loaded.
  await until(async () => (await query('up{job="node"} == 1').catch(() => [])).length === info.hosts.length, 60_000);
  const rules = (await (await fetch(`http://${prom}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string }[] }[] } };
  assert.ok(rules.data.groups.flatMap((g) => g.rules.map((r) => r.name)).includes('RedisInstanceDown'));

  // The scheduler that runs the tasks from here on: it serves ovl's view and memcache's stats, and
  // checks every cluster every 5 s. Its output goes to a file (this test blocks in spawnSync).
  const log = openSync(`${inv}.scheduler.log`, 'w');
  const errLog = openSync(`${inv}.scheduler.err`, 'w');
  scheduler = ovlProcess(['scheduler', '--metrics', '127.0.0.1:0', '--check-every', '5', '--json', '-i', inv], ['ignore', log, errLog]);
  closeSync(log);
  closeSync(errLog);
  const schedLog = () => readFileSync(`${inv}.scheduler.log`, 'utf8') + readFileSync(`${inv}.scheduler.err`, 'utf8');
  await until(() => /metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(schedLog()) && /leader; picking up/.test(schedLog()), 60_000);
  const metricsAt = /metrics on http:\/\/(127\.0\.0\.1:\d+)\/metrics/.exec(schedLog())?.[1];
  assert.ok(metricsAt, schedLog());
  assert.match(schedLog(), /leader; picking up/, 'the daemon leads (and runs the creates below)');
  // --json: every line an object with its time and message, for a log shipper.
  for (const line of readFileSync(`${inv}.scheduler.log`, 'utf8').trim().split('\n')) {
    const e = JSON.parse(line) as { at: string; message: string };
    assert.ok(!Number.isNaN(Date.parse(e.at)) && e.message, line);
  }

  // mon2 has ACL users and TLS: its exporters log in as ovl's monitoring user, with a password from
  // a root-only file, over TLS checked against the Redis CA. mon3 is memcache, read through the scheduler.
  const specs = [
    ['mon1', ['--type', 'redis_cluster', '--masters', '3', '--replicas', '1']],
    ['mon2', ['--type', 'redis', '--masters', '1', '--replicas', '1', '--password-env', 'PW', '--tls']],
    ['mon3', ['--type', 'memcache', '--nodes', '2']],
  ] as const;
  for (const [name, args] of specs) {
    const r = ovl(['cluster', 'create', name, ...args, '--maxmemory', '16mb', '--wait', '-i', inv], { PW: 'mon2 app pw' });
    assert.equal(r.code, 0, r.stdout + r.stderr + schedLog());
  }
  const m2 = instances('mon2')[0]!;
  assert.equal(onHost(info, m2.host, 'stat -c %a /data/redis-exporter/passwords.json').stdout.trim(), '600');
  assert.match(onHost(info, m2.host, 'cat /data/redis-exporter/passwords.json').stdout, new RegExp(`"rediss://${m2.address.replace(/\./g, '\\.')}:${m2.port}"`));
  const want = [...instances('mon1').map((i) => ({ ...i, cluster: 'mon1' })), ...instances('mon2').map((i) => ({ ...i, cluster: 'mon2' }))];
  await until(async () => (await query('redis_up == 1').catch(() => [])).filter((s) => ['mon1', 'mon2'].includes(s.metric.cluster!)).length === want.length, 60_000);
  const up = (await query('redis_up')).filter((s) => ['mon1', 'mon2'].includes(s.metric.cluster!));
  for (const i of want) {
    const s = up.find((x) => x.metric.instance === `${i.address}:${i.port}`);
    assert.ok(s, `${i.address}:${i.port} is scraped`);
    assert.equal(s.value[1], '1');
    assert.deepEqual(
      { cluster: s.metric.cluster, role: s.metric.role, shard: s.metric.shard, host: s.metric.host, job: s.metric.job },
      { cluster: i.cluster, role: i.role, shard: String(i.shard), host: i.host, job: 'redis' },
    );
  }
  assert.ok(up.some((s) => s.metric.type === 'redis_cluster') && up.some((s) => s.metric.type === 'redis'));

  // The inventory names a Grafana: show links each Redis cluster's dashboard.
  assert.match(ovl(['cluster', 'show', 'mon1', '--no-probe', '-i', inv]).stdout, /^dashboard: http:\/\/grafana\.test:3000\/d\/ovl-redis\/ovl-redis\?var-cluster=mon1$/m);

  // memcache through the scheduler's /memcache, with the same labels.
  const m3 = instances('mon3');
  await until(async () => (await query('memcached_up{cluster="mon3"} == 1').catch(() => [])).length === m3.length, 60_000);
  const mup = await query('memcached_up{cluster="mon3"}');
  for (const i of m3) {
    const s = mup.find((x) => x.metric.instance === `${i.address}:${i.port}`);
    assert.ok(s, `${i.address}:${i.port} is scraped: ${JSON.stringify(mup)}`);
    assert.deepEqual({ v: s.value[1], job: s.metric.job, type: s.metric.type, host: s.metric.host, shard: s.metric.shard }, { v: '1', job: 'memcache', type: 'memcache', host: i.host, shard: String(i.shard) });
  }
  // etcd's members, each with a leader; the scheduler leads, and its checks found every cluster healthy.
  const etcdHosts = readFileSync(inv, 'utf8').match(/^  etcd: \[(.*)\]$/m)?.[1]?.split(',').map((h) => h.trim()) ?? [];
  assert.ok(etcdHosts.length > 0);
  await until(async () => (await query('etcd_server_has_leader == 1').catch(() => [])).length === etcdHosts.length, 60_000);
  assert.deepEqual((await query('etcd_server_has_leader == 1')).map((s) => s.metric.host).sort(), [...etcdHosts].sort());
  await until(async () => (await query(`ovl_scheduler_leader{instance="${metricsAt}"} == 1`).catch(() => [])).length === 1, 60_000);
  await until(async () => (await query('ovl_cluster_check_healthy{cluster=~"mon1|mon2|mon3"} == 1').catch(() => [])).length === 3, 60_000);
  const checked = await query('ovl_cluster_check_healthy{cluster=~"mon1|mon2|mon3"}');
  assert.deepEqual(checked.map((s) => `${s.metric.cluster} ${s.metric.type} ${s.value[1]}`).sort(), ['mon1 redis_cluster 1', 'mon2 redis 1', 'mon3 memcache 1']);
  assert.equal((await query('ovl_cluster_masters_without_remote_replica{cluster="mon1"}'))[0]?.value[1], '0');
  const series = Number((await query('count({job="redis",cluster="mon1"})'))[0]?.value[1]);
  const head = Number((await query(`prometheus_tsdb_head_series{instance="${prom}"}`))[0]?.value[1]);
  const rss = Number((await query(`process_resident_memory_bytes{job="prometheus"}`))[0]?.value[1]);
  console.log(`series: ${(series / instances('mon1').length).toFixed(0)} per Redis instance; Prometheus: ${head} head series, ${(rss / 2 ** 20).toFixed(0)} MiB resident`);

  // A replica stops answering (SIGSTOP: its supervisor does not start another): the page arrives
  // after the rule's `for` (1m), a scrape timeout, an evaluation and Alertmanager's group_wait.
  const victim = instances('mon1').find((i) => i.role === 'replica')!;
  const addr = `${victim.address}:${victim.port}`;
  const pid = onHost(info, victim.host, `cat /data/redis_cluster/${victim.port}/redis.pid`).stdout.trim();
  const stopped = Date.now();
  assert.equal(onHost(info, victim.host, `kill -STOP ${pid}`).code, 0);
  const firing = (name: string, match: (l: Record<string, string>) => boolean) => paged.some((a) => a.labels.alertname === name && match(a.labels) && a.status === 'firing');
  try {
    // Both pages while it stays stopped: its exporter's series, and ovl's own check of mon1
    // (every 5 s; the same 1m `for`).
    await until(() => firing('RedisInstanceDown', (l) => l.instance === addr) && firing('OvlClusterUnhealthy', (l) => l.cluster === 'mon1'), 120_000);
  } finally {
    onHost(info, victim.host, `kill -CONT ${pid}`);
  }
  const page = paged.find((a) => a.labels.alertname === 'RedisInstanceDown' && a.labels.instance === addr)!;
  assert.deepEqual({ cluster: page.labels.cluster, role: page.labels.role, host: page.labels.host, severity: page.labels.severity }, { cluster: 'mon1', role: 'replica', host: victim.host, severity: 'critical' });
  console.log(`paged ${((page.at - stopped) / 1000).toFixed(1)} s after the instance stopped answering (rule for: 60 s, scrape interval 2 s)`);
  assert.ok(page.at - stopped < 90_000);
  // (Clusters other tests left on the shared fleet are theirs to judge.)
  assert.ok(!paged.some((a) => a.labels.alertname === 'RedisInstanceDown' && ['mon1', 'mon2'].includes(a.labels.cluster!) && a.labels.instance !== addr), 'no other instance of these clusters was paged');
  const judged = paged.find((a) => a.labels.alertname === 'OvlClusterUnhealthy' && a.labels.cluster === 'mon1');
  assert.ok(judged, `ovl's check paged mon1: ${JSON.stringify(paged.map((a) => a.labels.alertname))}`);
  console.log(`ovl's check paged ${((judged.at - stopped) / 1000).toFixed(1)} s after the instance stopped answering (rule for: 60 s, checks every 5 s)`);
  await until(() => paged.some((a) => a.labels.instance === addr && a.status === 'resolved'), 60_000);

  // A deleted cluster's targets go; a removed target file comes back with `ovl monitoring sync`.
  assert.equal(ovl(['cluster', 'delete', '--yes', 'mon2', '-i', inv]).code, 0);
  // The scheduler writes the targets once the task is recorded done: a moment later.
  await until(() => !/mon2/.test(targetsOnH1()), 30_000);
  assert.doesNotMatch(targetsOnH1(), /mon2/);
  assert.match(targetsOnH1(), /"cluster": "mon1"/);
  assert.equal(onHost(info, 'h1', 'rm /data/prometheus/targets/redis.json').code, 0);
  const sync = ovl(['monitoring', 'sync', '-i', inv]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  assert.match(sync.stdout, /\d+ Redis targets?, 2 memcache targets on 1 of 1 Prometheus host/);
  const written = JSON.parse(targetsOnH1()) as { labels: { instance: string } }[];
  for (const i of instances('mon1')) assert.ok(written.some((g) => g.labels.instance === `${i.address}:${i.port}`), `${i.address}:${i.port} is a target again`);
});
