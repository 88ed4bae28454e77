// artifacts: versions of binaries to push, from local files or from inside a local tarball.
import { REQUIRED_BINARIES } from '../../../runbooks/settings/index.js';
import { VERSION_RE } from '../../shell.js';
import { ARTIFACT_TYPES } from '../defaults.js';
import type { Artifact, ArtifactType } from '../types.js';
import { expandPath, isDict, lineBreakOrNul, q, type Path } from '../values.js';
import type { Checker } from './context.js';

/** Names of binaries on the hosts: they become file names under /data/lib/<type>/<version>/bin/. */
const BINARY_RE = /^[a-z0-9][a-z0-9._-]*$/;
/** Paths inside a tarball: relative, plain characters. */
const MEMBER_RE = /^[A-Za-z0-9_.+-][A-Za-z0-9_.+\/-]*$/;

export interface Artifacts {
  artifacts: Partial<Record<ArtifactType, Artifact[]>>;
  /** Whether the inventory lists at least one artifact of a type (valid or not). */
  has(t: ArtifactType): boolean;
}

export function checkArtifacts(c: Checker): Artifacts {
  const raw = isDict(c.data.artifacts) ? c.data.artifacts : undefined;
  const artifacts: Partial<Record<ArtifactType, Artifact[]>> = {};
  for (const type of ARTIFACT_TYPES) {
    const list = raw?.[type];
    if (!Array.isArray(list)) continue;
    const out: Artifact[] = [];
    const versions = new Set<string>();
    list.forEach((a, i) => {
      if (!isDict(a)) return;
      const artifact = checkArtifact(c, type, ['artifacts', type, i], a, versions);
      if (artifact) out.push(artifact);
    });
    artifacts[type] = out;
  }
  return { artifacts, has: (t) => Array.isArray(raw?.[t]) && (raw[t] as unknown[]).length > 0 };
}

function checkArtifact(c: Checker, type: ArtifactType, ap: Path, a: Record<string, unknown>, versions: Set<string>): Artifact | undefined {
  const version = c.clean([...ap, 'version'], 'the version');
  let vOk = false;
  if (version !== undefined) {
    if (!VERSION_RE.test(version)) {
      c.add([...ap, 'version'], `${type} version ${q(version)} is not a valid version`, 'write digits and dots, optionally with a suffix, in quotes, e.g. version: "3.4.23" or "1.6.18-rc1"');
    } else if (versions.has(version)) {
      c.add([...ap, 'version'], `${type} version ${version} is listed twice`, `keep one entry for ${type} ${version}`);
    } else {
      versions.add(version);
      vOk = true;
    }
  }
  const what = `${type}${version !== undefined ? ` ${version}` : ''}`;
  let tarball: string | undefined;
  const tb = c.clean([...ap, 'tarball'], 'the tarball path');
  if (tb !== undefined) {
    tarball = expandPath(tb, c.ctx.dir);
    c.checkLocal([...ap, 'tarball'], `tarball of ${what}`, tarball, `download it to ${tarball} or correct \`tarball:\`; a relative path is relative to the inventory's directory ${c.ctx.dir}`);
  }
  const files: Record<string, string> = {};
  const filesRaw = a.files;
  if (isDict(filesRaw)) {
    if (Object.keys(filesRaw).length === 0) {
      c.add([...ap, 'files'], `artifact ${what} has no files`, 'map each binary name to a local path, e.g. files: { etcd: /usr/bin/etcd }');
    }
    for (const bin of Object.keys(filesRaw)) {
      const fp: Path = [...ap, 'files', bin];
      if (lineBreakOrNul(bin) || !BINARY_RE.test(bin)) {
        c.add(fp, `binary name ${q(bin)} of ${what} is not valid`, "use lower-case letters, digits, '.', '_' and '-' (e.g. redis-server)", true);
        continue;
      }
      const file = c.clean(fp, 'the file path');
      if (file === undefined) continue;
      if (tarball !== undefined || tb !== undefined) {
        if (!MEMBER_RE.test(file) || file.split('/').includes('..')) {
          c.add(fp, `${q(file)} is not a valid path inside the tarball of ${what}`, 'give the relative path of the file inside the tarball, e.g. etcd-v3.4.23-linux-amd64/etcd (no leading /, no ..)');
          continue;
        }
        files[bin] = file;
      } else {
        files[bin] = expandPath(file, c.ctx.dir);
        c.checkLocal(fp, `file ${bin} of ${what}`, files[bin]!, `put the binary at ${files[bin]} or correct the path; a relative path is relative to the inventory's directory ${c.ctx.dir}`);
      }
    }
    // The binary the component using this type runs (runbooks/settings/).
    const need = REQUIRED_BINARIES[type];
    if (need && Object.keys(filesRaw).length > 0 && !(need in filesRaw)) {
      c.add([...ap, 'files'], `artifact ${what} has no \`${need}\` binary`, `add it: files: { ${need}: /path/to/${need}, ... }`);
    }
  }
  if (!vOk || version === undefined) return undefined;
  return tarball !== undefined ? { version, files, tarball } : { version, files };
}
