import type { Etcd3 } from 'etcd3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostSpec, Inventory, Vars } from '../inventory/types.js';
import { hostsOf } from '../inventory/types.js';
import { pkiDir } from '../pki/fleet-pki.js';
import { attachSecretsKey, readSecretsKey, type SecretsKey } from './secrets.js';

/** etcd over mutual TLS unless the inventory says `etcd_tls: false` (a fleet not moved yet). */
export const etcdTls = (v: Vars) => v.etcd_tls !== false;
const scheme = (h: HostSpec) => (etcdTls(h.vars) ? 'https' : 'http');
export const clientURL = (h: HostSpec) => `${scheme(h)}://${h.address}:${h.vars.etcd_client_port}`;
export const peerURL = (h: HostSpec) => `${scheme(h)}://${h.address}:${h.vars.etcd_peer_port}`;

/** PEM texts a client shows etcd: the fleet CA (to check the member) and its own certificate and key. */
export interface EtcdTls {
  ca: string;
  cert: string;
  key: string;
}

/** How to reach etcd: its client URLs and, over TLS, the client's credentials. */
export interface EtcdAccess {
  endpoints: string[];
  tls?: EtcdTls;
  /** The key cluster passwords are sealed with (src/state/secrets.ts), and where it is expected. */
  secrets?: SecretsKey;
}

/** Client endpoints of the fleet's etcd (the hosts of `server.etcd`). */
export function etcdEndpoints(inv: Inventory): string[] {
  const hosts = hostsOf(inv, 'etcd');
  if (!hosts.length) throw new Error(`${inv.file} has no etcd hosts (server.etcd): ovl keeps its state in etcd`);
  return hosts.map(clientURL);
}

/** Files of the client certificate every ovl command uses, in the fleet's PKI directory. */
export const CLIENT_CERT = { ca: 'ca.crt', cert: 'client.crt', key: 'client.key' } as const;

/** The client credentials of the inventory's fleet, or undefined when its etcd runs without TLS. */
export function clientTls(inv: Inventory): EtcdTls | undefined {
  if (!etcdTls(inv.vars)) return undefined;
  const dir = pkiDir(inv);
  const missing = Object.values(CLIENT_CERT).filter((f) => !existsSync(join(dir, f)));
  if (missing.length) {
    throw new Error(
      `no etcd client certificate: ${missing.map((f) => join(dir, f)).join(', ')} missing. \`ovl bootstrap ${inv.file}\` makes them; ` +
        `on another machine, copy that directory (mode 0700) next to the inventory, or set pki_dir in ${inv.file}`,
    );
  }
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read(CLIENT_CERT.ca), cert: read(CLIENT_CERT.cert), key: read(CLIENT_CERT.key) };
}

/** Endpoints and credentials of the inventory's etcd. */
export function etcdAccess(inv: Inventory): EtcdAccess {
  return { endpoints: etcdEndpoints(inv), tls: clientTls(inv), secrets: readSecretsKey(pkiDir(inv)) };
}

/** The same credentials for other endpoints (one member). */
export const at = (a: EtcdAccess, endpoints: string[]): EtcdAccess => ({ ...a, endpoints });

/**
 * An etcd client that fails fast: one attempt per call with a deadline, no circuit breaker
 * (the default breaker would keep failing for 5 s after a member comes up, slowing waits).
 * `patient` (the scheduler): a call that etcd did not answer in time, or that found no member,
 * is made again with growing pauses, about a minute in all before it fails: on a machine busy
 * starting hundreds of nodes an etcd member once took 12 s to commit one write, and a task
 * must not fail, nor the scheduler stop, for a stall it outlives. Writes made again are
 * idempotent puts or transactions guarded by what they read.
 */
export async function openEtcd(access: EtcdAccess, timeoutMs = 3000, o: { patient?: boolean } = {}): Promise<Etcd3> {
  const { endpoints, tls } = access;
  if (tls) quietIpServername();
  // Loaded on first use: etcd3 (gRPC, protobuf) takes longer to load than most of a no-op run.
  const [{ Etcd3, isRecoverableError }, { ExponentialBackoff, handleAll, handleWhen, noop, retry }] = await Promise.all([import('etcd3'), import('cockatiel')]);
  const global = o.patient
    ? retry(handleWhen(isRecoverableError), { maxAttempts: 6, backoff: new ExponentialBackoff({ initialDelay: 500, maxDelay: 8000 }) })
    : retry(handleAll, { maxAttempts: endpoints.length - 1 });
  const client = new Etcd3({
    hosts: endpoints,
    ...(tls ? { credentials: { rootCertificate: Buffer.from(tls.ca), certChain: Buffer.from(tls.cert), privateKey: Buffer.from(tls.key) } } : {}),
    dialTimeout: timeoutMs,
    // A large cluster's instance keys (nodes.conf of every node) exceed gRPC's 4 MB default.
    grpcOptions: { 'grpc.max_receive_message_length': 512 << 20 },
    defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    faultHandling: { host: () => noop, global },
  });
  attachSecretsKey(client, access.secrets);
  return client;
}

let quieted = false;
/**
 * grpc-js sends the member's IP address as the TLS server name, and Node warns on every
 * connection (DEP0123) on stderr, where ovl's output goes. etcd serves one certificate whatever
 * the name, and the member's address is still checked against its certificate: drop that warning.
 */
function quietIpServername(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...a: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' ? (rest[0] as { code?: string } | null)?.code : rest[1];
    if (code === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** Run fn with a short-lived client; always closes it. */
export async function withEtcd<T>(access: EtcdAccess, fn: (c: Etcd3) => Promise<T>, timeoutMs?: number): Promise<T> {
  const c = await openEtcd(access, timeoutMs);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/**
 * The reason in a gRPC error of the etcd client, without gRPC's wrapping: "14 UNAVAILABLE: No
 * connection established. Last error: Error: connect ECONNREFUSED 10.0.0.1:2379. Resolution
 * note: " -> "connect ECONNREFUSED 10.0.0.1:2379".
 */
export function etcdReason(message: string): string {
  const last = /Last error: (?:Error: )?(.*?)\.?(?:\s*Resolution note:.*)?$/s.exec(message)?.[1];
  return (last || message.replace(/\.?\s*Resolution note:.*$/s, '')).trim();
}
