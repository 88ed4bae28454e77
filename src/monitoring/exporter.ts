// redis_exporter as ovl runs it on a cache host (the redis-exporter runbook and the targets' sync
// share it): multi-target, logging in as the clusters' monitoring user (no key, no admin command)
// with each instance's password from a file of the host (only the clusters with instances there),
// which it reads when it starts.
import { dirname, join } from 'node:path';
import { restartMarker, restartScript, type ServiceSpec } from '../ops/service.js';
import { file, type FileState } from '../ops/files.js';
import { exec, type Operation } from '../ops/types.js';
import { shq } from '../shell.js';
import { MONITOR_USER, type ClusterAuth } from '../cluster/auth.js';
import type { Plan, PlannedInstance } from '../cluster/types.js';
import { existsSync } from 'node:fs';
import { hostsOf, type HostSpec, type Inventory } from '../inventory/types.js';
import { remote } from '../paths.js';
import { pkiDir } from '../pki/fleet-pki.js';

/** The exporter's target for an instance: rediss:// for a TLS cluster (its password file's key too). */
export const redisTargetURI = (plan: Pick<Plan, 'tls'>, i: Pick<PlannedInstance, 'address' | 'port'>) => `${plan.tls ? 'rediss' : 'redis'}://${i.address}:${i.port}`;

export const REDIS_EXPORTER_DIR = '/data/redis-exporter';
export const REDIS_EXPORTER_LOG_DIR = '/data/log/redis-exporter';
export const EXPORTER_PASSWORDS = `${REDIS_EXPORTER_DIR}/passwords.json`;
export const redisExporterPort = (h: HostSpec) => (h.vars.redis_exporter_port as number | undefined) ?? 9121;
export const nodeExporterPort = (h: HostSpec) => (h.vars.node_exporter_port as number | undefined) ?? 9100;

/** Whether a host's exporter can read TLS clusters: the fleet has a PKI (its hosts get the Redis
 * CA and a certificate from cache-binaries, as redisCerts decides) and the host runs cache-binaries. */
export const exporterTls = (inv: Inventory, h: HostSpec) => existsSync(join(pkiDir(inv), 'ca.crt')) && hostsOf(inv, 'cache-binaries').some((x) => x.name === h.name);

export function redisExporterSpec(h: HostSpec, tls: boolean): ServiceSpec {
  return {
    name: 'redis-exporter',
    // --redis.addr= : no instance of its own, only the targets Prometheus asks for. TLS targets
    // (rediss://) are checked against the Redis CA; the host's certificate is its client one.
    command: [
      '/usr/bin/prometheus-redis-exporter',
      `--web.listen-address=${h.address}:${redisExporterPort(h)}`,
      '--redis.addr=',
      `--redis.user=${MONITOR_USER}`,
      `--redis.password-file=${EXPORTER_PASSWORDS}`,
      ...(tls ? [`--tls-ca-cert-file=${remote.tls.ca}`, `--tls-client-cert-file=${remote.tls.cert}`, `--tls-client-key-file=${remote.tls.key}`] : []),
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
    for (const i of plan.instances) if (i.host === host) entries.push([redisTargetURI(plan, i), monitor]);
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
  const marker = restartMarker(redisExporterSpec(h, false));
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
  // The marker and the restart read only the service's name (its command is the runbook's).
  const s = redisExporterSpec(h, false);
  return `if [ -e ${shq(restartMarker(s))} ]; then\n${restartScript(s, systemd)}\nrm -f ${shq(restartMarker(s))}\nfi`;
};
