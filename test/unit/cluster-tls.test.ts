// Redis over TLS (--tls): what redis.conf says (no host), and a real 3+3 Redis Cluster started from
// the rendered files with certificates issued as bootstrap issues them: it forms and replicates
// over TLS (cluster bus and replication), ovl's checks reach it with its client certificate, an
// application reaches it with the CA alone, and nothing answers in clear.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { waitHealthy, checkCluster } from '../../src/cluster/check.js';
import { place, validateRequest } from '../../src/cluster/placement.js';
import { renderRedisConf } from '../../src/cluster/redisconf.js';
import { ensureCA, ensureLeaf } from '../../src/pki/fleet-pki.js';
import { hostRequest, readRedisTls, REDIS_CA } from '../../src/pki/redis-certs.js';
import type { ClusterRequest } from '../../src/cluster/types.js';
import { LocalRig, loopbackHosts } from '../helpers/local-redis.js';

const NET = process.env.OVL_TEST_NET ?? `127.10.${randomInt(1, 255)}`;
const tmp = mkdtempSync(join(tmpdir(), 'ovl-tls-'));
const rigs: LocalRig[] = [];
after(async () => {
  await Promise.all(rigs.map((r) => r.cleanup(process.env.OVL_KEEP_RIG === '1')));
  rmSync(tmp, { recursive: true, force: true });
});

const req = (o: Partial<ClusterRequest> = {}): ClusterRequest => ({ name: 'sec', type: 'redis_cluster', version: '7.0.15', masters: 3, replicas: 1, maxmemoryMB: 16, tls: true, ...o });

test('redis.conf of a TLS cluster: no plain port, TLS on the port for clients, replication and the bus, with the host certificate', () => {
  const p = place(req(), loopbackHosts(3, '10.0.0', { from: 7000, to: 7009 }));
  const conf = renderRedisConf(p, p.instances[0]!);
  const lines = conf.split('\n').filter((l) => /^(port|tls-)/.test(l));
  assert.deepEqual(lines, [
    'port 0',
    `tls-port ${p.instances[0]!.port}`,
    'tls-cert-file /data/lib/tls/host.crt',
    'tls-key-file /data/lib/tls/host.key',
    'tls-ca-cert-file /data/lib/tls/ca.crt',
    'tls-replication yes',
    'tls-cluster yes',
    'tls-auth-clients optional',
  ]);
  const plain = place(req({ type: 'redis', masters: 1 }), loopbackHosts(2, '10.0.0', { from: 7000, to: 7009 }));
  assert.doesNotMatch(renderRedisConf(plain, plain.instances[0]!), /tls-cluster/);
  assert.match(renderRedisConf({ ...p, config: { 'tls-auth-clients': 'yes' } }, p.instances[0]!), /^tls-auth-clients yes$/m);
  assert.throws(() => renderRedisConf({ ...p, config: { 'tls-port': '1' } }, p.instances[0]!), /set by ovl/);
  assert.throws(() => validateRequest(req({ type: 'memcache', nodes: 2, masters: 0, replicas: 0 })), /--tls is for the redis types/);
  assert.throws(() => validateRequest(req({ version: '5.0.14' })), /redis 5\.0\.14 has no TLS/);
  assert.throws(() => validateRequest(req({ version: '6.0.5' })), /Redis 6\.0\.6 or later/);
  assert.doesNotThrow(() => validateRequest(req({ version: '6.0.16' })));
});

test('a real TLS Redis Cluster: forms and replicates over TLS, ovl checks it with its client certificate, clients need the CA, nothing in clear', async () => {
  const hosts = loopbackHosts(3, NET, { from: 21500, to: 21509 });
  const pki = join(tmp, 'pki');
  // As bootstrap makes them: a Redis CA apart from the fleet's (etcd's) CA.
  const fleetCa = await ensureCA(pki);
  await ensureLeaf(pki, 'client', fleetCa, { name: 'ovl', ips: [], dns: [], usage: 'client', days: 30 }, 1);
  const ca = await ensureCA(pki, { name: REDIS_CA });
  await ensureLeaf(pki, 'redis/client', ca, { name: 'ovl', ips: [], dns: [], usage: 'client', days: 30 }, 1, { caName: REDIS_CA });
  for (const h of hosts) {
    const pair = await ensureLeaf(pki, `redis/${h.name}`, ca, hostRequest(h, 30), 1, { caName: REDIS_CA });
    mkdirSync(join(tmp, h.name), { recursive: true });
    writeFileSync(join(tmp, h.name, 'ca.crt'), ca.cert);
    writeFileSync(join(tmp, h.name, 'host.crt'), pair.cert);
    writeFileSync(join(tmp, h.name, 'host.key'), pair.key, { mode: 0o600 });
  }
  const p = place(req(), hosts);
  const r = new LocalRig();
  rigs.push(r);
  r.start(p, { tlsDirOf: (h) => join(tmp, h) });
  const auth = { app: [], tls: readRedisTls(pki) };
  const report = await waitHealthy(p, { auth, timeoutMs: 30_000 });
  assert.equal(report.healthy, true, report.problems.join('\n'));

  // Without TLS: nothing answers (the check says so for every node).
  const clear = await checkCluster(p, { timeoutMs: 1000 });
  assert.equal(clear.nodes.filter((n) => n.answered && !n.problems.length).length, 0, clear.problems.join('\n'));
  // An application with the CA alone (no client certificate) reads and writes through the cluster.
  const m = p.instances[0]!;
  const c = new Cluster([{ host: m.address, port: m.port }], { redisOptions: { tls: { ca: auth.tls.ca } } });
  try {
    for (let k = 0; k < 50; k++) await c.set(`k${k}`, `v${k}`);
    assert.equal(await c.get('k42'), 'v42');
  } finally {
    c.disconnect();
  }
  // A certificate from another CA is not trusted by the client side either.
  const other = await ensureCA(join(tmp, 'other'));
  const wrong = new Redis({ host: m.address, port: m.port, tls: { ca: other.cert }, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
  const seen: string[] = [];
  wrong.on('error', (e: Error) => void seen.push(e.message));
  await assert.rejects(wrong.connect());
  wrong.disconnect();
  assert.match(seen.join('; '), /self[- ]signed|unable to verify|certificate/i);
});

test('a TLS instance still serving a certificate near its end is named by the check, with the restart that renews it', async () => {
  const hosts = loopbackHosts(1, NET, { from: 21520, to: 21529 });
  const pki = join(tmp, 'pki-old');
  const ca = await ensureCA(pki, { name: REDIS_CA });
  await ensureLeaf(pki, 'redis/client', ca, { name: 'ovl', ips: [], dns: [], usage: 'client', days: 30 }, 1, { caName: REDIS_CA });
  const pair = await ensureLeaf(pki, 'redis/h1', ca, hostRequest(hosts[0]!, 5), 1, { caName: REDIS_CA });
  const dir = join(tmp, 'old-h1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ca.crt'), ca.cert);
  writeFileSync(join(dir, 'host.crt'), pair.cert);
  writeFileSync(join(dir, 'host.key'), pair.key, { mode: 0o600 });
  const p = place(req({ name: 'old', type: 'redis', masters: 1, replicas: 0 }), hosts);
  const r = new LocalRig();
  rigs.push(r);
  r.start(p, { tlsDirOf: () => dir });
  const auth = { app: [], tls: readRedisTls(pki) };
  let last = await checkCluster(p, { auth, timeoutMs: 1000 });
  for (const until = Date.now() + 10_000; !last.nodes[0]!.answered && Date.now() < until; await new Promise((res) => setTimeout(res, 100))) last = await checkCluster(p, { auth, timeoutMs: 1000 });
  assert.deepEqual(last.problems.map((x) => x.replace(/^\S+ \(h1\): /, '')), [`serves a TLS certificate that ends ${pair.notAfter.toISOString().slice(0, 10)}: ovl bootstrap renews the host's, ovl cluster restart old --rolling makes Redis read it`]);
});
