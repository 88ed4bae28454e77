// How a runbook declares the vars it reads: each with its rule (a zod schema), what a valid value
// looks like and an example. The inventory loader checks every declared var wherever it is set,
// before any connection, with file:line:col and a fix; the runbooks read values through the same
// rules. Kept free of operations and templates: `ovl cluster` loads inventories too.
import { z } from 'zod';
import type { HostSpec, Inventory } from '../../src/inventory/types.js';

export interface VarSpec {
  schema: z.ZodTypeAny;
  /** What a valid value is, for the problem and the fix ("a whole number from 1 to 1000"). */
  expect: string;
  /** A valid value as it is written in YAML. */
  example: string;
}

export type VarSpecs = Record<string, VarSpec>;

export const text = (re: RegExp, expect: string, example: string): VarSpec => ({ schema: z.string().regex(re), expect, example });
export const whole = (min: number, max: number, example: number): VarSpec => ({
  schema: z.number().int().min(min).max(max),
  expect: `a whole number from ${min} to ${max}`,
  example: String(example),
});
export const number = (min: number, max: number, example: number): VarSpec => ({
  schema: z.number().min(min).max(max),
  expect: `a number from ${min} to ${max}`,
  example: String(example),
});
export const port = (example: number): VarSpec => whole(1, 65535, example);
export const flag = (example: boolean): VarSpec => ({ schema: z.boolean(), expect: 'true or false', example: String(example) });
/** An absolute path of plain characters: it reaches a shell and a command line. */
export const absPath = (example: string): VarSpec => text(/^\/[A-Za-z0-9_.\/-]*$/, 'an absolute path of letters, digits and _ . / -', example);

/** The problem with a value, or undefined when it follows its rule. */
export function varProblem(spec: VarSpec, value: unknown): string | undefined {
  return spec.schema.safeParse(value).success ? undefined : `must be ${spec.expect}`;
}

/** A var of a host as its runbook reads it: the host's value, else `dflt`; checked against its rule. */
export function readVar<T>(specs: VarSpecs, h: HostSpec, inv: Inventory, name: string, dflt?: T): T | undefined {
  const spec = specs[name];
  if (!spec) throw new Error(`var ${name} is not declared by its runbook`);
  const v = h.vars[name] ?? dflt;
  if (v === undefined || v === null) return undefined;
  const problem = varProblem(spec, v);
  if (problem) throw new Error(`${name} of host ${h.name} ${problem}, got ${JSON.stringify(v)}; fix it in ${inv.file} (e.g. ${name}: ${spec.example})`);
  return v as T;
}
