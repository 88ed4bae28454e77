import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

// OpenSSH known_hosts, kept per inventory. Plain and hashed (|1|salt|hash) entries are read;
// new entries are written plain so an operator can read and review them.

export type HostKeyVerdict =
  | { kind: 'match' }
  | { kind: 'unknown' }
  | { kind: 'changed'; line: number; expected: string };

function hostPattern(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

function matchesHost(field: string, pattern: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    const mac = createHmac('sha1', Buffer.from(salt ?? '', 'base64')).update(pattern).digest('base64');
    return mac === hash;
  }
  return field.split(',').includes(pattern);
}

export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** Key type name from the SSH wire blob (string length + name). */
export function keyType(key: Buffer): string {
  const len = key.readUInt32BE(0);
  return key.subarray(4, 4 + len).toString('ascii');
}

export function verifyHostKey(file: string, address: string, port: number, key: Buffer): HostKeyVerdict {
  if (!existsSync(file)) return { kind: 'unknown' };
  const pattern = hostPattern(address, port);
  const type = keyType(key);
  const lines = readFileSync(file, 'utf8').split('\n');
  let changed: HostKeyVerdict | undefined;
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#') || fields[0]!.startsWith('@')) continue;
    const [hosts, ktype, blob] = fields as [string, string, string];
    if (!matchesHost(hosts, pattern) || ktype !== type) continue;
    if (Buffer.from(blob, 'base64').equals(key)) return { kind: 'match' };
    changed ??= { kind: 'changed', line: i + 1, expected: fingerprint(Buffer.from(blob, 'base64')) };
  }
  return changed ?? { kind: 'unknown' };
}

export function rememberHostKey(file: string, address: string, port: number, key: Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${hostPattern(address, port)} ${keyType(key)} ${key.toString('base64')}\n`, { mode: 0o644 });
}
