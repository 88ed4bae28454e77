import { parse as parseYaml } from 'yaml';
import { artifactFiles, type ArtifactFile } from '../src/artifacts.js';
import type { ComponentRun, Runbook } from '../src/engine/runbook.js';
import type { HostSpec } from '../src/inventory/types.js';
import { artifact, directories, file, fileState } from '../src/ops/files.js';
import { dirExists, facts } from '../src/ops/facts.js';
import { service, type ServiceSpec } from '../src/ops/service.js';
import { owedRestart } from '../src/engine/rolling.js';
import { change, ok, type HostContext, type Operation } from '../src/ops/types.js';
import { pollUntil, waitFor } from '../src/ops/wait.js';
import { clientURL, peerURL } from '../src/state/etcd.js';
import { healthy, leads, memberAdd, memberList, type Member } from '../src/state/etcd-http.js';
import { render } from '../src/templates.js';
import { Semaphore } from '../src/util/semaphore.js';

const DIR = '/data/etcd';
const DATA_DIR = `${DIR}/data`;
const CONFIG = `${DIR}/etcd.conf.yml`;
const LOG_DIR = '/data/log/etcd';

interface Shared {
  files: ArtifactFile[];
  /** Members of the running cluster, or null when no member answers (a fresh cluster). */
  members: Member[] | null;
  /** Member additions one at a time: etcd refuses one that would risk quorum. */
  addLock: Semaphore;
}

/** The etcd binary of the inventory's (first) etcd artifact. */
function binaryOf(comp: ComponentRun, shared: Shared): ArtifactFile {
  const version = comp.inv.artifacts.etcd![0]!.version;
  const bin = shared.files.find((f) => f.version === version && f.name === 'etcd');
  if (!bin) throw new Error(`the etcd artifact ${version} has no file named etcd`);
  return bin;
}

function etcdService(bin: string): ServiceSpec {
  return { name: 'etcd', command: [bin, '--config-file', CONFIG], dir: DIR, log: `${LOG_DIR}/etcd.log` };
}

/** name=peerURL pairs for initial-cluster; unstarted members have no name yet, the inventory knows it. */
function initialCluster(members: { name: string; url: string }[]): string {
  return members.map((m) => `${m.name}=${m.url}`).join(',');
}

function memberNames(comp: ComponentRun, members: Member[]): { name: string; url: string }[] {
  return members.flatMap((m) =>
    m.peerURLs.map((url) => ({ name: m.name || comp.allHosts.find((h) => peerURL(h) === url)?.name || '', url })).slice(0, 1),
  );
}

/**
 * etcd.conf.yml. What it says depends on the host (does the member already have data?) and
 * on the cluster (fresh: every inventory member, state new; running: its members, state
 * existing), so it reads both in its probe and then plans like any file.
 */
function config(h: HostContext, comp: ComponentRun, shared: Shared): Operation {
  const host = h.host;
  const wanted = (current: string, hasData: boolean): string => {
    let cluster: string;
    let state: 'new' | 'existing';
    const kept = hasData && current ? (parseYaml(current) as Record<string, string> | null) : null;
    if (kept?.['initial-cluster'] && kept['initial-cluster-state']) {
      cluster = kept['initial-cluster'];
      state = kept['initial-cluster-state'] === 'existing' ? 'existing' : 'new';
    } else if (shared.members) {
      const known = memberNames(comp, shared.members).filter((m) => m.url !== peerURL(host));
      cluster = initialCluster([...known, { name: host.name, url: peerURL(host) }]);
      state = 'existing';
    } else {
      cluster = initialCluster(comp.allHosts.map((x) => ({ name: x.name, url: peerURL(x) })));
      state = 'new';
    }
    return render('etcd.conf.yml.hbs', {
      name: host.name,
      dataDir: DATA_DIR,
      clientURL: clientURL(host),
      peerURL: peerURL(host),
      initialCluster: cluster,
      state,
      // Like initial-cluster, the token only matters before the member has data.
      token: kept?.['initial-cluster-token'] ?? String(host.vars.etcd_cluster_token),
    });
  };
  const probeFile = (content: string) => file(CONFIG, content, { mode: 0o644, notify: ['restart'] });
  const base = probeFile('');
  return {
    ...base,
    title: `etcd config ${CONFIG}`,
    fact: facts({ hasData: dirExists(DATA_DIR + '/member'), config: fileState(CONFIG) }),
    plan: ({ hasData, config }, ctx) => probeFile(wanted(config.content ?? '', hasData)).plan(config, ctx),
  };
}

/** A host joining a running cluster is added as a member before it starts. */
function memberAdded(host: HostSpec, endpoints: string[], lock: Semaphore): Operation<string[]> {
  const url = peerURL(host);
  return {
    title: `etcd member ${host.name} registered in the cluster`,
    read: async () => (await memberList(endpoints)).flatMap((m) => m.peerURLs),
    plan(peerURLs) {
      if (peerURLs.includes(url)) return ok(`${url} is a member`);
      return change(`member ${url} added`, [
        // etcd refuses a member while the cluster is not healthy (e.g. members restarting).
        { kind: 'local', what: `etcd member add ${url}`, run: () => lock.run(() => pollUntil(() => memberAdd(endpoints, url).then(() => true), 30_000, `etcd to accept the member ${url}`, 500).then(() => undefined)) },
      ]);
    },
  };
}

export const etcd: Runbook<Shared> = {
  name: 'etcd',
  summary: 'an N-member etcd cluster on server.etcd: binary under /data/lib/etcd, data under /data/etcd, healthy before going on',
  async prepare(comp) {
    const files = await artifactFiles(comp.inv.artifacts, ['etcd']);
    const endpoints = comp.allHosts.map(clientURL);
    let members: Member[] | null = null;
    try {
      members = await memberList(endpoints);
    } catch {
      members = null;
    }
    return { files, members, addLock: new Semaphore(1) };
  },
  host(h, comp, shared) {
    const bin = binaryOf(comp, shared);
    const files = shared.files.filter((f) => f.version === bin.version);
    const svc = etcdService(bin.remote);
    const isMember = shared.members?.some((m) => m.peerURLs.includes(peerURL(h.host)));
    const endpoints = comp.allHosts.filter((x) => x !== h.host).map(clientURL);
    return {
      operations: [
        directories([DIR, LOG_DIR], { mode: 0o755 }),
        ...files.map((f) => artifact(f.local, f.remote, f.sha256, { mode: 0o755 })),
        ...(shared.members && !isMember ? [memberAdded(h.host, endpoints, shared.addLock)] : []),
        config(h, comp, shared),
        ...service(svc, h, 'restart'),
      ],
      handlers: { restart: owedRestart(svc) },
    };
  },
  // One member at a time, each serving again before the next, the leader last: all at once would
  // take the fleet's state store away for a restart's length. A fresh member owes none.
  rolling: (comp, shared) => ({
    service: () => etcdService(binaryOf(comp, shared).remote),
    leads: (h) => leads(clientURL(h.host)),
    serves: (h) => healthy(clientURL(h.host)).catch(() => false),
    serveTimeoutMs: 90_000,
  }),
  after: (h) => [
    waitFor(`etcd member ${h.host.name} healthy (${clientURL(h.host)}/health)`, () => healthy(clientURL(h.host)), 90_000, `${LOG_DIR}/etcd.log`),
  ],
};
