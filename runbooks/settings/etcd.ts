// The etcd runbook's inventory rules. Its ports and cluster token are fleet-wide vars the loader
// resolves (with defaults): `ovl cluster` reads them to reach etcd, and reads etcd_tls and pki_dir
// for the client certificate it reaches etcd with.
import type { ComponentRules } from './rules.js';
import { flag, port, text, whole, type VarSpecs } from './vars.js';

export const ETCD_VARS: VarSpecs = {
  /** Mutual TLS between members and for every client; false only for a fleet not moved yet. */
  etcd_tls: flag(true),
  /** An even member count tolerates no more failures than one less: refused unless this is set. */
  etcd_allow_even: flag(false),
  /** Where the fleet CA and the certificates live on the operator's machine (relative to the inventory). */
  pki_dir: text(/^[A-Za-z0-9_.\/-]+$/, 'a path of letters, digits and _ . / -', 'prod.pki'),
  tls_cert_days: whole(30, 3650, 825),
  /** A certificate with fewer days left is issued again by a bootstrap. */
  tls_renew_days: whole(1, 365, 30),
  /** Snapshots kept on each member's host (/data/backup/etcd) and on the operator's machine. */
  etcd_snapshots_kept: whole(1, 1000, 10),
  /** etcd's /metrics and /health in plain HTTP (no client certificate), for Prometheus. */
  etcd_metrics_port: port(2381),
};

export const ETCD_RULES: ComponentRules = {
  vars: ETCD_VARS,
  artifacts: { anyOf: ['etcd'], example: 'etcd: [ { version: "3.4.23", files: { etcd: /usr/bin/etcd, etcdctl: /usr/bin/etcdctl } } ]' },
  binaries: { etcd: 'etcd' },
  ports: ['etcd_client_port', 'etcd_peer_port', 'etcd_metrics_port'],
  check: ({ hosts }) =>
    hosts.length % 2 === 0 && hosts.length > 0 && hosts[0]!.vars.etcd_allow_even !== true
      ? [{
          message: `etcd needs an odd number of members (1, 3 or 5); server.etcd lists ${hosts.length}: a majority of ${hosts.length} is ${hosts.length / 2 + 1}, so it survives no more lost members than ${hosts.length - 1} would`,
          fix: 'add or remove one host in server.etcd (or, for a step of a move between two odd sizes, set vars: { etcd_allow_even: true })',
        }]
      : [],
};
