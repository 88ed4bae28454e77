import type { Runbook } from '../src/engine/runbook.js';
import { directories } from '../src/ops/files.js';

/** The /data tree of the design seeds (000, 001): everything ovl and the caches own. */
export const DATA_LAYOUT = [
  '/data',
  '/data/lib',
  '/data/log',
  '/data/log/apiserver',
  '/data/log/scheduler',
  '/data/log/executor',
  '/data/log/mesos',
  '/data/redis',
  '/data/redis_cluster',
  '/data/memcache',
  '/data/var',
  '/data/var/overlord',
  '/data/var/overlord/tmp',
  '/data/var/ovl',
];

export const dataLayout: Runbook = {
  name: 'data-layout',
  summary: 'the /data tree: lib, log, cache working dirs, executor tmp (0755 root:root)',
  host: () => ({
    operations: [directories(DATA_LAYOUT, { mode: 0o755, owner: 'root', group: 'root' }, `the /data tree (${DATA_LAYOUT.length} directories)`)],
  }),
};
