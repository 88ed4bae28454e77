import { test } from 'node:test';
import assert from 'node:assert/strict';
import { table } from '../../src/ui/table.js';

test('a table: columns start where their header starts, two spaces apart, no trailing blanks', () => {
  const lines = table(['NAME', 'TYPE', 'STATE'], [['orders', 'redis_cluster', 'running'], ['carts-eu', 'memcache', 'failed (host down)']]);
  assert.deepEqual(lines, [
    'NAME      TYPE           STATE',
    'orders    redis_cluster  running',
    'carts-eu  memcache       failed (host down)',
  ]);
});

test('an empty cell is "-", so awk and a split on two spaces keep the columns', () => {
  const lines = table(['INSTANCE', 'MASTER', 'SLOTS'], [['127.0.1.2:7000', '', '0-5460'], ['127.0.1.3:7001', '127.0.1.2:7000', undefined as unknown as string]]);
  assert.deepEqual(lines.map((l) => l.split(/ {2,}/).length), [3, 3, 3]);
  assert.match(lines[1]!, /^127\.0\.1\.2:7000 +- +0-5460$/);
  assert.match(lines[2]!, / -$/);
});

test('wide characters are measured as a terminal shows them', () => {
  // 订单 takes 4 columns of a terminal in 2 characters: padded by 3 to the 5 columns of "carts", plus 2.
  assert.deepEqual(table(['NAME', 'OWNER'], [['订单', 'ops'], ['carts', 'web']]), ['NAME   OWNER', '订单   ops', 'carts  web']);
});
