// Moving hash slots between masters of a live Redis Cluster, by the standard protocol (as
// redis-cli --cluster does): IMPORTING on the target, MIGRATING on the source, MIGRATE ... KEYS
// in batches, then SETSLOT NODE on the target, the source and every other master. Clients are
// redirected meanwhile (ASK, then MOVED), so nothing they acknowledged is lost.
//
// Every step may be asked again after a crash: a move begins by reading who holds its slots
// now (a slot the target holds already is only announced again; one still open is migrated
// again), MIGRATE REPLACEs (a key the source still holds is the current one: while the slot
// migrates, the source answers for every key it has), and SETSLOT NODE is the same each time.
import { Redis } from 'ioredis';
import { adminClient, ownLine } from './admin.js';
import { authArgs, type ClusterAuth } from './auth.js';
import { parseClusterNodes, type NodeLine } from './nodes-line.js';
import { slotList, toRanges, type SlotMove } from './reshard.js';
import { Semaphore } from '../util/semaphore.js';

export interface SlotNode {
  id: string;
  address: string;
  port: number;
}

/** A move with how many of its slots (in slotList order) are done. */
export interface MoveProgress extends SlotMove {
  done: number;
  keys: number;
}

export interface MigrateOptions {
  auth?: ClusterAuth;
  /** Every master after the change: each learns the new owner of every slot moved. */
  masters: SlotNode[];
  /** Moves at once (different source/target pairs); default 8. */
  concurrency?: number;
  /** A slot of `move` is done (its progress updated in place). */
  onSlot?: (move: MoveProgress, keys: number) => void;
  /** Fault points for the tests of resuming ('importing', 'migrated-batch'). */
  pause?: (point: string) => Promise<void>;
  signal?: AbortSignal;
}

/** Keys asked for at once; a batch sent with MIGRATE is cut by their size as well. */
const SCAN_KEYS = 1000;
/** Bytes per MIGRATE batch: one batch of small keys, a big key alone. */
const BATCH_BYTES = 4 << 20;
/** Keys are sized one by one (MEMORY USAGE) where the source's average key (MEMORY STATS) is at
 * least this big; below, by that average: a MEMORY USAGE per small key cost the source and ovl more
 * than the MIGRATEs themselves (docs/benchmarks.md), and a rare big key then goes with up to a
 * batch of small ones. */
const SIZE_EACH_FROM = 1024;
/** Bytes of MIGRATE batches sent back to back in one round trip. */
const ROUND_BYTES = 16 << 20;
/** Slots of a move handled together: one round trip per protocol step for all of them, and one
 * nodes.conf write (with its fsync) per node instead of one per slot. */
const GROUP = 32;
/** MIGRATE's own timeout is the longest idle moment of its connection to the target, ms. */
const MIGRATE_IDLE_MS = 60_000;

/** One connection per node for the whole migration, with room for a big key's MIGRATE. */
class Connections {
  private readonly open = new Map<string, Promise<Redis>>();
  constructor(private readonly auth?: ClusterAuth) {}
  get(n: SlotNode): Promise<Redis> {
    const key = `${n.address}:${n.port}`;
    let c = this.open.get(key);
    if (!c) {
      const r = adminClient(n, { auth: this.auth, answerMs: MIGRATE_IDLE_MS * 2 });
      c = r.connect().then(() => r);
      c.catch(() => this.open.delete(key));
      this.open.set(key, c);
    }
    return c;
  }
  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((p) => p.then((r) => r.disconnect(), () => undefined)));
    this.open.clear();
  }
}

const slotsOf = (line: NodeLine | undefined): Set<number> => {
  const out = new Set<number>();
  for (const part of (line?.slots ?? '').split(' ')) {
    if (!part || part.startsWith('[')) continue; // [slot->-id] / [slot-<-id]: open, not held
    const [a, b] = part.split('-').map(Number);
    for (let s = a!; s <= (b ?? a!); s++) out.add(s);
  }
  return out;
};

async function ownSlots(c: Redis): Promise<Set<number>> {
  return slotsOf(await ownLine(c));
}

/**
 * Run every move (resumed from its `done`); slots of one move go one after another. When one
 * move fails the others stop at their next slot, and the first error is thrown once all stopped.
 */
export async function runMoves(moves: MoveProgress[], nodes: Map<string, SlotNode>, o: MigrateOptions): Promise<void> {
  const conns = new Connections(o.auth);
  let failed: Error | undefined;
  const sem = new Semaphore(o.concurrency ?? 8);
  try {
    await Promise.allSettled(
      moves
        .filter((m) => m.done < slotList(m.slots).length)
        .map((m) =>
          sem.run(async () => {
            if (failed) return;
            await runMove(m, nodes, conns, o, () => !!failed).catch((e: Error) => {
              failed ??= e;
            });
          }),
        ),
    );
  } finally {
    await conns.close();
  }
  if (failed) throw failed;
}

async function runMove(move: MoveProgress, nodes: Map<string, SlotNode>, conns: Connections, o: MigrateOptions, halted: () => boolean): Promise<void> {
  const node = (id: string) => {
    const n = nodes.get(id);
    if (!n) throw new Error(`migration names node ${id}, which is not in the plan`);
    return n;
  };
  const src = node(move.from);
  const dst = node(move.to);
  const [sc, dc] = await Promise.all([conns.get(src), conns.get(dst)]);
  const perKey = await bytesPerKey(sc);
  // Who holds what now: after a crash some slots of the move may be the target's already.
  const [srcHeld, dstHeld] = await Promise.all([ownSlots(sc), ownSlots(dc)]);
  const slots = slotList(move.slots);
  await targetSeesSource(dc, src, slots.slice(move.done).filter((x) => !dstHeld.has(x) && srcHeld.has(x)), o);
  const told: Promise<void>[] = [];
  for (let k = move.done; k < slots.length; k += GROUP) {
    if (o.signal?.aborted || halted()) throw new Error('migration stopped');
    const group = slots.slice(k, k + GROUP);
    const open = group.filter((x) => !dstHeld.has(x));
    const lost = open.filter((x) => !srcHeld.has(x));
    if (lost.length) throw new Error(`slot ${lost[0]} is held by neither ${src.address}:${src.port} nor ${dst.address}:${dst.port}: the cluster changed under the migration (ovl cluster check shows who holds it)`);
    const keys = open.length ? await migrateGroup(open, src, dst, sc, dc, perKey, o) : 0;
    await announce(group, src, dst, sc, dc, conns, o, told);
    move.done = k + group.length;
    move.keys += keys;
    o.onSlot?.(move, keys);
  }
  await Promise.all(told);
}

/** Commands sent in one round trip; the first error is thrown. */
async function pipelined(c: Redis, commands: string[][]): Promise<unknown[]> {
  const p = c.pipeline();
  for (const [name, ...args] of commands) p.call(name!, ...args);
  const res = (await p.exec()) ?? [];
  const failed = res.find(([e]) => e);
  if (failed) throw failed[0];
  return res.map(([, v]) => v);
}

/** How long a target may take to learn who holds the slots it is to import (a ping round or two). */
const LEARN_MS = 30_000;

/**
 * Wait until the target knows the source holds `slots`. A node asked to import a slot whose
 * owner it has not heard of yet never learns it (Redis skips the slots it imports when it reads
 * a ping) and stays cluster_state:fail, answering CLUSTERDOWN to MIGRATE: such a slot (left by
 * a run interrupted after IMPORTING) is made stable again on the target first.
 */
async function targetSeesSource(dc: Redis, src: SlotNode, slots: number[], o: MigrateOptions): Promise<void> {
  const deadline = Date.now() + LEARN_MS;
  for (;;) {
    const view = parseClusterNodes(String(await dc.call('CLUSTER', 'NODES')));
    const seen = slotsOf(view.get(src.id));
    const unseen = slots.filter((x) => !seen.has(x));
    if (!unseen.length) return;
    const own = [...view.values()].find((n) => n.flags.includes('myself'));
    const importing = new Set([...(own?.slots ?? '').matchAll(/\[(\d+)-<-/g)].map((m) => Number(m[1])));
    for (const x of unseen.filter((y) => importing.has(y))) await dc.call('CLUSTER', 'SETSLOT', String(x), 'STABLE');
    if (Date.now() > deadline) throw new Error(`${src.address}:${src.port} holds slot ${unseen[0]} (and ${unseen.length - 1} more) but the target has not learned it within ${LEARN_MS / 1000} s`);
    if (o.signal?.aborted) throw new Error('migration stopped');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The source's average bytes per key (MEMORY STATS keys.bytes-per-key), at least 1. */
async function bytesPerKey(c: Redis): Promise<number> {
  const stats = (await c.call('MEMORY', 'STATS')) as unknown[];
  const at = stats.indexOf('keys.bytes-per-key');
  return Math.max(1, Number(at >= 0 ? stats[at + 1] : 1) || 1);
}

/**
 * IMPORTING and MIGRATING for a group of slots, then every key of them moved: one round trip per
 * step for the whole group, MIGRATE batches of BATCH_BYTES (keys sized one by one, or at `perKey`
 * bytes each; see SIZE_EACH_FROM) sent back to back. Returns the keys moved.
 */
async function migrateGroup(slots: number[], src: SlotNode, dst: SlotNode, sc: Redis, dc: Redis, perKey: number, o: MigrateOptions): Promise<number> {
  await pipelined(dc, slots.map((x) => ['CLUSTER', 'SETSLOT', String(x), 'IMPORTING', src.id]));
  await o.pause?.('importing');
  await pipelined(sc, slots.map((x) => ['CLUSTER', 'SETSLOT', String(x), 'MIGRATING', dst.id]));
  // MIGRATE logs in on the target as ovl does: AUTH2 user password on ACL clusters (Redis 6+).
  const login = authArgs(o.auth);
  const auth = login.length === 2 ? ['AUTH2', ...login] : login.length ? ['AUTH', ...login] : [];
  let moved = 0;
  let pending = slots;
  while (pending.length) {
    const found = (await pipelined(sc, pending.map((x) => ['CLUSTER', 'GETKEYSINSLOT', String(x), String(SCAN_KEYS)]))) as string[][];
    // While a slot migrates the source gets no new key of it (a client writing a key it does not
    // have is sent to the target), so a short answer was the slot's last.
    const more = pending.filter((_, i) => found[i]!.length === SCAN_KEYS);
    const withKeys = found.filter((k) => k.length);
    if (withKeys.length) {
      // Batches never mix slots (MIGRATE's keys share one slot); rounds of them go back to back.
      const sizes = perKey >= SIZE_EACH_FROM ? (await pipelined(sc, withKeys.flat().map((k) => ['MEMORY', 'USAGE', k]))).map((v) => Number(v ?? 0)) : withKeys.flat().map(() => perKey);
      let at = 0;
      const batches = withKeys.flatMap((keys) => cut(keys, sizes.slice(at, (at += keys.length))));
      for (const round of cut(batches, batches.map((b) => b.bytes), ROUND_BYTES)) {
        const replies = await pipelined(sc, round.items.map((b) => ['MIGRATE', dst.address, String(dst.port), '', '0', String(MIGRATE_IDLE_MS), ...auth, 'REPLACE', 'KEYS', ...b.items]));
        const bad = replies.find((r) => r !== 'OK' && r !== 'NOKEY');
        if (bad !== undefined) throw new Error(`MIGRATE to ${dst.address}:${dst.port} answered ${String(bad)}`);
        moved += round.items.reduce((n, b) => n + b.items.length, 0);
        await o.pause?.('migrated-batch');
      }
    }
    pending = more;
  }
  return moved;
}

/** Items cut into runs of at most `limit` bytes (an item bigger than that goes alone). */
function cut<T>(items: T[], sizes: number[], limit = BATCH_BYTES): { items: T[]; bytes: number }[] {
  const out: { items: T[]; bytes: number }[] = [];
  let cur: { items: T[]; bytes: number } = { items: [], bytes: 0 };
  items.forEach((item, i) => {
    const b = sizes[i] ?? 0;
    if (cur.items.length && cur.bytes + b > limit) {
      out.push(cur);
      cur = { items: [], bytes: 0 };
    }
    cur.items.push(item);
    cur.bytes += b;
  });
  if (cur.items.length) out.push(cur);
  return out;
}

/** The target, then the source, then every other master: the group's slots are the target's. */
async function announce(slots: number[], src: SlotNode, dst: SlotNode, sc: Redis, dc: Redis, conns: Connections, o: MigrateOptions, told: Promise<void>[]): Promise<void> {
  const setNode = (c: Redis) => pipelined(c, slots.map((x) => ['CLUSTER', 'SETSLOT', String(x), 'NODE', dst.id]));
  await setNode(dc);
  await o.pause?.('target-owns');
  // A source that gave its last slot may have become a replica of the target already (Redis 7's
  // cluster-allow-replica-migration): it holds nothing more to announce to.
  await setNode(sc).catch((e: Error) => {
    if (!/only with masters/i.test(e.message)) throw e;
  });
  // The other masters are told without waiting (a redirection is all they would give meanwhile);
  // one that does not answer learns it from the target's gossip (its epoch is higher).
  const others = o.masters.filter((m) => m.id !== dst.id && m.id !== src.id);
  told.push(...others.map((m) => conns.get(m).then(setNode).then(() => undefined, () => undefined)));
}

/** What every master holds now (its own CLUSTER NODES line), by node id. */
export async function liveOwners(masters: SlotNode[], auth?: ClusterAuth): Promise<Map<string, [number, number][]>> {
  const out = new Map<string, [number, number][]>();
  await Promise.all(
    masters.map(async (m) => {
      const c = adminClient(m, { auth });
      try {
        await c.connect();
        out.set(m.id, toRanges(await ownSlots(c)));
      } finally {
        c.disconnect();
      }
    }),
  );
  return out;
}

/** Slots left open (migrating or importing) on any of `nodes`: `slot` -> the node saying so. */
export async function openSlots(nodes: SlotNode[], auth?: ClusterAuth): Promise<string[]> {
  const out: string[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      const c = adminClient(n, { auth });
      try {
        await c.connect();
        const own = await ownLine(c);
        for (const part of (own?.slots ?? '').split(' ')) if (part.startsWith('[')) out.push(`${n.address}:${n.port} ${part}`);
      } finally {
        c.disconnect();
      }
    }),
  );
  return out;
}
