// What mesos-master and mesos-agent share: where the Mesos binaries come from, the ZooKeeper URL,
// the layout under /data, validation of the mesos_* vars.
//
// Mesos is not packaged in Debian. The binaries come either from an artifact the inventory names
// (artifacts.mesos: pushed to /data/lib/mesos/<version>/bin/) or from a package repository
// (vars.mesos_apt_repository, a `deb ...` line, and optionally mesos_apt_signed_by, the local path
// of the repository's signing key): /etc/apt/sources.list.d/ovl-mesos.list, then the `mesos`
// package (binaries in /usr/sbin). With neither, the host fails before anything is done on it.

import { homedir } from 'node:os';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { artifactFiles, type ArtifactFile } from '../src/artifacts.js';
import type { ComponentRun } from '../src/engine/runbook.js';
import { hostsOf, type HostSpec, type Inventory } from '../src/inventory/types.js';
import { aptPackage } from '../src/ops/command.js';
import { artifact, directory, file, sha256File, template } from '../src/ops/files.js';
import type { Operation } from '../src/ops/types.js';
import { remote } from '../src/paths.js';
import { render } from '../src/templates.js';
import { shq } from '../src/shell.js';
import { MESOS_AGENT_VARS, MESOS_MASTER_VARS } from './settings/mesos.js';
import { readVar } from './settings/vars.js';

const MESOS_VARS = { ...MESOS_MASTER_VARS, ...MESOS_AGENT_VARS };

export const MESOS_DIR = '/data/mesos';
export const MESOS_LOG_DIR = '/data/log/mesos';
export const APT_LIST = '/etc/apt/sources.list.d/ovl-mesos.list';
export const ZK_FILE = '/etc/mesos/zk';
const KEYRING_DIR = '/etc/apt/keyrings';

/** The error of a host that has no source for the Mesos binaries; names the inventory and the fix. */
export function noBinariesMessage(component: string, inv: Inventory): string {
  return (
    `${component} needs the Mesos binaries: name an artifact under artifacts.mesos ` +
    `(e.g. mesos: [ { version: "1.11.0", files: { mesos-master: /path/to/mesos-master, mesos-agent: /path/to/mesos-agent } } ]) ` +
    `or set mesos_apt_repository (e.g. vars: { mesos_apt_repository: "deb http://repos.example/mesos bookworm main", ` +
    `mesos_apt_signed_by: ./mesos-archive-keyring.gpg }) in ${inv.file}; Mesos is not packaged in Debian`
  );
}

// ---------------------------------------------------------------------------------------------
// Vars

/** A var of a Mesos runbook, read through its declared rule (runbooks/settings/mesos.ts). */
export function mesosVar<T extends string | number>(h: HostSpec, inv: Inventory, name: string, dflt?: T): T | undefined {
  return readVar<T>(MESOS_VARS, h, inv, name, dflt);
}

export function portVar(h: HostSpec, inv: Inventory, name: string, dflt: number): number {
  return mesosVar<number>(h, inv, name, dflt)!;
}

/** The hostname a Mesos daemon advertises: mesos_hostname, else the given default. */
export function mesosHostname(h: HostSpec, inv: Inventory, dflt: string): string {
  return mesosVar<string>(h, inv, 'mesos_hostname', dflt)!;
}

// ---------------------------------------------------------------------------------------------
// ZooKeeper and masters

/**
 * zk://h1:2181,h2:2181,h3:2181/mesos: the members of server.zookeeper with their
 * zookeeper_client_port, and mesos_zk_path (default /mesos). With no zookeeper in this
 * inventory, vars.mesos_zk gives the whole URL.
 */
export function zkUrl(h: HostSpec, inv: Inventory, component: string): string {
  const given = mesosVar<string>(h, inv, 'mesos_zk');
  if (given) return given;
  const servers = hostsOf(inv, 'zookeeper');
  if (!servers.length) {
    throw new Error(`${component} needs ZooKeeper: list zookeeper in components (before ${component}) with server.zookeeper, or set mesos_zk: "zk://host:2181,.../mesos" in ${inv.file}`);
  }
  const path = mesosVar<string>(h, inv, 'mesos_zk_path', '/mesos')!;
  return render('mesos-zk.hbs', { servers: servers.map((s) => ({ address: s.address, port: s.vars.zookeeper_client_port })), path }).trim();
}

/** The components this one needs to run after, when the inventory lists them. */
export function checkOrder(inv: Inventory, component: string, before: string[]): void {
  const me = inv.components.indexOf(component);
  for (const b of before) {
    const i = inv.components.indexOf(b);
    if (i > me) throw new Error(`${b} must come before ${component} in \`components\` of ${inv.file}: ${component} needs it running`);
  }
}

// ---------------------------------------------------------------------------------------------
// Binaries

/** The parts of a `deb` line, for templates/mesos-apt.list.hbs. */
export interface AptRepo {
  options: string[];
  uri: string;
  suite: string;
  components: string[];
}

export function parseDebLine(line: string, h: HostSpec, inv: Inventory): AptRepo {
  const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)((?:\s+\S+)*)\s*$/.exec(line);
  const word = /^[A-Za-z0-9._~+\/-]+$/;
  const opt = /^[A-Za-z0-9_-]+=[A-Za-z0-9._,\/:+-]+$/;
  const options = m?.[1]?.trim() ? m[1].trim().split(/\s+/) : [];
  const components = m?.[4]?.trim() ? m[4].trim().split(/\s+/) : [];
  if (!m || !/^(https?|file):\/\/[A-Za-z0-9._~:\/?#@!$&()*+,;=%-]+$/.test(m[2]!) || !word.test(m[3]!) || !components.every((c) => word.test(c)) || !options.every((o) => opt.test(o))) {
    throw new Error(`mesos_apt_repository of host ${h.name} must be one apt line like "deb http://repos.example/mesos bookworm main", got ${JSON.stringify(line)}; fix it in ${inv.file}`);
  }
  return { options, uri: m[2]!, suite: m[3]!, components };
}

export type MesosSource =
  | { kind: 'artifact'; version: string; files: ArtifactFile[]; binDir: string }
  | { kind: 'apt'; repo: AptRepo; key?: { local: string; sha256: string; remote: string } };

export interface MesosShared {
  /** Binaries of the first artifacts.mesos version, or none. */
  files: ArtifactFile[];
  /** sha256 of each local signing key named by mesos_apt_signed_by, by absolute path. */
  keys: Map<string, string>;
}

function localPath(p: string, inv: Inventory): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return isAbsolute(p) ? resolve(p) : resolve(dirname(inv.file), p);
}

/** Component-wide: checksums of the artifact's binaries and of the repository keys. */
export async function prepareMesos(comp: ComponentRun): Promise<MesosShared> {
  const a = comp.inv.artifacts.mesos?.[0];
  const files = a ? (await artifactFiles({ mesos: [a] }, ['mesos'])).filter((f) => f.version === a.version) : [];
  const keys = new Map<string, string>();
  if (!a) {
    for (const h of comp.allHosts) {
      const k = h.vars.mesos_apt_signed_by;
      if (typeof k !== 'string' || !h.vars.mesos_apt_repository) continue;
      const p = localPath(k, comp.inv);
      if (keys.has(p)) continue;
      try {
        keys.set(p, await sha256File(p));
      } catch (e) {
        throw new Error(`mesos_apt_signed_by ${p} cannot be read (${(e as Error).message}); put the repository's signing key there or fix the path in ${comp.inv.file}`);
      }
    }
  }
  return { files, keys };
}

/** Where this host gets Mesos from; throws (the host fails, untouched) when the inventory names no source. */
export function mesosSource(h: HostSpec, inv: Inventory, shared: MesosShared, component: string): MesosSource {
  const a = inv.artifacts.mesos?.[0];
  if (a) return { kind: 'artifact', version: a.version, files: shared.files, binDir: dirname(remote.bin('mesos', a.version, 'x')) };
  const line = h.vars.mesos_apt_repository;
  if (line === undefined || line === null) throw new Error(noBinariesMessage(component, inv));
  if (typeof line !== 'string') throw new Error(`mesos_apt_repository of host ${h.name} must be text like "deb http://repos.example/mesos bookworm main"; fix it in ${inv.file}`);
  const repo = parseDebLine(line, h, inv);
  const k = h.vars.mesos_apt_signed_by;
  if (k === undefined || k === null) return { kind: 'apt', repo };
  if (typeof k !== 'string') throw new Error(`mesos_apt_signed_by of host ${h.name} must be the local path of the repository's key; fix it in ${inv.file}`);
  const local = localPath(k, inv);
  const sha256 = shared.keys.get(local);
  if (!sha256) throw new Error(`mesos_apt_signed_by ${local} was not read; fix the path in ${inv.file}`);
  // apt tells armored keys from binary keyrings by the extension.
  const keyRemote = `${KEYRING_DIR}/ovl-mesos${extname(local) === '.asc' ? '.asc' : '.gpg'}`;
  repo.options = [...repo.options.filter((o) => !o.startsWith('signed-by=')), `signed-by=${keyRemote}`];
  return { kind: 'apt', repo, key: { local, sha256, remote: keyRemote } };
}

/** The operations that put the binaries on the host. */
export function binaryOps(src: MesosSource): Operation[] {
  if (src.kind === 'artifact') return src.files.map((f) => artifact(f.local, f.remote, f.sha256, { mode: 0o755 }));
  return [
    ...(src.key ? [artifact(src.key.local, src.key.remote, src.key.sha256, { mode: 0o644 })] : []),
    template(APT_LIST, 'mesos-apt.list.hbs', src.repo, { mode: 0o644 }),
    aptPackage('mesos'),
  ];
}

/**
 * The first lines of every Mesos daemon's checklist: /data/mesos, its work dir and the log dir,
 * the binaries, and the ZooKeeper URL in /etc/mesos/zk (a change restarts the daemon).
 */
export function daemonGroundwork(workDir: string, src: MesosSource, zk: string, notify: string[]): Operation[] {
  return [
    directory(MESOS_DIR, { mode: 0o755 }),
    directory(workDir, { mode: 0o755 }),
    directory(MESOS_LOG_DIR, { mode: 0o755 }),
    ...binaryOps(src),
    flagFile(ZK_FILE, zk, notify),
  ];
}

/** A binary of the source: from the artifact (first of `names` it has), else the package's /usr/sbin. */
export function mesosBinary(src: MesosSource, names: string[], packaged: string, component: string, inv: Inventory): string {
  if (src.kind === 'apt') return packaged;
  const f = names.map((n) => src.files.find((x) => x.name === n)).find(Boolean);
  if (!f) {
    throw new Error(
      `${component}: the mesos artifact ${src.version} in ${inv.file} has no ${names.map((n) => `\`${n}\``).join(' or ')} file; ` +
        `add it: files: { ${names[0]}: /path/to/${names[0]}, ... }`,
    );
  }
  return f.remote;
}

/** Environment of a daemon from an artifact: libraries pushed with it are found next to it. */
export function mesosEnv(src: MesosSource): Record<string, string> | undefined {
  return src.kind === 'artifact' ? { LD_LIBRARY_PATH: src.binDir } : undefined;
}

/** The glog files a Mesos daemon writes in the log dir, a set per start (<name>.<host>.<user>.log.<level>.<time>.<pid>):
 * the newest 30 are kept however often it restarts. */
export function glogFiles(name: 'mesos-master' | 'mesos-agent'): { pattern: string; keep: number } {
  return { pattern: `${shq(MESOS_LOG_DIR)}/${name}.*.log.*`, keep: 30 };
}

/** A one-line file under /etc/mesos*, from templates/single-line.hbs. */
export function flagFile(path: string, value: string | number, notify: string[]): Operation {
  return { ...file(path, render('single-line.hbs', { value }), { mode: 0o644, notify }), title: `${path} = ${value}` };
}

/** GET a URL from the machine running ovl: status and body (redirects followed). */
export async function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, body: await r.text() };
}
