// Cluster passwords in etcd, sealed with a key that is not in etcd: AES-256-GCM (node:crypto) with
// the cluster's name as associated data, so an etcd snapshot alone reveals none of them and a
// sealed password moved to another cluster's key does not open. The key is a file in the fleet's
// PKI directory (`secrets.key`, 0600), made by `ovl bootstrap`; the CLI and the scheduler read it.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import type { ClusterAuth } from '../cluster/auth.js';

export const SECRETS_KEY_FILE = 'secrets.key';
// v1 sealed one password (requirepass); v2 seals a cluster's ClusterAuth as JSON.
const VERSIONS = ['v1', 'v2'] as const;
type Version = (typeof VERSIONS)[number];

/** The stored form of a cluster's secret: sealed, or (written before sealing existed) plain. */
export interface SecretRecord {
  password?: string;
  sealed?: string;
}

/** The key file in a PKI directory, made (32 random bytes, 0600) when missing. */
export function ensureSecretsKey(dir: string): void {
  const file = join(dir, SECRETS_KEY_FILE);
  if (existsSync(file)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // made by a concurrent run
  }
}

/** The key of a PKI directory (`key` absent when there is none), and the file it is (or belongs) in. */
export interface SecretsKey {
  key?: Buffer;
  file: string;
}

export function readSecretsKey(dir: string): SecretsKey {
  const file = join(dir, SECRETS_KEY_FILE);
  if (!existsSync(file)) return { file };
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} is not a secrets key (32 bytes, base64): restore it from the machine that bootstrapped the fleet`);
  return { key, file };
}

// The format is bound to the record as the cluster is: v2 and later authenticate their version
// (a v2 record relabelled v1 does not open as one requirepass password).
const aad = (version: Version, cluster: string) => Buffer.from(version === 'v1' ? cluster : `${version}:${cluster}`);

export function seal(key: Buffer, cluster: string, text: string, version: Version = 'v2'): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(version, cluster));
  const body = Buffer.concat([c.update(text, 'utf8'), c.final()]);
  return `${version}:${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
}

export function unseal(key: Buffer, cluster: string, sealed: string): { version: Version; text: string } {
  const [version, data = ''] = sealed.split(':');
  if (!VERSIONS.includes(version as Version)) throw new Error(`the password of ${cluster} is sealed in an unknown format (${version})`);
  const raw = Buffer.from(data, 'base64');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  d.setAAD(aad(version as Version, cluster));
  d.setAuthTag(raw.subarray(12, 28));
  try {
    return { version: version as Version, text: Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8') };
  } catch {
    throw new Error(`the password of ${cluster} does not open with this secrets key: it was sealed with another one (restore the PKI directory's secrets.key)`);
  }
}

// The key travels with the etcd client it was opened for (openEtcd), so every reader and writer
// of a secret gets it from the client it already holds.
const keys = new WeakMap<Etcd3, SecretsKey>();

export function attachSecretsKey(c: Etcd3, k: SecretsKey | undefined): void {
  if (k) keys.set(c, k);
}

function keyOf(c: Etcd3): Buffer {
  const k = keys.get(c);
  if (!k?.key) throw new Error(`no secrets key (${k?.file ?? 'no PKI directory given'}): \`ovl bootstrap\` makes it; on another machine, copy the PKI directory`);
  return k.key;
}

/** What is sealed: the passwords, and whether the cluster has TLS (its certificates are files). */
export type SealedAuth = Omit<ClusterAuth, 'tls'> & { tls?: boolean };

/** The record to store for a cluster's passwords (none: an empty record, as a claim of the name). */
export function sealRecord(c: Etcd3, cluster: string, auth: ClusterAuth | SealedAuth | undefined): string {
  if (auth === undefined) return '{}';
  const { app, admin, replica, monitor, tls } = auth;
  const body: SealedAuth = { app, ...(admin ? { admin } : {}), ...(replica !== undefined ? { replica } : {}), ...(monitor !== undefined ? { monitor } : {}), ...(tls ? { tls: true } : {}) };
  return JSON.stringify({ sealed: seal(keyOf(c), cluster, JSON.stringify(body)) });
}

/** The passwords of a stored record (a v1 or plain record: one requirepass password). */
export function openRecord(c: Etcd3, cluster: string, r: SecretRecord | null): SealedAuth | undefined {
  if (!r) return undefined;
  if (r.sealed !== undefined) {
    const { version, text } = unseal(keyOf(c), cluster, r.sealed);
    return version === 'v1' ? { app: [text] } : (JSON.parse(text) as SealedAuth);
  }
  return r.password === undefined ? undefined : { app: [r.password] };
}

/** The PKI directory the client's secrets key belongs to (TLS clusters' CA and client certificate). */
export function pkiDirOf(c: Etcd3): string {
  const k = keys.get(c);
  if (!k) throw new Error('no PKI directory given: open etcd through the inventory');
  return dirname(k.file);
}
