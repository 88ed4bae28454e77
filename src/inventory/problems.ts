// What the inventory loader reports: each problem with the file:line:column of the offending YAML
// node and a concrete fix, all of them at once.

export interface Problem {
  /** The inventory path as the user gave it. */
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole (it cannot be read). */
  line: number;
  /** 1-based; 0 together with line 0. */
  column: number;
  message: string;
  fix: string;
}

export function formatProblem(p: Problem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${p.message}\n  fix: ${p.fix}`;
}

export class InventoryError extends Error {
  readonly code = 'INVENTORY';
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InventoryError';
    this.problems = problems;
  }
}

/** Each problem once, in file order. */
export function sortProblems(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const k = formatProblem(p);
      return seen.has(k) ? false : (seen.add(k), true);
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}
