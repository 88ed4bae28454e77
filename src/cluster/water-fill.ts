// Even shares under caps: how placement spreads instances over hosts and a row of replicas over
// the other hosts.

export function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

/**
 * Distribute `total` over slots with caps so the largest share is as small as possible (shares
 * differ by at most one among slots not held down by their cap). `order` lists slot indices by
 * preference for the odd units.
 */
export function waterFill(total: number, caps: readonly number[], order: readonly number[]): number[] {
  if (sum(caps) < total) throw new Error(`cannot fill ${total} into capacity ${sum(caps)}`);
  // Highest level L with sum(min(cap, L)) <= total.
  let lo = 0;
  let hi = 0;
  for (const c of caps) if (c > hi) hi = c;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (sum(caps.map((c) => Math.min(c, mid))) <= total) lo = mid;
    else hi = mid - 1;
  }
  const out = caps.map((c) => Math.min(c, lo));
  let rest = total - sum(out);
  for (const i of order) {
    if (rest === 0) break;
    if (caps[i]! > out[i]!) {
      out[i]!++;
      rest--;
    }
  }
  if (rest !== 0) throw new Error('waterFill: internal error');
  return out;
}
