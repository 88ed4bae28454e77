// The inventory's shape (zod): types only, each type problem with its own message and fix.
// Everything else (names, ranges, cross-references, files) is checked in ./check/.
import { z } from 'zod';
import { isSecretPath } from '../redact.js';
import { ARTIFACT_TYPES, DEFAULTS, PORT_VARS } from './defaults.js';
import type { Source } from './source.js';
import type { ArtifactType } from './types.js';
import { closest, describe, getIn, label, type Dict, type Path } from './values.js';

const int = z.number().int();
const SshSchema = z
  .object({ user: z.string(), port: int, key: z.string(), passphrase_env: z.string(), known_hosts: z.string() })
  .partial()
  .strict();
const VarsSchema = z
  .object({
    ssh: SshSchema.nullish(),
    cache_ports: z.unknown(), // a mapping {from, to} or a string "7000-7999": checked by hand
    etcd_client_port: int,
    etcd_peer_port: int,
    etcd_cluster_token: z.string(),
    zookeeper_client_port: int,
    forks: int,
  })
  .partial()
  .passthrough();
const HostSchema = z
  .object({ name: z.string(), address: z.string(), ssh: SshSchema.nullish(), vars: VarsSchema.nullish() })
  .strict();
const ArtifactSchema = z.object({ version: z.string(), files: z.record(z.string()), tarball: z.string().optional() }).strict();
const ArtifactsSchema = z
  .object(Object.fromEntries(ARTIFACT_TYPES.map((t) => [t, z.array(ArtifactSchema)])) as Record<ArtifactType, z.ZodArray<typeof ArtifactSchema>>)
  .partial()
  .strict();
const SchedulerSchema = z.object({ resources: z.enum(['fleet', 'mesos']).optional(), mesos_master: z.string().optional() }).strict();
export const InventorySchema = z
  .object({
    vars: VarsSchema.nullish(),
    artifacts: ArtifactsSchema.nullish(),
    hosts: z.array(HostSchema),
    components: z.array(z.string()),
    server: z.record(z.union([z.string(), z.array(z.string())])),
    scheduler: SchedulerSchema.nullish(),
  })
  .strict();

export const TOP_KEYS = Object.keys(InventorySchema.shape);

/** The zod schema at a data path, to list the keys allowed there. */
function schemaAt(path: Path): z.ZodTypeAny | undefined {
  let s: z.ZodTypeAny | undefined = InventorySchema;
  for (const seg of [...path, null]) {
    for (;;) {
      if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
      else break;
    }
    if (seg === null || !s) break;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodTypeAny>)[String(seg)];
    else if (s instanceof z.ZodArray) s = s.element;
    else if (s instanceof z.ZodRecord) s = s.valueSchema;
    else return undefined;
  }
  return s;
}

const EXPECTED: Record<string, string> = {
  array: 'a list',
  object: 'a mapping',
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
};

export function fixFor(path: Path, value: unknown, expected?: string, written?: string): string {
  const key = [...path].reverse().find((s): s is string => typeof s === 'string') ?? '';
  const parentKey = path.length >= 2 ? path[path.length - 2] : undefined;
  if (key === 'passphrase_env') {
    return 'write the NAME of the environment variable holding the passphrase, e.g. passphrase_env: OVL_SSH_PASSPHRASE; never the passphrase itself';
  }
  if (expected === 'string' && (typeof value === 'number' || typeof value === 'boolean') && !isSecretPath(path)) {
    return `quote it so YAML reads it as text, e.g. ${key}: "${written ?? value}"`;
  }
  if (key === 'port' || PORT_VARS.includes(key as (typeof PORT_VARS)[number])) {
    const d = key === 'port' ? 22 : DEFAULTS[key as (typeof PORT_VARS)[number]];
    return `write a port number from 1 to 65535, without quotes, e.g. ${key}: ${d}`;
  }
  if (parentKey === 'files' || key === 'files') return 'map each binary name to a local path, e.g. files: { etcd: /usr/bin/etcd, etcdctl: /usr/bin/etcdctl }';
  if (path[0] === 'server' && path.length >= 2) return `write \`${path[1]}: all\` or a list of host names, e.g. ${path[1]}: [cache-01, cache-02, cache-03]`;
  if (path[0] === 'artifacts' && path.length === 2) return `give a list of versions, e.g. ${key}: [ { version: "3.4.23", files: { ... } } ]`;
  if (path[0] === 'artifacts' && typeof path[path.length - 1] === 'number') return 'write each artifact as a mapping: { version: "7.0.15", files: { redis-server: /usr/local/bin/redis-server } }';
  switch (key) {
    case 'hosts':
      return path.length === 1
        ? 'write hosts as a list of entries, each like `- name: cache-01` with `address: 10.20.0.11` below it'
        : 'write each host as a mapping with name: and address:';
    case 'components':
      return 'write components as a list in deployment order, e.g. [data-layout, etcd, cache-binaries]';
    case 'server':
      return 'map each component to `all` or a list of host names, e.g. etcd: [cache-01, cache-02, cache-03]';
    case 'vars':
      return 'write vars as a mapping of name: value';
    case 'ssh':
      return 'write ssh as a mapping, e.g. ssh: { user: root, port: 22, key: ~/.ssh/ovl_fleet }';
    case 'artifacts':
      return 'write artifacts as a mapping from type (etcd, redis, memcache, zookeeper, mesos) to a list of versions';
    case 'scheduler':
      return 'write scheduler: { resources: fleet } or scheduler: { resources: mesos, mesos_master: "zk://10.20.0.11:2181/mesos" }';
    case 'resources':
      return 'use fleet (the default) or mesos';
    case 'name':
      return 'give the host a name like cache-01 (lower-case letters, digits and \'-\')';
    case 'address':
      return 'give the host\'s IPv4 address (e.g. 10.20.0.11) or DNS name';
    case 'version':
      return 'write the version in quotes, e.g. version: "3.4.23"';
    case 'key':
      return 'give the path of the private key, e.g. key: ~/.ssh/ovl_fleet';
    case 'user':
      return 'give the login name, e.g. user: root';
    case 'forks':
      return 'give how many hosts to work on at once, e.g. forks: 20';
    case 'tarball':
      return 'give the local path of the release tarball, e.g. tarball: ./etcd-v3.4.23-linux-amd64.tar.gz';
    default:
      return expected ? `write ${EXPECTED[expected] ?? expected} here` : 'see inventories/prod.yml for the format';
  }
}

/** A zod issue as a problem at its position. */
export function shapeProblem(src: Source, data: Dict, issue: z.ZodIssue): void {
  const path = issue.path;
  const value = getIn(data, path);
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.received === 'undefined') {
        const parent = path.slice(0, -1);
        const key = String(path[path.length - 1]);
        const where = parent.length ? label(data, parent) : 'the inventory';
        src.add(parent, `${where} has no \`${key}\``, `add \`${key}:\`; ${fixFor(path, undefined, issue.expected)}`);
        return;
      }
      const exp = EXPECTED[issue.expected] ?? issue.expected;
      const written = issue.expected === 'string' && !isSecretPath(path) ? src.written(path) : undefined;
      const got = written !== undefined && written !== String(value) ? `${written} (YAML reads it as ${describe(value, path)})` : describe(value, path);
      src.add(path, `${label(data, path)} must be ${exp}, got ${got}`, fixFor(path, value, issue.expected, written));
      return;
    }
    case 'invalid_union': {
      const exp = path[0] === 'server' ? 'the word `all` or a list of host names' : 'a different kind of value';
      src.add(path, `${label(data, path)} must be ${exp}, got ${describe(value, path)}`, fixFor(path, value));
      return;
    }
    case 'invalid_enum_value': {
      const options = issue.options.map(String);
      const c = typeof value === 'string' ? closest(value, options) : undefined;
      src.add(
        path,
        `${label(data, path)} must be one of ${options.join(', ')}, got ${describe(value, path)}`,
        c ? `did you mean \`${c}\`?` : `use one of ${options.join(', ')}`,
      );
      return;
    }
    case 'unrecognized_keys': {
      const s = schemaAt(path);
      const known = s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
      for (const k of issue.keys) {
        const where = path.length === 0 ? 'top-level key' : path[0] === 'artifacts' && path.length === 1 ? 'artifact type' : 'key';
        const inWhat = path.length === 0 ? '' : ` in ${label(data, path)}`;
        const c = closest(k, known);
        src.add(
          [...path, k],
          `unknown ${where} \`${k}\`${inWhat}`,
          c ? `did you mean \`${c}\`? (allowed: ${known.join(', ')})` : `remove it; allowed here: ${known.join(', ')}`,
          true,
        );
      }
      return;
    }
    default:
      src.add(path, `${label(data, path)}: ${issue.message}`, fixFor(path, value));
  }
}
