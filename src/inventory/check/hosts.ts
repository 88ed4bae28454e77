// hosts: unique valid names and addresses; each host's ssh and vars; then each resolved into a
// HostSpec.
import { HOSTNAME_RE, IPV4_RE, NAME_RE } from '../../shell.js';
import type { HostSpec } from '../types.js';
import { isDict, lineBreakOrNul, q, type Path } from '../values.js';
import type { Checker, Origin } from './context.js';
import { checkSsh, checkVars, resolveVars, sshSettings } from './vars.js';

export interface HostNames {
  raw: unknown[] | undefined;
  /** Valid names, inventory order. */
  names: string[];
  /** Name -> index in `hosts`. */
  index: Map<string, number>;
}

export function checkHosts(c: Checker): HostNames {
  const raw = Array.isArray(c.data.hosts) ? c.data.hosts : undefined;
  const names: string[] = [];
  const index = new Map<string, number>();
  if (raw && raw.length === 0) c.add(['hosts'], '`hosts` is empty', 'add at least one host: - { name: cache-01, address: 10.20.0.11 }');
  const addrSeen = new Map<string, number>();
  raw?.forEach((h, i) => {
    if (!isDict(h)) return;
    const np: Path = ['hosts', i, 'name'];
    const name = c.str(np);
    if (name !== undefined) {
      const bad = lineBreakOrNul(name);
      if (bad) {
        c.add(np, `host name ${q(name)} contains ${bad}; it is not a valid name`, "use lower-case letters, digits and '-' (e.g. cache-01)");
      } else if (!NAME_RE.test(name)) {
        c.add(np, `host ${q(name)} is not a valid name`, "use lower-case letters, digits and '-' (e.g. cache-01)");
      } else if (index.has(name)) {
        const first = c.src.at(['hosts', index.get(name)!]).line;
        c.add(np, `host ${q(name)} is defined twice (first at line ${first})`, 'give every host a unique name, or remove the repeated entry');
      } else {
        index.set(name, i);
        names.push(name);
      }
    }
    const ap: Path = ['hosts', i, 'address'];
    const addr = c.clean(ap, 'the address');
    if (addr !== undefined) {
      const who = c.label(['hosts', i]);
      const dotted = /^[0-9.]+$/.test(addr);
      if (dotted ? !IPV4_RE.test(addr) : !HOSTNAME_RE.test(addr)) {
        c.add(
          ap,
          `address ${q(addr)} of ${who} is not a valid ${dotted ? 'IPv4 address' : 'address'}`,
          "use an IPv4 address like 10.20.0.11, or a DNS name made of letters, digits, '-' and '.' (IPv6 is not supported)",
        );
      } else {
        const k = addr.toLowerCase();
        const prev = addrSeen.get(k);
        if (prev !== undefined) {
          c.add(
            ap,
            `address ${addr} of ${who} is already used by ${c.label(['hosts', prev])} (line ${c.src.at(['hosts', prev]).line})`,
            'give every host its own address: one machine must appear only once in an inventory',
          );
        } else addrSeen.set(k, i);
      }
    }
    checkSsh(c, ['hosts', i, 'ssh']);
    checkVars(c, ['hosts', i, 'vars']);
  });
  return { raw, names, index };
}

export interface ResolvedHosts {
  hosts: HostSpec[];
  /** Host name -> var name -> where its value came from. */
  origins: Map<string, Map<string, Origin>>;
  /** Host name -> its entry under `hosts`. */
  entries: Map<string, Path>;
}

/** Each valid host with its effective vars and ssh settings. */
export function resolveHosts(c: Checker, names: HostNames): ResolvedHosts {
  const hosts: HostSpec[] = [];
  const origins = new Map<string, Map<string, Origin>>();
  const entries = new Map<string, Path>();
  names.raw?.forEach((h, i) => {
    if (!isDict(h) || typeof h.name !== 'string' || names.index.get(h.name) !== i || typeof h.address !== 'string') return;
    const [vars, from] = resolveVars(c, [['vars'], ['hosts', i, 'vars']]);
    hosts.push({ name: h.name, address: h.address, ssh: sshSettings(c, i), vars, line: c.src.at(['hosts', i]).line });
    origins.set(h.name, from);
    entries.set(h.name, ['hosts', i]);
  });
  return { hosts, origins, entries };
}
