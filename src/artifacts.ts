import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Artifact, ArtifactType } from './inventory/types.js';
import { remote } from './paths.js';
import { sha256File } from './ops/files.js';

export interface ArtifactFile {
  type: ArtifactType;
  version: string;
  name: string;
  local: string;
  remote: string;
  sha256: string;
}

/** Local path of one binary of an artifact, extracting it from the release tarball once. */
async function localFile(a: Artifact, name: string): Promise<string> {
  const inner = a.files[name]!;
  if (!a.tarball) return inner;
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ovl', 'artifacts', (await sha256File(a.tarball)).slice(0, 16));
  const out = join(dir, inner);
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-xf', a.tarball, '-C', dir, '--', inner], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return out;
}

/** Every binary of the given artifact types, with its checksum and place on the hosts. */
export async function artifactFiles(artifacts: Partial<Record<ArtifactType, Artifact[]>>, types: ArtifactType[]): Promise<ArtifactFile[]> {
  const files: ArtifactFile[] = [];
  for (const type of types) {
    for (const a of artifacts[type] ?? []) {
      for (const name of Object.keys(a.files)) {
        const local = await localFile(a, name);
        files.push({ type, version: a.version, name, local, remote: remote.bin(type, a.version, name), sha256: await sha256File(local) });
      }
    }
  }
  return files;
}
