// Who replicates whom, at fleet scale. X[a][b] is how many replicas of host a's masters live on
// host b: row a sums to demand[a], column b to supply[b], X[a][a] = 0, X[a][b] <= limit[a] and
// <= supply[b]. Among those matrices ovl wants the one with the smallest sum of squares (each
// host's replicas as evenly spread over the others as possible: a lost host fails over to many).
//
// replica-matrix-exact.ts finds it by successive shortest paths: cubic, hours at 10,000 hosts.
// Here, three steps, each only when the one before cannot prove its result optimal:
//  1. Greedy: rows by demand, largest first; each row's replicas go one per host to the hosts with
//     the most supply left (ties: most demand left, then name order): Kleitman and Wang's
//     construction of a digraph with given degrees, so a 0/1 matrix is found whenever one exists.
//     A row with more replicas than hosts left to take them is water-filled over all of them.
//     O(replicas x log hosts).
//  2. A lower bound: no row can be more even than its demand spread evenly over the hosts that
//     could take it (likewise every column). A greedy matrix that meets it is optimal. On fleets
//     with more hosts than replicas per host it does (the rows are 0/1).
//  3. Otherwise, negative cycles of the residual graph are cancelled until none is left: exact
//     (a convex-cost flow with no negative cycle is optimal), each pass O(hosts^2), and the
//     greedy result is a few units from the optimum. Above CANCEL_MAX_HOSTS hosts the greedy
//     matrix is kept, and its gap to the bound is what bench/fleet-scale.ts prints.
// If the greedy gets stuck (its choices ran a row out of hosts: tight small fleets, and dense ones
// where a host's replicas outnumber the hosts), what it placed is made the cheapest of its size by
// step 3, completed by the exact algorithm's shortest augmenting paths (which find a matrix
// whenever one exists), and made optimal by step 3 again: 5,000 x 3 on 100 hosts in 0.25 s
// against 1.3 s for the exact algorithm alone. Above CANCEL_MAX_HOSTS the exact algorithm runs
// alone (no benchmark fleet gets there).

import { replicaMatrixExact } from './replica-matrix-exact.js';
import { sum, waterFill } from './water-fill.js';

/** Row a: host b -> replicas of a's masters on b (only the non-zero entries). */
export type ReplicaRows = Map<number, number>[];

/** Above this many hosts step 3 is skipped (one pass of it is hosts^2 steps). */
export const CANCEL_MAX_HOSTS = 2000;

export interface ReplicaSolution {
  rows: ReplicaRows;
  /** Sum of squares of the matrix: what is minimised. */
  cost: number;
  lowerBound: number;
  /** How the matrix was found: greedy (meets the bound), cancelled (step 3), completed (the
   * greedy got stuck: its part completed by shortest paths, then cancelled), exact (stuck above
   * CANCEL_MAX_HOSTS: the exact algorithm alone), heuristic (greedy above CANCEL_MAX_HOSTS, not
   * proven optimal). */
  how: 'greedy' | 'cancelled' | 'completed' | 'exact' | 'heuristic';
}

/** The most even replica matrix, or null when none exists. */
export function replicaMatrix(demand: readonly number[], supply: readonly number[], limit: readonly number[]): ReplicaRows | null {
  return solveReplicaMatrix(demand, supply, limit)?.rows ?? null;
}

export function solveReplicaMatrix(demand: readonly number[], supply: readonly number[], limit: readonly number[]): ReplicaSolution | null {
  if (sum(demand) !== sum(supply)) return null;
  const lowerBound = replicaLowerBound(demand, supply, limit);
  const n = demand.length;
  const { rows, complete } = greedy(demand, supply, limit);
  if (!complete) {
    // The greedy's part, made the cheapest of its size (shortest paths need no negative cycle),
    // completed by shortest augmenting paths, then made optimal again (on a fleet too large for
    // a dense matrix: everything by the paths, as the exact algorithm does).
    const dense = (m: ReplicaRows) => m.map((r) => Array.from({ length: n }, (_, b) => r.get(b) ?? 0));
    const start = n <= CANCEL_MAX_HOSTS ? dense(cancelNegativeCycles(rows, supply, limit)) : undefined;
    const X = replicaMatrixExact(demand, supply, limit, start);
    if (!X) return null;
    const whole = rowsOf(X);
    const best = start ? cancelNegativeCycles(whole, supply, limit) : whole;
    return { rows: best, cost: replicaCost(best), lowerBound, how: start ? 'completed' : 'exact' };
  }
  const cost = replicaCost(rows);
  if (cost === lowerBound) return { rows, cost, lowerBound, how: 'greedy' };
  if (n > CANCEL_MAX_HOSTS) return { rows, cost, lowerBound, how: 'heuristic' };
  const better = cancelNegativeCycles(rows, supply, limit);
  return { rows: better, cost: replicaCost(better), lowerBound, how: 'cancelled' };
}

/** A dense matrix (row a, column b: replicas of a's masters on host b) as rows of its non-zero entries. */
export function rowsOf(X: readonly (readonly number[])[]): ReplicaRows {
  return X.map((r) => new Map(r.flatMap((x, b) => (x > 0 ? [[b, x] as [number, number]] : []))));
}

export function replicaCost(rows: ReplicaRows): number {
  let c = 0;
  for (const r of rows) for (const x of r.values()) c += x * x;
  return c;
}

// ---------------------------------------------------------------------------------------------
// 1. Greedy

interface Entry {
  s: number;
  d: number;
  b: number;
}

/** Higher first: more supply left, then more demand left, then the lower index. */
const before = (x: Entry, y: Entry) => x.s > y.s || (x.s === y.s && (x.d > y.d || (x.d === y.d && x.b < y.b)));

/** A binary max-heap of columns; entries go stale when a column's counts change and are
 * refreshed when popped (counts only fall, so a stale entry never comes out too late). */
class ColumnHeap {
  private readonly a: Entry[] = [];
  get size(): number {
    return this.a.length;
  }
  push(e: Entry): void {
    const a = this.a;
    let i = a.push(e) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Entry {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** The greedy matrix; `complete` false when some row could not place all its replicas (the
 * rows then hold what did fit). */
function greedy(demand: readonly number[], supply: readonly number[], limit: readonly number[]): { rows: ReplicaRows; complete: boolean } {
  const n = demand.length;
  const remS = [...supply];
  const remD = [...demand];
  const entry = (b: number): Entry => ({ s: remS[b]!, d: remD[b]!, b });
  const heap = new ColumnHeap();
  for (let b = 0; b < n; b++) if (remS[b]! > 0) heap.push(entry(b));
  const rows: ReplicaRows = Array.from({ length: n }, () => new Map<number, number>());
  const order = [...demand.keys()].filter((a) => demand[a]! > 0).sort((x, y) => demand[y]! - demand[x]! || x - y);
  let complete = true;
  for (const a of order) {
    const want = remD[a]!;
    // A row that may put nothing anywhere: the exact algorithm says whether any matrix exists.
    if (limit[a]! < 1) {
      complete = false;
      continue;
    }
    const picked: number[] = [];
    let self = false;
    while (picked.length < want && heap.size) {
      const e = heap.pop();
      if (e.s !== remS[e.b] || e.d !== remD[e.b]) {
        if (remS[e.b]! > 0) heap.push(entry(e.b));
      } else if (e.b === a) self = true;
      else picked.push(e.b);
    }
    const row = rows[a]!;
    if (picked.length === want) {
      for (const b of picked) {
        row.set(b, 1);
        remS[b]!--;
      }
    } else {
      // More replicas than hosts left to take them: every one of those hosts takes several.
      const caps = picked.map((b) => Math.min(limit[a]!, remS[b]!));
      // Stuck: as much as fits; the rest is found by completing paths (solveReplicaMatrix).
      if (sum(caps) < want) complete = false;
      const x = waterFill(Math.min(want, sum(caps)), caps, picked.map((_, k) => k));
      picked.forEach((b, k) => {
        if (x[k]! > 0) {
          row.set(b, x[k]!);
          remS[b]! -= x[k]!;
        }
      });
    }
    remD[a] = 0;
    for (const b of picked) if (remS[b]! > 0) heap.push(entry(b));
    if (self && remS[a]! > 0) heap.push(entry(a));
  }
  return { rows, complete };
}

// ---------------------------------------------------------------------------------------------
// 2. Lower bound

/** The smallest sum of squares of `total` units under per-cell caps (Infinity if they do not fit). */
function evenCost(total: number, caps: number[]): number {
  if (sum(caps) < total) return Number.POSITIVE_INFINITY;
  let c = 0;
  for (const x of waterFill(total, caps, caps.map((_, k) => k))) c += x * x;
  return c;
}

/** No matrix has a smaller sum of squares: each row (and each column) alone is at best even. */
export function replicaLowerBound(demand: readonly number[], supply: readonly number[], limit: readonly number[]): number {
  const n = demand.length;
  const cell = (a: number, b: number) => (a === b ? 0 : Math.min(limit[a]!, demand[a]!, supply[b]!));
  const columnsWithSupply = supply.filter((s) => s > 0).length;
  const rowsWithDemand = demand.filter((d, a) => d > 0 && limit[a]! > 0).length;
  let rows = 0;
  let cols = 0;
  for (let a = 0; a < n; a++) {
    const d = demand[a]!;
    if (d === 0) continue;
    // Fewer replicas than hosts that take any: at best one each, a sum of squares of d.
    if (limit[a]! > 0 && d <= columnsWithSupply - (supply[a]! > 0 ? 1 : 0)) rows += d;
    else rows += evenCost(d, [...supply.keys()].map((b) => cell(a, b)));
  }
  for (let b = 0; b < n; b++) {
    const s = supply[b]!;
    if (s === 0) continue;
    if (s <= rowsWithDemand - (demand[b]! > 0 && limit[b]! > 0 ? 1 : 0)) cols += s;
    else cols += evenCost(s, [...demand.keys()].map((a) => cell(a, b)));
  }
  return Math.max(rows, cols);
}

// ---------------------------------------------------------------------------------------------
// 3. Negative cycle cancelling

/**
 * From a feasible matrix to an optimal one. The residual graph has a node per row and per
 * column; row a -> column b adds a replica (marginal cost 2x + 1) while X[a][b] is under its cap,
 * column b -> row a takes one away (saves 2x - 1) while X[a][b] > 0. Bellman-Ford from every
 * node at once; a cycle among the predecessor links is a negative cycle, and one replica is
 * moved around it. No negative cycle left: optimal.
 */
function cancelNegativeCycles(rows: ReplicaRows, supply: readonly number[], limit: readonly number[]): ReplicaRows {
  const n = rows.length;
  const X = new Int32Array(n * n);
  rows.forEach((r, a) => r.forEach((x, b) => (X[a * n + b] = x)));
  const V = 2 * n;
  const dist = new Float64Array(V);
  const parent = new Int32Array(V);
  const cap = limit.map((l) => supply.map((s) => Math.min(l, s)));
  for (;;) {
    dist.fill(0);
    parent.fill(-1);
    let cycle: number[] | null = null;
    for (let pass = 0; !cycle; pass++) {
      if (pass > V + 1) throw new Error('replica matrix: Bellman-Ford did not settle (internal error)');
      let changed = false;
      for (let a = 0; a < n; a++) {
        const capA = cap[a]!;
        for (let b = 0; b < n; b++) {
          if (a === b) continue;
          const x = X[a * n + b]!;
          if (x < capA[b]! && dist[a]! + 2 * x + 1 < dist[n + b]!) {
            dist[n + b] = dist[a]! + 2 * x + 1;
            parent[n + b] = a;
            changed = true;
          }
          if (x > 0 && dist[n + b]! - (2 * x - 1) < dist[a]!) {
            dist[a] = dist[n + b]! - (2 * x - 1);
            parent[a] = n + b;
            changed = true;
          }
        }
      }
      if (!changed) return toRows(X, n);
      cycle = predecessorCycle(parent);
    }
    // Along the cycle each link is parent[v] -> v: row -> column adds, column -> row removes.
    for (const v of cycle) {
      const u = parent[v]!;
      if (v >= n) X[u * n + (v - n)]!++;
      else X[v * n + (u - n)]!--;
    }
  }
}

function toRows(X: Int32Array, n: number): ReplicaRows {
  const rows: ReplicaRows = [];
  for (let a = 0; a < n; a++) {
    const r = new Map<number, number>();
    for (let b = 0; b < n; b++) if (X[a * n + b]! > 0) r.set(b, X[a * n + b]!);
    rows.push(r);
  }
  return rows;
}

/** A cycle among the predecessor links (its nodes), or null. */
function predecessorCycle(parent: Int32Array): number[] | null {
  const seen = new Int32Array(parent.length).fill(-1);
  for (let start = 0; start < parent.length; start++) {
    let v = start;
    while (v >= 0 && seen[v] === -1) {
      seen[v] = start;
      v = parent[v]!;
    }
    if (v >= 0 && seen[v] === start) {
      const cycle = [v];
      for (let u = parent[v]!; u !== v; u = parent[u]!) cycle.push(u);
      return cycle;
    }
  }
  return null;
}
