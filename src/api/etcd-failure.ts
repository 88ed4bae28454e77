// One way to say that etcd does not answer, for the CLI and the API alike.
import { etcdReason } from '../state/etcd.js';
import { EtcdUnavailable } from './errors.js';

/** `e` as EtcdUnavailable when it is a connection failure, else `e` itself. */
export function etcdFailure(e: Error, endpoints: string[], inventory: string): Error {
  // ovl's own errors (a task that failed on a refused connection of its own, ...) stay what they are.
  const code = (e as { code?: unknown }).code;
  if (e instanceof EtcdUnavailable || (typeof code === 'string' && /^[A-Z_]+$/.test(code))) return e;
  if (e.name === 'GRPCConnectFailedError' || /UNAVAILABLE|ECONNREFUSED|deadline/i.test(e.message)) {
    return new EtcdUnavailable(`etcd does not answer at ${endpoints.join(', ')} (${etcdReason(e.message)}): is the fleet bootstrapped (ovl bootstrap ${inventory})?`);
  }
  return e;
}
