import type { Etcd3 } from 'etcd3';
import type { HostSpec, Inventory } from '../inventory/types.js';
import { hostsOf } from '../inventory/types.js';

export const clientURL = (h: HostSpec) => `http://${h.address}:${h.vars.etcd_client_port}`;
export const peerURL = (h: HostSpec) => `http://${h.address}:${h.vars.etcd_peer_port}`;

/** Client endpoints of the fleet's etcd (the hosts of `server.etcd`). */
export function etcdEndpoints(inv: Inventory): string[] {
  const hosts = hostsOf(inv, 'etcd');
  if (!hosts.length) throw new Error(`${inv.file} has no etcd hosts (server.etcd): ovl keeps its state in etcd`);
  return hosts.map(clientURL);
}

/**
 * An etcd client that fails fast: one attempt per call with a deadline, no circuit breaker
 * (the default breaker would keep failing for 5 s after a member comes up, slowing waits).
 * `patient` (the scheduler): a call that etcd did not answer in time, or that found no member,
 * is made again with growing pauses, about a minute in all before it fails: on a machine busy
 * starting hundreds of nodes an etcd member once took 12 s to commit one write, and a task
 * must not fail, nor the scheduler stop, for a stall it outlives. Writes made again are
 * idempotent puts or transactions guarded by what they read.
 */
export async function openEtcd(endpoints: string[], timeoutMs = 3000, o: { patient?: boolean } = {}): Promise<Etcd3> {
  // Loaded on first use: etcd3 (gRPC, protobuf) takes longer to load than most of a no-op run.
  const [{ Etcd3, isRecoverableError }, { ExponentialBackoff, handleAll, handleWhen, noop, retry }] = await Promise.all([import('etcd3'), import('cockatiel')]);
  const global = o.patient
    ? retry(handleWhen(isRecoverableError), { maxAttempts: 6, backoff: new ExponentialBackoff({ initialDelay: 500, maxDelay: 8000 }) })
    : retry(handleAll, { maxAttempts: endpoints.length - 1 });
  return new Etcd3({
    hosts: endpoints,
    dialTimeout: timeoutMs,
    // A large cluster's instance keys (nodes.conf of every node) exceed gRPC's 4 MB default.
    grpcOptions: { 'grpc.max_receive_message_length': 512 << 20 },
    defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    faultHandling: { host: () => noop, global },
  });
}

/** Run fn with a short-lived client; always closes it. */
export async function withEtcd<T>(endpoints: string[], fn: (c: Etcd3) => Promise<T>, timeoutMs?: number): Promise<T> {
  const c = await openEtcd(endpoints, timeoutMs);
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
