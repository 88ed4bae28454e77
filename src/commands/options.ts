import { UsageError } from './errors.js';

/** A commander argParser for a whole-number option. Commander does not tell a parser which
 * option it parses, so the flag is given here: the error must name it. */
export const wholeNumber = (flag: string, min: number) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`${flag}: expected a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  return n;
};
