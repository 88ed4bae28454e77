import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file whether it runs from src/ (tsx) or dist/src/. */
export const projectRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the ovl project root (package.json)');
    dir = up;
  }
  return dir;
})();

export const templatesDir = join(projectRoot, 'templates');

/** Remote layout of the seeds (000, 001): everything ovl owns lives under /data. */
export const DATA = '/data';
export const remote = {
  lib: (type: string, version: string) => `${DATA}/lib/${type}/${version}`,
  bin: (type: string, version: string, name: string) => `${DATA}/lib/${type}/${version}/bin/${name}`,
  log: (component: string) => `${DATA}/log/${component}`,
  /** ovl's own bookkeeping on a host: pending handlers, supervisors. */
  state: `${DATA}/var/ovl`,
  /** The host's certificate for clusters created with --tls (the fleet CA's, from cache-binaries). */
  tls: { dir: `${DATA}/lib/tls`, ca: `${DATA}/lib/tls/ca.crt`, cert: `${DATA}/lib/tls/host.crt`, key: `${DATA}/lib/tls/host.key` },
};
