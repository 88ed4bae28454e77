// Keep secrets out of logs, error messages and dumps of the inventory.
//
// The rule (isSecretKey), applied to the key a value sits under:
//   A value is secret when its key matches /pass|secret|token|key/i (case-insensitive, anywhere in
//   the key: `password`, `redis_pass`, `api_token`, `apiKey`, `secret_key_base`, ...), EXCEPT:
//     1. `key` directly inside a mapping named `ssh` (`vars.ssh.key`, `hosts[].ssh.key`, and the
//        resolved `HostSpec.ssh.key`): it is the PATH of the private key file, and messages must be
//        able to say which file is missing. The key material itself is never read into the inventory.
//     2. `etcd_cluster_token`: etcd's --initial-cluster-token is an identifier that keeps two clusters
//        from merging by accident; it is visible in `ps` on every member and grants nothing.
//     3. keys ending in `_env` or `Env` (`passphrase_env`, `passphraseEnv`): they hold the NAME of an
//        environment variable that carries a secret, never the secret itself.
//   A secret value is replaced whole by '<redacted>', whatever its type (a mapping or list under a
//   secret key is not walked into). Non-secret keys are walked into recursively.
// Over-redaction is the safe failure: a key like `cache_keys` is redacted although it may be harmless.

export const REDACTED = '<redacted>';

const SECRET_RE = /pass|secret|token|key/i;
const NOT_SECRET = new Set(['etcd_cluster_token']);

/** Whether the value under `key` (inside a mapping itself stored under `parentKey`) is secret. */
export function isSecretKey(key: string, parentKey?: string): boolean {
  if (!SECRET_RE.test(key)) return false;
  if (key === 'key' && parentKey === 'ssh') return false;
  if (NOT_SECRET.has(key)) return false;
  if (/(_env|Env)$/.test(key)) return false;
  return true;
}

/** Whether a value found at `path` (keys and list indexes from the root) is, or lies under, a secret. */
export function isSecretPath(path: readonly (string | number)[]): boolean {
  let parentKey: string | undefined;
  for (const seg of path) {
    if (typeof seg === 'number') continue; // list indexes do not change the parent mapping's name
    if (isSecretKey(seg, parentKey)) return true;
    parentKey = seg;
  }
  return false;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep copy of `value` with every value under a secret-looking key replaced by '<redacted>'
 * (see the rule at the top of this file). Plain objects and arrays are copied; other values
 * (strings, numbers, Sets, class instances) are returned as they are.
 */
export function redact(value: unknown): unknown {
  const seen = new WeakMap<object, unknown>();
  const walk = (v: unknown, parentKey: string | undefined): unknown => {
    if (Array.isArray(v)) {
      if (seen.has(v)) return seen.get(v);
      const out: unknown[] = [];
      seen.set(v, out);
      // Items of a list are judged by the list's own key (as isSecretPath skips indexes).
      for (const item of v) out.push(walk(item, parentKey));
      return out;
    }
    if (isPlainObject(v)) {
      if (seen.has(v)) return seen.get(v);
      const out: Record<string, unknown> = {};
      seen.set(v, out);
      for (const [k, item] of Object.entries(v)) {
        out[k] = isSecretKey(k, parentKey) ? REDACTED : walk(item, k);
      }
      return out;
    }
    return v;
  };
  return walk(value, undefined);
}
