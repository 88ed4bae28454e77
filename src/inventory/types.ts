// The validated, resolved inventory: what every runbook and command works from.
// Produced only by loadInventory() (src/inventory/load.ts), which checks the YAML first.

export interface SshSettings {
  user: string;
  port: number;
  /** Absolute path of the private key (inventory paths are relative to the inventory file). */
  key: string;
  /** Name of the environment variable holding the key's passphrase, if the key has one. */
  passphraseEnv?: string;
  /** Absolute path of the known_hosts file kept for this inventory. */
  knownHosts: string;
}

export interface PortRange {
  from: number;
  to: number;
}

/** Settings that may be given globally (`vars:`) and overridden per host (`hosts[].vars`). */
export interface Vars {
  /** Ports the cache instances of a host may use (inclusive). */
  cache_ports: PortRange;
  etcd_client_port: number;
  etcd_peer_port: number;
  etcd_cluster_token: string;
  zookeeper_client_port: number;
  /** Anything else the inventory sets; runbooks read what they know. Secret-looking keys are redacted. */
  [key: string]: unknown;
}

export interface HostSpec {
  name: string;
  address: string;
  ssh: SshSettings;
  /** Global vars merged with this host's vars. */
  vars: Vars;
  /** 1-based line of the host's entry in the inventory, for messages. */
  line: number;
}

/** A set of binaries of one version, pushed to /data/lib/<type>/<version>/bin/. */
export interface Artifact {
  version: string;
  /** Binary name on the host -> absolute local path (or path inside `tarball`). */
  files: Record<string, string>;
  /** Absolute path of a local release tarball the files are taken from, when given. */
  tarball?: string;
}

export type ArtifactType = 'etcd' | 'redis' | 'memcache' | 'zookeeper' | 'mesos';

export interface Inventory {
  /** Absolute path of the inventory file. */
  file: string;
  vars: Vars;
  hosts: HostSpec[];
  /** Components to deploy, in deployment order. */
  components: string[];
  /** Component -> names of the hosts it runs on, in inventory order. */
  server: Record<string, string[]>;
  artifacts: Partial<Record<ArtifactType, Artifact[]>>;
  scheduler: { resources: 'fleet' | 'mesos'; mesos_master?: string };
}

export function hostByName(inv: Inventory, name: string): HostSpec {
  const h = inv.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host named ${name} in ${inv.file}`);
  return h;
}

export function hostsOf(inv: Inventory, component: string): HostSpec[] {
  return (inv.server[component] ?? []).map((n) => hostByName(inv, n));
}
