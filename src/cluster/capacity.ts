// The fleet's capacity as placement sees it (fleetCapacity): the hosts bootstrap registered, less
// what their allocations hold, read from etcd or, in the leading scheduler, from the cache below.
//
// The fleet's capacity kept in memory by the leading scheduler, as Kubernetes' informers keep
// their objects: read once, then followed. On a fleet of 20,000 hosts the read that precedes a
// placement is about 5 MB from etcd (bench/state-scale.ts); from here it is a copy of two maps
// and one small read. Two ways in, each for what the other cannot see:
//  - before every read, the allocations changed since the last one (a range filtered by mod
//    revision, usually empty): what this process has just committed is seen at once, so its
//    own tasks do not conflict with each other, nor pick a port it has just taken;
//  - a watch of both prefixes, for the rest: capacity records (bootstrap) and deletions (a
//    host's last port freed, a host removed), which that range cannot return.
// Each record keeps the revision it was seen at, so an older answer never overwrites a newer.
// When a watch fails (its revision compacted) the cache is read again from scratch, and until
// then placements read etcd directly. Commits stay guarded by the allocations' revisions.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { allocPrefix, capacityPrefix, type HostCapacityRecord } from '../state/keys.js';
import type { HostCapacity } from './types.js';

/** /overlord/alloc/<host>: "port" -> the cluster and memory holding it. */
export type HostAlloc = Record<string, { cluster: string; memMB: number }>;

/** The hosts as placement sees them, and each host's allocation as read, with its revision. */
export interface FleetRead {
  hosts: HostCapacity[];
  revisions: Map<string, string>;
  /** The allocations themselves, when read with the revisions (commitPlan then need not read them again). */
  allocs?: Map<string, HostAlloc>;
}

/** Fleet capacity registered by bootstrap, minus what the allocations hold (from the leading
 * scheduler's cache when it keeps one). */
export async function fleetCapacity(c: Etcd3): Promise<FleetRead> {
  const cached = await cachedCapacity(c);
  if (cached) return cached;
  const [capRes, allocRes] = await Promise.all([c.getAll().prefix(capacityPrefix).exec(), c.getAll().prefix(allocPrefix).exec()]);
  const allocs = new Map<string, { alloc: HostAlloc; rev: string }>();
  for (const kv of allocRes.kvs) allocs.set(kv.key.toString().slice(allocPrefix.length), { alloc: JSON.parse(kv.value.toString()) as HostAlloc, rev: String(kv.mod_revision) });
  return hostsOf(capRes.kvs.map((kv) => JSON.parse(kv.value.toString()) as HostCapacityRecord), allocs);
}

/** The hosts as placement sees them: registered capacity less the allocations. */
export function hostsOf(caps: HostCapacityRecord[], allocs: Map<string, { alloc: HostAlloc; rev: string }>): FleetRead {
  const hosts = caps.map((cap) => {
    const a = allocs.get(cap.host)?.alloc;
    const usedPorts: number[] = [];
    let usedMemMB = 0;
    for (const p in a) {
      usedPorts.push(Number(p));
      usedMemMB += a[p]!.memMB;
    }
    return { name: cap.host, address: cap.address, cpu: cap.cpu, memMB: cap.memMB, ports: cap.ports, usedPorts, usedMemMB, versions: cap.versions };
  });
  const revisions = new Map<string, string>();
  const allocOf = new Map<string, HostAlloc>();
  for (const [h, v] of allocs) {
    revisions.set(h, v.rev);
    allocOf.set(h, v.alloc);
  }
  return { hosts, revisions, allocs: allocOf };
}

const caches = new WeakMap<Etcd3, CapacityCache>();

/** The cache following this client's etcd, brought up to date, if one is live. */
async function cachedCapacity(c: Etcd3): Promise<FleetRead | undefined> {
  const cache = caches.get(c);
  if (!cache?.live) return undefined;
  await cache.catchUp();
  return cache.live ? cache.read() : undefined;
}

interface Entry<T> {
  value: T;
  rev: bigint;
}

export class CapacityCache {
  private readonly caps = new Map<string, Entry<HostCapacityRecord>>();
  private readonly allocs = new Map<string, Entry<HostAlloc>>();
  /** Revisions of deletions seen, so that an older put read later does not bring a record back. */
  private readonly gone = new Map<string, bigint>();
  private watchers: Watcher[] = [];
  /** Every put up to this revision has been applied. */
  private seen = 0n;
  private closed = false;
  /** Following etcd; false while being read again after a failed watch, and once closed. */
  live = false;

  private constructor(
    private readonly c: Etcd3,
    private readonly log: (line: string) => void,
  ) {}

  /** Read both prefixes at one revision and follow them from there; fleetCapacity(c) uses it. */
  static async follow(c: Etcd3, log: (line: string) => void): Promise<CapacityCache> {
    const cache = new CapacityCache(c, log);
    await cache.load();
    caches.set(c, cache);
    return cache;
  }

  private async load(): Promise<void> {
    this.caps.clear();
    this.allocs.clear();
    this.gone.clear();
    const first = await this.c.getAll().prefix(capacityPrefix).exec();
    const rev = first.header.revision;
    const second = await this.c.getAll().prefix(allocPrefix).revision(rev).exec();
    for (const kv of [...first.kvs, ...second.kvs]) this.put(kv);
    this.seen = BigInt(rev);
    const from = String(this.seen + 1n);
    const watchers: Watcher[] = [];
    for (const prefix of [capacityPrefix, allocPrefix]) {
      const w = await this.c.watch().prefix(prefix).startRevision(from).create();
      w.on('put', (kv) => this.put(kv))
        .on('delete', (kv) => this.delete(kv))
        // A watch that cannot go on (its revision compacted): read everything again.
        .on('error', (e: Error) => void this.reload(`watch of ${prefix}: ${e.message}`));
      watchers.push(w);
    }
    this.watchers = watchers;
    this.live = !this.closed;
  }

  private async reload(why: string): Promise<void> {
    if (!this.live) return;
    this.live = false;
    this.log(`capacity cache: ${why}; placements read etcd until it is read again`);
    await Promise.all(this.watchers.map((w) => w.cancel().catch(() => undefined)));
    for (let pause = 1000; !this.closed; pause = Math.min(pause * 2, 30_000)) {
      try {
        await this.load();
        return;
      } catch (e) {
        this.log(`capacity cache: ${(e as Error).message}; trying again`);
        await new Promise((r) => setTimeout(r, pause).unref());
      }
    }
  }

  private mapOf(key: string): [Map<string, Entry<unknown>>, string] | undefined {
    if (key.startsWith(capacityPrefix)) return [this.caps, key.slice(capacityPrefix.length)];
    if (key.startsWith(allocPrefix)) return [this.allocs, key.slice(allocPrefix.length)];
    return undefined;
  }

  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const at = this.mapOf(key);
    const rev = BigInt(kv.mod_revision);
    if (!at || (at[0].get(at[1])?.rev ?? 0n) >= rev || (this.gone.get(key) ?? 0n) >= rev) return;
    try {
      at[0].set(at[1], { value: JSON.parse(kv.value.toString()), rev });
    } catch (e) {
      // Not what bootstrap or a task writes: placement does without that record.
      this.log(`capacity cache: ${key}: ${(e as Error).message}; left out`);
    }
  }

  private delete(kv: IKeyValue): void {
    const key = kv.key.toString();
    const at = this.mapOf(key);
    const rev = BigInt(kv.mod_revision);
    if (!at || (at[0].get(at[1])?.rev ?? 0n) >= rev) return;
    at[0].delete(at[1]);
    this.gone.set(key, rev);
  }

  /** Apply the allocations written since the last read (the watch may not have brought them
   * yet). Capacity records change with bootstrap only: the watch brings those. */
  async catchUp(): Promise<void> {
    const res = await this.c.getAll().prefix(allocPrefix).minModRevision(String(this.seen + 1n)).exec();
    for (const kv of res.kvs) this.put(kv);
    if (BigInt(res.header.revision) > this.seen) this.seen = BigInt(res.header.revision);
  }

  /** What fleetCapacity would read (its allocations are the cache's own: not to be changed). */
  read(): FleetRead {
    return hostsOf(
      [...this.caps.values()].map((e) => e.value),
      new Map([...this.allocs].map(([h, e]) => [h, { alloc: e.value, rev: String(e.rev) }])),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    caches.delete(this.c);
    await Promise.all(this.watchers.map((w) => w.cancel().catch(() => undefined)));
  }
}
