// Taking and restoring etcd snapshots over SSH: `ovl etcd snapshot`, `ovl etcd restore` and the
// snapshot bootstrap takes before it changes a running etcd.
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { HostSpec, Inventory } from '../inventory/types.js';
import { hostsOf } from '../inventory/types.js';
import { gatherFacts } from '../ops/facts.js';
import { startScript, stopScript } from '../ops/service.js';
import { pollUntil } from '../ops/wait.js';
import type { Remote } from '../ssh/remote.js';
import { shq } from '../shell.js';
import { at, clientURL, etcdAccess } from '../state/etcd.js';
import { healthy, serving } from '../state/etcd-http.js';
import { etcdService, utcStamp } from './layout.js';
import { BACKUP_DIR, SNAPSHOT_FILE, findEtcdctl, keptSnapshots, localBackupDir, restoreScript, saveScript, snapshotName, unrestoreScript } from './snapshot.js';

export interface Saved {
  host: string;
  remotePath: string;
  localPath: string;
  bytes: number;
}

/** Keep the newest `keep` local snapshots. */
function pruneLocal(dir: string, keep: number): void {
  const names = readdirSync(dir).filter((f) => SNAPSHOT_FILE.test(f)).sort();
  for (const f of names.slice(0, Math.max(0, names.length - keep))) rmSync(join(dir, f), { force: true });
}

/**
 * A snapshot through the member on `h` (which must serve), kept on its host under
 * /data/backup/etcd and copied to the operator's machine; both keep the newest N.
 */
export async function saveSnapshot(inv: Inventory, h: HostSpec, remote: Remote): Promise<Saved> {
  const name = snapshotName(h.name);
  await remote.run(saveScript(inv, h, name));
  const dir = localBackupDir(inv);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const localPath = join(dir, name);
  // It holds every cluster's plan and secrets: private from the first byte.
  const part = `${localPath}.part`;
  await remote.download(`${BACKUP_DIR}/${name}`, part);
  chmodSync(part, 0o600);
  renameSync(part, localPath);
  pruneLocal(dir, keptSnapshots(inv));
  return { host: h.name, remotePath: `${BACKUP_DIR}/${name}`, localPath, bytes: statSync(localPath).size };
}

/** The first member (in inventory order) whose etcd serves, or an error naming each one's state. */
export async function servingMember(inv: Inventory): Promise<HostSpec> {
  const members = hostsOf(inv, 'etcd');
  const [first] = await serving(etcdAccess(inv), members);
  if (!first) throw new Error(`no etcd member serves (${members.map((h) => h.name).join(', ')}): a snapshot needs one that has a quorum`);
  return first;
}


/**
 * Rebuild every member from one snapshot file on this machine: all members stop, each one's data
 * is moved aside and restored from the snapshot, all start again, and the run ends when each
 * serves. The members and their names stay those of the inventory.
 */
export async function restoreSnapshot(inv: Inventory, file: string, remoteOf: (h: HostSpec) => Promise<Remote>, log: (line: string) => void): Promise<void> {
  const members = hostsOf(inv, 'etcd');
  const stamp = utcStamp();
  const remotes = await Promise.all(members.map(remoteOf));
  const systemd = await Promise.all(remotes.map(async (r) => (await gatherFacts(r)).systemd));
  // Everything a restore needs is checked before any member stops.
  const onHost = `${BACKUP_DIR}/restore-${stamp}-${basename(file)}`;
  const scripts = members.map((h) => restoreScript(inv, h, members, onHost, stamp));
  await Promise.all(remotes.map((r) => r.run(`set -e\n${findEtcdctl(inv)}`)));
  const spec = etcdService();
  await Promise.all(remotes.map(async (r) => {
    await r.run(`mkdir -p ${BACKUP_DIR} && chmod 700 ${BACKUP_DIR}`);
    await r.upload(file, onHost, { secret: true });
    await r.run(`chmod 600 ${shq(onHost)}`);
  }));
  log(`snapshot ${basename(file)} copied to ${members.map((h) => h.name).join(', ')}`);
  await Promise.all(members.map((_, i) => remotes[i]!.run(stopScript(spec, systemd[i]!))));
  log(`etcd stopped on every member`);
  const restored = await Promise.allSettled(remotes.map((r, i) => r.run(scripts[i]!)));
  const failed = restored.flatMap((r, i) => (r.status === 'rejected' ? [`${members[i]!.name}: ${(r.reason as Error).message}`] : []));
  if (failed.length) {
    // Back to what ran before: each member's own data, started again.
    await Promise.allSettled(remotes.map((r) => r.run(unrestoreScript(stamp))));
    await Promise.allSettled(remotes.map((r, i) => r.run(startScript(spec, systemd[i]!))));
    throw new Error(`the restore failed, every member is back on its own data: ${failed.join('; ')}`);
  }
  log(`data restored on every member (the data each had is kept as /data/etcd/data.before-restore-${stamp})`);
  // Started together: a member alone has no quorum and would not serve.
  await Promise.all(members.map((_, i) => remotes[i]!.run(startScript(spec, systemd[i]!))));
  const access = etcdAccess(inv);
  await Promise.all(members.map((h) => pollUntil(() => healthy(at(access, [clientURL(h)]), clientURL(h)), 90_000, `etcd member ${h.name} serving after the restore`, 500)));
  log(`every member serves: ${members.map((h) => h.name).join(', ')}`);
}
