// Consistency check of a deployed cluster against its plan: used by `ovl cluster create` before
// it says done, and by `ovl cluster check` (whose exit code says healthy or not).
//
// Every instance is asked directly (Redis protocol through ioredis, memcached's text protocol
// over a raw TCP socket), up to `concurrency` at a time, one connection and one round trip
// each, with short timeouts and no retries. Every connection is closed before checkCluster
// returns, whatever happened. The password goes out as the first pipelined command (AUTH)
// rather than through ioredis's `password` option: a refused or unneeded password then becomes
// a problem of that instance instead of a console.warn from ioredis (the password itself never
// appears in a problem: Redis's error messages do not echo it).
//
// What "healthy" means, per type (each failure becomes one problem naming `ip:port (host)`):
//  redis_cluster: every node answers PING and runs the planned version; CLUSTER INFO says
//    cluster_state:ok; CLUSTER NODES on every node shows exactly the plan: its own line
//    (`myself`) carries the planned node id, role, master and slots; every other planned node is
//    known at its planned address with its planned role/master/slots and is not flagged
//    fail/fail?/handshake/noaddr; no node outside the plan is known. Since the plan's slot map
//    covers 0..16383 exactly once (checked too), equal to the plan on every node means the same
//    complete map everywhere. Replicas must also show master_link_status:up in INFO replication
//    (cluster_state:ok alone proves nothing on a replica: it says ok before talking to anyone).
//  redis: masters say role:master with exactly their planned replicas connected (online);
//    replicas say role:slave of their planned master with master_link_status:up.
//  memcache: every node answers `version` (the planned version) and `stats` (accepting_conns 1).
//  Retired instances (replaced by restart --move) do not answer at their old addresses.
//  The plan itself: unique ids and addresses, every replica's master in the plan, and no master
//    on the same host as one of its replicas.
// Observations one node makes about another (CLUSTER NODES) are grouped by the node they are
// about: "10.0.0.3:7001 (h3): is flagged fail (seen by 599 nodes: ...)" rather than 599 lines.

import { Redis } from 'ioredis';
import { connect as netConnect } from 'node:net';
import { plural } from '../util/plural.js';
import { withAdmin } from './admin.js';
import { untilReady } from './readiness.js';
import { SLOT_COUNT, formatSlots } from './slots.js';
import { BUS_PORT_OFFSET, type InstanceRole, type Plan, type PlannedInstance } from './types.js';

export interface NodeReport {
  address: string;
  port: number;
  host: string;
  role: InstanceRole;
  /** The instance accepted a connection and answered (possibly with errors). */
  answered: boolean;
  /** Problems of this instance, without the `ip:port (host): ` prefix (CheckReport.problems has it). */
  problems: string[];
}

export interface CheckReport {
  /** No problem at all. */
  healthy: boolean;
  /** Every problem, each a sentence starting with the instance it is about (`ip:port (host): `):
   * the plan's own problems first, then the instances' in plan order, then nodes outside the plan. */
  problems: string[];
  /** One per planned instance, in plan order. */
  nodes: NodeReport[];
  /** Duration of the check in milliseconds. */
  ms: number;
}

export interface CheckOptions {
  /** Password of the instances (Redis AUTH). Never printed. */
  password?: string;
  /** Connect timeout and command timeout per instance, ms; default 2000. */
  timeoutMs?: number;
  /** Instances checked at the same time; default 64. */
  concurrency?: number;
}

export interface WaitOptions {
  password?: string;
  /** Give up after this long (ms) and return the last report. */
  timeoutMs: number;
  /** Pause between two checks, ms; default 250. */
  intervalMs?: number;
  /** Per-instance timeout of each check (CheckOptions.timeoutMs); default 2000, never more than
   * the time left. */
  nodeTimeoutMs?: number;
  concurrency?: number;
  /** Called with every report (progress display). */
  onReport?: (report: CheckReport) => void;
  /** Stop checking: the last report is returned (the first check is made in any case). */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_CONCURRENCY = 64;
/** Viewers named in a grouped observation. */
const EXAMPLES = 3;

export function instanceLabel(i: { address: string; port: number; host: string }): string {
  return `${i.address}:${i.port} (${i.host})`;
}


function short(s: string, max = 60): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------
// Entry points

/** Check every instance of the plan once. Never throws for an unhealthy cluster. */
export async function checkCluster(plan: Plan, opts: CheckOptions = {}): Promise<CheckReport> {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  const password = opts.password === '' ? undefined : opts.password;

  const ctx = new Context(plan);
  const planProblems = checkPlan(plan, ctx);
  const probe =
    plan.type === 'memcache'
      ? (k: number) => probeMemcache(ctx, k, timeoutMs)
      : plan.type === 'redis_cluster'
        ? (k: number) => probeClusterNode(ctx, k, timeoutMs, password)
        : (k: number) => probeRedisNode(ctx, k, timeoutMs, password);
  await pool(plan.instances.length, concurrency, probe);
  if (plan.type === 'redis') crossCheckReplication(ctx);
  const global = ctx.finishViews();

  const problems = [...planProblems];
  for (const n of ctx.nodes) for (const p of n.problems) problems.push(`${instanceLabel(n)}: ${p}`);
  problems.push(...global);
  // An instance replaced by restart --move that still serves (its host was cut off, not lost):
  // clients that knew its address may still write to it.
  const zombies = await Promise.all((plan.retired ?? []).map(async (r) => ((await serves(plan, r, password, Math.min(timeoutMs, 1000))) ? r : undefined)));
  for (const r of zombies) if (r) problems.push(`${instanceLabel(r)}: retired (replaced by ${r.movedTo}, task ${r.task}) but still serving: ovl cluster restart ${plan.cluster} stops it once ${r.host} answers over SSH`);
  return { healthy: problems.length === 0, problems, nodes: ctx.nodes, ms: Math.round(performance.now() - started) };
}

/** Check until healthy or `timeoutMs` has passed; returns the last report. */
export async function waitHealthy(plan: Plan, opts: WaitOptions): Promise<CheckReport> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 250;
  for (;;) {
    // A forming Redis Cluster is asked cheaply first; the full check confirms.
    if (plan.type === 'redis_cluster') await untilReady(plan, { password: opts.password, deadline, signal: opts.signal });
    const left = deadline - Date.now();
    const report = await checkCluster(plan, {
      password: opts.password,
      timeoutMs: Math.max(100, Math.min(opts.nodeTimeoutMs ?? DEFAULT_TIMEOUT_MS, left)),
      concurrency: opts.concurrency,
    });
    opts.onReport?.(report);
    const rest = deadline - Date.now();
    if (report.healthy || rest <= 0 || opts.signal?.aborted) return report;
    await new Promise((r) => setTimeout(r, Math.min(interval, rest)));
  }
}

// ---------------------------------------------------------------------------------------------
// Shared state of one check

interface Observation {
  count: number;
  viewers: string[];
}

class Context {
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

async function pool(n: number, limit: number, fn: (k: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

// ---------------------------------------------------------------------------------------------
// The plan itself

function checkPlan(plan: Plan, ctx: Context): string[] {
  const out: string[] = [];
  const label = instanceLabel;
  if (plan.instances.length === 0) out.push(`plan ${plan.cluster}: has no instances`);
  const ids = new Set<string>();
  const addrs = new Set<string>();
  for (const i of plan.instances) {
    if (ids.has(i.id)) out.push(`${label(i)}: the plan gives node id ${i.id} to more than one instance`);
    ids.add(i.id);
    const a = `${i.address}:${i.port}`;
    if (addrs.has(a)) out.push(`${label(i)}: the plan has more than one instance at ${a}`);
    addrs.add(a);
    const roleOk = plan.type === 'memcache' ? i.role === 'node' : i.role === 'master' || i.role === 'replica';
    if (!roleOk) out.push(`${label(i)}: role ${i.role} in a ${plan.type} plan`);
  }
  if (plan.type === 'memcache') return out;

  plan.instances.forEach((i, k) => {
    if (i.role !== 'replica') return;
    const m = ctx.masterOf(k);
    if (!m || m.role !== 'master') {
      out.push(`${label(i)}: its master ${i.masterId ?? '(none)'} is not a master of the plan`);
      return;
    }
    if (m.host === i.host) out.push(`${label(i)}: the plan puts this replica on the same host as its master ${label(m)}`);
  });

  if (plan.type === 'redis_cluster') {
    const owners = new Int32Array(SLOT_COUNT).fill(-1);
    const doubled: string[] = [];
    plan.instances.forEach((i, k) => {
      if (i.role !== 'master') {
        if (i.slots?.length) out.push(`${label(i)}: the plan gives slots to a replica`);
        return;
      }
      const ranges = [...(i.slots ?? [])].sort((a, b) => a[0] - b[0]);
      const merged: [number, number][] = [];
      for (const [from, to] of ranges) {
        if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to >= SLOT_COUNT || from > to) {
          out.push(`${label(i)}: the plan has an invalid slot range ${from}-${to}`);
          continue;
        }
        for (let s = from; s <= to; s++) {
          if (owners[s] !== -1 && doubled.length < EXAMPLES) doubled.push(`${s}`);
          owners[s] = k;
        }
        const last = merged[merged.length - 1];
        if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
        else merged.push([from, to]);
      }
      ctx.expectedSlots.set(k, formatSlots(merged));
    });
    if (doubled.length > 0) out.push(`plan ${plan.cluster}: slots assigned more than once (e.g. ${doubled.join(', ')})`);
    const free: string[] = [];
    for (let s = 0; s < SLOT_COUNT; s++) {
      if (owners[s] !== -1) continue;
      let e = s;
      while (e + 1 < SLOT_COUNT && owners[e + 1] === -1) e++;
      free.push(s === e ? `${s}` : `${s}-${e}`);
      s = e;
    }
    if (free.length > 0) out.push(`plan ${plan.cluster}: slots not assigned to any master: ${short(free.join(' '))}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Talking to instances

function describeError(e: unknown, timeoutMs: number): string {
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

type Reply = string | Error;

/**
 * One connection, one pipelined round trip. Returns the replies in order (an Error for each
 * command Redis refused or that timed out), or a string saying why the instance did not answer.
 */
async function redisRound(inst: PlannedInstance, commands: string[][], timeoutMs: number): Promise<Reply[] | string> {
  const client = new Redis({
    host: inst.address,
    port: inst.port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    autoResubscribe: false,
    // CLIENT SETINFO would cost a round trip (and a package.json read) per connection.
    disableClientInfo: true,
  });
  let lastError: unknown;
  client.on('error', (e: unknown) => {
    lastError = e;
  });
  let timer: NodeJS.Timeout | undefined;
  // Belt and braces: ioredis's own timeouts should always fire first.
  const guard = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), 2 * timeoutMs + 100);
  });
  const work = async (): Promise<Reply[] | string> => {
    try {
      await client.connect();
    } catch (e) {
      return describeError(lastError ?? e, timeoutMs);
    }
    const p = client.pipeline();
    for (const [cmd, ...args] of commands) p.call(cmd!, ...args);
    const res = await p.exec();
    if (!res) return describeError(lastError ?? new Error('connection closed'), timeoutMs);
    return res.map(([err, val]) => (err ? err : typeof val === 'string' ? val : String(val)));
  };
  try {
    return await Promise.race([work().catch((e: unknown) => describeError(e, timeoutMs)), guard]);
  } finally {
    clearTimeout(timer);
    // disconnect() ends the socket and arms a 2 s timer (disconnectTimeout) that only the
    // socket's next 'close' clears: on a socket that is already closed (connection refused) or
    // whose peer never closes (stopped process) it would keep the process alive. Destroying the
    // socket right away closes it now, which clears the timer.
    if (client.status !== 'end') client.disconnect();
    client.stream?.destroy();
  }
}

function infoFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line === '' || line[0] === '#') continue;
    const c = line.indexOf(':');
    if (c > 0) m.set(line.slice(0, c), line.slice(c + 1));
  }
  return m;
}

/** The plan's version matches what the binary reports ("7.0.15" vs "7.0.15", or "7.0.15-ovl1"). */
function sameVersion(planned: string, running: string): boolean {
  return planned === running || (planned.startsWith(running) && /^[-+]/.test(planned.slice(running.length)));
}

/**
 * Send AUTH (when there is a password), PING, INFO server and the given commands; handle the
 * answers common to both redis types. Returns the replies of `commands`, or null when the node
 * did not answer or refused us (the problem is recorded).
 */
async function redisCommon(ctx: Context, k: number, timeoutMs: number, password: string | undefined, commands: string[][]): Promise<Reply[] | null> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  const head: string[][] = [...(password === undefined ? [] : [['AUTH', password]]), ['PING'], ['INFO', 'server']];
  const res = await redisRound(inst, [...head, ...commands], timeoutMs);
  if (typeof res === 'string') {
    node.problems.push(`does not answer (${res})`);
    return null;
  }
  const first = res[0];
  if (first instanceof Error && /timed out/i.test(first.message)) {
    // Accepted the connection (the kernel does that even for a stopped process) but said nothing.
    node.problems.push(`does not answer (connected, but no reply within ${timeoutMs} ms)`);
    return null;
  }
  node.answered = true;
  if (first instanceof Error && /^Protocol error/.test(first.message)) {
    node.problems.push(`does not speak the Redis protocol (${short(first.message.replace(/^Protocol error, |\. Please report this\.$/g, ''), 80)})`);
    return null;
  }
  let r = 0;
  if (password !== undefined) {
    const auth = res[r++]!;
    if (auth instanceof Error) {
      // Redis's messages never contain the password.
      if (/no password is set|without any password configured/i.test(auth.message)) node.problems.push('has no password set, but the check was given one');
      else node.problems.push(`rejects the password (${short(auth.message.split(' ')[0] ?? 'error', 40)})`);
      return null;
    }
  }
  const ping = res[r++]!;
  if (ping instanceof Error) {
    if (/^NOAUTH/.test(ping.message)) node.problems.push('requires a password (NOAUTH), none was given');
    else node.problems.push(`PING: ${describeError(ping, timeoutMs)}`);
    return null;
  }
  if (ping !== 'PONG') node.problems.push(`answers ${JSON.stringify(short(ping, 40))} to PING`);
  const server = res[r++]!;
  if (server instanceof Error) node.problems.push(`INFO server: ${describeError(server, timeoutMs)}`);
  else {
    const v = infoFields(server).get('redis_version');
    if (v !== undefined && !sameVersion(ctx.plan.version, v)) node.problems.push(`runs redis ${v}, the plan says ${ctx.plan.version}`);
  }
  return res.slice(r);
}

/** redis_cluster: PING, CLUSTER INFO, CLUSTER NODES (+ INFO replication on replicas). */
async function probeClusterNode(ctx: Context, k: number, timeoutMs: number, password: string | undefined): Promise<void> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  const replica = inst.role === 'replica';
  const res = await redisCommon(ctx, k, timeoutMs, password, [
    ['CLUSTER', 'INFO'],
    ['CLUSTER', 'NODES'],
    ...(replica ? [['INFO', 'replication']] : []),
  ]);
  if (!res) return;
  const [info, nodes, repl] = res;

  if (info instanceof Error) node.problems.push(`CLUSTER INFO: ${describeError(info, timeoutMs)}`);
  else {
    const f = infoFields(info);
    const state = f.get('cluster_state');
    if (state !== 'ok') {
      const assigned = f.get('cluster_slots_assigned') ?? '?';
      const ok = f.get('cluster_slots_ok') ?? '?';
      node.problems.push(
        assigned === String(SLOT_COUNT) && ok === String(SLOT_COUNT)
          ? `cluster_state is ${state ?? 'missing'} although all ${SLOT_COUNT} slots are ok (a master says so for 2 s after it starts, or while it cannot reach a majority of masters)`
          : `cluster_state is ${state ?? 'missing'} (slots assigned ${assigned}, ok ${ok} of ${SLOT_COUNT})`,
      );
    } else if (f.get('cluster_slots_ok') !== String(SLOT_COUNT)) {
      node.problems.push(`only ${f.get('cluster_slots_ok')} of ${SLOT_COUNT} slots are ok (pfail ${f.get('cluster_slots_pfail')}, fail ${f.get('cluster_slots_fail')})`);
    }
  }

  if (nodes instanceof Error) node.problems.push(`CLUSTER NODES: ${describeError(nodes, timeoutMs)}`);
  else if (nodes !== undefined) checkClusterNodes(ctx, k, nodes);

  if (replica && repl !== undefined) {
    if (repl instanceof Error) node.problems.push(`INFO replication: ${describeError(repl, timeoutMs)}`);
    else checkReplicaInfo(ctx, k, infoFields(repl), true);
  }
}

/**
 * One node's CLUSTER NODES against the plan, linear in the text's length. A line that is
 * exactly what the plan expects (id, address, plain `master`/`slave` flag, master id, and after
 * ping/pong/epoch/link exactly the planned slots) is accepted by a few string comparisons
 * without allocating (600 nodes make 360,000 lines per check); any other line is taken apart
 * and explained.
 */
function checkClusterNodes(ctx: Context, k: number, text: string): void {
  const node = ctx.nodes[k]!;
  const n = ctx.plan.instances.length;
  const heads = ctx.heads();
  const seen = new Uint8Array(n);
  const self = { saw: false };
  const len = text.length;
  let start = 0;
  while (start < len) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = len;
    const e = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    const from = start;
    start = end + 1;
    if (e === from) continue;
    // (Measured in V8: a numeric key beats hashing a 40-character slice, and comparing a slice
    // beats startsWith(head, position) by far.)
    let s = ctx.prefixIndex(text, from);
    if (s === -1) s = ctx.index.get(text.slice(from, from + 40));
    if (s !== undefined && s !== k) {
      const head = heads[s]!;
      const after = from + head.length;
      if (text.slice(from, after) === head && tailIs(text, after, e, ctx.slotsOf(s))) {
        seen[s] = 1;
        continue;
      }
    }
    explainLine(ctx, k, text.slice(from, e), seen, self);
  }
  if (!self.saw) node.problems.push('CLUSTER NODES has no myself line');
  const missing: string[] = [];
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (seen[i]) continue;
    count++;
    if (missing.length < EXAMPLES) missing.push(instanceLabel(ctx.inst(i)));
  }
  if (count > 0) node.problems.push(`does not know ${plural(count, 'planned node')}: ${missing.join(', ')}${count > missing.length ? ', …' : ''}`);
}

/** The first 7 hex digits of a node id at text[from..] as a number (garbage for non-hex text,
 * which the caller's full comparison rejects). */
function idPrefix(text: string, from: number): number {
  let v = 0;
  for (let j = 0; j < 7; j++) {
    const c = text.charCodeAt(from + j);
    v = v * 16 + (c <= 57 ? c - 48 : c - 87);
  }
  return v;
}

/** From `p` (just after the master field) up to `e`: <ping> <pong> <epoch> <link>, then exactly
 * `slots` (or nothing when `slots` is empty). */
function tailIs(text: string, p: number, e: number, slots: string): boolean {
  for (let f = 0; f < 3; f++) {
    p = text.indexOf(' ', p);
    if (p < 0 || p >= e) return false;
    p++;
  }
  const q = text.indexOf(' ', p); // after the link state
  if (slots === '') return q < 0 || q >= e;
  return q >= 0 && q < e && e - q - 1 === slots.length && text.slice(q + 1, e) === slots;
}

const BAD_FLAGS = ['fail', 'fail?', 'handshake', 'noaddr'];

/** A CLUSTER NODES line that is not exactly as planned (or the node's own line): what differs. */
function explainLine(ctx: Context, k: number, line: string, seen: Uint8Array, self: { saw: boolean }): void {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  // <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
  const sp: number[] = [];
  for (let p = line.indexOf(' '); p >= 0 && sp.length < 8; p = line.indexOf(' ', p + 1)) sp.push(p);
  if (sp.length < 7) {
    node.problems.push(`CLUSTER NODES has a malformed line: ${JSON.stringify(short(line))}`);
    return;
  }
  const id = line.slice(0, sp[0]);
  const addr = line.slice(sp[0]! + 1, sp[1]);
  const flags = line.slice(sp[1]! + 1, sp[2]).split(',');
  const master = line.slice(sp[2]! + 1, sp[3]);
  const slots = sp.length === 8 ? line.slice(sp[7]! + 1) : '';
  const isMaster = flags.includes('master');

  if (flags.includes('myself')) {
    self.saw = true;
    seen[k] = 1;
    if (id !== inst.id) node.problems.push(`has node id ${id}, the plan says ${inst.id}`);
    if (!addrMatches(addr, inst)) node.problems.push(`knows itself as ${addr}, the plan says ${inst.address}:${inst.port}@${inst.port + BUS_PORT_OFFSET}`);
    if (inst.role === 'master') {
      if (!isMaster) node.problems.push(`is a replica${master === '-' ? '' : ` of ${ctx.nameOf(master)}`}, the plan says master`);
      const want = ctx.slotsOf(k);
      if (slots !== want) node.problems.push(`owns slots ${short(slots) || '(none)'}, the plan says ${short(want) || '(none)'}`);
    } else {
      const pm = ctx.masterOf(k);
      const planned = pm ? instanceLabel(pm) : String(inst.masterId);
      if (isMaster) node.problems.push(`is a master${slots ? ` owning slots ${short(slots)}` : ''}, the plan says replica of ${planned}`);
      else if (master !== inst.masterId) node.problems.push(`replicates ${master === '-' ? 'nothing' : ctx.nameOf(master)}, the plan says ${planned}`);
    }
    return;
  }

  const s = ctx.index.get(id);
  if (s === undefined) {
    ctx.stranger(id, addr, k);
    return;
  }
  seen[s] = 1;
  const subj = ctx.inst(s);
  if (!addrMatches(addr, subj)) ctx.observe(s, k, `is known at ${addr}`);
  for (const f of flags) if (BAD_FLAGS.includes(f)) ctx.observe(s, k, `is flagged ${f}`);
  if (subj.role === 'master') {
    if (!isMaster) ctx.observe(s, k, `is seen as a replica${master === '-' ? '' : ` of ${ctx.nameOf(master)}`}, the plan says master`);
    const want = ctx.slotsOf(s);
    if (slots !== want) ctx.observe(s, k, `is seen owning slots ${short(slots) || '(none)'}, the plan says ${short(want) || '(none)'}`);
  } else {
    if (isMaster) ctx.observe(s, k, `is seen as a master${slots ? ` owning slots ${short(slots)}` : ''}, the plan says replica of ${ctx.masterOf(s) ? instanceLabel(ctx.masterOf(s)!) : subj.masterId}`);
    else if (master !== '-' && master !== subj.masterId) ctx.observe(s, k, `is seen replicating ${ctx.nameOf(master)}`);
    // `slave -`: the viewer does not know (or no longer knows) which master it replicates.
    else if (master === '-') ctx.observe(s, k, 'is seen as a replica of an unknown master');
  }
}

function addrMatches(addr: string, i: PlannedInstance): boolean {
  const want = `${i.address}:${i.port}@${i.port + BUS_PORT_OFFSET}`;
  return addr === want || (addr.startsWith(want) && addr[want.length] === ',');
}

/** A replica's INFO replication: role:slave of its planned master, link up. */
function checkReplicaInfo(ctx: Context, k: number, f: Map<string, string>, cluster: boolean): void {
  const node = ctx.nodes[k]!;
  const m = ctx.masterOf(k);
  const role = f.get('role');
  if (role !== 'slave') {
    // In a cluster the CLUSTER NODES myself line already says so.
    if (!cluster) node.problems.push(`has role:${role ?? '(none)'}, the plan says replica of ${m ? instanceLabel(m) : ctx.inst(k).masterId}`);
    return;
  }
  const host = f.get('master_host');
  const port = f.get('master_port');
  if (m && (host !== m.address || port !== String(m.port))) {
    node.problems.push(`replicates ${host}:${port}, the plan says ${instanceLabel(m)}`);
  }
  const link = f.get('master_link_status');
  if (link !== 'up') {
    const sync = f.get('master_sync_in_progress') === '1' ? ', sync in progress' : '';
    node.problems.push(`master_link_status is ${link ?? '(none)'}${sync}`);
  }
}

/** redis (standalone master/replica groups): PING, INFO replication. */
async function probeRedisNode(ctx: Context, k: number, timeoutMs: number, password: string | undefined): Promise<void> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  const res = await redisCommon(ctx, k, timeoutMs, password, [['INFO', 'replication']]);
  if (!res) return;
  const repl = res[0]!;
  if (repl instanceof Error) {
    node.problems.push(`INFO replication: ${describeError(repl, timeoutMs)}`);
    return;
  }
  const f = infoFields(repl);
  if (inst.role === 'replica') {
    checkReplicaInfo(ctx, k, f, false);
    return;
  }
  const role = f.get('role');
  if (role !== 'master') {
    node.problems.push(`has role:${role ?? '(none)'}${role === 'slave' ? ` of ${f.get('master_host')}:${f.get('master_port')}` : ''}, the plan says master`);
    return;
  }
  // slaveN:ip=10.0.0.2,port=7001,state=online,offset=..,lag=0
  const list = new Map<string, string>();
  for (const [key, value] of f) {
    if (!/^slave\d+$/.test(key)) continue;
    const kv = new Map(value.split(',').map((x) => x.split('=') as [string, string]));
    list.set(`${kv.get('ip')}:${kv.get('port')}`, kv.get('state') ?? '?');
  }
  const connected = Number(f.get('connected_slaves') ?? list.size);
  // Compared with the plan's replicas in crossCheckReplication (needs the whole plan).
  ctx.replicaLists.set(k, { connected: Number.isFinite(connected) ? connected : list.size, list });
}

/** redis: each master's list of replicas against the plan. */
function crossCheckReplication(ctx: Context): void {
  const replicasOf = new Map<string, PlannedInstance[]>();
  for (const i of ctx.plan.instances) {
    if (i.role !== 'replica' || i.masterId === undefined) continue;
    const l = replicasOf.get(i.masterId);
    if (l) l.push(i);
    else replicasOf.set(i.masterId, [i]);
  }
  for (const [k, { connected, list }] of ctx.replicaLists) {
    const node = ctx.nodes[k]!;
    const planned = replicasOf.get(ctx.inst(k).id) ?? [];
    const missing = planned.filter((r) => !list.has(`${r.address}:${r.port}`)).map(instanceLabel);
    const plannedAddrs = new Set(planned.map((r) => `${r.address}:${r.port}`));
    const extra = [...list.keys()].filter((a) => !plannedAddrs.has(a));
    if (connected !== planned.length || missing.length > 0 || extra.length > 0) {
      const why = [
        ...(missing.length > 0 ? [`missing ${missing.join(', ')}`] : []),
        ...(extra.length > 0 ? [`not planned ${extra.join(', ')}`] : []),
      ];
      node.problems.push(`has ${plural(connected, 'connected replica')}, the plan has ${planned.length}${why.length ? ` (${why.join('; ')})` : ''}`);
    }
    for (const r of planned) {
      const state = list.get(`${r.address}:${r.port}`);
      if (state !== undefined && state !== 'online') node.problems.push(`its replica ${instanceLabel(r)} is in state ${state}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// memcache

interface MemcacheAnswer {
  version: string;
  stats: Map<string, string>;
}

/** Whether an instance answers its protocol's simplest question within timeoutMs: PING, or
 * memcached's `version`. A process that is there but frozen does not. */
export async function serves(plan: Plan, i: { address: string; port: number }, password: string | undefined, timeoutMs: number): Promise<boolean> {
  if (plan.type === 'memcache') return memcacheRound(i.address, i.port, timeoutMs).then(() => true, () => false);
  return withAdmin(i, { password, answerMs: timeoutMs }, (c) => c.ping()).then((r) => r === 'PONG', () => false);
}

/** `version` and `stats` on one connection (pipelined). Resolves with the answers or rejects. */
function memcacheRound(address: string, port: number, timeoutMs: number): Promise<MemcacheAnswer> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: address, port });
    let buf = '';
    let done = false;
    const finish = (err: Error | null, value?: MemcacheAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    let connected = false;
    const timer = setTimeout(
      () => finish(Object.assign(new Error(connected ? `connected, but no reply within ${timeoutMs} ms` : 'timed out'), { code: connected ? 'SILENT' : 'ETIMEDOUT' })),
      timeoutMs,
    );
    sock.setNoDelay(true);
    sock.setEncoding('latin1');
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error(buf === '' ? 'connection closed without an answer' : `connection closed after ${JSON.stringify(short(buf, 40))}`)));
    sock.on('connect', () => {
      connected = true;
      timer.refresh(); // a fresh timeout for the answers
      sock.write('version\r\nstats\r\n');
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const first = buf.slice(0, eol);
      if (!first.startsWith('VERSION ')) {
        finish(new Error(`answers ${JSON.stringify(short(first, 60))} to version`));
        return;
      }
      const rest = buf.slice(eol + 2);
      if (/^(ERROR|CLIENT_ERROR|SERVER_ERROR)/m.test(rest)) {
        finish(new Error(`answers ${JSON.stringify(short(rest.split('\r\n')[0] ?? '', 60))} to stats`));
        return;
      }
      if (!(rest === 'END\r\n' || rest.endsWith('\r\nEND\r\n'))) return;
      const stats = new Map<string, string>();
      for (const line of rest.split('\r\n')) {
        if (!line.startsWith('STAT ')) continue;
        const sp = line.indexOf(' ', 5);
        if (sp > 0) stats.set(line.slice(5, sp), line.slice(sp + 1));
      }
      finish(null, { version: first.slice(8).trim(), stats });
    });
  });
}

async function probeMemcache(ctx: Context, k: number, timeoutMs: number): Promise<void> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  let a: MemcacheAnswer;
  try {
    a = await memcacheRound(inst.address, inst.port, timeoutMs);
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith('answers ')) {
      node.answered = true;
      node.problems.push(msg);
    } else node.problems.push(`does not answer (${describeError(e, timeoutMs)})`);
    return;
  }
  node.answered = true;
  if (!sameVersion(ctx.plan.version, a.version)) node.problems.push(`runs memcached ${a.version}, the plan says ${ctx.plan.version}`);
  if (!a.stats.has('pid')) node.problems.push('stats has no pid: not a memcached?');
  const accepting = a.stats.get('accepting_conns');
  if (accepting !== undefined && accepting !== '1') node.problems.push(`is not accepting connections (accepting_conns ${accepting})`);
}
