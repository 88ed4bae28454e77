import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fleetCapacity } from '../cluster/capacity.js';
import { getJson } from '../cluster/etcd-reads.js';
import { getTask, openTasks, tasksOf, newTask, openCreateOf, type Task } from '../cluster/task-store.js';
import { readRedisTls, REDIS_CA } from '../pki/redis-certs.js';
import type { Etcd3 } from 'etcd3';
import { loadFleet } from '../inventory/fleet.js';
import { InventoryError } from '../inventory/load.js';
import { CHECK_FAILED, UsageError } from './errors.js';
import type { Inventory } from '../inventory/types.js';
import { CLIENT_CERT, etcdAccess, openEtcd, type EtcdAccess } from '../state/etcd.js';
import { readSecretsKey } from '../state/secrets.js';
import { etcdFailure } from '../api/etcd-failure.js';
import { listClusters, queueClusterTask, queuedCreates } from '../api/clusters.js';
import { configKey, secretKey } from '../state/keys.js';
import { pkiDirOf, sealRecord, type SealedAuth } from '../state/secrets.js';
import { aclSupported, hasPassword, newClusterAuth, type ClusterAuth } from '../cluster/auth.js';
import { place, validateRequest } from '../cluster/placement.js';
import { connectHint, hostTable, INSTANCE_HEADER, instanceRows } from '../cluster/view.js';
import { addrOf, dropStaleSecret, getPlan, getSecret, listConfigs, listInstances, type ClusterConfig } from '../cluster/store.js';
import { listrFollow, plainFollow, type Out } from '../ui/follow.js';
import { runOrFollow } from '../cluster/follow.js';
import { ConflictError } from '../cluster/errors.js';
import { liveTerminal } from '../ui/terminal.js';
import { plural } from '../util/plural.js';
import { table } from '../ui/table.js';
import { NAME_RE } from '../shell.js';
import { binaryType, CLUSTER_TYPES, type ClusterRequest, type ClusterType, type HostCapacity, type Plan } from '../cluster/types.js';


const DEFAULT_INVENTORY = 'inventories/sandbox.yml';

export function inventoryPath(opt?: string): string {
  return opt ?? process.env.OVL_INVENTORY ?? DEFAULT_INVENTORY;
}

/** The fleet of -i, else $OVL_INVENTORY, else the default, which is relative to the directory
 * ovl runs in: from anywhere else, the way to name the inventory is the fix. */
export function loadInventory(opt?: string): Inventory {
  const path = inventoryPath(opt);
  try {
    // The release binaries and the SSH key are bootstrap's to check: list, show and check work
    // from a laptop without them.
    return loadFleet(path, { checkLocalFiles: false });
  } catch (e) {
    if (path !== DEFAULT_INVENTORY || !(e instanceof InventoryError) || !e.problems.every((p) => p.line === 0)) throw e;
    throw new InventoryError(e.problems.map((p) => ({ ...p, fix: `name the inventory with -i FILE or $OVL_INVENTORY (without either, ovl reads ${DEFAULT_INVENTORY} from the current directory); ${p.fix}` })));
  }
}

/**
 * For a command that only reads, with no inventory named: etcd from $OVL_ETCD_ENDPOINTS (comma-
 * separated URLs) and, for https, the client certificate (ca.crt, client.crt, client.key) and the
 * secrets key from $OVL_PKI_DIR (default: the current directory). Undefined when not asked for.
 */
export function endpointsFromEnv(invOpt: string | undefined): { inv: Inventory; access: EtcdAccess } | undefined {
  const urls = process.env.OVL_ETCD_ENDPOINTS;
  if (invOpt || process.env.OVL_INVENTORY || !urls) return undefined;
  const endpoints = urls.split(',').map((u) => u.trim()).filter(Boolean);
  for (const u of endpoints) if (!/^https?:\/\/[A-Za-z0-9.:\[\]_-]+$/.test(u)) throw new UsageError(`$OVL_ETCD_ENDPOINTS: ${JSON.stringify(u)} is not an etcd client URL like https://10.20.0.11:2379`);
  const dir = resolve(process.env.OVL_PKI_DIR ?? '.');
  const tls = endpoints.some((u) => u.startsWith('https:'));
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      throw new UsageError(`$OVL_ETCD_ENDPOINTS over https needs the client certificate: ${join(dir, f)} is missing (set $OVL_PKI_DIR to the fleet's PKI directory)`);
    }
  };
  const access: EtcdAccess = { endpoints, tls: tls ? { ca: read(CLIENT_CERT.ca), cert: read(CLIENT_CERT.cert), key: read(CLIENT_CERT.key) } : undefined, secrets: readSecretsKey(dir) };
  const inv = { file: '$OVL_ETCD_ENDPOINTS', vars: { pki_dir: dir }, hosts: [], components: [], server: {}, artifacts: {}, scheduler: { resources: 'fleet' } } as unknown as Inventory;
  return { inv, access };
}

export async function withState<T>(invOpt: string | undefined, fn: (etcd: Etcd3, inv: Inventory) => Promise<T>, o: { readOnly?: boolean } = {}): Promise<T> {
  const fromEnv = o.readOnly ? endpointsFromEnv(invOpt) : undefined;
  const invPath = fromEnv ? '$OVL_ETCD_ENDPOINTS' : inventoryPath(invOpt);
  const inv = fromEnv?.inv ?? loadInventory(invOpt);
  const access = fromEnv?.access ?? etcdAccess(inv);
  const endpoints = access.endpoints;
  const etcd = await openEtcd(access, 5000);
  try {
    return await fn(etcd, inv);
  } catch (e) {
    throw etcdFailure(e as Error, endpoints, invPath);
  } finally {
    etcd.close();
  }
}

/** "256mb", "1gb", "64m", "1.5gb", "2048kb" -> MB: a whole number of MB, at least 1. */
export function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|kb|m|mb|g|gb)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--maxmemory ${JSON.stringify(v)}: write a size like 256mb or 2gb`);
  // A bare number would be bytes to Redis (its maxmemory) and MB to memcached (-m): neither
  // reading is safe to guess.
  if (!m[2]) throw new UsageError(`--maxmemory ${v}: write a unit, e.g. ${m[1]}mb`);
  const n = Number(m[1]);
  const unit = m[2].toLowerCase()[0];
  // Exact for every size that is a whole number of MB: such a decimal is a multiple of 1/1024.
  const mb = unit === 'k' ? n / 1024 : unit === 'g' ? n * 1024 : n;
  if (mb < 1) throw new UsageError(`--maxmemory ${v}: at least 1mb`);
  if (!Number.isInteger(mb)) throw new UsageError(`--maxmemory ${v} is ${Number(mb.toFixed(3))} MB, not a whole number: write it in mb, e.g. ${Math.round(mb)}mb`);
  return mb;
}

export interface CreateOptions {
  inventory?: string;
  type: string;
  version?: string;
  masters?: number;
  replicas?: number;
  nodes?: number;
  maxmemory: string;
  passwordEnv?: string;
  passwordFile?: string;
  /** `name=value` redis.conf settings. */
  config?: string[];
  /** ACL rules added to the application user's, separated by spaces. */
  appAcl?: string;
  /** Clients, replication and the cluster bus over TLS only. */
  tls?: boolean;
  wait?: boolean;
  /** Show where the instances would go; write nothing. */
  check?: boolean;
}

/** --config name=value ... -> { name: value }. */
export function parseConfig(settings: string[] | undefined): Record<string, string> | undefined {
  if (!settings?.length) return undefined;
  const config: Record<string, string> = {};
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq < 1) throw new UsageError(`--config ${JSON.stringify(s)}: write name=value, e.g. --config maxmemory-policy=volatile-lru`);
    const name = s.slice(0, eq).trim();
    if (name in config) throw new UsageError(`--config ${name} is given twice`);
    config[name] = s.slice(eq + 1).trim();
  }
  return config;
}

/** The password of --password-env or --password-file (none given: undefined). */
export function readPassword(o: Pick<CreateOptions, 'passwordEnv' | 'passwordFile'>): string | undefined {
  const v = readPasswordOption(o);
  return v === undefined ? undefined : checkPassword(v, o.passwordEnv ? `--password-env ${o.passwordEnv}` : `--password-file ${o.passwordFile}`);
}

/** A password Redis can take (one line, not empty), or a UsageError naming where it came from. */
export function checkPassword(v: string, from: string): string {
  if (!v) throw new UsageError(`${from}: the password is empty`);
  if (/[\r\n\0]/.test(v)) throw new UsageError(`${from}: the password has a line break or NUL inside; Redis takes one line`);
  return v;
}

function readPasswordOption(o: Pick<CreateOptions, 'passwordEnv' | 'passwordFile'>): string | undefined {
  if (o.passwordEnv && o.passwordFile) throw new UsageError('give --password-env or --password-file, not both');
  if (o.passwordEnv) {
    const v = process.env[o.passwordEnv];
    if (v === undefined) throw new UsageError(`--password-env ${o.passwordEnv}: that environment variable is not set`);
    if (!v) throw new UsageError(`--password-env ${o.passwordEnv}: that environment variable is empty`);
    return v;
  }
  if (o.passwordFile) {
    let text: string;
    try {
      text = readFileSync(o.passwordFile, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      throw new UsageError(`--password-file ${o.passwordFile}: cannot read it (${why})`);
    }
    const v = text.replace(/\r?\n$/, '');
    if (!v) throw new UsageError(`--password-file ${o.passwordFile} is empty`);
    return v;
  }
  return undefined;
}

/** Options that the type has no use for are refused: ignored, they would leave a cluster other
 * than the one asked for (a memcache "with a password" that anyone can read). */
function refuseForeignOptions(type: ClusterType, o: CreateOptions): void {
  if (type === 'memcache') {
    for (const [flag, given] of [['--password-env', o.passwordEnv], ['--password-file', o.passwordFile]] as const) {
      if (given !== undefined) throw new UsageError(`${flag}: memcache clusters have no password (memcached runs without SASL); drop the option`);
    }
    if (o.masters !== undefined) throw new UsageError('--masters: memcache clusters have no masters; give the number of nodes with --nodes N');
    if (o.replicas !== undefined) throw new UsageError('--replicas: memcache nodes have no replicas (each node holds its own keys); drop the option, and give the number of nodes with --nodes N');
  } else if (o.nodes !== undefined) {
    throw new UsageError(type === 'redis_cluster'
      ? '--nodes: for memcache only; a redis_cluster has --masters N shards (default 3) with --replicas N each (default 1)'
      : '--nodes: for memcache only; a redis has --masters N master groups (default 1) with --replicas N each (default 1)');
  }
}

export function buildRequest(name: string, o: CreateOptions, fleetVersions: Record<string, Set<string>>): ClusterRequest {
  if (!CLUSTER_TYPES.includes(o.type as ClusterType)) throw new UsageError(`--type ${o.type}: one of ${CLUSTER_TYPES.join(', ')}`);
  const type = o.type as ClusterType;
  refuseForeignOptions(type, o);
  const known = [...(fleetVersions[binaryType(type)] ?? [])].sort();
  if (!known.length) throw new UsageError(`no ${binaryType(type)} binaries are registered on the fleet: list them under artifacts.${binaryType(type)} and run ovl bootstrap`);
  const version = o.version ?? (known.length === 1 ? known[0]! : undefined);
  if (!version) throw new UsageError(`--version: the fleet has ${binaryType(type)} ${known.join(', ')}; say which`);
  if (!known.includes(version)) throw new UsageError(`--version ${version}: not on the fleet; the fleet has ${binaryType(type)} ${known.join(', ')}`);
  if (type === 'memcache' && !o.nodes) throw new UsageError('--nodes: how many memcache nodes');
  const req: ClusterRequest = {
    name,
    type,
    version,
    // The defaults are stated in the option help texts (cli.ts).
    masters: type === 'memcache' ? 0 : o.masters ?? (type === 'redis_cluster' ? 3 : 1),
    replicas: type === 'memcache' ? 0 : o.replicas ?? 1,
    nodes: type === 'memcache' ? o.nodes : undefined,
    maxmemoryMB: parseSize(o.maxmemory),
    config: parseConfig(o.config),
    ...(o.appAcl !== undefined ? { appAcl: o.appAcl.split(/\s+/).filter(Boolean) } : {}),
    ...(o.tls ? { tls: true } : {}),
  };
  try {
    validateRequest(req);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return req;
}

/** followTask, and a failed task said as `<what> failed: <why>`: the task when it is done, else
 * undefined (the command then exits 2). */
export async function taskDone(what: string, inv: Inventory, etcd: Etcd3, taskId: string, out: Out): Promise<Task | undefined> {
  const done = await followTask(what, inv, etcd, taskId, out);
  if (done.state !== 'failed') return done;
  out(`${what} failed: ${done.error}`);
  return undefined;
}

/** Follow a task on a terminal's listr2 line, or line by line elsewhere (logs, pipes, CI). */
export async function followTask(title: string, inv: Inventory, etcd: Etcd3, taskId: string, out: Out): Promise<Task> {
  const view = liveTerminal() ? await listrFollow(title) : plainFollow(out);
  try {
    const done = await runOrFollow(inv, etcd, taskId, view.step);
    await view.end(done.state === 'done', done.state === 'done' ? done.step : done.error ?? 'failed');
    return done;
  } catch (e) {
    await view.end(false, (e as Error).message);
    throw e;
  }
}

function shape(c: ClusterRequest): string {
  return c.type === 'memcache' ? plural(c.nodes ?? 0, 'node') : `${plural(c.masters, 'master')} x ${plural(c.replicas, 'replica')}`;
}

function spread(plan: Plan): string {
  return `${plural(plan.instances.length, 'instance')} on ${plural(new Set(plan.instances.map((i) => i.host)).size, 'host')}`;
}

function describeRequest(req: ClusterRequest): string {
  return `${req.type} ${req.name} (${shape(req)}, ${req.maxmemoryMB} MB each, ${binaryType(req.type)} ${req.version})`;
}

/** `create --check`: where the instances would go on the fleet as it is now; writes nothing. */
function previewCreate(req: ClusterRequest, hosts: HostCapacity[], out: Out): number {
  let plan: Plan;
  try {
    plan = place(req, hosts);
  } catch (e) {
    out(`check: create ${describeRequest(req)} would fail: ${(e as Error).message}. Nothing was changed.`);
    return 2;
  }
  out(`check: create ${describeRequest(req)} would place ${spread(plan)}. Nothing was changed.`);
  const [hostHeader, ...hostRows] = hostTable(plan, hosts);
  for (const l of table(hostHeader!, hostRows)) out(l);
  for (const l of table(INSTANCE_HEADER, instanceRows(plan.instances).map((r) => r.cells))) out(l);
  out('The scheduler places the task again when it runs: if the fleet changes meanwhile, hosts and ports may differ.');
  return 0;
}

/** A create's checks and its task queued (or, with `check`, its placement previewed): what the
 * CLI and the API's clusters.create share. `password` is read after the request is valid. */
export async function queueCreate(etcd: Etcd3, name: string, o: CreateOptions, password: () => string | undefined, out: Out): Promise<{ task?: Task; req: ClusterRequest; password?: string; preview?: number }> {
  const { hosts } = await fleetCapacity(etcd);
  const versions: Record<string, Set<string>> = {};
  for (const h of hosts) for (const [t, vs] of Object.entries(h.versions)) for (const v of vs) (versions[t] ??= new Set()).add(v);
  // The request first: it refuses password options for memcache before they are read.
  const req = buildRequest(name, o, versions);
  const pw = password();
  if (pw !== undefined && req.type === 'memcache') throw new UsageError('a password: memcache clusters have no password (memcached runs without SASL)');
  if (req.appAcl && (pw === undefined || !aclSupported(req.version))) throw new UsageError(`--app-acl: the application's ACL user exists only for clusters with a password (--password-env or --password-file) on Redis 6 or later`);
  if (await getJson<ClusterConfig>(etcd, configKey(name))) {
    const deleting = (await openTasks(etcd, (_, of) => of === name)).find((t) => t.kind === 'delete');
    if (deleting) throw new UsageError(`cluster ${name} is being deleted (task ${deleting.id}, ${deleting.state}): create it again once that task is done (ovl cluster list)`);
    throw new UsageError(`cluster ${name} exists already: ovl cluster show ${name}`);
  }
  // A queued create has no config key yet: a second one would run after it and fail, having
  // replaced the first's password meanwhile.
  const creating = (await openTasks(etcd, (_, of) => of === name)).find((t) => openCreateOf(t, name));
  if (creating) {
    const cancel = creating.state === 'pending' ? `, cancel it (ovl cluster delete ${name})` : '';
    throw new UsageError(`cluster ${name} is being created (task ${creating.id}, ${creating.state}): wait for that task to end (ovl cluster show ${name} once it is placed)${cancel} or pick another name`);
  }
  if (req.tls) refuseWithoutTls(etcd, hosts);
  if (o.check) return { req, preview: previewCreate(req, hosts, out) };
  // The secret key ({} without a password) and the task together, and only while the name is
  // free: it claims the name, so of two creates that got past the checks above at the same
  // moment one is queued and the other refused, with or without passwords.
  const claim = { absent: [configKey(name), secretKey(name)], puts: { [secretKey(name)]: sealRecord(etcd, name, secretOf(req, pw)) } };
  let task: Task | undefined;
  for (let retried = false; !task; retried = true) {
    try {
      task = await newTask(etcd, 'create', name, { request: req }, claim);
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      if (!retried && (await dropStaleSecret(etcd, name))) continue;
      throw new UsageError(`cluster ${name} is being created by another request; wait for it to end (ovl cluster show ${name} once it is placed), or pick another name`);
    }
  }
  return { task, req, password: pw };
}

/** The line that says how to reach a running cluster. */
export async function runningHint(etcd: Etcd3, name: string, withPassword: boolean, ms: number): Promise<string[]> {
  const plan = (await getPlan(etcd, name))!;
  return [`cluster ${name} is running: ${spread(plan)} (${(ms / 1000).toFixed(1)} s)`, connectHint(plan, withPassword, join(pkiDirOf(etcd), `${REDIS_CA}.crt`))];
}

/** With --json, the lines a task command says go to stderr, and the task record to stdout at its end. */
const sayOf = (json: boolean | undefined, out: Out): Out => (json ? (l) => process.stderr.write(`${l}\n`) : out);

async function printTask(etcd: Etcd3, id: string, out: Out): Promise<void> {
  out(JSON.stringify(await getTask(etcd, id), null, 2));
}

/** What can be judged of a create without etcd, every problem at once: the name, the type, the size. */
export function precheckCreate(name: string, o: Pick<CreateOptions, 'type' | 'maxmemory'>): void {
  const problems: string[] = [];
  if (!NAME_RE.test(name)) problems.push(`cluster name ${JSON.stringify(name)}: 1-63 characters, lower-case letters, digits and -, starting and ending with a letter or digit${/[A-Z]/.test(name) && NAME_RE.test(name.toLowerCase()) ? ` (${name.toLowerCase()}?)` : ''}`);
  if (!CLUSTER_TYPES.includes(o.type as ClusterType)) {
    const near = CLUSTER_TYPES.find((t) => t === o.type.toLowerCase().replace(/-/g, '_'));
    problems.push(`--type ${o.type}: one of ${CLUSTER_TYPES.join(', ')}${near ? ` (${near}?)` : ''}`);
  }
  try {
    parseSize(o.maxmemory);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (problems.length) throw new UsageError(problems.join('\n     '));
}

export async function clusterCreate(name: string, o: CreateOptions & { json?: boolean }, out: Out): Promise<number> {
  precheckCreate(name, o);
  const say = sayOf(o.json, out);
  return withState(o.inventory, async (etcd, inv) => {
    const { task, req, password, preview } = await queueCreate(etcd, name, o, () => readPassword(o), say);
    if (!task) return preview!;
    say(`task ${task.id}: create ${describeRequest(req)}`);
    if (!o.wait) {
      say(`queued; follow it with: ovl cluster show ${name}`);
      await warnWithoutScheduler(etcd, say);
      if (o.json) await printTask(etcd, task.id, out);
      return 0;
    }
    const t0 = Date.now();
    const done = await taskDone(`create ${name}`, inv, etcd, task.id, say);
    if (o.json) await printTask(etcd, task.id, out);
    if (!done) return 2;
    for (const line of await runningHint(etcd, name, password !== undefined, Date.now() - t0)) say(line);
    return 0;
  });
}

/** The sealed record of a new cluster: its passwords (ACL users on Redis 6+), and whether it has TLS. */
function secretOf(req: ClusterRequest, password: string | undefined): SealedAuth | undefined {
  if (password === undefined) return req.tls ? { app: [], tls: true } : undefined;
  const { app, admin, replica, monitor } = newClusterAuth(password, req.version);
  return { app, admin, replica, monitor, ...(req.tls ? { tls: true } : {}) };
}

/** A TLS cluster needs what bootstrap makes: the CA and ovl's client certificate here, a
 * certificate on every host (cache-binaries). Checked before anything is queued. */
function refuseWithoutTls(etcd: Etcd3, hosts: HostCapacity[]): void {
  const dir = pkiDirOf(etcd);
  try {
    readRedisTls(dir);
  } catch (e) {
    throw new UsageError(`--tls: ${(e as Error).message}`);
  }
  const missing = hosts.filter((h) => !existsSync(join(dir, 'redis', `${h.name}.crt`))).map((h) => h.name);
  if (missing.length) throw new UsageError(`--tls: no TLS certificate for Redis on ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''} (${join(dir, 'redis')}): run ovl bootstrap, whose cache-binaries component puts one on every host`);
}

/** What `show` says of a cluster's passwords (never the passwords). */
function authSummary(name: string, a: ClusterAuth | undefined): string {
  const tls = a?.tls ? '; TLS only' : '';
  if (!hasPassword(a)) return `no password${tls}`;
  const both = a!.app.length > 1 ? `; old and new application passwords both accepted until ovl cluster password ${name} --drop-old` : '';
  return `${a!.admin ? `ACL users default (application), ovl, replica${both}` : 'password set (requirepass)'}${tls}`;
}

/** A queued task runs only under a scheduler: say so when none leads, rather than let it wait unseen. */
export async function warnWithoutScheduler(etcd: Etcd3, out: Out): Promise<void> {
  const { leader } = await import('../cluster/scheduler.js');
  if (!(await leader(etcd).catch(() => 'unknown'))) out('no scheduler is running: the task waits until one starts (ovl scheduler), or until a command that waits (create --wait, delete or restart without --no-wait) runs the queue in its own process');
}

/** --instance values must be instances of the cluster's plan: on any other the task would fail
 * only once queued and run, with exit code 2 instead of a usage error. */
/** A delete removes data: asked on a terminal (the name typed back), refused elsewhere without --yes. */
export async function confirmDelete(name: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError(`cluster delete ${name} removes its data: give --yes to confirm (there is no terminal to ask on)`);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const typed = await rl.question(`Delete cluster ${name} and every key it holds? Type its name to confirm: `);
    if (typed.trim() !== name) throw new UsageError(`not confirmed (typed ${JSON.stringify(typed.trim())}, not ${name})`);
  } finally {
    rl.close();
  }
}

export async function clusterTask(kind: 'delete' | 'restart', name: string, o: { inventory?: string; wait?: boolean; instance?: string[]; move?: boolean; json?: boolean }, out: Out): Promise<number> {
  const say = sayOf(o.json, out);
  return withState(o.inventory, async (etcd, inv) => {
    const queued = await queueClusterTask(etcd, kind, name, { instances: o.instance, move: o.move });
    if ('cancelled' in queued) {
      say(`task ${queued.cancelled.id}: create ${name} cancelled before it started; nothing was placed`);
      if (o.json) out(JSON.stringify(queued.cancelled, null, 2));
      return 0;
    }
    const { task } = queued;
    say(`task ${task.id}: ${kind} ${name}`);
    if (o.wait === false) {
      await warnWithoutScheduler(etcd, say);
      if (o.json) await printTask(etcd, task.id, out);
      return 0;
    }
    const done = await taskDone(`${kind} ${name}`, inv, etcd, task.id, say);
    // A delete's record outlives the cluster (it is the record that the cluster is gone).
    if (o.json) await printTask(etcd, task.id, out);
    return done ? 0 : 2;
  });
}

export async function clusterList(o: { inventory?: string; json?: boolean }, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd) => {
    const all = await listClusters(etcd);
    if (o.json) {
      out(JSON.stringify(all, null, 2));
      return 0;
    }
    if (!all.length) {
      out('no clusters');
      return 0;
    }
    const rows = all.map((c) => {
      const dims = c.type === 'memcache' ? plural(c.nodes ?? 0, 'node') : `${c.masters}x${c.replicas}`;
      return [c.name, c.type, c.version, dims, `${c.maxmemoryMB}mb`, c.state + (c.error ? ` (${c.error.slice(0, 80)})` : '')];
    });
    for (const l of table(['NAME', 'TYPE', 'VERSION', 'SHAPE', 'MAXMEMORY', 'STATE'], rows)) out(l);
    return 0;
  }, { readOnly: true });
}

/** What `show` says of an instance now, from one consistency check (NodeReport). */
export function nowState(n: { answered: boolean; problems: string[] } | undefined): string {
  if (!n) return '?';
  if (!n.answered) return `down: ${n.problems[0] ?? 'does not answer'}`;
  if (!n.problems.length) return 'ok';
  return n.problems.length === 1 ? n.problems[0]! : `${n.problems[0]} (+${n.problems.length - 1} more)`;
}

/** The cluster's Grafana dashboard when the inventory names a Grafana (vars.grafana_url); the
 * shipped dashboard (templates/grafana/ovl-redis.json) shows Redis types. */
export function dashboardLink(inv: Inventory, cluster: string, type: ClusterType): string | undefined {
  const base = inv.vars.grafana_url;
  if (typeof base !== 'string' || type === 'memcache') return undefined;
  return `${base.replace(/\/+$/, '')}/d/ovl-redis/ovl-redis?var-cluster=${encodeURIComponent(cluster)}`;
}

export async function clusterShow(name: string, o: { inventory?: string; json?: boolean; probe?: boolean }, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const cfg = await getJson<ClusterConfig>(etcd, configKey(name));
    if (!cfg) {
      const task = (await queuedCreates(etcd)).find((t) => openCreateOf(t, name));
      if (!task) throw new UsageError(`no cluster named ${name} (ovl cluster list)`);
      if (o.json) out(JSON.stringify({ config: null, task, instances: [] }, null, 2));
      else out(`${name}: not placed yet; create task ${task.id}: ${task.state} - ${task.step}${task.state === 'pending' ? ` (ovl cluster delete ${name} cancels it)` : ''}`);
      return 0;
    }
    const infos = [...(await listInstances(etcd, name)).values()];
    const task = await getTask(etcd, cfg.task);
    // The states in etcd are what the last task saw: a process killed since then is still
    // recorded "up". So show also asks every instance now (the check's one round trip each).
    const plan = o.probe === false ? null : await getPlan(etcd, name);
    const auth = await getSecret(etcd, name);
    const report = plan ? await (await import('../cluster/check.js')).checkCluster(plan, { auth, timeoutMs: 1000 }) : undefined;
    const nodeNow = new Map(report?.nodes.map((n) => [addrOf(n), n]));
    if (o.json) {
      const now = report && { healthy: report.healthy, problems: report.problems, ms: report.ms };
      const instances = infos.map((i) => (report ? { ...i, now: { answered: nodeNow.get(addrOf(i))?.answered ?? false, problems: nodeNow.get(addrOf(i))?.problems ?? [] } } : i));
      out(JSON.stringify({ config: cfg, task, instances, now, dashboard: dashboardLink(inv, name, cfg.type) }, null, 2));
      return 0;
    }
    out(`${cfg.name}: ${cfg.type} ${cfg.version}, ${shape(cfg)}, maxmemory ${cfg.maxmemoryMB}mb, ${authSummary(name, auth)}`);
    if (cfg.config) out(`  redis.conf: ${Object.entries(cfg.config).map(([k, v]) => `${k} ${v}`).join('; ')}`);
    const dashboard = dashboardLink(inv, name, cfg.type);
    if (dashboard) out(`dashboard: ${dashboard}`);
    out(`state: ${cfg.state}${cfg.error ? ` (${cfg.error})` : ''}; last create task ${cfg.task}: ${task?.state ?? '?'} - ${task?.step ?? ''}`);
    // A later restart or delete (failed, or still queued) says more about the cluster now.
    const latest = (await tasksOf(etcd, name)).at(-1);
    if (latest && latest.id !== cfg.task) out(`latest task ${latest.id} (${latest.kind}): ${latest.state} - ${latest.state === 'failed' ? latest.error ?? '' : latest.step}`);
    for (const r of plan?.retired ?? []) out(`retired: ${addrOf(r)} (${r.host}), ${r.movedTo ? `replaced by ${r.movedTo}` : 'removed'} (task ${r.task}); the next restart stops it once ${r.host} answers`);
    if (report) {
      const down = report.nodes.filter((n) => !n.answered).length;
      out(report.healthy
        ? `now: healthy (${plural(report.nodes.length, 'instance')} asked, ${report.ms} ms)`
        : `now: NOT healthy: ${down} of ${plural(report.nodes.length, 'instance')} down, ${plural(report.problems.length, 'problem')} (ovl cluster check ${name})`);
    }
    const rows = instanceRows(infos).map(({ instance: i, cells }) => {
      const recorded = i.state + (i.error ? ` (${i.error})` : '');
      return [...cells, recorded, ...(report ? [nowState(nodeNow.get(addrOf(i)))] : [])];
    });
    for (const l of table([...INSTANCE_HEADER, 'RECORDED', ...(report ? ['NOW'] : [])], rows)) out(l);
    return 0;
  }, { readOnly: true });
}

/** Problems printed per cluster when several are checked; `check NAME` prints them all. */
const PROBLEMS_SHOWN = 10;


/**
 * `check NAME...` or `check --all` (every cluster etcd records, for a monitoring job: one
 * process and one etcd connection for the whole fleet). A cluster a create or delete is working
 * on is not checked (it would fail while forming or going away) and does not count against the
 * exit code. One named that does not exist is a usage error before anything is checked; one
 * named that cannot be checked yet makes the exit code CHECK_FAILED.
 */
export async function clusterCheck(names: string[], o: { inventory?: string; json?: boolean; all?: boolean }, out: Out): Promise<number> {
  if (o.all && names.length) throw new UsageError('name clusters or give --all, not both');
  if (!o.all && !names.length) throw new UsageError('name a cluster to check, or give --all for every cluster (ovl cluster list)');
  return withState(o.inventory, async (etcd) => {
    const { checkClusters } = await import('../cluster/check-all.js');
    const configs = new Set((await listConfigs(etcd)).map((c) => c.name));
    const wanted = o.all ? [...configs] : [...new Set(names)];
    const missing = wanted.filter((n) => !configs.has(n));
    if (missing.length) throw new UsageError(`no cluster named ${missing.join(', ')} (ovl cluster list)`);
    const outcomes = await checkClusters(etcd, wanted, { skipBusy: !!o.all, by: 'cli' });
    const unhealthy = outcomes.filter((c) => 'report' in c && !c.report.healthy).map((c) => c.name);
    const verdict = () => (unhealthy.length ? 1 : !o.all && outcomes.some((c) => 'skipped' in c) ? CHECK_FAILED : 0);
    const single = !o.all && wanted.length === 1 && 'report' in outcomes[0]! ? outcomes[0].report : undefined;
    if (o.json) {
      // One cluster named: its report, as always; several: every outcome and the verdict.
      out(JSON.stringify(single ?? { healthy: verdict() === 0, clusters: outcomes }, null, 2));
      return verdict();
    }
    if (o.all && !outcomes.length) {
      out('no clusters');
      return 0;
    }
    for (const c of outcomes) {
      if ('skipped' in c) out(`${c.name}: ${c.skipped}`);
      else if (c.report.healthy) out(`${c.name}: healthy (${plural(c.report.nodes.length, 'instance')}, ${c.report.ms} ms)`);
      else {
        out(`${c.name}: NOT healthy, ${plural(c.report.problems.length, 'problem')}:`);
        const shown = single ? c.report.problems : c.report.problems.slice(0, PROBLEMS_SHOWN);
        for (const p of shown) out(`  ${p}`);
        if (shown.length < c.report.problems.length) out(`  ... ${c.report.problems.length - shown.length} more (ovl cluster check ${c.name})`);
      }
    }
    if (outcomes.length > 1) {
      const checked = outcomes.filter((c) => 'report' in c).length;
      out(`${plural(outcomes.length, 'cluster')}: ${checked - unhealthy.length} healthy${unhealthy.length ? `, ${unhealthy.length} NOT healthy (${unhealthy.join(', ')})` : ''}${checked < outcomes.length ? `, ${outcomes.length - checked} not checked` : ''}`);
    }
    if (unhealthy.length) out(`to bring stopped instances back (and masters replaced by a failover back to their role): ovl cluster restart ${unhealthy.length === 1 ? unhealthy[0] : 'NAME'}`);
    return verdict();
  }, { readOnly: true });
}

export async function scheduler(o: { inventory?: string; leaseTtl?: number; metrics?: string; checkEvery?: number; json?: boolean }, out: Out): Promise<number> {
  const inv = loadInventory(o.inventory);
  if (o.metrics) {
    const { parseListen } = await import('../monitoring/metrics-server.js');
    try {
      parseListen(o.metrics);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const { runScheduler } = await import('../cluster/scheduler.js');
  // --json: one object per line, for a log shipper.
  const log = o.json ? (l: string) => out(JSON.stringify({ at: new Date().toISOString(), message: l })) : (l: string) => out(`${new Date().toISOString()} ${l}`);
  await runScheduler({ inv, ttl: o.leaseTtl, metrics: o.metrics, checkEvery: o.checkEvery, log });
  return 0;
}

