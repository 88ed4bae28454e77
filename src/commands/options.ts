import { UsageError } from './errors.js';

/** A commander argParser for a whole-number option. Commander does not tell a parser which
 * option it parses, so the flag is given here: the error must name it. */
export const wholeNumber = (flag: string, min: number) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`${flag}: expected a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  return n;
};

/** A commander argParser for a percentage: a number from 0 to 100. */
export const percent = (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new UsageError(`--threshold: expected a percentage from 0 to 100, got ${JSON.stringify(v)}`);
  return n;
};
