// Synthetic fleets (no hosts behind them) for placement at scale: bench/fleet-scale.ts, the
// property tests and the etcd fixture of many clusters.
import type { HostCapacity } from '../../src/cluster/types.js';

/** A seeded generator in [0, 1) (mulberry32): the same fleets on every run. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FleetKind = 'identical' | 'random' | 'nearly-full';

function host(i: number, over: Partial<HostCapacity> = {}): HostCapacity {
  return {
    name: `cache-${String(i).padStart(5, '0')}`,
    // Loopback: nothing listens there, and nothing asked by mistake leaves the machine.
    address: `127.${100 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`,
    cpu: 32,
    memMB: 256 * 1024,
    ports: { from: 7000, to: 7999 },
    usedPorts: [],
    usedMemMB: 0,
    versions: { redis: ['7.0.15'], memcache: ['1.6.18'] },
    ...over,
  };
}

/**
 * `n` hosts. identical: 256 GB and ports 7000-7999 free everywhere. random: 64-256 GB with
 * 0-70 % already reserved, 200-1,000 ports of which up to 40 are taken. nearly-full: like random,
 * but 80 % of the hosts have room for at most two instances of `instanceMB`.
 */
export function syntheticFleet(kind: FleetKind, n: number, seed = 1, instanceMB = 282): HostCapacity[] {
  const rand = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  return Array.from({ length: n }, (_, i) => {
    if (kind === 'identical') return host(i);
    const memMB = 1024 * int(64, 256);
    const to = 7000 + int(200, 1000) - 1;
    const usedPorts = [...new Set(Array.from({ length: int(0, 40) }, () => int(7000, to)))].sort((a, b) => a - b);
    const full = kind === 'nearly-full' && rand() < 0.8;
    const usedMemMB = full ? memMB - instanceMB * int(0, 2) - int(0, instanceMB - 1) : Math.floor(memMB * rand() * 0.7);
    return host(i, { memMB, ports: { from: 7000, to }, usedPorts, usedMemMB: Math.max(0, usedMemMB) });
  });
}
