// Files `ovl sandbox up` writes for the user: the inventory and its known_hosts.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { render } from '../templates.js';
import type { Log, SandboxInfo } from './types.js';
import { layout } from './state.js';
import type { LocalArtifacts } from './preconditions.js';

const INVENTORY_HEADER = '# Written by `ovl sandbox up`';

/** The sandbox's PKI directory sits beside its known_hosts: <name>.pki. */
const pkiOf = (knownHosts: string) => knownHosts.replace(/\.known_hosts$/, '.pki');

export function writeInventory(info: SandboxInfo, art: LocalArtifacts): void {
  mkdirSync(dirname(info.inventory), { recursive: true });
  const hostKeys = info.hosts.map((h) => {
    const [keyType, keyBlob] = readFileSync(`${layout(h).hostKey}.pub`, 'utf8').trim().split(/\s+/);
    if (!keyType || !keyBlob) throw new Error(`${layout(h).hostKey}.pub: not a public key`);
    return { address: h.address, keyType, keyBlob };
  });
  writeFileSync(info.knownHosts, render('sandbox-known_hosts.hbs', { name: info.name, hosts: hostKeys }));
  writeFileSync(
    info.inventory,
    render('sandbox-inventory.yml.hbs', {
      name: info.name,
      fleetKey: info.fleetKey,
      knownHosts: basename(info.knownHosts),
      pkiDir: basename(pkiOf(info.knownHosts)),
      versions: art.versions,
      bins: art.bins,
      hosts: info.hosts.map((h) => ({ name: h.name, address: h.address })),
      etcdHosts: info.hosts.slice(0, info.hosts.length >= 3 ? 3 : 1).map((h) => h.name),
    }),
  );
}

export function removeWritten(inventory: string, knownHosts: string, log: Log): void {
  if (existsSync(inventory)) {
    if (readFileSync(inventory, 'utf8').startsWith(INVENTORY_HEADER)) {
      rmSync(inventory, { force: true });
      log(`removed ${inventory}`);
    } else {
      log(`left ${inventory} alone: it was not written by \`ovl sandbox up\``);
    }
  }
  if (existsSync(knownHosts)) {
    rmSync(knownHosts, { force: true });
    log(`removed ${knownHosts}`);
  }
  const pki = pkiOf(knownHosts);
  if (existsSync(pki)) {
    rmSync(pki, { recursive: true, force: true });
    log(`removed ${pki} (the sandbox fleet's CA and certificates)`);
  }
  const backups = inventory.replace(/\.[^./]+$/, '.backup');
  if (backups !== inventory && existsSync(backups)) {
    rmSync(backups, { recursive: true, force: true });
    log(`removed ${backups} (the sandbox fleet's etcd snapshots)`);
  }
}
