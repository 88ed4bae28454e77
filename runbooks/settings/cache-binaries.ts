// The cache-binaries runbook's inventory rules.
import type { ComponentRules } from './rules.js';

export const CACHE_BINARIES_RULES: ComponentRules = {
  vars: {},
  artifacts: {
    anyOf: ['redis', 'memcache'],
    example: 'redis: [ { version: "7.0.15", files: { redis-server: /usr/local/bin/redis-server, redis-cli: /usr/local/bin/redis-cli } } ]',
  },
  binaries: { redis: 'redis-server', memcache: 'memcached' },
};
