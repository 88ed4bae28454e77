// Where an etcd member lives on its host, and its service: one definition for the runbook that
// installs it and for the snapshot, restore and prune code that stops, starts and reads it.
import type { ServiceSpec } from '../ops/service.js';

export const ETCD_DIR = '/data/etcd';
export const ETCD_DATA_DIR = `${ETCD_DIR}/data`;
export const ETCD_CONFIG = `${ETCD_DIR}/etcd.conf.yml`;
export const ETCD_LOG_DIR = '/data/log/etcd';
const TLS_DIR = `${ETCD_DIR}/tls`;
/** The member's certificate (it serves with it, and shows it as a client of its peers) and the CA. */
export const ETCD_TLS = { dir: TLS_DIR, ca: `${TLS_DIR}/ca.crt`, cert: `${TLS_DIR}/member.crt`, key: `${TLS_DIR}/member.key` };

/** The etcd service; without `bin`, only for stopping and starting one already defined on the host. */
export function etcdService(bin?: string): ServiceSpec {
  return { name: 'etcd', command: bin ? [bin, '--config-file', ETCD_CONFIG] : [], dir: ETCD_DIR, log: `${ETCD_LOG_DIR}/etcd.log` };
}

/** "20261205T231500Z": a UTC time for file names that sort by time. */
export const utcStamp = (now = new Date()) => now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
