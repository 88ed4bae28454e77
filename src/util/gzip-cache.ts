import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

const DIR = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ovl', 'gz');
const pending = new Map<string, Promise<string>>();

/** A gzip copy of a local file, made once and kept (keyed by path, size, mtime and inode). */
export function gzipped(path: string): Promise<string> {
  const st = statSync(path);
  const out = join(DIR, createHash('sha256').update(`${path}\0${st.size}\0${st.mtimeMs}\0${st.ino}`).digest('hex').slice(0, 32) + '.gz');
  let p = pending.get(out);
  if (!p) {
    p = (async () => {
      if (existsSync(out)) return out;
      mkdirSync(DIR, { recursive: true });
      const tmp = `${out}.${process.pid}`;
      await pipeline(createReadStream(path), createGzip({ level: 1 }), createWriteStream(tmp));
      renameSync(tmp, out);
      return out;
    })();
    pending.set(out, p);
  }
  return p;
}
