// ZooKeeper: an ensemble of 1, 3 or 5 members on server.zookeeper (an even count is refused by
// the inventory loader). Everything lives under /data and listens on the member's own address.
//
// Membership is static (zoo.cfg lists every member; no dynamic reconfiguration). Adding members
// is done the way the ZooKeeper admin guide describes for static configs: every member gets the
// new zoo.cfg, then the members that already run are restarted ONE AT A TIME, the leader last,
// and only then are the new members started. New members never start first: two fresh members
// of a new 3-member ensemble are a quorum on their own, would elect a leader with an empty tree
// and make the old member drop its data when it joins them. The restarts are not done by the
// handler at the end of each host's checklist (hosts run in parallel, and --forks may serialize
// them in any order) but by the engine's rolling restart once every host of the component is done.

import { basename } from 'node:path';
import { connect } from 'node:net';
import type { ComponentRun, Runbook } from '../src/engine/runbook.js';
import { owedRestart, type RollingSpec } from '../src/engine/rolling.js';
import { hostsOf, type HostSpec, type Inventory } from '../src/inventory/types.js';
import { command, aptPackage } from '../src/ops/command.js';
import { artifact, directory, file, fileState, sha256File, template } from '../src/ops/files.js';
import { dirExists, facts } from '../src/ops/facts.js';
import { service, type ServiceSpec } from '../src/ops/service.js';
import type { Operation } from '../src/ops/types.js';
import { waitFor } from '../src/ops/wait.js';
import { remote } from '../src/paths.js';
import { render } from '../src/templates.js';
import { argv, shq } from '../src/shell.js';
import { ZOOKEEPER_VARS } from './settings/zookeeper.js';
import { readVar } from './settings/vars.js';

export const ZK_DIR = '/data/zookeeper';
export const ZK_DATA_DIR = `${ZK_DIR}/data`;
/** Transaction logs (dataLogDir), apart from the snapshots. */
export const ZK_TXLOG_DIR = `${ZK_DIR}/log`;
export const ZK_CONFIG = `${ZK_DIR}/zoo.cfg`;
export const ZK_MYID = `${ZK_DATA_DIR}/myid`;
/** The server's own log (stdout/stderr of the JVM). */
export const ZK_LOG_DIR = '/data/log/zookeeper';
/** Quorum and leader-election ports, on each member's own address. */
export const ZK_PEER_PORT = 2888;
export const ZK_ELECTION_PORT = 3888;
const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
/** Debian's zookeeper package: the server jar (its manifest lists its dependencies) and a logger. */
const DEBIAN_CLASSPATH = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-simple.jar'];
/** How long a member may take to serve after a (re)start: a JVM on a loaded machine is slow. */
const SERVE_TIMEOUT_MS = 240_000;

// ---------------------------------------------------------------------------------------------
// Settings (vars)

export interface ZkSettings {
  clientPort: number;
  tickTime: number;
  initLimit: number;
  syncLimit: number;
  maxClientCnxns: number;
  /** -Xmx of the JVM, e.g. 256m. */
  heap: string;
  java: string;
}

const zkVar = <T extends string | number>(h: HostSpec, inv: Inventory, name: string, dflt: T): T => readVar<T>(ZOOKEEPER_VARS, h, inv, name, dflt)!;

export function zkSettings(h: HostSpec, inv: Inventory): ZkSettings {
  return {
    clientPort: h.vars.zookeeper_client_port,
    tickTime: zkVar(h, inv, 'zookeeper_tick_time', 2000),
    initLimit: zkVar(h, inv, 'zookeeper_init_limit', 10),
    syncLimit: zkVar(h, inv, 'zookeeper_sync_limit', 5),
    maxClientCnxns: zkVar(h, inv, 'zookeeper_max_client_cnxns', 60),
    heap: zkVar(h, inv, 'zookeeper_heap', '256m'),
    java: zkVar(h, inv, 'zookeeper_java', '/usr/bin/java'),
  };
}

// ---------------------------------------------------------------------------------------------
// Members, config, binary

export interface ZkMember {
  /** myid and the N of server.N: 1-based position in server.zookeeper (inventory order). */
  id: number;
  host: HostSpec;
}

export function zkMembers(inv: Inventory): ZkMember[] {
  return hostsOf(inv, 'zookeeper').map((host, i) => ({ id: i + 1, host }));
}

/** What templates/zoo.cfg.hbs is rendered with for a member: a pure function of the inventory. */
function zooCfgContext(h: HostSpec, inv: Inventory): object {
  const members = zkMembers(inv);
  const me = members.find((m) => m.host.name === h.name);
  if (!me) throw new Error(`host ${h.name} is not in server.zookeeper of ${inv.file}`);
  const s = zkSettings(h, inv);
  return {
    name: h.name,
    myid: me.id,
    tickTime: s.tickTime,
    initLimit: s.initLimit,
    syncLimit: s.syncLimit,
    dataDir: ZK_DATA_DIR,
    dataLogDir: ZK_TXLOG_DIR,
    clientPort: s.clientPort,
    clientPortAddress: h.address,
    maxClientCnxns: s.maxClientCnxns,
    servers: members.map((m) => ({ id: m.id, address: m.host.address, peerPort: ZK_PEER_PORT, electionPort: ZK_ELECTION_PORT })),
  };
}

/** The zoo.cfg a member must have. */
export function zooCfg(h: HostSpec, inv: Inventory): string {
  return render('zoo.cfg.hbs', zooCfgContext(h, inv));
}

/** Where the server comes from: Debian's package, or the release tarball of artifacts.zookeeper. */
type ZkSource =
  | { kind: 'package' }
  | { kind: 'tarball'; version: string; local: string; sha256: string; home: string; remoteTarball: string; members: string[] };

function classpath(src: ZkSource): string {
  return src.kind === 'package' ? DEBIAN_CLASSPATH.join(':') : `${src.home}/conf:${src.home}/lib/*`;
}

export function zkService(h: HostSpec, inv: Inventory, src: ZkSource = { kind: 'package' }): ServiceSpec {
  const s = zkSettings(h, inv);
  return {
    name: 'zookeeper',
    command: [
      s.java,
      `-Xmx${s.heap}`,
      `-Dzookeeper.log.dir=${ZK_LOG_DIR}`,
      '-Dzookeeper.root.logger=INFO,CONSOLE',
      '-Dorg.slf4j.simpleLogger.showDateTime=true',
      '-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss,SSS',
      '-cp',
      classpath(src),
      MAIN_CLASS,
      ZK_CONFIG,
    ],
    dir: ZK_DIR,
    log: `${ZK_LOG_DIR}/zookeeper.log`,
  };
}

/** The server itself: Debian's package (default), or the tarball unpacked in /data/lib/zookeeper/<version>. */
function binaryOps(src: ZkSource): Operation[] {
  if (src.kind === 'package') return [aptPackage('zookeeper')];
  const marker = `${src.home}/.ovl-unpacked`;
  const checks = src.members.map((m) => `[ -e ${shq(`${src.home}/${m}`)} ] || { echo ${shq(`${m} is not in the tarball ${basename(src.local)}`)} >&2; exit 1; }`);
  return [
    aptPackage('default-jre-headless'),
    directory(src.home, { mode: 0o755 }),
    artifact(src.local, src.remoteTarball, src.sha256, { mode: 0o644 }),
    command(
      `zookeeper ${src.version} unpacked in ${src.home}`,
      [
        'set -e',
        argv('tar', '-xzf', src.remoteTarball, '-C', src.home, '--strip-components=1', '--no-same-owner'),
        ...checks,
        `echo ${shq(src.sha256)} > ${shq(marker)}`,
      ].join('\n'),
      { unless: `[ "$(cat ${shq(marker)} 2>/dev/null)" = ${shq(src.sha256)} ]` },
    ),
  ];
}

/**
 * myid. It must never change under a member that has data: that member would come back as
 * another server with the old one's transactions. A renumbering (hosts re-ordered or inserted
 * before existing members) is refused here, before zoo.cfg is touched.
 */
function myidOp(id: number, inv: Inventory): Operation {
  const want = render('single-line.hbs', { value: id });
  const base = file(ZK_MYID, want, { mode: 0o644 });
  return {
    ...base,
    title: `zookeeper myid ${id} (${ZK_MYID})`,
    fact: facts({ hasData: dirExists(`${ZK_DATA_DIR}/version-2`), myid: fileState(ZK_MYID) }),
    plan({ hasData, myid }, ctx) {
      const current = myid.content?.trim();
      if (hasData && current !== undefined && current !== String(id)) {
        throw new Error(
          `this member has data as server ${current}, but its position in server.zookeeper of ${inv.file} now makes it server ${id}: ` +
            'a member must keep its number. Restore the order of `hosts:` (add new members at the end), or remove the member ' +
            `(stop it, delete ${ZK_DIR}) before re-adding it under its new number`,
        );
      }
      return base.plan(myid, ctx);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Four-letter words

/** Send a four-letter word (srvr, ruok, stat, mntr) to a member's client port; its answer. */
export function fourLetter(address: string, port: number, word: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: address, port, timeout: timeoutMs });
    s.once('connect', () => s.end(word));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.once('end', () => {
      s.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    s.once('timeout', () => {
      s.destroy();
      reject(new Error(`${word} to ${address}:${port}: no answer in ${timeoutMs} ms`));
    });
    s.once('error', (e) => reject(new Error(`${word} to ${address}:${port}: ${e.message}`)));
  });
}

export type ZkMode = 'leader' | 'follower' | 'standalone' | 'observer';

/** The member's Mode from `srvr`, or null when it does not answer or does not serve yet. */
export async function zkMode(address: string, port: number): Promise<ZkMode | null> {
  try {
    const m = /^Mode: (\w+)/m.exec(await fourLetter(address, port, 'srvr'));
    return (m?.[1] as ZkMode | undefined) ?? null;
  } catch {
    return null;
  }
}

const serving = (m: ZkMode | null) => m === 'leader' || m === 'follower' || m === 'standalone';

/** The members restart in turn (engine/rolling.ts); a restarted member can serve again only if
 * enough members run to form a quorum of the new configuration (growing 1 -> 3, the old member
 * waits for the new ones, which start after it). */
function rolling(comp: ComponentRun, src: ZkSource): RollingSpec {
  const port = (h: HostSpec) => zkSettings(h, comp.inv).clientPort;
  return {
    service: (h) => zkService(h.host, comp.inv, src),
    leads: async (h) => (await zkMode(h.host.address, port(h.host))) === 'leader',
    serves: async (h) => serving(await zkMode(h.host.address, port(h.host))),
    serveTimeoutMs: SERVE_TIMEOUT_MS,
    async canServe() {
      const members = zkMembers(comp.inv);
      const up = (await Promise.all(members.map((m) => tcpAnswers(m.host.address, port(m.host))))).filter(Boolean).length;
      return up >= Math.floor(members.length / 2) + 1;
    },
    startStopped: true,
  };
}

function tcpAnswers(address: string, port: number): Promise<boolean> {
  return fourLetter(address, port, 'ruok', 2000).then(
    (a) => a.length > 0,
    () => false,
  );
}

// ---------------------------------------------------------------------------------------------
// The runbook

interface Shared {
  src: ZkSource;
  /** Hosts with data that already run with another member list: the ensemble is changing size. */
  growing: boolean;
  /** Hosts that have a data directory (members that ran before). */
  withData: Set<string>;
}

async function sourceOf(inv: Inventory): Promise<ZkSource> {
  const a = inv.artifacts.zookeeper?.[0];
  if (!a) return { kind: 'package' };
  if (!a.tarball) {
    throw new Error(
      `artifacts.zookeeper ${a.version} in ${inv.file} must be a release tarball: add tarball: ./apache-zookeeper-${a.version}-bin.tar.gz ` +
        `and files: { zkserver: apache-zookeeper-${a.version}-bin/bin/zkServer.sh } (the files are checked to be in it); ` +
        'or remove artifacts.zookeeper to use the Debian package zookeeper',
    );
  }
  const home = remote.lib('zookeeper', a.version);
  // files name paths inside the tarball; after unpacking (top directory stripped) they must exist.
  const members = Object.values(a.files).map((p) => p.split('/').slice(1).join('/')).filter(Boolean);
  return { kind: 'tarball', version: a.version, local: a.tarball, sha256: await sha256File(a.tarball), home, remoteTarball: `${home}/${basename(a.tarball)}`, members };
}

const serverLines = (cfg: string) =>
  cfg
    .split('\n')
    .filter((l) => /^server\.\d+=/.test(l))
    .sort()
    .join('\n');

export const zookeeper: Runbook<Shared> = {
  name: 'zookeeper',
  summary: 'a 1/3/5-member ZooKeeper ensemble on server.zookeeper: config and data under /data/zookeeper, each member on its own address, one leader',
  async prepare(comp) {
    const src = await sourceOf(comp.inv);
    const withData = new Set<string>();
    const renumbered: string[] = [];
    const ids = new Map(zkMembers(comp.inv).map((m) => [m.host.name, m.id]));
    let growing = false;
    await Promise.all(
      comp.hosts.map(async (h) => {
        const member = facts({ hasData: dirExists(`${ZK_DATA_DIR}/version-2`), cfg: fileState(ZK_CONFIG), myid: fileState(ZK_MYID) });
        const { hasData, cfg, myid } = member.parse(await h.remote.run(member.probe));
        if (!hasData) return;
        withData.add(h.host.name);
        const number = myid.content?.trim();
        if (number && number !== String(ids.get(h.host.name))) renumbered.push(`${h.host.name} (server ${number}, would become ${ids.get(h.host.name)})`);
        const current = serverLines(cfg.content ?? '');
        if (current && current !== serverLines(zooCfg(h.host, comp.inv))) growing = true;
      }),
    );
    // Checked for the whole ensemble before any host is touched (myidOp checks each host again).
    if (renumbered.length) {
      throw new Error(
        `ZooKeeper members would be renumbered: ${renumbered.sort().join(', ')}. A member's number is its position in server.zookeeper ` +
          `in the order of \`hosts:\` in ${comp.inv.file}; restore that order (add new hosts at the end), or remove a member ` +
          `(stop it, delete ${ZK_DIR}) before re-adding it under a new number`,
      );
    }
    return { src, growing, withData };
  },
  host(h, comp, shared) {
    const inv = comp.inv;
    const me = zkMembers(inv).find((m) => m.host.name === h.host.name)!;
    const spec = zkService(h.host, inv, shared.src);
    const [definition, running] = service(spec, h, 'restart');
    // A new member of an ensemble that changes size starts only after the old members run the
    // new configuration (see the top of this file): the roll in `after` starts it.
    const deferStart = shared.growing && !shared.withData.has(h.host.name);
    return {
      operations: [
        directory(ZK_DIR, { mode: 0o755 }),
        directory(ZK_DATA_DIR, { mode: 0o755 }),
        directory(ZK_TXLOG_DIR, { mode: 0o755 }),
        directory(ZK_LOG_DIR, { mode: 0o755 }),
        ...binaryOps(shared.src),
        myidOp(me.id, inv),
        template(ZK_CONFIG, 'zoo.cfg.hbs', zooCfgContext(h.host, inv), { mode: 0o644, notify: ['restart'] }),
        definition!,
        ...(deferStart ? [] : [running!]),
      ],
      handlers: { restart: owedRestart(spec) },
    };
  },
  rolling: (comp, shared) => rolling(comp, shared.src),
  after: (h, comp) => {
    const port = zkSettings(h.host, comp.inv).clientPort;
    const members = zkMembers(comp.inv);
    return [
      waitFor(`zookeeper ${h.host.name} serving (srvr at ${h.host.address}:${port})`, async () => serving(await zkMode(h.host.address, port)), SERVE_TIMEOUT_MS, `${ZK_LOG_DIR}/zookeeper.log`),
      waitFor(
        members.length === 1 ? 'zookeeper runs standalone' : `zookeeper ensemble of ${members.length} has exactly one leader, the others follow`,
        async () => {
          const modes = await Promise.all(members.map((m) => zkMode(m.host.address, zkSettings(m.host, comp.inv).clientPort)));
          if (members.length === 1) return modes[0] === 'standalone';
          const worked = new Set(comp.hosts.map((c) => c.host.name));
          if (members.some((m, i) => worked.has(m.host.name) && modes[i] === null)) return false;
          return modes.filter((m) => m === 'leader').length === 1 && modes.every((m) => m === null || m === 'leader' || m === 'follower');
        },
        SERVE_TIMEOUT_MS,
      ),
    ];
  },
};
