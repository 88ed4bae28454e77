// What `ovl cluster create` accepts before it writes anything: sizes, whole-number options and
// the options that apply to each type.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRequest, parseSize, type CreateOptions } from '../../src/commands/cluster.js';
import { UsageError } from '../../src/commands/errors.js';
import { wholeNumber } from '../../src/commands/options.js';
import { plural } from '../../src/util/plural.js';

const usage = (pattern: RegExp) => (e: unknown) => e instanceof UsageError && pattern.test(e.message);
const versions = { redis: new Set(['7.0.15']), memcache: new Set(['1.6.18']) };
const build = (o: Partial<CreateOptions>, name = 'orders') => buildRequest(name, { type: 'redis_cluster', maxmemory: '16mb', ...o }, versions);

test('parseSize: units, decimals that make whole MB', () => {
  assert.equal(parseSize('256mb'), 256);
  assert.equal(parseSize('64m'), 64);
  assert.equal(parseSize('2GB'), 2048);
  assert.equal(parseSize('1.5gb'), 1536);
  assert.equal(parseSize('0.25g'), 256);
  assert.equal(parseSize('2048kb'), 2);
  assert.equal(parseSize(' 1mb '), 1);
});

test('parseSize: a bare number, sizes below 1mb and fractions of a MB are refused', () => {
  assert.throws(() => parseSize('16'), usage(/^--maxmemory 16: write a unit, e.g. 16mb$/));
  assert.throws(() => parseSize('16kb'), usage(/at least 1mb/));
  assert.throws(() => parseSize('0mb'), usage(/at least 1mb/));
  assert.throws(() => parseSize('1.1gb'), usage(/1126\.4 MB, not a whole number: write it in mb, e\.g\. 1126mb/));
  assert.throws(() => parseSize('1.5mb'), usage(/write it in mb/));
  assert.throws(() => parseSize('1536kb'), usage(/write it in mb/));
  assert.throws(() => parseSize('lots'), usage(/write a size like 256mb/));
  assert.throws(() => parseSize('-1mb'), usage(/write a size like/));
});

test('wholeNumber: names the option in its error', () => {
  assert.equal(wholeNumber('--masters', 1)('3'), 3);
  assert.equal(wholeNumber('--replicas', 0)('0'), 0);
  assert.throws(() => wholeNumber('--masters', 1)('0'), usage(/^--masters: expected a whole number of at least 1, got "0"$/));
  assert.throws(() => wholeNumber('--nodes', 1)('2.5'), usage(/^--nodes: /));
  assert.throws(() => wholeNumber('--nodes', 1)(''), usage(/^--nodes: /));
});

test('buildRequest: the defaults of each type', () => {
  assert.deepEqual(build({}), { name: 'orders', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, nodes: undefined, maxmemoryMB: 16, config: undefined });
  const redis = build({ type: 'redis' });
  assert.equal(redis.masters, 1);
  assert.equal(redis.replicas, 1);
  const mc = build({ type: 'memcache', nodes: 2 });
  assert.equal(mc.nodes, 2);
  assert.equal(mc.masters, 0);
  assert.equal(mc.replicas, 0);
});

test('buildRequest: options that do not apply to the type are refused, naming the option', () => {
  assert.throws(() => build({ type: 'memcache', nodes: 2, passwordEnv: 'PW' }), usage(/^--password-env: memcache clusters have no password \(memcached runs without SASL\); drop the option$/));
  assert.throws(() => build({ type: 'memcache', nodes: 2, passwordFile: '/tmp/pw' }), usage(/^--password-file: memcache/));
  assert.throws(() => build({ type: 'memcache', masters: 2 }), usage(/^--masters: .*--nodes N/));
  assert.throws(() => build({ type: 'memcache', nodes: 2, replicas: 0 }), usage(/^--replicas: /));
  assert.throws(() => build({ type: 'redis', nodes: 3 }), usage(/^--nodes: for memcache only; a redis has --masters N .*default 1/));
  assert.throws(() => build({ type: 'redis_cluster', nodes: 3 }), usage(/^--nodes: for memcache only; a redis_cluster has --masters N shards \(default 3\)/));
  assert.throws(() => build({ type: 'memcache' }), usage(/^--nodes: how many memcache nodes/));
});

test('buildRequest: the name rule is stated as it is', () => {
  assert.throws(() => build({}, 'Orders'), usage(/1-63 characters: lower-case letters, digits and -, starting and ending with a letter or digit/));
  assert.throws(() => build({}, 'orders-'), usage(/starting and ending with a letter or digit/));
  assert.equal(build({}, 'a').name, 'a');
});

test('plural: singular for one', () => {
  assert.equal(plural(1, 'node'), '1 node');
  assert.equal(plural(0, 'node'), '0 nodes');
  assert.equal(plural(3, 'instance'), '3 instances');
});
