// `ovl executor`: installs and starts one instance on the host it runs on, from the plan in
// etcd, and reports its state there. The scheduler does the same over SSH for all instances
// of a host at once; this is the command a Mesos agent launches for one instance.
import { readFileSync, readlinkSync } from 'node:fs';
import { instanceSetup, parseReports, startScript, stopScript } from '../cluster/hostops.js';
import { addrOf, getPlan, getSecret, setInstanceStates } from '../cluster/store.js';
import { etcdEndpoints, withEtcd } from '../state/etcd.js';
import { localTransport, runScript } from '../ssh/transport.js';
import { pollUntil, tcpOpen } from '../ops/wait.js';
import { loadFleet } from '../inventory/fleet.js';

export interface ExecutorOptions {
  cluster: string;
  instance: string;
  task: string;
  etcd?: string;
  inventory?: string;
  /** Return once the instance answers instead of staying with it. */
  detach?: boolean;
}

export async function executor(o: ExecutorOptions, out: (l: string) => void): Promise<number> {
  const endpoints = o.etcd
    ? o.etcd.split(',')
    : etcdEndpoints(loadFleet(o.inventory ?? process.env.OVL_INVENTORY ?? 'inventories/sandbox.yml', { checkLocalFiles: false }));
  const report = (state: 'up' | 'failed', error?: string) => withEtcd(endpoints, (etcd) => setInstanceStates(etcd, o.cluster, new Map([[o.instance, { state, error }]])), 10_000);
  const started = await withEtcd(
    endpoints,
    async (etcd) => {
      const plan = await getPlan(etcd, o.cluster);
      if (!plan) throw new Error(`no plan for cluster ${o.cluster} in etcd`);
      const inst = plan.instances.find((i) => addrOf(i) === o.instance);
      if (!inst) throw new Error(`${o.instance} is not an instance of ${o.cluster}`);
      const setup = instanceSetup(plan, inst, { password: await getSecret(etcd, o.cluster), task: o.task });
      const r = await runScript(localTransport, startScript([setup]));
      // The install reports first, the start last.
      return { inst, setup, last: parseReports(r.stdout).pop(), r };
    },
    10_000,
  );
  const { inst, setup, last, r } = started;
  if (!last || last.status === 'failed' || last.status === 'installed') {
    const error = last?.status === 'failed' ? last.detail : `exit ${r.code}: ${r.stderr.trim()}`;
    await report('failed', error);
    out(`${o.instance}: failed: ${error}`);
    return 1;
  }
  await pollUntil(() => tcpOpen(inst.address, inst.port), 30_000, `${o.instance} to accept connections`);
  await report('up');
  out(`${o.instance}: ${last.status} (pid ${last.detail})`);
  if (o.detach) return 0;

  // In the foreground for the life of the instance, as a Mesos task must be: the agent's
  // containerizer ends what a finished task leaves behind, and a kill of the task stops it.
  const pid = Number(last.detail);
  const stopped = new Promise<'killed'>((resolve) => {
    process.once('SIGTERM', () => resolve('killed')).once('SIGINT', () => resolve('killed'));
  });
  const died = (async (): Promise<'died'> => {
    for (;;) {
      await new Promise((res) => setTimeout(res, 1000));
      if (!alive(pid, setup.dir)) return 'died';
    }
  })();
  if ((await Promise.race([stopped, died])) === 'killed') {
    await runScript(localTransport, stopScript([setup], false));
    out(`${o.instance}: stopped`);
    return 0;
  }
  await report('failed', 'the process exited');
  out(`${o.instance}: the process exited`);
  return 1;
}

function alive(pid: number, dir: string): boolean {
  try {
    process.kill(pid, 0);
    return readlinkSync(`/proc/${pid}/cwd`) === dir && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
