/** A request that cannot be valid: said plainly, exit code 1, nothing created or changed. */
export class UsageError extends Error {}

/** `cluster check`'s exit code when it could not check (as monitoring plugins say UNKNOWN):
 * 1 stays "not healthy". */
export const CHECK_FAILED = 3;
