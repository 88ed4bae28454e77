// The monitoring components on the shared sandbox fleet over real SSH: node_exporter everywhere,
// redis_exporter on the cache hosts, Prometheus and Alertmanager on h1 with ovl's rules; two clusters
// created and Prometheus's own API says redis_up == 1 for each of their instances with ovl's labels;
// an instance that stops answering is paged to a webhook this test serves; a deleted cluster's
// targets go; `ovl monitoring sync` writes a removed target file again.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { bootstrapJson, fleet, onHost, ovl, total, until, shownInstances } from '../helpers/fleet.js';

let info: SandboxInfo;
let inv: string;
let prom: string;
/** What Alertmanager posted to the webhook: each notification's alerts. */
const paged: { status: string; labels: Record<string, string>; at: number }[] = [];
let hook: Server;

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
      .replace('  cache_ports:', `  prometheus_scrape_interval: 2s\n  alertmanager_group_wait: 1s\n  alertmanager_webhook_url: http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts\n  cache_ports:`)
      .replace('components: [data-layout, etcd, cache-binaries]', 'components: [data-layout, etcd, cache-binaries, node-exporter, redis-exporter, alertmanager, prometheus]')
      .replace('  cache-binaries: all', '  cache-binaries: all\n  node-exporter: all\n  redis-exporter: all\n  alertmanager: [h1]\n  prometheus: [h1]'),
  );
  copyFileSync(info.knownHosts, `${info.inventory}.monitoring.known_hosts`);
  prom = `${info.hosts.find((h) => h.name === 'h1')!.address}:9090`;
  for (const name of ['mon1', 'mon2']) ovl(['cluster', 'delete', name, '-i', inv]);
});

after(() => {
  hook.close();
  for (const name of ['mon1', 'mon2']) ovl(['cluster', 'delete', name, '-i', inv]);
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

  // mon2 has ACL users: its exporters log in as ovl, with a password from a root-only file.
  for (const [name, args] of [['mon1', ['--type', 'redis_cluster', '--masters', '3', '--replicas', '1']], ['mon2', ['--type', 'redis', '--masters', '1', '--replicas', '1', '--password-env', 'PW']]] as const) {
    const r = ovl(['cluster', 'create', name, ...args, '--maxmemory', '16mb', '--wait', '-i', inv], { PW: 'mon2 app pw' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  const m2 = instances('mon2')[0]!;
  assert.equal(onHost(info, m2.host, 'stat -c %a /data/redis-exporter/passwords.json').stdout.trim(), '600');
  assert.match(onHost(info, m2.host, 'cat /data/redis-exporter/passwords.json').stdout, new RegExp(`"redis://${m2.address.replace(/\./g, '\\.')}:${m2.port}"`));
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

  // A replica stops answering (SIGSTOP: its supervisor does not start another): the page arrives
  // after the rule's `for` (1m), a scrape timeout, an evaluation and Alertmanager's group_wait.
  const victim = instances('mon1').find((i) => i.role === 'replica')!;
  const addr = `${victim.address}:${victim.port}`;
  const pid = onHost(info, victim.host, `cat /data/redis_cluster/${victim.port}/redis.pid`).stdout.trim();
  const stopped = Date.now();
  assert.equal(onHost(info, victim.host, `kill -STOP ${pid}`).code, 0);
  try {
    await until(() => paged.some((a) => a.labels.alertname === 'RedisInstanceDown' && a.labels.instance === addr && a.status === 'firing'), 120_000);
  } finally {
    onHost(info, victim.host, `kill -CONT ${pid}`);
  }
  const page = paged.find((a) => a.labels.alertname === 'RedisInstanceDown' && a.labels.instance === addr)!;
  assert.deepEqual({ cluster: page.labels.cluster, role: page.labels.role, host: page.labels.host, severity: page.labels.severity }, { cluster: 'mon1', role: 'replica', host: victim.host, severity: 'critical' });
  console.log(`paged ${((page.at - stopped) / 1000).toFixed(1)} s after the instance stopped answering (rule for: 60 s, scrape interval 2 s)`);
  assert.ok(page.at - stopped < 90_000);
  // (Clusters other tests left on the shared fleet are theirs to judge.)
  assert.ok(!paged.some((a) => a.labels.alertname === 'RedisInstanceDown' && ['mon1', 'mon2'].includes(a.labels.cluster!) && a.labels.instance !== addr), 'no other instance of these clusters was paged');
  await until(() => paged.some((a) => a.labels.instance === addr && a.status === 'resolved'), 60_000);

  // A deleted cluster's targets go; a removed target file comes back with `ovl monitoring sync`.
  assert.equal(ovl(['cluster', 'delete', 'mon2', '-i', inv]).code, 0);
  assert.doesNotMatch(targetsOnH1(), /mon2/);
  assert.match(targetsOnH1(), /"cluster": "mon1"/);
  assert.equal(onHost(info, 'h1', 'rm /data/prometheus/targets/redis.json').code, 0);
  const sync = ovl(['monitoring', 'sync', '-i', inv]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  assert.match(sync.stdout, /\d+ Redis targets? on 1 of 1 Prometheus host/);
  const written = JSON.parse(targetsOnH1()) as { labels: { instance: string } }[];
  for (const i of instances('mon1')) assert.ok(written.some((g) => g.labels.instance === `${i.address}:${i.port}`), `${i.address}:${i.port} is a target again`);
});
