// The empty RDB file a new Redis instance starts from. It holds no keys, only a replication id
// and offset (RDB aux fields), the same in a master's file and in its replicas' files. Redis 7
// takes them back on start: a replica as the history it has (it asks PSYNC <id> 1), a master
// as its previous history (replid2). The first sync of every replica is then a partial one
// ("+CONTINUE", 0 bytes): no fork of the master, no RDB sent, written and loaded. A fresh
// cluster of 100 masters otherwise forks 100 masters and moves 100 RDB files while the bus mesh
// forms on the same cores. Where the id does not match (another history), Redis falls back to
// the full sync it would do anyway.

/** CRC-64/Jones as Redis computes it (reflected, no final xor): the RDB trailer. */
const TABLE = (() => {
  const poly = 0x95ac9329ac4bc9b5n; // 0xad93d23594c935a9 reflected
  const t: bigint[] = [];
  for (let n = 0n; n < 256n; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    t.push(c);
  }
  return t;
})();

export function crc64(data: Uint8Array, crc = 0n): bigint {
  for (const b of data) crc = TABLE[Number((crc ^ BigInt(b)) & 0xffn)]! ^ (crc >> 8n);
  return crc;
}

/** A string as RDB encodes it: its length (6-bit, or 14-bit big-endian), then its bytes. */
function rdbString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  if (bytes.length >= 1 << 14) throw new Error('RDB string too long');
  const len = bytes.length < 64 ? Buffer.from([bytes.length]) : Buffer.from([0x40 | (bytes.length >> 8), bytes.length & 0xff]);
  return Buffer.concat([len, bytes]);
}

const AUX = 0xfa;
const EOF = 0xff;
const REPL_ID_RE = /^[0-9a-f]{40}$/;

/**
 * An RDB file without keys whose replication history is `replId` at offset 0. Format version 10
 * (Redis 7.0, which reads every version up to its own): only Redis 7 restores a master's id from
 * the file, so the caller seeds only instances of Redis 7 or later.
 */
export function seedRdb(replId: string, redisVersion: string): Buffer {
  if (!REPL_ID_RE.test(replId)) throw new Error(`invalid replication id ${JSON.stringify(replId)} (40 hex characters)`);
  const aux = (k: string, v: string) => Buffer.concat([Buffer.from([AUX]), rdbString(k), rdbString(v)]);
  const body = Buffer.concat([
    Buffer.from('REDIS0010', 'latin1'),
    aux('redis-ver', redisVersion),
    aux('redis-bits', '64'),
    aux('repl-stream-db', '0'),
    aux('repl-id', replId),
    aux('repl-offset', '0'),
    Buffer.from([EOF]),
  ]);
  const trailer = Buffer.alloc(8);
  trailer.writeBigUInt64LE(crc64(body));
  return Buffer.concat([body, trailer]);
}
