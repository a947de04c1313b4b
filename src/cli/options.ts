import { InvalidArgumentError } from 'commander';

/** A commander option parser for an integer >= `min`, with a usage error that names the option. */
export function int(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

/** A commander option parser for a comma-separated list (blanks dropped). */
export function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
