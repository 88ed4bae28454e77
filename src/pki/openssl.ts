// What to run to make the fleet's certificates: argv arrays for the openssl CLI (OpenSSL 3), and
// the running of them. Keys are ECDSA P-256: as strong as RSA 3072 for a tenth of the handshake.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const CURVE = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed CA: signs certificates and nothing else. */
export function caArgv(keyFile: string, certFile: string, days: number, name: string): string[] {
  return ['openssl', 'req', '-x509', ...CURVE, '-keyout', keyFile, '-out', certFile, '-days', String(days), '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
}

export interface LeafRequest {
  /** The certificate's common name (a member's or a client's name). */
  name: string;
  /** IP addresses and DNS names it is valid for (a server's), none for a client. */
  ips: string[];
  dns: string[];
  /** Server and client (etcd members talk to each other as both), or client only. */
  usage: 'server' | 'client';
  days: number;
}

/** A key and a certificate signed by the CA, in one openssl run. */
export function leafArgv(ca: { keyFile: string; certFile: string }, keyFile: string, certFile: string, r: LeafRequest): string[] {
  const sans = [...r.ips.map((ip) => `IP:${ip}`), ...r.dns.map((d) => `DNS:${d}`)];
  return ['openssl', 'req', '-x509', ...CURVE, '-keyout', keyFile, '-out', certFile, '-days', String(r.days), '-subj', `/CN=${r.name}`,
    '-CA', ca.certFile, '-CAkey', ca.keyFile,
    '-addext', 'basicConstraints=critical,CA:FALSE',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
    '-addext', `extendedKeyUsage=${r.usage === 'server' ? 'serverAuth,clientAuth' : 'clientAuth'}`,
    ...(sans.length ? ['-addext', `subjectAltName=${sans.join(',')}`] : [])];
}

const run = promisify(execFile);

export async function openssl(argv: string[]): Promise<void> {
  try {
    await run(argv[0]!, argv.slice(1), { timeout: 30_000 });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('openssl is not installed on this machine (ovl makes the fleet certificates with it): apt-get install -y openssl');
    throw new Error(`${argv.slice(0, 3).join(' ')} failed: ${(err.stderr || err.message).trim().split('\n').slice(-2).join(' ')}`);
  }
}
