// What ovl runs on a member's host to save and restore etcd snapshots: facts in, commands out,
// and the pruning script run for real on a directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HostSpec, Inventory } from '../../src/inventory/types.js';
import { findEtcdctl, pruneScript, restoreScript, saveScript, snapshotName, unrestoreScript } from '../../src/etcd/snapshot.js';

const host = (name: string, address: string, tls = true): HostSpec =>
  ({ name, address, ssh: {} as never, line: 1, vars: { etcd_client_port: 2379, etcd_peer_port: 2380, etcd_cluster_token: 'ovl-prod', cache_ports: { from: 7000, to: 7999 }, zookeeper_client_port: 2181, etcd_tls: tls } }) as HostSpec;
const members = [host('h1', '10.0.0.1'), host('h2', '10.0.0.2'), host('h3', '10.0.0.3')];
const inv = { file: '/ops/prod.yml', vars: { etcd_snapshots_kept: 3 }, artifacts: { etcd: [{ version: '3.4.23', files: { etcd: '/x/etcd', etcdctl: '/x/etcdctl' } }] } } as unknown as Inventory;

test('a snapshot name sorts by time and names the member', () => {
  assert.equal(snapshotName('h1', new Date('2026-12-05T23:15:00.123Z')), 'etcd-20261205T231500Z-h1.db');
});

test('save: through the member over TLS with its own certificate, private, then the newest N kept', () => {
  assert.equal(
    saveScript(inv, members[0]!, 'etcd-20261205T231500Z-h1.db'),
    [
      'set -e',
      'umask 077',
      'mkdir -p /data/backup/etcd',
      'chmod 700 /data/backup/etcd',
      findEtcdctl(inv),
      'ETCDCTL_API=3 "$e" --endpoints=https://10.0.0.1:2379 --dial-timeout=5s --command-timeout=60s --cacert=/data/etcd/tls/ca.crt --cert=/data/etcd/tls/member.crt --key=/data/etcd/tls/member.key snapshot save /data/backup/etcd/etcd-20261205T231500Z-h1.db >/dev/null',
      pruneScript('/data/backup/etcd', 3),
    ].join('\n'),
  );
  assert.doesNotMatch(saveScript(inv, host('h1', '10.0.0.1', false), 'x.db'), /--cacert|https/, 'a plain etcd is reached without certificates');
});

test('restore: the data moved aside, then rebuilt with the member name and every member', () => {
  assert.equal(
    restoreScript(inv, members[1]!, members, '/data/backup/etcd/restore-x.db', '20261205T231500Z'),
    [
      'set -e',
      findEtcdctl(inv),
      "if [ -e /data/etcd/data ]; then mv /data/etcd/data /data/etcd/data.before-restore-20261205T231500Z; fi",
      'ETCDCTL_API=3 "$e" snapshot restore /data/backup/etcd/restore-x.db --name=h2 ' +
        '--initial-cluster=h1=https://10.0.0.1:2380,h2=https://10.0.0.2:2380,h3=https://10.0.0.3:2380 --initial-cluster-token=ovl-prod ' +
        '--initial-advertise-peer-urls=https://10.0.0.2:2380 --data-dir=/data/etcd/data >/dev/null',
      'chmod 700 /data/etcd/data',
    ].join('\n'),
  );
});

test('etcdctl: the inventory version\'s, else the newest installed (before an upgrade pushes it), else a clear failure', () => {
  const root = mkdtempSync(join(tmpdir(), 'ovl-etcdctl-'));
  try {
    // The script with /data/lib/etcd pointed at a temp tree, run for real.
    const run = () => spawnSync('sh', ['-c', `${findEtcdctl(inv).replaceAll('/data/lib/etcd', `${root}/lib`)}\necho "$e"`], { encoding: 'utf8' });
    const none = run();
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /no etcdctl under .*list it in the etcd artifact/);
    for (const v of ['3.4.9', '3.4.20']) {
      mkdirSync(join(root, 'lib', v, 'bin'), { recursive: true });
      writeFileSync(join(root, 'lib', v, 'bin', 'etcdctl'), '', { mode: 0o755 });
    }
    assert.equal(run().stdout.trim(), `${root}/lib/3.4.20/bin/etcdctl`, 'the newest installed (by version, not by name)');
    mkdirSync(join(root, 'lib', '3.4.23', 'bin'), { recursive: true });
    writeFileSync(join(root, 'lib', '3.4.23', 'bin', 'etcdctl'), '', { mode: 0o755 });
    assert.equal(run().stdout.trim(), `${root}/lib/3.4.23/bin/etcdctl`, "the inventory's version once it is there");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an unfinished restore is undone: the member\'s own data back in place', () => {
  assert.equal(unrestoreScript('20261205T231500Z'), 'if [ -e /data/etcd/data.before-restore-20261205T231500Z ]; then rm -rf /data/etcd/data && mv /data/etcd/data.before-restore-20261205T231500Z /data/etcd/data; fi');
});

test('pruning keeps the newest N snapshots and nothing else is touched', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ovl-prune-'));
  try {
    const names = [1, 2, 3, 4, 5].map((d) => `etcd-2026120${d}T000000Z-h1.db`);
    for (const f of [...names, 'notes.txt', 'restore-20261201T000000Z-x.db']) writeFileSync(join(dir, f), '');
    const r = spawnSync('sh', ['-c', pruneScript(dir, 3)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), [...names.slice(2), 'notes.txt', 'restore-20261201T000000Z-x.db'].sort());
    assert.equal(spawnSync('sh', ['-c', pruneScript(dir, 3)]).status, 0, 'nothing to prune is fine');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
