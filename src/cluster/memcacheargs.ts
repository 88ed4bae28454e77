// memcached command line of one memcache instance; templates/memcache.args.hbs holds the options.

import { render } from '../templates.js';
import { instanceDir, type Plan, type PlannedInstance } from './types.js';

export interface MemcacheOptions {
  /** Maximum simultaneous connections (-c); default 4096. */
  conns?: number;
  /** Worker threads (-t); default 4. */
  threads?: number;
  /** User memcached switches to when started as root (-u); default nobody. */
  user?: string;
  /** Extra option lines, e.g. ["-I 2m", "-o lru_crawler"]. */
  extra?: string[];
}

const OPTION_LINE_RE = /^-{1,2}[A-Za-z][A-Za-z0-9_-]*( [^\s].*)?$/;

export function memcacheContext(plan: Plan, instance: PlannedInstance, opts: MemcacheOptions = {}) {
  if (plan.type !== 'memcache') throw new Error(`memcached arguments are for memcache, ${plan.cluster} is ${plan.type}`);
  if (!plan.instances.some((i) => i.id === instance.id)) throw new Error(`instance ${instance.id} is not in plan ${plan.cluster}`);
  const conns = opts.conns ?? 4096;
  const threads = opts.threads ?? 4;
  const user = opts.user ?? 'nobody';
  if (!Number.isInteger(conns) || conns < 1) throw new Error(`invalid memcache connection limit ${conns}`);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new Error(`invalid memcache thread count ${threads}`);
  if (!/^[a-z_][a-z0-9_-]*$/.test(user)) throw new Error(`invalid user ${JSON.stringify(user)}`);
  const extra = opts.extra ?? [];
  for (const line of extra) {
    if (!OPTION_LINE_RE.test(line) || /[\r\n\0]/.test(line)) throw new Error(`invalid memcached option ${JSON.stringify(line)}`);
  }
  return {
    cluster: plan.cluster,
    version: plan.version,
    shard: instance.shard,
    address: instance.address,
    port: instance.port,
    dir: instanceDir(plan.type, instance.port),
    maxmemoryMB: plan.maxmemoryMB,
    conns,
    threads,
    user,
    extra,
  };
}

/** Parse rendered memcache.args: an argv word list (flag, then its value if any). */
export function parseArgsFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.indexOf(' ');
    if (sp < 0) out.push(line);
    else out.push(line.slice(0, sp), line.slice(sp + 1).trim());
  }
  return out;
}

/** memcached arguments (without the binary) of one instance of a memcache plan. */
export function memcacheArgs(plan: Plan, instance: PlannedInstance, opts: MemcacheOptions = {}): string[] {
  return parseArgsFile(render('memcache.args.hbs', memcacheContext(plan, instance, opts)));
}
