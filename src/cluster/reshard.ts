// Which slots move where when a Redis Cluster changes its masters (scale, rebalance). Pure: the
// slots each master holds now and the masters that keep (or get) slots in, the moves out.
// Every kept master ends with 16384/M slots ±1; as few slots move as that allows (the odd slots
// stay with the masters that hold the most already), and a move takes contiguous slots.
import { SLOT_COUNT } from './slots.js';

export type Ranges = [number, number][];

/** Slots of one source going to one target, in the order they move. */
export interface SlotMove {
  from: string;
  to: string;
  slots: Ranges;
}

export function countSlots(r: Ranges): number {
  let n = 0;
  for (const [a, b] of r) n += b - a + 1;
  return n;
}

/** Ranges -> each slot, ascending. */
export function slotList(r: Ranges): number[] {
  const out: number[] = [];
  for (const [a, b] of [...r].sort((x, y) => x[0] - y[0])) for (let s = a; s <= b; s++) out.push(s);
  return out;
}

/** Slots (any order) -> merged ascending ranges. */
export function toRanges(slots: Iterable<number>): Ranges {
  const sorted = [...new Set(slots)].sort((a, b) => a - b);
  const out: Ranges = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/** How many slots each of `kept` should hold: even, the odd ones to those holding most now. */
export function targetCounts(owners: Map<string, Ranges>, kept: string[]): Map<string, number> {
  if (!kept.length) throw new RangeError('no master left to hold the slots');
  const base = Math.floor(SLOT_COUNT / kept.length);
  let extra = SLOT_COUNT % kept.length;
  const held = (id: string) => countSlots(owners.get(id) ?? []);
  const order = [...kept].sort((a, b) => held(b) - held(a) || (a < b ? -1 : 1));
  const out = new Map<string, number>();
  for (const id of order) out.set(id, base + (extra-- > 0 ? 1 : 0));
  return out;
}

/**
 * The moves that leave `kept` holding every slot evenly. Masters not in `kept` give all their
 * slots away. With a threshold (percent, as redis-cli's --cluster-threshold), nothing moves when
 * no kept master is further than that from its share and no other master holds slots.
 */
export function reshardMoves(owners: Map<string, Ranges>, kept: string[], thresholdPercent = 0): SlotMove[] {
  const target = targetCounts(owners, kept);
  const held = (id: string) => countSlots(owners.get(id) ?? []);
  const leaving = [...owners.keys()].filter((id) => !target.has(id) && held(id) > 0);
  if (!leaving.length && thresholdPercent > 0) {
    const share = SLOT_COUNT / kept.length;
    if (kept.every((id) => (Math.abs(held(id) - share) / share) * 100 <= thresholdPercent)) return [];
  }
  // What each giver hands over: the end of its slots (its first ones stay where they are).
  const gives: { id: string; slots: number[] }[] = [];
  for (const id of [...owners.keys()].sort()) {
    const all = slotList(owners.get(id) ?? []);
    const keep = target.get(id) ?? 0;
    if (all.length > keep) gives.push({ id, slots: all.slice(keep) });
  }
  const takers = kept
    .filter((id) => held(id) < target.get(id)!)
    .sort()
    .map((id) => ({ id, want: target.get(id)! - held(id) }));
  const moves: SlotMove[] = [];
  let t = 0;
  for (const g of gives) {
    let k = 0;
    while (k < g.slots.length) {
      const taker = takers[t];
      if (!taker) throw new Error('reshard: more slots given than taken (internal error)');
      const n = Math.min(taker.want, g.slots.length - k);
      moves.push({ from: g.id, to: taker.id, slots: toRanges(g.slots.slice(k, k + n)) });
      taker.want -= n;
      k += n;
      if (!taker.want) t++;
    }
  }
  return moves;
}

/**
 * Moves cut into parts of at most `size` slots: parts of one source/target pair move at once
 * (a node may have several slots migrating), which hides the round trips and the nodes.conf
 * write each slot costs on every node.
 */
export function splitMoves(moves: SlotMove[], size: number): SlotMove[] {
  return moves.flatMap((m) => {
    const all = slotList(m.slots);
    const parts: SlotMove[] = [];
    for (let k = 0; k < all.length; k += size) parts.push({ ...m, slots: toRanges(all.slice(k, k + size)) });
    return parts;
  });
}
