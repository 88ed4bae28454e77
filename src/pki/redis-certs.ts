// The certificates of the fleet's Redis instances for clusters created with --tls: one per cache
// host (its address and name), for serving clients and as the client side of replication and the
// cluster bus, signed by the fleet CA etcd's certificates come from. `ovl bootstrap` keeps them in
// the PKI directory (redis/<host>.crt, .key) and puts them on the hosts (remote.tls); ovl's own
// connections to TLS clusters use the CA and its client certificate.
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

/**
 * Kept or issued (`dryRun`: what would be, nothing written) for every host of `hosts`, only once
 * the fleet CA exists: the etcd component makes it (or refuses when it should not), and a second
 * CA made here would not be the one etcd and ovl's client certificate belong to.
 */
export async function redisCerts(inv: Inventory, hosts: HostSpec[], o: { dryRun?: boolean } = {}): Promise<RedisCerts | undefined> {
  const dir = pkiDir(inv);
  if (!existsSync(join(dir, 'ca.crt'))) return undefined;
  const ca = await ensureCA(dir, o);
  const out = new Map<string, Issued>();
  await mapLimit(hosts, 8, async (h) => {
    out.set(h.name, await ensureLeaf(dir, `redis/${h.name}`, ca, hostRequest(h, num(inv.vars.tls_cert_days, 825)), num(inv.vars.tls_renew_days, 30), o));
  });
  return { ca, hosts: out };
}

/** What ovl's connections to a TLS cluster's instances need, read from the PKI directory. */
export interface RedisTls {
  /** The fleet CA (PEM) the instances' certificates are checked against. */
  ca: string;
  /** ovl's client certificate (the one it shows etcd). */
  client: KeyPair;
}

export function readRedisTls(dir: string): RedisTls {
  const read = (f: string) => {
    const path = join(dir, f);
    if (!existsSync(path)) throw new Error(`${path} is missing (a TLS cluster's instances are reached with it): \`ovl bootstrap\` makes it; on another machine, copy the PKI directory`);
    return readFileSync(path, 'utf8');
  };
  return { ca: read('ca.crt'), client: { cert: read('client.crt'), key: read('client.key') } };
}
