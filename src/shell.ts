// Every value that reaches a remote shell goes through shq() or is rejected by one of the
// validators below; remote commands are built from argv arrays, never from raw interpolation.

/** Quote one word for a POSIX shell. */
export function shq(value: string | number): string {
  const s = String(value);
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed to a shell');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Join an argv array into one shell command line, every word quoted. */
export function argv(...words: (string | number)[]): string {
  return words.map(shq).join(' ');
}

/** Host and component names: DNS-label-like, so they are safe in paths, keys and shells. */
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Versions of binaries: digits and dots, optional suffix (7.0.15, 3.4.23, 1.6.18-rc1). */
export const VERSION_RE = /^[0-9]+(\.[0-9]+){0,3}([-+][A-Za-z0-9.]+)?$/;
/** DNS names, conservatively: letters, digits, '-' and '.', labels of at most 63 characters. */
export const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
export const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** Absolute paths made of plain characters only. */
export const SAFE_PATH_RE = /^\/[A-Za-z0-9_.\/-]*$/;

export function assertMatch(re: RegExp, value: string, what: string): string {
  if (!re.test(value)) throw new Error(`invalid ${what} ${JSON.stringify(value)}`);
  return value;
}
