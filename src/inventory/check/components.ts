// components (known, once each, in deployment order) and server (which hosts run each).
import { NAME_RE } from '../../shell.js';
import { closest, isDict, lineBreakOrNul, q, type Path } from '../values.js';
import type { Checker } from './context.js';
import type { HostNames } from './hosts.js';

export interface Components {
  raw: unknown[] | undefined;
  /** Valid names, deployment order. */
  names: string[];
  /** Name -> index in `components`. */
  index: Map<string, number>;
}

export function checkComponents(c: Checker): Components {
  const raw = Array.isArray(c.data.components) ? c.data.components : undefined;
  const names: string[] = [];
  const index = new Map<string, number>();
  const known = c.ctx.knownComponents;
  raw?.forEach((name, i) => {
    if (typeof name !== 'string') return;
    const p: Path = ['components', i];
    const bad = lineBreakOrNul(name);
    if (bad) {
      c.add(p, `component name ${q(name)} contains ${bad}`, 'write one component name per list item');
      return;
    }
    if (!known.includes(name)) {
      const s = closest(name, known);
      c.add(p, `unknown component ${q(name)}`, `${s ? `did you mean \`${s}\`? ` : ''}known components: ${known.join(', ')}`);
      return;
    }
    if (index.has(name)) {
      c.add(p, `component ${q(name)} is listed twice in \`components\``, 'list each component once, in deployment order');
      return;
    }
    index.set(name, i);
    names.push(name);
  });
  return { raw, names, index };
}

/** Component -> the names of the hosts it runs on, in inventory order. */
export function checkServer(c: Checker, comps: Components, hosts: HostNames): Record<string, string[]> {
  const serverRaw = isDict(c.data.server) ? c.data.server : undefined;
  const server: Record<string, string[]> = {};
  if (!serverRaw) return server;
  for (const [comp, v] of Object.entries(serverRaw)) {
    const kp: Path = ['server', comp];
    if (comps.raw && !comps.raw.includes(comp)) {
      const s = closest(comp, comps.names);
      c.add(
        kp,
        `server has an entry for ${q(comp)}, which is not in \`components\``,
        s ? `did you mean \`${s}\`? Otherwise add ${comp} to \`components\` (in deployment order) or remove this entry` : `add ${comp} to \`components\` (in deployment order) or remove this entry`,
        true,
      );
    }
    if (typeof v === 'string') {
      if (v === 'all') server[comp] = hosts.names.slice();
      else {
        c.add(
          kp,
          `server.${comp} must be \`all\` or a list of host names, got ${q(v)}`,
          lineBreakOrNul(v) || !NAME_RE.test(v) ? `write ${comp}: all, or ${comp}: [cache-01, cache-02]` : `write a list: ${comp}: [${v}]`,
        );
      }
    } else if (Array.isArray(v)) {
      if (v.length === 0) c.add(kp, `server.${comp} lists no hosts`, `name at least one host (or \`all\`), or remove ${comp} from \`components\` and \`server\``);
      const listed = new Set<string>();
      v.forEach((n, j) => {
        if (typeof n !== 'string') return;
        const p: Path = ['server', comp, j];
        if (hosts.index.has(n)) {
          if (listed.has(n)) c.add(p, `host ${q(n)} is listed twice in server.${comp}`, 'list each host once');
          listed.add(n);
        } else if (n === 'all') {
          c.add(p, `server.${comp}: \`all\` must stand alone, not inside a list`, `write ${comp}: all`);
        } else {
          const s = closest(n, hosts.names);
          c.add(
            p,
            `server.${comp} names host ${q(n)}, which is not in \`hosts\``,
            `${s ? `did you mean \`${s}\`? ` : ''}hosts are: ${hosts.names.join(', ') || '(none)'}; or add ${q(n)} under \`hosts:\``,
          );
        }
      });
      // inventory order, whatever order the list was written in
      server[comp] = hosts.names.filter((n) => listed.has(n));
    }
  }
  for (const name of comps.names) {
    if (!(name in serverRaw)) {
      c.add(['components', comps.index.get(name)!], `component ${q(name)} has no entry in \`server\``, `add under server: \`${name}: all\` or \`${name}: [cache-01, ...]\``);
    }
  }
  return server;
}
