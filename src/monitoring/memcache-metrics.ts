// memcached's `stats` as Prometheus metrics, named as the Prometheus project's memcached_exporter
// names them (Debian packages none; a dashboard or rule written for it reads these). Served by the
// scheduler at /memcache?target=ADDRESS:PORT, one connection per scrape.
import { Gauge, Registry } from 'prom-client';
import { memcacheRound } from '../cluster/check/memcache.js';

/** stats field -> metric (counters end in _total, as memcached_exporter's do). */
const PLAIN: [string, string, string][] = [
  ['uptime', 'memcached_uptime_seconds', 'Seconds since the server started'],
  ['curr_connections', 'memcached_current_connections', 'Open connections'],
  ['max_connections', 'memcached_max_connections', 'Connections the server accepts at most'],
  ['total_connections', 'memcached_connections_total', 'Connections opened since start'],
  ['rejected_connections', 'memcached_connections_rejected_total', 'Connections rejected at max_connections'],
  ['bytes', 'memcached_current_bytes', 'Bytes of the items stored'],
  ['limit_maxbytes', 'memcached_limit_bytes', 'Memory the server may use for items (-m)'],
  ['curr_items', 'memcached_current_items', 'Items stored'],
  ['total_items', 'memcached_items_total', 'Items stored since start'],
  ['evictions', 'memcached_items_evicted_total', 'Items evicted to make room for new ones'],
  ['reclaimed', 'memcached_items_reclaimed_total', "Expired items' memory used again"],
  ['bytes_read', 'memcached_read_bytes_total', 'Bytes read from the network'],
  ['bytes_written', 'memcached_written_bytes_total', 'Bytes written to the network'],
];

/** memcached_commands_total{command,status}: stats field per pair. */
const COMMANDS: [string, string, string][] = [
  ['get_hits', 'get', 'hit'],
  ['get_misses', 'get', 'miss'],
  ['get_expired', 'get', 'expired'],
  ['cmd_set', 'set', 'hit'],
  ['delete_hits', 'delete', 'hit'],
  ['delete_misses', 'delete', 'miss'],
  ['incr_hits', 'incr', 'hit'],
  ['incr_misses', 'incr', 'miss'],
  ['touch_hits', 'touch', 'hit'],
  ['touch_misses', 'touch', 'miss'],
  ['cmd_flush', 'flush', 'hit'],
];

/** The exposition text for one memcached: memcached_up 0 (and nothing else) when it does not answer. */
export async function memcacheMetrics(address: string, port: number, timeoutMs = 2000): Promise<string> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });
  const up = gauge('memcached_up', 'Whether the memcached answered version and stats');
  const answer = await memcacheRound(address, port, timeoutMs).catch(() => undefined);
  up.set(answer ? 1 : 0);
  if (answer) {
    gauge('memcached_version', 'The version the server runs', ['version']).set({ version: answer.version }, 1);
    for (const [field, name, help] of PLAIN) {
      const v = Number(answer.stats.get(field));
      if (answer.stats.has(field) && Number.isFinite(v)) gauge(name, help).set(v);
    }
    const commands = gauge('memcached_commands_total', 'Commands by kind and outcome', ['command', 'status']);
    for (const [field, command, status] of COMMANDS) {
      const v = Number(answer.stats.get(field));
      if (answer.stats.has(field) && Number.isFinite(v)) commands.set({ command, status }, v);
    }
  }
  return registry.metrics();
}
