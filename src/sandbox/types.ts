// What a sandbox is: its hosts, the state file's shape, what `status` reports.

export type Log = (line: string) => void;

export interface SandboxHost {
  name: string;
  address: string;
  /** Per-host directory: data/, etc-up/, etc-work/, sshd/, sshd.log. */
  dir: string;
  /** Pid of the listening sshd, null when stopped. */
  pid: number | null;
  /** Mount namespace of the host ("mnt:[4026532301]"), null before the first start. */
  mntns: string | null;
}

export interface SandboxInfo {
  version: 1;
  name: string;
  net: string;
  stateDir: string;
  /** Absolute path of the inventory written by `up`. */
  inventory: string;
  /** Absolute path of the known_hosts file next to the inventory. */
  knownHosts: string;
  /** Absolute path of the fleet's private key (root logs in with it on every host). */
  fleetKey: string;
  hosts: SandboxHost[];
}

export interface SandboxUpOptions {
  name: string;
  hosts: number;
  /** First three octets of the hosts' addresses: host N gets <net>.N ("127.0.1" -> 127.0.1.1...). */
  net: string;
  /** Default /var/lib/ovl-sandbox/<name>. */
  stateDir?: string;
  /** Default <projectRoot>/inventories/<name>.yml. */
  inventory?: string;
  /** Progress lines; default console.log. */
  log?: Log;
}

export interface HostStatus {
  name: string;
  address: string;
  /** Pid of the listening sshd when it is alive. */
  pid: number | null;
  alive: boolean;
  /** Processes in the host's namespace other than the listening sshd (sessions, started services). */
  others: number;
}

export interface SandboxStatus {
  name: string;
  up: boolean;
  stateDir: string;
  net?: string;
  inventory?: string;
  knownHosts?: string;
  fleetKey?: string;
  hosts: HostStatus[];
}
