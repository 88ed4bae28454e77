// The etcd key layout (seed 001), one place for every key ovl reads or writes.
export const ROOT = '/overlord';

/** What bootstrap registers for the scheduler: a cache host's capacity. */
export interface HostCapacityRecord {
  host: string;
  address: string;
  cpu: number;
  memMB: number;
  ports: { from: number; to: number };
  /** Cache type -> versions present under /data/lib/<type>/. */
  versions: Record<string, string[]>;
}

export const capacityPrefix = `${ROOT}/fleet/hosts/`;
export const capacityKey = (host: string) => `${capacityPrefix}${host}`;
