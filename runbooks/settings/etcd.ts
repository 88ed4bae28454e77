// The etcd runbook's inventory rules. Its ports and cluster token are fleet-wide vars the loader
// resolves (with defaults): `ovl cluster` reads them to reach etcd.
import type { ComponentRules } from './rules.js';

export const ETCD_RULES: ComponentRules = {
  vars: {},
  artifacts: { anyOf: ['etcd'], example: 'etcd: [ { version: "3.4.23", files: { etcd: /usr/bin/etcd, etcdctl: /usr/bin/etcdctl } } ]' },
  binaries: { etcd: 'etcd' },
  ports: ['etcd_client_port', 'etcd_peer_port'],
};
