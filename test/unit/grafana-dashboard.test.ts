// The Grafana dashboard ovl ships (templates/grafana/ovl-redis.json): valid, laid out on Grafana's
// 24-column grid without overlaps, filtered by a `cluster` variable, and every metric its queries
// name served by Debian's redis_exporter scraping a real Redis Cluster (a master with a replica,
// keys written): a renamed metric would leave an empty panel that no JSON check catches.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Cluster } from 'ioredis';
import { waitHealthy } from '../../src/cluster/check.js';
import { place } from '../../src/cluster/placement.js';
import { projectRoot } from '../../src/paths.js';
import { pollUntil } from '../../src/ops/wait.js';
import { LocalRig, loopbackHosts } from '../helpers/local-redis.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(join(projectRoot, 'templates', 'grafana', 'ovl-redis.json'), 'utf8')) as {
  uid: string;
  title: string;
  templating: { list: { name: string; query: unknown }[] };
  panels: Panel[];
};
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, y: p.gridPos.y, expr: t.expr })));

// PromQL's functions, aggregations and keywords the dashboard uses; any other word is a metric.
const PROMQL = new Set(['sum', 'count', 'max', 'min', 'avg', 'rate', 'increase', 'by', 'on', 'without', 'ignoring', 'group_left', 'group_right', 'or', 'and', 'unless', 'vector']);
/** Series Prometheus makes itself for every target. */
const SYNTHETIC = new Set(['up']);

/** The metric names of a query: words outside label matchers, ranges and grouping clauses. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...new Set((bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter((w) => !PROMQL.has(w)))];
}

test('the dashboard: valid, a cluster variable, every panel queried and on the grid without overlaps', () => {
  assert.equal(dashboard.uid, 'ovl-redis');
  assert.ok(dashboard.templating.list.some((v) => v.name === 'cluster'), 'a cluster variable');
  const cells = new Map<string, string>();
  for (const p of dashboard.panels) {
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title}: inside the 24 columns`);
    if (p.type !== 'row') assert.ok(p.targets?.length, `${p.title}: queries something`);
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        const other = cells.get(`${x},${y}`);
        assert.equal(other, undefined, `${p.title} overlaps ${other}`);
        cells.set(`${x},${y}`, p.title);
      }
    }
  }
  assert.deepEqual(metricNames('sum by (cluster) (rate(redis_x_total{cluster=~"$c"}[1m])) / on (instance) group_right () redis_y'), ['redis_x_total', 'redis_y']);
  // Below the fleet row, every query follows the cluster variable.
  const fleetEnd = dashboard.panels.find((p) => p.type === 'row' && p.title === 'Cluster $cluster')!.gridPos.y;
  for (const q of queries.filter((x) => x.y > fleetEnd)) assert.match(q.expr, /cluster=~"\$cluster"/, `${q.panel}: follows the cluster variable`);
});

const NET = process.env.OVL_TEST_NET ?? `127.11.${randomInt(1, 255)}`;
const rig = new LocalRig();
let exporter: ChildProcess | undefined;
after(async () => {
  exporter?.kill('SIGKILL');
  await rig.cleanup(process.env.OVL_KEEP_RIG === '1');
});

test('every metric the dashboard queries is served by redis_exporter scraping a real Redis Cluster', async () => {
  if (spawnSync('prometheus-redis-exporter', ['--version']).error) throw new Error("prometheus-redis-exporter is missing (Debian's prometheus-redis-exporter): bash scripts/setup.sh installs it");
  const hosts = loopbackHosts(3, NET, { from: 21600, to: 21609 });
  const plan = place({ name: 'dash', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 16 }, hosts);
  rig.start(plan);
  assert.equal((await waitHealthy(plan, { timeoutMs: 30_000 })).healthy, true);
  const c = new Cluster([{ host: plan.instances[0]!.address, port: plan.instances[0]!.port }]);
  try {
    for (let k = 0; k < 200; k++) await c.set(`k${k}`, 'v', 'EX', 3600);
    await c.get('missing');
  } finally {
    c.disconnect();
  }
  const listen = `${NET}.1:${21610}`;
  exporter = spawn('prometheus-redis-exporter', ['--web.listen-address', listen, '--redis.addr='], { stdio: 'ignore' });
  const served = new Set<string>();
  const scrape = async (i: { address: string; port: number }) => {
    const r = await fetch(`http://${listen}/scrape?target=redis://${i.address}:${i.port}`);
    for (const line of (await r.text()).split('\n')) if (line && !line.startsWith('#')) served.add(line.split(/[{ ]/)[0]!);
  };
  await pollUntil(() => scrape(plan.instances[0]!).then(() => served.has('redis_up'), () => false), 10_000, 'redis_exporter to answer', 100);
  // Replicas report their offsets to their masters a second apart: scrape until they have.
  await pollUntil(async () => {
    for (const i of plan.instances) await scrape(i);
    return served.has('redis_connected_slave_offset_bytes');
  }, 10_000, 'the masters to list their replicas', 200);
  const missing = queries.flatMap((q) => metricNames(q.expr).filter((m) => !served.has(m) && !SYNTHETIC.has(m)).map((m) => `${q.panel}: ${m}`));
  assert.deepEqual(missing, [], `served: ${[...served].filter((m) => m.startsWith('redis_')).length} redis_* metrics`);
});
