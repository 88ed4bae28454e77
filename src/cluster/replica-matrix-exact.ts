// The replica matrix as ovl placed it until fleet scale: exact, by successive shortest paths, one
// replica per path over the dense hosts x hosts graph, cubic in the fleet. Kept as the oracle the
// property tests and bench/fleet-scale.ts compare replica-matrix.ts with.

/**
 * The replica matrix: X[a][b] replicas of host a's masters on host b. Rows sum to demand[a],
 * columns to supply[b], X[a][a] = 0, X[a][b] <= limit[a]. Minimises sum of X^2 (most even rows)
 * by successive shortest paths with convex edge costs (the k-th unit on an edge costs 2k - 1).
 * Returns null if no such matrix exists.
 */
export function replicaMatrixExact(demand: readonly number[], supply: readonly number[], limit: readonly number[], start?: number[][]): number[][] | null {
  const n = demand.length;
  // `start`: a partial matrix to complete (replica-matrix.ts's, once its greedy got stuck);
  // the paths then begin from what it left.
  const X = start ?? demand.map(() => new Array<number>(n).fill(0));
  const rowUsed = X.map((r) => r.reduce((a, b) => a + b, 0));
  const colUsed = new Array<number>(n).fill(0);
  for (const r of X) r.forEach((x, b) => (colUsed[b]! += x));
  const total = demand.reduce((a, b) => a + b, 0);
  if (total !== supply.reduce((a, b) => a + b, 0)) return null;
  const cap = (a: number, b: number) => (a === b ? 0 : Math.min(limit[a]!, supply[b]!));
  // Nodes: rows 0..n-1, columns n..2n-1. Source and sink are implicit: every row with demand
  // left starts at distance 0, every column with supply left ends the path.
  const INF = Number.POSITIVE_INFINITY;
  const dist = new Array<number>(2 * n);
  const prev = new Array<number>(2 * n);
  const inQueue = new Array<boolean>(2 * n);
  for (let unit = rowUsed.reduce((a, b) => a + b, 0); unit < total; unit++) {
    dist.fill(INF);
    prev.fill(-1);
    inQueue.fill(false);
    const queue: number[] = [];
    for (let a = 0; a < n; a++) {
      if (rowUsed[a]! < demand[a]!) {
        dist[a] = 0;
        queue.push(a);
        inQueue[a] = true;
      }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const u = queue[qi]!;
      inQueue[u] = false;
      const du = dist[u]!;
      if (u < n) {
        for (let b = 0; b < n; b++) {
          const f = X[u]![b]!;
          if (f < cap(u, b)) {
            const d = du + 2 * f + 1;
            if (d < dist[n + b]!) {
              dist[n + b] = d;
              prev[n + b] = u;
              if (!inQueue[n + b]) {
                inQueue[n + b] = true;
                queue.push(n + b);
              }
            }
          }
        }
      } else {
        const b = u - n;
        for (let a = 0; a < n; a++) {
          const f = X[a]![b]!;
          if (f > 0) {
            const d = du - (2 * f - 1);
            if (d < dist[a]!) {
              dist[a] = d;
              prev[a] = u;
              if (!inQueue[a]) {
                inQueue[a] = true;
                queue.push(a);
              }
            }
          }
        }
      }
    }
    let best = -1;
    for (let b = 0; b < n; b++) {
      if (colUsed[b]! < supply[b]! && dist[n + b]! < INF && (best < 0 || dist[n + b]! < dist[n + best]!)) best = b;
    }
    if (best < 0) return null;
    colUsed[best]!++;
    // Walk back: column <- row (forward edge, +1) <- column (backward edge, -1) <- ... <- row.
    let v = n + best;
    for (;;) {
      const row = prev[v]!;
      X[row]![v - n]!++;
      const before = prev[row]!;
      if (before < 0) {
        rowUsed[row]!++;
        break;
      }
      X[row]![before - n]!--;
      v = before;
    }
  }
  return X;
}
