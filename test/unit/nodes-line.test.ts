// CLUSTER NODES lines as Redis 7 prints them, taken apart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterNodes, parseNodeLine } from '../../src/cluster/nodes-line.js';

const TEXT = [
  '07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,cache-02 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected',
  '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922',
  'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]',
  '6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 master,fail - 1426238316232 1426238315000 5 disconnected',
  'garbage line',
  '',
].join('\r\n');

test('CLUSTER NODES: each line by id, flags, master, slots (migrating ones as written), link; a malformed line left out', () => {
  const nodes = parseClusterNodes(TEXT);
  assert.equal(nodes.size, 4);
  assert.deepEqual(nodes.get('07c37dfeb235213a872192d90877d0cd55635b91'), {
    id: '07c37dfeb235213a872192d90877d0cd55635b91',
    addr: '127.0.0.1:30004@31004,cache-02',
    flags: ['slave'],
    master: 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca',
    slots: '',
    link: 'connected',
  });
  const self = nodes.get('e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca')!;
  assert.deepEqual(self.flags, ['myself', 'master']);
  assert.equal(self.slots, '0-5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]');
  assert.equal(self.link, 'connected');
  assert.deepEqual(nodes.get('6ec23923021cf3ffec47632106199cb7f496ce01')!.flags, ['master', 'fail']);
  assert.equal(nodes.get('6ec23923021cf3ffec47632106199cb7f496ce01')!.link, 'disconnected');
  assert.equal(parseNodeLine('garbage line'), undefined);
});
