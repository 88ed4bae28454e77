import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingPackages } from '../../bench/peers.js';

test('a benchmark installs only the packages of the peers it cannot find, each once', () => {
  const peers = [
    { command: 'ansible-playbook', pkg: 'ansible' },
    { command: 'ansible', pkg: 'ansible' },
    { command: 'redis-cli', pkg: 'redis-tools' },
  ];
  assert.deepEqual(missingPackages(peers, () => true), []);
  assert.deepEqual(missingPackages(peers, (c) => c === 'redis-cli'), ['ansible']);
  assert.deepEqual(missingPackages(peers, () => false), ['ansible', 'redis-tools']);
});
