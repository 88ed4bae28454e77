// mesos-agent on server.mesos-agent (the cache hosts): /etc/mesos/zk and /etc/mesos-slave/* from
// inventory vars, the agent run by ovl with the same values as flags, offering the fleet's cache
// port range as its `ports` resource. Not run against a real Mesos here (see README).

import type { Runbook } from '../src/engine/runbook.js';
import { hostsOf, type HostSpec, type Inventory } from '../src/inventory/types.js';
import { restartHandler, service, type ServiceSpec } from '../src/ops/service.js';
import type { Fact, HostContext, Operation } from '../src/ops/types.js';
import { facts } from '../src/ops/facts.js';
import { waitFor } from '../src/ops/wait.js';
import { parseMasterSpec, zkLeadingMaster } from '../src/mesos/leader.js';
import { render } from '../src/templates.js';
import {
  checkOrder,
  daemonGroundwork,
  flagFile,
  glogFiles,
  httpGet,
  MESOS_DIR,
  MESOS_LOG_DIR,
  mesosBinary,
  mesosEnv,
  mesosHostname,
  mesosSource,
  portVar,
  prepareMesos,
  mesosVar,
  zkUrl,
  type MesosShared,
  type MesosSource,
} from './mesos.js';

export const AGENT_WORK_DIR = `${MESOS_DIR}/agent`;
export const AGENT_ETC = '/etc/mesos-slave';
/** PATH of the executors (a task's command finds its interpreter on it). */
const EXECUTOR_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The host fact that decides the default isolation, read in the probe of the operations using it. */
export const HAS_CGROUPS: Fact<boolean> = {
  probe: 'if [ -d /sys/fs/cgroup/cpu ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo cgroups; else echo no-cgroups; fi',
  parse: (out) => out.trim() === 'cgroups',
};

export const isolationFor = (cgroups: boolean): string => (cgroups ? 'cgroups/cpu,cgroups/mem' : 'posix/cpu,posix/mem');

export interface AgentSettings {
  zk: string;
  ip: string;
  hostname: string;
  port: number;
  containerizers: string;
  /** mesos_isolation when set; otherwise chosen from the host's cgroups (isolationFor). */
  isolation?: string;
  resources: string;
  attributes?: string;
  cgroupsRoot?: string;
  workDir: string;
  logDir: string;
  /** Whether systemd is PID 1: elsewhere the agent must not look for it (it exits at once). */
  systemd: boolean;
}

export function agentSettings(h: HostSpec, inv: Inventory, hostname: string, systemd: boolean): AgentSettings {
  return {
    systemd,
    zk: zkUrl(h, inv, 'mesos-agent'),
    ip: h.address,
    hostname: mesosHostname(h, inv, hostname),
    port: portVar(h, inv, 'mesos_agent_port', 5051),
    containerizers: mesosVar<string>(h, inv, 'mesos_containerizers', 'mesos')!,
    isolation: mesosVar<string>(h, inv, 'mesos_isolation'),
    // cpus and mem are detected by the agent unless given; ports are the fleet's cache ports
    // and their Redis Cluster bus ports (+10000), which a redis_cluster instance takes too.
    resources: render('mesos-resources.hbs', {
      cpus: mesosVar<number>(h, inv, 'mesos_agent_cpus') ?? null,
      mem: mesosVar<number>(h, inv, 'mesos_agent_mem') ?? null,
      ports: h.vars.cache_ports,
      bus: { from: h.vars.cache_ports.from + 10000, to: Math.min(65535, h.vars.cache_ports.to + 10000) },
    }).trim(),
    attributes: mesosVar<string>(h, inv, 'mesos_attributes'),
    cgroupsRoot: mesosVar<string>(h, inv, 'mesos_cgroups_root'),
    workDir: AGENT_WORK_DIR,
    logDir: MESOS_LOG_DIR,
  };
}

export function agentService(s: AgentSettings, isolation: string, src: MesosSource, inv: Inventory): ServiceSpec {
  // Mesos before 1.0 calls the agent mesos-slave: the artifact's file name says which one it is.
  const bin = mesosBinary(src, ['mesos-agent', 'mesos-slave'], '/usr/sbin/mesos-agent', 'mesos-agent', inv);
  return {
    name: 'mesos-agent',
    command: [
      bin,
      `--master=${s.zk}`,
      `--ip=${s.ip}`,
      `--hostname=${s.hostname}`,
      `--port=${s.port}`,
      `--work_dir=${s.workDir}`,
      `--log_dir=${s.logDir}`,
      `--containerizers=${s.containerizers}`,
      `--isolation=${isolation}`,
      `--resources=${s.resources}`,
      ...(s.attributes ? [`--attributes=${s.attributes}`] : []),
      ...(s.cgroupsRoot ? [`--cgroups_root=${s.cgroupsRoot}`] : []),
      ...(s.systemd ? [] : ['--no-systemd_enable_support']),
      // The executor, fetcher and containerizer helpers ship next to the agent, and need its
      // libraries too: executors do not inherit the agent's environment.
      ...(src.kind === 'artifact' ? [`--launcher_dir=${src.binDir}`, `--executor_environment_variables=${JSON.stringify({ LD_LIBRARY_PATH: src.binDir, PATH: EXECUTOR_PATH })}`] : []),
    ],
    dir: MESOS_DIR,
    log: `${MESOS_LOG_DIR}/mesos-agent.service.log`,
    ownLogs: glogFiles('mesos-agent'),
    env: mesosEnv(src),
  };
}

/**
 * An operation whose content depends on whether the host has cgroups: the fact is read in its
 * probe (same round trip as every other probe), then it plans like the operation built for it.
 */
function withCgroupFact(title: string, make: (cgroups: boolean) => Operation): Operation {
  const sample = make(false);
  return {
    ...sample,
    title,
    fact: facts({ cgroups: HAS_CGROUPS, own: sample.fact! }),
    plan: ({ cgroups, own }, ctx) => make(cgroups).plan(own, ctx),
  };
}

/** Where the agent is checked for: each master of this inventory, else scheduler.mesos_master
 * (its masters, or the one leading now in its ZooKeeper), asked at each try. */
export function masterUrls(inv: Inventory): () => Promise<string[]> {
  const masters = hostsOf(inv, 'mesos-master').map((m) => `http://${m.address}:${portVar(m, inv, 'mesos_master_port', 5050)}`);
  if (masters.length) return async () => masters;
  const spec = inv.scheduler.mesos_master === undefined ? undefined : parseMasterSpec(inv.scheduler.mesos_master);
  if (spec && 'masters' in spec) return async () => spec.masters.map((m) => `http://${m}`);
  if (spec && 'zk' in spec) return async () => [`http://${await zkLeadingMaster(spec.zk.servers, spec.zk.path)}`];
  throw new Error(`mesos-agent needs a master: list mesos-master in components with server.mesos-master, or set scheduler: { resources: mesos, mesos_master: "zk://10.20.0.11:2181/mesos" } in ${inv.file}`);
}

interface Slave {
  hostname?: string;
  pid?: string;
}

async function listed(urls: () => Promise<string[]>, s: AgentSettings): Promise<boolean> {
  let last: unknown;
  for (const u of await urls()) {
    try {
      const r = await httpGet(`${u}/master/slaves`);
      if (r.status !== 200) continue;
      const slaves = (JSON.parse(r.body) as { slaves?: Slave[] }).slaves ?? [];
      return slaves.some((x) => x.hostname === s.hostname || (x.pid ?? '').endsWith(`@${s.ip}:${s.port}`));
    } catch (e) {
      last = e;
    }
  }
  if (last) throw last;
  return false;
}

const agentOf = (h: HostContext, inv: Inventory) => agentSettings(h.host, inv, /^[A-Za-z0-9.-]+$/.test(h.facts.hostname) ? h.facts.hostname : h.host.address, h.facts.systemd);

export const mesosAgent: Runbook<MesosShared> = {
  name: 'mesos-agent',
  summary: 'Mesos agents on server.mesos-agent: /etc/mesos-slave/* (cgroups isolation where the host has them, the cache port range as ports resource), work dir /data/mesos/agent, registered with the master',
  prepare: prepareMesos,
  host(h, comp, shared) {
    const inv = comp.inv;
    // Binaries first: a host with no source for them fails here, before anything is done on it.
    const src = mesosSource(h.host, inv, shared, 'mesos-agent');
    checkOrder(inv, 'mesos-agent', ['zookeeper', 'mesos-master']);
    masterUrls(inv);
    const s = agentOf(h, inv);
    const iso = (cgroups: boolean) => s.isolation ?? isolationFor(cgroups);
    const spec = (cgroups: boolean) => agentService(s, iso(cgroups), src, inv);
    const [definition, running] = service(spec(false), h, 'restart');
    const notify = ['restart'];
    const E = AGENT_ETC;
    return {
      operations: [
        ...daemonGroundwork(AGENT_WORK_DIR, src, s.zk, notify),
        flagFile(`${E}/containerizers`, s.containerizers, notify),
        s.isolation
          ? flagFile(`${E}/isolation`, s.isolation, notify)
          : withCgroupFact(`${E}/isolation (cgroups/cpu,cgroups/mem where the host has cgroups, else posix/cpu,posix/mem)`, (c) => flagFile(`${E}/isolation`, iso(c), notify)),
        flagFile(`${E}/ip`, s.ip, notify),
        flagFile(`${E}/hostname`, s.hostname, notify),
        flagFile(`${E}/work_dir`, s.workDir, notify),
        flagFile(`${E}/resources`, s.resources, notify),
        ...(s.attributes ? [flagFile(`${E}/attributes`, s.attributes, notify)] : []),
        withCgroupFact(`${definition!.title} (--isolation as in ${E}/isolation)`, (c) => service(spec(c), h, 'restart')[0]!),
        running!,
      ],
      handlers: { restart: restartHandler(spec(false), h) },
    };
  },
  after: (h, comp) => {
    const urls = masterUrls(comp.inv);
    const s = agentOf(h, comp.inv);
    return [waitFor(`mesos agent ${s.hostname} (${s.ip}:${s.port}) listed by the master (/master/slaves)`, () => listed(urls, s), 180_000, `${MESOS_LOG_DIR}/mesos-agent.service.log`)];
  },
};
