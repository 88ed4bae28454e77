import { randomBytes } from 'node:crypto';

export const NODE_ID_RE = /^[0-9a-f]{40}$/;

// Random bytes fetched 512 ids at a time: one call per id was most of the time of placing
// 16,384 masters.
let pool = Buffer.alloc(0);
let at = 0;

/** A fresh Redis Cluster node id: 40 lowercase hex characters from 20 random bytes. */
export function newNodeId(): string {
  if (at + 20 > pool.length) {
    pool = randomBytes(20 * 512);
    at = 0;
  }
  at += 20;
  return pool.toString('hex', at - 20, at);
}

/** A source of ids that never repeats one (a collision of 160 random bits is only theoretical,
 * but a repeated node id would corrupt a cluster, so it is checked anyway). */
export function nodeIdSource(gen: () => string = newNodeId): () => string {
  const seen = new Set<string>();
  return () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = gen();
      if (gen !== newNodeId && !NODE_ID_RE.test(id)) throw new Error(`invalid node id ${JSON.stringify(id)}`);
      if (!seen.has(id)) {
        seen.add(id);
        return id;
      }
    }
    throw new Error('node id generator keeps repeating ids');
  };
}
