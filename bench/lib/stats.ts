/** `stats` has the small summaries the report uses. */

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** `spread` returns median (mean of the middle two for even counts), min and max. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}
