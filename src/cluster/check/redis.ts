// The check's questions to Redis instances (both types): one pipelined round trip each, and what
// the answers say against the plan.
import type { TLSSocket } from 'node:tls';
import { Redis } from 'ioredis';
import { authArgs, connectOptions, type ClusterAuth } from '../auth.js';
import { plural } from '../../util/plural.js';
import { SLOT_COUNT } from '../slots.js';
import type { PlannedInstance } from '../types.js';
import { checkClusterNodes } from './cluster-nodes.js';
import { describeError, infoFields, instanceLabel, sameVersion, short, type Context } from './context.js';

type Reply = string | Error;

/** Days before a served certificate's end from which the check names it (bootstrap renews at 30). */
const CERT_WARN_DAYS = 14;

/**
 * One connection, one pipelined round trip. Returns the replies in order (an Error for each
 * command Redis refused or that timed out), or a string saying why the instance did not answer.
 */
async function redisRound(inst: PlannedInstance, commands: string[][], timeoutMs: number, tls: ReturnType<typeof connectOptions>['tls'], served?: { certEnd?: Date }): Promise<Reply[] | string> {
  const client = new Redis({
    host: inst.address,
    port: inst.port,
    ...(tls ? { tls } : {}),
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
    const peer = tls && served ? (client.stream as TLSSocket).getPeerCertificate?.() : undefined;
    if (peer?.valid_to) served!.certEnd = new Date(peer.valid_to);
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

/**
 * Send AUTH (when there is a password), PING, INFO server and the given commands; handle the
 * answers common to both redis types. Returns the replies of `commands`, or null when the node
 * did not answer or refused us (the problem is recorded).
 */
async function redisCommon(ctx: Context, k: number, timeoutMs: number, auth: ClusterAuth | undefined, commands: string[][]): Promise<Reply[] | null> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  const login = authArgs(auth);
  const head: string[][] = [...(login.length ? [['AUTH', ...login]] : []), ['PING'], ['INFO', 'server']];
  const served: { certEnd?: Date } = {};
  const res = await redisRound(inst, [...head, ...commands], timeoutMs, connectOptions(auth).tls, served);
  // A renewed host certificate is read by Redis when it starts: one near its end still served
  // means the instance has not restarted since the renewal.
  if (served.certEnd && served.certEnd.getTime() < Date.now() + CERT_WARN_DAYS * 86_400_000) {
    node.problems.push(`serves a TLS certificate that ends ${served.certEnd.toISOString().slice(0, 10)}: ovl bootstrap renews the host's, ovl cluster restart ${ctx.plan.cluster} --rolling makes Redis read it`);
  }
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
  if (login.length) {
    const authed = res[r++]!;
    if (authed instanceof Error) {
      // Redis's messages never contain the password.
      if (/no password is set|without any password configured/i.test(authed.message)) node.problems.push('has no password set, but the check was given one');
      else node.problems.push(`rejects ${login.length === 2 ? `user ${login[0]}'s` : 'the'} password (${short(authed.message.split(' ')[0] ?? 'error', 40)})`);
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
    const want = ctx.inst(k).version ?? ctx.plan.version;
    if (v !== undefined && !sameVersion(want, v)) node.problems.push(`runs redis ${v}, the plan says ${want}`);
  }
  return res.slice(r);
}

/** redis_cluster: PING, CLUSTER INFO, CLUSTER NODES (+ INFO replication on replicas). */
export async function probeClusterNode(ctx: Context, k: number, timeoutMs: number, auth: ClusterAuth | undefined): Promise<void> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  const replica = inst.role === 'replica';
  const res = await redisCommon(ctx, k, timeoutMs, auth, [
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
export async function probeRedisNode(ctx: Context, k: number, timeoutMs: number, auth: ClusterAuth | undefined): Promise<void> {
  const inst = ctx.inst(k);
  const node = ctx.nodes[k]!;
  const res = await redisCommon(ctx, k, timeoutMs, auth, [['INFO', 'replication']]);
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
export function crossCheckReplication(ctx: Context): void {
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
