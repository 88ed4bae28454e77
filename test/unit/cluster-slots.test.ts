import assert from 'node:assert/strict';
import { test } from 'node:test';
import { divideSlots, formatSlotRange, formatSlots, SLOT_COUNT } from '../../src/cluster/slots.js';

test('divideSlots: every master count 1..16384 covers 0..16383 exactly once, contiguous, sizes within 1', () => {
  for (let masters = 1; masters <= SLOT_COUNT; masters++) {
    const d = divideSlots(masters);
    assert.equal(d.length, masters);
    // Ranges are checked arithmetically: each starts right after the previous one ends, so
    // together they are a partition of [0, next) with no gap and no overlap.
    let next = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < d.length; i++) {
      const ranges = d[i]!;
      let size = 0;
      for (let k = 0; k < ranges.length; k++) {
        const from = ranges[k]![0];
        const to = ranges[k]![1];
        if (from !== next || to < from) assert.fail(`masters=${masters}: range ${from}-${to} does not start at ${next}`);
        size += to - from + 1;
        next = to + 1;
      }
      if (size < min) min = size;
      if (size > max) max = size;
    }
    if (next !== SLOT_COUNT) assert.fail(`masters=${masters}: ranges end at ${next - 1}, not ${SLOT_COUNT - 1}`);
    if (max - min > 1) assert.fail(`masters=${masters}: sizes ${min}..${max}`);
    if (min < 1) assert.fail(`masters=${masters}: a master gets no slot`);
  }
});

test('divideSlots: known divisions (no off-by-one)', () => {
  assert.deepEqual(divideSlots(1), [[[0, 16383]]]);
  assert.deepEqual(divideSlots(3), [[[0, 5461]], [[5462, 10922]], [[10923, 16383]]]);
  // overlord gave 0-4096, 4097-8193, 8194-12290, 12291-16383 (4097 slots for the first three).
  assert.deepEqual(divideSlots(4), [[[0, 4095]], [[4096, 8191]], [[8192, 12287]], [[12288, 16383]]]);
  assert.deepEqual(divideSlots(16384)[42], [[42, 42]]);
});

test('divideSlots: explicit check with a slot array for a few counts', () => {
  for (const masters of [1, 2, 3, 5, 7, 100, 999, 4097, 16383, 16384]) {
    const owner = new Int32Array(SLOT_COUNT).fill(-1);
    divideSlots(masters).forEach((ranges, i) => {
      for (const [from, to] of ranges) {
        for (let s = from; s <= to; s++) {
          assert.equal(owner[s], -1, `slot ${s} assigned twice`);
          owner[s] = i;
        }
      }
    });
    assert.ok(owner.every((o) => o >= 0), `masters=${masters}: a slot is unassigned`);
  }
});

test('divideSlots: rejects 0, negative, fractional and > 16384', () => {
  for (const bad of [0, -1, 1.5, 16385, Number.NaN]) assert.throws(() => divideSlots(bad), RangeError);
});

test('formatSlots: ranges and single slots', () => {
  assert.equal(formatSlotRange([0, 5460]), '0-5460');
  assert.equal(formatSlotRange([42, 42]), '42');
  assert.equal(formatSlots([[0, 10], [12, 12], [100, 16383]]), '0-10 12 100-16383');
  assert.equal(formatSlots([]), '');
  assert.throws(() => formatSlotRange([5, 4]));
  assert.throws(() => formatSlotRange([0, 16384]));
});
