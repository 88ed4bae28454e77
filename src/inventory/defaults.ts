// The settings every host has, with their defaults, and the artifact types: the resolved Vars
// (./types.ts) always hold these; `ovl cluster` reads them too (etcd's endpoints, cache ports).
import type { ArtifactType, PortRange } from './types.js';

export const ARTIFACT_TYPES: readonly ArtifactType[] = ['etcd', 'redis', 'memcache', 'zookeeper', 'mesos'];

export const DEFAULTS = {
  user: 'root',
  port: 22,
  cache_ports: { from: 7000, to: 7999 } as PortRange,
  etcd_client_port: 2379,
  etcd_peer_port: 2380,
  zookeeper_client_port: 2181,
};

/** The fleet-wide vars the loader itself checks and resolves; runbooks declare the rest. */
export const FLEET_VARS = ['ssh', 'cache_ports', 'etcd_client_port', 'etcd_peer_port', 'etcd_cluster_token', 'zookeeper_client_port', 'forks'];
export const PORT_VARS = ['etcd_client_port', 'etcd_peer_port', 'zookeeper_client_port'] as const;
