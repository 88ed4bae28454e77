// The fleet's state store kept safe: snapshots (on demand and before bootstrap changes a running
// etcd) and a restore after every member lost its data.
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadFleet } from '../../src/inventory/fleet.js';
import { etcdService } from '../../src/etcd/layout.js';
import { localBackupDir } from '../../src/etcd/snapshot.js';
import { stopScript } from '../../src/ops/service.js';
import { fleet, onHost, ovl } from '../helpers/fleet.js';

const ETCD = ['h1', 'h2', 'h3'];
const snapshots = (inventory: string) => {
  const dir = localBackupDir(loadFleet(inventory));
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.db')).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
};

test('a snapshot on demand and before a bootstrap change; every member wiped, a restore brings back every cluster', async (t) => {
  const info = await fleet();
  const inv = ['-i', info.inventory];
  assert.equal(ovl(['bootstrap', info.inventory]).code, 0);
  const made = ovl(['cluster', 'create', 'kept', '--type', 'memcache', '--nodes', '2', '--maxmemory', '16mb', '--wait', ...inv]);
  assert.equal(made.code, 0, made.stdout + made.stderr);
  t.after(() => assert.equal(ovl(['cluster', 'delete', '--yes', 'kept', ...inv]).code, 0));

  // Before bootstrap changes a running etcd (here: a member's config drifted), a snapshot.
  const before = new Set(snapshots(info.inventory));
  assert.equal(onHost(info, 'h2', `echo '# drift' >> /data/etcd/etcd.conf.yml`).code, 0);
  const boot = ovl(['bootstrap', info.inventory, '--only', 'etcd']);
  assert.equal(boot.code, 0, boot.stdout + boot.stderr);
  const added = snapshots(info.inventory).filter((f) => !before.has(f));
  assert.equal(added.length, 1, 'bootstrap saved one snapshot before its change');
  assert.ok(snapshots(info.inventory).length <= 10, 'the newest 10 are kept');

  const r = ovl(['etcd', 'snapshot', ...inv]);
  assert.equal(r.code, 0, r.stderr);
  const m = /etcd snapshot from (h\d): (\/data\/backup\/etcd\/\S+) on h\d, copied to (\S+) \(/.exec(r.stdout);
  assert.ok(m, r.stdout);
  const [, host, remotePath, localPath] = m;
  assert.equal(statSync(localPath!).mode & 0o777, 0o600, 'the copy is private');
  assert.equal(statSync(localPath!).size > 0, true);
  assert.equal(onHost(info, host!, `stat -c '%a %s' ${remotePath}`).stdout.trim(), `600 ${statSync(localPath!).size}`);

  // Every member loses its data.
  for (const h of ETCD) assert.equal(onHost(info, h, `${stopScript(etcdService(), false)}\nrm -rf /data/etcd/data`).code, 0);
  const lost = ovl(['cluster', 'list', ...inv]);
  assert.notEqual(lost.code, 0, 'etcd is gone');

  const unasked = ovl(['etcd', 'restore', localPath!, ...inv]);
  assert.notEqual(unasked.code, 0);
  assert.match(unasked.stderr, /--yes/);
  assert.equal(onHost(info, 'h1', 'test -e /data/etcd/data; echo $?').stdout.trim(), '1', 'nothing restored without --yes');

  const restored = ovl(['etcd', 'restore', localPath!, '--yes', ...inv]);
  assert.equal(restored.code, 0, restored.stdout + restored.stderr);
  assert.match(restored.stdout, /every member serves: h1, h2, h3/);
  const list = ovl(['cluster', 'list', ...inv]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^kept\s+memcache\s.*running/m);
  const check = ovl(['cluster', 'check', 'kept', ...inv]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  // The restored cluster is the fleet's etcd again: bootstrap has nothing to change.
  const again = ovl(['bootstrap', info.inventory, '--only', 'etcd']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /No changes/);
});
