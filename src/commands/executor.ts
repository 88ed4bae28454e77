// `ovl executor`: installs and starts one instance on the host it runs on, from the plan in
// etcd, and reports its state there. The scheduler does the same over SSH for all instances
// of a host at once; this is the command a Mesos agent launches for one instance.
import { instanceSetup, parseReports, startScript } from '../cluster/hostops.js';
import { addrOf, getPlan, getSecret, setInstanceStates } from '../cluster/store.js';
import { etcdEndpoints, withEtcd } from '../state/etcd.js';
import { localTransport, runScript } from '../ssh/transport.js';
import { pollUntil, tcpOpen } from '../ops/wait.js';
import { loadInventory } from '../inventory/load.js';
import { RUNBOOKS } from '../../runbooks/index.js';

export interface ExecutorOptions {
  cluster: string;
  instance: string;
  task: string;
  etcd?: string;
  inventory?: string;
}

export async function executor(o: ExecutorOptions, out: (l: string) => void): Promise<number> {
  const endpoints = o.etcd
    ? o.etcd.split(',')
    : etcdEndpoints(loadInventory(o.inventory ?? process.env.OVL_INVENTORY ?? 'inventories/sandbox.yml', { knownComponents: Object.keys(RUNBOOKS), checkLocalFiles: false }));
  return withEtcd(endpoints, async (etcd) => {
    const plan = await getPlan(etcd, o.cluster);
    if (!plan) throw new Error(`no plan for cluster ${o.cluster} in etcd`);
    const inst = plan.instances.find((i) => addrOf(i) === o.instance);
    if (!inst) throw new Error(`${o.instance} is not an instance of ${o.cluster}`);
    const setup = instanceSetup(plan, inst, { password: await getSecret(etcd, o.cluster), task: o.task });
    const r = await runScript(localTransport, startScript([setup]));
    const report = parseReports(r.stdout)[0];
    if (!report || report.status === 'failed') {
      const error = report?.detail ?? `exit ${r.code}: ${r.stderr.trim()}`;
      await setInstanceStates(etcd, o.cluster, new Map([[o.instance, { state: 'failed', error }]]));
      out(`${o.instance}: failed: ${error}`);
      return 1;
    }
    await pollUntil(() => tcpOpen(inst.address, inst.port), 30_000, `${o.instance} to accept connections`);
    await setInstanceStates(etcd, o.cluster, new Map([[o.instance, { state: 'up' }]]));
    out(`${o.instance}: ${report.status} (pid ${report.detail})`);
    return 0;
  }, 10_000);
}
