// The vars the mesos-master and mesos-agent runbooks read, and their inventory rules.
import type { ComponentRules, RuleProblem } from './rules.js';
import { HOSTNAME_RE } from '../../src/shell.js';
import { number, port, text, whole, type VarSpecs } from './vars.js';

const WORD = '[A-Za-z0-9._~+\\/-]+';
const OPTION = '[A-Za-z0-9_-]+=[A-Za-z0-9._,\\/:+-]+';
const URI = "(?:https?|file)://[A-Za-z0-9._~:\\/?#@!$&()*+,;=%-]+";
/** One apt line, its words as parseDebLine (runbooks/mesos.ts) reads them. */
const SP = '[ \\t]';
const DEB_LINE_RE = new RegExp(`^deb${SP}+(?:\\[${SP}*${OPTION}(?:${SP}+${OPTION})*${SP}*\\]${SP}+)?${URI}${SP}+${WORD}(?:${SP}+${WORD})*${SP}*$`);

/** Read by both daemons. */
const COMMON: VarSpecs = {
  mesos_hostname: text(HOSTNAME_RE, 'a DNS name or an IPv4 address', 'cache-01.example'),
  mesos_zk: text(/^zk:\/\/[A-Za-z0-9.:,@-]+\/[A-Za-z0-9_\/-]*$/, 'a ZooKeeper URL like "zk://10.20.0.11:2181,10.20.0.12:2181/mesos"', '"zk://10.20.0.11:2181/mesos"'),
  mesos_zk_path: text(/^\/[A-Za-z0-9_\/-]*$/, 'a znode path like "/mesos"', '"/mesos"'),
  mesos_master_port: port(5050),
  mesos_apt_repository: text(DEB_LINE_RE, 'a sources.list line like "deb http://repos.example/mesos bookworm main"', '"deb http://repos.example/mesos bookworm main"'),
  mesos_apt_signed_by: text(/^[A-Za-z0-9_.\/~-]+$/, "the local path of the repository's signing key", './mesos-archive-keyring.gpg'),
};

export const MESOS_MASTER_VARS: VarSpecs = {
  ...COMMON,
  mesos_cluster: text(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a name of letters, digits, ., _ and -', 'prod-cache'),
  /** Seconds between the master's pings of an agent, and pings missed before it is removed. */
  mesos_agent_ping_timeout: whole(1, 3600, 15),
  mesos_max_agent_ping_timeouts: whole(1, 100, 5),
};

export const MESOS_AGENT_VARS: VarSpecs = {
  ...COMMON,
  mesos_agent_port: port(5051),
  mesos_containerizers: text(/^[a-z]+(,[a-z]+)*$/, 'a list like "mesos" or "docker,mesos"', 'mesos'),
  mesos_isolation: text(/^[a-z_]+\/[a-z_]+(,[a-z_]+\/[a-z_]+)*$/, 'a list like "cgroups/cpu,cgroups/mem"', '"cgroups/cpu,cgroups/mem"'),
  mesos_agent_cpus: number(0.1, 4096, 8),
  mesos_agent_mem: whole(32, 64 * 1024 * 1024, 6144),
  /** Where the agent's cgroups live: distinct per agent when several share one kernel (sandboxes). */
  mesos_cgroups_root: text(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'a cgroup path like "mesos"', 'mesos'),
  mesos_attributes: text(/^[A-Za-z0-9_.-]+:[A-Za-z0-9_.\[\]-]+(;[A-Za-z0-9_.-]+:[A-Za-z0-9_.\[\]-]+)*$/, 'attributes like "rack:r1;zone:a"', '"rack:r1;zone:a"'),
};

/** Read by the scheduler when it runs on Mesos (src/mesos/framework.ts). */
export const MESOS_SCHEDULER_VARS: VarSpecs = {
  mesos_task_cpus: number(0.001, 4096, 0.1),
  /** Launches per agent not running yet, at most (each costs the agent two libmesos processes). */
  mesos_max_starting_per_agent: whole(1, 1000, 4),
};

/** Mesos is not packaged in Debian: each host running a daemon needs an artifact or a package repository. */
function mesosBinaries({ component, hosts, hasArtifact }: Parameters<NonNullable<ComponentRules['check']>>[0]): RuleProblem[] {
  if (hasArtifact('mesos')) return [];
  const without = hosts.filter((h) => !h.vars.mesos_apt_repository).map((h) => h.name);
  if (!without.length) return [];
  return [
    {
      message:
        `${component} needs the Mesos binaries: name an artifact under artifacts.mesos or set mesos_apt_repository; ` +
        `${without.length === hosts.length ? 'the inventory has neither' : `${without.join(', ')} ${without.length > 1 ? 'have' : 'has'} neither`} (Mesos is not packaged in Debian)`,
      fix:
        'add under artifacts: mesos: [ { version: "1.11.0", files: { mesos-master: /path/to/mesos-master, mesos-agent: /path/to/mesos-agent } } ], ' +
        'or under vars: mesos_apt_repository: "deb http://repos.example/mesos bookworm main" (and mesos_apt_signed_by: ./mesos-archive-keyring.gpg)',
    },
  ];
}

export const MESOS_MASTER_RULES: ComponentRules = { vars: MESOS_MASTER_VARS, check: mesosBinaries };
export const MESOS_AGENT_RULES: ComponentRules = { vars: MESOS_AGENT_VARS, check: mesosBinaries };
