/**
 * Whether output goes to a terminal that can show listr2's live lines: a TTY outside CI that
 * reports a width (a pseudo-terminal without one, e.g. from script(1) with no terminal above
 * it, makes listr2 wrap every character onto its own line). Elsewhere: one line per event.
 */
export function liveTerminal(): boolean {
  return !!process.stdout.isTTY && (process.stdout.columns ?? 0) >= 20 && !process.env.CI;
}
