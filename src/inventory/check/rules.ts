// Each listed component's own rules (runbooks/settings/): member counts, the artifacts it needs,
// the ports it listens on, and anything else its runbook declares.
import { COMPONENT_RULES } from '../../../runbooks/settings/index.js';
import { DEFAULTS } from '../defaults.js';
import type { ArtifactType, HostSpec } from '../types.js';
import { q } from '../values.js';
import type { Checker } from './context.js';
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

    for (const h of hosts) checkPorts(c, name, rules.ports ?? [], h, resolved);

    for (const p of rules.check?.({ component: name, hosts, hasArtifact }) ?? []) c.add(at, p.message, p.fix);
  }
}

/** A component's ports on one host: different from each other and outside the host's cache_ports. */
function checkPorts(c: Checker, component: string, ports: string[], h: HostSpec, resolved: ResolvedHosts): void {
  const origins = resolved.origins.get(h.name);
  const where = (k: string) => origins?.get(k) ?? resolved.entries.get(h.name)!;
  const port = (k: string) => h.vars[k] as number;
  const cp = h.vars.cache_ports;
  ports.forEach((k, i) => {
    const same = ports.slice(0, i).filter((o) => port(o) === port(k));
    if (same.length) {
      const defaults = ports.map((p) => DEFAULTS[p as keyof typeof DEFAULTS]).join(' and ');
      c.add(
        where(k),
        `${[...same, k].join(' and ')} are both ${port(k)} on host ${q(h.name)}`,
        `give ${component} ${ports.length === 2 ? 'two' : ports.length} different ports (defaults: ${defaults})`,
      );
    }
    if (port(k) >= cp.from && port(k) <= cp.to) {
      c.add(where('cache_ports'), `cache_ports ${cp.from}-${cp.to} of host ${q(h.name)} contains its ${k} ${port(k)}`, 'move the range or the port so they do not overlap');
    }
  });
}
