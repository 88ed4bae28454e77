// Mesos offers as placement input, and the resources a launched instance takes from them. Pure.
//
// Placement (src/cluster/placement.ts) works on HostCapacity: one contiguous port range plus
// the ports taken in it. An agent's offers become one HostCapacity (placement is not changed):
// `ports` spans the lowest to the highest usable offered port, and `usedPorts` lists every
// port in that span that is not usable: not offered, held by an allocation in etcd, or, for
// redis_cluster, without its bus port (port + 10000) offered too. Placement treats a used port
// as also holding its bus port, which only ever hides ports; it never picks one not offered.
// CPU: every instance reserves `taskCpus`, so the memory offered is capped at what the offered
// CPU can run (placement counts instances per host by memory).
import { instanceMemMB } from '../cluster/placement.js';
import { BUS_PORT_OFFSET, type ClusterType, type HostCapacity, type Plan, type PlannedInstance } from '../cluster/types.js';
import { IPV4_RE } from '../shell.js';
import type { MesosOffer, MesosResource } from './api.js';

/** What a task's container runs besides the instance: Mesos's command executor and the
 * containerizer's launch helper (about 9 MB private memory each, measured; their libmesos pages are
 * shared). It counts against the task's limit under cgroups isolation: without it, an instance with
 * a small maxmemory would be killed by its own limit. */
export const EXECUTOR_MEM_MB = 32;

/** The memory a task asks for: its instance's and its executor's. */
export const taskMemMB = (maxmemoryMB: number): number => instanceMemMB(maxmemoryMB) + EXECUTOR_MEM_MB;

export interface InventoryHost {
  name: string;
  address: string;
}

/** The inventory host an offer's agent runs on: by IP, else by host name (full or short). */
export function hostOfOffer(offer: MesosOffer, hosts: readonly InventoryHost[]): InventoryHost | undefined {
  const ip = offer.url?.address.ip;
  return (
    hosts.find((h) => h.address === ip || h.address === offer.hostname) ??
    hosts.find((h) => h.name === offer.hostname) ??
    (IPV4_RE.test(offer.hostname) ? undefined : hosts.find((h) => h.name === offer.hostname.split('.')[0]))
  );
}

/** Mesos keeps scalars to three decimals. */
const milli = (x: number) => Math.round(x * 1000);
const fromMilli = (m: number) => m / 1000;

/** What an instance launched on Mesos reserves. */
export function instancePorts(type: ClusterType, port: number): number[] {
  return type === 'redis_cluster' ? [port, port + BUS_PORT_OFFSET] : [port];
}

interface Source {
  /** The offered resource minus its amount: role, reservations, allocation_info... */
  meta: Omit<MesosResource, 'name' | 'type' | 'scalar' | 'ranges' | 'set'>;
  name: string;
  /** Remaining amount of a scalar, in thousandths. */
  milli?: number;
  /** Remaining ranges, inclusive. */
  ranges?: [number, number][];
}

/** The resources of one agent's offers, drawn down as instances are launched on them. */
export class AgentResources {
  readonly agentId: string;
  private readonly sources: Source[] = [];

  constructor(
    readonly host: InventoryHost,
    readonly offers: MesosOffer[],
  ) {
    this.agentId = offers[0]!.agent_id.value;
    for (const o of offers) {
      for (const r of o.resources) {
        const { name, type, scalar, ranges, set, ...meta } = r;
        void set;
        if (type === 'SCALAR' && scalar) this.sources.push({ meta, name, milli: milli(scalar.value) });
        else if (type === 'RANGES' && ranges) this.sources.push({ meta, name, ranges: (ranges.range ?? []).map((x) => [x.begin, x.end] as [number, number]) });
      }
    }
  }

  scalar(name: string): number {
    return fromMilli(this.sources.reduce((n, s) => n + (s.name === name ? (s.milli ?? 0) : 0), 0));
  }

  /** Every port still offered, ascending. */
  ports(): number[] {
    const set = new Set<number>();
    for (const s of this.sources) if (s.name === 'ports') for (const [b, e] of s.ranges ?? []) for (let p = Math.max(1, b); p <= Math.min(65535, e); p++) set.add(p);
    return [...set].sort((a, b) => a - b);
  }

  private hasPort(p: number): boolean {
    return this.sources.some((s) => s.name === 'ports' && (s.ranges ?? []).some(([b, e]) => b <= p && p <= e));
  }

  /** Can this instance be launched here, at its planned port? */
  fits(plan: Plan, inst: PlannedInstance, taskCpus: number): boolean {
    return (
      milli(this.scalar('cpus')) >= milli(taskCpus) &&
      this.scalar('mem') >= taskMemMB(plan.maxmemoryMB) &&
      instancePorts(plan.type, inst.port).every((p) => this.hasPort(p))
    );
  }

  /**
   * This agent as placement sees it for one cluster type. `registered` is the host's entry of
   * fleetCapacity(): its versions and the ports allocations in etcd hold. Null when no
   * instance of the type fits.
   */
  capacity(type: ClusterType, maxmemoryMB: number, taskCpus: number, registered: HostCapacity | undefined): HostCapacity | null {
    const held = new Set(registered?.usedPorts ?? []);
    const taken = (p: number) => held.has(p) || held.has(p - BUS_PORT_OFFSET);
    const offered = this.ports();
    const offeredSet = new Set(offered);
    const usable = offered.filter((p) => !taken(p) && instancePorts(type, p).every((q) => offeredSet.has(q) && !taken(q)));
    if (!usable.length) return null;
    const cpuSlots = Math.floor(milli(this.scalar('cpus')) / Math.max(1, milli(taskCpus)));
    // Placement counts instances by their own memory: as many as the offers hold tasks for.
    const memMB = Math.min(cpuSlots, Math.floor(this.scalar('mem') / taskMemMB(maxmemoryMB))) * instanceMemMB(maxmemoryMB);
    const from = usable[0]!;
    const to = usable[usable.length - 1]!;
    const usableSet = new Set(usable);
    const usedPorts: number[] = [];
    for (let p = from; p <= to; p++) if (!usableSet.has(p)) usedPorts.push(p);
    return {
      name: this.host.name,
      address: this.host.address,
      cpu: this.scalar('cpus'),
      memMB,
      ports: { from, to },
      usedPorts,
      usedMemMB: 0,
      versions: registered?.versions ?? {},
    };
  }

  /** Draw an instance's cpus, mem and ports (with its bus port for redis_cluster). */
  take(plan: Plan, inst: PlannedInstance, taskCpus: number): MesosResource[] {
    if (!this.fits(plan, inst, taskCpus)) throw new Error(`${this.host.name}: the offers do not hold ${inst.address}:${inst.port}`);
    return [...this.takeScalar('cpus', taskCpus), ...this.takeScalar('mem', taskMemMB(plan.maxmemoryMB)), ...this.takePorts(instancePorts(plan.type, inst.port))];
  }

  private takeScalar(name: string, amount: number): MesosResource[] {
    let left = milli(amount);
    const out: MesosResource[] = [];
    for (const s of this.sources) {
      if (left <= 0) break;
      if (s.name !== name || !s.milli) continue;
      const t = Math.min(s.milli, left);
      s.milli -= t;
      left -= t;
      out.push({ ...s.meta, name, type: 'SCALAR', scalar: { value: fromMilli(t) } });
    }
    return out;
  }

  private takePorts(ports: number[]): MesosResource[] {
    const bySource = new Map<Source, number[]>();
    for (const p of ports) {
      const s = this.sources.find((x) => x.name === 'ports' && (x.ranges ?? []).some(([b, e]) => b <= p && p <= e))!;
      s.ranges = s.ranges!.flatMap(([b, e]): [number, number][] => (p < b || p > e ? [[b, e]] : ([[b, p - 1], [p + 1, e]] as [number, number][]).filter(([x, y]) => x <= y)));
      bySource.set(s, [...(bySource.get(s) ?? []), p]);
    }
    return [...bySource].map(([s, ps]) => ({ ...s.meta, name: 'ports', type: 'RANGES', ranges: { range: ps.map((p) => ({ begin: p, end: p })) } }));
  }
}

/** One AgentResources per inventory host, from all its offers (of one agent id); offers of
 * agents no inventory host matches are left out. */
export function agentsOf(offers: MesosOffer[], hosts: readonly InventoryHost[]): Map<string, AgentResources> {
  const byHost = new Map<string, { host: InventoryHost; offers: MesosOffer[] }>();
  for (const offer of offers) {
    const host = hostOfOffer(offer, hosts);
    if (!host) continue;
    const cur = byHost.get(host.name);
    if (!cur) byHost.set(host.name, { host, offers: [offer] });
    else if (cur.offers[0]!.agent_id.value === offer.agent_id.value) cur.offers.push(offer);
  }
  return new Map([...byHost].map(([name, a]) => [name, new AgentResources(a.host, a.offers)]));
}
