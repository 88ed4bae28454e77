// Each listed component's own rules (runbooks/settings/): member counts, the artifacts it needs,
// the ports it listens on, and anything else its runbook declares.
import { COMPONENT_RULES } from '../../../runbooks/settings/index.js';
import { DEFAULTS } from '../defaults.js';
import type { ArtifactType, HostSpec } from '../types.js';
import { q } from '../values.js';
import type { Checker } from './context.js';
import type { VarSpecs } from '../../../runbooks/settings/vars.js';
import type { Components } from './components.js';
import type { ResolvedHosts } from './hosts.js';

export function checkComponentRules(
  c: Checker,
  comps: Components,
  server: Record<string, string[]>,
  resolved: ResolvedHosts,
  hasArtifact: (t: ArtifactType) => boolean,
): void {
  for (const name of comps.names) {
    const rules = COMPONENT_RULES[name as keyof typeof COMPONENT_RULES];
    if (!rules) continue;
    const at = ['components', comps.index.get(name)!];
    const members = server[name];
    const hosts = (members ?? []).map((n) => resolved.hosts.find((h) => h.name === n)).filter((h): h is HostSpec => !!h);

    const count = members && rules.members?.(members.length);
    if (count) c.add(['server', name], count.message, count.fix);

    if (rules.artifacts && !rules.artifacts.anyOf.some(hasArtifact)) {
      const types = rules.artifacts.anyOf;
      c.add(
        at,
        `component ${name} needs ${/^[aeiou]/.test(types[0]!) ? 'an' : 'a'} ${types.join(' or ')} artifact, but \`artifacts\` has ${types.length > 1 ? 'neither' : 'none'}`,
        `add under artifacts: ${rules.artifacts.example}`,
      );
    }

    for (const p of rules.check?.({ component: name, hosts, hasArtifact }) ?? []) c.add(at, p.message, p.fix);
  }
}

/** A port var's value on a host: set, else the fleet default, else the runbook's. */
function portOf(h: HostSpec, k: string, specs: VarSpecs | undefined): number {
  return (h.vars[k] as number | undefined) ?? (DEFAULTS[k as keyof typeof DEFAULTS] as number | undefined) ?? Number(specs?.[k]?.example);
}

/**
 * Every port a host's components listen on: different from each other (within a component, and
 * across the components that share the host: node_exporter's against etcd's) and outside the
 * host's cache_ports.
 */
export function checkHostPorts(c: Checker, comps: Components, server: Record<string, string[]>, resolved: ResolvedHosts): void {
  for (const h of resolved.hosts) {
    const origins = resolved.origins.get(h.name);
    const where = (k: string) => origins?.get(k) ?? resolved.entries.get(h.name)!;
    const cp = h.vars.cache_ports;
    const seen: { component: string; k: string; port: number }[] = [];
    for (const name of comps.names) {
      const rules = COMPONENT_RULES[name as keyof typeof COMPONENT_RULES];
      if (!rules?.ports || !(server[name] ?? []).includes(h.name)) continue;
      for (const k of rules.ports) {
        const port = portOf(h, k, rules.vars);
        // A var two components read (etcd_client_port) is one port.
        const same = seen.filter((o) => o.port === port && o.k !== k);
        if (same.length) {
          const own = same.every((o) => o.component === name);
          const defaults = rules.ports.map((p) => portOf({ ...h, vars: {} } as HostSpec, p, rules.vars)).join(' and ');
          c.add(
            where(k),
            `${[...same.map((o) => (own ? o.k : `${o.k} (${o.component})`)), own ? k : `${k} (${name})`].join(' and ')} are both ${port} on host ${q(h.name)}`,
            own ? `give ${name} ${rules.ports.length === 2 ? 'two' : rules.ports.length} different ports (defaults: ${defaults})` : `set ${k} (or ${same[0]!.k}) to a port no other component of ${q(h.name)} listens on`,
          );
        }
        if (port >= cp.from && port <= cp.to) {
          c.add(where('cache_ports'), `cache_ports ${cp.from}-${cp.to} of host ${q(h.name)} contains its ${k} ${port}`, 'move the range or the port so they do not overlap');
        }
        seen.push({ component: name, k, port });
      }
    }
  }
}
