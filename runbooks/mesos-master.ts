// mesos-master on server.mesos-master, as in a production Mesos layout (seed 002): masters next to
// the ZooKeeper members, quorum = floor(n/2)+1, /etc/mesos/zk and /etc/mesos-master/* written
// for the record (and for the packages' init wrappers), the daemon run by ovl with the same
// values passed as flags. Not run against a real Mesos here (see README, "ZooKeeper and Mesos").

import type { Runbook } from '../src/engine/runbook.js';
import { hostsOf, type HostSpec, type Inventory } from '../src/inventory/types.js';
import { service, type ServiceSpec } from '../src/ops/service.js';
import { owedRestart } from '../src/engine/rolling.js';
import type { HostContext } from '../src/ops/types.js';
import { waitFor } from '../src/ops/wait.js';
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

export const MASTER_WORK_DIR = `${MESOS_DIR}/master`;
export const MASTER_ETC = '/etc/mesos-master';

/** Majority of the masters: floor(n/2)+1 (2 of 3, 3 of 5). */
export const masterQuorum = (n: number): number => Math.floor(n / 2) + 1;

export interface MasterSettings {
  zk: string;
  quorum: number;
  ip: string;
  hostname: string;
  cluster: string;
  port: number;
  workDir: string;
  logDir: string;
  /** How soon an agent that stopped answering is removed (its tasks lost, to be moved): Mesos's
   * default is 5 pings of 15 s. */
  agentPingTimeout?: number;
  maxAgentPingTimeouts?: number;
}

export function masterSettings(h: HostSpec, inv: Inventory, zk: string): MasterSettings {
  return {
    zk,
    quorum: masterQuorum(hostsOf(inv, 'mesos-master').length),
    ip: h.address,
    // The seed's layout advertises the master by its address (`hostname -I`).
    hostname: mesosHostname(h, inv, h.address),
    cluster: mesosVar<string>(h, inv, 'mesos_cluster', 'ovl')!,
    port: portVar(h, inv, 'mesos_master_port', 5050),
    workDir: MASTER_WORK_DIR,
    logDir: MESOS_LOG_DIR,
    agentPingTimeout: mesosVar<number>(h, inv, 'mesos_agent_ping_timeout'),
    maxAgentPingTimeouts: mesosVar<number>(h, inv, 'mesos_max_agent_ping_timeouts'),
  };
}

export function masterService(s: MasterSettings, src: MesosSource, inv: Inventory): ServiceSpec {
  return {
    name: 'mesos-master',
    command: [
      mesosBinary(src, ['mesos-master'], '/usr/sbin/mesos-master', 'mesos-master', inv),
      `--zk=${s.zk}`,
      `--quorum=${s.quorum}`,
      `--ip=${s.ip}`,
      `--hostname=${s.hostname}`,
      `--port=${s.port}`,
      `--cluster=${s.cluster}`,
      `--work_dir=${s.workDir}`,
      `--log_dir=${s.logDir}`,
      ...(s.agentPingTimeout !== undefined ? [`--agent_ping_timeout=${s.agentPingTimeout}secs`] : []),
      ...(s.maxAgentPingTimeouts !== undefined ? [`--max_agent_ping_timeouts=${s.maxAgentPingTimeouts}`] : []),
    ],
    dir: MESOS_DIR,
    log: `${MESOS_LOG_DIR}/mesos-master.service.log`,
    ownLogs: glogFiles('mesos-master'),
    env: mesosEnv(src),
  };
}

const base = (h: HostContext, inv: Inventory) => `http://${h.host.address}:${portVar(h.host, inv, 'mesos_master_port', 5050)}`;

export const mesosMaster: Runbook<MesosShared> = {
  name: 'mesos-master',
  summary: 'Mesos masters on server.mesos-master (quorum floor(n/2)+1, ZooKeeper from server.zookeeper): /etc/mesos*, work dir /data/mesos/master, a leading master',
  prepare: prepareMesos,
  host(h, comp, shared) {
    const inv = comp.inv;
    // Binaries first: a host with no source for them fails here, before anything is done on it.
    const src = mesosSource(h.host, inv, shared, 'mesos-master');
    checkOrder(inv, 'mesos-master', ['zookeeper']);
    const s = masterSettings(h.host, inv, zkUrl(h.host, inv, 'mesos-master'));
    const svc = masterService(s, src, inv);
    const notify = ['restart'];
    return {
      operations: [
        ...daemonGroundwork(MASTER_WORK_DIR, src, s.zk, notify),
        flagFile(`${MASTER_ETC}/quorum`, s.quorum, notify),
        flagFile(`${MASTER_ETC}/ip`, s.ip, notify),
        flagFile(`${MASTER_ETC}/hostname`, s.hostname, notify),
        flagFile(`${MASTER_ETC}/cluster`, s.cluster, notify),
        flagFile(`${MASTER_ETC}/work_dir`, s.workDir, notify),
        flagFile(`${MASTER_ETC}/log_dir`, s.logDir, notify),
        ...(s.agentPingTimeout !== undefined ? [flagFile(`${MASTER_ETC}/agent_ping_timeout`, `${s.agentPingTimeout}secs`, notify)] : []),
        ...(s.maxAgentPingTimeouts !== undefined ? [flagFile(`${MASTER_ETC}/max_agent_ping_timeouts`, s.maxAgentPingTimeouts, notify)] : []),
        ...service(svc, h, 'restart'),
      ],
      handlers: { restart: owedRestart(svc) },
    };
  },
  // One master at a time, the leading one last: a config change must not take every master (and
  // the frameworks' connection) away at once.
  rolling: (comp, shared) => ({
    service: (h) => masterService(masterSettings(h.host, comp.inv, zkUrl(h.host, comp.inv, 'mesos-master')), mesosSource(h.host, comp.inv, shared, 'mesos-master'), comp.inv),
    async leads(h) {
      const r = await httpGet(`${base(h, comp.inv)}/master/state`);
      const port = portVar(h.host, comp.inv, 'mesos_master_port', 5050);
      return r.status === 200 && (JSON.parse(r.body) as { leader?: string }).leader === `master@${h.host.address}:${port}`;
    },
    serves: async (h) => (await httpGet(`${base(h, comp.inv)}/master/health`).catch(() => ({ status: 0 }))).status === 200,
    serveTimeoutMs: 120_000,
  }),
  after: (h, comp) => [
    waitFor(
      `mesos-master ${h.host.name} healthy (${base(h, comp.inv)}/master/health answers 200)`,
      async () => (await httpGet(`${base(h, comp.inv)}/master/health`)).status === 200,
      120_000,
      `${MESOS_LOG_DIR}/mesos-master.service.log`,
    ),
    waitFor(
      'a leading mesos master (/master/state names a leader)',
      async () => {
        const r = await httpGet(`${base(h, comp.inv)}/master/state`);
        return r.status === 200 && !!(JSON.parse(r.body) as { leader?: string }).leader;
      },
      120_000,
    ),
  ],
};
