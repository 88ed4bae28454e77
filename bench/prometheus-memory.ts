// Benchmark: Prometheus's memory for a fleet's Redis instances. A real redis-server (cluster mode,
// as ovl's redis_cluster instances) is scraped once by Debian's redis_exporter; a local endpoint
// then serves that answer for any number of targets, each its own instance with ovl's labels, and
// a real Prometheus (Debian's) scrapes them every 15 s. Its resident memory and head series are
// read after a few scrapes at two fleet sizes; the difference gives the bytes per instance, and
// the estimate for 1,000 instances.
//
//   npx tsx bench/prometheus-memory.ts [--small 10] [--large 1000] [--minutes 3]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as httpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, freePort, until, writeResult } from './local.js';
import { ensurePeers } from './peers.js';

const args = benchArgs();
const SMALL = Number(args.get('small') ?? 10);
const LARGE = Number(args.get('large') ?? 1000);
const MINUTES = Number(args.get('minutes') ?? 3);

ensurePeers('prometheus-memory', [
  { command: 'redis-server', pkg: 'redis-server' },
  { command: 'prometheus', pkg: 'prometheus' },
  { command: 'prometheus-redis-exporter', pkg: 'prometheus-redis-exporter' },
]);

async function query(prom: string, q: string): Promise<number> {
  const body = (await (await fetch(`http://${prom}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1] ?? NaN);
}

/** A Prometheus scraping `n` instances for MINUTES; its resident memory and head series at the end. */
async function measure(n: number, payloadPort: number, dir: string): Promise<{ n: number; rssMiB: number; heapMiB: number; series: number }> {
  const data = join(dir, `data-${n}`);
  const targets = Array.from({ length: n }, (_, i) => ({ targets: [`127.0.0.1:${payloadPort}`], labels: { __param_target: `redis://10.${(i >> 8) & 255}.${i & 255}.1:7000`, instance: `10.${(i >> 8) & 255}.${i & 255}.1:7000`, cluster: `c${Math.floor(i / 6)}`, type: 'redis_cluster', role: i % 2 ? 'replica' : 'master', shard: String(Math.floor(i / 2) % 3), host: `h${i % 100}` } }));
  writeFileSync(join(dir, `targets-${n}.json`), JSON.stringify(targets));
  const port = await freePort();
  // Prometheus scrapes itself too: its memory is read from its own series.
  writeFileSync(
    join(dir, `prometheus-${n}.yml`),
    `global: { scrape_interval: 15s }\nscrape_configs:\n  - job_name: prometheus\n    static_configs: [ { targets: ["127.0.0.1:${port}"] } ]\n  - job_name: redis\n    metrics_path: /scrape\n    file_sd_configs: [ { files: ["${join(dir, `targets-${n}.json`)}"] } ]\n`,
  );
  const p = spawn('prometheus', [`--config.file=${join(dir, `prometheus-${n}.yml`)}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const prom = `127.0.0.1:${port}`;
  try {
    await until(async () => (await fetch(`http://${prom}/-/ready`)).ok, 60_000, 'prometheus ready');
    await until(async () => (await query(prom, 'count(up{job="redis"} == 1)')) === n, 120_000, `${n} targets up`);
    await new Promise((r) => setTimeout(r, MINUTES * 60_000));
    const rss = await query(prom, 'process_resident_memory_bytes');
    const heap = await query(prom, 'go_memstats_heap_inuse_bytes');
    const series = await query(prom, 'prometheus_tsdb_head_series');
    return { n, rssMiB: rss / 2 ** 20, heapMiB: heap / 2 ** 20, series };
  } finally {
    p.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-prom-mem-'));
  const children: ChildProcess[] = [];
  try {
    const redisPort = await freePort();
    const exporterPort = await freePort();
    children.push(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--dir', dir], { stdio: 'ignore' }));
    children.push(spawn('prometheus-redis-exporter', [`--web.listen-address=127.0.0.1:${exporterPort}`, '--redis.addr='], { stdio: 'ignore' }));
    const real = `http://127.0.0.1:${exporterPort}/scrape?target=${encodeURIComponent(`redis://127.0.0.1:${redisPort}`)}`;
    await until(async () => (await (await fetch(real)).text()).includes('redis_up 1'), 15_000, 'redis-server and redis_exporter up');
    const payload = await (await fetch(real)).text();
    const perInstance = payload.split('\n').filter((l) => l && !l.startsWith('#')).length;
    const server = httpServer((_req, res) => res.end(payload));
    const payloadPort = await freePort();
    await new Promise<void>((r) => server.listen(payloadPort, '127.0.0.1', r));
    try {
      const small = await measure(SMALL, payloadPort, dir);
      console.log(`${small.n} instances: ${small.series} head series, ${small.rssMiB.toFixed(0)} MiB resident, ${small.heapMiB.toFixed(0)} MiB heap in use`);
      const large = await measure(LARGE, payloadPort, dir);
      console.log(`${large.n} instances: ${large.series} head series, ${large.rssMiB.toFixed(0)} MiB resident, ${large.heapMiB.toFixed(0)} MiB heap in use`);
      const perSeriesKiB = ((large.rssMiB - small.rssMiB) * 1024) / (large.series - small.series);
      const per1000MiB = small.rssMiB + ((large.rssMiB - small.rssMiB) * (1000 - small.n)) / (large.n - small.n);
      console.log(`\n${perInstance} series per Redis Cluster instance (Debian's redis_exporter); ${perSeriesKiB.toFixed(1)} KiB resident per series`);
      console.log(`estimate for 1,000 instances: ${per1000MiB.toFixed(0)} MiB resident (after ${MINUTES} min of 15 s scrapes)`);
      console.log(writeResult('prometheus-memory', { perInstance, minutes: MINUTES, small, large, perSeriesKiB, per1000MiB }));
    } finally {
      server.close();
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(`prometheus-memory: ${e.message}`);
  process.exit(1);
});
