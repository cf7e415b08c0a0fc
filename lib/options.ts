// Checks of numeric trainer options: a missing value takes the default, anything
// else must be a number of the right kind, or a RangeError names the option.

const shown = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** An integer >= min (default 1), or `fallback` when undefined. */
export function intOption(v: unknown, fallback: number, name: string, min = 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${shown(v)}`);
  return v;
}

/** A finite number >= min, or `fallback` when undefined. */
export function numberOption(v: unknown, fallback: number, name: string, min = -Infinity): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new RangeError(`${name} must be a finite number >= ${min}, got ${shown(v)}`);
  return v;
}
