// `ovl etcd snapshot` and `ovl etcd restore`: the fleet's state store saved, and rebuilt from a save.
import { existsSync } from 'node:fs';
import { saveSnapshot, restoreSnapshot, servingMember } from '../etcd/backup.js';
import { localBackupDir } from '../etcd/snapshot.js';
import { Fleet } from '../cluster/fleet.js';
import { UsageError } from './errors.js';
import { loadInventory } from './cluster.js';

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

export async function etcdSnapshot(o: { inventory?: string }, out: (line: string) => void): Promise<number> {
  const inv = loadInventory(o.inventory);
  const h = await servingMember(inv);
  const fleet = new Fleet(inv);
  try {
    const s = await saveSnapshot(inv, h, await fleet.remote(h.name));
    out(`etcd snapshot from ${s.host}: ${s.remotePath} on ${s.host}, copied to ${s.localPath} (${mb(s.bytes)})`);
    return 0;
  } finally {
    await fleet.close();
  }
}

export async function etcdRestore(file: string, o: { inventory?: string; yes?: boolean }, out: (line: string) => void): Promise<number> {
  const inv = loadInventory(o.inventory);
  if (!existsSync(file)) throw new UsageError(`${file}: no such snapshot file (\`ovl etcd snapshot\` saves them under ${localBackupDir(inv)}/)`);
  if (!o.yes) {
    throw new UsageError(
      `a restore replaces what etcd holds now (every cluster's plan, tasks and allocations) with what ${file} holds, on every member; ` +
        'each member\'s data is kept aside. Run it again with --yes to do it',
    );
  }
  const fleet = new Fleet(inv);
  try {
    await restoreSnapshot(inv, file, (h) => fleet.remote(h.name), out);
    out(`etcd restored from ${file}`);
    return 0;
  } finally {
    await fleet.close();
  }
}
