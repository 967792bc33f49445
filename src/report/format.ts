/**
 * How the report writes numbers: integers as they are, else four significant digits (exponent notation
 * outside [1e-3, 1e5)), `—` for a missing or non-finite value, `mean ± std` over seeds.
 * @module
 */
import type { Stat } from '../bench/results.js';

/**
 * A number with four significant digits (`0.1235`, `12.35`, `1.23e-5`), whole numbers from 1000 on
 * (`1085`, `12346`), an integer as written (`8`); `—` for null or non-finite.
 */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (Number.isInteger(x) && a < 1e6) return String(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(2);
  // toPrecision would switch to exponent notation from 1e4 on.
  if (a >= 1000) return String(Math.round(x));
  return x.toPrecision(4);
}

/** `mean ± std` over seeds (just the mean for one seed or no spread); `—` when no seed has a value. */
export function formatStat(s: Stat | null | undefined): string {
  if (!s || s.n === 0 || s.mean === null || !Number.isFinite(s.mean)) return '—';
  if (s.n < 2 || s.std === null || !Number.isFinite(s.std) || s.std === 0) return formatNumber(s.mean);
  return `${formatNumber(s.mean)} ± ${formatSpread(s.std)}`;
}

/** A standard deviation: two significant digits below 10 (`0.0039`, `2.5`), whole numbers above (`12`, `140`). */
export function formatSpread(x: number): string {
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(1);
  if (a >= 10) return String(Math.round(x));
  return x.toPrecision(2);
}

/**
 * Steps-to-target over seeds: `not reached` when no seed reached the target, else the rounded mean
 * (± the rounded std with several seeds) and `k/n reached` when only some did.
 */
export function formatSteps(s: Stat | null | undefined, seeds: number): string {
  if (!s || s.n === 0 || s.mean === null || !Number.isFinite(s.mean)) return 'not reached';
  const spread = s.n >= 2 && s.std !== null && Number.isFinite(s.std) && s.std > 0 ? ` ± ${Math.round(s.std)}` : '';
  const partial = s.n < seeds ? ` (${s.n}/${seeds} reached)` : '';
  return `${Math.round(s.mean)}${spread}${partial}`;
}

/** A learning rate as written on the command line (`0.02`, `3e-4`); `—` when none. */
export function formatRate(lr: number | null | undefined): string {
  if (lr === null || lr === undefined || !Number.isFinite(lr)) return '—';
  return lr >= 1e-3 && lr < 1e3 ? String(Number(lr.toPrecision(4))) : lr.toExponential().replace(/\.?0+e/, 'e');
}

/** Seconds as `12.3 s`, `4.5 min`, `1.20 h`. */
export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 120) return `${s.toPrecision(3)} s`;
  if (s < 7200) return `${(s / 60).toPrecision(3)} min`;
  return `${(s / 3600).toPrecision(3)} h`;
}
