// What an operator reads when etcd does not answer: the reason, without gRPC's wrapping.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etcdReason } from '../../src/state/etcd.js';

test('etcdReason: the last connection error of a refused etcd, without "Resolution note"', () => {
  // Verbatim from `ovl cluster list` against a sandbox fleet with no etcd running.
  const refused = '14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.17.2:2379. Resolution note: ';
  assert.equal(etcdReason(refused), 'connect ECONNREFUSED 127.0.17.2:2379');
  assert.equal(etcdReason('4 DEADLINE_EXCEEDED: Deadline exceeded after 5.002s. Resolution note: waiting'), '4 DEADLINE_EXCEEDED: Deadline exceeded after 5.002s');
  assert.equal(etcdReason('etcdserver: request timed out'), 'etcdserver: request timed out');
});
