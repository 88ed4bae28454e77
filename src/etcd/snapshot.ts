// etcd snapshots: what to run on a member's host to save one (and keep the newest N), and to
// rebuild a member's data from one. Scripts only; src/etcd/backup.ts runs them.
import { basename, dirname, extname, join } from 'node:path';
import type { HostSpec, Inventory } from '../inventory/types.js';
import { argv, shq } from '../shell.js';
import { clientURL, etcdTls, peerURL } from '../state/etcd.js';
import { ETCD_DATA_DIR, ETCD_TLS, utcStamp } from './layout.js';

export const BACKUP_DIR = '/data/backup/etcd';
/** A snapshot's file name (snapshotName): what pruning counts, here and on the operator's machine. */
export const SNAPSHOT_FILE = /^etcd-[0-9TZ]+-.*\.db$/;

/** Snapshots kept on each member's host and on the operator's machine. */
export const keptSnapshots = (inv: Inventory) => (typeof inv.vars.etcd_snapshots_kept === 'number' ? inv.vars.etcd_snapshots_kept : 10);

/** The operator's copies: `<inventory>.backup/etcd/` beside the inventory. */
export const localBackupDir = (inv: Inventory) => join(dirname(inv.file), `${basename(inv.file, extname(inv.file))}.backup`, 'etcd');

/**
 * Sets $e to an etcdctl on the host: the inventory's version's, else the newest one installed (a
 * snapshot before an upgrade is taken before the new binaries are pushed); fails naming the fix.
 */
export function findEtcdctl(inv: Inventory): string {
  const a = inv.artifacts.etcd?.[0];
  const wanted = a ? `/data/lib/etcd/${a.version}/bin/etcdctl` : '';
  return [
    `e=${shq(wanted)}`,
    `[ -x "$e" ] || e=$(ls -1 /data/lib/etcd/*/bin/etcdctl 2>/dev/null | sort -V | tail -n 1)`,
    `[ -n "$e" ] || { echo 'no etcdctl under /data/lib/etcd/*/bin: list it in the etcd artifact (files: { etcd: ..., etcdctl: ... }) and run ovl bootstrap' >&2; exit 1; }`,
  ].join('\n');
}

/** "etcd-20261205T231500Z-h1.db": names sort by time. */
export function snapshotName(host: string, now = new Date()): string {
  return `etcd-${utcStamp(now)}-${host}.db`;
}

/** etcdctl ($e, see findEtcdctl) talking to the member on h. */
function etcdctl(h: HostSpec, ...args: string[]): string {
  const tls = etcdTls(h.vars) ? [`--cacert=${ETCD_TLS.ca}`, `--cert=${ETCD_TLS.cert}`, `--key=${ETCD_TLS.key}`] : [];
  return `ETCDCTL_API=3 "$e" ${argv(`--endpoints=${clientURL(h)}`, '--dial-timeout=5s', '--command-timeout=60s', ...tls, ...args)}`;
}

/** Keep the newest `keep` snapshots in a directory (by name, which sorts by time). */
export function pruneScript(dir: string, keep: number): string {
  return `ls -1 ${shq(dir)} | grep -E ${shq(SNAPSHOT_FILE.source)} | sort | head -n -${keep} | while read -r f; do rm -f -- ${shq(dir)}/"$f"; done`;
}

/** Save a snapshot of the cluster through the member on `h`, private to root, then prune. */
export function saveScript(inv: Inventory, h: HostSpec, name: string): string {
  const path = `${BACKUP_DIR}/${name}`;
  return [
    'set -e',
    'umask 077',
    argv('mkdir', '-p', BACKUP_DIR),
    argv('chmod', '700', BACKUP_DIR),
    findEtcdctl(inv),
    `${etcdctl(h, 'snapshot', 'save', path)} >/dev/null`,
    pruneScript(BACKUP_DIR, keptSnapshots(inv)),
  ].join('\n');
}

/**
 * Rebuild the member's data directory from a snapshot already on its host: the data it had is
 * moved aside (kept, never deleted), then etcdctl restores with the member's name and the
 * cluster's members, as every member must.
 */
export function restoreScript(inv: Inventory, h: HostSpec, members: HostSpec[], snapshot: string, stamp: string): string {
  const initial = members.map((m) => `${m.name}=${peerURL(m)}`).join(',');
  return [
    'set -e',
    findEtcdctl(inv),
    `if [ -e ${shq(ETCD_DATA_DIR)} ]; then ${argv('mv', ETCD_DATA_DIR, `${ETCD_DATA_DIR}.before-restore-${stamp}`)}; fi`,
    `ETCDCTL_API=3 "$e" ${argv('snapshot', 'restore', snapshot, `--name=${h.name}`, `--initial-cluster=${initial}`,
      `--initial-cluster-token=${String(h.vars.etcd_cluster_token)}`, `--initial-advertise-peer-urls=${peerURL(h)}`, `--data-dir=${ETCD_DATA_DIR}`)} >/dev/null`,
    argv('chmod', '700', ETCD_DATA_DIR),
  ].join('\n');
}

/** Undo a restore that did not finish: the data the member had goes back in place. */
export function unrestoreScript(stamp: string): string {
  const kept = `${ETCD_DATA_DIR}.before-restore-${stamp}`;
  return `if [ -e ${shq(kept)} ]; then ${argv('rm', '-rf', ETCD_DATA_DIR)} && ${argv('mv', kept, ETCD_DATA_DIR)}; fi`;
}
