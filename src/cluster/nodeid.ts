import { randomBytes } from 'node:crypto';

export const NODE_ID_RE = /^[0-9a-f]{40}$/;

/** A fresh Redis Cluster node id: 40 lowercase hex characters from 20 random bytes. */
export function newNodeId(): string {
  return randomBytes(20).toString('hex');
}

/** A source of ids that never repeats one (a collision of 160 random bits is only theoretical,
 * but a repeated node id would corrupt a cluster, so it is checked anyway). */
export function nodeIdSource(gen: () => string = newNodeId): () => string {
  const seen = new Set<string>();
  return () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = gen();
      if (!NODE_ID_RE.test(id)) throw new Error(`invalid node id ${JSON.stringify(id)}`);
      if (!seen.has(id)) {
        seen.add(id);
        return id;
      }
    }
    throw new Error('node id generator keeps repeating ids');
  };
}
