/** A request that cannot be valid: said plainly, exit code 1, nothing created or changed. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** Stable for scripts (src/api/errors.ts lists every code). */
  readonly code: string = 'USAGE';
}

/** `cluster check`'s exit code when it could not check (as monitoring plugins say UNKNOWN):
 * 1 stays "not healthy". */
export const CHECK_FAILED = 3;
