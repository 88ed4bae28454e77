// `ovl cluster create --tls` on the shared sandbox fleet over real SSH: the host certificates
// bootstrap puts on every host, a Redis Cluster with a password reached by `redis-cli --tls`, passing
// `redis-cli --cluster check --tls`, refusing clear text, and taking a failover (replication and the
// cluster bus over TLS) and a scale (MIGRATE over TLS) with a TLS client writing through them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Cluster } from 'ioredis';
import { loadFleet } from '../../src/inventory/fleet.js';
import { pkiDir } from '../../src/pki/fleet-pki.js';
import type { SandboxInfo } from '../../src/sandbox/sandbox.js';
import { fleet, onHost, ovl, ovlAsync, shownInstances } from '../helpers/fleet.js';
import { liveWriter } from '../helpers/live-writer.js';

let info: SandboxInfo;
let caFile: string;
const inv = () => ['-i', info.inventory];
const PW = 'tls app pw';

before(async () => {
  info = await fleet();
  const b = ovl(['bootstrap', info.inventory]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  caFile = `${pkiDir(loadFleet(info.inventory))}/redis-ca.crt`;
  ovl(['cluster', 'delete', '--yes', 'sec', ...inv()]);
});

after(() => {
  ovl(['cluster', 'delete', '--yes', 'sec', ...inv()]);
});

const instances = () => shownInstances(info.inventory, 'sec');

const cli = (args: string[]) => spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 30_000 });

test('a --tls cluster: redis-cli --tls reaches it, --cluster check --tls passes, clear text gets nothing; failover and scale under a TLS writer lose nothing', async () => {
  const h = info.hosts[0]!;
  assert.equal(onHost(info, h.name, 'stat -c %a /data/lib/tls/host.key').stdout.trim(), '600');
  const sans = onHost(info, h.name, 'openssl x509 -in /data/lib/tls/host.crt -noout -ext subjectAltName').stdout;
  assert.match(sans, new RegExp(`IP Address:${h.address.replace(/\./g, '\\.')}`));
  // Root on a cache host has its Redis key, which must not open etcd (another CA signed it).
  const stolen = onHost(info, h.name, `curl -s -m 5 -o /dev/null -w '%{http_code}' --cacert /data/etcd/tls/ca.crt --cert /data/lib/tls/host.crt --key /data/lib/tls/host.key -X POST -d '{"key":"Lw=="}' https://${h.address}:2379/v3/kv/range`);
  assert.notEqual(stolen.stdout.trim(), '200', 'etcd refuses a Redis host certificate');

  const made = ovl(['cluster', 'create', 'sec', '--type', 'redis_cluster', '--masters', '3', '--replicas', '1', '--maxmemory', '32mb', '--tls', '--password-env', 'PW', '--wait', ...inv()], { PW });
  assert.equal(made.code, 0, made.stdout + made.stderr);
  assert.match(made.stdout, new RegExp(`connect: redis-cli --tls --cacert ${caFile.replace(/[.]/g, '\\.')} -c -h `));
  const all = instances();
  const m = all.find((i) => i.role === 'master')!;
  const at = ['-h', m.address, '-p', String(m.port)];
  const tls = ['--tls', '--cacert', caFile, '-a', PW, '--no-auth-warning'];

  const set = cli([...tls, ...at, '-c', 'set', 'over', 'tls']);
  assert.equal(set.stdout.trim(), 'OK', set.stdout + set.stderr);
  assert.equal(cli([...tls, ...at, '-c', 'get', 'over']).stdout.trim(), 'tls');
  const check = cli(['--cluster', 'check', `${m.address}:${m.port}`, ...tls]);
  assert.match(check.stdout, /\[OK\] All nodes agree about slots configuration/, check.stdout + check.stderr);
  assert.match(check.stdout, /\[OK\] All 16384 slots covered/);
  const clear = cli([...at, '-a', PW, '--no-auth-warning', 'ping']);
  assert.doesNotMatch(clear.stdout, /PONG/, 'nothing answers in clear');
  const shown = ovl(['cluster', 'show', 'sec', ...inv()]);
  assert.match(shown.stdout, /ACL users default \(application\), ovl, replica; TLS only/);
  assert.equal(ovl(['cluster', 'check', 'sec', ...inv()]).code, 0);

  const c = new Cluster([{ host: m.address, port: m.port }], { redisOptions: { password: PW, tls: { ca: readFileSync(caFile, 'utf8') } } });
  try {
    const w = liveWriter(c, 'tls');
    const replica = all.find((i) => i.role === 'replica')!;
    const fo = await ovlAsync(['cluster', 'failover', 'sec', '--instance', `${replica.address}:${replica.port}`, '--wait', ...inv()]);
    assert.equal(fo.code, 0, fo.stdout + fo.stderr);
    const grown = await ovlAsync(['cluster', 'scale', 'sec', '--masters', '4', '--wait', ...inv()]);
    assert.equal(grown.code, 0, grown.stdout + grown.stderr);
    await w.stop();
    assert.deepEqual(w.errors, []);
    assert.deepEqual(await w.lost(), [], 'every acknowledged write is there');
    assert.ok(w.acked.length > 50, `${w.acked.length} writes`);
  } finally {
    c.disconnect();
  }
  assert.equal(instances().filter((i) => i.role === 'master').length, 4);
  assert.equal(ovl(['cluster', 'check', 'sec', ...inv()]).code, 0);
  const after = cli(['--cluster', 'check', `${m.address}:${m.port}`, ...tls]);
  assert.match(after.stdout, /\[OK\] All 16384 slots covered/, after.stdout + after.stderr);
});
