// redis_exporter as ovl runs it on a cache host (the redis-exporter runbook and the targets' sync
// share it): multi-target, logging in as the clusters' monitoring user (no key, no admin command)
// with each instance's password from a file of the host (only the clusters with instances there),
// which it reads when it starts.
import { dirname } from 'node:path';
import type { HostSpec } from '../inventory/types.js';
import { restartMarker, restartScript, type ServiceSpec } from '../ops/service.js';
import { file, type FileState } from '../ops/files.js';
import { exec, type Operation } from '../ops/types.js';
import { shq } from '../shell.js';
import { MONITOR_USER, type ClusterAuth } from '../cluster/auth.js';
import type { Plan } from '../cluster/types.js';

export const REDIS_EXPORTER_DIR = '/data/redis-exporter';
export const REDIS_EXPORTER_LOG_DIR = '/data/log/redis-exporter';
export const EXPORTER_PASSWORDS = `${REDIS_EXPORTER_DIR}/passwords.json`;
export const redisExporterPort = (h: HostSpec) => (h.vars.redis_exporter_port as number | undefined) ?? 9121;
export const nodeExporterPort = (h: HostSpec) => (h.vars.node_exporter_port as number | undefined) ?? 9100;

export function redisExporterSpec(h: HostSpec): ServiceSpec {
  return {
    name: 'redis-exporter',
    // --redis.addr= : no instance of its own, only the targets Prometheus asks for.
    command: [
      '/usr/bin/prometheus-redis-exporter',
      `--web.listen-address=${h.address}:${redisExporterPort(h)}`,
      '--redis.addr=',
      `--redis.user=${MONITOR_USER}`,
      `--redis.password-file=${EXPORTER_PASSWORDS}`,
    ],
    dir: REDIS_EXPORTER_DIR,
    log: `${REDIS_EXPORTER_LOG_DIR}/redis-exporter.log`,
  };
}

/** The password file of a host: the monitoring user's password for each instance of an ACL cluster
 * on it, by the target's address (sorted: the same fleet, the same bytes). */
export function exporterPasswords(host: string, plans: Plan[], auths: Map<string, ClusterAuth | undefined>): string {
  const entries: [string, string][] = [];
  for (const plan of plans) {
    const monitor = auths.get(plan.cluster)?.monitor;
    if (!monitor || plan.type === 'memcache') continue;
    for (const i of plan.instances) if (i.host === host) entries.push([`redis://${i.address}:${i.port}`, monitor]);
  }
  return `${JSON.stringify(Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b))), null, 1)}\n`;
}

/** The file, never shown (it holds passwords), readable by root only. The runbook's restart handler
 * follows a change; outside a run (the sync), `owingRestart` marks the debt in the same step. */
export const exporterPasswordsOp = (content: string) => file(EXPORTER_PASSWORDS, content, { mode: 0o600, secret: true, notify: ['restart'] });

/** The file's operation with the exporter's restart marker set before it is written: a sync cut
 * between the write and the restart leaves the debt, and the next one pays it. */
export function owingRestart(content: string, h: HostSpec): Operation<FileState> {
  const op = exporterPasswordsOp(content);
  const marker = restartMarker(redisExporterSpec(h));
  return {
    ...op,
    plan(v, ctx) {
      const p = op.plan(v, ctx);
      return p.change ? { ...p, steps: [exec(`mkdir -p ${shq(dirname(marker))} && touch ${shq(marker)}`), ...p.steps] } : p;
    },
  };
}

/** Restart the exporter if its marker says a restart is owed, and clear the marker. */
export const payRestart = (h: HostSpec, systemd: boolean) => {
  const s = redisExporterSpec(h);
  return `if [ -e ${shq(restartMarker(s))} ]; then\n${restartScript(s, systemd)}\nrm -f ${shq(restartMarker(s))}\nfi`;
};
