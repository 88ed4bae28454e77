// Benchmark: what scraping costs the instance scraped. One redis-server on loopback; redis-benchmark
// runs SET and GET against it in rounds that alternate between no scraping and redis_exporter (as
// ovl runs it: multi-target, /scrape?target=redis://...) scraped every 5 s, the way Prometheus
// would. The figure is the p99 latency redis-benchmark reports, median of the rounds of each kind,
// and the ratio scraped / not scraped.
//
//   npx tsx bench/scrape-cost.ts [--rounds 6] [--requests 400000] [--every 5]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, freePort, median, until, writeResult } from './local.js';
import { ensurePeers, timed } from './peers.js';

const args = benchArgs();
const ROUNDS = Number(args.get('rounds') ?? 6);
const REQUESTS = Number(args.get('requests') ?? 400_000);
const EVERY_S = Number(args.get('every') ?? 5);

ensurePeers('scrape-cost', [
  { command: 'redis-server', pkg: 'redis-server' },
  { command: 'redis-benchmark', pkg: 'redis-tools' },
  { command: 'prometheus-redis-exporter', pkg: 'prometheus-redis-exporter' },
]);

interface Row {
  test: string;
  rps: number;
  p50: number;
  p99: number;
}

function parseCsv(out: string): Row[] {
  const lines = out.trim().split('\n').filter((l) => l.startsWith('"'));
  const head = JSON.parse(`[${lines[0]}]`) as string[];
  return lines.slice(1).map((l) => {
    const cells = JSON.parse(`[${l}]`) as string[];
    const at = (k: string) => Number(cells[head.indexOf(k)]);
    return { test: cells[0]!, rps: at('rps'), p50: at('p50_latency_ms'), p99: at('p99_latency_ms') };
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-scrape-cost-'));
  const children: ChildProcess[] = [];
  try {
    const port = await freePort();
    const exporterPort = await freePort();
    children.push(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }));
    children.push(spawn('prometheus-redis-exporter', [`--web.listen-address=127.0.0.1:${exporterPort}`, '--redis.addr='], { stdio: 'ignore' }));
    const target = `http://127.0.0.1:${exporterPort}/scrape?target=${encodeURIComponent(`redis://127.0.0.1:${port}`)}`;
    await until(async () => (await fetch(target)).ok && (await (await fetch(target)).text()).includes('redis_up 1'), 15_000, 'redis-server and redis_exporter up');
    const series = (await (await fetch(target)).text()).split('\n').filter((l) => l && !l.startsWith('#')).length;

    const results: { scraped: boolean; rows: Row[]; scrapes: number; scrapeMs: number[] }[] = [];
    for (let r = 0; r < ROUNDS * 2; r++) {
      const scraped = r % 2 === 1;
      let stop = false;
      const scrapeMs: number[] = [];
      const scraper = (async () => {
        while (scraped && !stop) {
          const t0 = performance.now();
          await (await fetch(target)).text();
          scrapeMs.push(performance.now() - t0);
          const wait = Date.now() + EVERY_S * 1000;
          while (!stop && Date.now() < wait) await new Promise((res) => setTimeout(res, 50));
        }
      })();
      const b = await timed('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-t', 'set,get', '-n', String(REQUESTS), '-c', '50', '-r', '100000', '--csv']);
      stop = true;
      await scraper;
      if (b.code !== 0) throw new Error(`redis-benchmark failed: ${b.out.slice(-500)}`);
      results.push({ scraped, rows: parseCsv(b.out), scrapes: scrapeMs.length, scrapeMs });
      console.log(`round ${r + 1}/${ROUNDS * 2} ${scraped ? `scraped (${scrapeMs.length} scrapes)` : 'not scraped'}: ${results.at(-1)!.rows.map((x) => `${x.test} p99 ${x.p99} ms, ${Math.round(x.rps)} ops/s`).join('; ')}`);
    }

    const summary = ['SET', 'GET'].map((test) => {
      const of = (scraped: boolean) => results.filter((x) => x.scraped === scraped).map((x) => x.rows.find((row) => row.test === test)!);
      const off = of(false);
      const on = of(true);
      return {
        test,
        p99Off: median(off.map((x) => x.p99)),
        p99On: median(on.map((x) => x.p99)),
        rpsOff: median(off.map((x) => x.rps)),
        rpsOn: median(on.map((x) => x.rps)),
      };
    });
    const allScrapes = results.flatMap((x) => x.scrapeMs);
    console.log(`\nredis_exporter scrape: ${series} samples, median ${median(allScrapes).toFixed(1)} ms (${allScrapes.length} scrapes, one every ${EVERY_S} s)`);
    console.log('| command | p99 not scraped | p99 scraped | ratio | ops/s not scraped | ops/s scraped |');
    console.log('|---|---|---|---|---|---|');
    for (const s of summary) {
      console.log(`| ${s.test} | ${s.p99Off} ms | ${s.p99On} ms | ${(s.p99On / s.p99Off).toFixed(2)}x | ${Math.round(s.rpsOff)} | ${Math.round(s.rpsOn)} |`);
    }
    const file = writeResult('scrape-cost', { rounds: ROUNDS, requests: REQUESTS, everyS: EVERY_S, samplesPerScrape: series, scrapeMedianMs: median(allScrapes), summary, results });
    console.log(`\n${file}`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(`scrape-cost: ${e.message}`);
  process.exit(1);
});
