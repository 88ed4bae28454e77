// The scripting API's contract without a fleet: what `import ... from 'ovl'` exports, the stable
// error codes, a check report as data, and the errors openFleet gives for a bad inventory and an
// etcd that does not answer (on loopback).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as ovl from '../../src/api/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ovl-api-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the package's exports: openFleet, the handles, and every error class with its code", () => {
  assert.equal(typeof ovl.openFleet, 'function');
  const codes = Object.fromEntries(
    ([['NotFound', new ovl.NotFound('x')], ['UsageError', new ovl.UsageError('x')], ['EtcdUnavailable', new ovl.EtcdUnavailable('x')], ['ConflictError', new ovl.ConflictError('x')], ['PlacementError', new ovl.PlacementError('x')], ['Aborted', new ovl.Aborted('x')], ['InventoryError', new ovl.InventoryError([])]] as const).map(([n, e]) => [n, (e as { code: string }).code]),
  );
  assert.deepEqual(codes, { NotFound: 'NOT_FOUND', UsageError: 'USAGE', EtcdUnavailable: 'ETCD_UNAVAILABLE', ConflictError: 'CONFLICT', PlacementError: 'PLACEMENT', Aborted: 'ABORTED', InventoryError: 'INVENTORY' });
  assert.ok(new ovl.NotFound('x') instanceof ovl.UsageError, 'a NotFound is a usage error too (the CLI says it the same way)');
  const failed = new ovl.TaskFailed({ id: 't1', kind: 'scale', cluster: 'orders', state: 'failed', error: 'host h2 does not answer', step: '', created: '', updated: '' } as ovl.Task);
  assert.deepEqual([failed.code, failed.task.id, failed.message], ['TASK_FAILED', 't1', 'scale orders failed: host h2 does not answer (task t1)']);
});

test('a check report as data: each problem split into its instance and what is wrong', () => {
  const r = ovl.checkResult({
    healthy: false,
    problems: ['10.0.0.3:7001 (h3): does not answer (connection refused)', 'the plan has two masters on h1'],
    nodes: [],
    ms: 12,
  });
  assert.deepEqual(r.problems, [
    { instance: '10.0.0.3:7001', problem: 'does not answer (connection refused)' },
    { instance: '', problem: 'the plan has two masters on h1' },
  ]);
});

test('openFleet: a bad inventory is an InventoryError naming file and line; an etcd that does not answer is EtcdUnavailable', async () => {
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'hosts:\n  - name: c1\n    address: 10.20.0.300\n');
  await assert.rejects(ovl.openFleet(bad), (e: Error & { code?: string }) => e.code === 'INVENTORY' && e.message.includes(`${bad}:3:`));
  const silent = join(dir, 'silent.yml');
  writeFileSync(silent, 'vars:\n  ssh: { key: /nonexistent }\n  etcd_tls: false\nhosts:\n  - name: c1\n    address: 127.77.0.3\ncomponents: [etcd]\nserver:\n  etcd: [c1]\nartifacts:\n  etcd:\n    - version: "3.4.23"\n      files: { etcd: /nonexistent/etcd, etcdctl: /nonexistent/etcdctl }\n');
  const fleet = await ovl.openFleet(silent, { timeoutMs: 1000 });
  try {
    await assert.rejects(fleet.clusters.list(), (e: Error & { code?: string }) => e.code === 'ETCD_UNAVAILABLE' && /etcd does not answer at http:\/\/127\.77\.0\.3:2379/.test(e.message));
  } finally {
    await fleet.close();
  }
});
