// Prometheus's targets and config as ovl writes them (no host): every Redis instance through its
// host's redis_exporter with ovl's labels, in a stable order; the rendered prometheus.yml and the
// shipped rules accepted by promtool.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { place } from '../../src/cluster/placement.js';
import type { HostSpec } from '../../src/inventory/types.js';
import { exporterOf, nodeTargets, redisTargets, targetFile } from '../../src/monitoring/targets.js';
import { exporterPasswords, nodeExporterPort, redisExporterPort } from '../../src/monitoring/exporter.js';
import { redisTargetFile } from '../../src/monitoring/sync.js';
import type { ClusterAuth } from '../../src/cluster/auth.js';
import type { Inventory } from '../../src/inventory/types.js';
import { projectRoot } from '../../src/paths.js';
import { render } from '../../src/templates.js';
import { loopbackHosts } from '../helpers/local-redis.js';

const capacity = loopbackHosts(3, '10.0.0', { from: 7000, to: 7009 });
const hosts = capacity.map((h) => ({ name: h.name, address: h.address, vars: h.name === 'h3' ? { redis_exporter_port: 9200 } : {} })) as unknown as HostSpec[];
const orders = place({ name: 'orders', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 16 }, capacity);
const pages = place({ name: 'pages', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: 2, maxmemoryMB: 16 }, capacity);

test('redis targets: one per instance, through its own host\'s exporter, labelled as ovl knows it; memcache left out (the schedulers scrape it)', () => {
  const { groups, unscraped } = redisTargets([pages, orders], exporterOf(hosts, redisExporterPort));
  assert.deepEqual(unscraped, []);
  assert.equal(groups.length, orders.instances.length);
  for (const [k, i] of orders.instances.entries()) {
    assert.deepEqual(groups[k], {
      targets: [`${i.address}:${i.host === 'h3' ? 9200 : 9121}`],
      labels: { __param_target: `redis://${i.address}:${i.port}`, instance: `${i.address}:${i.port}`, cluster: 'orders', type: 'redis_cluster', role: i.role, shard: String(i.shard), host: i.host },
    });
  }
  // A host without an exporter is named, not silently skipped.
  const partial = redisTargets([orders], exporterOf(hosts.filter((h) => h.name !== 'h2'), redisExporterPort));
  assert.equal(partial.unscraped.length, orders.instances.filter((i) => i.host === 'h2').length);
  assert.match(partial.unscraped[0]!, /^orders 10\.0\.0\.2:\d+ \(h2 runs no redis-exporter\)$/);
  // The same fleet, the same bytes (a sync that changes nothing writes nothing).
  assert.equal(targetFile(redisTargets([orders, pages], exporterOf(hosts, redisExporterPort)).groups), targetFile(groups));
  assert.deepEqual(nodeTargets(hosts, exporterOf(hosts, nodeExporterPort)).map((g) => g.targets[0]), ['10.0.0.1:9100', '10.0.0.2:9100', '10.0.0.3:9100']);
});

test('exporters log in as the monitoring user to ACL clusters, over TLS (rediss://) where the cluster has it; requirepass clusters are named, not scraped with a wrong login', () => {
  const vault = { ...orders, cluster: 'vault' };
  const old = { ...orders, cluster: 'old' };
  const early = { ...orders, cluster: 'early' };
  const sec = { ...orders, cluster: 'sec', tls: true };
  const auths = new Map<string, ClusterAuth | undefined>([
    ['vault', { app: ['app'], admin: ['adm'], replica: 'rep', monitor: 'mon' }],
    ['early', { app: ['app'], admin: ['adm'], replica: 'rep' }],
    ['old', { app: ['legacy'] }],
    ['orders', undefined],
    ['sec', { app: ['app'], admin: ['adm'], replica: 'rep', monitor: 'smon' }],
  ]);
  const on1 = vault.instances.filter((i) => i.host === 'h1').map((i) => `redis://${i.address}:${i.port}`).sort();
  const sec1 = sec.instances.filter((i) => i.host === 'h1').map((i) => `rediss://${i.address}:${i.port}`);
  assert.deepEqual(JSON.parse(exporterPasswords('h1', [orders, vault, old, early, pages, sec], auths)), Object.fromEntries([...on1.map((a) => [a, 'mon']), ...sec1.map((a) => [a, 'smon'])].sort(([a], [b]) => a!.localeCompare(b!))));
  const inv = { hosts, server: { 'redis-exporter': hosts.map((h) => h.name) } } as unknown as Inventory;
  const { content, unscraped } = redisTargetFile(inv, { plans: [orders, vault, old, early, sec], auths, schedulers: [] });
  const groups = JSON.parse(content) as { labels: { cluster: string; __param_target: string } }[];
  assert.deepEqual([...new Set(groups.map((g) => g.labels.cluster))].sort(), ['orders', 'sec', 'vault']);
  assert.ok(groups.filter((g) => g.labels.cluster === 'sec').every((g) => g.labels.__param_target.startsWith('rediss://')));
  assert.ok(groups.filter((g) => g.labels.cluster !== 'sec').every((g) => g.labels.__param_target.startsWith('redis://')));
  assert.deepEqual(unscraped, ['old (one requirepass password (created before ACL users): not scraped)', 'early (no monitoring user (created before it): not scraped)']);
});

const dir = mkdtempSync(join(tmpdir(), 'ovl-prom-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('prometheus.yml as rendered, with the shipped rules, passes promtool check config', () => {
  mkdirSync(join(dir, 'rules'));
  copyFileSync(join(projectRoot, 'templates', 'prometheus', 'ovl.rules.yml'), join(dir, 'rules', 'ovl.rules.yml'));
  const etcd = [{ target: '10.0.0.1:2381', host: 'h1' }, { target: '10.0.0.2:2381', host: 'h2' }];
  const conf = render('prometheus/prometheus.yml.hbs', { host: 'h1', listen: '10.0.0.1:9090', scrapeInterval: '15s', rulesDir: join(dir, 'rules'), targetsDir: join(dir, 'targets'), alertmanagers: ['10.0.0.1:9093', '10.0.0.2:9093'], etcd });
  assert.match(conf, /targets: \["10\.0\.0\.1:9093", "10\.0\.0\.2:9093"\]/);
  assert.match(conf, /job_name: etcd\n[\s\S]*targets: \["10\.0\.0\.2:2381"\]\n\s*labels: \{ host: "h2" \}/);
  for (const job of ['redis', 'memcache', 'ovl', 'node']) assert.match(conf, new RegExp(`job_name: ${job}\\n`));
  writeFileSync(join(dir, 'prometheus.yml'), conf);
  const r = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
  if (r.error) throw new Error("promtool is missing (Debian's prometheus package): bash scripts/setup.sh installs it");
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: 18 rules found/);
});

test('alertmanager.yml as rendered, with and without a webhook, passes amtool check-config', () => {
  for (const webhook of ['http://127.0.0.1:8080/alerts', undefined]) {
    writeFileSync(join(dir, 'alertmanager.yml'), render('prometheus/alertmanager.yml.hbs', { host: 'h1', webhook, groupWait: '30s' }));
    const r = spawnSync('amtool', ['check-config', join(dir, 'alertmanager.yml')], { encoding: 'utf8' });
    if (r.error) throw new Error("amtool is missing (Debian's prometheus-alertmanager): bash scripts/setup.sh installs it");
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS[\s\S]*1 receivers/);
  }
});
