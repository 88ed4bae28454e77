// redis.conf of one redis or redis_cluster instance. The code prepares values (and checks the
// caller's extra settings); templates/redis.conf.hbs holds the format and the reasons.

import { render } from '../templates.js';
import { remote } from '../paths.js';
import { aclUsers, hasPassword, REPLICA_USER, type ClusterAuth } from './auth.js';
import { instanceDir, type Plan, type PlannedInstance } from './types.js';

export interface RedisConfOptions {
  /** ACL users (or, for clusters made before them, requirepass and masterauth). The rendered
   * file then holds a secret: write it 0640. */
  auth?: ClusterAuth;
  /** Extra directives, e.g. { 'maxmemory-policy': 'volatile-lru', save: '900 1' }. A key that is
   * one of the tunables replaces its default; any other key is appended. Values are written as
   * given (Redis config syntax: quote them yourself where needed). */
  extra?: Record<string, string>;
  /** Working directory; default /data/<type>/<port>. Only test rigs change it. */
  dir?: string;
  /** TLS clusters: where ca.crt, host.crt and host.key are; default remote.tls. Only test rigs change it. */
  tlsDir?: string;
}

/** Directives ovl owns: the layout, the identity and the memory accounting depend on them. */
const FIXED = new Set([
  'bind', 'bind-source-addr', 'cluster-announce-ip', 'replica-announce-ip', 'slave-announce-ip', 'port', 'protected-mode', 'daemonize', 'supervised', 'dir', 'pidfile', 'logfile',
  'maxmemory', 'replicaof', 'slaveof', 'cluster-enabled', 'cluster-config-file', 'cluster-port',
  'requirepass', 'masterauth', 'masteruser', 'user', 'include', 'aclfile',
  'tls-port', 'tls-cert-file', 'tls-key-file', 'tls-ca-cert-file', 'tls-ca-cert-dir', 'tls-replication', 'tls-cluster',
  'tls-client-cert-file', 'tls-client-key-file',
]);

const DIRECTIVE_RE = /^[a-z][a-z0-9-]*$/;

/** Commands ovl's checks and operations send (and replication and slot moves need), by what for. */
const NEEDED: Record<string, string> = Object.fromEntries(
  Object.entries({
    'its checks and settings': ['CONFIG', 'INFO', 'PING', 'ROLE', 'CLIENT', 'DBSIZE', 'COMMAND', 'HELLO', 'AUTH', 'ACL'],
    'forming, checking and failing over a cluster': ['CLUSTER', 'FAILOVER', 'REPLICAOF', 'SLAVEOF', 'READONLY', 'ASKING'],
    'replication': ['PSYNC', 'SYNC', 'REPLCONF', 'WAIT'],
    'moving slots and keys': ['MIGRATE', 'RESTORE', 'RESTORE-ASKING', 'MEMORY', 'SCAN', 'TYPE', 'DUMP'],
    'stopping and saving instances': ['SHUTDOWN', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'LASTSAVE'],
  }).flatMap(([why, cmds]) => cmds.map((c) => [c, why])),
);

/** Why a `rename-command` value cannot be taken: it would rename or disable a command ovl needs. */
function badRename(value: string): string | undefined {
  const cmd = /^\s*"?([A-Za-z-]+)"?(\s|$)/.exec(value)?.[1]?.toUpperCase();
  if (!cmd) return `rename-command ${JSON.stringify(value)}: write the command and its new name, e.g. rename-command=FLUSHALL ""`;
  const why = NEEDED[cmd];
  if (why) return `rename-command ${cmd}: ovl needs ${cmd} for ${why}, so it cannot be renamed or disabled (commands it does not need, e.g. FLUSHALL, FLUSHDB, KEYS, DEBUG, can be)`;
  return undefined;
}

/** Why an extra redis.conf directive cannot be taken, or undefined when it can. */
export function badDirective(name: string, value: unknown): string | undefined {
  if (!DIRECTIVE_RE.test(name)) return `invalid redis.conf directive ${JSON.stringify(name)} (lower-case letters, digits and -)`;
  if (name === 'maxmemory') return 'maxmemory is set from --maxmemory (placement reserves memory for it): use that option';
  // A module is a shared object loaded into every node: ovl deploys none, and a path typed in a
  // request must not become code running on every host.
  if (name === 'loadmodule') return 'loadmodule: ovl does not deploy Redis modules, so none can be loaded';
  if (FIXED.has(name)) return `redis.conf directive ${name} is set by ovl and cannot be overridden`;
  if (typeof value !== 'string' || /[\r\n\0]/.test(value)) return `invalid value for redis.conf directive ${name} (one line of text)`;
  if (name === 'rename-command') return badRename(value);
  return undefined;
}

/** Quote a value for redis.conf (sdssplitargs syntax) when it is not a plain word. */
export function redisQuote(value: string): string {
  if (/^[A-Za-z0-9_.,:@%+=\/!^*~-]+$/.test(value)) return value;
  let out = '"';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Major and minor of a version string ("7.0.15" -> [7, 0]). */
export function versionOf(version: string): [number, number] {
  const [major, minor] = version.split(/[.+-]/).map((x) => Number.parseInt(x, 10));
  return [Number.isFinite(major) ? major! : 0, Number.isFinite(minor) ? minor! : 0];
}

export interface Tunable {
  name: string;
  value: string;
}

/** Default tunables for a cache instance of this Redis version. */
export function defaultTunables(plan: Plan): Tunable[] {
  const [major] = versionOf(plan.version);
  const replica = major >= 5 ? 'replica' : 'slave';
  // Replication backlog: 1/16 of maxmemory (1..256 MB), inside the 10 % placement reserves; a
  // replica reconnecting after a short partition can then catch up without a full sync.
  const backlogMB = Math.min(256, Math.max(1, Math.ceil(plan.maxmemoryMB / 16)));
  const t: [string, string | number][] = [
    // A cache: evict rather than refuse writes; no persistence by default (no fork, no disk I/O).
    ['maxmemory-policy', 'allkeys-lru'],
    ['maxmemory-samples', 5],
    ['maxclients', 10000],
    ['save', '""'],
    ['appendonly', 'no'],
    ['appendfsync', 'everysec'],
    ['stop-writes-on-bgsave-error', 'no'],
    ['repl-backlog-size', `${backlogMB}mb`],
    ['repl-timeout', 60],
    [`${replica}-read-only`, 'yes'],
    [`${replica}-serve-stale-data`, 'yes'],
    [`${replica}-priority`, 100],
    ['lazyfree-lazy-eviction', 'yes'],
    ['lazyfree-lazy-expire', 'yes'],
    ['lazyfree-lazy-server-del', 'yes'],
    [`${replica}-lazy-flush`, 'yes'],
    ['hz', 10],
    ...(major >= 5 ? ([['dynamic-hz', 'yes']] as [string, string][]) : []),
    ['slowlog-log-slower-than', 10000],
    ['slowlog-max-len', 128],
  ];
  if (plan.tls) t.push(['tls-auth-clients', 'optional']);
  if (plan.type === 'redis_cluster') {
    t.push(
      // A node is failed after this long without answers (then its replica takes over): Redis's
      // 15 s, or 100 ms per node in bigger clusters. Every node pings every other one each half
      // timeout, so with a fixed timeout the bus traffic grows with the square of the node count
      // (600 nodes: ~96,000 messages of ~8 KB a second); scaled, each node sends ~20 pings a
      // second whatever the size. Set it with --config cluster-node-timeout=... to choose.
      ['cluster-node-timeout', Math.max(15000, 100 * plan.instances.length)],
      [`cluster-${replica}-validity-factor`, 10],
      ['cluster-migration-barrier', 1],
      ['cluster-require-full-coverage', 'yes'],
    );
  }
  return t.map(([name, value]) => ({ name, value: String(value) }));
}

export interface RedisConfContext {
  cluster: string;
  type: string;
  version: string;
  role: string;
  address: string;
  port: number;
  dir: string;
  clusterAnnounceIp: boolean;
  replicaAnnounceIp: boolean;
  replicaKeyword: string;
  protectedMode: 'yes' | 'no';
  maxmemoryMB: number;
  replicaofKeyword: string;
  replicaof: { address: string; port: number } | null;
  clusterEnabled: boolean;
  password: string | null;
  users: { name: string; rules: string }[];
  /** TLS clusters: the host's certificate files (remote.tls); plain `port` is 0 then. */
  tls: { cert: string; key: string; ca: string } | null;
  plainPort: number;
  masterauth: string | null;
  masteruser: string | null;
  tunables: Tunable[];
}

export function redisConfContext(plan: Plan, instance: PlannedInstance, opts: RedisConfOptions = {}): RedisConfContext {
  if (plan.type !== 'redis' && plan.type !== 'redis_cluster') throw new Error(`redis.conf is for redis types, ${plan.cluster} is ${plan.type}`);
  if (!plan.instances.some((i) => i.id === instance.id)) throw new Error(`instance ${instance.id} is not in plan ${plan.cluster}`);
  const [major] = versionOf(plan.version);

  let replicaof: RedisConfContext['replicaof'] = null;
  if (instance.role === 'replica' && plan.type === 'redis') {
    // Standalone replication is configured here; in a cluster it comes from nodes.conf.
    const m = plan.instances.find((i) => i.id === instance.masterId && i.role === 'master');
    if (!m) throw new Error(`replica ${instance.id} of ${plan.cluster}: master ${instance.masterId} is not in the plan`);
    replicaof = { address: m.address, port: m.port };
  }

  const tunables = defaultTunables(plan);
  for (const [name, value] of Object.entries({ ...plan.config, ...opts.extra })) {
    const why = badDirective(name, value);
    if (why) throw new Error(why);
    const t = tunables.find((x) => x.name === name);
    if (t) t.value = value;
    else tunables.push({ name, value });
  }

  const a = opts.auth;
  for (const p of [...(a?.app ?? []), ...(a?.admin ?? []), ...(a?.replica === undefined ? [] : [a.replica])]) {
    if (p === '' || /[\r\n\0]/.test(p)) throw new Error('a password cannot be empty or contain line breaks or NUL');
  }
  const users = aclUsers(a, plan.version, plan.appAcl);
  // requirepass (and masterauth with it) only for clusters made before ACL users.
  const password = hasPassword(a) && !users.length ? a!.app[0]! : null;
  return {
    cluster: plan.cluster,
    type: plan.type,
    version: plan.version,
    role: instance.role,
    address: instance.address,
    port: instance.port,
    dir: opts.dir ?? instanceDir(plan.type, instance.port),
    // cluster-announce-ip exists since Redis 4.0, replica-announce-ip (slave-) since 4.0 too.
    clusterAnnounceIp: plan.type === 'redis_cluster' && major >= 4,
    replicaAnnounceIp: major >= 4,
    replicaKeyword: major >= 5 ? 'replica' : 'slave',
    protectedMode: hasPassword(a) || users.length ? 'yes' : 'no',
    tls: !plan.tls ? null : opts.tlsDir ? { cert: `${opts.tlsDir}/host.crt`, key: `${opts.tlsDir}/host.key`, ca: `${opts.tlsDir}/ca.crt` } : { cert: remote.tls.cert, key: remote.tls.key, ca: remote.tls.ca },
    plainPort: plan.tls ? 0 : instance.port,
    maxmemoryMB: plan.maxmemoryMB,
    replicaofKeyword: major >= 5 ? 'replicaof' : 'slaveof',
    replicaof,
    clusterEnabled: plan.type === 'redis_cluster',
    password: password === null ? null : redisQuote(password),
    users: users.map((u) => ({ name: u.name, rules: u.rules.join(' ') })),
    masterauth: users.length ? redisQuote(a!.replica!) : password === null ? null : redisQuote(password),
    masteruser: users.length ? REPLICA_USER : null,
    tunables,
  };
}

/** redis.conf of one instance of a redis or redis_cluster plan. */
export function renderRedisConf(plan: Plan, instance: PlannedInstance, opts: RedisConfOptions = {}): string {
  return render('redis.conf.hbs', redisConfContext(plan, instance, opts));
}
