// Reads of etcd shared by the stores: a key or a prefix as JSON, many keys in few round trips.
import type { Etcd3 } from 'etcd3';
import { mapLimit } from '../util/semaphore.js';

export async function getJson<T>(c: Etcd3, key: string): Promise<T | null> {
  return (await c.get(key).json()) as T | null;
}

export async function listJson<T>(c: Etcd3, prefix: string): Promise<Record<string, T>> {
  return (await c.getAll().prefix(prefix).json()) as Record<string, T>;
}

/** Keys read 100 to a transaction (one round trip, not one per key); those that do not exist
 * are left out. */
export async function getMany(c: Etcd3, keys: string[]) {
  const batches = [];
  for (let i = 0; i < keys.length; i += 100) batches.push(keys.slice(i, i + 100));
  const got = await mapLimit(batches, 4, async (b) => {
    const res = await c.if(b[0]!, 'Create', '!=', -1).then(...b.map((k) => c.get(k))).commit();
    return res.responses.flatMap((r) => r.response_range.kvs);
  });
  return got.flat();
}

/** Sort order of keys read with their etcd create_revision (as a bigint): oldest first. */
export const oldestFirst = (a: { created: bigint }, b: { created: bigint }) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0);
