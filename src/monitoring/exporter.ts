// redis_exporter as ovl runs it on a cache host (the redis-exporter runbook and the targets' sync
// share it): multi-target, logging in as ovl's own ACL user with each instance's password from a
// file of the host (only the clusters with instances there), which it reads when it starts.
import type { HostSpec } from '../inventory/types.js';
import type { ServiceSpec } from '../ops/service.js';
import { file } from '../ops/files.js';
import { OVL_USER, type ClusterAuth } from '../cluster/auth.js';
import type { Plan } from '../cluster/types.js';

export const REDIS_EXPORTER_DIR = '/data/redis-exporter';
export const REDIS_EXPORTER_LOG_DIR = '/data/log/redis-exporter';
export const EXPORTER_PASSWORDS = `${REDIS_EXPORTER_DIR}/passwords.json`;
export const redisExporterPort = (h: HostSpec) => (h.vars.redis_exporter_port as number | undefined) ?? 9121;

export function redisExporterSpec(h: HostSpec): ServiceSpec {
  return {
    name: 'redis-exporter',
    // --redis.addr= : no instance of its own, only the targets Prometheus asks for.
    command: [
      '/usr/bin/prometheus-redis-exporter',
      `--web.listen-address=${h.address}:${redisExporterPort(h)}`,
      '--redis.addr=',
      `--redis.user=${OVL_USER}`,
      `--redis.password-file=${EXPORTER_PASSWORDS}`,
    ],
    dir: REDIS_EXPORTER_DIR,
    log: `${REDIS_EXPORTER_LOG_DIR}/redis-exporter.log`,
  };
}

/** The password file of a host: ovl's password for each instance of an ACL cluster on it, by the
 * target's address (sorted: the same fleet, the same bytes). */
export function exporterPasswords(host: string, plans: Plan[], auths: Map<string, ClusterAuth | undefined>): string {
  const entries: [string, string][] = [];
  for (const plan of plans) {
    const admin = auths.get(plan.cluster)?.admin?.[0];
    if (!admin || plan.type === 'memcache') continue;
    for (const i of plan.instances) if (i.host === host) entries.push([`redis://${i.address}:${i.port}`, admin]);
  }
  return `${JSON.stringify(Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b))), null, 1)}\n`;
}

/** The file, never shown (it holds passwords), readable by root only. */
export const exporterPasswordsOp = (content: string) => file(EXPORTER_PASSWORDS, content, { mode: 0o600, secret: true, notify: ['restart'] });
