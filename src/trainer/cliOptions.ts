/** Flags shared by the CLI's commands. */

/** A wrong command line: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {}

/** An integer flag's value (undefined when not given); an error naming the flag otherwise. */
export function intOption(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer >= ${min}, found ${JSON.stringify(v)}`);
  return n;
}
