// The fleet-scale replica matrix against the exact algorithm ovl placed with before (the oracle):
// on thousands of small random fleets it must find a matrix exactly when the oracle does, and one
// as even (the same sum of squares, the objective both minimise).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { place } from '../../src/cluster/placement.js';
import { replicaCost, replicaLowerBound, solveReplicaMatrix, type ReplicaRows } from '../../src/cluster/replica-matrix.js';
import { replicaMatrixExact } from '../../src/cluster/replica-matrix-exact.js';
import type { ClusterRequest } from '../../src/cluster/types.js';
import { rng, syntheticFleet, type FleetKind } from '../helpers/fleets.js';

/** Rows and columns add up, nothing on the diagonal, no cell above its cap. */
function assertFeasible(rows: ReplicaRows, demand: number[], supply: number[], limit: number[], what: string): void {
  const cols = supply.map(() => 0);
  rows.forEach((r, a) => {
    let sum = 0;
    for (const [b, x] of r) {
      assert.notEqual(a, b, `${what}: a replica on its master's host`);
      assert.ok(x > 0 && x <= limit[a]! && x <= supply[b]!, `${what}: X[${a}][${b}] = ${x} over its cap`);
      sum += x;
      cols[b]! += x;
    }
    assert.equal(sum, demand[a], `${what}: row ${a}`);
  });
  assert.deepEqual(cols, supply, `${what}: columns`);
}

const exactCost = (X: number[][]) => X.reduce((c, r) => c + r.reduce((s, x) => s + x * x, 0), 0);

function compare(demand: number[], supply: number[], limit: number[], what: string): string {
  const ours = solveReplicaMatrix(demand, supply, limit);
  const oracle = replicaMatrixExact(demand, supply, limit);
  assert.equal(ours === null, oracle === null, `${what}: ours ${ours ? 'found' : 'found no'} matrix, the oracle ${oracle ? 'did' : 'did not'}`);
  if (!ours || !oracle) return 'none';
  assertFeasible(ours.rows, demand, supply, limit, what);
  assert.equal(ours.cost, replicaCost(ours.rows));
  assert.equal(ours.cost, exactCost(oracle), `${what}: sum of squares ${ours.cost} (${ours.how}), the oracle's ${exactCost(oracle)}`);
  assert.ok(ours.lowerBound <= ours.cost, `${what}: the lower bound ${ours.lowerBound} is above an optimum ${ours.cost}`);
  return ours.how;
}

test('on 2,000 random fleets of 3 to 40 hosts, placement spreads replicas exactly as evenly as the exact algorithm', () => {
  const rand = rng(2024);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const kinds: FleetKind[] = ['identical', 'random', 'nearly-full'];
  const how = new Map<string, number>();
  let placed = 0;
  for (let round = 0; round < 2000; round++) {
    const kind = kinds[round % 3]!;
    const hosts = syntheticFleet(kind, int(3, 40), round);
    const req: ClusterRequest = { name: 'p', type: 'redis_cluster', version: '7.0.15', masters: int(1, 60), replicas: int(0, 3), maxmemoryMB: 256 };
    const what = `round ${round} (${kind}, ${hosts.length} hosts, ${req.masters} x ${req.replicas})`;
    try {
      place(req, hosts, {
        replicaMatrix: (d, s, l) => {
          const h = compare(d, s, l, what);
          how.set(h, (how.get(h) ?? 0) + 1);
          return solveReplicaMatrix(d, s, l)?.rows ?? null;
        },
      });
      placed++;
    } catch (e) {
      if ((e as Error).name !== 'PlacementError') throw e;
    }
  }
  assert.ok(placed > 1500, `placed ${placed}`);
  // Some fleets need more than the greedy step: they are compared too.
  assert.ok((how.get('greedy') ?? 0) > 1000, JSON.stringify(Object.fromEntries(how)));
});

test('on 2,000 random demands, supplies and limits: a matrix exactly when one exists, as even as the exact one', () => {
  const rand = rng(7);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const how = new Map<string, number>();
  for (let round = 0; round < 2000; round++) {
    const n = int(2, 12);
    const R = int(1, 4);
    const m = Array.from({ length: n }, () => (rand() < 0.3 ? 0 : int(0, 8)));
    const demand = m.map((x) => x * R);
    // Supplies: the same total, dealt at random (often infeasible on purpose).
    const supply = new Array<number>(n).fill(0);
    for (let u = demand.reduce((a, b) => a + b, 0); u > 0; u--) supply[int(0, n - 1)]!++;
    const h = compare(demand, supply, m, `round ${round}: demand ${demand} supply ${supply} limit ${m}`);
    how.set(h, (how.get(h) ?? 0) + 1);
  }
  // Every path is exercised: greedy optimal, cancelled to optimal, the greedy stuck (completed
  // by shortest paths), and no matrix at all.
  for (const h of ['greedy', 'cancelled', 'completed', 'none']) assert.ok((how.get(h) ?? 0) > 20, `${h}: ${JSON.stringify(Object.fromEntries(how))}`);
});

test('the lower bound: one replica per host is the best a row can do, and a row with more replicas than hosts spreads them', () => {
  assert.equal(replicaLowerBound([2, 2, 2], [2, 2, 2], [2, 2, 2]), 6);
  // 3 hosts, each with 4 replicas to place on the 2 others: 2 + 2 each at best.
  assert.equal(replicaLowerBound([4, 4, 4], [4, 4, 4], [2, 2, 2]), 24);
  // Host 0's 6 replicas fit only on host 1 and 2, whose supply is 3 each: 9 + 9.
  assert.equal(replicaLowerBound([6, 0, 0], [0, 3, 3], [6, 0, 0]), 18);
});
