// What a scale adds and removes. Pure, like placement.ts: new instances go where create's rules
// put them given what the cluster has already (a master where the cluster has the fewest masters,
// never two members of a shard on one host, a shard's replicas on the hosts that hold the fewest
// replicas of its master's host), and what goes is chosen so that what stays keeps those rules.
import { nodeIdSource } from './nodeid.js';
import { countSlots } from './reshard.js';
import { SLOT_COUNT } from './slots.js';
import { freePorts, instanceMemMB, PlacementError } from './placement.js';
import { binaryType, type HostCapacity, type Plan, type PlannedInstance } from './types.js';

/** The shape a scale asks for; absent dimensions stay as they are. */
export interface Shape {
  masters: number;
  replicas: number;
  nodes: number;
}

/** The plan's shape now (a redis type's replicas: the most any shard has). */
export function shapeOf(plan: Plan): Shape {
  if (plan.type === 'memcache') return { masters: 0, replicas: 0, nodes: plan.instances.length };
  const masters = plan.instances.filter((i) => i.role === 'master').length;
  const perShard = new Map<number, number>();
  for (const i of plan.instances) if (i.role === 'replica') perShard.set(i.shard, (perShard.get(i.shard) ?? 0) + 1);
  return { masters, replicas: Math.max(0, ...perShard.values()), nodes: 0 };
}

export interface ShapeChange {
  add: PlannedInstance[];
  remove: PlannedInstance[];
}

/**
 * Instances to add (placed on `hosts`, whose usedPorts/usedMemMB count every allocation, this
 * cluster's included) and to remove so that the plan has shape `to`. Throws PlacementError naming
 * what the fleet lacks; nothing is reserved here.
 */
export function shapeChange(plan: Plan, to: Shape, hosts: HostCapacity[], newId?: () => string): ShapeChange {
  const id = nodeIdSource(newId);
  const placer = new Placer(plan, hosts);
  const add: PlannedInstance[] = [];
  const remove: PlannedInstance[] = [];
  if (plan.type === 'memcache') {
    const nodes = plan.instances.filter((i) => i.role === 'node');
    for (let k = nodes.length; k < to.nodes; k++) add.push(placer.take({ id: id(), role: 'node', shard: Math.max(-1, ...nodes.map((i) => i.shard), ...add.map((i) => i.shard)) + 1 }));
    remove.push(...placer.pickRemovals(nodes, nodes.length - to.nodes));
    return { add, remove };
  }
  const masters = plan.instances.filter((i) => i.role === 'master');
  const cluster = plan.type === 'redis_cluster';
  // Shards removed first: from the hosts with the most masters, newest shards first on a tie.
  const goneShards = new Set(placer.pickRemovals(masters, masters.length - to.masters).map((m) => m.shard));
  remove.push(...plan.instances.filter((i) => goneShards.has(i.shard)));
  placer.forget(remove);
  let epoch = Math.max(0, ...masters.map((m) => m.configEpoch ?? 0));
  let shard = Math.max(-1, ...plan.instances.map((i) => i.shard));
  const newMasters: PlannedInstance[] = [];
  for (let k = masters.length; k < to.masters; k++) {
    const m = placer.take({ id: id(), role: 'master', shard: ++shard, ...(cluster ? { slots: [], configEpoch: ++epoch, joining: true } : {}) });
    newMasters.push(m);
    add.push(m);
  }
  for (const m of [...masters.filter((x) => !goneShards.has(x.shard)), ...newMasters]) {
    const replicas = plan.instances.filter((i) => i.role === 'replica' && i.shard === m.shard);
    for (let k = replicas.length; k < to.replicas; k++) add.push(placer.take({ id: id(), role: 'replica', shard: m.shard, masterId: m.id, ...(cluster ? { joining: true } : {}) }, m));
    const extra = placer.pickRemovals(replicas, replicas.length - to.replicas);
    remove.push(...extra);
    placer.forget(extra);
  }
  return { add, remove };
}

type Draft = Omit<PlannedInstance, 'host' | 'address' | 'port'>;

/** The cluster's instances per host as they will be, and each host's free ports and memory. */
class Placer {
  private readonly insts: PlannedInstance[];
  private readonly need: number;
  constructor(private readonly plan: Plan, private readonly hosts: HostCapacity[]) {
    this.insts = [...plan.instances];
    this.need = instanceMemMB(plan.maxmemoryMB);
  }

  private count(host: string, role?: string): number {
    return this.insts.filter((i) => i.host === host && (!role || i.role === role)).length;
  }

  forget(gone: PlannedInstance[]): void {
    for (const g of gone) {
      const k = this.insts.indexOf(g);
      if (k >= 0) this.insts.splice(k, 1);
    }
  }

  /** `n` of `from` to remove: those on the hosts with the most instances of this role, newest first. */
  pickRemovals(from: PlannedInstance[], n: number): PlannedInstance[] {
    const out: PlannedInstance[] = [];
    const left = [...from];
    for (let k = 0; k < n && left.length; k++) {
      // A master left nearly empty by an interrupted scale-in goes first: fewer keys to move.
      const empty = (i: PlannedInstance) => (i.role === 'master' && countSlots(i.slots ?? []) < SLOT_COUNT / from.length / 2 ? 0 : 1);
      left.sort((a, b) => empty(a) - empty(b) || this.count(b.host, b.role) - this.count(a.host, a.role) || this.count(b.host) - this.count(a.host) || b.shard - a.shard || b.port - a.port);
      const x = left.shift()!;
      out.push(x);
      this.forget([x]);
    }
    return out;
  }

  /** Place one instance: its host (see the file's comment), the lowest free port there. */
  take(d: Draft, master?: PlannedInstance): PlannedInstance {
    const bin = binaryType(this.plan.type);
    const needBus = this.plan.type === 'redis_cluster';
    const shardHosts = new Set(this.insts.filter((i) => i.shard === d.shard && this.plan.type !== 'memcache').map((i) => i.host));
    const withVersion = this.hosts.filter((h) => (h.versions[bin] ?? []).includes(this.plan.version));
    const room = withVersion.filter((h) => h.memMB - h.usedMemMB >= this.need && freePorts(h, needBus, 1).length);
    const able = room.filter((h) => !shardHosts.has(h.name));
    if (!able.length) {
      const what = `${d.role} of ${this.plan.type === 'memcache' ? 'node' : 'shard'} ${d.shard}`;
      const why = !withVersion.length
        ? `no host has ${bin} ${this.plan.version} installed`
        : !room.length
          ? `no host with ${bin} ${this.plan.version} has a free port${needBus ? ' (with its bus port + 10000)' : ''} and ${this.need} MB free`
          : `the hosts with room (${room.map((h) => h.name).join(', ')}) each hold a member of that shard already (a master and its replicas never share a host)`;
      throw new PlacementError(`no host for a new ${what}: ${why}`);
    }
    // Replicas of one host's masters spread over the other hosts (losing a host fails over
    // to many): fewest of them first.
    const siblings = (h: string) => (master ? this.insts.filter((i) => i.role === 'replica' && i.host === h && this.insts.find((m) => m.id === i.masterId)?.host === master.host).length : 0);
    const ranked = [...able].sort(
      (a, b) =>
        (d.role === 'master' ? this.count(a.name, 'master') - this.count(b.name, 'master') : 0) ||
        this.count(a.name) - this.count(b.name) ||
        siblings(a.name) - siblings(b.name) ||
        a.usedPorts.length - b.usedPorts.length ||
        a.name.localeCompare(b.name),
    );
    const h = ranked[0]!;
    const port = freePorts(h, needBus, 1)[0]!;
    h.usedPorts.push(port);
    h.usedMemMB += this.need;
    const inst: PlannedInstance = { ...d, host: h.name, address: h.address, port };
    this.insts.push(inst);
    return inst;
  }
}
