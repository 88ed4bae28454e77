// Who may do what on a cluster's Redis instances. A cluster created with a password on Redis 6+
// gets ACL users instead of one shared requirepass:
//   default  the application's user: the password the operator gave (AUTH with one argument and
//            `redis-cli -a` keep working), every command but Redis's @admin ones (CONFIG, DEBUG,
//            SHUTDOWN, MODULE, ACL changes, CLUSTER's admin subcommands, REPLICAOF, SAVE...);
//   ovl      ovl's checks and operations, every command, a password only ovl knows;
//   replica  replication only (PSYNC, REPLCONF, PING): masteruser/masterauth.
// redis.conf holds the passwords as SHA-256 hashes (ACL's #<hex>) except masterauth, which a
// replica must send in clear. Clusters created before ACL users (or on Redis 5) keep requirepass.
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { RedisTls } from '../pki/redis-certs.js';
import { versionOf } from './redisconf.js';

export interface ClusterAuth {
  /** The application's passwords, the current one first; two while a rotation lets both in. */
  app: string[];
  /** ACL clusters: ovl's own user's passwords (the one it logs in with first; two while rotating). */
  admin?: string[];
  /** ACL clusters: the replication user's password. */
  replica?: string;
  /** ACL clusters: the monitoring user's (redis_exporter's) password: INFO and the like, no key. */
  monitor?: string;
  /** Clusters created with --tls: the CA and ovl's client certificate (read from the PKI directory
   * when the record is opened; the sealed record says only `tls: true`). */
  tls?: RedisTls;
}

/** The record as read from etcd, made to print as nothing: one logged or serialised by mistake (a
 * debug line, a job dump) shows no password. Its fields read as usual. */
export function unprintable(a: ClusterAuth): ClusterAuth {
  const hidden = () => '[ClusterAuth: passwords not shown]';
  Object.defineProperty(a, 'toJSON', { value: hidden, enumerable: false });
  Object.defineProperty(a, inspect.custom, { value: hidden, enumerable: false });
  return a;
}

/** A password for the application is set (a TLS cluster without one has a record all the same). */
export const hasPassword = (a: ClusterAuth | undefined): boolean => (a?.app.length ?? 0) > 0;

/** ioredis options for ovl's connections: its login, and TLS where the cluster has it. */
export function connectOptions(a: ClusterAuth | undefined): { username?: string; password?: string; tls?: { ca: string; cert: string; key: string } } {
  return { ...ovlLogin(a), ...(a?.tls ? { tls: { ca: a.tls.ca, cert: a.tls.client.cert, key: a.tls.client.key } } : {}) };
}

export const OVL_USER = 'ovl';
export const REPLICA_USER = 'replica';
/** The exporters' login: what they read (INFO, CONFIG GET, CLUSTER INFO, SLOWLOG, LATENCY), no key:
 * redis_exporter takes key patterns from its scrape URL, which anyone reaching its port can set. */
export const MONITOR_USER = 'monitor';
const MONITOR_RULES = ['-@all', '+ping', '+info', '+config|get', '+cluster|info', '+client|setname', '+client|list', '+slowlog', '+latency', '+select', '+dbsize'];

/** Redis's @admin commands a cluster's application may not run. Its own redis-cli --cluster
 * clients and ioredis's Cluster need CLUSTER's reading subcommands, which Redis 6 files under
 * @admin with the rest of CLUSTER (Redis 7 does not)... */
const APP_RULES_6 = [
  '+cluster|slots', '+cluster|nodes', '+cluster|info', '+cluster|keyslot', '+cluster|countkeysinslot', '+cluster|getkeysinslot', '+cluster|myid',
  // ...and the whole of CLIENT, which client libraries send as they connect (SETNAME) or track keys.
  '+client|setname', '+client|getname', '+client|id', '+client|info', '+client|tracking', '+client|trackinginfo', '+client|caching', '+client|getredir', '+client|reply',
];

/** Whether a cluster of this version gets ACL users. */
export const aclSupported = (version: string) => versionOf(version)[0] >= 6;

/** A password ovl makes for its own users: 32 random bytes, hex (no character redis.conf quotes). */
export const newSecret = () => randomBytes(32).toString('hex');

/** What a new cluster's instances accept: ACL users on Redis 6+, requirepass before. */
export function newClusterAuth(app: string, version: string): ClusterAuth {
  return aclSupported(version) ? { app: [app], admin: [newSecret()], replica: newSecret(), monitor: newSecret() } : { app: [app] };
}

/** The user and password ovl logs in with (no user: requirepass's default user). */
export function ovlLogin(a: ClusterAuth | undefined): { username?: string; password?: string } {
  if (!a || (!a.admin && !hasPassword(a))) return {};
  return a.admin ? { username: OVL_USER, password: a.admin[0] } : { password: a.app[0] };
}

/** The arguments of AUTH (and of MIGRATE's AUTH/AUTH2) for ovl's login. */
export function authArgs(a: ClusterAuth | undefined): string[] {
  const { username, password } = ovlLogin(a);
  if (password === undefined) return [];
  return username ? [username, password] : [password];
}

const hashOf = (password: string) => `#${createHash('sha256').update(password, 'utf8').digest('hex')}`;

/** Rules for application users' extra commands (`--app-acl`): +/- a command, subcommand or
 * @category. Passwords, users' on/off and key patterns stay ovl's. */
export function badAppRule(rule: string): string | undefined {
  if (/^[+-]@?[a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)?$/i.test(rule)) return undefined;
  return `--app-acl ${JSON.stringify(rule)}: give commands (+config|get, -keys) or categories (+@admin, -@dangerous), separated by spaces`;
}

/** Channel permissions exist since Redis 6.2 (and default to none since 7.0). */
const hasChannels = (version: string) => {
  const [major, minor] = versionOf(version);
  return major > 6 || (major === 6 && minor >= 2);
};

/** One ACL user: name and rules, in the order redis.conf's `user` and ACL SETUSER take them. */
export interface AclUser {
  name: string;
  rules: string[];
}

/** The ACL users of an ACL cluster's instance of `version` (none for requirepass clusters). */
export function aclUsers(a: ClusterAuth | undefined, version: string, appRules: string[] = []): AclUser[] {
  if (!a?.admin || a.replica === undefined) return [];
  if (!aclSupported(version)) throw new Error(`redis ${version} has no ACL users, and this cluster was created with them: run Redis 6 or later`);
  for (const r of appRules) {
    const why = badAppRule(r);
    if (why) throw new Error(why);
  }
  const all = ['~*', ...(hasChannels(version) ? ['&*'] : [])];
  const app = ['+@all', '-@admin', ...(versionOf(version)[0] < 7 ? APP_RULES_6 : []), ...appRules];
  return [
    { name: 'default', rules: ['on', ...a.app.map(hashOf), ...all, ...app] },
    { name: OVL_USER, rules: ['on', ...a.admin.map(hashOf), ...all, '+@all'] },
    { name: REPLICA_USER, rules: ['on', hashOf(a.replica), '+psync', '+replconf', '+ping'] },
    ...(a.monitor === undefined ? [] : [{ name: MONITOR_USER, rules: ['on', hashOf(a.monitor), ...MONITOR_RULES] }]),
  ];
}

/** The ACL SETUSER commands that make a running instance accept exactly the passwords of `a`
 * (users otherwise as redis.conf made them). One command per user: Redis applies it at once, so
 * no client sees a user between its old and new passwords. */
export function passwordCommands(a: ClusterAuth): string[][] {
  if (!a.admin || a.replica === undefined) return [];
  return [
    ['ACL', 'SETUSER', 'default', 'on', 'resetpass', ...a.app.map(hashOf)],
    ['ACL', 'SETUSER', OVL_USER, 'on', 'resetpass', ...a.admin.map(hashOf)],
    ['ACL', 'SETUSER', REPLICA_USER, 'on', 'resetpass', hashOf(a.replica)],
    ...(a.monitor === undefined ? [] : [['ACL', 'SETUSER', MONITOR_USER, 'on', 'resetpass', hashOf(a.monitor)]]),
    ['CONFIG', 'SET', 'masterauth', a.replica],
  ];
}
