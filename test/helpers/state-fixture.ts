// An etcd holding a fleet of many clusters, written through the store's own functions as the
// scheduler writes them (capacity, allocations, plans, configs, instance records with their
// rendered redis.conf and nodes.conf, tasks) but with no process behind any of it: what
// bench/state-scale.ts measures ovl's reads against.
import type { Etcd3 } from 'etcd3';
import { fleetCapacity, type HostAlloc } from '../../src/cluster/capacity.js';
import { renderNodesConfs } from '../../src/cluster/nodesconf.js';
import { instanceMemMB, place } from '../../src/cluster/placement.js';
import { renderRedisConf } from '../../src/cluster/redisconf.js';
import { commitPlan, putInstances, type ClusterConfig } from '../../src/cluster/store.js';
import { newTask, putTask } from '../../src/cluster/task-store.js';
import type { ClusterRequest, HostCapacity } from '../../src/cluster/types.js';
import { capacityKey, type HostCapacityRecord } from '../../src/state/keys.js';
import { rng } from './fleets.js';

/** Register the hosts' capacity as bootstrap does (100 keys per transaction). */
export async function registerHosts(c: Etcd3, hosts: HostCapacity[]): Promise<void> {
  for (let i = 0; i < hosts.length; i += 100) {
    const puts = hosts.slice(i, i + 100).map((h) => {
      const rec: HostCapacityRecord = { host: h.name, address: h.address, cpu: h.cpu, memMB: h.memMB, ports: h.ports, versions: h.versions };
      return c.put(capacityKey(h.name)).value(JSON.stringify(rec));
    });
    await c.if(capacityKey(hosts[i]!.name), 'Create', '!=', -1).then(...puts).commit();
  }
}

/** A mix like a real fleet's: Redis Clusters of 3-8 masters (a fifth with 2 replicas), plain
 * Redis with 1-2 replicas, memcache of 4-16 nodes: about 10 instances a cluster. */
function request(name: string, rand: () => number): ClusterRequest {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const maxmemoryMB = [64, 128, 256, 1024][int(0, 3)]!;
  const kind = rand();
  if (kind < 0.6) return { name, type: 'redis_cluster', version: '7.0.15', masters: int(3, 8), replicas: rand() < 0.2 ? 2 : 1, maxmemoryMB };
  if (kind < 0.8) return { name, type: 'redis', version: '7.0.15', masters: 1, replicas: int(1, 2), maxmemoryMB };
  return { name, type: 'memcache', version: '1.6.18', masters: 0, replicas: 0, nodes: int(4, 16), maxmemoryMB };
}

export const fixtureName = (i: number) => `c${String(i).padStart(5, '0')}`;

/**
 * Clusters `from` .. `to` - 1 (named by fixtureName), each placed on 40 hosts of its worker's
 * share of the fleet registered (workers never share a host, so their commits do not conflict),
 * created, running, with a create and two restarts in its task history.
 */
export async function writeClusters(c: Etcd3, from: number, to: number, o: { workers?: number; seed?: number } = {}): Promise<void> {
  const workers = o.workers ?? 8;
  const { hosts, revisions, allocs = new Map<string, HostAlloc>() } = await fleetCapacity(c);
  const share = Math.floor(hosts.length / workers);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const rand = rng((o.seed ?? 1) * 1000 + w + from);
      const mine = hosts.slice(w * share, (w + 1) * share);
      for (let i = from + w; i < to; i += workers) {
        const req = request(fixtureName(i), rand);
        const at = Math.floor(rand() * mine.length);
        const window = [...mine, ...mine].slice(at, at + 40);
        const plan = place(req, window);
        const task = await newTask(c, 'create', req.name, { request: req });
        const config: ClusterConfig = { ...req, state: 'running', task: task.id, auth: false, created: task.created };
        const rev = await commitPlan(c, plan, config, { revisions, allocs });
        const mem = instanceMemMB(req.maxmemoryMB);
        for (const inst of plan.instances) {
          const h = window.find((x) => x.name === inst.host)!;
          h.usedPorts.push(inst.port);
          h.usedMemMB += mem;
          allocs.set(h.name, { ...(allocs.get(h.name) ?? {}), [String(inst.port)]: { cluster: req.name, memMB: mem } });
          revisions.set(h.name, rev);
        }
        const nodes = req.type === 'redis_cluster' ? renderNodesConfs(plan) : undefined;
        await putInstances(
          c,
          req.name,
          plan.instances.map((inst) => ({
            info: { ...inst, cluster: req.name, type: req.type, version: req.version, state: 'up' as const },
            serverConf: req.type === 'memcache' ? '' : renderRedisConf(plan, inst),
            nodesConf: nodes?.get(inst.id),
          })),
        );
        await putTask(c, { ...task, state: 'done', step: 'running' });
        for (let k = 0; k < 2; k++) {
          const restart = await newTask(c, 'restart', req.name, {});
          await putTask(c, { ...restart, state: 'done', step: 'restarted' });
        }
      }
    }),
  );
}

