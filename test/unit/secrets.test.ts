// Cluster passwords sealed for etcd with a key kept outside it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Etcd3 } from 'etcd3';
import { attachSecretsKey, ensureSecretsKey, openRecord, readSecretsKey, seal, sealRecord, unseal } from '../../src/state/secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'ovl-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the key: made once, 32 bytes, private; a second call keeps it', () => {
  const pki = join(dir, 'a.pki');
  ensureSecretsKey(pki);
  const first = readFileSync(join(pki, 'secrets.key'), 'utf8');
  assert.equal(statSync(join(pki, 'secrets.key')).mode & 0o777, 0o600);
  assert.equal(readSecretsKey(pki).key!.length, 32);
  ensureSecretsKey(pki);
  assert.equal(readFileSync(join(pki, 'secrets.key'), 'utf8'), first);
  assert.equal(readSecretsKey(join(dir, 'none.pki')).key, undefined);
});

test('sealed: not readable in the record, opens only with its key and for its cluster, tampering detected', () => {
  const pki = join(dir, 'b.pki');
  ensureSecretsKey(pki);
  const key = readSecretsKey(pki).key!;
  const s = seal(key, 'orders', 'hunter2-secret');
  assert.doesNotMatch(s, /hunter2/);
  assert.notEqual(seal(key, 'orders', 'hunter2-secret'), s, 'a fresh IV each time');
  assert.deepEqual(unseal(key, 'orders', s), { version: 'v2', text: 'hunter2-secret' });
  assert.throws(() => unseal(key, 'pages', s), /does not open with this secrets key/);
  const other = join(dir, 'c.pki');
  ensureSecretsKey(other);
  assert.throws(() => unseal(readSecretsKey(other).key!, 'orders', s), /does not open/);
  const raw = Buffer.from(s.slice(3), 'base64');
  assert.throws(() => unseal(key, 'orders', `v1:${raw.toString('base64')}`), /does not open/, 'a v2 record relabelled v1 does not open');
  raw[raw.length - 1]! ^= 1;
  assert.throws(() => unseal(key, 'orders', `v2:${raw.toString('base64')}`), /does not open/);
});

test('records: sealed through the client\'s key; a record written before sealing still opens; no key is a clear error', () => {
  const pki = join(dir, 'd.pki');
  ensureSecretsKey(pki);
  const client = {} as Etcd3;
  attachSecretsKey(client, readSecretsKey(pki));
  const auth = { app: ['pw-app'], admin: ['pw-admin'], replica: 'pw-repl' };
  const rec = sealRecord(client, 'orders', auth);
  assert.doesNotMatch(rec, /pw-/);
  assert.deepEqual(openRecord(client, 'orders', JSON.parse(rec)), auth);
  // Sealed before ACL users (v1: one requirepass password).
  assert.deepEqual(openRecord(client, 'orders', { sealed: seal(readSecretsKey(pki).key!, 'orders', 'old-pw', 'v1') }), { app: ['old-pw'] });
  assert.equal(sealRecord(client, 'orders', undefined), '{}');
  assert.equal(openRecord(client, 'orders', {}), undefined);
  assert.deepEqual(openRecord(client, 'orders', { password: 'legacy' }), { app: ['legacy'] });
  const keyless = {} as Etcd3;
  attachSecretsKey(keyless, readSecretsKey('/ops/prod.pki'));
  assert.throws(() => sealRecord(keyless, 'orders', auth), /no secrets key \(\/ops\/prod\.pki\/secrets\.key\): `ovl bootstrap` makes it/);
});
