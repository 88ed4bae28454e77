// The certificates of the fleet's Redis instances for clusters created with --tls: one per cache
// host (its address and name), for serving clients and as the client side of replication and the
// cluster bus, and ovl's own client certificate for them. They come from a CA of their own
// (redis-ca): etcd trusts every certificate its CA signed, and a key on a cache host (readable by
// whoever is root there) must not open etcd. `ovl bootstrap` keeps them in the PKI directory
// (redis-ca.crt, redis/<host>.crt, redis/client.crt) and puts the host's on it (remote.tls).
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { HostSpec, Inventory } from '../inventory/types.js';
import { mapLimit } from '../util/semaphore.js';
import { ensureCA, ensureLeaf, pkiDir, type Issued, type KeyPair } from './fleet-pki.js';
import type { LeafRequest } from './openssl.js';

const num = (v: unknown, dflt: number) => (typeof v === 'number' ? v : dflt);

export const hostRequest = (h: Pick<HostSpec, 'name' | 'address'>, days: number): LeafRequest => ({
  name: h.name,
  ips: isIP(h.address) ? [h.address] : [],
  dns: [...new Set([h.name, ...(isIP(h.address) ? [] : [h.address])])],
  usage: 'server',
  days,
});

export interface RedisCerts {
  ca: KeyPair;
  hosts: Map<string, Issued>;
}

export const REDIS_CA = 'redis-ca';

/**
 * Kept or issued (`dryRun`: what would be, nothing written) for every host of `hosts`, only once
 * the fleet CA exists: the etcd component makes it, or refuses when the PKI directory that
 * bootstrapped a running fleet is missing; a Redis CA made beside nothing would be a second one.
 */
export async function redisCerts(inv: Inventory, hosts: HostSpec[], o: { dryRun?: boolean } = {}): Promise<RedisCerts | undefined> {
  const dir = pkiDir(inv);
  if (!existsSync(join(dir, 'ca.crt'))) return undefined;
  const ca = await ensureCA(dir, { ...o, name: REDIS_CA });
  const days = num(inv.vars.tls_cert_days, 825);
  const renew = num(inv.vars.tls_renew_days, 30);
  const signed = { ...o, caName: REDIS_CA };
  await ensureLeaf(dir, 'redis/client', ca, { name: 'ovl', ips: [], dns: [], usage: 'client', days }, renew, signed);
  const out = new Map<string, Issued>();
  await mapLimit(hosts, 8, async (h) => {
    out.set(h.name, await ensureLeaf(dir, `redis/${h.name}`, ca, hostRequest(h, days), renew, signed));
  });
  return { ca, hosts: out };
}

/** What ovl's connections to a TLS cluster's instances need, read from the PKI directory. */
export interface RedisTls {
  /** The Redis CA (PEM) the instances' certificates are checked against. */
  ca: string;
  /** ovl's client certificate for Redis (not the one it shows etcd). */
  client: KeyPair;
}

export function readRedisTls(dir: string): RedisTls {
  const read = (f: string) => {
    const path = join(dir, f);
    if (!existsSync(path)) throw new Error(`${path} is missing (a TLS cluster's instances are reached with it): \`ovl bootstrap\` makes it; on another machine, copy the PKI directory`);
    return readFileSync(path, 'utf8');
  };
  return { ca: read(`${REDIS_CA}.crt`), client: { cert: read('redis/client.crt'), key: read('redis/client.key') } };
}
