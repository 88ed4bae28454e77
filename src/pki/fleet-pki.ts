// The fleet's certificate authority and the certificates it issues, kept on the operator's machine
// in one directory next to the inventory (mode 0700, keys 0600). A certificate is issued once and
// kept while it is signed by the CA, matches its key and names, and is not about to expire, so a
// re-run changes nothing; one that fails any of these is issued again.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import type { Inventory } from '../inventory/types.js';
import { caArgv, leafArgv, openssl, type LeafRequest } from './openssl.js';

const CA_DAYS = 3650;
const DAY_MS = 86_400_000;

/** The directory of the fleet's CA and certificates: `pki_dir` (relative to the inventory), else `<inventory>.pki`. */
export function pkiDir(inv: Pick<Inventory, 'file' | 'vars'>): string {
  const set = inv.vars.pki_dir;
  if (typeof set === 'string' && set) return isAbsolute(set) ? set : resolve(dirname(inv.file), set);
  return join(dirname(inv.file), `${basename(inv.file, extname(inv.file))}.pki`);
}

export interface KeyPair {
  cert: string;
  key: string;
}

export interface Issued extends KeyPair {
  notAfter: Date;
  /** Why it was issued now (absent: the kept one was good). */
  issued?: string;
}

const paths = (dir: string, name: string) => ({ certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) });

function read(dir: string, name: string): KeyPair | undefined {
  const p = paths(dir, name);
  if (!existsSync(p.certFile) || !existsSync(p.keyFile)) return undefined;
  return { cert: readFileSync(p.certFile, 'utf8'), key: readFileSync(p.keyFile, 'utf8') };
}

/** Make name.key/name.crt with argv (given the temporary paths), then move both into place. */
async function make(dir: string, name: string, argvFor: (keyFile: string, certFile: string) => string[]): Promise<KeyPair> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = mkdtempSync(join(dir, '.issue-'));
  try {
    const t = paths(tmp, 'x');
    await openssl(argvFor(t.keyFile, t.certFile));
    chmodSync(t.keyFile, 0o600);
    const out = paths(dir, name);
    // Key first: a crash between the two renames leaves a pair that does not match, issued again.
    renameSync(t.keyFile, out.keyFile);
    renameSync(t.certFile, out.certFile);
    return { cert: readFileSync(out.certFile, 'utf8'), key: readFileSync(out.keyFile, 'utf8') };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The fleet CA: `ca.crt`/`ca.key` in the directory (an organisation's own CA is used when put
 * there first), else made. `dryRun` makes it in a temporary directory and keeps nothing.
 */
export async function ensureCA(dir: string, o: { dryRun?: boolean; name?: string } = {}): Promise<KeyPair & { made: boolean }> {
  const name = o.name ?? 'ca';
  const kept = read(dir, name);
  if (kept) {
    const c = new X509Certificate(kept.cert);
    if (!c.ca) throw new Error(`${join(dir, `${name}.crt`)} is not a CA certificate (basicConstraints CA:TRUE): put the fleet's CA there, or remove it to have one made`);
    if (!c.checkPrivateKey(createPrivateKey(kept.key))) throw new Error(`${join(dir, `${name}.key`)} is not the key of ${join(dir, `${name}.crt`)}: put the CA's own key there`);
    return { ...kept, made: false };
  }
  const target = o.dryRun ? mkdtempSync(join(dirname(dir), '.ovl-pki-dry-')) : dir;
  try {
    const pair = await make(target, name, (k, c) => caArgv(k, c, CA_DAYS, `ovl fleet ${name === 'ca' ? 'CA' : name} (${basename(dir)})`));
    return { ...pair, made: true };
  } finally {
    if (o.dryRun) rmSync(target, { recursive: true, force: true });
  }
}

/** Why a kept certificate must be issued again, or undefined when it is good for renewDays more. */
export function staleness(pair: KeyPair, ca: string, want: LeafRequest, renewDays: number, now = Date.now()): string | undefined {
  const c = new X509Certificate(pair.cert);
  if (!c.verify(new X509Certificate(ca).publicKey)) return 'not signed by the fleet CA';
  if (!c.checkPrivateKey(createPrivateKey(pair.key))) return 'its key does not match';
  const sans = [...want.ips.map((ip) => `IP Address:${ip}`), ...want.dns.map((d) => `DNS:${d}`)].sort().join(', ');
  const has = (c.subjectAltName ?? '').split(', ').filter(Boolean).sort().join(', ');
  if (has !== sans) return `names ${has || '(none)'} instead of ${sans || '(none)'}`;
  const left = new Date(c.validTo).getTime() - now;
  if (left < renewDays * DAY_MS) return left <= 0 ? `expired ${c.validTo}` : `expires ${c.validTo}, within ${renewDays} days`;
  return undefined;
}

/** A certificate `name` (e.g. "etcd/h1") signed by the CA, kept or issued. */
export async function ensureLeaf(dir: string, name: string, ca: KeyPair, want: LeafRequest, renewDays: number, o: { dryRun?: boolean; caName?: string } = {}): Promise<Issued> {
  // A certificate cannot outlive its CA; one past it is refused, not issued.
  const caLeft = Math.floor((new Date(new X509Certificate(ca.cert).validTo).getTime() - Date.now()) / DAY_MS);
  if (caLeft < 1) throw new Error(`the fleet CA ${join(dir, `${o.caName ?? 'ca'}.crt`)} has expired: put a new CA there (every certificate is then issued again)`);
  want = { ...want, days: Math.min(want.days, caLeft) };
  const kept = read(dir, name);
  const why = kept ? staleness(kept, ca.cert, want, Math.min(renewDays, caLeft - 1)) : 'none yet';
  if (kept && !why) return { ...kept, notAfter: new Date(new X509Certificate(kept.cert).validTo) };
  const target = o.dryRun ? mkdtempSync(join(dirname(dir), '.ovl-pki-dry-')) : dir;
  try {
    const caFiles = paths(dir, o.caName ?? 'ca');
    const withCa = o.dryRun && !existsSync(caFiles.certFile) ? writeCa(target, ca) : caFiles;
    const pair = await make(join(target, dirname(name)), basename(name), (k, c) => leafArgv(withCa, k, c, want));
    return { ...pair, notAfter: new Date(new X509Certificate(pair.cert).validTo), issued: why };
  } finally {
    if (o.dryRun) rmSync(target, { recursive: true, force: true });
  }
}

/** A dry run's CA exists only in memory: openssl needs it in files. */
function writeCa(dir: string, ca: KeyPair) {
  const p = paths(dir, 'dry-ca');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(p.certFile, ca.cert);
  writeFileSync(p.keyFile, ca.key, { mode: 0o600 });
  return p;
}
