import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countSlots, reshardMoves, slotList, toRanges, type Ranges } from '../../src/cluster/reshard.js';
import { divideSlots, SLOT_COUNT } from '../../src/cluster/slots.js';

const ids = (n: number, p = 'm') => Array.from({ length: n }, (_, k) => `${p}${k}`);

/** The layout after the moves, checked: every slot once, moved only from its owner. */
function apply(owners: Map<string, Ranges>, moves: ReturnType<typeof reshardMoves>): Map<string, number> {
  const owner = new Map<number, string>();
  for (const [id, r] of owners) for (const s of slotList(r)) owner.set(s, id);
  for (const m of moves) for (const s of slotList(m.slots)) {
    assert.equal(owner.get(s), m.from, `slot ${s} moved from ${m.from}, held by ${owner.get(s)}`);
    owner.set(s, m.to);
  }
  assert.equal(owner.size, SLOT_COUNT);
  const counts = new Map<string, number>();
  for (const id of owner.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

const layout = (masters: string[]) => new Map(masters.map((id, k) => [id, divideSlots(masters.length)[k]!]));

test('3 -> 6 masters: each new master gets its share from one old master, half the slots move, all end within one of 16384/6', () => {
  const owners = layout(ids(3));
  const kept = [...ids(3), ...ids(3, 'n')];
  const moves = reshardMoves(owners, kept);
  const counts = apply(owners, moves);
  for (const id of kept) assert.ok(Math.abs(counts.get(id)! - SLOT_COUNT / 6) <= 1, `${id}: ${counts.get(id)}`);
  const moved = moves.reduce((n, m) => n + countSlots(m.slots), 0);
  assert.ok(moved <= SLOT_COUNT / 2 + 3, `${moved} slots moved`);
  assert.equal(new Set(moves.map((m) => m.to)).size, 3);
  for (const m of moves) assert.equal(m.slots.length, 1, 'a move takes contiguous slots');
});

test('6 -> 3 masters: the leaving masters give all their slots, the kept ones end even; nothing moves between kept masters', () => {
  const six = [...ids(3), ...ids(3, 'n')];
  const owners = layout(six);
  const moves = reshardMoves(owners, ids(3));
  const counts = apply(owners, moves);
  for (const id of ids(3)) assert.ok(Math.abs(counts.get(id)! - SLOT_COUNT / 3) <= 1);
  for (const id of ids(3, 'n')) assert.equal(counts.get(id) ?? 0, 0);
  assert.ok(moves.every((m) => m.from.startsWith('n')));
});

test('rebalance: an even cluster moves nothing; a skewed one is evened; a threshold leaves small skews alone', () => {
  assert.deepEqual(reshardMoves(layout(ids(4)), ids(4)), []);
  const skew = new Map<string, Ranges>([['a', [[0, 9999]]], ['b', [[10000, 16383]]], ['c', []]]);
  const counts = apply(skew, reshardMoves(skew, ['a', 'b', 'c']));
  assert.deepEqual([...counts.values()].sort(), [5461, 5461, 5462]);
  const slight = new Map<string, Ranges>([['a', [[0, 8249]]], ['b', [[8250, 16383]]]]);
  assert.deepEqual(reshardMoves(slight, ['a', 'b'], 2), []);
  assert.equal(reshardMoves(slight, ['a', 'b'], 0.5).length, 1);
});

test('ranges: slots merge into ranges and back', () => {
  assert.deepEqual(toRanges([5, 3, 4, 9, 10, 1]), [[1, 1], [3, 5], [9, 10]]);
  assert.deepEqual(slotList([[9, 10], [1, 2]]), [1, 2, 9, 10]);
  assert.throws(() => reshardMoves(layout(ids(2)), []), /no master left/);
});
