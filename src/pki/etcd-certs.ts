// The certificates of a fleet's etcd: the CA, one certificate per member (its address and name,
// for serving clients and for its peers) and one client certificate for every ovl command.
import { isIP } from 'node:net';
import type { HostSpec, Inventory } from '../inventory/types.js';
import { ensureCA, ensureLeaf, pkiDir, type Issued, type KeyPair } from './fleet-pki.js';
import type { LeafRequest } from './openssl.js';

export interface EtcdCerts {
  dir: string;
  ca: KeyPair;
  client: Issued;
  members: Map<string, Issued>;
}

const num = (v: unknown, dflt: number) => (typeof v === 'number' ? v : dflt);

/**
 * A member's names: its address and name, and the loopback. etcd checks a peer's certificate
 * against the address the connection comes from, and a member's own connections to its peers may
 * leave from 127.0.0.1 (always on a sandbox host), as kubespray's member certificates allow too.
 */
export const memberRequest = (h: HostSpec, days: number): LeafRequest => ({
  name: h.name,
  // An inventory address may be a DNS name: it goes with the names then.
  ips: [...new Set([...(isIP(h.address) ? [h.address] : []), '127.0.0.1'])],
  dns: [...new Set([h.name, ...(isIP(h.address) ? [] : [h.address]), 'localhost'])],
  usage: 'server',
  days,
});

/** Kept or issued (`dryRun`: what would be, nothing written), for every member of `hosts`. */
export async function etcdCerts(inv: Inventory, hosts: HostSpec[], o: { dryRun?: boolean } = {}): Promise<EtcdCerts> {
  const dir = pkiDir(inv);
  const days = num(inv.vars.tls_cert_days, 825);
  const renew = num(inv.vars.tls_renew_days, 30);
  const ca = await ensureCA(dir, o);
  const client = await ensureLeaf(dir, 'client', ca, { name: 'ovl', ips: [], dns: [], usage: 'client', days }, renew, o);
  const members = new Map<string, Issued>();
  for (const h of hosts) {
    members.set(h.name, await ensureLeaf(dir, `etcd/${h.name}`, ca, memberRequest(h, days), renew, o));
  }
  return { dir, ca, client, members };
}
