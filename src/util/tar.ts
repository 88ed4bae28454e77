// A ustar archive in memory: how a host's instance files travel, so that unpacking them costs
// one tar process per host instead of several forks per file.

export interface TarEntry {
  /** Absolute or relative path; stored relative (no leading /). */
  path: string;
  /** Omitted for a directory or a FIFO. */
  content?: string | Buffer;
  mode: number;
  /** A named pipe: the start gate of a held Redis, made by the same tar that unpacks its files. */
  fifo?: boolean;
}

type Kind = 'file' | 'dir' | 'fifo';
const TYPEFLAG: Record<Kind, string> = { file: '0', dir: '5', fifo: '6' };

function field(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, length, 'utf8');
}

function octal(n: number, length: number): string {
  return n.toString(8).padStart(length - 1, '0') + '\0';
}

function header(path: string, size: number, mode: number, kind: Kind, mtime: number): Buffer {
  const h = Buffer.alloc(512);
  let name = path.replace(/^\/+/, '') + (kind === 'dir' ? '/' : '');
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2 - 0);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`path too long for tar: ${path}`);
  }
  field(h, 0, 100, name);
  field(h, 100, 8, octal(mode & 0o7777, 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(mtime, 12));
  field(h, 148, 8, '        ');
  field(h, 156, 1, TYPEFLAG[kind]);
  field(h, 257, 6, 'ustar\0');
  field(h, 263, 2, '00');
  field(h, 265, 32, 'root');
  field(h, 297, 32, 'root');
  field(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

export function tar(entries: TarEntry[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const kind: Kind = e.fifo ? 'fifo' : e.content === undefined ? 'dir' : 'file';
    const body = kind === 'file' ? Buffer.from(e.content!) : Buffer.alloc(0);
    parts.push(header(e.path, body.length, e.mode, kind, mtime), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
