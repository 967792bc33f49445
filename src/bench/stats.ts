/**
 * Summary statistics for the benchmarks, in one place: the median and quantiles of timings
 * ({@link stats}: median, min, max, mean, IQR of a list of ms), and the mean ± sample standard
 * deviation of a metric over seeds ({@link stat}, non-finite values left out).
 * @module
 */
import type { Stat } from './results.js';

/** Summary statistics of a list of timings (ms). */
export interface Stats {
  /** The median: the number reports use (robust to the noise of a shared machine). */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Interquartile range (p75 − p25), a noise indicator. */
  readonly iqr: number;
  readonly n: number;
  /** The raw samples, in the order measured. */
  readonly samples: readonly number[];
}

/** Linear-interpolated quantile of sorted values, `q` in [0, 1] (NaN for none). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The median of a list (NaN for an empty one): the middle value, or the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** Median, min, max, mean and IQR of `samples`. */
export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((s, v) => s + v, 0) / Math.max(1, samples.length);
  return {
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
    mean: samples.length === 0 ? NaN : mean,
    iqr: quantile(sorted, 0.75) - quantile(sorted, 0.25),
    n: samples.length,
    samples: [...samples],
  };
}

/** Mean, sample standard deviation, min and max of the finite values (nulls and NaN left out). */
export function stat(values: readonly (number | null)[]): Stat {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs), n };
}
