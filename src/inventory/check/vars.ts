// vars (global at `vars`, per host at `hosts[i].vars`) and ssh settings: checked wherever they are
// set, then resolved per host (host over global over defaults).
import { dirname, join } from 'node:path';
import { DECLARED_VARS } from '../../../runbooks/settings/index.js';
import { varProblem } from '../../../runbooks/settings/vars.js';
import { DEFAULTS, FLEET_VARS, PORT_VARS } from '../defaults.js';
import type { SshSettings, Vars } from '../types.js';
import { closest, describe, expandPath, getIn, isDict, lineBreakOrNul, parsePortRange, q, validPort, type Dict, type Path } from '../values.js';
import type { Checker, Origin } from './context.js';

/** Login names. */
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** Environment variable names. */
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** etcd --initial-cluster-token values. */
const TOKEN_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const KNOWN_VARS = [...FLEET_VARS, ...Object.keys(DECLARED_VARS)];
/** Other vars are allowed (runbooks read what they know), but one within a typo of these long
 *  names is refused: a misspelt `cache_prots` would otherwise be silently ignored. */
const TYPO_CHECKED_VARS = KNOWN_VARS.filter((k) => k.length >= 6);

interface RawSsh {
  user?: string;
  port?: number;
  key?: string;
  passphrase_env?: string;
  known_hosts?: string;
}

export function checkSsh(c: Checker, p: Path): void {
  if (!isDict(getIn(c.data, p))) return;
  const user = c.clean([...p, 'user'], 'the ssh user');
  if (user !== undefined && !USER_RE.test(user)) {
    c.add([...p, 'user'], `ssh user ${q(user)} is not a valid login name`, 'use a login name like root or deploy');
  }
  c.checkPort([...p, 'port']);
  c.clean([...p, 'key'], 'the ssh key path');
  c.clean([...p, 'known_hosts'], 'the known_hosts path');
  const env = c.str([...p, 'passphrase_env']);
  if (env !== undefined && !ENV_RE.test(env)) {
    // Never echo it: a wrong value here is most likely the passphrase itself.
    c.add(
      [...p, 'passphrase_env'],
      `${c.label([...p, 'passphrase_env'])} must be the NAME of an environment variable (value not shown)`,
      'write the variable name, e.g. passphrase_env: OVL_SSH_PASSPHRASE, and export OVL_SSH_PASSPHRASE=... in the shell that runs ovl; never put the passphrase in the inventory',
    );
  }
}

/** A vars mapping: the fleet-wide vars, every var a runbook declares, and typos of known names. */
export function checkVars(c: Checker, p: Path): void {
  const v = getIn(c.data, p);
  if (!isDict(v)) return;
  checkSsh(c, [...p, 'ssh']);
  for (const k of PORT_VARS) c.checkPort([...p, k]);
  if ('cache_ports' in v && v.cache_ports !== null) {
    const cp = [...p, 'cache_ports'];
    const r = parsePortRange(v.cache_ports);
    if (!r) {
      c.add(cp, `${c.label(cp)} must be a range like { from: 7000, to: 7999 } or "7000-7999", got ${describe(v.cache_ports, cp)}`, 'write cache_ports: { from: 7000, to: 7999 }');
    } else if (!validPort(r.from) || !validPort(r.to)) {
      c.add(cp, `${c.label(cp)} ${r.from}-${r.to} is outside the port numbers 1..65535`, 'use ports from 1 to 65535, e.g. cache_ports: { from: 7000, to: 7999 }');
    } else if (r.from > r.to) {
      c.add(cp, `${c.label(cp)} is reversed: from ${r.from} is greater than to ${r.to}`, `swap them: cache_ports: { from: ${r.to}, to: ${r.from} }`);
    }
  }
  const token = c.clean([...p, 'etcd_cluster_token'], 'the etcd cluster token');
  if (token !== undefined && !TOKEN_RE.test(token)) {
    c.add([...p, 'etcd_cluster_token'], `etcd_cluster_token ${q(token)} is not valid`, "use letters, digits, '.', '_' and '-', e.g. etcd_cluster_token: ovl-prod");
  }
  const forks = c.num([...p, 'forks']);
  if (forks !== undefined && (forks < 1 || forks > 1000)) {
    c.add([...p, 'forks'], `${c.label([...p, 'forks'])} is ${forks}; it must be from 1 to 1000`, 'give how many hosts to work on at once, e.g. forks: 20');
  }
  // The vars runbooks declare (runbooks/settings/), wherever they are set.
  for (const [k, value] of Object.entries(v)) {
    const spec = DECLARED_VARS[k];
    const problem = spec && value !== null ? varProblem(spec, value) : undefined;
    if (problem) c.add([...p, k], `${c.label([...p, k])} ${problem}, got ${describe(value, [...p, k])}`, `write it like ${k}: ${spec!.example}`);
  }
  for (const k of Object.keys(v)) {
    if (KNOWN_VARS.includes(k)) continue;
    const near = closest(k, TYPO_CHECKED_VARS, false);
    if (near) c.add([...p, k], `unknown var \`${k}\` in ${c.label(p)}`, `did you mean \`${near}\`? (rename it; a misspelt var would be silently ignored)`, true);
  }
}

/** The effective value of an ssh setting for host i, and where it comes from. */
function sshOf(c: Checker, i: number, k: keyof RawSsh): [unknown, Origin] {
  for (const p of [['hosts', i, 'ssh', k], ['hosts', i, 'vars', 'ssh', k], ['vars', 'ssh', k]] as Path[]) {
    const v = getIn(c.data, p);
    if (v !== undefined && v !== null) return [v, p];
  }
  return [undefined, null];
}

/** Every host needs a key; keys and the directories of known_hosts files must exist. */
export function checkSshFiles(c: Checker, hostsRaw: unknown[] | undefined): void {
  const keyless: number[] = [];
  hostsRaw?.forEach((h, i) => {
    if (!isDict(h)) return;
    const [kh, khOrigin] = sshOf(c, i, 'known_hosts');
    if (khOrigin && typeof kh === 'string' && !lineBreakOrNul(kh)) {
      const khDir = dirname(expandPath(kh, c.ctx.dir));
      c.checkLocal(khOrigin, 'directory of the known_hosts file', khDir, `create ${khDir} or correct \`known_hosts:\`; a relative path is relative to the inventory's directory ${c.ctx.dir}`, true);
    }
    const [key, origin] = sshOf(c, i, 'key');
    if (origin === null) {
      keyless.push(i);
      return;
    }
    if (typeof key !== 'string' || lineBreakOrNul(key)) return;
    const file = expandPath(key, c.ctx.dir);
    const raw = key === file ? '' : ` (written ${q(key)})`;
    c.checkLocal(
      origin,
      `ssh key${raw}`,
      file,
      `create it (ssh-keygen -t ed25519 -f ${file}) or correct \`key:\`; a relative path is relative to the inventory's directory ${c.ctx.dir}`,
    );
  });
  if (keyless.length) {
    const names = keyless.map((i) => c.label(['hosts', i]));
    c.add(
      isDict(c.data.vars) ? ['vars'] : [],
      `no ssh key for ${names.length === hostsRaw?.length ? 'any host' : names.join(', ')}: \`vars.ssh.key\` is not set`,
      'set the private key for all hosts: vars: { ssh: { key: ~/.ssh/ovl_fleet } } (or per host under hosts[].ssh.key)',
    );
  }
}

/** Vars merged over the defaults, layer by layer, with where each came from. */
export function resolveVars(c: Checker, layers: Path[]): [Vars, Map<string, Origin>] {
  const origins = new Map<string, Origin>();
  const token = `ovl-${c.ctx.base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '')}`;
  const out: Dict = {
    cache_ports: { ...DEFAULTS.cache_ports },
    etcd_client_port: DEFAULTS.etcd_client_port,
    etcd_peer_port: DEFAULTS.etcd_peer_port,
    etcd_cluster_token: token,
    zookeeper_client_port: DEFAULTS.zookeeper_client_port,
  };
  for (const layer of layers) {
    const v = getIn(c.data, layer);
    if (!isDict(v)) continue;
    for (const [k, val] of Object.entries(v)) {
      if (k === 'ssh' || val === null || val === undefined) continue;
      out[k] = k === 'cache_ports' ? (parsePortRange(val) ?? out[k]) : structuredClone(val);
      origins.set(k, [...layer, k]);
    }
  }
  return [out as Vars, origins];
}

/** The ssh settings of host i: its own, its vars', the global ones, the defaults. */
export function sshSettings(c: Checker, i: number): SshSettings {
  const sv = (k: keyof RawSsh): unknown => sshOf(c, i, k)[0];
  const key = sv('key');
  const kh = sv('known_hosts');
  const pe = sv('passphrase_env');
  const ssh: SshSettings = {
    user: String(sv('user') ?? DEFAULTS.user),
    port: Number(sv('port') ?? DEFAULTS.port),
    key: typeof key === 'string' ? expandPath(key, c.ctx.dir) : '',
    knownHosts: typeof kh === 'string' ? expandPath(kh, c.ctx.dir) : join(c.ctx.dir, `${c.ctx.base}.known_hosts`),
  };
  if (typeof pe === 'string') ssh.passphraseEnv = pe;
  return ssh;
}
