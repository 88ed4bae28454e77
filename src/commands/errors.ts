/** A request that cannot be valid: said plainly, exit code 1, nothing created or changed. */
export class UsageError extends Error {}
