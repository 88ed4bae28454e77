// A real Apache Mesos for the e2e tests: OVL_MESOS_HOME (an unpacked build: sbin/, lib/,
// libexec/mesos/), else the prebuilt tarball OVL_MESOS_TARBALL or ../shared/mesos/*.tar.zst
// beside this checkout, checked against the SHA256SUMS beside it and unpacked once into
// /var/cache/ovl/mesos/ (outside the repository). Where neither exists (a user's clone) the
// tests that need it are skipped with the reason.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { projectRoot } from '../../src/paths.js';

export interface RealMesos {
  home: string;
  version: string;
  /** Binary name -> local path: what artifacts.mesos lists (daemons, libmesos, the agent's helpers). */
  files: Record<string, string>;
}

const CACHE = process.env.OVL_MESOS_CACHE ?? '/var/cache/ovl/mesos';

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

function tarball(): string | undefined {
  if (process.env.OVL_MESOS_TARBALL) return process.env.OVL_MESOS_TARBALL;
  const dir = join(projectRoot, '..', 'shared', 'mesos');
  const found = existsSync(dir) ? readdirSync(dir).filter((f) => /^mesos-.*\.tar\.zst$/.test(f)) : [];
  return found.length ? join(dir, found.sort().at(-1)!) : undefined;
}

/** An unpacked Mesos, unpacking the tarball the first time; or why there is none. */
export async function realMesos(): Promise<RealMesos | { skip: string }> {
  let home = process.env.OVL_MESOS_HOME;
  if (!home) {
    const tar = tarball();
    if (!tar) return { skip: 'no Mesos build: set OVL_MESOS_HOME (an unpacked Mesos) or OVL_MESOS_TARBALL, or put one in ../shared/mesos/' };
    const sums = join(dirname(tar), 'SHA256SUMS');
    const want = existsSync(sums) ? new RegExp(`^([0-9a-f]{64})\\s+\\*?${basename(tar).replace(/[.+]/g, '\\$&')}$`, 'm').exec(readFileSync(sums, 'utf8'))?.[1] : undefined;
    if (!want) throw new Error(`${tar}: no checksum for it in ${sums}`);
    home = join(CACHE, want.slice(0, 16));
    if (!existsSync(join(home, '.unpacked'))) {
      const got = await sha256(tar);
      if (got !== want) throw new Error(`${tar}: sha256 ${got}, ${sums} says ${want}: a damaged copy`);
      const tmp = `${home}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      execFileSync('tar', ['--zstd', '-xf', tar, '-C', tmp, '--strip-components=1']);
      execFileSync('touch', [join(tmp, '.unpacked')]);
      rmSync(home, { recursive: true, force: true });
      renameSync(tmp, home);
    }
  }
  const lib = readdirSync(join(home, 'lib')).find((f) => /^libmesos-[0-9.]+\.so$/.test(f));
  if (!lib) throw new Error(`${home}/lib has no libmesos-<version>.so`);
  const version = /^libmesos-([0-9.]+)\.so$/.exec(lib)![1]!;
  const files: Record<string, string> = {
    'mesos-master': join(home, 'sbin', 'mesos-master'),
    'mesos-agent': join(home, 'sbin', 'mesos-agent'),
    [lib]: join(home, 'lib', lib),
  };
  // The agent's --launcher_dir: the executor, containerizer and fetcher it runs tasks with.
  for (const f of readdirSync(join(home, 'libexec', 'mesos'))) files[f] = join(home, 'libexec', 'mesos', f);
  return { home, version, files };
}
