// The fleet PKI on the operator's machine: a CA made once, certificates kept while good and issued
// again when they are not (another CA, other names, a key that does not match, close to expiry).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureCA, ensureLeaf, pkiDir, staleness } from '../../src/pki/fleet-pki.js';
import type { LeafRequest } from '../../src/pki/openssl.js';
import { memberRequest } from '../../src/pki/etcd-certs.js';
import type { HostSpec } from '../../src/inventory/types.js';

const root = mkdtempSync(join(tmpdir(), 'ovl-pki-'));
after(() => rmSync(root, { recursive: true, force: true }));

const member: LeafRequest = { name: 'h1', ips: ['127.0.2.1'], dns: ['h1'], usage: 'server', days: 825 };

test('pki_dir: beside the inventory by default, relative to it when set', () => {
  assert.equal(pkiDir({ file: '/ops/inventories/prod.yml', vars: {} as never }), '/ops/inventories/prod.pki');
  assert.equal(pkiDir({ file: '/ops/inventories/prod.yml', vars: { pki_dir: '../secrets/prod' } as never }), '/ops/secrets/prod');
});

test('a CA and a member certificate: made once with private modes, kept by the next run', async () => {
  const dir = join(root, 'a.pki');
  const ca = await ensureCA(dir);
  assert.equal(ca.made, true);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
  const first = await ensureLeaf(dir, 'etcd/h1', ca, member, 30);
  assert.equal(first.issued, 'none yet');
  assert.equal(statSync(join(dir, 'etcd', 'h1.key')).mode & 0o777, 0o600);
  const c = new X509Certificate(first.cert);
  assert.equal(c.subjectAltName, 'IP Address:127.0.2.1, DNS:h1');
  assert.ok(c.verify(new X509Certificate(ca.cert).publicKey));
  assert.ok(first.notAfter.getTime() - Date.now() > 800 * 86_400_000);

  assert.equal((await ensureCA(dir)).made, false);
  const again = await ensureLeaf(dir, 'etcd/h1', ca, member, 30);
  assert.equal(again.issued, undefined);
  assert.equal(again.cert, first.cert);
  assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key', 'etcd'], 'no temporary files left');
});

test('issued again: another address, another CA, a key that does not match, close to expiry', async () => {
  const dir = join(root, 'b.pki');
  const ca = await ensureCA(dir);
  const kept = await ensureLeaf(dir, 'etcd/h1', ca, member, 30);
  assert.match(staleness(kept, ca.cert, { ...member, ips: ['127.0.2.9'] }, 30)!, /^names DNS:h1, IP Address:127\.0\.2\.1 instead of DNS:h1, IP Address:127\.0\.2\.9$/);
  const other = await ensureCA(join(root, 'other.pki'));
  assert.equal(staleness(kept, other.cert, member, 30), 'not signed by the fleet CA');
  const stranger = await ensureLeaf(join(root, 'other.pki'), 'etcd/h1', other, member, 30);
  assert.equal(staleness({ cert: kept.cert, key: stranger.key }, ca.cert, member, 30), 'its key does not match');
  assert.match(staleness(kept, ca.cert, member, 900)!, /^expires .* within 900 days$/);
  assert.match(staleness(kept, ca.cert, member, 30, Date.now() + 900 * 86_400_000)!, /^expired /);

  const moved = await ensureLeaf(dir, 'etcd/h1', ca, { ...member, ips: ['127.0.2.9'] }, 30);
  assert.match(moved.issued!, /^names /);
  assert.equal(new X509Certificate(moved.cert).subjectAltName, 'IP Address:127.0.2.9, DNS:h1');
});

test('a member certificate names its address as an IP or, for a DNS name, as a name; always the loopback', () => {
  const h = (address: string) => ({ name: 'cache-01', address }) as HostSpec;
  assert.deepEqual(memberRequest(h('10.20.0.11'), 90), { name: 'cache-01', ips: ['10.20.0.11', '127.0.0.1'], dns: ['cache-01', 'localhost'], usage: 'server', days: 90 });
  assert.deepEqual(memberRequest(h('cache-01.example.internal'), 90).ips, ['127.0.0.1']);
  assert.deepEqual(memberRequest(h('cache-01.example.internal'), 90).dns, ['cache-01', 'cache-01.example.internal', 'localhost']);
});

test('a dry run issues nothing; a CA put in place first is used, a non-CA there is refused', async () => {
  const dir = join(root, 'c.pki');
  const ca = await ensureCA(dir, { dryRun: true });
  await ensureLeaf(dir, 'client', ca, { name: 'ovl', ips: [], dns: [], usage: 'client', days: 90 }, 30, { dryRun: true });
  assert.throws(() => statSync(dir), /ENOENT/);
  assert.deepEqual(readdirSync(root).filter((f) => f.startsWith('.ovl-pki-dry')), []);

  const org = await ensureCA(join(root, 'org.pki'));
  const d = join(root, 'd.pki');
  await ensureCA(d); // made, then replaced by the organisation's
  writeFileSync(join(d, 'ca.crt'), org.cert);
  writeFileSync(join(d, 'ca.key'), org.key);
  const used = await ensureCA(d);
  assert.equal(used.made, false);
  assert.equal(used.cert, org.cert);
  const leaf = await ensureLeaf(d, 'etcd/h1', used, member, 30);
  writeFileSync(join(d, 'ca.crt'), leaf.cert);
  writeFileSync(join(d, 'ca.key'), leaf.key);
  await assert.rejects(ensureCA(d), /is not a CA certificate/);
});
