// Benchmark: placement at fleet scale, in process (no hosts, no I/O), against the exact algorithm
// ovl placed with before (src/cluster/replica-matrix-exact.ts) on the same fleets in the same run.
//
//   npx tsx bench/fleet-scale.ts [--rounds 3] [--peer-max-ms 5000]
//
// Fleets (test/helpers/fleets.ts): identical hosts; hosts with random free memory, ports and
// load; a fleet where 80 % of the hosts are nearly full. Each size is placed --rounds times and
// the median is shown. The peer runs on the three smallest sizes, once more where its first
// round ends within --peer-max-ms.
// For every redis placement the replica matrix's sum of squares (what both minimise) is printed
// next to the lower bound that proves it optimal: gap 0 means optimal.
import { cpus, totalmem } from 'node:os';
import { place, type PlaceOptions } from '../src/cluster/placement.js';
import { rowsOf, solveReplicaMatrix, type ReplicaRows, type ReplicaSolution } from '../src/cluster/replica-matrix.js';
import { replicaMatrixExact } from '../src/cluster/replica-matrix-exact.js';
import type { ClusterRequest } from '../src/cluster/types.js';
import { syntheticFleet, type FleetKind } from '../test/helpers/fleets.js';
import { benchArgs, median, writeResult } from './local.js';

const args = benchArgs();
const ROUNDS = Number(args.get('rounds') ?? 3);
const PEER_MAX_MS = Number(args.get('peer-max-ms') ?? 5000);

interface Case {
  hosts: number;
  masters: number;
  replicas: number;
  memcache?: boolean;
  /** Part of the doubling series (hosts and masters doubled from the row before). */
  series?: boolean;
  /** Also placed with the exact algorithm (it takes minutes to hours on the larger sizes). */
  peer?: boolean;
  /** Only on these fleets (a dense cluster fits on identical hosts only). */
  only?: FleetKind;
}

const CASES: Case[] = [
  { hosts: 100, masters: 100, replicas: 1, peer: true },
  { hosts: 500, masters: 300, replicas: 1, peer: true },
  { hosts: 1000, masters: 600, replicas: 1, peer: true },
  { hosts: 1000, masters: 2000, replicas: 2 },
  { hosts: 1000, masters: 5000, replicas: 0, memcache: true },
  { hosts: 5000, masters: 5000, replicas: 2 },
  // Dense: a host's replicas outnumber the hosts.
  { hosts: 100, masters: 5000, replicas: 3, peer: true, only: 'identical' },
  { hosts: 160, masters: 16384, replicas: 1, peer: true, only: 'identical' },
  ...[625, 1250, 2500, 5000, 10000].map((h) => ({ hosts: h, masters: (h * 16384) / 10000, replicas: 1, series: true })),
];

function request(c: Case): ClusterRequest {
  return c.memcache
    ? { name: 'bench', type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: c.masters, maxmemoryMB: 256 }
    : { name: 'bench', type: 'redis_cluster', version: '7.0.15', masters: c.masters, replicas: c.replicas, maxmemoryMB: 256 };
}

const exactRows: PlaceOptions['replicaMatrix'] = (d, s, l) => {
  const X = replicaMatrixExact(d, s, l);
  return X ? rowsOf(X) : null;
};

function timeIt(f: () => void): number {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

interface Row {
  fleet: FleetKind;
  hosts: number;
  shape: string;
  ms: number;
  peerMs?: number;
  cost?: number;
  lowerBound?: number;
  peerCost?: number;
  how?: ReplicaSolution['how'];
  error?: string;
  series?: boolean;
}

const rows: Row[] = [];
for (const kind of ['identical', 'random', 'nearly-full'] as FleetKind[]) {
  for (const c of CASES) {
    if (c.only && c.only !== kind) continue;
    const hosts = syntheticFleet(kind, c.hosts, c.hosts);
    const req = request(c);
    const shape = c.memcache ? `memcache ${c.masters}` : `${c.masters} x ${c.replicas}`;
    let sol: ReplicaSolution | null = null;
    const ours: PlaceOptions = { replicaMatrix: (d, s, l) => (sol = solveReplicaMatrix(d, s, l))?.rows ?? null };
    const times: number[] = [];
    let error: string | undefined;
    try {
      for (let k = 0; k < ROUNDS; k++) times.push(timeIt(() => place(req, hosts, ours)));
    } catch (e) {
      error = (e as Error).message;
    }
    const row: Row = { fleet: kind, hosts: c.hosts, shape, ms: median(times.length ? times : [Number.NaN]), series: c.series, ...(error ? { error } : {}) };
    const solved = sol as ReplicaSolution | null;
    if (solved) Object.assign(row, { cost: solved.cost, lowerBound: solved.lowerBound, how: solved.how });
    if (!error && c.peer) {
      let peerRows: ReplicaRows | null = null;
      const first = timeIt(() => place(req, hosts, { replicaMatrix: (d, s, l) => (peerRows = exactRows!(d, s, l)) }));
      if (first <= PEER_MAX_MS) {
        const more = Array.from({ length: ROUNDS - 1 }, () => timeIt(() => place(req, hosts, { replicaMatrix: exactRows })));
        row.peerMs = median([first, ...more]);
      } else row.peerMs = first;
      let pc = 0;
      for (const r of (peerRows ?? []) as ReplicaRows) for (const x of r.values()) pc += x * x;
      row.peerCost = pc;
    }
    rows.push(row);
    const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
    const peer = row.peerMs !== undefined ? `  exact ${f(row.peerMs)} ms (${(row.peerMs / row.ms).toFixed(0)}x), its cost ${row.peerCost}` : '';
    const gap = row.cost !== undefined ? `  cost ${row.cost} bound ${row.lowerBound} gap ${row.cost - row.lowerBound!} (${row.how})` : '';
    console.log(`${kind.padEnd(11)} ${String(c.hosts).padStart(6)} hosts  ${shape.padEnd(14)} ${error ? `FAILED: ${error}` : `${f(row.ms).padStart(7)} ms`}${gap}${peer}`);
  }
  const series = rows.filter((r) => r.fleet === kind && r.series);
  const ratios = series.slice(1).map((r, k) => (r.ms / series[k]!.ms).toFixed(2));
  console.log(`${kind}: each doubling of hosts and masters costs ${ratios.join(', ')}x`);
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
console.log(`machine: ${machine}`);
console.log(`results: ${writeResult('fleet-scale', { machine, rounds: ROUNDS, rows })}`);
