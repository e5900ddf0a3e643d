/** Summary statistics for benchmark samples. Pure. */

/**
 * The p-th percentile (0–100) by linear interpolation between closest ranks (the "R-7" rule that
 * spreadsheets and numpy use), so p50 of an even count is the mean of the middle two.
 *
 * @example percentile([1, 2, 3, 4], 50) // 2.5
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile ${p} is outside 0–100`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** n, min, p50, p90, p99, max and mean of the samples, rounded to 0.1 (they are milliseconds). */
export function summarize(samples: readonly number[]): Summary {
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    n: samples.length,
    min: r(Math.min(...samples)),
    p50: r(percentile(samples, 50)),
    p90: r(percentile(samples, 90)),
    p99: r(percentile(samples, 99)),
    max: r(Math.max(...samples)),
    mean: r(samples.reduce((a, b) => a + b, 0) / samples.length),
  };
}

/** a ÷ b rounded to 2 decimals; null when b is not a positive number. */
export function ratio(a: number, b: number): number | null {
  return b > 0 && Number.isFinite(a) ? Math.round((a / b) * 100) / 100 : null;
}
