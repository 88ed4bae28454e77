// What one consistency check shares: the plan's instances by index, the observations nodes make
// of each other (grouped by the node they are about), and the wording of what went wrong.
import { plural } from '../../util/plural.js';
import { BUS_PORT_OFFSET, type Plan, type PlannedInstance } from '../types.js';
import type { NodeReport } from '../check.js';

/** Viewers named in a grouped observation. */
export const EXAMPLES = 3;

export function instanceLabel(i: { address: string; port: number; host: string }): string {
  return `${i.address}:${i.port} (${i.host})`;
}

export function short(s: string, max = 60): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export function describeError(e: unknown, timeoutMs: number): string {
  const err = e as { code?: string; message?: string } | undefined;
  const code = err?.code;
  const msg = err?.message ?? String(e);
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ETIMEDOUT' || /timed out|ETIMEDOUT/i.test(msg)) return `no answer within ${timeoutMs} ms`;
  if (code === 'EHOSTUNREACH') return 'host unreachable';
  if (code === 'ENETUNREACH') return 'network unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
  if (code === 'EADDRNOTAVAIL') return 'address not available';
  return short(msg.split('\n')[0] ?? msg, 120);
}

export function infoFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line === '' || line[0] === '#') continue;
    const c = line.indexOf(':');
    if (c > 0) m.set(line.slice(0, c), line.slice(c + 1));
  }
  return m;
}

/** The plan's version matches what the binary reports ("7.0.15" vs "7.0.15", or "7.0.15-ovl1"). */
export function sameVersion(planned: string, running: string): boolean {
  return planned === running || (planned.startsWith(running) && /^[-+]/.test(planned.slice(running.length)));
}

/** The first 7 hex digits of a node id at text[from..] as a number (garbage for non-hex text,
 * which the caller's full comparison rejects). */
export function idPrefix(text: string, from: number): number {
  let v = 0;
  for (let j = 0; j < 7; j++) {
    const c = text.charCodeAt(from + j);
    v = v * 16 + (c <= 57 ? c - 48 : c - 87);
  }
  return v;
}

export interface Observation {
  count: number;
  viewers: string[];
}

export class Context {
  readonly nodes: NodeReport[];
  readonly index = new Map<string, number>();
  /** redis_cluster: planned slots of each master as CLUSTER NODES prints them, by instance index. */
  readonly expectedSlots = new Map<number, string>();
  private lineHeads: string[] | undefined;
  /** CLUSTER NODES observations: subject instance index -> description -> viewers. */
  private readonly views = new Map<number, Map<string, Observation>>();
  /** Nodes outside the plan: id -> address and viewers. */
  private readonly strangers = new Map<string, { addr: string } & Observation>();
  /** redis: what each master says in INFO replication, by instance index: connected_slaves and
   * its replica list (ip:port -> state). */
  readonly replicaLists = new Map<number, { connected: number; list: Map<string, string> }>();

  constructor(readonly plan: Plan) {
    this.nodes = plan.instances.map((i) => ({ address: i.address, port: i.port, host: i.host, role: i.role, answered: false, problems: [] }));
    plan.instances.forEach((i, k) => {
      if (!this.index.has(i.id)) this.index.set(i.id, k);
    });
  }

  /** Node ids by the number their first 7 hex digits make; -1 where planned ids share them. */
  private byPrefix: Map<number, number> | undefined;

  /** The instance whose id starts like text[from..]: its index, -1 when the prefix is shared by
   * several planned ids (look the whole id up), undefined when no planned id starts so. The
   * caller still compares the whole line start, id included. */
  prefixIndex(text: string, from: number): number | undefined {
    if (!this.byPrefix) {
      this.byPrefix = new Map();
      this.plan.instances.forEach((i, k) => {
        const v = idPrefix(i.id, 0);
        this.byPrefix!.set(v, this.byPrefix!.has(v) ? -1 : k);
      });
    }
    return this.byPrefix.get(idPrefix(text, from));
  }

  inst(k: number): PlannedInstance {
    return this.plan.instances[k]!;
  }

  slotsOf(k: number): string {
    return this.expectedSlots.get(k) ?? '';
  }

  /** redis_cluster: the start of each instance's CLUSTER NODES line as seen by another node when
   * all is as planned: "<id> <ip>:<port>@<bus> master - " or "... slave <master-id> ". */
  heads(): string[] {
    this.lineHeads ??= this.plan.instances.map(
      (i) => `${i.id} ${i.address}:${i.port}@${i.port + BUS_PORT_OFFSET} ${i.role === 'master' ? 'master -' : `slave ${i.masterId}`} `,
    );
    return this.lineHeads;
  }

  masterOf(k: number): PlannedInstance | undefined {
    const id = this.inst(k).masterId;
    const m = id === undefined ? undefined : this.index.get(id);
    return m === undefined ? undefined : this.plan.instances[m];
  }

  /** A node id as a reader wants it: the planned instance it belongs to, or the raw id. */
  nameOf(id: string): string {
    const k = this.index.get(id);
    return k === undefined ? `unplanned node ${id}` : instanceLabel(this.inst(k));
  }

  observe(subject: number, viewer: number, what: string): void {
    let m = this.views.get(subject);
    if (!m) this.views.set(subject, (m = new Map()));
    let o = m.get(what);
    if (!o) m.set(what, (o = { count: 0, viewers: [] }));
    o.count++;
    if (o.viewers.length < EXAMPLES) o.viewers.push(instanceLabel(this.inst(viewer)));
  }

  stranger(id: string, addr: string, viewer: number): void {
    let o = this.strangers.get(id);
    if (!o) this.strangers.set(id, (o = { addr, count: 0, viewers: [] }));
    o.count++;
    if (o.viewers.length < EXAMPLES) o.viewers.push(instanceLabel(this.inst(viewer)));
  }

  /** Turn the grouped observations into problems (on the subject's node) and return the
   * problems about nodes outside the plan. */
  finishViews(): string[] {
    const seenBy = (o: Observation) => `seen by ${plural(o.count, 'node')}: ${o.viewers.join(', ')}${o.count > o.viewers.length ? ', …' : ''}`;
    for (const [subject, m] of this.views) {
      for (const [what, o] of m) this.nodes[subject]!.problems.push(`${what} (${seenBy(o)})`);
    }
    return [...this.strangers].map(([id, o]) => `${o.addr}: node ${id} is not in the plan but is known to the cluster (${seenBy(o)})`);
  }
}
