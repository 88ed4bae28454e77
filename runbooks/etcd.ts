import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { artifactFiles, type ArtifactFile } from '../src/artifacts.js';
import type { ComponentRun, Runbook } from '../src/engine/runbook.js';
import type { HostSpec } from '../src/inventory/types.js';
import { artifact, directories, file, fileState } from '../src/ops/files.js';
import { dirExists, facts, gatherFacts } from '../src/ops/facts.js';
import { restartScript, service, stopScript, unitName } from '../src/ops/service.js';
import { applyNow } from '../src/engine/host.js';
import { owedRestart } from '../src/engine/rolling.js';
import { change, ok, type HostContext, type Operation } from '../src/ops/types.js';
import { pollUntil, tcpOpen, waitFor } from '../src/ops/wait.js';
import { etcdCerts, type EtcdCerts } from '../src/pki/etcd-certs.js';
import { pkiDir, type Issued } from '../src/pki/fleet-pki.js';
import { at, clientURL, etcdTls, peerURL, type EtcdAccess } from '../src/state/etcd.js';
import { healthy, leads, memberAdd, memberList, memberRemove, memberUpdate, serving, type Member } from '../src/state/etcd-http.js';
import { Remote } from '../src/ssh/remote.js';
import { argv } from '../src/shell.js';
import { render } from '../src/templates.js';
import { saveSnapshot } from '../src/etcd/backup.js';
import { ETCD_CONFIG, ETCD_DATA_DIR, ETCD_DIR, ETCD_LOG_DIR, ETCD_TLS, etcdService, utcStamp } from '../src/etcd/layout.js';
import { ensureSecretsKey } from '../src/state/secrets.js';
import { Semaphore } from '../src/util/semaphore.js';
import { ETCD_VARS } from './settings/etcd.js';
import { readVar } from './settings/vars.js';


interface Shared {
  files: ArtifactFile[];
  /** Members of the running cluster, or null when no member answers (a fresh cluster). */
  members: Member[] | null;
  /** Member additions one at a time: etcd refuses one that would risk quorum. */
  addLock: Semaphore;
  /** Every member's client URL, with ovl's client certificate when etcd runs TLS. */
  access: EtcdAccess;
  /** The CA and the certificates (undefined: etcd_tls is false). */
  certs?: EtcdCerts;
  /** A snapshot of the running cluster, taken once, before the run's first change to it. */
  snapshot: () => Promise<void>;
  /** What moving a plain-HTTP etcd to TLS did (or, checking, would do), and whether it changed anything. */
  moved?: { what: string; changed: boolean };
}

/** The etcd binary of the inventory's (first) etcd artifact. */
function binaryOf(comp: ComponentRun, shared: Shared): ArtifactFile {
  const version = comp.inv.artifacts.etcd![0]!.version;
  const bin = shared.files.find((f) => f.version === version && f.name === 'etcd');
  if (!bin) throw new Error(`the etcd artifact ${version} has no file named etcd`);
  return bin;
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

const plainURL = (u: string) => u.replace(/^https:/, 'http:');

/** A member is a host's when it has its name or a peer URL at its address (whatever the scheme). */
const memberOfHost = (m: Member, h: HostSpec) => m.name === h.name || m.peerURLs.some((u) => new URL(u).hostname === h.address);

/** The steps of moving a running plain-HTTP etcd to TLS (moveToTls); 'tls' is the end. */
export type TlsStage = 'clients' | 'peers' | 'tls';

/**
 * etcd.conf.yml. What it says depends on the host (does the member already have data?) and
 * on the cluster (fresh: every inventory member, state new; running: its members, state
 * existing), so it reads both in its probe and then plans like any file.
 */
function etcdConf(host: HostSpec, comp: ComponentRun, shared: Shared, current: string, hasData: boolean, stage: TlsStage = 'tls'): string {
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
  const moving = shared.certs && stage !== 'tls';
  return render('etcd.conf.yml.hbs', {
    name: host.name,
    dataDir: ETCD_DATA_DIR,
    listenClientURLs: moving ? `${plainURL(clientURL(host))},${clientURL(host)}` : clientURL(host),
    clientURL: clientURL(host),
    peerURL: stage === 'clients' ? plainURL(peerURL(host)) : peerURL(host),
    metricsURL: `http://${host.address}:${readVar(ETCD_VARS, host, comp.inv, 'etcd_metrics_port', 2381)}`,
    moving: moving ? (stage === 'clients' ? 'step 1 of 3: clients on TLS, peers still plain' : 'step 2 of 3: peers on TLS') : undefined,
    initialCluster: cluster,
    state,
    // Like initial-cluster, the token only matters before the member has data.
    token: kept?.['initial-cluster-token'] ?? String(host.vars.etcd_cluster_token),
    tls: shared.certs ? { ca: ETCD_TLS.ca, cert: ETCD_TLS.cert, key: ETCD_TLS.key } : undefined,
  });
}

function config(h: HostContext, comp: ComponentRun, shared: Shared): Operation {
  const wanted = (current: string, hasData: boolean) => etcdConf(h.host, comp, shared, current, hasData);
  const probeFile = (content: string) => file(ETCD_CONFIG, content, { mode: 0o644, notify: ['restart'] });
  const base = probeFile('');
  return {
    ...base,
    title: `etcd config ${ETCD_CONFIG}`,
    fact: facts({ hasData: dirExists(ETCD_DATA_DIR + '/member'), config: fileState(ETCD_CONFIG) }),
    plan: ({ hasData, config }, ctx) => probeFile(wanted(config.content ?? '', hasData)).plan(config, ctx),
  };
}

/** The member's certificate, its key (never shown) and the CA it checks clients and peers against. */
function memberCerts(certs: EtcdCerts, cert: Issued): Operation[] {
  const until = cert.notAfter.toISOString().slice(0, 10);
  const restart = { notify: ['restart'] };
  return [
    directories([ETCD_TLS.dir], { mode: 0o700 }),
    // Certificates are public, but their PEM in a diff says nothing a reader can use: not shown.
    file(ETCD_TLS.ca, certs.ca.cert, { mode: 0o644, secret: true, ...restart }),
    { ...file(ETCD_TLS.cert, cert.cert, { mode: 0o644, secret: true, ...restart }), title: `etcd certificate ${ETCD_TLS.cert} (valid until ${until})`, notable: true },
    file(ETCD_TLS.key, cert.key, { mode: 0o600, secret: true, ...restart }),
  ];
}

/** A host joining a running cluster is added as a member before it starts. */
function memberAdded(host: HostSpec, others: EtcdAccess, lock: Semaphore): Operation<string[]> {
  const url = peerURL(host);
  return {
    title: `etcd member ${host.name} registered in the cluster`,
    read: async () => (await memberList(others)).flatMap((m) => m.peerURLs),
    plan(peerURLs) {
      if (peerURLs.includes(url)) return ok(`${url} is a member`);
      return change(`member ${url} added`, [
        // etcd refuses a member while the cluster is not healthy (e.g. members restarting).
        { kind: 'local', what: `etcd member add ${url}`, run: () => lock.run(() => pollUntil(() => memberAdd(others, url).then(() => true), 30_000, `etcd to accept the member ${url}`, 500).then(() => undefined)) },
      ]);
    },
  };
}

/** The members of a running etcd that answers plain HTTP (null: none answers so). */
async function plainMembers(comp: ComponentRun): Promise<Member[] | null> {
  return memberList({ endpoints: comp.allHosts.map((h) => plainURL(clientURL(h))) }, 1000).catch(() => null);
}

const stageOf = (conf: string): TlsStage | 'plain' => {
  const c = (parseYaml(conf) ?? {}) as Record<string, string>;
  const peerTls = String(c['listen-peer-urls'] ?? '').startsWith('https:');
  const plainClients = String(c['listen-client-urls'] ?? '').split(',').some((u) => u.startsWith('http:'));
  const clientTls = String(c['listen-client-urls'] ?? '').includes('https:');
  return peerTls ? (plainClients ? 'peers' : 'tls') : clientTls ? 'clients' : 'plain';
};

/**
 * A running plain-HTTP etcd moved to TLS with its quorum kept throughout: three rounds, each one
 * member at a time (the leader last), each member serving again before the next goes, since a
 * member can serve plain and TLS clients on one port but a peer listener is one or the other:
 * (1) certificates in place, clients served both ways, the peer transport able to dial TLS;
 * (2) the member's peer URL updated to https, then it listens TLS for peers; (3) the plain
 * client listener dropped. A run stopped midway goes on from each member's own config. Returns
 * what it did.
 */
async function moveToTls(comp: ComponentRun, shared: Shared, members: Member[]): Promise<{ what: string; restarts: number }> {
  const svc = etcdService(binaryOf(comp, shared).remote);
  const certs = shared.certs!;
  const both: EtcdAccess = { ...shared.access, endpoints: [...shared.access.endpoints, ...shared.access.endpoints.map(plainURL)] };
  const memberOf = (h: HostSpec) => members.find((m) => memberOfHost(m, h));
  const ctxs = comp.hosts.filter((h) => memberOf(h.host));
  const leading = await Promise.all(ctxs.map((h) => leads(both, plainURL(clientURL(h.host))).catch(() => leads(both, clientURL(h.host))).catch(() => false)));
  const order = ctxs.map((h, i) => ({ h, last: leading[i]! })).sort((a, b) => Number(a.last) - Number(b.last)).map((x) => x.h);
  const rank: Record<TlsStage | 'plain', number> = { plain: 0, clients: 1, peers: 2, tls: 3 };
  const serves = async (h: HostSpec) => (await healthy(both, plainURL(clientURL(h)), 2000).catch(() => false)) || (await healthy(both, clientURL(h), 2000).catch(() => false));
  // A member already moved part-way trusts the CA it got then: another one here (a PKI
  // directory lost and made again) would split the cluster.
  const theirs = await Promise.all(order.map((h) => h.remote.run(`cat ${ETCD_TLS.ca} 2>/dev/null || true`)));
  const foreign = order.filter((_, i) => theirs[i]!.trim() && theirs[i]!.trim() !== certs.ca.cert.trim()).map((h) => h.host.name);
  if (foreign.length) throw new Error(`etcd on ${foreign.join(', ')} was moved part-way to TLS with another CA than ${certs.dir}/ca.crt: nothing was changed; put that PKI directory back (or point pki_dir at it)`);
  let restarts = 0;
  for (const stage of ['clients', 'peers', 'tls'] as const) {
    for (const h of order) {
      const current = await h.remote.run(`cat ${ETCD_CONFIG} 2>/dev/null || true`);
      if (rank[stageOf(current)] >= rank[stage]) continue;
      // One member down at a time, and only while every other one serves: a quorum without it.
      const down = (await Promise.all(order.filter((o) => o !== h).map(async (o) => ((await serves(o.host)) ? '' : o.host.name)))).filter(Boolean);
      if (down.length) throw new Error(`etcd on ${down.join(', ')} does not serve: the move to TLS stops one member at a time and only while every other one serves; bring ${down.length === 1 ? 'it' : 'them'} back and run again (the move goes on where it stopped)`);
      const m = memberOf(h.host)!;
      if (stage === 'peers' && !m.peerURLs.includes(peerURL(h.host))) await memberUpdate(both, m.ID, [peerURL(h.host)]);
      await applyNow(h, [...memberCerts(certs, certs.members.get(h.host.name)!), file(ETCD_CONFIG, etcdConf(h.host, comp, shared, current, true, stage), { mode: 0o644 })]);
      await h.remote.run(restartScript(svc, h.facts.systemd));
      const url = stage === 'tls' ? clientURL(h.host) : plainURL(clientURL(h.host));
      await pollUntil(() => healthy(both, url), 90_000, `etcd on ${h.host.name} to serve again (${stage === 'tls' ? 'TLS only' : `step ${rank[stage]} of 3 of the move to TLS`})`, 500);
      restarts++;
    }
  }
  const kept = order.length >= 3 ? '; a quorum served throughout' : '';
  return { what: `etcd moved from plain HTTP to mutual TLS, one member at a time, the leader last: ${order.map((h) => h.host.name).join(', ')} (${restarts} restarts in 3 rounds: clients, peers, plain listener off)${kept}`, restarts };
}

/**
 * A snapshot of the running cluster (kubespray takes one before it touches a healthy cluster),
 * through the first member this run reaches that serves: on its host and on this machine.
 */
async function snapshotFirst(comp: ComponentRun, access: EtcdAccess, members: Member[], plain = false): Promise<void> {
  const names = new Set(members.map((m) => m.name));
  // A member this run works on first; under --limit, another one of server.etcd.
  const candidates = [...comp.hosts.map((c) => c.host), ...comp.allHosts].filter((h, i, all) => names.has(h.name) && all.indexOf(h) === i);
  // Before a move to TLS: through a member that still serves plain HTTP.
  const asPlain = (x: HostSpec) => ({ ...x, vars: { ...x.vars, etcd_tls: false } });
  const [found] = await serving(plain ? { endpoints: [] } : access, plain ? candidates.map(asPlain) : candidates, 1000);
  const h = found && candidates.find((c) => c.name === found.name);
  if (h) {
    const ctx = comp.hosts.find((c) => c.host === h);
    const remote = ctx?.remote ?? (await Remote.connect(h, { acceptNewHostKeys: false }));
    try {
      await saveSnapshot(comp.inv, plain ? asPlain(h) : h, remote);
    } finally {
      if (!ctx) remote.close();
    }
    return;
  }
  throw new Error(`no member of the running etcd serves (${[...names].join(', ')}): a snapshot is taken before any change, and none could be`);
}

/** The operation, its change preceded by the run's snapshot of the running cluster. */
function afterSnapshot<T>(op: Operation<T>, snapshot: () => Promise<void>): Operation<T> {
  return {
    ...op,
    plan(value, ctx) {
      const p = op.plan(value, ctx);
      if (!p.change) return p;
      return { ...p, steps: [{ kind: 'local', what: 'etcd snapshot before the first change (once per run)', run: () => snapshot() }, ...p.steps] };
    },
  };
}

/** The run's report of the move to TLS, made before the members' own checklists. */
function movedToTls(moved: { what: string; changed: boolean }): Operation {
  return { title: 'etcd over mutual TLS', plan: () => (moved.changed ? change(moved.what, []) : ok(moved.what)) };
}

/** Members of the running cluster that server.etcd no longer lists. */
function strangers(comp: ComponentRun, members: Member[]): Member[] {
  return members.filter((m) => !comp.allHosts.some((h) => m.peerURLs.includes(peerURL(h)) || (!!m.name && m.name === h.name)));
}

const label = (m: Member) => `${m.name || m.ID} (${m.peerURLs.join(', ')})`;

/**
 * The members are those of server.etcd: one that is not is drift, reported (the run fails, exit
 * 2) unless `--prune` asks to remove it; then it is removed while the listed members keep a
 * quorum, and its etcd is stopped with its data moved aside (a later re-add joins afresh).
 */
function membership(comp: ComponentRun, shared: Shared): Operation {
  const extra = shared.members ? strangers(comp, shared.members) : [];
  return {
    title: 'etcd members are those of server.etcd',
    plan() {
      if (!extra.length) return ok(shared.members ? `${shared.members.length} members, as server.etcd lists` : 'no running cluster yet');
      if (!comp.prune) {
        throw new Error(
          `member ${extra.map(label).join(', ')} runs but is not in server.etcd: \`ovl bootstrap --prune\` removes it ` +
            '(only while the listed members keep a quorum), or list its host in server.etcd again',
        );
      }
      return change(
        `removed ${extra.map(label).join(', ')}`,
        extra.map((m) => ({ kind: 'local' as const, what: `etcd member remove ${label(m)}, its etcd stopped`, run: () => removeMember(comp, shared, m) })),
      );
    },
  };
}

async function removeMember(comp: ComponentRun, shared: Shared, m: Member): Promise<void> {
  const listed = comp.allHosts.filter((h) => shared.members!.some((x) => x.peerURLs.includes(peerURL(h))));
  const up = await serving(shared.access, listed);
  const quorum = Math.floor(listed.length / 2) + 1;
  if (up.length < quorum) {
    throw new Error(`removing ${label(m)} would leave ${listed.length} members of which ${up.length} serve (${up.map((h) => h.name).join(', ') || 'none'}): a quorum needs ${quorum}; bring the others back first`);
  }
  await memberRemove(at(shared.access, up.map(clientURL)), m.ID);
  // By name, else by address among the hosts not in server.etcd: never a listed member's host.
  const host =
    comp.inv.hosts.find((h) => !!m.name && h.name === m.name) ??
    comp.inv.hosts.find((h) => !comp.allHosts.includes(h) && m.peerURLs.some((u) => new URL(u).hostname === h.address));
  if (!host || comp.allHosts.includes(host)) throw new Error(`member ${label(m)} was removed, but its host is not one of ${comp.inv.file} outside server.etcd: stop etcd there yourself`);
  const remote = await Remote.connect(host, { acceptNewHostKeys: false });
  try {
    const { systemd } = await gatherFacts(remote);
    const svc = etcdService();
    const stamp = utcStamp();
    await remote.run([
      // Not started again at boot either.
      systemd ? argv('systemctl', 'disable', '--now', unitName(svc)) : stopScript(svc, false),
      `if [ -e ${ETCD_DATA_DIR} ]; then ${argv('mv', ETCD_DATA_DIR, `${ETCD_DATA_DIR}.removed-${stamp}`)}; fi`,
    ].join('\n'));
  } finally {
    remote.close();
  }
}

/** A CA would be made while etcd already runs: the PKI directory that bootstrapped it is elsewhere. */
async function refuseWithoutCA(comp: ComponentRun): Promise<void> {
  // A plain-HTTP etcd has no CA yet: it gets one, and moves to TLS.
  if (await plainMembers(comp)) return;
  const open = await Promise.all(comp.allHosts.map((h) => tcpOpen(h.address, h.vars.etcd_client_port)));
  const running = comp.allHosts.filter((_, i) => open[i]);
  if (!running.length) return;
  const dir = pkiDir(comp.inv);
  throw new Error(
    `etcd runs on ${running.map((h) => h.name).join(', ')} but ${dir} has no CA (ca.crt): it was bootstrapped with a PKI directory ` +
      `that is not here. Nothing was changed: copy that directory to ${dir} (or point pki_dir at it)`,
  );
}

/**
 * A running etcd that refuses the TLS handshake was set up with another CA (a PKI directory lost,
 * or replaced): new certificates would restart each member into a cluster its peers reject.
 */
function refuseForeignCA(comp: ComponentRun, certs: EtcdCerts, e: Error): void {
  if (!/certificate|SSL|TLS|handshake|alert/i.test(e.message)) return;
  throw new Error(
    `etcd on ${comp.allHosts.map((h) => h.name).join(', ')} answers over TLS but not to the certificates in ${certs.dir} (${e.message.replace(/^.*?: (?=[^:]*$)/, '')}): ` +
      `it was bootstrapped with another CA. Nothing was changed: put that PKI directory back at ${certs.dir} (or point pki_dir at it)`,
  );
}

export const etcd: Runbook<Shared> = {
  name: 'etcd',
  summary: 'an N-member etcd cluster on server.etcd: binary under /data/lib/etcd, data under /data/etcd, healthy before going on',
  async prepare(comp) {
    const files = await artifactFiles(comp.inv.artifacts, ['etcd']);
    if (etcdTls(comp.inv.vars) && !existsSync(join(pkiDir(comp.inv), 'ca.crt'))) await refuseWithoutCA(comp);
    const certs = etcdTls(comp.inv.vars) ? await etcdCerts(comp.inv, comp.allHosts, { dryRun: comp.check }) : undefined;
    // The key cluster passwords are sealed with in etcd lives beside the CA, never in etcd.
    if (!comp.check) ensureSecretsKey(pkiDir(comp.inv));
    const access: EtcdAccess = { endpoints: comp.allHosts.map(clientURL), tls: certs && { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key } };
    let taken: Promise<void> | undefined;
    const shared: Shared = { files, members: null, addLock: new Semaphore(1), access, certs, snapshot: () => (taken ??= shared.members ? snapshotFirst(comp, access, shared.members) : Promise.resolve()) };
    let moving: Member[] | null = null;
    try {
      shared.members = await memberList(access);
      // A move to TLS stopped midway: members serve TLS clients, some listed peers are still plain.
      const listed = (m: Member) => comp.allHosts.some((h) => memberOfHost(m, h));
      if (certs && shared.members.some((m) => listed(m) && m.peerURLs.some((u) => u.startsWith('http:')))) moving = shared.members;
    } catch (e) {
      if (certs) {
        moving = await plainMembers(comp);
        if (!moving) refuseForeignCA(comp, certs, e as Error);
      }
    }
    if (moving) {
      // Restarts belong at the component's turn, after the components before it, not ahead of it.
      if (comp.early && !comp.check) throw new Error('etcd moves to TLS: prepared at its turn');
      const missing = comp.allHosts.filter((h) => !comp.hosts.some((c) => c.host === h)).map((h) => h.name);
      if (missing.length) {
        throw new Error(`etcd runs plain HTTP and moves to TLS, which restarts every member one at a time; ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not part of this run (unreachable, or left out by --limit). Nothing was changed`);
      }
      shared.members = moving;
      if (comp.check) shared.moved = { what: 'from plain HTTP to mutual TLS, one member at a time in 3 rounds (clients, peers, plain listener off), after a snapshot', changed: true };
      else {
        taken = snapshotFirst(comp, access, moving, true);
        await taken;
        const { what, restarts } = await moveToTls(comp, shared, moving);
        shared.moved = { what, changed: restarts > 0 };
        shared.members = await memberList(access);
      }
    }
    return shared;
  },
  host(h, comp, shared) {
    const bin = binaryOf(comp, shared);
    const files = shared.files.filter((f) => f.version === bin.version);
    const svc = etcdService(bin.remote);
    // By address and port: a member of a plain cluster moving to TLS is one too.
    const isMember = shared.members?.some((m) => m.peerURLs.some((u) => plainURL(u) === plainURL(peerURL(h.host))));
    const others = at(shared.access, comp.allHosts.filter((x) => x !== h.host).map(clientURL));
    const cert = shared.certs?.members.get(h.host.name);
    const first = comp.hosts[0] === h;
    return {
      operations: [
        ...(first ? [membership(comp, shared)] : []),
        ...(first && shared.moved ? [movedToTls(shared.moved)] : []),
        directories([ETCD_DIR, ETCD_LOG_DIR], { mode: 0o755 }),
        ...files.map((f) => artifact(f.local, f.remote, f.sha256, { mode: 0o755 })),
        ...(shared.certs && cert ? memberCerts(shared.certs, cert) : []),
        ...(shared.members && !isMember ? [memberAdded(h.host, others, shared.addLock)] : []),
        config(h, comp, shared),
        ...service(svc, h, 'restart'),
      ].map((op) => afterSnapshot(op, shared.snapshot)),
      handlers: { restart: owedRestart(svc) },
    };
  },
  // One member at a time, each serving again before the next, the leader last: all at once would
  // take the fleet's state store away for a restart's length. A fresh member owes none.
  rolling: (comp, shared) => ({
    service: () => etcdService(binaryOf(comp, shared).remote),
    leads: (h) => leads(shared.access, clientURL(h.host)),
    serves: (h) => healthy(shared.access, clientURL(h.host)).catch(() => false),
    serveTimeoutMs: 90_000,
  }),
  after: (h, _comp, shared) => [
    waitFor(`etcd member ${h.host.name} healthy (${clientURL(h.host)}/health)`, () => healthy(shared.access, clientURL(h.host)), 90_000, `${ETCD_LOG_DIR}/etcd.log`),
  ],
};
