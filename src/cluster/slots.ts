// Redis Cluster hash slots: 16384 of them, numbered 0..16383.

export const SLOT_COUNT = 16384;

/**
 * Slot ranges per master: master i gets one contiguous range; together they cover
 * 0..16383 exactly once, and sizes differ by at most one (the first 16384 % masters masters get
 * one slot more). Inclusive bounds.
 */
export function divideSlots(masters: number): [number, number][][] {
  if (!Number.isInteger(masters) || masters < 1 || masters > SLOT_COUNT) {
    throw new RangeError(`cannot divide ${SLOT_COUNT} slots among ${masters} masters (1..${SLOT_COUNT})`);
  }
  const base = Math.floor(SLOT_COUNT / masters);
  const bigger = SLOT_COUNT % masters;
  const out: [number, number][][] = [];
  let start = 0;
  for (let i = 0; i < masters; i++) {
    const size = base + (i < bigger ? 1 : 0);
    out.push([[start, start + size - 1]]);
    start += size;
  }
  return out;
}

/** One range as nodes.conf writes it: "0-5460", or "42" for a single slot. */
export function formatSlotRange([from, to]: [number, number]): string {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to >= SLOT_COUNT || from > to) {
    throw new RangeError(`invalid slot range ${from}-${to}`);
  }
  return from === to ? String(from) : `${from}-${to}`;
}

/** Ranges as the space-separated tail of a nodes.conf line ("0-5460 6000 7000-7100"). */
export function formatSlots(ranges: readonly [number, number][]): string {
  return ranges.map(formatSlotRange).join(' ');
}
