// The capacity bootstrap registers for the scheduler, planned without etcd: when a host's
// cache_ports range changes, the change names the ports clusters still hold outside it.
// node --import tsx --test test/unit/cache-binaries.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheBinaries, capacityOf, heldOutside } from '../../runbooks/cache-binaries.js';
import type { ComponentRun } from '../../src/engine/runbook.js';
import type { HostContext } from '../../src/ops/types.js';

const alloc = { '7000': { cluster: 'orders', memMB: 17 }, '7001': { cluster: 'orders', memMB: 17 }, '7005': { cluster: 'pages', memMB: 17 }, '8000': { cluster: 'pages', memMB: 17 } };

function host(ports: { from: number; to: number }): HostContext {
  return { host: { name: 'h1', address: '127.0.1.1', vars: { cache_ports: ports } }, facts: { cpu: 2, memMB: 4096 } } as unknown as HostContext;
}

/** The capacity operation's plan for a host with this range, given what etcd holds. */
function planFor(ports: { from: number; to: number }, registered: string, held: object) {
  const op = cacheBinaries.host(host(ports), {} as ComponentRun, { files: [], access: () => ({ endpoints: ['http://127.0.0.1:1'] }) }).operations.at(-1)!;
  assert.match(op.title, /^capacity registered in etcd/);
  return op.plan({ registered, alloc: held }, host(ports));
}

test('heldOutside: ports held outside the range, by cluster, in order', () => {
  assert.deepEqual(heldOutside(alloc, { from: 7002, to: 8999 }), ['orders 7000, 7001']);
  assert.deepEqual(heldOutside(alloc, { from: 8001, to: 8999 }), ['orders 7000, 7001', 'pages 7005, 8000']);
  assert.deepEqual(heldOutside(alloc, { from: 7000, to: 8000 }), []);
  assert.deepEqual(heldOutside({}, { from: 7000, to: 7999 }), []);
});

test('capacity: a narrowed range is registered and names the ports clusters still hold outside it', () => {
  const before = JSON.stringify(capacityOf(host({ from: 7000, to: 7999 }).host, host({ from: 7000, to: 7999 }).facts, []));
  const narrowed = planFor({ from: 7002, to: 7999 }, before, alloc);
  assert.equal(narrowed.change, true);
  assert.equal(narrowed.reason, '/overlord/fleet/hosts/h1 updated; ports still held outside 7002-7999 (the instances keep running; new ones get ports in the range): orders 7000, 7001; pages 8000');
  const widened = planFor({ from: 6000, to: 8999 }, before, alloc);
  assert.equal(widened.reason, '/overlord/fleet/hosts/h1 updated');
  const first = planFor({ from: 7000, to: 7999 }, '', {});
  assert.equal(first.reason, '/overlord/fleet/hosts/h1 written');
  const same = planFor({ from: 7000, to: 7999 }, before, alloc);
  assert.deepEqual(same, { change: false, reason: '/overlord/fleet/hosts/h1 up to date' });
});
