// Host selection (--limit, --only): the components and hosts a command works on.
import type { Inventory } from './types.js';
import { closest, q } from './values.js';

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

function splitList(xs: string[] | undefined): string[] {
  return (xs ?? []).flatMap((x) => x.split(',')).map((s) => s.trim()).filter(Boolean);
}

/**
 * The components and hosts a command works on.
 * - `only`: component names (comma-separated items are split); the result keeps deployment order.
 * - `limit`: host names or globs (`cache-0*`, `cache-0?`); the result keeps inventory order.
 * With `only`, hosts are narrowed to those running at least one of the selected components.
 * Unknown names, globs matching nothing and an empty selection are errors.
 */
export function selectHosts(
  inv: Inventory,
  opts: { limit?: string[]; only?: string[] },
): { components: string[]; hosts: Set<string> } {
  const only = splitList(opts.only);
  const limit = splitList(opts.limit);
  // An empty selection given (`--limit "$HOSTS"` with HOSTS unset) must not mean "all of them".
  if (opts.only !== undefined && !only.length) throw new Error(`--only: no component given; name at least one of: ${inv.components.join(', ')}`);
  if (opts.limit !== undefined && !limit.length) throw new Error(`--limit: no host given; name at least one host (or a glob such as 'cache-0*')`);
  const allNames = inv.hosts.map((h) => h.name);

  let components = inv.components;
  if (only.length) {
    const unknown = only.filter((c) => !inv.components.includes(c));
    if (unknown.length) {
      const hints = unknown.map((u) => closest(u, inv.components)).filter((x): x is string => !!x);
      throw new Error(
        `--only: unknown component${unknown.length > 1 ? 's' : ''} ${unknown.map(q).join(', ')}` +
          `${hints.length ? ` (did you mean ${hints.join(', ')}?)` : ''}; the components of ${inv.file} are: ${inv.components.join(', ')}`,
      );
    }
    components = inv.components.filter((c) => only.includes(c));
  }

  let names = allNames;
  if (limit.length) {
    const picked = new Set<string>();
    const unknown: string[] = [];
    for (const pat of limit) {
      const matched = /[*?]/.test(pat) ? allNames.filter((n) => globToRegExp(pat).test(n)) : allNames.filter((n) => n === pat);
      if (matched.length === 0) unknown.push(pat);
      for (const n of matched) picked.add(n);
    }
    if (unknown.length) {
      const hints = unknown.map((u) => closest(u, allNames)).filter((x): x is string => !!x);
      throw new Error(
        `--limit: no host matches ${unknown.map(q).join(', ')}` +
          `${hints.length ? ` (did you mean ${hints.join(', ')}?)` : ''}; the hosts of ${inv.file} are: ${allNames.join(', ')}`,
      );
    }
    names = allNames.filter((n) => picked.has(n));
  }

  if (only.length) {
    const running = new Set(components.flatMap((c) => inv.server[c] ?? []));
    const narrowed = names.filter((n) => running.has(n));
    if (narrowed.length === 0) {
      throw new Error(
        `--limit ${limit.join(',')} selects no host running ${components.join(', ')}: ` +
          components.map((c) => `${c} runs on ${(inv.server[c] ?? []).join(', ') || 'no host'}`).join('; '),
      );
    }
    names = narrowed;
  }
  return { components, hosts: new Set(names) };
}
