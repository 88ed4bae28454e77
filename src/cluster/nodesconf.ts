// The pre-rendered nodes.conf of a Redis Cluster node (seed 004): every node starts already
// knowing the whole cluster, so no CLUSTER MEET round and no slot assignment are needed.
// Facts this relies on (measured with Redis 7.0.15, /work/shared/notes/facts-measured-here.md):
//  - exactly one `myself` line per file, or the node exits ("corrupted cluster config file");
//  - a replica's own line must be `myself,slave <master-id>`, otherwise it stays an empty master;
//  - distinct config epochs (1..M) per master avoid a slow collision-resolution round.
// Line format (cluster.c clusterGenNodeDescription):
//   <id> <ip>:<port>@<busport> <flags> <master-id|-> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
// Replica lines carry their master's config epoch, as Redis itself writes them.

import { render } from '../templates.js';
import { formatSlots } from './slots.js';
import { BUS_PORT_OFFSET, type Plan, type PlannedInstance } from './types.js';

export interface NodesConfLine {
  id: string;
  address: string;
  port: number;
  busport: number;
  flags: string;
  master: string;
  epoch: number;
  slots: string;
}

export interface NodesConfContext {
  nodes: NodesConfLine[];
  currentEpoch: number;
}

/** Template context of `instanceId`'s nodes.conf: one line per instance of the plan, `myself`
 * on its own (on none without an id: the lines every node's file shares). */
export function nodesConfContext(plan: Plan, instanceId?: string): NodesConfContext {
  if (plan.type !== 'redis_cluster') throw new Error(`nodes.conf exists only for redis_cluster, ${plan.cluster} is ${plan.type}`);
  const byId = new Map(plan.instances.map((i) => [i.id, i]));
  if (byId.size !== plan.instances.length) throw new Error(`plan ${plan.cluster} has duplicate instance ids`);
  if (instanceId !== undefined && !byId.has(instanceId)) throw new Error(`instance ${instanceId} is not in plan ${plan.cluster}`);
  const masterOf = (i: PlannedInstance): PlannedInstance => {
    const m = i.masterId === undefined ? undefined : byId.get(i.masterId);
    if (!m || m.role !== 'master') throw new Error(`replica ${i.id} of ${plan.cluster}: master ${i.masterId} is not a master of the plan`);
    return m;
  };
  const nodes = plan.instances.map((i): NodesConfLine => {
    if (i.role === 'master') {
      if (i.configEpoch === undefined) throw new Error(`master ${i.id} of ${plan.cluster} has no config epoch`);
      return {
        id: i.id,
        address: i.address,
        port: i.port,
        busport: i.port + BUS_PORT_OFFSET,
        flags: 'master',
        master: '-',
        epoch: i.configEpoch,
        slots: formatSlots(i.slots ?? []),
      };
    }
    if (i.role !== 'replica') throw new Error(`instance ${i.id} of ${plan.cluster} has role ${i.role}`);
    const m = masterOf(i);
    return {
      id: i.id,
      address: i.address,
      port: i.port,
      busport: i.port + BUS_PORT_OFFSET,
      flags: 'slave',
      master: m.id,
      epoch: m.configEpoch ?? 0,
      slots: '',
    };
  }).map((line) => (line.id === instanceId ? myself(line) : line));
  const currentEpoch = Math.max(0, ...plan.instances.map((i) => i.configEpoch ?? 0));
  return { nodes, currentEpoch };
}

const myself = (line: NodesConfLine): NodesConfLine => ({ ...line, flags: `myself,${line.flags}` });

/** nodes.conf for one node of a redis_cluster plan (identical for all nodes but for `myself`). */
export function renderNodesConf(plan: Plan, instanceId: string): string {
  return render('nodes.conf.hbs', nodesConfContext(plan, instanceId));
}

/**
 * The nodes.conf of every node of a plan, by id: the same files as renderNodesConf, but the
 * template renders the lines all files share once, and each node's own line once. Rendering
 * every file whole sends N² lines through the template: 2.8 s of CPU for a 600-node cluster
 * before any host was contacted.
 */
export function renderNodesConfs(plan: Plan): Map<string, string> {
  const shared = nodesConfContext(plan);
  // The template writes one line per node, in the plan's order, then the vars line.
  const lines = render('nodes.conf.hbs', shared).split('\n');
  return new Map(
    shared.nodes.map((line, k) => {
      const own = render('nodes.conf.hbs', { nodes: [myself(line)], currentEpoch: shared.currentEpoch }).split('\n')[0]!;
      return [line.id, [...lines.slice(0, k), own, ...lines.slice(k + 1)].join('\n')];
    }),
  );
}

/**
 * nodes.conf of a master a scale adds to a healthy cluster: the cluster as the plan has it (used
 * only when the masters hold exactly the plan's slots: slotsAsPlanned in tasks/reshape.ts), without
 * the other nodes still to join. A node that starts knowing
 * no slot owner waits Redis's rejoin delay (up to 5 s) after it learns them before it says
 * cluster_state:ok, and slots can move to it only then; this one says it 2 s after it starts.
 */
export function renderJoiningMasterNodesConf(plan: Plan, instanceId: string): string {
  return renderNodesConf({ ...plan, instances: plan.instances.filter((i) => !i.joining || i.id === instanceId) }, instanceId);
}

/**
 * nodes.conf of a node joining a running cluster in place of a lost one (restart --move): only
 * itself, a master without slots. It learns the cluster from a CLUSTER MEET and then follows its
 * shard (join.ts): a file listing the cluster as planned would claim roles and config epochs that
 * the failover has changed since.
 */
export function renderJoiningNodesConf(inst: PlannedInstance): string {
  const line: NodesConfLine = { id: inst.id, address: inst.address, port: inst.port, busport: inst.port + BUS_PORT_OFFSET, flags: 'master', master: '-', epoch: 0, slots: '' };
  return render('nodes.conf.hbs', { nodes: [myself(line)], currentEpoch: 0 });
}
